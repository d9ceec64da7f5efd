import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { formatPath, type Issue } from '../../config/schema.js';
import { testSourceContext } from '../../testing/context.js';
import { linuxSource } from './index.js';
import {
  COLLECTORS,
  DEFAULT_EXCLUDED_DISKS,
  DEFAULT_EXCLUDED_FILESYSTEM_TYPES,
  sample,
  schema,
} from './schema.js';

function check(input: unknown): { value: unknown; issues: string[] } {
  const issues: Issue[] = [];
  const value = schema.parse(input, [], issues);
  return { value, issues: issues.map((i) => `${formatPath(i.path)}: ${i.message}`) };
}

describe('linux sample config', () => {
  const doc = parse(sample) as Record<string, Record<string, unknown>>;
  const body = doc.linux ?? {};

  it('is one instance named linux of type linux, indented two spaces', () => {
    assert.deepEqual(Object.keys(doc), ['linux']);
    assert.equal(body.type, 'linux');
    assert.ok(sample.startsWith('  linux:\n    type: linux\n'));
    assert.equal(linuxSource.sample, sample);
    assert.equal(linuxSource.type, 'linux');
  });

  it('validates, and shows the defaults', () => {
    const { type: _type, ...options } = body;
    const parsed = check(options);
    assert.deepEqual(parsed.issues, []);
    assert.deepEqual(parsed.value, check({}).value);
  });

  it('shows every option, each with a comment before it', () => {
    const lines = sample.split('\n');
    for (const key of Object.keys(schema.fields)) {
      const at = lines.findIndex((l) => l.startsWith(`    ${key}:`));
      assert.ok(at > 0, `sample shows ${key}`);
      assert.ok(key in body, `${key} is a key of the sample`);
      let above = at - 1;
      while (above > 0 && !(lines[above] as string).trimStart().startsWith('#')) {
        assert.match(
          lines[above] as string,
          /^ {4}(include|exclude)_\w+: ''$/,
          `${key} shares a comment block`,
        );
        above--;
      }
      assert.ok((lines[above] as string).trimStart().startsWith('#'), `${key} has a comment`);
    }
  });

  it('documents every field in the schema', () => {
    for (const [key, field] of Object.entries(schema.fields)) assert.ok(field.doc, `${key} has a doc`);
  });
});

describe('linux config', () => {
  it('has the documented defaults', () => {
    const { value, issues } = check({});
    assert.deepEqual(issues, []);
    assert.deepEqual(value, {
      interval: 10_000,
      root: '/',
      collectors: [...COLLECTORS],
      statfs_timeout: 5_000,
      exclude_filesystem_types: [...DEFAULT_EXCLUDED_FILESYSTEM_TYPES],
      include_mount_points: undefined,
      exclude_mount_points: undefined,
      include_disks: undefined,
      exclude_disks: new RegExp(DEFAULT_EXCLUDED_DISKS),
      include_interfaces: undefined,
      exclude_interfaces: undefined,
    });
  });

  it('compiles regular expressions, and reads "" as no filter', () => {
    const { value, issues } = check({ exclude_disks: '', include_interfaces: '^eth\\d+$' });
    assert.deepEqual(issues, []);
    const v = value as { exclude_disks: unknown; include_interfaces: RegExp };
    assert.equal(v.exclude_disks, undefined);
    assert.ok(v.include_interfaces.test('eth0') && !v.include_interfaces.test('veth0'));
  });

  it('excludes RAM disks, loop devices and floppies by default, not disks or partitions', () => {
    const re = new RegExp(DEFAULT_EXCLUDED_DISKS);
    for (const name of ['ram0', 'loop12', 'fd0']) assert.ok(re.test(name), name);
    for (const name of ['sda', 'sda1', 'nvme0n1', 'vda', 'dm-0', 'zram0', 'loop'])
      assert.ok(!re.test(name), name);
  });

  const bad: [string, Record<string, unknown>, string][] = [
    ['an invalid regex', { exclude_disks: '^(ram' }, 'exclude_disks: invalid regular expression "^(ram": '],
    [
      'a regex that is not a string',
      { include_interfaces: ['eth0'] },
      'include_interfaces: expected a regular expression',
    ],
    ['a relative root', { root: 'hostfs' }, 'root: expected an absolute path'],
    ['an unknown collector', { collectors: ['cpu', 'gpu'] }, 'collectors[1]: expected one of'],
    ['no collectors', { collectors: [] }, 'collectors: expected at least 1 item'],
    ['a misspelt key', { intervall: '5s' }, 'intervall: unknown key (did you mean "interval"?)'],
    ['too short an interval', { interval: '10ms' }, 'interval: expected a duration of at least 100 ms'],
  ];
  for (const [name, input, message] of bad) {
    it(`rejects ${name}`, () => {
      const { issues } = check(input);
      assert.equal(issues.length, 1, issues.join('\n'));
      assert.ok((issues[0] as string).startsWith(message), issues[0]);
    });
  }
});

describe('linux definition', () => {
  it('creates a polled source with the configured interval', () => {
    const { value } = check({ interval: '30s' });
    const source = linuxSource.create(value as never, testSourceContext({ type: 'linux' }));
    assert.equal(source.mode, 'polled');
    assert.equal(source.mode === 'polled' && source.intervalMs, 30_000);
  });
});
