/**
 * Helpers for push-sink tests: reading a component's stats, timing `write()` calls to show that
 * ingestion never waits on a dead or slow backend, and the outage every push sink's fault tests
 * run against its real server.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { ComponentContext, Sink } from '../core/component.js';
import type { Metric } from '../core/metric.js';
import { waitFor } from './processes.js';

/** Sum of a stat over its labels, or over those matching `labels`. */
export function stat(ctx: ComponentContext, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const m of ctx.stats.toMetrics(0)) {
    if (m.name !== `sluice_${name}`) continue;
    if (!Object.entries(labels).every(([k, v]) => m.tags.some((t) => t[0] === k && t[1] === v))) continue;
    sum += (m as { value: number }).value;
  }
  return sum;
}

/**
 * Of `written` points, those the sink has neither sent, buffered nor dropped: on the wire (or
 * in a transport's hands). Zero with nothing buffered means everything written is accounted for.
 */
export function inFlight(
  ctx: ComponentContext,
  written: number,
  labels: Record<string, string> = {},
): number {
  return (
    written -
    stat(ctx, 'points_sent', labels) -
    stat(ctx, 'buffered_points', labels) -
    stat(ctx, 'dropped_metrics', labels)
  );
}

/** Timing of write() calls, in milliseconds. */
export class WriteTimer {
  readonly samples: number[] = [];
  write(sink: Sink, metrics: Metric[]): void {
    const start = process.hrtime.bigint();
    sink.write(metrics);
    this.samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  get max(): number {
    return this.samples.length === 0 ? 0 : Math.max(...this.samples);
  }
  quantile(q: number): number {
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  }
}

/** Writes point 0, 1, 2… through a sink, one write() call each, timed, `everyMs` apart. */
export class PointWriter {
  written = 0;
  readonly timer = new WriteTimer();

  constructor(
    private readonly sink: Sink,
    private readonly point: (i: number) => Metric[],
    private readonly everyMs: number,
  ) {}

  /** Writes the next point, then waits `everyMs`. */
  async next(): Promise<void> {
    this.timer.write(this.sink, this.point(this.written));
    this.written++;
    await new Promise((r) => setTimeout(r, this.everyMs));
  }

  /** Writes `n` points. */
  async count(n: number): Promise<void> {
    for (let k = 0; k < n; k++) await this.next();
  }

  /** Writes until `done()` (checked before each point). */
  async until(done: () => boolean): Promise<void> {
    while (!done()) await this.next();
  }

  /** Writes until `work` settles, then returns (or throws) what it did. */
  async during<T>(work: Promise<T>): Promise<T> {
    let pending = true;
    const settled = work.finally(() => (pending = false));
    while (pending) await this.next();
    return settled;
  }
}

/** Waits until the sink holds nothing and every point written is sent or dropped. */
export async function waitDrained(
  ctx: ComponentContext,
  written: number,
  options: {
    timeoutMs: number;
    intervalMs?: number;
    labels?: Record<string, string>;
    what?: string;
    failIf?: () => string | undefined;
  },
): Promise<void> {
  const labels = options.labels ?? {};
  await waitFor(
    () =>
      inFlight(ctx, written, labels) === 0 && stat(ctx, 'buffered_points', labels) === 0 ? true : undefined,
    {
      timeoutMs: options.timeoutMs,
      intervalMs: options.intervalMs,
      what: options.what ?? 'the sink to deliver its backlog',
      describe: () =>
        `sent ${stat(ctx, 'points_sent', labels)} + dropped ${stat(ctx, 'dropped_metrics', labels)} of ${written}, ` +
        `buffered ${stat(ctx, 'buffered_points', labels)}`,
      failIf: options.failIf,
    },
  );
}

export interface OutagePlan {
  /** Points written (and, with a quiet stop, delivered) before the server stops. */
  before: number;
  /** Points written while it is down, at least. */
  during: number;
  /** Points written once it is back. */
  after: number;
  everyMs: number;
  /** How long it stays down, at least. */
  outageMs: number;
}

export interface OutageServer {
  /** The server's name in messages: "carbon", "the upstream". */
  name: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /**
   * How the server is stopped. Quiet (an object): writes pause until every point written is
   * sent, nothing is buffered or in flight and `holds(sent)` says the server has the points
   * sent, then until the server is down; nothing may be delivered while it is down. For
   * protocols without acknowledgements, where a dying server's loss is not the sink's.
   * 'under traffic': straight away, writes going on, so the stop may cut a request that the
   * sink must send again.
   */
  stopping:
    { timeoutMs: number; holds?: (sent: number) => boolean; describe?: () => string } | 'under traffic';
  /** Writes go on while the server starts (and, say, replays its WAL); by default they pause. */
  writeWhileStarting?: boolean;
  /** Bound on the delivery of the backlog after the restart. */
  drainTimeoutMs: number;
}

/**
 * Runs one outage: `before` points are written every `everyMs`; the server is stopped; `during`
 * more are written while it is down, for at least `outageMs`, and the sink must have failed,
 * retried and marked its endpoint down; the server is restarted and `after` more points are
 * written; then the sink must deliver its backlog. Point i is `point(i)`, one write() call.
 * Reports the write() timings and the sink's stats as a diagnostic.
 */
export async function outage(
  t: TestContext,
  sink: Sink,
  ctx: ComponentContext,
  server: OutageServer,
  point: (i: number) => Metric[],
  plan: OutagePlan,
): Promise<{ written: number; timer: WriteTimer; downMs: number }> {
  const w = new PointWriter(sink, point, plan.everyMs);
  await w.count(plan.before);
  let stoppedAt: number;
  let sentBefore: number | undefined;
  let stopping: Promise<void> | undefined;
  if (server.stopping === 'under traffic') {
    stoppedAt = Date.now();
    stopping = server.stop();
  } else {
    const { holds, describe } = server.stopping;
    await waitFor(
      () => {
        const sent = stat(ctx, 'points_sent');
        return sent === w.written && inFlight(ctx, w.written) === 0 && (holds?.(sent) ?? true)
          ? true
          : undefined;
      },
      {
        timeoutMs: server.stopping.timeoutMs,
        intervalMs: 20,
        what: `${server.name} to hold every point sent so far`,
        describe: () =>
          `sent ${stat(ctx, 'points_sent')} of ${w.written}${describe ? `, ${describe()}` : ''}`,
      },
    );
    sentBefore = stat(ctx, 'points_sent');
    await server.stop();
    stoppedAt = Date.now();
  }
  const target = w.written + plan.during;
  await w.until(() => w.written >= target && Date.now() - stoppedAt >= plan.outageMs);
  await stopping;
  const sentWhileDown = stat(ctx, 'points_sent');
  if (sentBefore !== undefined)
    assert.equal(sentWhileDown, sentBefore, `nothing was delivered while ${server.name} was down`);
  assert.ok(stat(ctx, 'retries') > 0, `sends failed and were retried while ${server.name} was down`);
  assert.equal(stat(ctx, 'endpoint_up'), 0);
  if (server.writeWhileStarting === true) await w.during(server.start());
  else await server.start();
  const downMs = Date.now() - stoppedAt;
  await w.count(plan.after);
  await waitDrained(ctx, w.written, { timeoutMs: server.drainTimeoutMs });
  const { timer, written } = w;
  t.diagnostic(
    `${written} points written, ${server.name} down ${downMs} ms (sent ${sentWhileDown} before it came back); ` +
      `write(): max ${timer.max.toFixed(3)} ms, p99 ${timer.quantile(0.99).toFixed(3)} ms over ` +
      `${timer.samples.length} calls; retries ${stat(ctx, 'retries')}, dropped ${stat(ctx, 'dropped_metrics')}`,
  );
  return { written, timer, downMs };
}

/**
 * Asserts that of `written` points the sink dropped some, every one for a full buffer, and sent
 * all the others; returns how many it dropped.
 */
export function assertBufferDrops(ctx: ComponentContext, written: number): number {
  const dropped = stat(ctx, 'dropped_metrics', { reason: 'buffer_full' });
  assert.ok(dropped > 0, 'the outage overflowed the buffer');
  assert.equal(stat(ctx, 'dropped_metrics'), dropped, 'dropped for no other reason');
  assert.equal(stat(ctx, 'points_sent') + dropped, written);
  return dropped;
}
