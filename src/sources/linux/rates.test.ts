import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Metric } from '../../core/metric.js';
import { CounterConverter } from './rates.js';

function counter(name: string, value: number, timestamp: number, tags: [string, string][] = []): Metric {
  return {
    kind: 'counter',
    temporality: 'cumulative',
    name,
    tags,
    value,
    intervalMs: 0,
    timestamp,
    help: 'A count.',
  };
}

function gauge(name: string, value: number, timestamp: number): Metric {
  return { kind: 'gauge', name, tags: [], value, timestamp, help: 'A level.' };
}

describe('CounterConverter', () => {
  it('passes everything through unchanged in cumulative mode', () => {
    const c = new CounterConverter('cumulative');
    const batch = [counter('a', 1, 0), gauge('g', 2, 0)];
    assert.equal(c.convert(batch), batch);
  });

  it('keeps series apart by name and tags, and forgets series that vanish', () => {
    const c = new CounterConverter('delta');
    c.convert([counter('a', 10, 0, [['x', '1']]), counter('a', 100, 0, [['x', '2']])]);
    const second = c.convert([counter('a', 15, 1000, [['x', '1']])]);
    assert.deepEqual(
      second.map((m) => [m.tags, m.kind === 'counter' ? m.value : NaN]),
      [[[['x', '1']], 5]],
    );
    // x=2 was not in the second batch: when it comes back, it starts over.
    const third = c.convert([counter('a', 20, 2000, [['x', '1']]), counter('a', 120, 2000, [['x', '2']])]);
    assert.deepEqual(
      third.map((m) => m.tags),
      [[['x', '1']]],
    );
  });

  it('skips a sample whose clock did not move forward', () => {
    const c = new CounterConverter('rate');
    c.convert([counter('a', 1, 1000)]);
    assert.deepEqual(c.convert([counter('a', 2, 1000)]), []);
  });

  it('starts over after reset()', () => {
    const c = new CounterConverter('delta');
    c.convert([counter('a', 1, 0)]);
    c.reset();
    assert.deepEqual(c.convert([counter('a', 2, 1000)]), []);
  });

  it('in delta mode, the deltas of a counter without resets add up to its growth', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: 1_000_000 }), fc.integer({ min: 1, max: 60_000 })), {
          minLength: 1,
          maxLength: 30,
        }),
        (steps) => {
          const c = new CounterConverter('delta');
          let value = 0;
          let time = 0;
          let sum = 0;
          let elapsed = 0;
          c.convert([counter('a', value, time)]);
          for (const [inc, ms] of steps) {
            value += inc;
            time += ms;
            for (const m of c.convert([counter('a', value, time), gauge('g', inc, time)])) {
              if (m.kind === 'counter') {
                assert.equal(m.temporality, 'delta');
                sum += m.value;
                elapsed += m.intervalMs;
              } else {
                assert.equal(m.kind === 'gauge' && m.value, inc);
              }
            }
          }
          assert.equal(sum, value);
          assert.equal(elapsed, time);
        },
      ),
    );
  });

  it('in rate mode, never reports a negative or non-finite rate, whatever the counter does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: -10, max: 60_000 })), { maxLength: 30 }),
        (samples) => {
          const c = new CounterConverter('rate');
          let time = 0;
          for (const [value, ms] of samples) {
            time += ms;
            for (const m of c.convert([counter('a', value, time)])) {
              assert.equal(m.kind, 'gauge');
              assert.equal(m.name, 'a_per_second');
              assert.ok(m.kind === 'gauge' && Number.isFinite(m.value) && m.value >= 0);
            }
          }
        },
      ),
    );
  });
});
