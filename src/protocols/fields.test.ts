import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { counterRate, type Histogram, type Metric, type Quantile } from '../core/metric.js';
import { makeTags } from '../core/tags.js';
import { formatTextLine } from '../sinks/console/format.js';
import { jsonValue } from '../sinks/kafka/encoder.js';
import { binField, foldFields, quantileField } from './fields.js';
import { encodeFields, splitFieldSet } from './influx/line.js';

// The field builders as they were before foldFields replaced them, as references: line.ts
// encodeFields and the console's text fields as they stood (helpers inlined), the Kafka
// encoder's jsonFields, which walked the same fields as encodeFields, rebuilt from it.

function oldField(out: string, key: string, value: number): string {
  if (!Number.isFinite(value)) return out;
  return out + (out === '' ? '' : ',') + key + '=' + String(value);
}

function oldIntegerField(out: string, key: string, value: number): string {
  if (!Number.isFinite(value)) return out;
  const n = Math.round(value);
  if (n >= 2 ** 63 || n < -(2 ** 63)) return out;
  return (
    out +
    (out === '' ? '' : ',') +
    key +
    '=' +
    (Number.isSafeInteger(n) ? String(n === 0 ? 0 : n) : BigInt(n).toString()) +
    'i'
  );
}

function oldQuantileFields(out: string, quantiles: readonly Quantile[]): string {
  for (const q of quantiles) {
    out = oldField(out, quantileField(q.quantile), q.value);
    const p = quantileField(q.quantile);
    if (q.count !== undefined) out = oldField(out, p + '_count', q.count);
    if (q.sum !== undefined) out = oldField(out, p + '_sum', q.sum);
    if (q.mean !== undefined) out = oldField(out, p + '_mean', q.mean);
  }
  return out;
}

function oldHistogramFields(h: Histogram): string {
  let out = oldField('', 'count', h.count);
  out = oldField(out, 'sum', h.sum);
  out = oldField(out, 'min', h.min);
  out = oldField(out, 'max', h.max);
  out = oldField(out, 'mean', h.count > 0 ? h.sum / h.count : NaN);
  let cumulative = 0;
  for (const bin of h.bins) {
    cumulative += bin.count;
    out = oldField(out, binField(bin.le), cumulative);
  }
  return out;
}

function oldEncodeFields(m: Metric, integerCounters: boolean): string {
  switch (m.kind) {
    case 'counter': {
      let out = integerCounters ? oldIntegerField('', 'value', m.value) : oldField('', 'value', m.value);
      const rate = counterRate(m);
      if (rate !== undefined) out = oldField(out, 'rate', rate);
      return out;
    }
    case 'gauge':
      return oldField('', 'value', m.value);
    case 'summary': {
      const s = m.summary;
      let out = oldField('', 'count', s.count);
      out = oldField(out, 'sum', s.sum);
      out = oldField(out, 'mean', s.mean);
      out = oldField(out, 'min', s.min);
      out = oldField(out, 'max', s.max);
      out = oldField(out, 'stdev', s.stdev);
      out = oldField(out, 'median', s.median);
      return oldQuantileFields(out, s.quantiles);
    }
    case 'histogram':
      return oldHistogramFields(m.histogram);
    case 'distribution': {
      const d = m.distribution;
      let out = oldField('', 'count', d.count);
      out = oldField(out, 'sum', d.sum);
      out = oldField(out, 'min', d.min);
      out = oldField(out, 'max', d.max);
      out = oldField(out, 'mean', d.count > 0 ? d.sum / d.count : NaN);
      out = oldField(out, 'median', d.count > 0 ? d.quantile(0.5) : NaN);
      return oldQuantileFields(out, d.quantiles);
    }
  }
}

function oldJsonField(out: string, key: string, value: number): string {
  if (!Number.isFinite(value)) return out;
  return out + (out === '' ? '' : ',') + JSON.stringify(key) + ':' + String(value);
}

/** The Kafka encoder's jsonFields: the Influx field set as JSON members, a point under its own field. */
function oldJsonFields(m: Metric): string {
  if (m.kind === 'gauge') return oldJsonField('', m.point?.field ?? 'value', m.value);
  // Everything else was the same walk as oldEncodeFields with JSON members instead of k=v.
  let out = '';
  for (const f of splitFieldSet(oldEncodeFields(m, false))) {
    if (f === '') continue;
    const eq = f.lastIndexOf('=');
    out = oldJsonField(out, f.slice(0, eq), Number(f.slice(eq + 1)));
  }
  return out;
}

function oldTextQuantiles(quantiles: readonly Quantile[]): string {
  let out = '';
  for (const q of quantiles) {
    const p = quantileField(q.quantile);
    out += ' ' + p + '=' + q.value;
    if (q.count !== undefined) out += ' ' + p + '_count=' + q.count;
    if (q.sum !== undefined) out += ' ' + p + '_sum=' + q.sum;
    if (q.mean !== undefined) out += ' ' + p + '_mean=' + q.mean;
  }
  return out;
}

/** The console's fields, after its `time kind name{tags}` head. */
function oldTextFields(m: Metric): string {
  let out = '';
  switch (m.kind) {
    case 'counter': {
      out += ' value=' + m.value;
      const rate = counterRate(m);
      if (rate !== undefined) out += ' rate=' + rate;
      break;
    }
    case 'gauge':
      out += ' value=' + m.value;
      break;
    case 'summary': {
      const s = m.summary;
      out += ` count=${s.count} sum=${s.sum} mean=${s.mean} min=${s.min} max=${s.max} stdev=${s.stdev} median=${s.median}`;
      out += oldTextQuantiles(s.quantiles);
      break;
    }
    case 'histogram': {
      const h = m.histogram;
      const mean = h.count > 0 ? h.sum / h.count : NaN;
      out += ` count=${h.count} sum=${h.sum} min=${h.min} max=${h.max} mean=${mean}`;
      let cumulative = 0;
      for (const bin of h.bins) {
        cumulative += bin.count;
        out += ' ' + binField(bin.le) + '=' + cumulative;
      }
      break;
    }
    case 'distribution': {
      const d = m.distribution;
      const mean = d.count > 0 ? d.sum / d.count : NaN;
      const median = d.count > 0 ? d.quantile(0.5) : NaN;
      out += ` count=${d.count} sum=${d.sum} min=${d.min} max=${d.max} mean=${mean} median=${median}`;
      out += oldTextQuantiles(d.quantiles);
      break;
    }
  }
  return out;
}

// Arbitrary metrics of every kind, with the values that take the edge paths: NaN, infinities,
// -0, integers beyond 2^53 and int64, empty counts (mean and median NaN), missing Etsy stats.
const num = fc.oneof(
  fc.double(),
  fc.integer({ min: -1000, max: 1000 }),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 0, 2 ** 53 + 2, 2 ** 63, 1e21, 0.1),
);
const count = fc.oneof(num, fc.nat({ max: 100 }));
const text = fc.string({
  unit: fc.constantFrom('a', 'b', '.', ' ', ',', '=', '"', '\\', '{', '}', 'é'),
  maxLength: 8,
});
const tags = fc.array(fc.tuple(text, text), { maxLength: 3 }).map((pairs) => makeTags(pairs));
const base = fc.record({ name: text, tags, timestamp: fc.oneof(fc.integer({ min: 0, max: 2e12 }), num) });
const optional = fc.option(num, { nil: undefined });
const quantile = fc.record({
  quantile: fc.oneof(
    fc.constantFrom(0.5, 0.9, 0.99, 0.999, 0.9999, 0, 1),
    fc.double({ min: 0, max: 1, noNaN: true }),
  ),
  value: num,
  count: optional,
  sum: optional,
  mean: optional,
});
const quantiles = fc.array(quantile, { maxLength: 4 });
const interval = fc.oneof(fc.constantFrom(0, 10_000), fc.integer({ min: -5, max: 60_000 }), num);

const counterArb = fc
  .tuple(base, fc.constantFrom('delta' as const, 'cumulative' as const), num, interval)
  .map(([b, temporality, value, intervalMs]): Metric => ({
    ...b,
    kind: 'counter',
    temporality,
    value,
    intervalMs,
  }));

const gaugeArb = fc
  .tuple(base, num, fc.option(fc.record({ measurement: text, field: text }), { nil: undefined }))
  .map(([b, value, point]): Metric => ({ ...b, kind: 'gauge', value, point }));

const summaryArb = fc
  .tuple(base, interval, count, fc.tuple(num, num, num, num, num, num, num, num), quantiles)
  .map(([b, intervalMs, c, [samples, sum, sumSquares, min, max, mean, median, stdev], qs]): Metric => ({
    ...b,
    kind: 'summary',
    intervalMs,
    summary: {
      count: c,
      samples,
      sum,
      weightedSum: sum,
      sumSquares,
      min,
      max,
      mean,
      median,
      stdev,
      quantiles: qs,
    },
  }));

const binsArb = fc
  .tuple(
    fc.uniqueArray(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 6 }),
    fc.array(count, { minLength: 7, maxLength: 7 }),
  )
  .map(([bounds, counts]) =>
    [...bounds.sort((a, b) => a - b), Infinity].map((le, i) => ({
      le,
      count: counts[i] ?? 0,
      sum: 0,
      min: NaN,
      max: NaN,
    })),
  );

const histogramArb = fc
  .tuple(base, interval, count, num, num, num, binsArb)
  .map(([b, intervalMs, c, sum, min, max, bins]): Metric => ({
    ...b,
    kind: 'histogram',
    intervalMs,
    histogram: { count: c, sum, min, max, bins },
  }));

const distributionArb = fc
  .tuple(base, interval, count, num, num, num, num, quantiles)
  .map(([b, intervalMs, c, sum, min, max, median, qs]): Metric => ({
    ...b,
    kind: 'distribution',
    intervalMs,
    distribution: {
      count: c,
      sum,
      min,
      max,
      relativeAccuracy: 0.01,
      quantiles: qs,
      // Only the median is asked for; any other quantile would be a change in what is written.
      quantile: (q: number) => (q === 0.5 ? median : NaN),
    },
  }));

const metricArb = fc.oneof(counterArb, gaugeArb, summaryArb, histogramArb, distributionArb);

function pairs(m: Metric): [string, number][] {
  return foldFields(m, [] as [string, number][], (acc, name, value) => {
    acc.push([name, value]);
    return acc;
  });
}

describe('foldFields', () => {
  it('yields, finite or not, the pairs the old console text wrote', () => {
    fc.assert(
      fc.property(metricArb, (m) => {
        assert.equal(
          pairs(m)
            .map(([k, v]) => ' ' + k + '=' + v)
            .join(''),
          oldTextFields(m),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('yields, once non-finite values are left out, the pairs of the old Influx field set', () => {
    fc.assert(
      fc.property(metricArb, (m) => {
        const want = oldEncodeFields(m, false);
        const got = pairs(m)
          .filter(([, v]) => Number.isFinite(v))
          .map(([k, v]) => [k, String(v)]);
        assert.deepEqual(
          got,
          want === ''
            ? []
            : splitFieldSet(want).map((f) => [
                f.slice(0, f.lastIndexOf('=')),
                f.slice(f.lastIndexOf('=') + 1),
              ]),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('names as documented, in order', () => {
    const quantiles = [
      { quantile: 0.9, value: 4, count: 3, sum: 6, mean: 2 },
      { quantile: 0.999, value: 4 },
    ];
    const stats = {
      count: 4,
      samples: 4,
      sum: 10,
      weightedSum: 10,
      sumSquares: 30,
      min: 1,
      max: 4,
      mean: 2.5,
      median: 2.5,
    };
    const m: Metric = {
      kind: 'summary',
      name: 't',
      tags: [],
      timestamp: 0,
      intervalMs: 1,
      summary: { ...stats, stdev: 1, quantiles },
    };
    const want = 'count sum mean min max stdev median p90 p90_count p90_sum p90_mean p99_9';
    assert.equal(
      pairs(m)
        .map(([k]) => k)
        .join(' '),
      want,
    );
  });
});

describe('encoders built on foldFields write what they wrote before', () => {
  it('Influx field set, float and integer counters', () => {
    fc.assert(
      fc.property(metricArb, fc.boolean(), (m, integerCounters) => {
        assert.equal(
          encodeFields(m, { precision: 'ns', integerCounters }),
          oldEncodeFields(m, integerCounters),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('Kafka JSON fields', () => {
    fc.assert(
      fc.property(metricArb, (m) => {
        const want = oldJsonFields(m);
        const got = jsonValue(m);
        if (want === '') assert.equal(got, undefined);
        else assert.ok(got?.includes(',"fields":{' + want + '},"timestamp":'), `${got} lacks ${want}`);
      }),
      { numRuns: 2000 },
    );
  });

  it('console text line', () => {
    fc.assert(
      fc.property(metricArb, (m) => {
        // The head (name and tags) is untouched code: taken from a gauge of the same series.
        const gauge: Metric = { kind: 'gauge', name: m.name, tags: m.tags, timestamp: 0, value: 0 };
        const head = formatTextLine(gauge, 'T').slice('T gauge '.length, -' value=0'.length);
        assert.equal(formatTextLine(m, 'T'), 'T ' + m.kind + ' ' + head + oldTextFields(m));
      }),
      { numRuns: 2000 },
    );
  });
});
