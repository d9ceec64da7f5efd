import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { INVALID, formatPath, type Issue } from '../../config/schema.js';
import { sample, schema } from './schema.js';

function check(options: Record<string, unknown>): string[] {
  const issues: Issue[] = [];
  schema.parse(options, [], issues);
  return issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
}

describe('command source config', () => {
  it('takes a command list, or a shell script, never both nor neither', () => {
    assert.deepEqual(check({ command: ['true'], data_format: 'influx' }), []);
    assert.deepEqual(check({ shell: 'echo a | wc -c', data_format: 'number', name: 'n' }), []);
    assert.deepEqual(check({ data_format: 'influx' }), [
      'command: is required (a list: [program, args...]), or shell',
    ]);
    assert.deepEqual(check({ command: ['true'], shell: 'true', data_format: 'influx' }), [
      'shell: cannot be used with command: give one of the two',
    ]);
    assert.deepEqual(check({ command: [], data_format: 'influx' }), [
      'command: expected at least 1 item(s), got 0',
    ]);
    assert.deepEqual(check({ command: [''], data_format: 'influx' }), [
      'command[0]: expected a program name or path, got ""',
    ]);
    assert.deepEqual(check({ command: 'uptime', data_format: 'influx' }), [
      'command: expected a list of strings, got "uptime"',
    ]);
  });

  it('requires name for number, and refuses it where the output names its metrics', () => {
    assert.deepEqual(check({ command: ['true'], data_format: 'number' }), [
      'name: is required with data_format: number (the gauge name)',
    ]);
    assert.deepEqual(check({ command: ['true'], data_format: 'json', name: 'm' }), []);
    assert.deepEqual(check({ command: ['true'], data_format: 'statsd', name: 'm' }), [
      'name: is not used with data_format: statsd: the output names its metrics (use name_prefix)',
    ]);
    assert.deepEqual(check({ command: ['true'] }), [
      'data_format: is required (one of "statsd", "influx", "graphite", "prometheus", "json", "number")',
    ]);
  });

  it('checks durations, sizes, env names and cwd', () => {
    assert.deepEqual(
      check({
        command: ['true'],
        data_format: 'influx',
        timeout: '0s',
        max_output: 0,
        env: { 'A=B': 'x' },
        cwd: 'relative',
        interval: '10ms',
      }),
      [
        'interval: expected a duration of at least 100 ms, got "10ms"',
        'timeout: expected a duration of at least 1 ms, got "0s"',
        'max_output: expected an integer of at least 1, got 0',
        'cwd: expected an absolute path, got "relative"',
      ],
    );
    assert.deepEqual(check({ command: ['true'], data_format: 'influx', env: { 'A=B': 'x' } }), [
      'env.A=B: is not a usable variable name',
    ]);
  });

  it('has defaults for everything but what to run and how to read it', () => {
    const parsed = schema.parse({ command: ['true'], data_format: 'influx' }, [], []);
    assert.notEqual(parsed, INVALID);
    assert.deepEqual(parsed, {
      command: ['true'],
      shell: undefined,
      data_format: 'influx',
      name: undefined,
      name_prefix: '',
      tags: {},
      interval: 10_000,
      start_jitter: true,
      timeout: 5_000,
      kill_grace: 2_000,
      max_output: 1_048_576,
      env: {},
      inherit_env: true,
      cwd: undefined,
    });
  });

  it('has a sample that passes, documents every option, and sits verbatim in the README', () => {
    const doc = parseYaml(sample) as Record<string, Record<string, unknown>>;
    const { type, ...options } = doc.loadavg ?? {};
    assert.equal(type, 'command');
    assert.deepEqual(check(options), []);
    for (const [key, field] of Object.entries(schema.fields)) {
      assert.ok(field.doc, `${key} has no doc`);
      assert.ok(key in options, `the sample lacks ${key}`);
    }
    // Everything with a default shows the default.
    const defaults = schema.parse({ command: ['x'], data_format: 'graphite' }, [], []) as Record<
      string,
      unknown
    >;
    const parsed = schema.parse(options, [], []) as Record<string, unknown>;
    for (const [key, field] of Object.entries(schema.fields)) {
      if (field.defaultValue !== undefined) assert.deepEqual(parsed[key], defaults[key], key);
    }
    // Beside dist/ in a normal build; from the working directory otherwise (as registry.test.ts).
    const besideBuild = new URL('../../../src/sources/command/README.md', import.meta.url);
    const readme = readFileSync(
      existsSync(besideBuild) ? besideBuild : path.resolve('src/sources/command/README.md'),
      'utf8',
    );
    assert.ok(
      readme.includes('<!-- prettier-ignore -->\n```yaml\nsources:\n' + sample),
      'the README lacks the sample',
    );
  });
});
