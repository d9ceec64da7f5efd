/**
 * The remote-write sink against a real Prometheus with its remote-write receiver enabled: each
 * test writes through the sink and reads back, through PromQL, every raw sample with its labels,
 * value and timestamp. Then Prometheus is stopped and restarted (same port, same TSDB directory)
 * while writes go on. Needs `prometheus` on PATH (Debian: apt-get install prometheus); skipped
 * without it, except under CI=true.
 *
 * Prometheus refuses samples older than its head block allows and samples out of order within a
 * series, so every timestamp here is the current time, increasing per series. Unlike carbon,
 * Prometheus acknowledges a request only after committing it to its WAL, and a SIGTERM closes
 * the WAL cleanly, so what it acknowledged survives the restart; the fault tests still stop it
 * only with nothing in flight, so that the one thing measured is the sink.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { systemClock } from '../../core/clock.js';
import type { ComponentContext } from '../../core/component.js';
import type { Metric } from '../../core/metric.js';
import { DDSketch } from '../../core/sketch.js';
import { makeTags } from '../../core/tags.js';
import { testContext } from '../../testing/context.js';
import { freePort, serverPrograms, waitFor } from '../../testing/processes.js';
import { PrometheusRw, type PromSeries } from '../../testing/prometheus_rw.js';
import { stat, WriteTimer } from '../../testing/push.js';
import type { PushSink } from '../push/push.js';
import { createRemoteWriteSink } from './remote_write.js';
import { schema, type RemoteWriteConfig } from './schema.js';

const servers = serverPrograms(['prometheus'], 'apt-get install prometheus');
const skip = servers.skip;

/** labels (sorted, JSON) → samples, for comparing whole query results. */
function byLabels(series: PromSeries[]): Map<string, [number, string][]> {
  const out = new Map<string, [number, string][]>();
  for (const s of series) {
    const labels = Object.entries(s.labels).sort((a, b) => (a[0] < b[0] ? -1 : 1));
    out.set(JSON.stringify(labels), s.samples);
  }
  return out;
}

function key(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort((a, b) => (a[0] < b[0] ? -1 : 1)));
}

describe('prometheus_remote_write into a real Prometheus', { skip, timeout: 300_000 }, () => {
  let tmp = '';
  let prom: PrometheusRw | undefined;
  const sinks: PushSink[] = [];

  let setupError: unknown;
  let setupReported = false;
  function ready(): PrometheusRw {
    if (setupError !== undefined) {
      if (setupReported) throw new Error('Setup failed; see the first test of this suite.');
      setupReported = true;
      throw setupError;
    }
    return prom as PrometheusRw;
  }

  before(async () => {
    try {
      servers.assertInstalled();
      tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-rw-'));
      prom = new PrometheusRw(servers.paths.prometheus as string, tmp, await freePort('tcp'));
      await prom.start();
    } catch (e) {
      setupError = e;
    }
  });

  after(async () => {
    for (const s of sinks) await s.stop();
    await prom?.stop();
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  });

  function sink(
    p: PrometheusRw,
    options: Record<string, unknown>,
  ): { sink: PushSink; ctx: ComponentContext } {
    const ctx = testContext({ clock: systemClock, type: 'prometheus_remote_write' });
    const config = schema.parse(
      { url: p.writeUrl, flush_interval: '100ms', ...options },
      [],
      [],
    ) as RemoteWriteConfig;
    const s = createRemoteWriteSink(config, ctx);
    sinks.push(s);
    return { sink: s, ctx };
  }

  test('every metric kind, with exact names, labels, values and timestamps', async () => {
    const p = ready();
    const { sink: s, ctx } = sink(p, {});
    await s.start();
    const t1 = Date.now() - 2000;
    const t2 = t1 + 1000;
    const tags = makeTags({ host: 'web01.example.com', route: '/users', 'a-b': 'x"y' });
    const sketch = new DDSketch();
    for (const v of [1, 2, 3, 4, 100]) sketch.add(v);
    const dist = sketch.snapshot([99]);
    const metrics: Metric[] = [
      {
        kind: 'counter',
        temporality: 'delta',
        name: 'api.requests',
        tags,
        value: 30,
        intervalMs: 1000,
        timestamp: t1,
      },
      {
        kind: 'counter',
        temporality: 'cumulative',
        name: 'rx.bytes',
        tags,
        value: 1e12,
        intervalMs: 0,
        timestamp: t1,
      },
      { kind: 'gauge', name: 'queue depth', tags, value: -2.75, timestamp: t1 },
      {
        kind: 'summary',
        name: 'api.latency',
        tags,
        intervalMs: 1000,
        timestamp: t1,
        summary: {
          count: 10,
          samples: 10,
          sum: 55,
          sumSquares: 385,
          min: 1,
          max: 10,
          mean: 5.5,
          median: 5.5,
          stdev: 2.8722813232690143,
          quantiles: [{ quantile: 0.9, value: 9 }],
        },
      },
      {
        kind: 'histogram',
        name: 'api.size',
        tags: makeTags({ host: 'web01.example.com', le: 'mine' }),
        intervalMs: 1000,
        timestamp: t1,
        histogram: {
          count: 3,
          sum: 12.5,
          min: 1,
          max: 9,
          bins: [
            { le: 0.000025, count: 0, sum: 0, min: NaN, max: NaN },
            { le: 2.5, count: 1, sum: 1, min: 1, max: 1 },
            { le: Infinity, count: 2, sum: 11.5, min: 2.5, max: 9 },
          ],
        },
      },
      { kind: 'distribution', name: 'lat', tags: [], intervalMs: 1000, timestamp: t1, distribution: dist },
    ];
    s.write(metrics);
    s.write([
      {
        kind: 'counter',
        temporality: 'delta',
        name: 'api.requests',
        tags,
        value: 12,
        intervalMs: 1000,
        timestamp: t2,
      },
    ]);
    const base = { host: 'web01.example.com', route: '/users', a_b: 'x"y' };
    const hist = { host: 'web01.example.com', exported_le: 'mine' };
    const want = new Map<string, [number, string][]>([
      [
        key({ __name__: 'api_requests_total', ...base }),
        [
          [t1, '30'],
          [t2, '42'],
        ],
      ],
      [key({ __name__: 'rx_bytes_total', ...base }), [[t1, '1000000000000']]],
      [key({ __name__: 'queue_depth', ...base }), [[t1, '-2.75']]],
      [key({ __name__: 'api_latency', quantile: '0.5', ...base }), [[t1, '5.5']]],
      [key({ __name__: 'api_latency', quantile: '0.9', ...base }), [[t1, '9']]],
      [key({ __name__: 'api_latency_sum', ...base }), [[t1, '55']]],
      [key({ __name__: 'api_latency_count', ...base }), [[t1, '10']]],
      [key({ __name__: 'api_size_bucket', le: '2.5e-05', ...hist }), [[t1, '0']]],
      [key({ __name__: 'api_size_bucket', le: '2.5', ...hist }), [[t1, '1']]],
      [key({ __name__: 'api_size_bucket', le: '+Inf', ...hist }), [[t1, '3']]],
      [key({ __name__: 'api_size_sum', ...hist }), [[t1, '12.5']]],
      [key({ __name__: 'api_size_count', ...hist }), [[t1, '3']]],
      [key({ __name__: 'lat', quantile: '0.5' }), [[t1, String(dist.quantile(0.5))]]],
      [key({ __name__: 'lat', quantile: '0.99' }), [[t1, String(dist.quantiles[0]?.value)]]],
      [key({ __name__: 'lat_sum' }), [[t1, '110']]],
      [key({ __name__: 'lat_count' }), [[t1, '5']]],
    ]);
    const selector = '{__name__=~"api_.*|rx_bytes_total|queue_depth|lat.*"}';
    let got = new Map<string, [number, string][]>();
    await waitFor(
      async () => {
        got = byLabels(await p.range(selector, Date.now() + 1000));
        return got.size === want.size &&
          (got.get(key({ __name__: 'api_requests_total', ...base }))?.length ?? 0) === 2
          ? true
          : undefined;
      },
      {
        timeoutMs: 20_000,
        intervalMs: 100,
        what: 'every series in Prometheus',
        describe: () => JSON.stringify([...got.keys()]),
      },
    );
    assert.deepEqual(got, want);
    assert.equal(stat(ctx, 'dropped_metrics'), 0);
    // And PromQL computes with them as with scraped series.
    const increase = await p.instant(`sum(api_requests_total) - sum(api_requests_total offset 1s)`, t2);
    assert.deepEqual(
      increase.map((r) => r.value),
      ['12'],
    );
  });

  /**
   * Runs one outage, as graphite's fault tests do: `before` points written every `everyMs` and
   * delivered; Prometheus stopped; `during` more written while it is down, for at least
   * `outageMs`; Prometheus restarted and `after` more written. Point i has value i and a
   * timestamp of its own (the wall clock, strictly increasing).
   */
  async function outage(
    t: TestContext,
    p: PrometheusRw,
    s: PushSink,
    ctx: ComponentContext,
    name: string,
    plan: { before: number; during: number; after: number; everyMs: number; outageMs: number },
  ): Promise<{ expected: Map<number, string>; timer: WriteTimer }> {
    const expected = new Map<number, string>();
    const timer = new WriteTimer();
    let written = 0;
    let last = 0;
    const writeOne = (): void => {
      const ts = Math.max(Date.now(), last + 1);
      last = ts;
      expected.set(ts, String(written));
      timer.write(s, [
        { kind: 'gauge', name, tags: makeTags({ test: name }), value: written, timestamp: ts },
      ]);
      written++;
    };
    const tick = (): Promise<void> => new Promise((r) => setTimeout(r, plan.everyMs));
    const inFlight = (): number =>
      written - stat(ctx, 'points_sent') - stat(ctx, 'buffered_points') - stat(ctx, 'dropped_metrics');

    while (written < plan.before) {
      writeOne();
      await tick();
    }
    await waitFor(() => (stat(ctx, 'points_sent') === written && inFlight() === 0 ? true : undefined), {
      timeoutMs: 20_000,
      intervalMs: 20,
      what: 'everything so far delivered',
    });
    const sentBefore = stat(ctx, 'points_sent');
    await p.stop();
    const stoppedAt = Date.now();
    const target = written + plan.during;
    while (written < target || Date.now() - stoppedAt < plan.outageMs) {
      writeOne();
      await tick();
    }
    assert.equal(stat(ctx, 'points_sent'), sentBefore, 'nothing was delivered while Prometheus was down');
    assert.ok(stat(ctx, 'retries') > 0, 'sends failed and were retried while Prometheus was down');
    assert.equal(stat(ctx, 'endpoint_up'), 0);
    // Writes go on while Prometheus starts (and answers 503 until its WAL is replayed).
    let starting = true;
    const restarted = p.start().finally(() => (starting = false));
    while (starting) {
      writeOne();
      await tick();
    }
    await restarted;
    const downMs = Date.now() - stoppedAt;
    for (let i = 0; i < plan.after; i++) {
      writeOne();
      await tick();
    }
    await waitFor(() => (inFlight() === 0 && stat(ctx, 'buffered_points') === 0 ? true : undefined), {
      timeoutMs: 30_000,
      what: 'the sink to deliver its backlog',
      describe: () =>
        `sent ${stat(ctx, 'points_sent')} of ${written}, buffered ${stat(ctx, 'buffered_points')}`,
    });
    t.diagnostic(
      `${written} points written, Prometheus down ${downMs} ms; write(): max ${timer.max.toFixed(3)} ms, ` +
        `p99 ${timer.quantile(0.99).toFixed(3)} ms over ${timer.samples.length} calls; ` +
        `retries ${stat(ctx, 'retries')}, dropped ${stat(ctx, 'dropped_metrics')}`,
    );
    return { expected, timer };
  }

  async function stored(p: PrometheusRw, name: string): Promise<Map<number, string>> {
    const series = await p.range(name, Date.now() + 1000);
    assert.ok(series.length <= 1, `one series: ${JSON.stringify(series.map((x) => x.labels))}`);
    return new Map(series[0]?.samples ?? []);
  }

  test('Prometheus stopped and restarted under traffic: nothing lost while the buffer has room', async (t) => {
    const p = ready();
    const { sink: s, ctx } = sink(p, {
      flush_interval: '250ms',
      retry_initial: '100ms',
      max_retry_interval: '500ms',
      timeout: '2s',
    });
    await s.start();
    const { expected, timer } = await outage(t, p, s, ctx, 'fault_roomy', {
      before: 10,
      during: 20,
      after: 10,
      everyMs: 50,
      outageMs: 2000, // eight flush intervals
    });
    assert.equal(stat(ctx, 'dropped_metrics'), 0);
    assert.equal(stat(ctx, 'points_sent'), expected.size);
    const got = await stored(p, 'fault_roomy');
    assert.deepEqual(got, expected, 'every sample, with its value and timestamp');
    assert.ok(timer.max < 50, `write() took up to ${timer.max} ms`);
  });

  test('with a tiny buffer, the drop counter is exactly what Prometheus is missing', async (t) => {
    const p = ready();
    const { sink: s, ctx } = sink(p, {
      flush_interval: '250ms',
      retry_initial: '100ms',
      max_retry_interval: '500ms',
      timeout: '2s',
      buffer_points: 8,
      batch_size: 4,
    });
    await s.start();
    const { expected, timer } = await outage(t, p, s, ctx, 'fault_tiny', {
      before: 4,
      during: 30,
      after: 4,
      everyMs: 40,
      outageMs: 1500,
    });
    const dropped = stat(ctx, 'dropped_metrics', { reason: 'buffer_full' });
    assert.ok(dropped > 0, 'the outage overflowed the buffer');
    assert.equal(stat(ctx, 'dropped_metrics'), dropped, 'dropped for no other reason');
    assert.equal(stat(ctx, 'points_sent') + dropped, expected.size);
    const got = await stored(p, 'fault_tiny');
    const lost = [...expected.keys()].filter((ts) => !got.has(ts));
    assert.equal(lost.length, dropped, 'the drop counter equals what is missing');
    for (const [ts, v] of got) assert.equal(v, expected.get(ts), `value at ${ts}`);
    // The oldest go first: what is missing is one run of consecutive points.
    const order = [...expected.keys()];
    const idx = lost.map((ts) => order.indexOf(ts));
    assert.deepEqual(
      idx,
      idx.map((_, k) => (idx[0] as number) + k),
    );
    assert.ok(timer.max < 50, `write() took up to ${timer.max} ms`);
  });
});
