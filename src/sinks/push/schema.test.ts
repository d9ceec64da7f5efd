import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { formatPath, s, type Issue } from '../../config/schema.js';
import { formatDuration, pushDefaults, pushOptionsSample, pushOptionsSchema } from './schema.js';

const defaults = pushDefaults({ port: 2003, endpoints: ['graphite:2003', '[::1]'], batchSize: 50 });
const schema = s.object(pushOptionsSchema(defaults));

function parseOptions(options: unknown): { value: unknown; issues: string[] } {
  const issues: Issue[] = [];
  const value = schema.parse(options, [], issues);
  return { value, issues: issues.map((i) => `${formatPath(i.path)}: ${i.message}`) };
}

describe('push options', () => {
  it('parses endpoints with the default port, and durations to milliseconds', () => {
    const { value, issues } = parseOptions({
      endpoints: ['a', 'b:7'],
      flush_interval: '250ms',
      mode: 'spread',
    });
    assert.deepEqual(issues, []);
    assert.deepEqual((value as { endpoints: unknown }).endpoints, [
      { host: 'a', port: 2003 },
      { host: 'b', port: 7 },
    ]);
    assert.equal((value as { flush_interval: number }).flush_interval, 250);
  });

  it('says what is wrong with a bad endpoint or option', () => {
    assert.deepEqual(parseOptions({ endpoints: ['a:99999'] }).issues, [
      'endpoints[0]: "a:99999" has a bad port (expected 1 to 65535)',
    ]);
    assert.deepEqual(parseOptions({ endpoints: [] }).issues, [
      'endpoints: expected at least 1 item(s), got 0',
    ]);
    assert.match(
      parseOptions({ mode: 'broadcast' }).issues[0] ?? '',
      /^mode: expected one of "fanout", "spread"/,
    );
    assert.match(
      parseOptions({ batch_size: 0 }).issues[0] ?? '',
      /^batch_size: expected an integer of at least 1/,
    );
  });

  it('has a sample block that shows the defaults and comments every option', () => {
    const sample = `  x:\n    type: x\n${pushOptionsSample(defaults)}`;
    const body = (parse(sample) as { x: Record<string, unknown> }).x;
    delete body.type;
    const fromSample = parseOptions(body);
    assert.deepEqual(fromSample.issues, []);
    assert.deepEqual(fromSample.value, parseOptions({}).value);
    const lines = sample.split('\n');
    for (const [key, field] of Object.entries(schema.fields)) {
      assert.ok(field.doc, `${key} has no doc`);
      assert.ok(key in body, `the sample lacks ${key}`);
      let above = lines.findIndex((l) => l.startsWith(`    ${key}:`)) - 1;
      while (above > 0 && /^ {4}\w+:/.test(lines[above] as string)) above--;
      assert.ok((lines[above] ?? '').trimStart().startsWith('#'), `${key} has no comment above it`);
    }
  });

  it('writes durations in the largest unit that divides them', () => {
    const table: [number, string][] = [
      [0, '0s'],
      [250, '250ms'],
      [1000, '1s'],
      [1500, '1500ms'],
      [90_000, '90s'],
      [120_000, '2m'],
      [7_200_000, '2h'],
    ];
    for (const [ms, text] of table) assert.equal(formatDuration(ms), text);
  });
});
