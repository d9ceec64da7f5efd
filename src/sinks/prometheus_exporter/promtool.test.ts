/**
 * `promtool check metrics` (the Go expfmt parser plus promlint) on a rich rendered page: what a
 * parser of our own would share with the renderer, promtool catches. Skipped when promtool is
 * not installed (Debian: apt-get install prometheus), except under CI=true, where that fails.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { HistogramAccumulator } from '../../aggregation/histogram.js';
import type {
  CounterMetric,
  DistributionMetric,
  HistogramMetric,
  Metric,
  SummaryMetric,
} from '../../core/metric.js';
import { DDSketch } from '../../aggregation/sketch.js';
import { makeTags } from '../../core/tags.js';
import { ExporterState, renderExposition } from './state.js';

const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const missing = probe.error !== undefined;
const skip =
  missing && process.env.CI !== 'true'
    ? 'promtool is not on PATH (apt-get install --no-install-recommends prometheus); CI=true makes this a failure'
    : false;

const T = 1_700_000_000_000;

function delta(name: string, value: number, tags: Record<string, string> = {}): CounterMetric {
  return {
    kind: 'counter',
    temporality: 'delta',
    name,
    tags: makeTags(tags),
    value,
    intervalMs: 10_000,
    timestamp: T,
  };
}
function cumulative(name: string, value: number, tags: Record<string, string> = {}): CounterMetric {
  return {
    kind: 'counter',
    temporality: 'cumulative',
    name,
    tags: makeTags(tags),
    value,
    intervalMs: 0,
    timestamp: T,
  };
}
function summary(name: string, tags: Record<string, string> = {}): SummaryMetric {
  return {
    kind: 'summary',
    name,
    tags: makeTags(tags),
    timestamp: T,
    intervalMs: 10_000,
    summary: {
      count: 12.5,
      samples: 5,
      sum: 123.4,
      sumSquares: 4000,
      weightedSum: 123.4,
      min: 1,
      max: 60,
      mean: 24.68,
      median: 20,
      stdev: 21.3,
      quantiles: [
        { quantile: 0.9, value: 55 },
        { quantile: 0.99, value: 60 },
        { quantile: 0.999, value: 60 },
      ],
    },
  };
}

function histogram(name: string, bounds: number[], tags: Record<string, string> = {}): HistogramMetric {
  const acc = new HistogramAccumulator(bounds);
  for (let i = 0; i < 100; i++) acc.add(i * i * 13.7, i % 3 === 0 ? 10 : 1);
  acc.add(-5);
  return {
    kind: 'histogram',
    name,
    tags: makeTags(tags),
    timestamp: T,
    intervalMs: 10_000,
    histogram: acc.snapshot(),
  };
}
function distribution(name: string, tags: Record<string, string> = {}, empty = false): DistributionMetric {
  const sketch = new DDSketch();
  if (!empty) for (let i = 0; i < 1000; i++) sketch.add(Math.exp(i / 100) - 20, 1 / 0.3);
  return {
    kind: 'distribution',
    name,
    tags: makeTags(tags),
    timestamp: T,
    intervalMs: 10_000,
    distribution: sketch.snapshot([0.001, 25, 75, 90, 99, 99.9, 100]),
  };
}

const weird = { 'tag.with-dots': 'quote " backslash \\ newline \n end', 'é-key': 'héllo 😀', empty: '' };

const METRICS: Metric[] = [
  delta('api.requests', 3, { code: '200', host: 'web-1' }),
  delta('api.requests', 1e6, { code: '500', host: 'web-1' }),
  delta('jobs_total', 7),
  delta('5xx.errors', 2, weird),
  cumulative('net.rx-bytes', 123456789012, { interface: 'eth0' }),
  cumulative('context.switches', 9.5e20),
  { kind: 'gauge', name: 'queue.depth', tags: makeTags({ queue: 'a/b c' }), value: -3.25, timestamp: T },
  { kind: 'gauge', name: 'temperature', tags: makeTags({ sensor: 'x' }), value: NaN, timestamp: T },
  { kind: 'gauge', name: 'temperature', tags: makeTags({ sensor: 'y' }), value: Infinity, timestamp: T },
  { kind: 'gauge', name: 'temperature', tags: makeTags({ sensor: 'z' }), value: -Infinity, timestamp: T },
  {
    kind: 'gauge',
    name: 'load:one',
    tags: makeTags({}),
    value: 0.5,
    timestamp: T,
    help: 'Help with a backslash \\ and a\nnewline.',
  },
  { kind: 'gauge', name: 'weird.value', tags: makeTags(weird), value: 1e-7, timestamp: T },
  summary('api.latency', { route: '/users/{id}', quantile: 'mine' }),
  summary('api.latency'),
  summary('db-query.duration', weird),
  histogram('http.request.duration.seconds', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], {
    route: '/',
  }),
  histogram(
    'http.request.duration.seconds',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    weird,
  ),
  histogram('payload.bytes', [1e-5, 100, 1e6, 1.5e7, 1e21], { le: 'tag called le' }),
  histogram('single.bin', [0]),
  distribution('db.latency', { shard: '1', quantile: 'tag called quantile' }),
  distribution('db.latency', { shard: '2' }, true),
  distribution('queue-wait', weird),
  // Rejected: these would clash with families above.
  { kind: 'gauge', name: 'payload.bytes_bucket', tags: makeTags({}), value: 1, timestamp: T },
  distribution('api.latency'),
  { kind: 'gauge', name: 'api.latency_sum', tags: makeTags({}), value: 1, timestamp: T },
  { kind: 'gauge', name: 'jobs', tags: makeTags({}), value: 1, timestamp: T },
  { kind: 'gauge', name: 'api_requests_total', tags: makeTags({}), value: 1, timestamp: T },
];

describe('promtool check metrics', { skip }, () => {
  it('accepts the rendered page without errors or warnings', () => {
    assert.ok(!missing, 'promtool not found on PATH, and CI=true requires this test to run.');
    const state = new ExporterState(300_000);
    state.write(METRICS, T);
    state.write(METRICS, T + 10_000);
    const page = renderExposition(state);
    assert.match(page, /^payload_bytes_bucket\{exported_le="tag called le",le="1e\+06"\} /m);
    assert.match(page, /^db_latency\{exported_quantile="tag called quantile",shard="1",quantile="1e-05"\} /m);
    // The page holds every family, so a vacuous pass on an empty page is not possible.
    for (const name of [
      'api_requests_total',
      'jobs_total',
      '_5xx_errors_total',
      'net_rx_bytes_total',
      'load_one',
      'http_request_duration_seconds',
      'payload_bytes',
      'db_latency',
      'queue_wait',
    ])
      assert.match(page, new RegExp(`^# TYPE ${name} `, 'm'));
    const run = spawnSync('promtool', ['check', 'metrics'], { input: page, encoding: 'utf8' });
    assert.equal(run.error, undefined);
    assert.equal(`${run.stdout}${run.stderr}`, '', `promtool complained about:\n${page}`);
    assert.equal(run.status, 0);
  });

  it('is a test that can fail: promtool rejects a counter without _total', () => {
    assert.ok(!missing);
    const run = spawnSync('promtool', ['check', 'metrics'], {
      input: '# HELP x X.\n# TYPE x counter\nx 1\n',
      encoding: 'utf8',
    });
    assert.notEqual(run.status, 0);
  });
});
