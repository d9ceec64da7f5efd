import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPath, INVALID, parseDuration, parseListen, s, type Issue } from './schema.js';

const schema = s.object({
  listen: s.listen({ default: '127.0.0.1:8125' }),
  flush_interval: s.duration({ default: 10_000 }),
  percentiles: s.array(s.number({ min: 0, max: 100 }), { default: [90] }),
  mode: s.oneOf(['a', 'b'] as const, { default: 'a' }),
  name: s.string({ optional: true }),
  required_count: s.number({ integer: true, min: 1 }),
  tags: s.record(s.string(), { default: {} }),
});

function run(value: unknown): { result: unknown; issues: Issue[] } {
  const issues: Issue[] = [];
  return { result: schema.parse(value, ['statsd'], issues), issues };
}

test('defaults fill absent keys and durations become milliseconds', () => {
  const { result, issues } = run({ required_count: 2, flush_interval: '1.5s' });
  assert.deepEqual(issues, []);
  assert.deepEqual(result, {
    listen: { host: '127.0.0.1', port: 8125 },
    flush_interval: 1500,
    percentiles: [90],
    mode: 'a',
    name: undefined,
    required_count: 2,
    tags: {},
  });
});

test('every problem is reported with its path and a message naming what was expected', () => {
  const { result, issues } = run({
    flush_interval: 'ten',
    percentiles: [50, 101],
    mode: 'c',
    listen: 'nowhere',
    flush_intervall: 1,
    tags: { a: ['x'] },
  });
  assert.equal(result, INVALID);
  const messages = issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
  assert.deepEqual(messages, [
    'statsd.flush_intervall: unknown key (did you mean "flush_interval"?); known keys: listen, flush_interval, percentiles, mode, name, required_count, tags',
    'statsd.listen: expected an address like "127.0.0.1:8125", "[::1]:8125" or ":8125", got "nowhere"',
    'statsd.flush_interval: expected a duration (seconds, or a string like "10s", "500ms", "5m"), got "ten"',
    'statsd.percentiles[1]: expected a number from 0 to 100, got 101',
    'statsd.mode: expected one of "a", "b", got "c"',
    'statsd.required_count: is required (an integer of at least 1)',
    'statsd.tags.a: expected a string, got a list',
  ]);
});

test('durations and listen addresses', () => {
  const durations: [unknown, number | undefined][] = [
    [10, 10_000],
    ['10', 10_000],
    ['250ms', 250],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['0.5s', 500],
    ['-1s', undefined],
    ['10 parsecs', undefined],
    [true, undefined],
  ];
  for (const [input, want] of durations) assert.equal(parseDuration(input), want, String(input));
  assert.deepEqual(parseListen('[::1]:8125'), { host: '::1', port: 8125 });
  assert.deepEqual(parseListen(':9103'), { host: '0.0.0.0', port: 9103 });
  assert.deepEqual(parseListen('localhost:0'), { host: 'localhost', port: 0 });
  assert.equal(parseListen('127.0.0.1:70000'), undefined);
  assert.equal(parseListen('127.0.0.1'), undefined);
});
