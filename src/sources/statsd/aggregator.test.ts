import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ManualClock } from '../../core/clock.js';
import type { Batch, CounterMetric, GaugeMetric, Metric, SummaryMetric } from '../../core/metric.js';
import { findMetric } from '../../testing/context.js';
import { StatsdParser } from '../../protocols/statsd/parser.js';
import { StatsdAggregator, summarize, type AggregatorOptions } from './aggregator.js';

const INTERVAL = 10_000;

function setup(options: Partial<AggregatorOptions> = {}) {
  const clock = new ManualClock();
  const agg = new StatsdAggregator(
    { flushIntervalMs: INTERVAL, percentiles: [50, 90, 95, 99], expiryMs: 300_000, ...options },
    () => clock.now(),
  );
  const parser = new StatsdParser();
  const sink = {
    point: agg.add.bind(agg),
    reject: (reason: string) => assert.fail(`rejected: ${reason}`),
  };
  const feed = (...datagrams: string[]): void => {
    for (const d of datagrams) parser.parse(Buffer.from(d), sink);
  };
  /** Advances one interval and flushes. */
  const flush = (): Batch => {
    clock.advance(INTERVAL);
    return agg.flush(clock.now());
  };
  return { clock, agg, feed, flush };
}

const counter = (b: Batch, name: string, tags: Record<string, string> = {}): CounterMetric =>
  findMetric(b, name, tags) as CounterMetric;
const gauge = (b: Batch, name: string, tags: Record<string, string> = {}): GaugeMetric =>
  findMetric(b, name, tags) as GaugeMetric;
const summary = (b: Batch, name: string, tags: Record<string, string> = {}): SummaryMetric =>
  findMetric(b, name, tags) as SummaryMetric;

describe('StatsdAggregator: counters', () => {
  it('sums values scaled by the sample rate into one delta counter per interval', () => {
    const { feed, flush, clock } = setup();
    feed('hits:1|c\nhits:2|c', 'hits:3|c|@0.5', 'hits:1|c|@0.1');
    const b = flush();
    assert.deepEqual(b, [
      {
        kind: 'counter',
        name: 'hits',
        tags: [],
        timestamp: clock.now(),
        help: counter(b, 'hits').help,
        temporality: 'delta',
        value: 1 + 2 + 6 + 10,
        intervalMs: INTERVAL,
      },
    ]);
    assert.match(counter(b, 'hits').help ?? '', /StatsD counter/);
  });

  it('emits a counter only in intervals where it was updated', () => {
    const { feed, flush } = setup();
    feed('a:1|c');
    assert.equal(flush().length, 1);
    assert.deepEqual(flush(), []);
    feed('a:5|c');
    assert.equal(counter(flush(), 'a').value, 5);
  });

  it('keeps negative and fractional increments', () => {
    const { feed, flush } = setup();
    feed('a:-2|c\na:0.5|c');
    assert.equal(counter(flush(), 'a').value, -1.5);
  });

  it('conserves counts exactly, whatever the interleaving of lines and flushes', () => {
    const names = ['a', 'b', 'c'];
    const tagSets = ['', '|#x:1,y:2', '|#y:2,x:1', '|#y=2,x=1'];
    const op = fc.oneof(
      fc.record({
        name: fc.constantFrom(...names),
        tags: fc.constantFrom(...tagSets),
        value: fc.integer({ min: -1000, max: 1000 }),
        rate: fc.constantFrom(1, 0.5, 0.25, 0.125),
      }),
      fc.constant('flush' as const),
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 200 }),
        fc.integer({ min: 1, max: 5 }),
        (ops, expiryIntervals) => {
          const { feed, flush } = setup({ expiryMs: expiryIntervals * INTERVAL });
          const sent = new Map<string, number>();
          const got = new Map<string, number>();
          const collect = (b: Batch): void => {
            for (const m of b) {
              assert.equal(m.kind, 'counter');
              const key = m.name + (m.tags.length > 0 ? 'T' : '');
              got.set(key, (got.get(key) ?? 0) + (m as CounterMetric).value);
            }
          };
          for (const o of ops) {
            if (o === 'flush') {
              collect(flush());
              continue;
            }
            feed(`${o.name}:${o.value}|c${o.rate === 1 ? '' : `|@${o.rate}`}${o.tags}`);
            const key = o.name + (o.tags !== '' ? 'T' : '');
            sent.set(key, (sent.get(key) ?? 0) + o.value / o.rate);
          }
          collect(flush());
          assert.deepEqual(got, sent);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('StatsdAggregator: gauges', () => {
  it('reports the last value at every flush until the series expires', () => {
    const { feed, flush, agg } = setup({ expiryMs: 30_000 });
    feed('temp:20|g\ntemp:+21.5|g', 'temp:-3|g');
    assert.equal(gauge(flush(), 'temp').value, -3);
    assert.equal(gauge(flush(), 'temp').value, -3);
    assert.equal(gauge(flush(), 'temp').value, -3);
    assert.equal(agg.size, 1);
    // 30 s after the interval of its last update.
    assert.deepEqual(flush(), []);
    assert.equal(agg.size, 0);
    assert.equal(agg.evicted, 1);
    feed('temp:7|g');
    assert.equal(gauge(flush(), 'temp').value, 7);
    assert.equal(agg.size, 1);
  });

  it('an update postpones expiry', () => {
    const { feed, flush } = setup({ expiryMs: 20_000 });
    feed('g:1|g');
    flush();
    flush();
    feed('g:2|g');
    assert.equal(gauge(flush(), 'g').value, 2);
    assert.equal(gauge(flush(), 'g').value, 2);
    assert.deepEqual(flush(), []);
  });

  it('never expires with expiry 0', () => {
    const { feed, flush, agg } = setup({ expiryMs: 0 });
    feed('g:1|g');
    for (let i = 0; i < 100; i++) assert.equal(flush().length, 1);
    assert.equal(agg.evicted, 0);
  });
});

describe('StatsdAggregator: timers and histograms', () => {
  it('computes Etsy statistics over the interval', () => {
    const { feed, flush, clock } = setup();
    feed('t:10|ms\nt:2|ms\nt:4|ms', 't:4|ms|@0.5\nt:5|ms');
    const m = summary(flush(), 't');
    // sorted: 2 4 4 5 10; n = 5; sum 25; mean 5; squares 4+16+16+25+100 = 161;
    // deviations 9+1+1+0+25 = 36 → stdev sqrt(36/5)
    assert.deepEqual(m, {
      kind: 'summary',
      name: 't',
      tags: [],
      timestamp: clock.now(),
      help: m.help,
      intervalMs: INTERVAL,
      summary: {
        count: 6,
        samples: 5,
        sum: 25,
        sumSquares: 161,
        min: 2,
        max: 10,
        mean: 5,
        median: 4,
        stdev: Math.sqrt(36 / 5),
        quantiles: [
          { quantile: 0.5, value: 4 }, // round(2.5) = 3rd
          { quantile: 0.9, value: 10 }, // round(4.5) = 5th
          { quantile: 0.95, value: 10 },
          { quantile: 0.99, value: 10 },
        ],
      },
    });
  });

  it('treats h like ms, as a separate series', () => {
    const { feed, flush } = setup();
    feed('x:1|h\nx:3|h\nx:100|ms');
    const b = flush();
    assert.equal(b.length, 2);
    const h = b.find((m) => m.help?.includes('histogram')) as SummaryMetric;
    assert.equal(h.summary.median, 2);
    assert.equal(h.summary.samples, 2);
  });

  it('emits a timer only when updated and starts each interval empty', () => {
    const { feed, flush } = setup();
    feed('t:1|ms');
    flush();
    assert.deepEqual(flush(), []);
    feed('t:7|ms');
    const s = summary(flush(), 't').summary;
    assert.equal(s.samples, 1);
    assert.equal(s.sum, 7);
  });

  it('keeps many values', () => {
    const { feed, flush } = setup();
    const lines: string[] = [];
    for (let i = 1000; i >= 1; i--) lines.push(`t:${i}|ms`);
    feed(lines.join('\n'));
    const s = summary(flush(), 't').summary;
    assert.equal(s.samples, 1000);
    assert.equal(s.min, 1);
    assert.equal(s.max, 1000);
    assert.equal(s.median, 500.5);
    assert.deepEqual(
      s.quantiles.map((q) => q.value),
      [500, 900, 950, 990],
    );
  });
});

describe('summarize: percentile semantics', () => {
  const q = (values: number[], percentiles: number[]): number[] =>
    summarize(
      Float64Array.from(values),
      values.length,
      percentiles.map((p) => p / 100),
    ).quantiles.map((x) => x.value);
  it('takes the value at nearest rank round(p/100 * n)', () => {
    const ten = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
    assert.deepEqual(
      q(ten, [0, 5, 10, 14, 15, 50, 90, 94, 95, 99, 100]),
      [1, 1, 1, 1, 2, 5, 9, 9, 10, 10, 10],
    );
  });
  it('gives the only value for one sample', () => {
    assert.deepEqual(q([42], [1, 50, 99]), [42, 42, 42]);
  });
  it('takes the median as Etsy does', () => {
    assert.equal(summarize(Float64Array.from([3, 1, 2]), 3, []).median, 2);
    assert.equal(summarize(Float64Array.from([4, 1, 3, 2]), 4, []).median, 2.5);
    assert.equal(summarize(Float64Array.from([5]), 1, []).median, 5);
  });
});

describe('StatsdAggregator: sets', () => {
  it('counts distinct members per interval', () => {
    const { feed, flush } = setup();
    feed('u:alice|s\nu:bob|s\nu:alice|s', 'u:carol|s|@0.5');
    assert.equal(gauge(flush(), 'u').value, 3);
    assert.deepEqual(flush(), []);
    feed('u:alice|s');
    const m = gauge(flush(), 'u');
    assert.equal(m.value, 1);
    assert.match(m.help ?? '', /StatsD set/);
  });

  it('tells members apart by their bytes', () => {
    const { agg, flush } = setup();
    const parser = new StatsdParser();
    const sink = { point: agg.add.bind(agg), reject: () => assert.fail() };
    parser.parse(Buffer.from([0x75, 0x3a, 0xff, 0x7c, 0x73, 0x0a, 0x75, 0x3a, 0xfe, 0x7c, 0x73]), sink);
    assert.equal(gauge(flush(), 'u').value, 2);
  });
});

describe('StatsdAggregator: series identity', () => {
  it('canonicalises tags: order, separator and repeated keys do not matter', () => {
    const { feed, flush, agg } = setup();
    feed('r:1|c|#b:2,a:1', 'r:1|c|#a=1,b:2', 'r:1|c|#a:1,b:2', 'r:1|c|#b:9,a:1,b:2', 'r:1|c|#a:1,b:2,');
    const b = flush();
    assert.equal(b.length, 1);
    const m = counter(b, 'r');
    assert.equal(m.value, 5);
    assert.deepEqual(m.tags, [
      ['a', '1'],
      ['b', '2'],
    ]);
    assert.equal(agg.size, 1);
  });

  it('keeps different tags, names and types apart', () => {
    const { feed, flush } = setup();
    feed('x:1|c', 'x:2|c|#a:1', 'x:3|c|#a:2', 'x:4|g', 'x:5|ms', 'x:6|h', 'x:7|s', 'y:8|c');
    const b = flush();
    assert.equal(b.length, 8);
    assert.equal(counter(b, 'y').value, 8);
    const kinds = b.filter((m) => m.name === 'x').map((m: Metric) => m.kind);
    assert.deepEqual(kinds.sort(), ['counter', 'counter', 'counter', 'gauge', 'gauge', 'summary', 'summary']);
  });

  it('finds every series again once the key table has grown', () => {
    const { feed, flush, agg } = setup();
    const datagram = (round: number): string => {
      const lines: string[] = [];
      for (let i = 0; i < 5000; i++) lines.push(`s${i % 100}.m${i}:${round}|c${i % 2 ? `|#k:${i}` : ''}`);
      return lines.join('\n');
    };
    feed(datagram(1), datagram(2));
    assert.equal(agg.size, 5000);
    const b = flush();
    assert.equal(b.length, 5000);
    assert.ok(b.every((m) => (m as CounterMetric).value === 3));
  });

  it('stays correct past the alias limit', () => {
    const { feed, flush, agg } = setup();
    const keys = ['a', 'b', 'c', 'd'];
    let n = 0;
    // Every order of four tags: 24 spellings of one series.
    const perm = (rest: string[], done: string[]): void => {
      if (rest.length === 0) {
        feed(`p:1|c|#${done.map((k) => `${k}:1`).join(',')}`);
        n++;
        return;
      }
      for (const k of rest)
        perm(
          rest.filter((x) => x !== k),
          [...done, k],
        );
    };
    perm(keys, []);
    perm(keys, []);
    assert.equal(agg.size, 1);
    assert.equal(counter(flush(), 'p').value, n);
  });

  it('forgets aliases of evicted series', () => {
    const { feed, flush, agg } = setup({ expiryMs: INTERVAL });
    feed('c:1|c|#b:1,a:1');
    assert.equal(counter(flush(), 'c').value, 1);
    assert.deepEqual(flush(), []);
    assert.equal(agg.size, 0);
    feed('c:2|c|#b:1,a:1');
    assert.equal(counter(flush(), 'c').value, 2);
  });

  it('hands out fresh metrics that later updates do not change', () => {
    const { feed, flush } = setup();
    feed('g:1|g\nc:1|c\nt:1|ms');
    const first = flush();
    const copy = structuredClone(first);
    feed('g:2|g\nc:5|c\nt:9|ms');
    flush();
    assert.deepEqual(first, copy);
  });
});
