import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HistogramAccumulator } from '../../aggregation/histogram.js';
import type { DistributionMetric, HistogramMetric, Metric, SummaryMetric } from '../../core/metric.js';
import { DDSketch } from '../../aggregation/sketch.js';
import { makeTags } from '../../core/tags.js';
import { formatJson, formatText } from './format.js';

const TS = Date.UTC(2026, 10, 21, 12, 0, 0);

const summary: SummaryMetric = {
  kind: 'summary',
  name: 'api.latency',
  tags: makeTags({ route: '/a' }),
  timestamp: TS,
  intervalMs: 10_000,
  summary: {
    count: 4,
    samples: 4,
    sum: 10,
    sumSquares: 30,
    weightedSum: 10,
    min: 1,
    max: 4,
    mean: 2.5,
    median: 2.5,
    stdev: 1.25,
    quantiles: [
      { quantile: 0.9, value: 4 },
      { quantile: 0.999, value: 4 },
    ],
  },
};

const acc = new HistogramAccumulator([1, 2.5, 1e6]);
for (const v of [0.5, 1, 2, 3, 3]) acc.add(v);
acc.add(5e6, 2);
const histogram: HistogramMetric = {
  kind: 'histogram',
  name: 'req.size',
  tags: makeTags({ host: 'a' }),
  timestamp: TS,
  intervalMs: 10_000,
  histogram: acc.snapshot(),
};

const sketch = new DDSketch();
for (const v of [1, 2, 3, 4, 100]) sketch.add(v);
const distribution: DistributionMetric = {
  kind: 'distribution',
  name: 'db.latency',
  tags: makeTags({}),
  timestamp: TS,
  intervalMs: 10_000,
  distribution: sketch.snapshot([90, 99.9]),
};

describe('formatText', () => {
  const cases: { name: string; metric: Metric; want: string }[] = [
    {
      name: 'delta counter with rate',
      metric: {
        kind: 'counter',
        temporality: 'delta',
        name: 'foobar',
        tags: makeTags({ host: 'web1', env: 'prod' }),
        value: 3,
        intervalMs: 10_000,
        timestamp: TS,
      },
      want: '2026-11-21T12:00:00.000Z counter foobar{env=prod,host=web1} value=3 rate=0.3',
    },
    {
      name: 'cumulative counter',
      metric: {
        kind: 'counter',
        temporality: 'cumulative',
        name: 'rx',
        tags: makeTags({}),
        value: 12,
        intervalMs: 0,
        timestamp: TS,
      },
      want: '2026-11-21T12:00:00.000Z counter rx value=12',
    },
    {
      name: 'gauge with tags that need quoting',
      metric: {
        kind: 'gauge',
        name: 'disk free',
        tags: makeTags({ path: 'C:\\x', empty: '', 'a=b': 'x,y', line: 'a\nb' }),
        value: NaN,
        timestamp: TS,
      },
      want: '2026-11-21T12:00:00.000Z gauge "disk free"{"a=b"="x,y",empty="",line="a\\nb",path="C:\\\\x"} value=NaN',
    },
    {
      name: 'summary',
      metric: summary,
      want: '2026-11-21T12:00:00.000Z summary api.latency{route=/a} count=4 sum=10 mean=2.5 min=1 max=4 stdev=1.25 median=2.5 p90=4 p99_9=4',
    },
    {
      name: 'summary with Etsy per-percentile statistics',
      metric: {
        ...summary,
        summary: { ...summary.summary, quantiles: [{ quantile: 0.9, value: 4, count: 3, sum: 6, mean: 2 }] },
      },
      want: '2026-11-21T12:00:00.000Z summary api.latency{route=/a} count=4 sum=10 mean=2.5 min=1 max=4 stdev=1.25 median=2.5 p90=4 p90_count=3 p90_sum=6 p90_mean=2',
    },
    {
      name: 'histogram with cumulative bins',
      metric: histogram,
      want: '2026-11-21T12:00:00.000Z histogram req.size{host=a} count=7 sum=10000009.5 min=0.5 max=5000000 mean=1428572.7857142857 le_1=2 le_2.5=3 le_1e+06=5 le_inf=7',
    },
    {
      name: 'distribution',
      metric: distribution,
      want: `2026-11-21T12:00:00.000Z distribution db.latency count=5 sum=110 min=1 max=100 mean=22 median=${sketch.quantile(0.5)} p90=${sketch.quantile(0.9)} p99_9=${sketch.quantile(0.999)}`,
    },
  ];
  for (const c of cases) it(c.name, () => assert.equal(formatText([c.metric]), c.want + '\n'));

  it('survives a timestamp no Date can hold', () => {
    const m: Metric = { kind: 'gauge', name: 'g', tags: makeTags({}), value: 1, timestamp: NaN };
    assert.equal(formatText([m]), 'NaN gauge g value=1\n');
  });

  it('writes exactly one line per metric, whatever the names hold', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string(), fc.string(), fc.string()), { maxLength: 5 }), (items) => {
        const batch: Metric[] = items.map(([name, k, v]) => ({
          kind: 'gauge',
          name,
          tags: makeTags([[k, v]]),
          value: 1,
          timestamp: TS,
        }));
        const out = formatText(batch);
        assert.equal(out.split('\n').length - 1, batch.length);
      }),
    );
  });
});

describe('formatJson', () => {
  it('writes each metric as the model holds it, tags as an object', () => {
    const counter: Metric = {
      kind: 'counter',
      temporality: 'delta',
      name: 'foobar',
      tags: makeTags({ env: 'prod' }),
      value: 3,
      intervalMs: 10_000,
      timestamp: TS,
    };
    const lines = formatJson([counter, summary]).split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[2], '');
    assert.equal(
      lines[0],
      `{"name":"foobar","kind":"counter","temporality":"delta","tags":{"env":"prod"},"timestamp":${TS},"value":3,"intervalMs":10000}`,
    );
    const parsed = JSON.parse(lines[1] as string) as Record<string, unknown>;
    assert.deepEqual(parsed, {
      name: 'api.latency',
      kind: 'summary',
      tags: { route: '/a' },
      timestamp: TS,
      intervalMs: 10_000,
      summary: summary.summary,
    });
  });

  it('writes histograms with their bins as the model holds them, +Inf as a string', () => {
    const parsed = JSON.parse(formatJson([histogram])) as Record<string, unknown>;
    assert.deepEqual(parsed, {
      name: 'req.size',
      kind: 'histogram',
      tags: { host: 'a' },
      timestamp: TS,
      intervalMs: 10_000,
      histogram: {
        count: 7,
        sum: 10000009.5,
        min: 0.5,
        max: 5e6,
        bins: [
          { le: 1, count: 2, sum: 1.5, min: 0.5, max: 1 },
          { le: 2.5, count: 1, sum: 2, min: 2, max: 2 },
          { le: 1e6, count: 2, sum: 6, min: 3, max: 3 },
          { le: '+Inf', count: 2, sum: 1e7, min: 5e6, max: 5e6 },
        ],
      },
    });
    const empty = JSON.parse(
      formatJson([{ ...histogram, histogram: new HistogramAccumulator([1]).snapshot() }]),
    );
    assert.deepEqual(empty.histogram.bins[0], { le: 1, count: 0, sum: 0, min: null, max: null });
  });

  it('writes distributions with their quantiles, not their bins', () => {
    const parsed = JSON.parse(formatJson([distribution])) as Record<string, unknown>;
    assert.deepEqual(parsed, {
      name: 'db.latency',
      kind: 'distribution',
      tags: {},
      timestamp: TS,
      intervalMs: 10_000,
      distribution: {
        count: 5,
        sum: 110,
        min: 1,
        max: 100,
        relativeAccuracy: 0.01,
        quantiles: [
          { quantile: 0.9, value: sketch.quantile(0.9) },
          { quantile: 0.999, value: sketch.quantile(0.999) },
        ],
      },
    });
  });

  it('keeps Etsy per-percentile statistics in summary quantiles', () => {
    const m: SummaryMetric = {
      ...summary,
      summary: { ...summary.summary, quantiles: [{ quantile: 0.9, value: 4, count: 3, sum: 6, mean: 2 }] },
    };
    const parsed = JSON.parse(formatJson([m])) as { summary: { quantiles: unknown } };
    assert.deepEqual(parsed.summary.quantiles, [{ quantile: 0.9, value: 4, count: 3, sum: 6, mean: 2 }]);
  });

  it('keeps a tag named __proto__ and writes NaN as null', () => {
    const m: Metric = {
      kind: 'gauge',
      name: 'g',
      tags: makeTags([['__proto__', 'x']]),
      value: NaN,
      timestamp: 0,
      help: 'h',
    };
    assert.equal(
      formatJson([m]),
      '{"name":"g","kind":"gauge","tags":{"__proto__":"x"},"timestamp":0,"value":null,"help":"h"}\n',
    );
  });
});
