import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ManualClock } from '../core/clock.js';
import type {
  Batch,
  CounterMetric,
  DistributionMetric,
  GaugeMetric,
  HistogramMetric,
  Metric,
  SummaryMetric,
} from '../core/metric.js';
import { makeTags } from '../core/tags.js';
import { findMetric } from '../testing/context.js';
import { StatsdParser, type RejectReason, type StatsdParserOptions } from '../protocols/statsd/parser.js';
import { StatsdAggregator, summarize, type AggregatorOptions } from './aggregator.js';

const INTERVAL = 10_000;

/** Start of the ManualClock, in ms since the epoch (2022-06-30T09:30:00Z). */
const T0 = 1656581400_000;

function setup(options: Partial<AggregatorOptions> = {}, parserOptions: StatsdParserOptions = {}) {
  const clock = new ManualClock(T0);
  const agg = new StatsdAggregator(
    { flushIntervalMs: INTERVAL, percentiles: [50, 90, 95, 99], expiryMs: 300_000, ...options },
    () => clock.now(),
  );
  const parser = new StatsdParser({ now: () => clock.now(), ...parserOptions });
  const rejected: RejectReason[] = [];
  const sink = {
    point: (l: Parameters<StatsdAggregator['add']>[0]) => {
      const r = agg.add(l);
      if (r !== undefined) rejected.push(r);
    },
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
  return { clock, agg, feed, flush, rejected };
}

const counter = (b: Batch, name: string, tags: Record<string, string> = {}): CounterMetric =>
  findMetric(b, name, tags) as CounterMetric;
const gauge = (b: Batch, name: string, tags: Record<string, string> = {}): GaugeMetric =>
  findMetric(b, name, tags) as GaugeMetric;
const summary = (b: Batch, name: string, tags: Record<string, string> = {}): SummaryMetric =>
  findMetric(b, name, tags) as SummaryMetric;
const histogram = (b: Batch, name: string, tags: Record<string, string> = {}): HistogramMetric =>
  findMetric(b, name, tags) as HistogramMetric;
const distribution = (b: Batch, name: string, tags: Record<string, string> = {}): DistributionMetric =>
  findMetric(b, name, tags) as DistributionMetric;

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

  for (const dialect of ['etsy', 'bucky'] as const) {
    it(`applies signed values as deltas to the held value, across flushes (${dialect})`, () => {
      const { feed, flush } = setup({}, { dialect });
      feed('g:+5|g');
      assert.equal(gauge(flush(), 'g').value, 5, 'a delta with nothing held starts from 0');
      feed('g:-2|g\ng:+0.5|g');
      assert.equal(gauge(flush(), 'g').value, 3.5);
      feed('g:10|g\ng:-1|g');
      assert.equal(gauge(flush(), 'g').value, 9);
      assert.equal(gauge(flush(), 'g').value, 9);
    });
  }

  it('takes signed values as values in the dogstatsd dialect', () => {
    const { feed, flush } = setup();
    feed('g:10|g\ng:-1|g\ng:+4|g');
    assert.equal(gauge(flush(), 'g').value, 4);
  });

  it('ignores the sample rate of gauges and sets', () => {
    const { feed, flush } = setup();
    feed('g:10|g|@0.1\nu:a|s|@0.1');
    const b = flush();
    assert.equal(gauge(b, 'g').value, 10);
    assert.equal(gauge(b, 'u').value, 1);
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
        // 10 + 2 + 4 + 4 × 2 + 5: each value weighted as `count` counts it, so that
        // weightedSum / count is the mean Prometheus' _sum / _count gives.
        weightedSum: 29,
        min: 2,
        max: 10,
        mean: 5,
        median: 4,
        stdev: Math.sqrt(36 / 5),
        // Etsy's upper_p, count_p, sum_p and mean_p over the round(p/100 × n) lowest values.
        quantiles: [
          { quantile: 0.5, value: 4, count: 3, sum: 10, mean: 10 / 3 }, // round(2.5) = 3
          { quantile: 0.9, value: 10, count: 5, sum: 25, mean: 5 }, // round(4.5) = 5
          { quantile: 0.95, value: 10, count: 5, sum: 25, mean: 5 },
          { quantile: 0.99, value: 10, count: 5, sum: 25, mean: 5 },
        ],
      },
    });
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

  it('costs one value whatever the sample rate: the rate is a weight', () => {
    const { feed, flush } = setup();
    feed('t:3|ms|@0.000001', 'h:3|h|@0.000001', 'd:3|d|@0.000001');
    const b = flush();
    const s = summary(b, 't').summary;
    assert.equal(s.samples, 1);
    assert.equal(Math.round(s.count), 1_000_000);
    assert.equal(Math.round(histogram(b, 'h').histogram.count), 1_000_000);
    assert.equal(Math.round(distribution(b, 'd').distribution.count), 1_000_000);
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
    summarize(Float64Array.from(values), values.length, percentiles).quantiles.map((x) => x.value);
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
  it('leaves out count, sum and mean of a percentile that covers no value', () => {
    assert.deepEqual(summarize(Float64Array.from([1, 2, 3]), 3, [10]).quantiles, [
      { quantile: 0.1, value: 1 },
    ]);
  });
  it('labels 99.9 as 0.999, not 0.9990000000000001', () => {
    assert.equal(summarize(Float64Array.from([1, 2]), 2, [99.9]).quantiles[0]?.quantile, 0.999);
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

  it('keeps different tags and names apart', () => {
    const { feed, flush } = setup();
    feed('x:1|c', 'x:2|c|#a:1', 'x:3|c|#a:2', 'y:8|c', 'c:1|c|#a:1|c:abc', 'c:1|c|#a:1|c:def');
    const b = flush();
    assert.equal(b.length, 6);
    assert.equal(counter(b, 'y').value, 8);
    const kinds = b.filter((m) => m.name === 'x').map((m: Metric) => m.kind);
    assert.deepEqual(kinds, ['counter', 'counter', 'counter']);
    assert.equal(counter(b, 'c', { container_id: 'def' }).value, 1);
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

describe('StatsdAggregator: histograms', () => {
  it('counts values into the bins the selector picks, weighted by 1/rate', () => {
    const { feed, flush } = setup({
      histogramBins: { default: [10, 100], rules: [{ name: 'fast.*', bins: [1, 2] }] },
    });
    feed('slow.x:5|h\nslow.x:10|h\nslow.x:50|h|@0.5\nslow.x:1000|h', 'fast.y:1.5|h');
    const b = flush();
    const slow = histogram(b, 'slow.x').histogram;
    assert.deepEqual(
      slow.bins.map((x) => [x.le, x.count, x.sum, x.min, x.max]),
      [
        [10, 2, 15, 5, 10],
        [100, 2, 100, 50, 50],
        [Infinity, 1, 1000, 1000, 1000],
      ],
    );
    assert.equal(slow.count, 5);
    assert.equal(slow.sum, 1115);
    assert.deepEqual(
      histogram(b, 'fast.y').histogram.bins.map((x) => x.le),
      [1, 2, Infinity],
    );
  });

  it('emits only updated histograms, each interval from empty bins', () => {
    const { feed, flush } = setup({ histogramBins: { default: [1] } });
    feed('h:0.5|h');
    assert.equal(histogram(flush(), 'h').histogram.count, 1);
    assert.deepEqual(flush(), []);
    feed('h:2|h');
    assert.deepEqual(
      histogram(flush(), 'h').histogram.bins.map((x) => x.count),
      [0, 1],
    );
  });
});

describe('StatsdAggregator: distributions', () => {
  it('sketches values, weighted by 1/rate, with the configured percentiles', () => {
    const { feed, flush } = setup({ percentiles: [50, 99] });
    const lines: string[] = [];
    for (let i = 1; i <= 1000; i++) lines.push(`d:${i}|d`);
    feed(lines.join('\n'), 'd:5000:6000|d|@0.5');
    const d = distribution(flush(), 'd').distribution;
    assert.equal(d.count, 1004);
    assert.equal(d.sum, 500500 + 2 * 11000);
    assert.equal(d.min, 1);
    assert.equal(d.max, 6000);
    assert.deepEqual(
      d.quantiles.map((q) => q.quantile),
      [0.5, 0.99],
    );
    const median = d.quantiles[0]?.value as number;
    assert.ok(Math.abs(median - 502) <= 0.01 * 502, `median ${median}`);
    assert.equal(d.relativeAccuracy, 0.01);
  });
});

describe('StatsdAggregator: type conflicts', () => {
  it('rejects a name arriving as another type, with any tags, and keeps the held series', () => {
    const { feed, flush, rejected } = setup();
    feed('x:1|c|#a:1', 'x:5|g', 'x:5|g|#a:1', 'x:2|ms', 'x:1|c|#a:2', 'x:5|g');
    assert.deepEqual(rejected, ['type_conflict', 'type_conflict', 'type_conflict', 'type_conflict']);
    const b = flush();
    assert.deepEqual(
      b.map((m) => [m.kind, m.tags]),
      [
        ['counter', [['a', '1']]],
        ['counter', [['a', '2']]],
      ],
    );
  });

  it('frees the name when its series expire', () => {
    const { feed, flush, rejected } = setup({ expiryMs: INTERVAL });
    feed('x:1|c');
    flush();
    flush();
    feed('x:5|g');
    assert.deepEqual(rejected, []);
    assert.equal(gauge(flush(), 'x').value, 5);
  });

  it('rejects every value of a packed line of the wrong type', () => {
    const { feed, rejected } = setup();
    feed('x:1|c', 'x:1:2:3|d');
    assert.deepEqual(rejected, ['type_conflict', 'type_conflict', 'type_conflict']);
  });
});

describe('StatsdAggregator: buckets', () => {
  it('names metrics after the bucket of their type, the StatsD name becoming the tag name', () => {
    const { feed, flush } = setup({ buckets: { counters: 'stats_counters', timers: 'stats_timers' } });
    feed('req:1|c|#route:/a', 'req:2|c|#route:/a', 'lat:5|ms', 'temp:3|g');
    const b = flush();
    assert.equal(counter(b, 'stats_counters', { name: 'req', route: '/a' }).value, 3);
    assert.equal(summary(b, 'stats_timers', { name: 'lat' }).summary.count, 1);
    assert.equal(gauge(b, 'temp').value, 3);
  });

  it('lets bucket= override the destination per line (bucky dialect), and the StatsD name beat a name tag', () => {
    const { feed, flush } = setup({ buckets: { counters: 'stats_counters' } }, { dialect: 'bucky' });
    feed('req:1|c|#bucket=api,name=other', 'req:1|c', 'g:1|g|#bucket=api_gauges');
    const b = flush();
    assert.deepEqual(findMetric(b, 'api').tags, [['name', 'req']]);
    assert.equal(counter(b, 'stats_counters', { name: 'req' }).value, 1);
    assert.equal(gauge(b, 'api_gauges', { name: 'g' }).value, 1);
  });
});

describe('StatsdAggregator: timestamps', () => {
  it('forwards timestamped counters and gauges without aggregation (dogstatsd)', () => {
    const { feed, flush, clock } = setup({ timestamps: 'forward' });
    feed('c:1|c', 'c:2|c|T1656581300', 'c:3|c|@0.5|T1656581350', 'g:7|g|T1656581300', 'g:1|g');
    const b = flush();
    assert.deepEqual(
      b.map((m) => [m.name, m.kind, (m as CounterMetric).value, m.timestamp]),
      [
        ['c', 'counter', 2, T0 - 100_000],
        ['c', 'counter', 6, T0 - 50_000],
        ['g', 'gauge', 7, T0 - 100_000],
        ['c', 'counter', 1, clock.now()],
        ['g', 'gauge', 1, clock.now()],
      ],
    );
    // A gauge that only had forwarded points holds no value.
    const { feed: feed2, flush: flush2 } = setup({ timestamps: 'forward' });
    feed2('g:7|g|T1656581300');
    assert.equal(flush2().length, 1);
    assert.deepEqual(flush2(), []);
  });

  it('aggregates timestamped points and stamps the metric with the last one (bucky)', () => {
    const { feed, flush, clock } = setup({ timestamps: 'aggregate' }, { dialect: 'bucky' });
    feed('c:1|c|#timestamp=1656581300', 'c:2|c|#timestamp=1656581350');
    const m = counter(flush(), 'c');
    assert.equal(m.value, 3);
    assert.equal(m.timestamp, T0 - 50_000);
    feed('c:1|c|#timestamp=1656581350', 'c:1|c');
    assert.equal(counter(flush(), 'c').timestamp, clock.now(), 'the last point had no timestamp');
  });
});

describe('StatsdAggregator: addValue', () => {
  it('aggregates already parsed values as the line path does', () => {
    const { agg, feed, flush } = setup({ expiryMs: 0 });
    const tags = makeTags([['env', 'dev']]);
    assert.equal(agg.addValue('req', tags, 'c', 2, 0.5), undefined);
    feed('req:1|c|#env:dev');
    assert.equal(agg.addValue('temp', tags, 'g', 4.4), undefined);
    assert.equal(agg.addValue('temp', tags, 'g', -1, 1, { gaugeDelta: true }), undefined);
    assert.equal(agg.addValue('lat', tags, 'ms', '12.5'), undefined);
    assert.equal(agg.addValue('users', tags, 's', 'é'), undefined);
    feed('users:é|s|#env:dev');
    assert.equal(agg.addValue('users', tags, 's', 7), undefined);
    assert.equal(agg.addValue('h', tags, 'h', 3), undefined);
    assert.equal(agg.addValue('d', tags, 'd', 3), undefined);
    const b = flush();
    assert.equal(counter(b, 'req').value, 5);
    assert.equal(gauge(b, 'temp').value, 4.4 - 1);
    assert.equal(summary(b, 'lat').summary.sum, 12.5);
    assert.equal(gauge(b, 'users').value, 2);
    assert.equal(histogram(b, 'h').histogram.count, 1);
    assert.equal(distribution(b, 'd').distribution.count, 1);
  });

  it('rejects what the line path rejects', () => {
    const { agg } = setup();
    assert.equal(agg.addValue('', [], 'c', 1), 'empty_name');
    assert.equal(agg.addValue('a', [], 'c', 'x'), 'bad_value');
    assert.equal(agg.addValue('a', [], 'c', ''), 'bad_value');
    assert.equal(agg.addValue('a', [], 'c', Infinity), 'bad_value');
    assert.equal(agg.addValue('a', [], 's', ''), 'missing_value');
    assert.equal(agg.addValue('a', [], 'c', 1, 0), 'bad_sample_rate');
    assert.equal(agg.addValue('a', [], 'c', 1), undefined);
    assert.equal(agg.addValue('a', [], 'g', 1), 'type_conflict');
  });

  it('forwards or stamps timestamped values as configured', () => {
    const { agg, flush } = setup({ timestamps: 'aggregate' });
    agg.addValue('c', [], 'c', 1, 1, { timestamp: T0 - 5000 });
    assert.equal(counter(flush(), 'c').timestamp, T0 - 5000);
  });
});

describe('StatsdAggregator: mapping hook', () => {
  it('renames new series, merges tags and drops what the mapper drops', () => {
    const { feed, flush, agg } = setup({
      mapper: {
        map: (name) =>
          name.startsWith('debug.')
            ? 'drop'
            : name.startsWith('prod.')
              ? { name: 'api_requests', tags: makeTags([['env', 'prod']]), honorTags: false }
              : undefined,
      },
    });
    feed('prod.a:1|c|#env:x', 'prod.a:1|c|#env:x', 'debug.x:1|c', 'debug.x:1|c', 'other:1|c');
    const b = flush();
    assert.equal(counter(b, 'api_requests', { env: 'prod' }).value, 2);
    assert.equal(counter(b, 'other').value, 1);
    assert.equal(b.length, 2);
    assert.equal(agg.mappedDrops, 2);
  });
});

describe('StatsdAggregator: series budget', () => {
  it('refuses exactly the lines that would create a series past max_series', () => {
    const { feed, flush, agg, rejected } = setup({ maxSeries: 3 });
    feed('a:1|c\nb:1|c\nc:1|c\nd:1|c\ne:1|c|#x:1');
    assert.deepEqual(rejected, ['series_limit', 'series_limit']);
    assert.equal(agg.size, 3);
    // Again, now that their raw keys are known as refused: still refused, still counted.
    feed('d:1|c\na:1|c');
    assert.deepEqual(rejected, ['series_limit', 'series_limit', 'series_limit']);
    const b = flush();
    assert.deepEqual(
      b.map((m) => [m.name, (m as CounterMetric).value]),
      [
        ['a', 2],
        ['b', 1],
        ['c', 1],
      ],
    );
  });

  it('keeps aggregating held series exactly, whatever their spelling, while it refuses new ones', () => {
    const { feed, flush, rejected } = setup({ maxSeries: 2 });
    feed('a:1|c|#x:1,y:2', 'b:5|g');
    for (let i = 0; i < 100; i++) feed(`new.${i}:1|c`, `a:2|c|#y:2,x:1`, `b:${i}|g`, `a:1|c|@0.5|#x=1,y=2`);
    assert.equal(rejected.length, 100);
    assert.ok(rejected.every((r) => r === 'series_limit'));
    const b = flush();
    assert.equal(counter(b, 'a', { x: '1', y: '2' }).value, 1 + 100 * (2 + 2));
    assert.equal(gauge(b, 'b').value, 99);
    assert.equal(b.length, 2);
  });

  it('accepts new series again once expiry frees room, remembered refusals included', () => {
    const { feed, flush, agg, rejected } = setup({ maxSeries: 1, expiryMs: 2 * INTERVAL });
    feed('a:1|c', 'b:1|c|#t:1', 'b:1|c|#t:1');
    assert.deepEqual(rejected, ['series_limit', 'series_limit']);
    flush();
    flush();
    flush(); // a expires
    assert.equal(agg.size, 0);
    feed('b:1|c|#t:1');
    assert.deepEqual(rejected, ['series_limit', 'series_limit']);
    feed('a:1|c');
    assert.deepEqual(rejected, ['series_limit', 'series_limit', 'series_limit']);
    assert.equal(counter(flush(), 'b', { t: '1' }).value, 1);
  });

  it('remembers a bounded number of refused raw keys, so a flood of new names does not grow it', () => {
    const { feed, agg, rejected } = setup({ maxSeries: 10 });
    for (let i = 0; i < 20_000; i += 100) {
      const lines: string[] = [];
      for (let j = i; j < i + 100; j++) lines.push(`flood.${j}:1|c|#id:${j}`);
      feed(lines.join('\n'));
    }
    assert.equal(rejected.length, 20_000 - 10);
    assert.equal(agg.size, 10);
    const rawKeys = (agg as unknown as { raw: { size: number } }).raw.size;
    assert.ok(rawKeys <= 10 + 4096, `${rawKeys} raw keys`);
  });

  it('counts the names creating series, as received, before mapping', () => {
    const { feed, agg } = setup({
      maxSeries: 5,
      mapper: { map: (name) => ({ name: 'mapped', tags: makeTags([['from', name]]), honorTags: true }) },
    });
    for (let i = 0; i < 30; i++) feed(`leak:1|c|#req:${i}`);
    for (let i = 0; i < 3; i++) feed(`ok.${i}:1|c`);
    feed('leak:1|c|#req:0');
    assert.deepEqual(agg.newSeriesNames.top(3), [
      ['leak', 30],
      ['ok.0', 1],
      ['ok.1', 1],
    ]);
  });

  it('applies the same budget to addValue', () => {
    const { agg, flush } = setup({ maxSeries: 2 });
    assert.equal(agg.addValue('a', [], 'c', 1), undefined);
    assert.equal(agg.addValue('a', makeTags([['x', '1']]), 'c', 1), undefined);
    assert.equal(agg.addValue('a', makeTags([['x', '2']]), 'c', 1), 'series_limit');
    assert.equal(agg.addValue('b', [], 'g', 1), 'series_limit');
    assert.equal(agg.addValue('a', [], 'c', 2), undefined);
    assert.equal(agg.size, 2);
    assert.deepEqual(
      flush().map((m) => [m.name, m.tags, (m as CounterMetric).value]),
      [
        ['a', [], 3],
        ['a', [['x', '1']], 1],
      ],
    );
  });

  it('holds at most max_series, conserves the counts it accepts and refuses the rest', () => {
    const names = ['a', 'b', 'c', 'd'];
    const tagSets = ['', '|#x:1', '|#x:1,y:2', '|#y:2,x:1', '|#x:2'];
    const canonicalTags = (t: string): string => (t === '|#y:2,x:1' ? '|#x:1,y:2' : t);
    const op = fc.oneof(
      {
        weight: 8,
        arbitrary: fc.tuple(fc.constantFrom(...names), fc.constantFrom(...tagSets), fc.integer()),
      },
      { weight: 1, arbitrary: fc.constant('flush' as const) },
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 150 }),
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 0, max: 3 }),
        (ops, budget, expiryIntervals) => {
          const { feed, flush, agg, rejected } = setup({
            maxSeries: budget,
            expiryMs: expiryIntervals * INTERVAL,
          });
          const accepted = new Map<string, number>();
          const got = new Map<string, number>();
          let sent = 0;
          let acceptedLines = 0;
          const collect = (b: Batch): void => {
            for (const m of b) {
              const key = m.name + '|' + m.tags.map(([k, v]) => `${k}:${v}`).join(',');
              got.set(key, (got.get(key) ?? 0) + (m as CounterMetric).value);
            }
          };
          for (const o of ops) {
            if (o === 'flush') {
              collect(flush());
            } else {
              const [name, tags, value] = o;
              const before = rejected.length;
              feed(`${name}:${value}|c${tags}`);
              sent++;
              if (rejected.length === before) {
                acceptedLines++;
                const t = canonicalTags(tags);
                const key = name + '|' + (t === '' ? '' : t.slice(2));
                accepted.set(key, (accepted.get(key) ?? 0) + value);
              } else {
                assert.deepEqual(rejected.slice(before), ['series_limit']);
              }
            }
            if (budget > 0) assert.ok(agg.size <= budget, `${agg.size} series held, budget ${budget}`);
          }
          collect(flush());
          assert.equal(acceptedLines + rejected.length, sent);
          assert.deepEqual(got, accepted);
        },
      ),
      { numRuns: 300 },
    );
  });
});
