import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HistogramAccumulator } from '../../aggregation/histogram.js';
import { DDSketch } from '../../aggregation/sketch.js';
import { summarize } from '../../aggregation/aggregator.js';
import { HyperLogLog } from '../../core/hll.js';
import type { Metric } from '../../core/metric.js';
import { makeTags } from '../../core/tags.js';
import { decodeState, StateFormatError, StateWriter, type SeriesMessage, type StateSeries } from './codec.js';

const T = 1_796_000_000_000;
const options = { agent: 'web-1/5f2c', setExactLimit: 4, sketchMaxBins: 4096 };

function encodeOne(m: Metric): Buffer {
  const out = new StateWriter(options).series(m, m.name, m.tags);
  assert.ok(Buffer.isBuffer(out), `${m.name}: ${String(out)}`);
  return out;
}

function roundTrip(metrics: readonly Metric[]): StateSeries[] {
  return metrics.map((m) => {
    const back = decodeState(encodeOne(m)) as SeriesMessage;
    assert.equal(back.kind, 'series');
    assert.equal(back.agent, options.agent);
    return back.series;
  });
}

const tags = makeTags({ env: 'prod', route: '/checkout' });

describe('state records', () => {
  it('carry every mergeable kind, and read back what was written', () => {
    const sketch = new DDSketch();
    for (const v of [0, 1, 2.5, 17, -3, 1000]) sketch.add(v);
    const dist = sketch.snapshot([0.5, 0.99]);
    const hist = new HistogramAccumulator([1, 10]);
    for (const v of [0.5, 3, 30, 40]) hist.add(v);
    const samples = new Float64Array([3, 1, 2]);
    const members = ['a', 'b', 'c', 'd', 'e', 'f'];
    const big = new HyperLogLog();
    for (const m of members) big.add(m);
    const metrics: Metric[] = [
      {
        kind: 'counter',
        name: 'hits',
        tags,
        timestamp: T,
        temporality: 'delta',
        value: 12.5,
        intervalMs: 10_000,
      },
      { kind: 'gauge', name: 'temp', tags, timestamp: T, value: -4, updatedAt: T - 2500 },
      { kind: 'gauge', name: 'users', tags, timestamp: T - 7, value: 3, set: { members: ['x', 'y', 'ü'] } },
      { kind: 'gauge', name: 'sessions', tags, timestamp: T, value: 6, set: { members } },
      {
        kind: 'summary',
        name: 'latency',
        tags,
        timestamp: T,
        intervalMs: 10_000,
        summary: summarize(samples.slice(), 30, [90], 60),
        samples,
      },
      { kind: 'histogram', name: 'size', tags, timestamp: T, intervalMs: 10_000, histogram: hist.snapshot() },
      { kind: 'distribution', name: 'rt', tags: [], timestamp: T, intervalMs: 10_000, distribution: dist },
    ];
    const by = new Map(roundTrip(metrics).map((s) => [s.name, s]));
    const get = <K extends StateSeries['type']>(name: string, type: K): Extract<StateSeries, { type: K }> => {
      const s = by.get(name);
      assert.equal(s?.type, type);
      return s as Extract<StateSeries, { type: K }>;
    };
    assert.deepEqual(get('hits', 'counter'), {
      type: 'counter',
      name: 'hits',
      tags,
      timestamp: T,
      intervalMs: 10_000,
      value: 12.5,
    });
    assert.equal(get('temp', 'gauge').updatedAt, T - 2500);
    assert.deepEqual((get('users', 'set') as { members: readonly string[] }).members, ['x', 'y', 'ü']);
    assert.equal(get('users', 'set').timestamp, T - 7);
    // Past the exact limit (4): a sketch of the same members.
    assert.deepEqual((get('sessions', 'set') as { sketch: Uint8Array }).sketch, big.registers);
    const timer = get('latency', 'timer');
    assert.deepEqual([timer.count, timer.weightedSum, [...timer.samples]], [30, 60, [3, 1, 2]]);
    const h = get('size', 'histogram');
    assert.deepEqual(
      [...h.bins],
      [1, 1, 0.5, 0.5, 0.5, 10, 1, 3, 3, 3, Infinity, 2, 70, 30, 40, 4, 73.5, 0.5, 40],
    );
    const d = get('rt', 'distribution');
    const e = dist.exponential?.();
    assert.deepEqual(
      { schema: d.schema, zero: d.zero, positive: d.positive, negative: d.negative },
      { schema: e?.schema, zero: e?.zeroCount, positive: e?.positive, negative: e?.negative },
    );
    assert.deepEqual([d.count, d.sum, d.min, d.max, d.alpha], [6, 1017.5, -3, 1000, 0.01]);
  });

  it('carry the window markers aggregators write', () => {
    const w = new StateWriter(options);
    assert.deepEqual(decodeState(w.window('agg-2/77', 5, T, T + 10_000)), {
      kind: 'window',
      aggregator: 'agg-2/77',
      partition: 5,
      start: T,
      end: T + 10_000,
    });
    assert.throws(() => decodeState(w.window('a', 0, T, T)), /window ends/);
  });

  it('say why a metric has no mergeable state, and write nothing for it', () => {
    const cumulative: Metric = {
      kind: 'counter',
      name: 'rx',
      tags: [],
      timestamp: T,
      temporality: 'cumulative',
      value: 1,
      intervalMs: 0,
    };
    assert.equal(new StateWriter(options).series(cumulative, 'rx', []), 'cumulative counter');
  });

  it('round-trip any counters, gauges and sets', () => {
    const name = fc.string({ minLength: 1, maxLength: 20 });
    const tagList = fc.uniqueArray(fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })), {
      selector: (t) => t[0],
      maxLength: 4,
    });
    const metric = fc.oneof(
      fc
        .record({
          name,
          tags: tagList,
          value: fc.double({ noNaN: true }),
          dt: fc.integer({ min: -1e6, max: 1e6 }),
        })
        .map((r): Metric => ({
          kind: 'counter',
          name: r.name,
          tags: makeTags(r.tags),
          timestamp: T + r.dt,
          temporality: 'delta',
          value: r.value,
          intervalMs: 10_000,
        })),
      fc
        .record({ name, tags: tagList, value: fc.double(), at: fc.integer({ min: -1e9, max: 1e9 }) })
        .map((r): Metric => ({
          kind: 'gauge',
          name: r.name,
          tags: makeTags(r.tags),
          timestamp: T,
          value: r.value,
          updatedAt: T + r.at,
        })),
      fc
        .record({ name, tags: tagList, members: fc.uniqueArray(fc.string(), { maxLength: 4 }) })
        .map((r): Metric => ({
          kind: 'gauge',
          name: r.name,
          tags: makeTags(r.tags),
          timestamp: T,
          value: r.members.length,
          set: { members: r.members },
        })),
    );
    fc.assert(
      fc.property(fc.array(metric, { maxLength: 20 }), (metrics) => {
        const back = roundTrip(metrics);
        assert.equal(back.length, metrics.length);
        metrics.forEach((m, i) => {
          const s = back[i] as StateSeries;
          assert.equal(s.name, m.name);
          assert.deepEqual(s.tags, m.tags);
          assert.equal(s.timestamp, m.timestamp);
          if (m.kind === 'counter') assert.equal((s as { value: number }).value, m.value);
          else if (m.kind === 'gauge' && m.set === undefined) {
            assert.ok(Object.is((s as { value: number }).value, m.value));
            assert.equal((s as { updatedAt: number }).updatedAt, m.updatedAt);
          } else if (m.kind === 'gauge' && m.set !== undefined && 'members' in m.set)
            assert.deepEqual((s as { members: readonly string[] }).members, m.set.members);
        });
      }),
    );
  });

  it('refuse every truncation, and any corruption, with a StateFormatError and nothing else', () => {
    const sketch = new DDSketch();
    for (let i = 1; i < 50; i++) sketch.add(i * 1.7);
    const h = new HistogramAccumulator([1, 10]);
    h.add(4);
    const hll = new HyperLogLog();
    for (let i = 0; i < 3000; i++) hll.add(String(i));
    const few = new HyperLogLog();
    for (let i = 0; i < 30; i++) few.add(String(i));
    const messages = [
      encodeOne({
        kind: 'counter',
        name: 'c',
        tags,
        timestamp: T,
        temporality: 'delta',
        value: 1,
        intervalMs: 1,
      }),
      encodeOne({ kind: 'gauge', name: 's', tags, timestamp: T, value: 3000, set: { sketch: hll } }),
      encodeOne({ kind: 'gauge', name: 's', tags, timestamp: T, value: 30, set: { sketch: few } }),
      encodeOne({ kind: 'gauge', name: 'g', tags, timestamp: T, value: 2, set: { members: ['a', 'b'] } }),
      encodeOne({ kind: 'histogram', name: 'h', tags, timestamp: T, intervalMs: 1, histogram: h.snapshot() }),
      encodeOne({
        kind: 'distribution',
        name: 'd',
        tags,
        timestamp: T,
        intervalMs: 1,
        distribution: sketch.snapshot([0.5]),
      }),
      new StateWriter(options).window('agg', 1, T, T + 1),
    ];
    for (const bytes of messages) {
      for (let cut = 0; cut < bytes.length; cut++)
        assert.throws(() => decodeState(bytes.subarray(0, cut)), StateFormatError, `cut at ${cut}`);
      fc.assert(
        fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), (at, flip) => {
          const copy = Buffer.from(bytes);
          copy[at] = (copy[at] as number) ^ flip;
          try {
            decodeState(copy);
          } catch (e) {
            assert.ok(e instanceof StateFormatError, String(e));
          }
        }),
        { numRuns: 500 },
      );
      assert.throws(() => decodeState(Buffer.concat([bytes, Buffer.from([0])])), /1 bytes after the message/);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (random) => {
        assert.throws(() => decodeState(random), StateFormatError);
      }),
    );
    const v2 = Buffer.from(messages[0] as Buffer);
    v2[2] = 2;
    assert.throws(() => decodeState(v2), /state message version 2; this sluice reads version 1/);
  });
});
