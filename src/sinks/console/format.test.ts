import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Metric, SummaryMetric } from '../../core/metric.js';
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
