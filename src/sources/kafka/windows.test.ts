import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CounterMetric, Metric } from '../../core/metric.js';
import { StateWriter } from '../../protocols/state/codec.js';
import { WindowStore, type WindowOptions } from './windows.js';

const W = 10_000;
const T = 1_796_000_000_000; // a multiple of W
const writer = new StateWriter({ agent: 'agent-a', setExactLimit: 100, sketchMaxBins: 4096 });

function hit(value: number, at: number, name = 'hits'): Buffer {
  const m: Metric = {
    kind: 'counter',
    name,
    tags: [],
    timestamp: at,
    temporality: 'delta',
    value,
    intervalMs: 1000,
  };
  return writer.series(m, m.name, m.tags) as Buffer;
}

function store(options: Partial<WindowOptions> = {}): WindowStore {
  const s = new WindowStore({
    windowMs: W,
    latenessMs: 2000,
    late: 'next_window',
    aggregator: { percentiles: [50] },
    ...options,
  });
  s.assign(
    new Map([
      [0, { committed: 0n, end: 0n }],
      [1, { committed: 0n, end: 0n }],
    ]),
  );
  return s;
}

function totals(batch: readonly Metric[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of batch) out[`${m.name}@${m.timestamp}`] = (m as CounterMetric).value;
  return out;
}

describe('the aggregator window store', () => {
  it('puts state in the window of its flush time and closes it after the allowed lateness', () => {
    const s = store();
    assert.equal(s.add(0, 0n, hit(2, T + 1000)), 'merged');
    assert.equal(s.add(0, 1n, hit(3, T + W)), 'merged'); // a flush at the window's end belongs to it
    assert.equal(s.add(0, 2n, hit(5, T + W + 1)), 'merged'); // the next window
    assert.deepEqual(s.closeDue(T + W + 1999).closed, []);
    const first = s.closeDue(T + W + 2000);
    assert.deepEqual(totals(first.batch), { [`hits@${T + W}`]: 5 });
    assert.deepEqual(first.closed, [{ partition: 0, start: T, end: T + W, series: 2 }]);
    const counter = first.batch[0] as CounterMetric;
    assert.equal(counter.intervalMs, W);
    assert.deepEqual(totals(s.closeDue(T + 2 * W + 2000).batch), { [`hits@${T + 2 * W}`]: 5 });
  });

  it('merges late state into the earliest open window, or drops it, counting either', () => {
    for (const late of ['next_window', 'drop'] as const) {
      const s = store({ late });
      s.add(0, 0n, hit(1, T + 500));
      s.closeDue(T + W + 2000);
      const outcome = s.add(0, 1n, hit(7, T + 900));
      assert.equal(outcome, late === 'drop' ? 'late_dropped' : 'late_merged');
      const next = totals(s.closeDue(T + 2 * W + 2000).batch);
      assert.deepEqual(next, late === 'drop' ? {} : { [`hits@${T + 2 * W}`]: 7 });
    }
  });

  it('commits, per partition, the first offset of any open window, else the next to read', () => {
    const s = store();
    s.add(0, 10n, hit(1, T + 500));
    s.add(0, 11n, hit(1, T + W + 500));
    s.add(1, 40n, hit(1, T + W + 500));
    assert.deepEqual(
      [...s.commitOffsets()],
      [
        [0, 10n],
        [1, 40n],
      ],
    );
    s.closeDue(T + W + 2000);
    assert.deepEqual(
      [...s.commitOffsets()],
      [
        [0, 11n],
        [1, 40n],
      ],
    );
    s.closeDue(T + 2 * W + 2000);
    assert.deepEqual(
      [...s.commitOffsets()],
      [
        [0, 12n],
        [1, 41n],
      ],
    );
  });

  it('takes out a window another aggregator marked as delivered, and counts its series as duplicates', () => {
    const s = store();
    s.add(0, 0n, hit(1, T + 500, 'a'));
    s.add(0, 1n, hit(1, T + 600, 'b'));
    s.add(0, 2n, hit(4, T + W + 500));
    assert.equal(s.add(0, 3n, writer.window('agg-x', 0, T, T + W)), 'marker');
    assert.equal(s.duplicateSeries, 2);
    // Whatever comes for that window now is late.
    assert.equal(s.add(0, 4n, hit(1, T + 700)), 'late_merged');
    const out = s.closeDue(T + 3 * W);
    assert.deepEqual(totals(out.batch), { [`hits@${T + 2 * W}`]: 5 });
    assert.equal(s.add(0, 5n, writer.window('agg-x', 1, T, T + W)), 'rejected');
  });

  it('holds the windows of a partition while it replays, and skips what it delivered itself', () => {
    const s = store();
    s.add(0, 0n, hit(1, T + 500));
    s.closeDue(T + W + 2000); // delivered [T, T+W) of partition 0
    // A rebalance: partition 0 is kept, to be read again from offset 0 up to 3.
    s.assign(new Map([[0, { committed: 0n, end: 3n }]]));
    assert.equal(s.add(0, 0n, hit(1, T + 500)), 'duplicate');
    assert.equal(s.add(0, 1n, hit(2, T + W + 500)), 'merged');
    assert.equal(s.replaying(0), true);
    assert.deepEqual(s.closeDue(T + 5 * W).closed, [], 'nothing closes while replaying');
    assert.equal(s.add(0, 2n, hit(3, T + W + 600)), 'merged');
    assert.equal(s.replaying(0), false);
    assert.deepEqual(totals(s.closeDue(T + 5 * W).batch), { [`hits@${T + 2 * W}`]: 5 });
    assert.equal(s.add(1, 0n, hit(1, T)), 'not_assigned');
  });

  it('skips offsets it took already, and counts what it cannot read', () => {
    const s = store();
    s.add(0, 5n, hit(1, T + 500));
    assert.equal(s.add(0, 5n, hit(1, T + 500)), 'stale');
    assert.equal(s.add(0, 6n, Buffer.from('not state')), 'rejected');
    assert.match(s.lastRejection ?? '', /no "SL" magic/);
    assert.deepEqual(totals(s.closeDue(T + W + 2000).batch), { [`hits@${T + W}`]: 1 });
  });
});
