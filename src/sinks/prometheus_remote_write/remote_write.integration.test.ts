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
import { describe, test } from 'node:test';
import { systemClock } from '../../core/clock.js';
import type { ComponentContext } from '../../core/component.js';
import type { Metric } from '../../core/metric.js';
import { DDSketch } from '../../aggregation/sketch.js';
import { makeTags } from '../../core/tags.js';
import { parseConfig } from '../../testing/config.js';
import { testContext } from '../../testing/context.js';
import { freePort, serverPrograms, waitFor } from '../../testing/processes.js';
import { PrometheusRw, startPrometheusServers, type PromSeries } from '../../testing/prometheus_rw.js';
import {
  assertBufferDrops,
  inFlight,
  outage,
  PointWriter,
  stat,
  waitDrained,
  type OutageServer,
} from '../../testing/push.js';
import { sharedServer } from '../../testing/suite.js';
import { PushRejected, type PushSink } from '../push/push.js';
import { encodeTimeSeries } from '../../protocols/remote_write/protobuf.js';
import { HttpTransport } from './http.js';
import { createRemoteWriteSink } from './remote_write.js';
import { parseRemoteWriteUrl, schema, type RemoteWriteUrl } from './schema.js';
import { oneToTenSummary } from '../../testing/metrics.js';

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
  const { ready, sinks } = sharedServer(
    async () => {
      servers.assertInstalled();
      tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-rw-'));
      prom = new PrometheusRw(servers.paths.prometheus as string, tmp, await freePort('tcp'));
      await prom.start();
      return prom;
    },
    async () => {
      await prom?.stop();
      if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
    },
  );

  function sink(
    p: PrometheusRw,
    options: Record<string, unknown>,
  ): { sink: PushSink; ctx: ComponentContext } {
    const ctx = testContext({ clock: systemClock, type: 'prometheus_remote_write' });
    const s = createRemoteWriteSink(
      parseConfig(schema, { urls: [p.writeUrl], flush_interval: '100ms', ...options }),
      ctx,
    );
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
        summary: oneToTenSummary(),
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
   * Outages, as the fault tests of every push sink run them (src/testing/push.ts): Prometheus is
   * stopped with nothing in flight, and writes go on while it starts (and answers 503 until its
   * WAL is replayed).
   */
  function promServer(p: PrometheusRw): OutageServer {
    return {
      name: 'Prometheus',
      stop: () => p.stop(),
      start: () => p.start(),
      stopping: { timeoutMs: 20_000 },
      writeWhileStarting: true,
      drainTimeoutMs: 30_000,
    };
  }

  /** Point i has value i and a timestamp of its own (the wall clock, strictly increasing), kept in `expected`. */
  function points(name: string): { point: (i: number) => Metric[]; expected: Map<number, string> } {
    const expected = new Map<number, string>();
    let last = 0;
    const point = (i: number): Metric[] => {
      const ts = Math.max(Date.now(), last + 1);
      last = ts;
      expected.set(ts, String(i));
      return [{ kind: 'gauge', name, tags: makeTags({ test: name }), value: i, timestamp: ts }];
    };
    return { point, expected };
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
    const { point, expected } = points('fault_roomy');
    const { timer } = await outage(t, s, ctx, promServer(p), point, {
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
    const { point, expected } = points('fault_tiny');
    const { timer } = await outage(t, s, ctx, promServer(p), point, {
      before: 4,
      during: 30,
      after: 4,
      everyMs: 40,
      outageMs: 1500,
    });
    const dropped = assertBufferDrops(ctx, expected.size);
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

/**
 * One sink, two real Prometheus servers (`urls` with both): fanout gives each every sample,
 * spread gives each sample to one of them, and in fanout a server stopped under traffic holds
 * back nothing for the other and catches up after its restart. Also what a receiver makes of a
 * batch sent twice, which at-least-once delivery can do.
 */
describe('prometheus_remote_write into two real Prometheus servers', { skip, timeout: 300_000 }, () => {
  let tmp = '';
  let proms: PrometheusRw[] = [];
  const { ready, sinks } = sharedServer(
    async (): Promise<[PrometheusRw, PrometheusRw]> => {
      servers.assertInstalled();
      tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-rw2-'));
      proms = await startPrometheusServers(servers.paths.prometheus as string, tmp, 2);
      return [proms[0] as PrometheusRw, proms[1] as PrometheusRw];
    },
    async () => {
      for (const p of proms) await p.stop();
      if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
    },
  );

  function sink(options: Record<string, unknown>): { sink: PushSink; ctx: ComponentContext } {
    const ctx = testContext({ clock: systemClock, type: 'prometheus_remote_write' });
    const s = createRemoteWriteSink(
      parseConfig(schema, { urls: proms.map((p) => p.writeUrl), flush_interval: '100ms', ...options }),
      ctx,
    );
    sinks.push(s);
    return { sink: s, ctx };
  }

  const label = (p: PrometheusRw): { endpoint: string } => ({ endpoint: `127.0.0.1:${p.port}` });

  async function stored(p: PrometheusRw, name: string): Promise<Map<number, string>> {
    const series = await p.range(name, Date.now() + 1000);
    assert.ok(series.length <= 1, `one series: ${JSON.stringify(series.map((x) => x.labels))}`);
    return new Map(series[0]?.samples ?? []);
  }

  /** Writes `count` points of a delta counter `name`, one per `everyMs`; the expected running totals. */
  async function writeCounter(
    s: PushSink,
    name: string,
    count: number,
    everyMs: number,
    during?: (i: number) => Promise<void>,
  ): Promise<Map<number, string>> {
    const expected = new Map<number, string>();
    let last = 0;
    let total = 0;
    for (let i = 0; i < count; i++) {
      await during?.(i);
      const ts = Math.max(Date.now(), last + 1);
      last = ts;
      total += i + 1;
      expected.set(ts, String(total));
      s.write([
        {
          kind: 'counter',
          temporality: 'delta',
          name,
          tags: makeTags({ test: name }),
          value: i + 1,
          intervalMs: everyMs,
          timestamp: ts,
        },
      ]);
      if (everyMs > 0) await new Promise((r) => setTimeout(r, everyMs));
    }
    return expected;
  }

  test('fanout: both servers hold every sample, with the same running totals', async () => {
    const [a, b] = ready();
    const { sink: s, ctx } = sink({ mode: 'fanout', batch_size: 7 });
    await s.start();
    const expected = await writeCounter(s, 'fan', 60, 5);
    await waitFor(() => (stat(ctx, 'points_sent') === 2 * expected.size ? true : undefined), {
      timeoutMs: 20_000,
      what: 'every point delivered to both',
      describe: () => `sent ${stat(ctx, 'points_sent')} of ${2 * expected.size}`,
    });
    assert.equal(stat(ctx, 'points_sent', label(a)), expected.size);
    assert.equal(stat(ctx, 'points_sent', label(b)), expected.size);
    assert.equal(stat(ctx, 'dropped_metrics'), 0);
    assert.deepEqual(await stored(a, 'fan_total'), expected);
    assert.deepEqual(await stored(b, 'fan_total'), expected);
  });

  test('spread: the two servers together hold every sample exactly once', async (t) => {
    const [a, b] = ready();
    const { sink: s, ctx } = sink({ mode: 'spread', batch_size: 5 });
    await s.start();
    const expected = await writeCounter(s, 'spread', 100, 2);
    await waitFor(() => (stat(ctx, 'points_sent') === expected.size ? true : undefined), {
      timeoutMs: 20_000,
      what: 'every point delivered once',
      describe: () => `sent ${stat(ctx, 'points_sent')} of ${expected.size}`,
    });
    const gotA = await stored(a, 'spread_total');
    const gotB = await stored(b, 'spread_total');
    assert.equal(stat(ctx, 'points_sent', label(a)), gotA.size);
    assert.equal(stat(ctx, 'points_sent', label(b)), gotB.size);
    t.diagnostic(`${expected.size} samples: ${gotA.size} on A, ${gotB.size} on B`);
    assert.ok(gotA.size > 0 && gotB.size > 0, `both took batches (${gotA.size} and ${gotB.size})`);
    for (const ts of gotA.keys()) assert.ok(!gotB.has(ts), `sample at ${ts} stored on both`);
    assert.deepEqual(new Map([...gotA, ...gotB].sort((x, y) => x[0] - y[0])), expected);
    assert.equal(stat(ctx, 'dropped_metrics'), 0);
  });

  test('fanout with one server stopped under traffic: the other gets everything, the stopped one catches up', async (t) => {
    const [a, b] = ready();
    const { sink: s, ctx } = sink({
      mode: 'fanout',
      flush_interval: '100ms',
      retry_initial: '100ms',
      max_retry_interval: '500ms',
      timeout: '2s',
    });
    await s.start();
    const expected = new Map<number, string>();
    let last = 0;
    const w = new PointWriter(
      s,
      (i) => {
        const ts = Math.max(Date.now(), last + 1);
        last = ts;
        expected.set(ts, String(i));
        return [{ kind: 'gauge', name: 'fan_fault', tags: [], value: i, timestamp: ts }];
      },
      40,
    );

    await w.count(10);
    await b.stop();
    const stoppedAt = Date.now();
    const sentToB = stat(ctx, 'points_sent', label(b));
    // Two seconds of outage: A must keep up with the writes throughout.
    await w.until(() => Date.now() - stoppedAt >= 2000);
    await waitFor(
      () =>
        stat(ctx, 'points_sent', label(a)) === w.written && inFlight(ctx, w.written, label(a)) === 0
          ? true
          : undefined,
      {
        timeoutMs: 5000,
        intervalMs: 20,
        what: 'A to have everything while B is down',
        describe: () => `A: sent ${stat(ctx, 'points_sent', label(a))} of ${w.written}`,
      },
    );
    assert.equal(stat(ctx, 'points_sent', label(b)), sentToB, 'nothing delivered to B while it was down');
    assert.ok(stat(ctx, 'buffered_points', label(b)) > 0, 'B has a backlog');
    assert.ok(stat(ctx, 'retries', label(b)) > 0);
    assert.equal(stat(ctx, 'retries', label(a)), 0, 'A never failed');
    assert.equal(stat(ctx, 'endpoint_up', label(b)), 0);
    assert.equal(stat(ctx, 'endpoint_up', label(a)), 1);
    assert.deepEqual(await stored(a, 'fan_fault'), expected, 'A holds every sample while B is down');
    // Writes go on while B restarts and replays its WAL.
    await w.during(b.start());
    const downMs = Date.now() - stoppedAt;
    await w.count(10);
    const { written, timer } = w;
    for (const p of [a, b])
      await waitDrained(ctx, written, {
        timeoutMs: 30_000,
        labels: label(p),
        what: `the backlog for ${label(p).endpoint} delivered`,
      });
    t.diagnostic(
      `${written} points written, B down ${downMs} ms; write(): max ${timer.max.toFixed(3)} ms; ` +
        `retries to B ${stat(ctx, 'retries', label(b))}`,
    );
    assert.equal(stat(ctx, 'dropped_metrics'), 0);
    assert.equal(stat(ctx, 'points_sent', label(a)), written);
    assert.equal(stat(ctx, 'points_sent', label(b)), written);
    assert.deepEqual(await stored(a, 'fan_fault'), expected);
    assert.deepEqual(await stored(b, 'fan_fault'), expected, 'B caught up on everything');
    assert.ok(timer.max < 50, `write() took up to ${timer.max} ms`);
  });

  test('a batch sent twice: Prometheus ignores a repeated latest sample, and refuses older ones with 400', async () => {
    const [a] = ready();
    const url = parseRemoteWriteUrl(a.writeUrl) as RemoteWriteUrl;
    const transport = new HttpTransport(
      { endpoint: url, label: `127.0.0.1:${a.port}`, addresses: ['127.0.0.1'] },
      { headers: { 'Content-Encoding': 'snappy', 'Content-Type': 'application/x-protobuf' } },
    );
    const t0 = Date.now();
    const request = (...parts: Uint8Array[]) => ({
      records: parts,
      sizes: parts.map((p) => p.length),
      points: parts.length,
      bytes: parts.reduce((n, p) => n + p.length, 0),
    });
    const one = encodeTimeSeries({
      labels: [['__name__', 'dup_one']],
      samples: [{ value: 1, timestamp: t0 }],
    });
    const two = encodeTimeSeries({
      labels: [['__name__', 'dup_two']],
      samples: [
        { value: 1, timestamp: t0 },
        { value: 2, timestamp: t0 + 1 },
      ],
    });
    const fresh = encodeTimeSeries({
      labels: [['__name__', 'dup_fresh']],
      samples: [{ value: 5, timestamp: t0 }],
    });
    try {
      // A series' latest sample again, same value: accepted (2xx) and stored once.
      await transport.send(request(one));
      await transport.send(request(one));
      // Older samples again: "out of order sample", a 400, which the sink drops as rejected.
      await transport.send(request(two));
      await assert.rejects(transport.send(request(two)), (e: unknown) => {
        assert.ok(e instanceof PushRejected, String(e));
        assert.match(e.message, /^HTTP 400: .*out of order/);
        return true;
      });
      // And the whole request is refused: a new series sent with an out-of-order sample is not stored.
      await assert.rejects(transport.send(request(fresh, two)), PushRejected);
    } finally {
      await transport.close();
    }
    assert.deepEqual([...(await stored(a, 'dup_one'))], [[t0, '1']]);
    assert.deepEqual(
      [...(await stored(a, 'dup_two'))],
      [
        [t0, '1'],
        [t0 + 1, '2'],
      ],
    );
    assert.deepEqual([...(await stored(a, 'dup_fresh'))], []);
  });
});
