/**
 * The statsd sink against an upstream that goes away under traffic. The upstream is sluice's own
 * statsd source, in process, on loopback (a real server: the same code that serves StatsD in
 * production), stopped and restarted on the same port while writes continue.
 *
 * Each point is the counter `fault` with its own `seq` tag and the value 1, so the upstream's
 * totals say exactly which points arrived, and how many times. As in the graphite fault tests,
 * the upstream is stopped only once everything sent so far has arrived and nothing is buffered
 * or in flight: a protocol without acknowledgements cannot tell the sink what a dying server
 * did not read, and that is the server's loss, not the sink's.
 */
import assert from 'node:assert/strict';
import { after, describe, test, type TestContext } from 'node:test';
import { systemClock } from '../../core/clock.js';
import type { ComponentContext } from '../../core/component.js';
import type { Metric } from '../../core/metric.js';
import { parseConfig } from '../../testing/config.js';
import { testContext } from '../../testing/context.js';
import { freePort, waitFor } from '../../testing/processes.js';
import { assertBufferDrops, outage, stat, WriteTimer, type OutagePlan } from '../../testing/push.js';
import { StatsdUpstream } from '../../testing/statsd-upstream.js';
import { createStatsdSink, type StatsdRelaySink } from './relay.js';
import { schema } from './schema.js';

function point(seq: number): Metric {
  return {
    kind: 'counter',
    temporality: 'delta',
    name: 'fault',
    tags: [['seq', String(seq)]],
    value: 1,
    intervalMs: 1000,
    timestamp: Date.now(),
  };
}

const sinks: StatsdRelaySink[] = [];
const upstreams: StatsdUpstream[] = [];
after(async () => {
  for (const s of sinks) await s.stop();
  for (const u of upstreams) await u.stop();
});

async function setup(
  transport: 'tcp' | 'udp',
  options: Record<string, unknown>,
): Promise<{ up: StatsdUpstream; sink: StatsdRelaySink; ctx: ComponentContext }> {
  const port = await freePort(transport);
  const up = new StatsdUpstream(`${transport}://127.0.0.1:${port}`);
  upstreams.push(up);
  await up.start();
  const ctx = testContext({ clock: systemClock, type: 'statsd' });
  const sink = createStatsdSink(
    parseConfig(schema, {
      transport,
      endpoints: [`127.0.0.1:${port}`],
      flush_interval: '100ms',
      retry_initial: '100ms',
      max_retry_interval: '500ms',
      timeout: '2s',
      ...options,
    }),
    ctx,
  );
  sinks.push(sink);
  await sink.start();
  return { up, sink, ctx };
}

/** The seq values the upstream counted, with how many times each. */
function received(up: StatsdUpstream): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of up.metrics()) {
    if (m.kind !== 'counter' || m.name !== 'fault') continue;
    const seq = Number(m.tags.find((t) => t[0] === 'seq')?.[1]);
    out.set(seq, (out.get(seq) ?? 0) + m.value);
  }
  return out;
}

/**
 * One outage, as the fault tests of every push sink run them (src/testing/push.ts), the upstream
 * stopped once it has counted every point sent; then it must count every point sent after.
 */
async function upstreamOutage(
  t: TestContext,
  up: StatsdUpstream,
  sink: StatsdRelaySink,
  ctx: ComponentContext,
  plan: OutagePlan,
): Promise<{ written: number; timer: WriteTimer; downMs: number }> {
  const server = {
    name: 'the upstream',
    stop: () => up.stop(),
    start: () => up.start(),
    stopping: {
      timeoutMs: 10_000,
      holds: (sent: number) => received(up).size === sent,
      describe: () => `received ${received(up).size}`,
    },
    drainTimeoutMs: 20_000,
  };
  const result = await outage(t, sink, ctx, server, (i) => [point(i)], plan);
  const sent = stat(ctx, 'points_sent');
  await waitFor(() => (received(up).size === sent ? true : undefined), {
    timeoutMs: 10_000,
    what: 'the upstream to count every point sent',
    describe: () => `received ${received(up).size} of ${sent}`,
  });
  return result;
}

describe('statsd sink, upstream stopped and restarted under traffic', { timeout: 120_000 }, () => {
  test('tcp: nothing lost while the buffer has room, and write() never waits', async (t) => {
    const { up, sink, ctx } = await setup('tcp', {});
    const { written, timer, downMs } = await upstreamOutage(t, up, sink, ctx, {
      before: 10,
      during: 40,
      after: 10,
      everyMs: 25,
      outageMs: 2000, // twenty flush intervals of the sink, and of the upstream
    });
    assert.ok(downMs >= 2000);
    assert.equal(stat(ctx, 'dropped_metrics'), 0);
    assert.equal(stat(ctx, 'points_sent'), written);
    const got = received(up);
    for (let seq = 0; seq < written; seq++) assert.equal(got.get(seq), 1, `point ${seq} arrived once`);
    assert.ok(timer.max < 50, `write() took up to ${timer.max} ms`);
  });

  test('tcp, tiny buffer: the drop counter is exactly what the upstream is missing', async (t) => {
    const { up, sink, ctx } = await setup('tcp', { buffer_points: 8, batch_size: 4 });
    const { written, timer } = await upstreamOutage(t, up, sink, ctx, {
      before: 4,
      during: 60,
      after: 4,
      everyMs: 25,
      outageMs: 1500,
    });
    const dropped = assertBufferDrops(ctx, written);
    const got = received(up);
    const lost: number[] = [];
    for (let seq = 0; seq < written; seq++) {
      if (!got.has(seq)) lost.push(seq);
      else assert.equal(got.get(seq), 1, `point ${seq} arrived once`);
    }
    assert.equal(lost.length, dropped, 'the drop counter equals what is missing');
    // The oldest go first: what is missing is one run, and everything after it arrived.
    assert.deepEqual(
      lost,
      Array.from({ length: lost.length }, (_, k) => (lost[0] as number) + k),
    );
    assert.ok(timer.max < 50, `write() took up to ${timer.max} ms`);
  });

  test('udp: the outage is invisible to the sender, and what it sent meanwhile is lost', async () => {
    const { up, sink, ctx } = await setup('udp', {});
    const timer = new WriteTimer();
    for (let seq = 0; seq < 5; seq++) timer.write(sink, [point(seq)]);
    await waitFor(() => (received(up).size === 5 ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the first points',
    });
    await up.stop();
    for (let seq = 5; seq < 10; seq++) timer.write(sink, [point(seq)]);
    await waitFor(() => (stat(ctx, 'points_sent') === 10 ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the sink to count the points sent into the void',
    });
    assert.equal(stat(ctx, 'retries'), 0, 'no send failed');
    assert.equal(stat(ctx, 'endpoint_up'), 1);
    await up.start();
    for (let seq = 10; seq < 15; seq++) timer.write(sink, [point(seq)]);
    await waitFor(() => (received(up).size === 10 ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the points sent after the restart',
    });
    assert.deepEqual(
      [...received(up).keys()].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 10, 11, 12, 13, 14],
    );
  });
});
