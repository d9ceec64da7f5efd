/**
 * The aggregator tier's merge, against the reference: lines spread over any number of agents,
 * each flushing its interval state (StateWriter), read back (decodeState) and merged by one
 * aggregator (StateChunkBuilder → mergeChunk), give what one aggregator fed every line gives:
 * counters, sets, histogram bins and timer statistics exactly, distributions the same sketch.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Batch, Metric } from '../core/metric.js';
import { decodeState, StateWriter, type SeriesMessage } from '../protocols/state/codec.js';
import { StatsdParser } from '../protocols/statsd/parser.js';
import { StatsdAggregator, type AggregatorOptions } from './aggregator.js';
import { StateChunkBuilder } from './global.js';
import { DDSketch } from './sketch.js';

const T = 1_796_000_000_000;
const BASE: AggregatorOptions = {
  flushIntervalMs: 10_000,
  percentiles: [50, 90, 99],
  expiryMs: 0,
  histogramBins: { default: [1, 10, 100] },
};

function feed(agg: StatsdAggregator, lines: readonly string[]): void {
  const parser = new StatsdParser({ now: () => T });
  const sink = {
    point: (l: Parameters<StatsdAggregator['add']>[0]) => void agg.add(l),
    reject: () => {},
  };
  for (const line of lines) parser.parse(Buffer.from(line), sink);
}

/** One agent's flush, as messages on the wire. */
function publish(lines: readonly string[], agent: number): Buffer[] {
  const agg = new StatsdAggregator(
    { ...BASE, mergeableState: { wanted: true, timerSketches: false } },
    () => T,
  );
  feed(agg, lines);
  const writer = new StateWriter({ agent: `agent-${agent}`, setExactLimit: 1000, sketchMaxBins: 4096 });
  const out: Buffer[] = [];
  for (const m of agg.flush(T)) {
    const bytes = writer.series(m, m.name, m.tags);
    assert.ok(Buffer.isBuffer(bytes), `${m.name}: ${String(bytes)}`);
    out.push(bytes);
  }
  return out;
}

function mergeAll(messages: readonly Buffer[]): Batch {
  const agg = new StatsdAggregator({ ...BASE, role: 'merging' }, () => T);
  const builder = new StateChunkBuilder();
  for (const bytes of messages) builder.add((decodeState(bytes) as SeriesMessage).series);
  agg.mergeChunk(0, builder.take());
  agg.forgetWorker(0);
  assert.equal(agg.mergeConflicts, 0);
  return agg.flush(T);
}

/** What a comparison may look at: everything but the order of the batch. */
function normal(batch: Batch): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const m of batch) out.set(`${m.kind} ${m.name}`, view(m));
  return out;
}

function view(m: Metric): unknown {
  switch (m.kind) {
    case 'counter':
    case 'gauge':
      return m.value;
    case 'summary':
      return m.summary;
    case 'histogram':
      return m.histogram;
    case 'distribution':
      return {
        count: m.distribution.count,
        sum: m.distribution.sum,
        min: m.distribution.min,
        max: m.distribution.max,
        quantiles: m.distribution.quantiles,
        buckets: m.distribution.exponential?.(),
      };
  }
}

const line = fc.oneof(
  fc
    .tuple(fc.constantFrom('hits', 'errors'), fc.integer({ min: -5, max: 100 }))
    .map(([n, v]) => `${n}:${v}|c`),
  fc
    .tuple(fc.constantFrom('users', 'ips'), fc.string({ minLength: 1, maxLength: 4, unit: 'grapheme-ascii' }))
    .filter(([, v]) => !/[|:\n#@]/.test(v))
    .map(([n, v]) => `${n}:${v}|s`),
  fc.integer({ min: 0, max: 500 }).map((v) => `size:${v}|h`),
  fc.integer({ min: 1, max: 5000 }).map((v) => `rt:${v}|ms`),
  fc.double({ min: 0.001, max: 1e6, noNaN: true }).map((v) => `lat:${v}|d`),
);

describe('merging agents through their interval state', () => {
  it('gives what one aggregator fed every line gives, however the lines are spread', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(line, fc.nat(3)), { minLength: 1, maxLength: 80 }), (spread) => {
        const reference = new StatsdAggregator(BASE, () => T);
        feed(
          reference,
          spread.map(([l]) => l),
        );
        const expected = normal(reference.flush(T));
        const messages: Buffer[] = [];
        for (let agent = 0; agent < 4; agent++)
          messages.push(
            ...publish(
              spread.filter(([, a]) => a === agent).map(([l]) => l),
              agent,
            ),
          );
        const merged = normal(mergeAll(messages));
        assert.deepEqual([...merged.keys()].sort(), [...expected.keys()].sort());
        for (const [key, value] of expected) {
          const got = merged.get(key) as Record<string, unknown>;
          if (key.startsWith('summary ')) {
            // Etsy's statistics over the pooled samples: the same samples, summed in another order.
            const e = value as Record<string, number>;
            for (const f of ['count', 'samples', 'min', 'max', 'median'])
              assert.equal(got[f], e[f], `${key} ${f}`);
            assert.ok(Math.abs((got.sum as number) - (e.sum as number)) <= 1e-9 * Math.abs(e.sum as number));
          } else if (key.startsWith('distribution ')) {
            const e = value as Record<string, unknown>;
            assert.deepEqual(got.buckets, e.buckets, key);
            assert.deepEqual(got.quantiles, e.quantiles, key);
            assert.equal(got.count, e.count);
          } else assert.deepEqual(got, value, key);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('takes the gauge written last on any host', () => {
    const early = new StatsdAggregator(
      { ...BASE, mergeableState: { wanted: true, timerSketches: false } },
      () => T,
    );
    feed(early, ['temp:10|g']);
    const late = new StatsdAggregator(
      { ...BASE, mergeableState: { wanted: true, timerSketches: false } },
      () => T,
    );
    feed(late, ['temp:20|g']);
    const writer = new StateWriter({ agent: 'a', setExactLimit: 10, sketchMaxBins: 4096 });
    const a = early.flush(T - 5000)[0] as Metric;
    const b = late.flush(T)[0] as Metric;
    for (const order of [
      [b, a],
      [a, b],
    ]) {
      const merged = mergeAll(order.map((m) => writer.series(m, m.name, m.tags) as Buffer));
      assert.equal((merged[0] as { value: number }).value, 20);
    }
  });

  it('counts, and leaves out, a histogram counted in other bins', () => {
    const agg = new StatsdAggregator({ ...BASE, role: 'merging' }, () => T);
    const builder = new StateChunkBuilder();
    const other = new StatsdAggregator(
      { ...BASE, histogramBins: { default: [5] }, mergeableState: { wanted: true, timerSketches: false } },
      () => T,
    );
    feed(other, ['size:3|h']);
    const writer = new StateWriter({ agent: 'a', setExactLimit: 10, sketchMaxBins: 4096 });
    for (const bytes of [
      ...publish(['size:50|h'], 1),
      writer.series(other.flush(T)[0] as Metric, 'size', []) as Buffer,
    ])
      builder.add((decodeState(bytes) as SeriesMessage).series);
    agg.mergeChunk(0, builder.take());
    assert.equal(agg.mergeConflicts, 1);
    const h = agg.flush(T)[0] as { histogram: { count: number } };
    assert.equal(h.histogram.count, 1);
  });

  it('sends timers as sketches when asked: merged, they are the distribution of every sample', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 100_000 }), fc.nat(2)), { minLength: 1, maxLength: 60 }),
        (spread) => {
          const messages: Buffer[] = [];
          for (let agent = 0; agent < 3; agent++) {
            const agg = new StatsdAggregator(
              { ...BASE, mergeableState: { wanted: true, timerSketches: true } },
              () => T,
            );
            feed(
              agg,
              spread.filter(([, a]) => a === agent).map(([v]) => `rt:${v}|ms`),
            );
            const writer = new StateWriter({
              agent: `a${agent}`,
              setExactLimit: 10,
              sketchMaxBins: 4096,
              timers: 'sketch',
            });
            for (const m of agg.flush(T)) messages.push(writer.series(m, m.name, m.tags) as Buffer);
          }
          const merged = mergeAll(messages);
          assert.equal(merged.length, 1);
          const got = merged[0] as Metric;
          assert.equal(got.kind, 'distribution');
          const reference = new DDSketch();
          for (const [v] of spread) reference.add(v);
          const d = (got as { distribution: { count: number; exponential?: () => unknown } }).distribution;
          assert.equal(d.count, spread.length);
          assert.deepEqual(d.exponential?.(), reference.snapshot([50]).exponential?.());
        },
      ),
      { numRuns: 100 },
    );
  });
});
