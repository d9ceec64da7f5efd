import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatPath, type Issue } from '../../config/schema.js';
import { testSourceContext } from '../../testing/context.js';
import { linuxSource } from './index.js';
import { COLLECTORS, DEFAULT_EXCLUDED_DISKS, DEFAULT_EXCLUDED_FILESYSTEM_TYPES, schema } from './schema.js';

function check(input: unknown): { value: unknown; issues: string[] } {
  const issues: Issue[] = [];
  const value = schema.parse(input, [], issues);
  return { value, issues: issues.map((i) => `${formatPath(i.path)}: ${i.message}`) };
}

describe('linux config', () => {
  it('has the documented defaults', () => {
    const { value, issues } = check({});
    assert.deepEqual(issues, []);
    assert.deepEqual(value, {
      interval: 10_000,
      start_jitter: true,
      root: '/',
      collectors: [...COLLECTORS],
      counters: 'cumulative',
      statfs_timeout: 5_000,
      exclude_filesystem_types: [...DEFAULT_EXCLUDED_FILESYSTEM_TYPES],
      include_filesystem_types: [],
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
    ['an unknown counters mode', { counters: 'rates' }, 'counters: expected one of'],
    ['a start_jitter that is not a boolean', { start_jitter: 'no' }, 'start_jitter: expected'],
    ['an empty filesystem type', { include_filesystem_types: [''] }, 'include_filesystem_types[0]: '],
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
  it('creates a polled source with the configured interval and start jitter', () => {
    const { value } = check({ interval: '30s' });
    const source = linuxSource.create(value as never, testSourceContext({ type: 'linux' }));
    assert.equal(source.mode, 'polled');
    assert.equal(source.mode === 'polled' && source.intervalMs, 30_000);
    assert.equal(source.mode === 'polled' && source.startJitter, true);
    const off = linuxSource.create(check({ start_jitter: false }).value as never, testSourceContext());
    assert.equal(off.mode === 'polled' && off.startJitter, false);
  });

  it('accepts its own sample', async () => {
    const { parse } = await import('yaml');
    const { sample } = await import('./schema.js');
    const { type, ...options } = (parse(sample) as { linux: Record<string, unknown> }).linux;
    assert.equal(type, 'linux');
    const { value, issues } = check(options);
    assert.deepEqual(issues, []);
    assert.deepEqual(value, check({}).value);
  });
});
