import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HistogramAccumulator } from '../../core/histogram.js';
import type {
  CounterMetric,
  DistributionMetric,
  GaugeMetric,
  HistogramMetric,
  Metric,
  SummaryMetric,
} from '../../core/metric.js';
import { DDSketch } from '../../core/sketch.js';
import { makeTags, type Tags } from '../../core/tags.js';
import {
  binField,
  encodeBatch,
  encodeLine,
  escapeKey,
  escapeMeasurement,
  quantileField,
  quoteStringField,
  timestampNs,
} from './line.js';

const TS = 1_700_000_000_000;

function counter(name: string, tags: Tags, value: number, extra: Partial<CounterMetric> = {}): CounterMetric {
  return {
    kind: 'counter',
    temporality: 'delta',
    name,
    tags,
    value,
    intervalMs: 10_000,
    timestamp: TS,
    ...extra,
  };
}
function gauge(name: string, tags: Tags, value: number): GaugeMetric {
  return { kind: 'gauge', name, tags, value, timestamp: TS };
}
function summary(name: string, tags: Tags): SummaryMetric {
  return {
    kind: 'summary',
    name,
    tags,
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
      stdev: 1.118033988749895,
      quantiles: [
        { quantile: 0.9, value: 4 },
        { quantile: 0.999, value: 4 },
      ],
    },
  };
}

function histogram(name: string, tags: Tags, bounds: number[], values: number[]): HistogramMetric {
  const acc = new HistogramAccumulator(bounds);
  for (const v of values) acc.add(v);
  return { kind: 'histogram', name, tags, timestamp: TS, intervalMs: 10_000, histogram: acc.snapshot() };
}
function distribution(name: string, tags: Tags, values: number[], percentiles: number[]): DistributionMetric {
  const sketch = new DDSketch();
  for (const v of values) sketch.add(v);
  return {
    kind: 'distribution',
    name,
    tags,
    timestamp: TS,
    intervalMs: 10_000,
    distribution: sketch.snapshot(percentiles),
  };
}

/**
 * A reference splitter written from the line protocol reference and the v2 parser
 * (github.com/influxdata/line-protocol/v2): it throws where that parser reports a syntax error.
 */
interface Parsed {
  measurement: string;
  tags: [string, string][];
  fields: [string, string][];
  timestamp: string | undefined;
}

function isControl(c: string): boolean {
  const code = c.charCodeAt(0);
  return code < 0x20 || code === 0x7f;
}

function parseLine(line: string): Parsed {
  let i = 0;
  // Reads a token up to the first unescaped stop character; `\x` unescapes only for x in `escapes`.
  const token = (stops: string, escapes: string, what: string): string => {
    let out = '';
    while (i < line.length) {
      const c = line[i] as string;
      if (c === '\\' && i + 1 < line.length && escapes.includes(line[i + 1] as string)) {
        out += line[i + 1];
        i += 2;
        continue;
      }
      if (stops.includes(c) || isControl(c)) break;
      out += c;
      i++;
    }
    if (out === '') throw new Error(`empty ${what} at ${i} in ${JSON.stringify(line)}`);
    return out;
  };
  if (line.startsWith('#')) throw new Error('comment line');
  const measurement = token(', ', ', ', 'measurement');
  const tags: [string, string][] = [];
  while (line[i] === ',') {
    i++;
    const k = token(',= ', ',= ', 'tag key');
    if (line[i] !== '=') throw new Error(`expected = after tag key in ${JSON.stringify(line)}`);
    i++;
    tags.push([k, token(',= ', ',= ', 'tag value')]);
  }
  if (line[i] !== ' ') throw new Error(`expected space before fields at ${i} in ${JSON.stringify(line)}`);
  i++;
  const fields: [string, string][] = [];
  for (;;) {
    const k = token(',= ', ',= ', 'field key');
    if (line[i] !== '=') throw new Error(`expected = after field key in ${JSON.stringify(line)}`);
    i++;
    let v = '';
    while (i < line.length && line[i] !== ',' && line[i] !== ' ') v += line[i++];
    if (!/^-?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i.test(v)) throw new Error(`bad float ${v}`);
    fields.push([k, v]);
    if (line[i] !== ',') break;
    i++;
  }
  let timestamp: string | undefined;
  if (line[i] === ' ') {
    i++;
    timestamp = line.slice(i);
    if (!/^-?\d+$/.test(timestamp)) throw new Error(`bad timestamp ${timestamp}`);
    i = line.length;
  }
  if (i !== line.length) throw new Error(`trailing text in ${JSON.stringify(line)}`);
  return { measurement, tags, fields, timestamp };
}

/** What a string is expected to become: control characters → space, trailing backslashes dropped. */
function adjusted(s: string): string {
  let out = '';
  for (const c of s) out += isControl(c) ? ' ' : c;
  return out.replace(/\\+$/, '');
}

describe('escaping', () => {
  const measurements: [string, string][] = [
    ['cpu', 'cpu'],
    ['cpu load', 'cpu\\ load'],
    ['a,b', 'a\\,b'],
    ['a=b', 'a=b'],
    ['#hash', '_hash'],
    ['ends\\', 'ends'],
    ['mid\\dle', 'mid\\dle'],
    ['tab\there', 'tab\\ here'],
    ['', ''],
  ];
  for (const [input, want] of measurements) {
    it(`measurement ${JSON.stringify(input)}`, () => assert.equal(escapeMeasurement(input), want));
  }
  const keys: [string, string][] = [
    ['host', 'host'],
    ['a b', 'a\\ b'],
    ['a,b', 'a\\,b'],
    ['a=b', 'a\\=b'],
    ['new\nline', 'new\\ line'],
    ['C:\\', 'C:'],
    ['\\\\', ''],
    ['a\\,', 'a\\\\,'],
  ];
  for (const [input, want] of keys) {
    it(`key/value ${JSON.stringify(input)}`, () => assert.equal(escapeKey(input), want));
  }
  const strings: [string, string][] = [
    ['plain', '"plain"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['back\\slash', '"back\\\\slash"'],
  ];
  for (const [input, want] of strings) {
    it(`string field ${JSON.stringify(input)}`, () => assert.equal(quoteStringField(input), want));
  }
});

describe('timestampNs', () => {
  const cases: [number, string][] = [
    [TS, '1700000000000000000'],
    [1_700_000_000_123, '1700000000123000000'],
    [0, '0'],
    [1.5, '1500000'],
    [-1.5, '-1500000'],
  ];
  for (const [ms, want] of cases) it(`${ms} ms`, () => assert.equal(timestampNs(ms), want));
});

describe('quantileField', () => {
  const cases: [number, string][] = [
    [0.5, 'p50'],
    [0.9, 'p90'],
    [0.99, 'p99'],
    [0.999, 'p99_9'],
    [0.9999, 'p99_99'],
    [0.25, 'p25'],
    [0, 'p0'],
    [1, 'p100'],
  ];
  for (const [q, want] of cases) it(`${q} → ${want}`, () => assert.equal(quantileField(q), want));
});

describe('binField', () => {
  const cases: [number, string][] = [
    [0.005, 'le_0.005'],
    [1, 'le_1'],
    [2.5, 'le_2.5'],
    [10000, 'le_10000'],
    [1e6, 'le_1e+06'],
    [-5, 'le_-5'],
    [Infinity, 'le_inf'],
  ];
  for (const [le, want] of cases) it(`${le} → ${want}`, () => assert.equal(binField(le), want));
});

describe('encodeLine', () => {
  const LAT = new DDSketch();
  for (const v of [1, 2, 3, 4, 100]) LAT.add(v);
  const cases: { name: string; metric: Metric; want: string | undefined }[] = [
    {
      name: 'delta counter with rate',
      metric: counter('foobar', makeTags({ env: 'prod', host: 'web1' }), 3),
      want: 'foobar,env=prod,host=web1 value=3,rate=0.3 1700000000000000000',
    },
    {
      name: 'cumulative counter has no rate',
      metric: counter('bytes', makeTags({}), 123456789012, { temporality: 'cumulative', intervalMs: 0 }),
      want: 'bytes value=123456789012 1700000000000000000',
    },
    {
      name: 'delta counter without interval has no rate',
      metric: counter('x', makeTags({}), 1, { intervalMs: 0 }),
      want: 'x value=1 1700000000000000000',
    },
    {
      name: 'gauge with escaped tags, empty tag value left out',
      metric: gauge('disk free', makeTags({ path: 'C:\\Program Files', empty: '', 'a=b': 'x,y' }), 0.5),
      want: 'disk\\ free,a\\=b=x\\,y,path=C:\\Program\\ Files value=0.5 1700000000000000000',
    },
    {
      name: 'summary fields',
      metric: summary('api.latency', makeTags({ route: '/a' })),
      want: 'api.latency,route=/a count=4,sum=10,mean=2.5,min=1,max=4,stdev=1.118033988749895,median=2.5,p90=4,p99_9=4 1700000000000000000',
    },
    {
      name: 'summary with Etsy per-percentile statistics',
      metric: {
        ...summary('t', makeTags({})),
        summary: {
          ...summary('t', makeTags({})).summary,
          quantiles: [
            { quantile: 0.9, value: 4, count: 3, sum: 6, mean: 2 },
            { quantile: 0.5, value: 2, count: 2 },
          ],
        },
      },
      want: 't count=4,sum=10,mean=2.5,min=1,max=4,stdev=1.118033988749895,median=2.5,p90=4,p90_count=3,p90_sum=6,p90_mean=2,p50=2,p50_count=2 1700000000000000000',
    },
    {
      name: 'histogram: totals and cumulative le_ fields, le_inf = count',
      metric: histogram('req.size', makeTags({ host: 'a' }), [1, 2.5, 1e6], [0.5, 1, 2, 3, 3, 5e6]),
      want: 'req.size,host=a count=6,sum=5000009.5,min=0.5,max=5000000,mean=833334.9166666666,le_1=2,le_2.5=3,le_1e+06=5,le_inf=6 1700000000000000000',
    },
    {
      name: 'empty histogram: no min, max or mean',
      metric: histogram('h', makeTags({}), [10], []),
      want: 'h count=0,sum=0,le_10=0,le_inf=0 1700000000000000000',
    },
    {
      name: 'distribution: totals, median and quantiles',
      metric: distribution('lat', makeTags({}), [1, 2, 3, 4, 100], [90, 99.9]),
      want: `lat count=5,sum=110,min=1,max=100,mean=22,median=${LAT.quantile(0.5)},p90=${LAT.quantile(0.9)},p99_9=${LAT.quantile(0.999)} 1700000000000000000`,
    },
    {
      name: 'non-finite fields are left out',
      metric: gauge('g', makeTags({}), NaN),
      want: undefined,
    },
    {
      name: 'empty measurement cannot be encoded',
      metric: gauge('', makeTags({}), 1),
      want: undefined,
    },
  ];
  for (const c of cases) it(c.name, () => assert.equal(encodeLine(c.metric), c.want));

  it('encodes a batch and counts what it skipped', () => {
    const out = encodeBatch([
      gauge('a', makeTags({}), 1),
      gauge('b', makeTags({}), Infinity),
      gauge('c', makeTags({}), 2),
    ]);
    assert.equal(out.text, `a value=1 ${TS}000000\nc value=2 ${TS}000000\n`);
    assert.equal(out.lines, 2);
    assert.equal(out.skipped, 1);
  });
});

describe('encodeLine properties', () => {
  const str = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.string({ unit: fc.constantFrom('a', ' ', ',', '=', '\\', '"', '#', '\n', '\t'), maxLength: 12 }),
  );
  it('never produces an unescaped separator: every part splits back as expected', () => {
    fc.assert(
      fc.property(str, fc.array(fc.tuple(str, str), { maxLength: 4 }), fc.double(), (name, pairs, value) => {
        const m = gauge(name, makeTags(pairs), value);
        const line = encodeLine(m);
        let wantName = adjusted(name);
        if (wantName.startsWith('#')) wantName = '_' + wantName.slice(1);
        if (wantName === '' || !Number.isFinite(value)) {
          assert.equal(line, undefined);
          return;
        }
        assert.ok(line !== undefined);
        assert.ok(!line.includes('\n'));
        const parsed = parseLine(line);
        assert.equal(parsed.measurement, wantName);
        const wantTags = m.tags
          .map(([k, v]) => [adjusted(k), adjusted(v)] as [string, string])
          .filter(([k, v]) => k !== '' && v !== '');
        assert.deepEqual(parsed.tags, wantTags);
        assert.equal(parsed.fields.length, 1);
        assert.equal(Number(parsed.fields[0]?.[1]), value === 0 ? 0 : value);
        assert.equal(parsed.timestamp, `${TS}000000`);
      }),
      { numRuns: 2000 },
    );
  });
  it('encodes any histogram as parseable fields, unique keys, cumulative bins ending at count', () => {
    const bounds = fc
      .uniqueArray(fc.double({ min: -1e9, max: 1e9, noNaN: true }), { minLength: 1, maxLength: 20 })
      .map((b) => [...new Set(b.map((x) => (x === 0 ? 0 : x)))].sort((x, y) => x - y));
    fc.assert(
      fc.property(bounds, fc.array(fc.double({ min: -2e9, max: 2e9, noNaN: true })), (les, values) => {
        const m = histogram('h', makeTags({ a: 'b' }), les, values);
        const parsed = parseLine(encodeLine(m) as string);
        const fields = new Map(parsed.fields.map(([k, v]) => [k, Number(v)]));
        assert.equal(fields.size, parsed.fields.length);
        assert.equal(fields.get('count'), values.length);
        assert.equal(fields.get('le_inf'), values.length);
        let previous = 0;
        for (const le of les) {
          const c = fields.get(binField(le)) as number;
          assert.equal(c, values.filter((v) => v <= le).length);
          assert.ok(c >= previous);
          previous = c;
        }
      }),
    );
  });
});

describe('fields of one point', () => {
  const field = (f: string, value: number, tags: Record<string, string> = { env: 'dev' }): Metric => ({
    kind: 'gauge',
    name: `json.${f}`,
    tags: makeTags(tags),
    value,
    timestamp: 1_700_000_000_000,
    point: { measurement: 'json', field: f },
  });

  it('writes the fields of one point (measurement, tags, time) on one line, under their own keys', () => {
    const out = encodeBatch([
      field('a', 1),
      field('b b', 2.5),
      field('a', 3, { env: 'prod' }),
      { kind: 'gauge', name: 'plain', tags: [], value: 4, timestamp: 1_700_000_000_000 },
    ]);
    assert.equal(
      out.text,
      'json,env=dev a=1,b\\ b=2.5 1700000000000000000\n' +
        'json,env=prod a=3 1700000000000000000\n' +
        'plain value=4 1700000000000000000\n',
    );
    assert.equal(out.lines, 3);
    assert.equal(encodeLine(field('a', 1)), 'json,env=dev a=1 1700000000000000000');
  });
});
