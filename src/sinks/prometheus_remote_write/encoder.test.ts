import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HistogramAccumulator } from '../../aggregation/histogram.js';
import type { Metric } from '../../core/metric.js';
import { DDSketch } from '../../aggregation/sketch.js';
import { makeTags, type Tags } from '../../core/tags.js';
import { formatValue } from '../../protocols/prometheus/text.js';
import {
  DecodeError,
  decodeWriteRequest,
  METRIC_TYPES,
  type RwWriteRequest,
} from '../../protocols/remote_write/protobuf.js';
import { ExporterState, renderExposition } from '../prometheus_exporter/state.js';
import { RemoteWriteEncoder, type RemoteWriteEncoderOptions } from './encoder.js';
import { previewRemoteWrite } from './index.js';
import { schema, type RemoteWriteConfig } from './schema.js';

const T0 = 1_700_000_000_000;

function encoder(options: Partial<RemoteWriteEncoderOptions> = {}): {
  enc: RemoteWriteEncoder;
  clock: { now: number };
  rejects: string[];
} {
  const clock = { now: T0 };
  const rejects: string[] = [];
  const enc = new RemoteWriteEncoder({
    expiryMs: 300_000,
    metadataIntervalMs: 0,
    now: () => clock.now,
    onReject: (reason, m) => rejects.push(`${m.name}:${reason}`),
    ...options,
  });
  return { enc, clock, rejects };
}

function decode(bytes: Uint8Array | undefined): RwWriteRequest {
  assert.ok(bytes !== undefined, 'the metric was encoded');
  const req = decodeWriteRequest(bytes);
  assert.ok(!(req instanceof DecodeError), 'the record decodes');
  return req;
}

/** `name{a="x",...} value @ts` with labels in the order they were sent. */
function lines(req: RwWriteRequest): string[] {
  return req.timeseries.map((ts) => {
    assert.equal(ts.samples.length, 1);
    const s = ts.samples[0] as { value: number; timestamp: number };
    return `${ts.labels.map(([n, v]) => `${n}=${JSON.stringify(v)}`).join(',')} ${formatValue(s.value)} @${s.timestamp}`;
  });
}

const counter = (
  name: string,
  tags: Tags,
  value: number,
  ts = T0,
  temporality: 'delta' | 'cumulative' = 'delta',
): Metric => ({
  kind: 'counter',
  temporality,
  name,
  tags,
  value,
  intervalMs: 10_000,
  timestamp: ts,
});
const gauge = (name: string, tags: Tags, value: number, ts = T0): Metric => ({
  kind: 'gauge',
  name,
  tags,
  value,
  timestamp: ts,
});
function histogram(name: string, tags: Tags, bounds: number[], values: number[], ts = T0): Metric {
  const acc = new HistogramAccumulator(bounds);
  for (const v of values) acc.add(v);
  return { kind: 'histogram', name, tags, timestamp: ts, intervalMs: 10_000, histogram: acc.snapshot() };
}
function summary(name: string, tags: Tags, values: number[], quantiles: number[], ts = T0): Metric {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = values.reduce((a, b) => a + b, 0);
  const at = (q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return {
    kind: 'summary',
    name,
    tags,
    timestamp: ts,
    intervalMs: 10_000,
    summary: {
      count: values.length,
      samples: values.length,
      sum,
      weightedSum: sum,
      sumSquares: values.reduce((a, b) => a + b * b, 0),
      min: sorted[0] ?? 0,
      max: sorted[sorted.length - 1] ?? 0,
      mean: sum / values.length,
      median: at(0.5),
      stdev: 0,
      quantiles: quantiles.map((q) => ({ quantile: q, value: at(q) })),
    },
  };
}
function distribution(name: string, tags: Tags, values: number[], percentiles: number[], ts = T0): Metric {
  const sketch = new DDSketch();
  for (const v of values) sketch.add(v);
  return {
    kind: 'distribution',
    name,
    tags,
    timestamp: ts,
    intervalMs: 10_000,
    distribution: sketch.snapshot(percentiles),
  };
}

describe('remote write encoder: one metric → its series', () => {
  it('sorts labels by name, __name__ and the type label among them, and stamps the metric time', () => {
    const { enc } = encoder();
    const tags = makeTags({ host: 'web01', Zone: 'eu', z: '1', quantile: 'mine' });
    const req = decode(enc.encode(summary('api.latency', tags, [1, 2, 3, 4], [0.9], T0 + 7)));
    assert.deepEqual(lines(req), [
      'Zone="eu",__name__="api_latency",exported_quantile="mine",host="web01",quantile="0.5",z="1" 2 @1700000000007',
      'Zone="eu",__name__="api_latency",exported_quantile="mine",host="web01",quantile="0.9",z="1" 4 @1700000000007',
      'Zone="eu",__name__="api_latency_sum",exported_quantile="mine",host="web01",z="1" 10 @1700000000007',
      'Zone="eu",__name__="api_latency_count",exported_quantile="mine",host="web01",z="1" 4 @1700000000007',
    ]);
  });

  it('adds delta counters up into a cumulative _total; cumulative ones pass through', () => {
    const { enc } = encoder();
    const tags = makeTags({ host: 'a' });
    const values = [3, 0, 4.5].map((v, i) =>
      lines(decode(enc.encode(counter('hits', tags, v, T0 + i * 1000)))),
    );
    assert.deepEqual(values, [
      ['__name__="hits_total",host="a" 3 @1700000000000'],
      ['__name__="hits_total",host="a" 3 @1700000001000'],
      ['__name__="hits_total",host="a" 7.5 @1700000002000'],
    ]);
    const cum = [100, 250].map((v) =>
      lines(decode(enc.encode(counter('rx.bytes', tags, v, T0, 'cumulative')))),
    );
    assert.deepEqual(cum, [
      ['__name__="rx_bytes_total",host="a" 100 @1700000000000'],
      ['__name__="rx_bytes_total",host="a" 250 @1700000000000'],
    ]);
  });

  it('writes histograms as cumulative _bucket{le} up to +Inf, _sum and _count, added up across intervals', () => {
    const { enc } = encoder();
    const tags = makeTags({ le: 'x' });
    enc.encode(histogram('size', tags, [1, 2.5], [0.5, 2, 9]));
    const req = decode(enc.encode(histogram('size', tags, [1, 2.5], [3], T0 + 1000)));
    assert.deepEqual(lines(req), [
      '__name__="size_bucket",exported_le="x",le="1" 1 @1700000001000',
      '__name__="size_bucket",exported_le="x",le="2.5" 2 @1700000001000',
      '__name__="size_bucket",exported_le="x",le="+Inf" 4 @1700000001000',
      '__name__="size_sum",exported_le="x" 14.5 @1700000001000',
      '__name__="size_count",exported_le="x" 4 @1700000001000',
    ]);
  });

  it('writes distributions as summaries, with the median and cumulative _sum/_count', () => {
    const { enc } = encoder();
    const m = distribution('lat', makeTags({}), [1, 2, 3, 100], [99]);
    const req = decode(enc.encode(m));
    const d = (m as Extract<Metric, { kind: 'distribution' }>).distribution;
    assert.deepEqual(lines(req), [
      `__name__="lat",quantile="0.5" ${formatValue(d.quantile(0.5))} @${T0}`,
      `__name__="lat",quantile="0.99" ${formatValue(d.quantiles[0]?.value ?? NaN)} @${T0}`,
      `__name__="lat_sum" 106 @${T0}`,
      `__name__="lat_count" 4 @${T0}`,
    ]);
  });

  it('with native_histograms, writes distributions as one cumulative native histogram series', () => {
    const { enc } = encoder({ nativeHistograms: { maxBuckets: 0 } });
    const tags = makeTags({ host: 'a' });
    enc.encode(distribution('lat', tags, [0, 1, 1.2, 1.4], [99]));
    const req = decode(enc.encode(distribution('lat', tags, [1.8, 2], [99], T0 + 1000)));
    assert.equal(req.timeseries.length, 1);
    const ts = req.timeseries[0]!;
    assert.deepEqual(ts.labels, [
      ['__name__', 'lat'],
      ['host', 'a'],
    ]);
    assert.deepEqual(ts.samples, []);
    const h = ts.histograms?.[0];
    assert.ok(h !== undefined);
    // Cumulative over both intervals, in the sketch's own buckets (schema 6: base 2^(1/64)).
    assert.equal(h.count, 6);
    assert.equal(h.sum, 7.4);
    assert.equal(h.schema, 6);
    assert.equal(h.zeroCount, 1);
    assert.equal(h.integer, true);
    assert.equal(h.timestamp, T0 + 1000);
    const sketch = new DDSketch();
    for (const v of [0, 1, 1.2, 1.4, 1.8, 2]) sketch.add(v);
    const want = sketch.exponential().positive;
    let index = 0;
    const got: [number, number][] = [];
    let i = 0;
    for (const span of h.positiveSpans) {
      index += span.offset;
      for (let k = 0; k < span.length; k++, index++, i++)
        if (h.positiveCounts[i] !== 0) got.push([index, h.positiveCounts[i]!]);
    }
    assert.deepEqual(
      got,
      want.counts.flatMap((c, k) => (c === 0 ? [] : [[want.offset + k, c] as [number, number]])),
    );
  });

  it('with native_histograms, writes fractional (sampled) counts as floats', () => {
    const { enc } = encoder({ nativeHistograms: { maxBuckets: 0 } });
    const sketch = new DDSketch();
    sketch.add(5, 2.5);
    const m: Metric = {
      kind: 'distribution',
      name: 'lat',
      tags: [],
      timestamp: T0,
      intervalMs: 10_000,
      distribution: sketch.snapshot([50]),
    };
    const h = decode(enc.encode(m)).timeseries[0]?.histograms?.[0];
    assert.ok(h !== undefined);
    assert.equal(h.integer, false);
    assert.equal(h.count, 2.5);
    assert.deepEqual(h.positiveCounts, [2.5]);
  });

  it('refuses what the exporter refuses, with its reason', () => {
    const { enc, rejects } = encoder();
    assert.ok(enc.encode(gauge('x', [], 1)) !== undefined);
    assert.ok(enc.encode(counter('x', [], 1)) !== undefined, 'the counter is x_total, another family');
    assert.equal(enc.encode(gauge('x_total', [], 1)), undefined);
    assert.equal(enc.encode(counter('y', [], -1)), undefined);
    assert.equal(enc.encode(summary('x', [], [1], [0.9])), undefined);
    assert.ok(enc.encode(summary('s', [], [1], [0.9])) !== undefined);
    assert.equal(enc.encode(gauge('s_sum', [], 1)), undefined);
    assert.deepEqual(rejects, [
      'x_total:type_conflict',
      'y:negative_counter',
      'x:type_conflict',
      's_sum:name_conflict',
    ]);
  });

  it('sends each family’s metadata with its first sample, then once per metadata_interval', () => {
    const { enc, clock } = encoder({ metadataIntervalMs: 60_000 });
    const meta = (m: Metric): RwWriteRequest['metadata'] => decode(enc.encode(m)).metadata;
    assert.deepEqual(meta(counter('hits', makeTags({ a: '1' }), 1)), [
      { type: METRIC_TYPES.counter, family: 'hits_total', help: 'Counter hits.', unit: '' },
    ]);
    assert.deepEqual(meta(counter('hits', makeTags({ a: '2' }), 1)), []);
    assert.deepEqual(meta({ ...gauge('temp', [], 20), help: 'Temperature.' }), [
      { type: METRIC_TYPES.gauge, family: 'temp', help: 'Temperature.', unit: '' },
    ]);
    clock.now += 60_000;
    assert.equal(meta(counter('hits', makeTags({ a: '1' }), 1)).length, 1);
    assert.deepEqual(
      meta(histogram('h', [], [1], [1])).map((m) => m.type),
      [METRIC_TYPES.histogram],
    );
    assert.deepEqual(
      meta(distribution('d', [], [1], [50])).map((m) => m.type),
      [METRIC_TYPES.summary],
    );
    const none = encoder({ metadataIntervalMs: 0 });
    assert.deepEqual(decode(none.enc.encode(gauge('temp', [], 1))).metadata, []);
  });

  it('forgets a series after expiry: a delta counter then starts again from its increment', () => {
    const { enc, clock } = encoder({ expiryMs: 10_000 });
    enc.encode(counter('hits', [], 5));
    assert.deepEqual(lines(decode(enc.encode(counter('hits', [], 5)))), [`__name__="hits_total" 10 @${T0}`]);
    clock.now += 20_000;
    enc.encode(gauge('other', [], 1)); // any write runs the expiry
    assert.equal(enc.seriesCount, 1);
    assert.deepEqual(lines(decode(enc.encode(counter('hits', [], 2)))), [`__name__="hits_total" 2 @${T0}`]);
  });
});

/** Parses the exporter's sample lines into "name{sorted labels}" → value text. */
function parseExposition(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.lastIndexOf(' ');
    const name = brace < 0 ? line.slice(0, space) : line.slice(0, brace);
    const pairs: [string, string][] = [];
    if (brace >= 0) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g;
      const body = line.slice(brace + 1, line.lastIndexOf('}'));
      for (const m of body.matchAll(re))
        pairs.push([
          m[1] as string,
          (m[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)),
        ]);
    }
    pairs.push(['__name__', name]);
    pairs.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    out.set(JSON.stringify(pairs), line.slice(space + 1));
  }
  return out;
}

describe('remote write encoder agrees with the prometheus_exporter', () => {
  const tagArb = fc
    .array(
      fc.tuple(
        fc.constantFrom('host', 'Zone', 'le', 'quantile', 'a-b', 'a_b', '__x', 'z'),
        fc.constantFrom('', 'v', 'w"\\\n', 'é'),
      ),
      { maxLength: 4 },
    )
    .map((pairs) => makeTags(pairs));
  const nameArb = fc.constantFrom('a', 'a.b', 'req', 'x_total', 'x', 'x_sum', '9lives');
  const metricArb: fc.Arbitrary<(ts: number) => Metric> = fc.oneof(
    fc.tuple(nameArb, tagArb, fc.oneof(fc.integer({ min: -2, max: 50 }), fc.constant(NaN)), fc.boolean()).map(
      ([n, t, v, cum]) =>
        (ts: number) =>
          counter(n, t, v, ts, cum ? 'cumulative' : 'delta'),
    ),
    fc.tuple(nameArb, tagArb, fc.double({ noNaN: true })).map(
      ([n, t, v]) =>
        (ts: number) =>
          gauge(n, t, v, ts),
    ),
    fc
      .tuple(nameArb, tagArb, fc.array(fc.double({ min: 0, max: 20, noNaN: true }), { maxLength: 5 }))
      // Bins and quantiles fixed per name: the exporter shows only the latest set, while a
      // sample already sent stays sent, so changing them would make the two differ on purpose.
      .map(
        ([n, t, vs]) =>
          (ts: number) =>
            histogram(n, t, n.length % 2 === 0 ? [1] : [0.5, 2.5, 10], vs, ts),
      ),
    fc.tuple(nameArb, tagArb, fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 5 })).map(
      ([n, t, vs]) =>
        (ts: number) =>
          summary(n, t, vs, [[0.9], [0.5, 0.99], []][n.length % 3] ?? [], ts),
    ),
    fc.tuple(nameArb, tagArb, fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 5 })).map(
      ([n, t, vs]) =>
        (ts: number) =>
          distribution(n, t, vs, [90], ts),
    ),
  );

  it('the latest sample of every series is the value the exporter shows, for any stream of metrics', () => {
    fc.assert(
      fc.property(fc.array(metricArb, { minLength: 1, maxLength: 30 }), (makers) => {
        const { enc } = encoder();
        const state = new ExporterState(300_000);
        const latest = new Map<string, string>();
        makers.forEach((make, i) => {
          const m = make(T0 + i);
          state.write([m], T0);
          const bytes = enc.encode(m);
          if (bytes === undefined) return;
          for (const ts of decode(bytes).timeseries) {
            const names = ts.labels.map(([n]) => n);
            assert.deepEqual(names, [...names].sort(), 'labels sorted');
            assert.equal(ts.samples[0]?.timestamp, T0 + i);
            latest.set(JSON.stringify(ts.labels), formatValue(ts.samples[0]?.value ?? NaN));
          }
        });
        assert.deepEqual(latest, parseExposition(renderExposition(state)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('prometheus_remote_write preview', () => {
  it('shows each sample as a line', () => {
    const config = schema.parse({}, [], []) as RemoteWriteConfig;
    assert.equal(
      previewRemoteWrite(config, [gauge('q', makeTags({ host: 'a' }), 2), counter('q', [], 1)]),
      `q{host="a"} 2 @${T0}\nq_total 1 @${T0}\n`,
    );
  });
});
