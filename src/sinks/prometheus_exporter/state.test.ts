import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CounterMetric, GaugeMetric, Metric, SummaryMetric } from '../../core/metric.js';
import { makeTags } from '../../core/tags.js';
import {
  ExporterState,
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

function setup(): { state: ExporterState; rejects: [RejectReason, string][] } {
  const rejects: [RejectReason, string][] = [];
  const state = new ExporterState(EXPIRY, (reason, m) => rejects.push([reason, m.name]));
  return { state, rejects };
}

function render(state: ExporterState, now = T0): string {
  state.expire(now);
  return renderExposition(state);
}

describe('labelText', () => {
  const cases: { name: string; tags: Record<string, string>; summary?: boolean; want: string }[] = [
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
      summary: true,
      want: 'exported_quantile="x"',
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(labelText(makeTags(c.tags), c.summary ?? false), c.want));
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
