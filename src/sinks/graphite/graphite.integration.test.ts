/**
 * The graphite sink against a real carbon-cache: each test writes through the sink and reads the
 * whisper files carbon wrote back, with whisper-fetch (the storage's own reader) and, to poll
 * cheaply, by parsing the whisper format directly. Then carbon is stopped and restarted while
 * writes continue. Needs `carbon-cache` and `whisper-fetch` on PATH (Debian: apt-get install
 * graphite-carbon python3-whisper); skipped without them, except under CI=true.
 *
 * Carbon's plaintext protocol has no acknowledgements, and carbon-cache itself drops what it
 * received in the second before a SIGTERM (its writer thread sleeps a second when idle and exits
 * with the reactor). The fault tests therefore stop carbon when everything the sink sent is on
 * disk and nothing is buffered or in flight, and write on while it is down and after its restart:
 * what they measure is the sink (the buffer, the retries, the reconnect), not carbon's shutdown.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { systemClock } from '../../core/clock.js';
import type { ComponentContext } from '../../core/component.js';
import type { Metric } from '../../core/metric.js';
import { makeTags } from '../../core/tags.js';
import { Carbon, CARBON_STEP as STEP } from '../../testing/carbon.js';
import { parseConfig } from '../../testing/config.js';
import { testContext } from '../../testing/context.js';
import { freePort, serverPrograms, waitFor } from '../../testing/processes.js';
import { assertBufferDrops, outage, stat, type OutageServer } from '../../testing/push.js';
import { sharedServer } from '../../testing/suite.js';
import type { PushSink } from '../push/push.js';
import { createGraphiteSink } from './graphite.js';
import { schema } from './schema.js';
import { oneToTenSummary } from '../../testing/metrics.js';

const servers = serverPrograms(
  ['carbon-cache', 'whisper-fetch'],
  'apt-get install graphite-carbon python3-whisper',
);
const skip = servers.skip;

const NOW = Math.floor(Date.now() / 1000 / STEP) * STEP;

function gauge(name: string, value: number, tags: Record<string, string>, timestamp: number): Metric {
  return { kind: 'gauge', name, tags: makeTags(tags), value, timestamp: timestamp * 1000 };
}

describe('graphite sink into a real carbon-cache', { skip, timeout: 240_000 }, () => {
  let tmp = '';
  let carbon: Carbon | undefined;
  const { ready, sinks } = sharedServer(
    async () => {
      servers.assertInstalled();
      tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-carbon-'));
      carbon = new Carbon(
        servers.paths['carbon-cache'] as string,
        tmp,
        await freePort('tcp'),
        servers.paths['whisper-fetch'],
      );
      await carbon.start();
      return carbon;
    },
    async () => {
      await carbon?.stop().catch(() => undefined);
      if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
    },
  );

  function sink(options: Record<string, unknown>): { sink: PushSink; ctx: ComponentContext } {
    const c = ready();
    const ctx = testContext({ clock: systemClock, type: 'graphite' });
    const s = createGraphiteSink(
      parseConfig(schema, { endpoints: [`127.0.0.1:${c.port}`], flush_interval: '100ms', ...options }),
      ctx,
    );
    sinks.push(s);
    return { sink: s, ctx };
  }

  test("the bpftrace client's <hostname>.cpu-lat.<bucket> layout", async () => {
    const c = ready();
    const { sink: s, ctx } = sink({ template: '{host}.{name}.{bucket}' });
    await s.start();
    const t = NOW - 600;
    // bpftrace's lower bounds, as the client named them, with counts from interval-hist.log.
    const buckets: [string, number][] = [
      ['0', 2],
      ['1', 0],
      ['2', 2],
      ['4', 0],
      ['8', 3],
      ['16', 7],
      ['1024', 264],
    ];
    s.write(buckets.map(([bucket, count]) => gauge('cpu-lat', count, { host: 'web01', bucket }, t)));
    for (const [bucket, count] of buckets) {
      await c.waitForPoints(`web01.cpu-lat.${bucket}`, new Map([[t, count]]));
      assert.deepEqual(await c.fetch(`web01.cpu-lat.${bucket}`, t - STEP, t + STEP), new Map([[t, count]]));
    }
    assert.equal(stat(ctx, 'points_sent'), buckets.length);
  });

  test('every metric kind, through the default template, with exact values', async () => {
    const c = ready();
    const { sink: s } = sink({});
    await s.start();
    const t = NOW - 590;
    const tags = makeTags({ host: 'web01.example.com', route: '/users' });
    const metrics: Metric[] = [
      {
        kind: 'counter',
        temporality: 'delta',
        name: 'api.requests',
        tags,
        value: 30,
        intervalMs: 10_000,
        timestamp: t * 1000,
      },
      { kind: 'gauge', name: 'queue depth', tags, value: -2.75, timestamp: t * 1000 },
      {
        kind: 'summary',
        name: 'api.latency',
        tags,
        intervalMs: 10_000,
        timestamp: t * 1000,
        summary: oneToTenSummary(),
      },
      {
        kind: 'histogram',
        name: 'api.size',
        tags,
        intervalMs: 10_000,
        timestamp: t * 1000,
        histogram: {
          count: 3,
          sum: 12.5,
          min: 1,
          max: 9,
          bins: [
            { le: 2.5, count: 1, sum: 1, min: 1, max: 1 },
            { le: Infinity, count: 2, sum: 11.5, min: 2.5, max: 9 },
          ],
        },
      },
    ];
    s.write(metrics);
    const want: [string, number][] = [
      ['web01_example_com.api.requests._users.count', 30],
      ['web01_example_com.api.requests._users.rate', 3],
      ['web01_example_com.queue_depth._users.value', -2.75],
      ['web01_example_com.api.latency._users.upper_90', 9],
      ['web01_example_com.api.latency._users.mean', 5.5],
      ['web01_example_com.api.latency._users.std', 2.8722813232690143],
      ['web01_example_com.api.latency._users.count_ps', 1],
      ['web01_example_com.api.size._users.bin_2_5', 1],
      ['web01_example_com.api.size._users.bin_inf', 2],
      ['web01_example_com.api.size._users.sum', 12.5],
    ];
    for (const [series, value] of want) {
      await c.waitForPoints(series, new Map([[t, value]]));
      assert.deepEqual(await c.fetch(series, t - STEP, t + STEP), new Map([[t, value]]), series);
    }
  });

  test('Graphite 1.1 tagged series land under _tagged/', async () => {
    const c = ready();
    const { sink: s } = sink({ template: '{name}.{field}', naming: 'tagged' });
    await s.start();
    const t = NOW - 580;
    s.write([
      gauge('disk.used', 7, { server: 'web01', datacenter: 'dc1', rack: 'a1' }, t),
      gauge('disk.used', 8, { server: 'web02', datacenter: 'dc1', rack: 'a1', fqdn: 'web02.example.com' }, t),
    ]);
    const series1 = 'disk.used.value;datacenter=dc1;rack=a1;server=web01';
    const series2 = 'disk.used.value;datacenter=dc1;fqdn=web02.example.com;rack=a1;server=web02';
    await c.waitForPoints(series1, new Map([[t, 7]]));
    await c.waitForPoints(series2, new Map([[t, 8]]));
    assert.deepEqual(await c.fetch(series2, t - STEP, t + STEP), new Map([[t, 8]]));
    assert.ok(c.file(series1).includes(`${path.sep}_tagged${path.sep}`));
  });

  /**
   * Outages, as the fault tests of every push sink run them (src/testing/push.ts): point i goes to
   * its own whisper slot, base + i steps, with the value i. Writes pause while carbon shuts down:
   * it would lose what it received in its last second itself. Once everything sent is on disk
   * and nothing is buffered or on the wire, it is stopped.
   */
  const BASE = NOW - 3500;
  function carbonServer(c: Carbon, series: string): OutageServer {
    const onDisk = (sent: number): boolean => {
      const points = c.read(series);
      for (let i = 0; i < sent; i++) if (points.get(BASE + i * STEP) !== i) return false;
      return true;
    };
    return {
      name: 'carbon',
      stop: () => c.stop(),
      start: () => c.start(),
      stopping: { timeoutMs: 30_000, holds: onDisk, describe: () => `on disk ${c.read(series).size}` },
      drainTimeoutMs: 30_000,
    };
  }
  const point = (series: string) => (i: number) => [gauge(series, i, {}, BASE + i * STEP)];
  const written = (n: number): Map<number, number> =>
    new Map(Array.from({ length: n }, (_, i) => [BASE + i * STEP, i]));

  test('carbon stopped and restarted under traffic: nothing lost while the buffer has room', async (t) => {
    const c = ready();
    const { sink: s, ctx } = sink({
      template: '{name}',
      flush_interval: '250ms',
      retry_initial: '100ms',
      max_retry_interval: '500ms',
      timeout: '2s',
    });
    await s.start();
    const series = 'fault.roomy';
    const out = await outage(t, s, ctx, carbonServer(c, series), point(series), {
      before: 10,
      during: 20,
      after: 10,
      everyMs: 50,
      outageMs: 2000, // eight flush intervals
    });
    const expected = written(out.written);
    assert.equal(stat(ctx, 'dropped_metrics'), 0);
    assert.equal(stat(ctx, 'points_sent'), expected.size);
    await c.waitForPoints(series, expected);
    // The server's own reader agrees, point for point.
    const fetched = await c.fetch(series, BASE - STEP, BASE + expected.size * STEP);
    assert.deepEqual(fetched, expected);
    assert.ok(out.timer.max < 50, `write() took up to ${out.timer.max} ms`);
  });

  test('with a tiny buffer, the drop counter is exactly what carbon is missing', async (t) => {
    const c = ready();
    const { sink: s, ctx } = sink({
      template: '{name}',
      flush_interval: '250ms',
      retry_initial: '100ms',
      max_retry_interval: '500ms',
      buffer_points: 8,
      batch_size: 4,
    });
    await s.start();
    const series = 'fault.tiny';
    const out = await outage(t, s, ctx, carbonServer(c, series), point(series), {
      before: 4,
      during: 30,
      after: 4,
      everyMs: 40,
      outageMs: 1500,
    });
    const expected = written(out.written);
    const dropped = assertBufferDrops(ctx, expected.size);
    await waitFor(() => (c.read(series).size === stat(ctx, 'points_sent') ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: 'carbon to write every point it received',
      describe: () => `${c.read(series).size} on disk, ${stat(ctx, 'points_sent')} sent`,
    });
    const fetched = await c.fetch(series, BASE - STEP, BASE + expected.size * STEP);
    const lost = [...expected.keys()].filter((ts) => !fetched.has(ts));
    assert.equal(lost.length, dropped, 'the drop counter equals what is missing');
    for (const [ts, v] of fetched) assert.equal(v, expected.get(ts), `value at ${ts}`);
    // The oldest points go first: what is missing is one run, and everything after it arrived.
    const lostIdx = lost.map((ts) => (ts - BASE) / STEP);
    assert.deepEqual(
      lostIdx,
      lostIdx.length === 0
        ? []
        : Array.from({ length: lostIdx.length }, (_, k) => (lostIdx[0] as number) + k),
    );
  });
});
