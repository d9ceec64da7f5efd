import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Metric } from '../core/metric.js';
import { StatsdParser } from '../protocols/statsd/parser.js';
import { StatsdAggregator, type AggregatorOptions } from './aggregator.js';
import { ExporterMapper, parseExporterMapping } from './exporter-mapping.js';
import { DDSketch } from './sketch.js';

const OPTIONS: AggregatorOptions = {
  flushIntervalMs: 10_000,
  percentiles: [50, 90, 99],
  expiryMs: 0,
  histogramBins: { default: [1, 10, 100] },
  // DogStatsD's: a point with its own time is forwarded as it is (feed parses that dialect).
  timestamps: 'forward',
};

/** Feeds datagrams through a parser into an aggregator. */
function feed(
  agg: StatsdAggregator,
  datagrams: readonly string[],
  dialect: 'dogstatsd' | 'etsy' = 'dogstatsd',
): void {
  const parser = new StatsdParser({ dialect });
  const sink = {
    point: (l: Parameters<StatsdAggregator['add']>[0]) => void agg.add(l),
    reject: () => {},
    event: () => {},
  };
  for (const d of datagrams) parser.parse(Buffer.from(d), sink);
}

/** Drains a worker-side aggregator into the main one, `chunk` series at a time. */
function drainInto(worker: StatsdAggregator, index: number, main: StatsdAggregator, chunk: number): void {
  worker.beginDrain(0);
  for (;;) {
    // A structured clone, as between threads.
    const c = structuredClone(worker.drainSome(chunk));
    main.mergeChunk(index, c);
    if (c.last) return;
  }
}

/**
 * Metrics keyed by name, tags and timestamp (forwarded points keep theirs; aggregates are
 * stamped 0 here), the order of a batch being irrelevant. Forwarded points of one series and
 * second are several under one key: they are compared as a sorted list of values.
 */
function byKey(batch: readonly Metric[]): Map<string, Metric> {
  const out = new Map<string, Metric>();
  const forwarded = new Map<string, number[]>();
  for (const m of batch) {
    const key = `${m.name}${JSON.stringify(m.tags)}@${m.timestamp}`;
    if (m.timestamp !== 0 && (m.kind === 'counter' || m.kind === 'gauge')) {
      const list = forwarded.get(key) ?? [];
      list.push(m.value);
      forwarded.set(key, list);
      continue;
    }
    assert.ok(!out.has(key), `twice: ${key}`);
    out.set(key, m);
  }
  for (const [key, values] of forwarded) {
    out.set(key, {
      kind: 'gauge',
      name: key,
      tags: [],
      timestamp: 1,
      value: NaN,
      help: values.sort((a, b) => a - b).join(','),
    });
  }
  return out;
}

const name = fc.constantFrom('a', 'b', 'c', 'd');
const tags = fc.constantFrom('', '|#x:1', '|#y:2,x:1', '|#x:1,y:2');
const value = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.double({ min: -1e6, max: 1e6, noNaN: true }),
);
const line = fc
  .tuple(
    name,
    fc.constantFrom('c', 'g', 'ms', 'h', 's', 'd'),
    value,
    tags,
    fc.constantFrom('', '|@0.5'),
    fc.constantFrom('', '', '', `|T${Math.floor(Date.now() / 1000)}`),
  )
  .map(([n, t, v, tg, rate, ts]) => {
    // One type per name, as a real client sends; the type conflict rule is tested elsewhere.
    const type = { a: 'c', b: t, c: 'g', d: 'ms' }[n] as string;
    const v2 = type === 's' ? `m${Math.abs(Math.round(v)) % 7}` : String(v);
    // DogStatsD forwards timestamped counters and gauges unaggregated.
    const stamp = type === 'c' || type === 'g' ? ts : '';
    return `${n}_${type}:${v2}|${type}${type === 'g' || type === 's' ? '' : rate}${tg}${stamp}`;
  });

describe('interval partials across ingest workers', () => {
  it('merge to what one aggregator computes, for any stream, split and chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(line, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.nat(1), { minLength: 60, maxLength: 60 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 3 }),
        (datagrams, split, chunk, intervals) => {
          const single = new StatsdAggregator(OPTIONS);
          const main = new StatsdAggregator({ ...OPTIONS, role: 'merging' });
          const workers = [
            new StatsdAggregator({ ...OPTIONS, role: 'partial' }),
            new StatsdAggregator({ ...OPTIONS, role: 'partial' }),
          ];
          for (let round = 0; round < intervals; round++) {
            const texts = datagrams.map((d) => d.join('\n'));
            texts.forEach((d, i) => {
              // Gauges of one name stay on one worker, as one sender's datagrams do under SO_REUSEPORT.
              const w = d.includes('|g') ? 0 : (split[i % split.length] as number);
              feed(workers[w] as StatsdAggregator, [d]);
              feed(single, [d]);
            });
            drainInto(workers[0] as StatsdAggregator, 0, main, chunk);
            drainInto(workers[1] as StatsdAggregator, 1, main, chunk);
            const want = byKey(single.flush(0));
            const got = byKey(main.flush(0));
            assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
            for (const [k, m] of want) {
              const g = got.get(k) as Metric;
              if (m.kind === 'counter' && g.kind === 'counter') {
                // Sums in another order: equal to rounding (and exactly for integers).
                assert.ok(Math.abs(m.value - g.value) <= 1e-9 * Math.max(1, Math.abs(m.value)), k);
                continue;
              }
              if (m.kind === 'histogram' && g.kind === 'histogram') {
                assert.deepEqual(
                  g.histogram.bins.map((b) => b.count),
                  m.histogram.bins.map((b) => b.count),
                  k,
                );
                assert.ok(
                  Math.abs(m.histogram.sum - g.histogram.sum) <=
                    1e-6 * Math.max(1, Math.abs(m.histogram.sum)),
                );
                continue;
              }
              if (m.kind === 'distribution' && g.kind === 'distribution') {
                assert.equal(g.distribution.count, m.distribution.count, k);
                assert.equal(g.distribution.min, m.distribution.min, k);
                assert.equal(g.distribution.max, m.distribution.max, k);
                continue;
              }
              if (m.kind === 'summary' && g.kind === 'summary') {
                // Every statistic bit for bit (computed once over all samples), but the weighted
                // sum of sampled timers, added in arrival order on each thread.
                const a = m.summary.weightedSum;
                const b = g.summary.weightedSum;
                assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a)), `${k}: ${a} vs ${b}`);
                assert.deepEqual({ ...g, summary: { ...g.summary, weightedSum: a } }, m, k);
                continue;
              }
              // Gauges and sets.
              assert.deepEqual(g, m, k);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('counts every increment exactly, however the lines were spread', () => {
    const main = new StatsdAggregator({ ...OPTIONS, role: 'merging' });
    const workers = [0, 1, 2].map(() => new StatsdAggregator({ ...OPTIONS, role: 'partial' }));
    for (let i = 0; i < 30_000; i++) feed(workers[i % 3] as StatsdAggregator, [`hits:1|c|#shard:${i % 7}`]);
    workers.forEach((w, i) => drainInto(w, i, main, 3));
    const total = main.flush(0).reduce((sum, m) => sum + (m.kind === 'counter' ? m.value : 0), 0);
    assert.equal(total, 30_000);
  });

  it('takes the gauge value that arrived last across workers, and the deltas after it', () => {
    const main = new StatsdAggregator({ ...OPTIONS, role: 'merging' });
    const [w0, w1] = [0, 1].map(() => new StatsdAggregator({ ...OPTIONS, role: 'partial' })) as [
      StatsdAggregator,
      StatsdAggregator,
    ];
    const interval = (): number => {
      drainInto(w0, 0, main, 10);
      drainInto(w1, 1, main, 10);
      const [m] = main.flush(0);
      return m?.kind === 'gauge' ? m.value : NaN;
    };
    // Etsy's dialect: +n and -n are deltas.
    feed(w0, ['temp:+3|g'], 'etsy'); // before the value set on w1: overwritten by it
    feed(w1, ['temp:10|g'], 'etsy');
    assert.equal(interval(), 10);
    feed(w1, ['temp:20|g'], 'etsy');
    feed(w0, ['temp:+2|g'], 'etsy'); // after it: applies
    feed(w1, ['temp:+1|g'], 'etsy');
    assert.equal(interval(), 23);
    // Held across intervals by the main thread: deltas alone apply to it, from any worker.
    feed(w0, ['temp:-4|g'], 'etsy');
    feed(w1, ['temp:-1|g'], 'etsy');
    assert.equal(interval(), 18);
    // DogStatsD's dialect: +n is a value, and the last one wins.
    feed(w0, ['temp:+3|g']);
    feed(w1, ['temp:+7|g']);
    assert.equal(interval(), 7);
  });

  it('apply the deltas a worker got after its value in order, rounding as one thread does', () => {
    // Found by the Etsy differential: summing the deltas first gives 7 + (-7 + 1e-214) = 0.
    const stream = ['g:7|g', 'g:-7|g', 'g:+1.81895543838e-214|g'];
    const one = new StatsdAggregator(OPTIONS);
    feed(one, stream, 'etsy');
    const main = new StatsdAggregator({ ...OPTIONS, role: 'merging' });
    const worker = new StatsdAggregator({ ...OPTIONS, role: 'partial' });
    feed(worker, stream, 'etsy');
    drainInto(worker, 0, main, 10);
    const [merged] = main.flush(0);
    const [single] = one.flush(0);
    assert.equal(merged?.kind === 'gauge' ? merged.value : NaN, 1.81895543838e-214);
    assert.equal(single?.kind === 'gauge' ? single.value : NaN, 1.81895543838e-214);
  });

  it('agree with one aggregator over intervals where series expire, whenever the tables are compacted', () => {
    fc.assert(
      fc.property(
        // Per interval: which of 12 series get a line (a counter or a gauge), and how far the
        // compaction gets before the next drain.
        fc.array(fc.tuple(fc.array(fc.nat(11), { maxLength: 8 }), fc.constantFrom(0, 1, 3, 1000)), {
          minLength: 2,
          maxLength: 8,
        }),
        fc.integer({ min: 1, max: 4 }),
        (intervals, chunk) => {
          const options = { ...OPTIONS, expiryMs: 2500 };
          let now = 0;
          const clock = (): number => now;
          const single = new StatsdAggregator(options, clock);
          const main = new StatsdAggregator({ ...options, role: 'merging' }, clock);
          const workers = [0, 1].map(() => new StatsdAggregator({ ...options, role: 'partial' }, clock));
          for (const [touched, steps] of intervals) {
            now += 1000;
            for (const n of touched) {
              const d = n % 2 === 0 ? `s${n}:1|c|#k:${n}` : `g${n}:${n}|g`;
              feed(single, [d]);
              feed(workers[n % 2 === 0 ? (n % 4 === 0 ? 0 : 1) : 0] as StatsdAggregator, [d]);
            }
            workers.forEach((w, i) => {
              w.beginDrain(now);
              for (;;) {
                const c = structuredClone(w.drainSome(chunk));
                main.mergeChunk(i, c);
                if (c.last) break;
              }
              for (let k = 0; k < steps && w.compactSome(chunk); k++);
            });
            const want = byKey(single.flush(now));
            const got = byKey(main.flush(now));
            assert.deepEqual(got, want);
          }
          // Every expired series left the workers' tables once compaction ran to the end.
          for (const w of workers) while (w.compactSome(1000));
          const live = new Set(intervals.at(-1)?.[0] ?? []);
          assert.ok(workers.reduce((n, w) => n + w.size, 0) <= 12);
          assert.ok(live.size <= 12);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps merging after a worker drops expired series and renumbers the rest', () => {
    const options = { ...OPTIONS, expiryMs: 1000 };
    const main = new StatsdAggregator({ ...options, role: 'merging' }, () => 0);
    let now = 0;
    const worker = new StatsdAggregator({ ...options, role: 'partial' }, () => now);
    feed(worker, ['old:1|c', 'keep:1|c']);
    const drainAt = (t: number): void => {
      worker.beginDrain(t);
      for (;;) {
        const c = structuredClone(worker.drainSome(1));
        main.mergeChunk(0, c);
        if (c.last) return;
      }
    };
    drainAt(0);
    main.flush(0);
    now = 1500;
    feed(worker, ['keep:2|c']);
    drainAt(1500); // `old` expires in the worker: ids move once its tables are rebuilt
    while (worker.compactSome(1));
    feed(worker, ['keep:4|c', 'new:7|c']);
    drainAt(1600);
    const flushed = main.flush(1600);
    const get = (n: string): number | undefined => {
      const m = flushed.find((x) => x.name === n);
      return m?.kind === 'counter' ? m.value : undefined;
    };
    assert.equal(get('keep'), 6); // 2 and 4: two drains merged into one main interval
    assert.equal(get('new'), 7);
    assert.equal(get('old'), undefined);
  });
});

describe("a statsd_exporter mapping's observer options (timers in seconds, as histograms or summaries)", () => {
  const file = parseExporterMapping(
    `defaults:
  observer_type: summary
  quantiles:
    - quantile: 0.5
      error: 0.05
    - quantile: 0.99
      error: 0.001
mappings:
- match: api.*.latency
  name: api_latency_seconds
  labels: { route: "$1" }
  observer_type: histogram
  histogram_options:
    buckets: [0.01, 0.1, 1]
    native_histogram_bucket_factor: 1.1
- match: db.*.query
  name: db_query_seconds
  labels: { table: "$1" }
`,
    'mapping.yml',
  );
  const lines = [
    'api.items.latency:5|ms\napi.items.latency:50|ms|@0.5\napi.items.latency:500|ms',
    'api.items.latency:2000|ms\ndb.orders.query:10|ms\ndb.orders.query:30|ms',
    'other.timer:250|ms\napi.items.latency:0.05|h',
  ];
  const expect = (batch: readonly Metric[]): void => {
    const histogram = batch.find((m) => m.name === 'api_latency_seconds');
    assert.ok(histogram?.kind === 'histogram', JSON.stringify(histogram));
    // 0.005 ≤ 0.01; 0.05 (weight 2) and the h line's 0.05 (not scaled: statsd_exporter scales
    // timers only) ≤ 0.1; 0.5 ≤ 1; 2 above.
    assert.deepEqual(
      histogram.histogram.bins.map((b) => [b.le, b.count]),
      [
        [0.01, 1],
        [0.1, 3],
        [1, 1],
        [Infinity, 1],
      ],
    );
    assert.deepEqual(Object.fromEntries(histogram.tags), { route: 'items' });
    // A bucket factor of 1.1 is schema 3 (client_golang's choice): the same values, as native
    // buckets beside the bins.
    const native = new DDSketch({ schema: 3 });
    for (const [v, w] of [
      [0.005, 1],
      [0.05, 2],
      [0.5, 1],
      [2, 1],
      [0.05, 1],
    ] as const)
      native.add(v, w);
    assert.deepEqual(histogram.histogram.native, native.exponential());
    assert.equal(histogram.histogram.count, 6);
    assert.ok(Math.abs(histogram.histogram.sum - (0.005 + 0.05 * 2 + 0.5 + 2 + 0.05)) < 1e-12);
    const summary = batch.find((m) => m.name === 'db_query_seconds');
    assert.ok(summary?.kind === 'summary');
    assert.deepEqual(
      summary.summary.quantiles.map((q) => [q.quantile, q.value]),
      [
        [0.5, 0.01],
        [0.99, 0.03],
      ],
    );
    assert.ok(Math.abs(summary.summary.weightedSum - 0.04) < 1e-12);
    const unmapped = batch.find((m) => m.name === 'other_timer');
    assert.ok(
      unmapped?.kind === 'summary',
      'an unmapped timer: its name escaped, seconds, the defaults (a summary)',
    );
    assert.deepEqual(
      unmapped.summary.quantiles.map((q) => [q.quantile, q.value]),
      [
        [0.5, 0.25],
        [0.99, 0.25],
      ],
    );
  };

  it('aggregates as the rule says, in one thread', () => {
    const single = new StatsdAggregator({ ...OPTIONS, mapper: new ExporterMapper(file) });
    feed(single, lines);
    expect(single.flush(0));
  });

  it('and the same across ingest workers, whose merging thread has no mapper', () => {
    const main = new StatsdAggregator({ ...OPTIONS, role: 'merging' });
    const workers = [0, 1].map(
      () => new StatsdAggregator({ ...OPTIONS, role: 'partial', mapper: new ExporterMapper(file) }),
    );
    lines.forEach((d, i) => feed(workers[i % 2] as StatsdAggregator, [d]));
    drainInto(workers[0] as StatsdAggregator, 0, main, 1);
    drainInto(workers[1] as StatsdAggregator, 1, main, 2);
    expect(main.flush(0));
  });

  it("carries a rule's ttl to the merging thread: the series expires there, and the metrics say so", () => {
    const ttlFile = parseExporterMapping(
      'mappings:\n- match: app.*.depth\n  name: queue_depth\n  labels: { queue: "$1" }\n  ttl: 2s\n  help: Messages waiting, by queue.\n',
      'mapping.yml',
    );
    const main = new StatsdAggregator({ ...OPTIONS, expiryMs: 600_000, role: 'merging' });
    const worker = new StatsdAggregator({
      ...OPTIONS,
      expiryMs: 600_000,
      role: 'partial',
      mapper: new ExporterMapper(ttlFile),
    });
    feed(worker, ['app.mail.depth:5|g\nother.depth:1|g']);
    const flushAt = (now: number): readonly Metric[] => {
      worker.beginDrain(now);
      for (;;) {
        const c = structuredClone(worker.drainSome(10));
        main.mergeChunk(0, c);
        if (c.last) break;
      }
      return main.flush(now);
    };
    const first = flushAt(1000);
    assert.deepEqual(
      first.map((m) => [m.name, m.help]).sort(),
      [
        ['other_depth', 'StatsD gauge: last value received.'],
        ['queue_depth', 'Messages waiting, by queue.'],
      ],
      "the rule's help reaches the merging thread",
    );
    assert.deepEqual(first.map((m) => [m.name, m.ttlMs]).sort(), [
      ['other_depth', undefined],
      ['queue_depth', 2000],
    ]);
    assert.deepEqual(
      flushAt(2500)
        .map((m) => m.name)
        .sort(),
      ['other_depth', 'queue_depth'],
      'a gauge is reported until its ttl',
    );
    assert.deepEqual(
      flushAt(3500).map((m) => m.name),
      ['other_depth'],
      'then forgotten, while the source expiry keeps the other',
    );
  });
});
