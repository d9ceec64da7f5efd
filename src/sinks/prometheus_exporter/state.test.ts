import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HistogramAccumulator } from '../../aggregation/histogram.js';
import type {
  CounterMetric,
  DistributionMetric,
  GaugeMetric,
  HistogramMetric,
  Metric,
  SummaryMetric,
} from '../../core/metric.js';
import { DDSketch } from '../../aggregation/sketch.js';
import { makeTags } from '../../core/tags.js';
import {
  ExporterState,
  distributionQuantiles,
  labelText,
  quantilesWithMedian,
  renderExposition,
  renderExpositionBuffer,
  type RejectReason,
} from './state.js';

const T0 = 1_700_000_000_000;
const EXPIRY = 300_000;

function counter(
  name: string,
  value: number,
  tags: Record<string, string> = {},
  extra: Partial<CounterMetric> = {},
): CounterMetric {
  return {
    kind: 'counter',
    temporality: 'delta',
    name,
    tags: makeTags(tags),
    value,
    intervalMs: 10_000,
    timestamp: T0,
    ...extra,
  };
}
function gauge(name: string, value: number, tags: Record<string, string> = {}, help?: string): GaugeMetric {
  return { kind: 'gauge', name, tags: makeTags(tags), value, timestamp: T0, help };
}
function summary(name: string, sum: number, count: number, tags: Record<string, string> = {}): SummaryMetric {
  return {
    kind: 'summary',
    name,
    tags: makeTags(tags),
    timestamp: T0,
    intervalMs: 10_000,
    summary: {
      count,
      samples: count,
      sum,
      weightedSum: sum,
      sumSquares: 0,
      min: 1,
      max: 9,
      mean: sum / count,
      median: 5,
      stdev: 0,
      quantiles: [
        { quantile: 0.9, value: 8 },
        { quantile: 0.99, value: 9 },
      ],
    },
  };
}

function histogram(
  name: string,
  bounds: readonly number[],
  values: readonly number[],
  tags: Record<string, string> = {},
): HistogramMetric {
  const acc = new HistogramAccumulator(bounds);
  for (const v of values) acc.add(v);
  return {
    kind: 'histogram',
    name,
    tags: makeTags(tags),
    timestamp: T0,
    intervalMs: 10_000,
    histogram: acc.snapshot(),
  };
}
function distribution(
  name: string,
  values: readonly number[],
  percentiles: readonly number[] = [90, 99],
  tags: Record<string, string> = {},
): DistributionMetric {
  const sketch = new DDSketch();
  for (const v of values) sketch.add(v);
  return {
    kind: 'distribution',
    name,
    tags: makeTags(tags),
    timestamp: T0,
    intervalMs: 10_000,
    distribution: sketch.snapshot(percentiles),
  };
}

function setup(): { state: ExporterState; rejects: [RejectReason, string][]; resets: string[] } {
  const rejects: [RejectReason, string][] = [];
  const resets: string[] = [];
  const state = new ExporterState(
    EXPIRY,
    (reason, m) => rejects.push([reason, m.name]),
    (m) => resets.push(m.name),
  );
  return { state, rejects, resets };
}

function render(state: ExporterState, now = T0): string {
  state.expire(now);
  return renderExposition(state);
}

describe('labelText', () => {
  const cases: { name: string; tags: Record<string, string>; reserved?: 'quantile' | 'le'; want: string }[] =
    [
      { name: 'no tags', tags: {}, want: '' },
      {
        name: 'sorted and escaped',
        tags: { b: 'say "hi"', a: 'back\\slash\nnl' },
        want: 'a="back\\\\slash\\nnl",b="say \\"hi\\""',
      },
      {
        name: 'keys sanitised',
        tags: { 'http.method': 'GET', '1st': 'x' },
        want: '_1st="x",http_method="GET"',
      },
      { name: 'empty values left out', tags: { a: '', b: 'x' }, want: 'b="x"' },
      { name: 'sorted by sanitised name', tags: { 'a.z': '1', a_y: '2' }, want: 'a_y="2",a_z="1"' },
      { name: 'first of two clashing keys wins', tags: { 'a-b': '1', a_b: '2' }, want: 'a_b="1"' },
      { name: 'quantile kept on a gauge', tags: { quantile: 'x' }, want: 'quantile="x"' },
      {
        name: 'quantile renamed on a summary',
        tags: { quantile: 'x' },
        reserved: 'quantile',
        want: 'exported_quantile="x"',
      },
      { name: 'le kept on a summary', tags: { le: '1' }, reserved: 'quantile', want: 'le="1"' },
      {
        name: 'le renamed on a histogram',
        tags: { le: '1', z: '2' },
        reserved: 'le',
        want: 'exported_le="1",z="2"',
      },
    ];
  for (const c of cases) {
    it(c.name, () => assert.equal(labelText(makeTags(c.tags), c.reserved), c.want));
  }
});

describe('quantilesWithMedian', () => {
  it('inserts the median as 0.5 in order, unless 0.5 is there', () => {
    const s = summary('x', 10, 2).summary;
    assert.deepEqual(
      quantilesWithMedian(s).map((q) => q.quantile),
      [0.5, 0.9, 0.99],
    );
    const with5 = { ...s, quantiles: [{ quantile: 0.5, value: 4 }] };
    assert.equal(quantilesWithMedian(with5), with5.quantiles);
    const low = { ...s, quantiles: [{ quantile: 0.25, value: 1 }] };
    assert.deepEqual(
      quantilesWithMedian(low).map((q) => q.quantile),
      [0.25, 0.5],
    );
  });
});

describe('ExporterState', () => {
  it('adds delta counters up exactly across flushes', () => {
    const { state } = setup();
    // 100,000 increments of 1 spread over 1,000 flushes of 100.
    for (let flush = 0; flush < 1000; flush++) state.write([counter('hits', 100, { host: 'a' })], T0);
    assert.match(render(state), /^hits_total\{host="a"\} 100000$/m);
    // The same, one increment per flush.
    for (let i = 0; i < 100_000; i++) state.write([counter('ones', 1)], T0);
    assert.match(render(state), /^ones_total 100000$/m);
  });

  it('exports cumulative counters as they are, and gauges with their last value', () => {
    const { state } = setup();
    state.write(
      [counter('rx_bytes', 500, {}, { temporality: 'cumulative', intervalMs: 0 }), gauge('temp', 20)],
      T0,
    );
    state.write(
      [counter('rx_bytes', 800, {}, { temporality: 'cumulative', intervalMs: 0 }), gauge('temp', 18.5)],
      T0,
    );
    const page = render(state);
    assert.match(page, /^rx_bytes_total 800$/m);
    assert.match(page, /^temp 18\.5$/m);
  });

  it('renders a small state exactly: sorted, typed, helped, no timestamps', () => {
    const { state } = setup();
    state.write(
      [
        gauge('z.last', 1, { b: '2', a: '1' }, 'Last, with help.'),
        summary('api.latency', 30, 3),
        counter('api.requests', 3, { code: '500' }),
        counter('api.requests', 7, { code: '200' }),
      ],
      T0,
    );
    state.write([summary('api.latency', 20, 2)], T0);
    assert.equal(
      render(state),
      [
        '# HELP api_latency Summary api.latency.',
        '# TYPE api_latency summary',
        'api_latency{quantile="0.5"} 5',
        'api_latency{quantile="0.9"} 8',
        'api_latency{quantile="0.99"} 9',
        'api_latency_sum 50',
        'api_latency_count 5',
        '# HELP api_requests_total Counter api.requests.',
        '# TYPE api_requests_total counter',
        'api_requests_total{code="200"} 7',
        'api_requests_total{code="500"} 3',
        '# HELP z_last Last, with help.',
        '# TYPE z_last gauge',
        'z_last{a="1",b="2"} 1',
        '',
      ].join('\n'),
    );
  });

  it('merges metrics whose names and tags sanitise to the same series', () => {
    const { state } = setup();
    state.write([counter('a.b', 1, { 'x.y': '1' }), counter('a-b', 2, { 'x-y': '1' })], T0);
    assert.match(render(state), /^a_b_total\{x_y="1"\} 3$/m);
    assert.equal(state.seriesCount, 1);
  });

  it('replaces colons, which are reserved for recording rules', () => {
    const { state } = setup();
    state.write([gauge('load:one', 1)], T0);
    assert.match(render(state), /^load_one 1$/m);
  });

  it('removes series not written for the expiry time, then empty families', () => {
    const { state } = setup();
    state.write([gauge('old', 1), gauge('kept', 1, { n: '1' }), gauge('kept', 1, { n: '2' })], T0);
    state.write([gauge('kept', 2, { n: '1' })], T0 + EXPIRY / 2);
    assert.equal(state.expire(T0 + EXPIRY - 1), 0);
    const page = render(state, T0 + EXPIRY);
    assert.doesNotMatch(page, /old/);
    assert.doesNotMatch(page, /n="2"/);
    assert.match(page, /^kept\{n="1"\} 2$/m);
    assert.equal(state.seriesCount, 1);
    assert.equal(render(state, T0 + EXPIRY + EXPIRY / 2), '');
    assert.equal(state.seriesCount, 0);
  });

  it('starts an expired counter again from zero', () => {
    const { state } = setup();
    state.write([counter('c', 5)], T0);
    state.expire(T0 + EXPIRY);
    state.write([counter('c', 2)], T0 + EXPIRY);
    assert.match(render(state, T0 + EXPIRY), /^c_total 2$/m);
  });

  it('rejects a type conflict and keeps the existing series', () => {
    const { state, rejects } = setup();
    state.write([counter('x', 1), gauge('x_total', 5), summary('x_total', 1, 1)], T0);
    state.write([counter('x', 1)], T0);
    assert.deepEqual(rejects, [
      ['type_conflict', 'x_total'],
      ['type_conflict', 'x_total'],
    ]);
    const page = render(state);
    assert.match(page, /^# TYPE x_total counter$/m);
    assert.match(page, /^x_total 2$/m);
    assert.equal(page.match(/^# TYPE/gm)?.length, 1);
  });

  it('rejects families whose sample names clash', () => {
    const { state, rejects } = setup();
    state.write([summary('lat', 10, 1), gauge('lat_sum', 1), gauge('lat.count', 1)], T0);
    state.write([gauge('size_count', 1), summary('size', 1, 1)], T0);
    assert.deepEqual(rejects, [
      ['name_conflict', 'lat_sum'],
      ['name_conflict', 'lat.count'],
      ['name_conflict', 'size'],
    ]);
    const page = render(state);
    assert.match(page, /^lat_sum 10$/m);
    assert.match(page, /^# TYPE size_count gauge$/m);
  });

  it('frees a name when its family expires', () => {
    const { state, rejects } = setup();
    state.write([gauge('n', 1)], T0);
    state.expire(T0 + EXPIRY);
    state.write([counter('n_total', 1)], T0 + EXPIRY);
    assert.deepEqual(rejects, []);
    assert.match(render(state, T0 + EXPIRY), /^n_total 1$/m);
  });

  it('rejects negative and non-finite delta increments', () => {
    const { state, rejects } = setup();
    state.write([counter('c', 5), counter('c', -1), counter('c', NaN), counter('c', Infinity)], T0);
    assert.deepEqual(
      rejects.map((r) => r[0]),
      ['negative_counter', 'invalid_value', 'invalid_value'],
    );
    assert.match(render(state), /^c_total 5$/m);
  });

  it('uses the latest help text a metric brings', () => {
    const { state } = setup();
    const m: Metric = { ...gauge('g', 1), help: 'First.' };
    state.write([m, { ...gauge('g', 1, { a: '1' }), help: 'Second.' }], T0);
    assert.match(render(state), /^# HELP g Second\.$/m);
  });

  it('adds histograms up bin by bin into cumulative buckets', () => {
    const { state } = setup();
    state.write([histogram('req.size', [1, 2.5, 1e6], [0.5, 2, 2.5, 3], { le: 'x' })], T0);
    state.write([histogram('req.size', [1, 2.5, 1e6], [0.1, 5e6], { le: 'x' })], T0);
    assert.equal(
      render(state),
      [
        '# HELP req_size Histogram req.size.',
        '# TYPE req_size histogram',
        'req_size_bucket{exported_le="x",le="1"} 2',
        'req_size_bucket{exported_le="x",le="2.5"} 4',
        'req_size_bucket{exported_le="x",le="1e+06"} 5',
        'req_size_bucket{exported_le="x",le="+Inf"} 6',
        'req_size_sum{exported_le="x"} 5000008.1',
        'req_size_count{exported_le="x"} 6',
        '',
      ].join('\n'),
    );
  });

  it('keeps counts exact with sample-rate weights, _count equal to the +Inf bucket', () => {
    const { state } = setup();
    for (let i = 0; i < 10; i++) {
      const acc = new HistogramAccumulator([10]);
      acc.add(5, 1 / 0.1);
      acc.add(50, 1 / 0.1);
      state.write([{ ...histogram('h', [10], []), histogram: acc.snapshot() }], T0);
    }
    const page = render(state);
    assert.match(page, /^h_bucket\{le="10"\} 100$/m);
    assert.match(page, /^h_bucket\{le="\+Inf"\} 200$/m);
    assert.match(page, /^h_count 200$/m);
    assert.match(page, /^h_sum 5500$/m);
  });

  it('starts a histogram series again, and says so, when its bins change', () => {
    const { state, resets } = setup();
    state.write([histogram('h', [1, 2], [0.5, 1.5]), histogram('h', [1, 2], [3], { a: '1' })], T0);
    state.write([histogram('h', [1, 5], [4])], T0);
    state.write([histogram('h', [1, 5], [4])], T0);
    assert.deepEqual(resets, ['h']);
    const page = render(state);
    assert.match(page, /^h_bucket\{le="5"\} 2$/m);
    assert.doesNotMatch(page, /^h_bucket\{le="2"\}/m);
    assert.match(page, /^h_bucket\{a="1",le="2"\} 0$/m);
    assert.match(page, /^h_count 2$/m);
    assert.match(page, /^h_sum 8$/m);
  });

  it('rejects histograms it cannot export', () => {
    const { state, rejects } = setup();
    const good = histogram('h', [1], [0.5]);
    const bad = (bins: HistogramMetric['histogram']['bins'], sum = 1): HistogramMetric => ({
      ...good,
      histogram: { ...good.histogram, bins, sum },
    });
    const bin = (le: number, count: number) => ({ le, count, sum: 0, min: NaN, max: NaN });
    state.write(
      [
        bad([]),
        bad([bin(1, 1)]), // no +Inf
        bad([bin(2, 1), bin(1, 1), bin(Infinity, 0)]), // not increasing
        bad([bin(1, -1), bin(Infinity, 0)]), // negative count
        bad([bin(1, NaN), bin(Infinity, 0)]),
        bad([bin(Infinity, 1)], NaN),
        good,
      ],
      T0,
    );
    assert.deepEqual(
      rejects.map((r) => r[0]),
      new Array(6).fill('invalid_value'),
    );
    assert.match(render(state), /^h_count 1$/m);
  });

  it('guards the _bucket, _sum and _count names of histograms', () => {
    const { state, rejects } = setup();
    state.write(
      [
        histogram('lat', [1], [1]),
        gauge('lat_bucket', 1),
        gauge('lat.sum', 1),
        summary('lat_bucket', 1, 1),
        gauge('lat', 1),
        gauge('size_bucket', 1),
        histogram('size', [1], [1]),
        summary('dur', 1, 1),
        histogram('dur', [1], [1]),
      ],
      T0,
    );
    assert.deepEqual(rejects, [
      ['name_conflict', 'lat_bucket'],
      ['name_conflict', 'lat.sum'],
      ['name_conflict', 'lat_bucket'],
      ['type_conflict', 'lat'],
      ['name_conflict', 'size'],
      ['type_conflict', 'dur'],
    ]);
  });

  it('exports distributions as summaries: latest quantiles, _sum and _count added up', () => {
    const { state } = setup();
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    state.write([distribution('api.latency', values, [90, 99], { quantile: 'q' })], T0);
    state.write([distribution('api.latency', [1000], [90, 99], { quantile: 'q' })], T0);
    const page = render(state);
    assert.match(page, /^# TYPE api_latency summary$/m);
    assert.match(page, /^api_latency\{exported_quantile="q",quantile="0.5"\} 1000$/m);
    assert.match(page, /^api_latency\{exported_quantile="q",quantile="0.99"\} 1000$/m);
    assert.match(page, /^api_latency_sum\{exported_quantile="q"\} 6050$/m);
    assert.match(page, /^api_latency_count\{exported_quantile="q"\} 101$/m);
  });

  it('adds the median of a distribution from its sketch, in order', () => {
    const d = distribution('x', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [25, 90]).distribution;
    const qs = distributionQuantiles(d);
    assert.deepEqual(
      qs.map((q) => q.quantile),
      [0.25, 0.5, 0.9],
    );
    assert.equal(qs[1]?.value, d.quantile(0.5));
    const with50 = distribution('x', [1], [50]).distribution;
    assert.equal(distributionQuantiles(with50), with50.quantiles);
  });

  it('does not mix timers and distributions of one name', () => {
    const { state, rejects } = setup();
    state.write([summary('t', 1, 1), distribution('t', [1]), distribution('d', [1]), summary('d', 1, 1)], T0);
    assert.deepEqual(rejects, [
      ['type_conflict', 't'],
      ['type_conflict', 'd'],
    ]);
  });

  it('rejects distributions with a non-finite sum', () => {
    const { state, rejects } = setup();
    const d = distribution('d', [1]);
    state.write([{ ...d, distribution: { ...d.distribution, sum: Infinity, quantile: () => 1 } }], T0);
    assert.deepEqual(rejects, [['invalid_value', 'd']]);
  });

  it('expires histograms and distributions like the rest', () => {
    const { state } = setup();
    state.write([histogram('h', [1], [1]), distribution('d', [1])], T0);
    assert.equal(state.seriesCount, 2);
    assert.equal(render(state, T0 + EXPIRY), '');
    state.write([histogram('h', [1], [1])], T0 + EXPIRY);
    assert.match(render(state, T0 + EXPIRY), /^h_count 1$/m);
  });

  it('bumps the version on writes and expiry only', () => {
    const { state } = setup();
    const v0 = state.version;
    state.write([gauge('g', 1)], T0);
    const v1 = state.version;
    assert.ok(v1 > v0);
    state.expire(T0 + 1);
    assert.equal(state.version, v1);
    state.expire(T0 + EXPIRY);
    assert.ok(state.version > v1);
  });

  it('renders the same page as bytes, across chunk boundaries', () => {
    const { state } = setup();
    const batch: Metric[] = [];
    for (let i = 0; i < 8000; i++)
      batch.push(gauge(`family_${i % 7}`, i, { n: String(i), text: 'é'.repeat(i % 30) }));
    state.write(batch, T0);
    const text = renderExposition(state);
    assert.ok(text.length > 3 * 64 * 1024);
    assert.equal(renderExpositionBuffer(state).toString(), text);
    assert.equal(renderExpositionBuffer(new ExporterState(1)).length, 0);
  });
});
