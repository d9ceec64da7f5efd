// Multi-threaded ingest end to end: real worker threads, real UDP on 127.0.0.1.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { describe, it } from 'node:test';
import type { Issue } from '../../config/schema.js';
import { systemClock } from '../../core/clock.js';
import type { Metric } from '../../core/metric.js';
import { testSourceContext } from '../../testing/context.js';
import type { StatsdSource } from './index.js';
import { statsdSource, type StatsdConfig } from './index.js';
import { claimUdpAddresses, dgramReusePort, IngestWorkerSource } from '../ingest/workers.js';
import { parseListenAddresses } from '../transport/address.js';

function config(overrides: Record<string, unknown> = {}): StatsdConfig {
  const issues: Issue[] = [];
  const c = statsdSource.schema.parse(
    { listen: '127.0.0.1:0', flush_interval: '1h', workers: 2, ...overrides },
    [],
    issues,
  );
  assert.deepEqual(issues, []);
  return c as StatsdConfig;
}

/** `senders` sockets (so, source ports) each send its datagrams; bounded, waits for every send. */
async function sendFromMany(
  port: number,
  senders: number,
  datagrams: (sender: number) => string[],
): Promise<void> {
  await Promise.all(
    Array.from({ length: senders }, async (_, i) => {
      const client = dgram.createSocket('udp4');
      try {
        for (const d of datagrams(i)) {
          await new Promise<void>((resolve, reject) =>
            client.send(Buffer.from(d), port, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
          );
        }
      } finally {
        client.close();
      }
    }),
  );
}

const counterTotal = (metrics: readonly Metric[], name: string): number =>
  metrics.reduce((sum, m) => sum + (m.kind === 'counter' && m.name === name ? m.value : 0), 0);

/** Flushes until `check` holds on everything emitted (bounded): datagrams take a moment to land. */
async function flushUntil(
  source: IngestWorkerSource<StatsdConfig> | StatsdSource,
  metrics: () => Metric[],
  check: (all: Metric[]) => boolean,
  what: string,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    await source.flush();
    if (check(metrics())) return;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const WORKERS = dgramReusePort() ? 2 : 1;

describe(`statsd source on ${WORKERS} ingest worker thread(s)`, () => {
  it('counts every increment from many concurrent senders exactly', async () => {
    const ctx = testSourceContext({ clock: systemClock, type: 'statsd' });
    const source = statsdSource.create(config(), ctx) as IngestWorkerSource<StatsdConfig>;
    assert.ok(source instanceof IngestWorkerSource);
    assert.equal(source.workerCount, WORKERS);
    await source.start();
    try {
      const port = source.port as number;
      const senders = 24;
      const perSender = 150;
      // 5 lines a datagram over 8 tagged series; 24 × 150 × 5 = 18,000 increments.
      await sendFromMany(port, senders, (s) =>
        Array.from({ length: perSender }, (_, j) =>
          Array.from({ length: 5 }, (_, k) => `hits:1|c|#shard:${(s + j + k) % 8}`).join('\n'),
        ),
      );
      const n = senders * perSender * 5;
      await flushUntil(
        source,
        () => ctx.metrics(),
        (all) => counterTotal(all, 'hits') >= n,
        `${n} increments`,
      );
      await source.stop();
      assert.equal(counterTotal(ctx.metrics(), 'hits'), n);
      assert.equal(ctx.stats.total('lines_received'), n);
      assert.equal(ctx.stats.total('lines_lost'), 0);
    } finally {
      await source.stop();
    }
  });

  it('gives timers, sets, histograms and distributions the statistics one thread gives', async () => {
    const lines = (s: number): string[] =>
      Array.from({ length: 40 }, (_, j) =>
        [
          `lat:${(s * 37 + j * 11) % 500}|ms|#route:/a`,
          `users:u${(s * 7 + j) % 50}|s`,
          `size:${(s * 13 + j * 17) % 300}|h`,
          `payload:${1 + ((s * 19 + j * 23) % 1000)}|d`,
          `temp:${s}|g|#sender:${s}`,
        ].join('\n'),
      );
    const run = async (workers: number): Promise<Metric[]> => {
      const ctx = testSourceContext({ clock: systemClock, type: 'statsd' });
      const source = statsdSource.create(
        config({ workers, histogram_bins: { default: [10, 100, 1000] } }),
        ctx,
      ) as IngestWorkerSource<StatsdConfig> | StatsdSource;
      await source.start();
      try {
        await sendFromMany(source.port as number, 12, lines);
        await flushUntil(
          source,
          () => ctx.metrics(),
          () => ctx.stats.total('lines_received') >= 12 * 40 * 5,
          'every line',
        );
      } finally {
        await source.stop();
      }
      assert.equal(ctx.stats.total('lines_received'), 12 * 40 * 5);
      return ctx.metrics();
    };
    const merged = (ms: Metric[]): Map<string, unknown> => {
      const out = new Map<string, unknown>();
      for (const m of ms) {
        const key = m.name + JSON.stringify(m.tags);
        if (m.kind === 'summary') {
          // Intervals may cut the stream differently: compare what both saw in total.
          const prev = (out.get(key) as number[] | undefined) ?? [0, 0];
          out.set(key, [prev[0]! + m.summary.count, prev[1]! + m.summary.sum]);
        } else if (m.kind === 'histogram') {
          const prev = (out.get(key) as number[] | undefined) ?? m.histogram.bins.map(() => 0);
          out.set(
            key,
            m.histogram.bins.map((b, i) => prev[i]! + b.count),
          );
        } else if (m.kind === 'distribution') {
          out.set(key, ((out.get(key) as number | undefined) ?? 0) + m.distribution.count);
        } else if (m.kind === 'gauge' && m.name === 'temp') {
          out.set(key, m.value);
        }
      }
      return out;
    };
    const one = merged(await run(0));
    const many = merged(await run(2));
    assert.deepEqual(many, one);
  });

  it('shares one series budget between its workers: every line accepted or counted as refused', async () => {
    const ctx = testSourceContext({ clock: systemClock, type: 'statsd' });
    const source = statsdSource.create(config({ max_series: 40 }), ctx) as IngestWorkerSource<StatsdConfig>;
    await source.start();
    try {
      // 16 senders, 25 distinct series each: 400 series asked for, 40 may exist.
      await sendFromMany(source.port as number, 16, (s) =>
        Array.from({ length: 25 }, (_, j) => `made:1|c|#sender:${s},n:${j}`),
      );
      await flushUntil(
        source,
        () => ctx.metrics(),
        () => ctx.stats.total('lines_received') >= 400,
        'every line',
      );
      await source.stop();
      const made = ctx.metrics().filter((m) => m.name === 'made');
      const series = new Set(made.map((m) => JSON.stringify(m.tags)));
      assert.equal(series.size, 40);
      assert.equal(counterTotal(made, 'made'), 40);
      assert.equal(ctx.stats.total('lines_rejected'), 360);
    } finally {
      await source.stop();
    }
  });

  it('restarts a killed worker, counts what it held as lost, and keeps the others exact', async () => {
    const ctx = testSourceContext({ clock: systemClock, type: 'statsd' });
    const source = statsdSource.create(config(), ctx) as IngestWorkerSource<StatsdConfig>;
    await source.start();
    try {
      const port = source.port as number;
      const burst = (tag: string): Promise<void> =>
        sendFromMany(port, 16, () => Array.from({ length: 50 }, () => `jobs:1|c|#burst:${tag}`));
      await burst('one');
      // Every line in a worker's aggregates (none left in a socket buffer) before the kill.
      const deadline = Date.now() + 15_000;
      while (ctx.stats.total('lines_received') < 800) {
        if (Date.now() > deadline) assert.fail('the first burst never arrived');
        await new Promise((r) => setTimeout(r, 20));
      }
      await source.killWorker(WORKERS - 1);
      const restarted = Date.now() + 15_000;
      while (ctx.stats.total('worker_restarts') < 1 || ctx.stats.total('lines_lost') === 0) {
        if (Date.now() > restarted) assert.fail('the killed worker was not counted');
        await new Promise((r) => setTimeout(r, 20));
      }
      const lost = ctx.stats.total('lines_lost');
      assert.ok(lost > 0 && lost <= 800, `lost ${lost}`);
      // Back to full strength before the second burst (the restart waits out its backoff).
      const back = Date.now() + 15_000;
      while (Date.now() < back && !(await workersRunning(source, WORKERS)))
        await new Promise((r) => setTimeout(r, 50));
      await burst('two');
      await flushUntil(
        source,
        () => ctx.metrics(),
        (all) => counterTotal(all, 'jobs') >= 1600 - lost,
        'the second burst',
      );
      await source.stop();
      const all = ctx.metrics();
      assert.equal(counterTotal(all, 'jobs'), 1600 - lost);
      const second = all.filter(
        (m) => m.kind === 'counter' && m.tags.some(([k, v]) => k === 'burst' && v === 'two'),
      );
      assert.equal(counterTotal(second, 'jobs'), 800);
    } finally {
      await source.stop();
    }
  });
});

async function workersRunning(source: IngestWorkerSource<StatsdConfig>, n: number): Promise<boolean> {
  return source.runningWorkers() === n;
}

describe('a port another process holds', () => {
  /** Binds a socket on a free loopback port, with SO_REUSEPORT when asked. */
  async function holder(reusePort: boolean): Promise<{ port: number; close: () => Promise<void> }> {
    const socket = dgram.createSocket({
      type: 'udp4',
      ...(reusePort ? { reusePort: true } : {}),
    } as dgram.SocketOptions);
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return { port: socket.address().port, close: () => new Promise<void>((r) => socket.close(() => r())) };
  }

  const cases = dgramReusePort() ? [false, true] : [false];
  for (const reusePort of cases) {
    it(`is refused with a clear message before any worker binds it (holder ${reusePort ? 'with' : 'without'} SO_REUSEPORT)`, async () => {
      const held = await holder(reusePort);
      try {
        const parsed = parseListenAddresses(`udp://127.0.0.1:${held.port}`);
        assert.ok(parsed.ok);
        await assert.rejects(
          claimUdpAddresses(parsed.value),
          new RegExp(`Could not listen on udp://127\\.0\\.0\\.1:${held.port}: another process`),
        );
        if (WORKERS > 1) {
          // With SO_REUSEPORT the workers' own binds would have joined the holder's port.
          const source = statsdSource.create(
            config({ listen: `127.0.0.1:${held.port}` }),
            testSourceContext(),
          );
          await assert.rejects((source as IngestWorkerSource<StatsdConfig>).start(), /another process/);
        }
      } finally {
        await held.close();
      }
    });
  }
});
