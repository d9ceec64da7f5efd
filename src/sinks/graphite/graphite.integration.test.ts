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
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Issue } from '../../config/schema.js';
import { systemClock } from '../../core/clock.js';
import type { ComponentContext } from '../../core/component.js';
import type { Metric } from '../../core/metric.js';
import { makeTags } from '../../core/tags.js';
import { testContext } from '../../testing/context.js';
import { stat, WriteTimer } from '../../testing/push.js';
import {
  freePort,
  serverPrograms,
  startProcess,
  waitFor,
  type RunningProcess,
} from '../../testing/processes.js';
import type { PushSink } from '../push/push.js';
import { createGraphiteSink } from './graphite.js';
import { schema, type GraphiteConfig } from './schema.js';

const servers = serverPrograms(
  ['carbon-cache', 'whisper-fetch'],
  'apt-get install graphite-carbon python3-whisper',
);
const carbonBin = servers.paths['carbon-cache'];
const whisperFetchBin = servers.paths['whisper-fetch'];
const skip = servers.skip;

const STEP = 10; // seconds per whisper point (retentions = 10s:1h)
const NOW = Math.floor(Date.now() / 1000 / STEP) * STEP;

/** A carbon-cache of our own: a config directory, a storage directory, a free line port. */
class Carbon {
  process: RunningProcess | undefined;
  readonly conf: string;
  readonly whisper: string;
  starts = 0;

  constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    this.conf = path.join(dir, 'conf');
    this.whisper = path.join(dir, 'storage', 'whisper');
    for (const d of [this.conf, this.whisper, path.join(dir, 'log'), path.join(dir, 'pid')])
      mkdirSync(d, { recursive: true });
    writeFileSync(
      path.join(this.conf, 'carbon.conf'),
      [
        '[cache]',
        `STORAGE_DIR = ${path.join(dir, 'storage')}/`,
        `LOCAL_DATA_DIR = ${this.whisper}/`,
        `CONF_DIR = ${this.conf}/`,
        `LOG_DIR = ${path.join(dir, 'log')}/`,
        `PID_DIR = ${path.join(dir, 'pid')}/`,
        'DATABASE = whisper',
        // Run as whoever runs the tests (the Debian default would switch to _graphite).
        'USER =',
        'MAX_CACHE_SIZE = inf',
        'MAX_UPDATES_PER_SECOND = inf',
        'MAX_CREATES_PER_MINUTE = inf',
        'WHISPER_AUTOFLUSH = True',
        'LINE_RECEIVER_INTERFACE = 127.0.0.1',
        `LINE_RECEIVER_PORT = ${this.port}`,
        'ENABLE_UDP_LISTENER = False',
        // Port 0 disables the pickle receiver; the cache query port takes any free port.
        'PICKLE_RECEIVER_INTERFACE = 127.0.0.1',
        'PICKLE_RECEIVER_PORT = 0',
        'CACHE_QUERY_INTERFACE = 127.0.0.1',
        'CACHE_QUERY_PORT = 0',
        // Tagged series are stored under _tagged/ whatever this says; the tag database it
        // feeds is graphite-web's, which this test does not run.
        'ENABLE_TAGS = False',
        'LOG_LISTENER_CONN_SUCCESS = True',
        '',
      ].join('\n'),
    );
    writeFileSync(
      path.join(this.conf, 'storage-schemas.conf'),
      ['[everything]', 'pattern = .*', `retentions = ${STEP}s:1h`, ''].join('\n'),
    );
    writeFileSync(path.join(this.conf, 'storage-aggregation.conf'), '');
  }

  async start(): Promise<void> {
    const p = startProcess(
      carbonBin as string,
      [`--config=${path.join(this.conf, 'carbon.conf')}`, '--nodaemon', 'start'],
      { cwd: this.dir },
    );
    this.process = p;
    this.starts++;
    await p.waitForStdout((out) => out.includes(`CarbonReceiverFactory starting on ${this.port}`), 30_000);
  }

  async stop(): Promise<void> {
    const p = this.process;
    this.process = undefined;
    if (p !== undefined) await p.stop('SIGTERM', 20_000);
  }

  /** The whisper file of a plain path or a tagged series (carbon's TaggedSeries.encode). */
  file(series: string): string {
    if (!series.includes(';')) return path.join(this.whisper, ...series.split('.')) + '.wsp';
    const hash = createHash('sha256').update(series).digest('hex');
    return path.join(this.whisper, '_tagged', hash.slice(0, 3), hash.slice(3, 6), `${hash}.wsp`);
  }

  /**
   * The points of a whisper file, by timestamp: the header is 16 bytes (aggregation, max
   * retention, xFilesFactor, archive count), then 12 per archive (offset, seconds per point,
   * points); each point is a u32 timestamp and a double, big-endian (whisper.py's formats).
   */
  read(series: string): Map<number, number> {
    const out = new Map<number, number>();
    const file = this.file(series);
    if (!existsSync(file)) return out;
    const buf = readFileSync(file);
    const offset = buf.readUInt32BE(16);
    const points = buf.readUInt32BE(24);
    for (let i = 0; i < points; i++) {
      const at = offset + i * 12;
      if (at + 12 > buf.length) break;
      const ts = buf.readUInt32BE(at);
      if (ts !== 0) out.set(ts, buf.readDoubleBE(at + 4));
    }
    return out;
  }

  /** whisper-fetch's answer for [from, until]: timestamp → value, nulls left out. */
  fetch(series: string, from: number, until: number): Promise<Map<number, number>> {
    return new Promise((resolve, reject) => {
      execFile(
        whisperFetchBin as string,
        ['--json', `--from=${from}`, `--until=${until}`, this.file(series)],
        { timeout: 20_000 },
        (error, stdout, stderr) => {
          if (error !== null) {
            reject(new Error(`whisper-fetch ${series} failed: ${error.message}\n${stderr}`));
            return;
          }
          const json = JSON.parse(stdout) as { start: number; step: number; values: (number | null)[] };
          const out = new Map<number, number>();
          json.values.forEach((v, i) => {
            if (v !== null) out.set(json.start + i * json.step, v);
          });
          resolve(out);
        },
      );
    });
  }

  /** Waits until the file holds `expected` (every timestamp, exactly those values). */
  async waitForPoints(series: string, expected: Map<number, number>, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      () => {
        const got = this.read(series);
        for (const [ts, v] of expected) if (got.get(ts) !== v) return undefined;
        return true;
      },
      {
        timeoutMs,
        intervalMs: 50,
        what: `${expected.size} points in ${this.file(series)}`,
        describe: () =>
          `${JSON.stringify([...this.read(series)])}\ncarbon: ${this.process?.stdout().slice(-1500)}`,
        failIf: () => this.process?.diedReason(),
      },
    );
  }
}

function gauge(name: string, value: number, tags: Record<string, string>, timestamp: number): Metric {
  return { kind: 'gauge', name, tags: makeTags(tags), value, timestamp: timestamp * 1000 };
}

function config(options: Record<string, unknown>): GraphiteConfig {
  const issues: Issue[] = [];
  const parsed = schema.parse(options, [], issues);
  assert.deepEqual(issues, []);
  return parsed as GraphiteConfig;
}

describe('graphite sink into a real carbon-cache', { skip, timeout: 240_000 }, () => {
  let tmp = '';
  let carbon: Carbon | undefined;
  const sinks: PushSink[] = [];

  // A failing `before` only cancels the tests; rethrowing from each test makes it a failure.
  let setupError: unknown;
  function ready(): Carbon {
    if (setupError !== undefined) throw setupError;
    return carbon as Carbon;
  }

  before(async () => {
    try {
      servers.assertInstalled();
      tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-carbon-'));
      carbon = new Carbon(tmp, await freePort('tcp'));
      await carbon.start();
    } catch (e) {
      setupError = e;
    }
  });

  after(async () => {
    for (const sink of sinks) await sink.stop();
    await carbon?.stop().catch(() => carbon?.process?.kill());
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  });

  function sink(options: Record<string, unknown>): { sink: PushSink; ctx: ComponentContext } {
    const c = ready();
    const ctx = testContext({ clock: systemClock, type: 'graphite' });
    const s = createGraphiteSink(
      config({ endpoints: [`127.0.0.1:${c.port}`], flush_interval: '100ms', ...options }),
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
          quantiles: [{ quantile: 0.9, value: 9, count: 9, sum: 45, mean: 5 }],
        },
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
   * Runs one outage: `before` points are written every `everyMs` and delivered; carbon is
   * stopped; `during` more points are written while it is down, for at least `outageMs`; carbon
   * is restarted and `after` more are written. Point i goes to its own whisper slot with the
   * value i. Returns what was written.
   */
  async function outage(
    t: TestContext,
    c: Carbon,
    s: PushSink,
    ctx: ComponentContext,
    series: string,
    plan: { before: number; during: number; after: number; everyMs: number; outageMs: number },
  ): Promise<{ expected: Map<number, number>; timer: WriteTimer; base: number; downMs: number }> {
    const base = NOW - 3500;
    const expected = new Map<number, number>();
    const timer = new WriteTimer();
    let written = 0;
    const writeOne = (): void => {
      const ts = base + written * STEP;
      expected.set(ts, written);
      timer.write(s, [gauge(series, written, {}, ts)]);
      written++;
    };
    const tick = (): Promise<void> => new Promise((r) => setTimeout(r, plan.everyMs));
    const inFlight = (): number =>
      written - stat(ctx, 'points_sent') - stat(ctx, 'buffered_points') - stat(ctx, 'dropped_metrics');

    while (written < plan.before) {
      writeOne();
      await tick();
    }
    // Writes pause while carbon shuts down: it would lose what it received in its last second
    // itself. Once everything sent is on disk and nothing is buffered or on the wire, stop it.
    await waitFor(
      () => {
        const sent = stat(ctx, 'points_sent');
        if (sent !== written || stat(ctx, 'buffered_points') !== 0 || inFlight() !== 0) return undefined;
        const onDisk = c.read(series);
        for (let i = 0; i < sent; i++) if (onDisk.get(base + i * STEP) !== i) return undefined;
        return true;
      },
      {
        timeoutMs: 30_000,
        intervalMs: 20,
        what: 'carbon to have written every point sent so far',
        describe: () => `sent ${stat(ctx, 'points_sent')} of ${written}, on disk ${c.read(series).size}`,
      },
    );
    const sentBefore = stat(ctx, 'points_sent');
    await c.stop();
    const stoppedAt = Date.now();
    const target = written + plan.during;
    while (written < target || Date.now() - stoppedAt < plan.outageMs) {
      writeOne();
      await tick();
    }
    assert.equal(stat(ctx, 'points_sent'), sentBefore, 'nothing was delivered while carbon was down');
    assert.ok(stat(ctx, 'retries') > 0, 'sends failed and were retried while carbon was down');
    assert.equal(stat(ctx, 'endpoint_up'), 0);
    await c.start();
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
      `${written} points written, carbon down ${downMs} ms; write(): max ${timer.max.toFixed(3)} ms, ` +
        `p99 ${timer.quantile(0.99).toFixed(3)} ms over ${timer.samples.length} calls; ` +
        `retries ${stat(ctx, 'retries')}, dropped ${stat(ctx, 'dropped_metrics')}`,
    );
    return { expected, timer, base, downMs };
  }

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
    const { expected, timer, base } = await outage(t, c, s, ctx, series, {
      before: 10,
      during: 20,
      after: 10,
      everyMs: 50,
      outageMs: 2000, // eight flush intervals
    });
    assert.equal(stat(ctx, 'dropped_metrics'), 0);
    assert.equal(stat(ctx, 'points_sent'), expected.size);
    await c.waitForPoints(series, expected);
    // The server's own reader agrees, point for point.
    const fetched = await c.fetch(series, base - STEP, base + expected.size * STEP);
    assert.deepEqual(fetched, expected);
    assert.ok(timer.max < 50, `write() took up to ${timer.max} ms`);
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
    const { expected, base } = await outage(t, c, s, ctx, series, {
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
    await waitFor(() => (c.read(series).size === stat(ctx, 'points_sent') ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: 'carbon to write every point it received',
      describe: () => `${c.read(series).size} on disk, ${stat(ctx, 'points_sent')} sent`,
    });
    const fetched = await c.fetch(series, base - STEP, base + expected.size * STEP);
    const lost = [...expected.keys()].filter((ts) => !fetched.has(ts));
    assert.equal(lost.length, dropped, 'the drop counter equals what is missing');
    for (const [ts, v] of fetched) assert.equal(v, expected.get(ts), `value at ${ts}`);
    // The oldest points go first: what is missing is one run, and everything after it arrived.
    const lostIdx = lost.map((ts) => (ts - base) / STEP);
    assert.deepEqual(
      lostIdx,
      lostIdx.length === 0
        ? []
        : Array.from({ length: lostIdx.length }, (_, k) => (lostIdx[0] as number) + k),
    );
  });
});
