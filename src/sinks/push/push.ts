/**
 * The machinery every push sink shares, in the way of Telegraf's RunningOutput: the sink proper
 * is an encoder (a metric → a record, pure) and a transport (one batch → one send to one
 * endpoint); this class owns everything between them: the bounded buffer, batching by count,
 * size and time, retries with backoff, several endpoints, DNS re-resolution, self-stats and the
 * flush at shutdown.
 *
 * Guarantees:
 * - `write` never blocks and never throws: it encodes, appends and returns. A slow or dead
 *   endpoint only fills that endpoint's buffer.
 * - Per endpoint, records are sent in the order written, one batch in flight at a time; a failed
 *   batch goes back to the front of its queue, so nothing is reordered. (In spread mode batches
 *   to different endpoints travel in parallel, and one that fails over arrives after later ones.)
 * - Delivery is at least once: a batch whose send failed or timed out is sent again, so a
 *   server that took it before the failure sees it twice.
 * - Every point written is eventually sent or counted in `sluice_dropped_metrics` with a reason
 *   (`buffer_full`, `unencodable`, `rejected`, `shutdown`).
 */
import type { ComponentContext, Sink } from '../../core/component.js';
import type { Batch, Metric } from '../../core/metric.js';
import type { StatCounter, StatGauge } from '../../core/stats.js';
import { backoffDelay } from './backoff.js';
import {
  formatEndpoint,
  resolveEndpoint,
  sameAddresses,
  systemLookup,
  type Endpoint,
  type Lookup,
} from './endpoints.js';
import { RecordQueue, recordSize, type Payload, type PushRecord } from './queue.js';
import { systemScheduler, type Scheduler, type TimerHandle } from './scheduler.js';
import type { PushConfig } from './schema.js';

/** Turns one metric into what goes on the wire for it. Pure; called on the ingestion path. */
export interface PushEncoder {
  /**
   * The metric's record (one or more protocol lines, say); undefined if it has none (counted as
   * unencodable), null if the sink is configured not to take it (not counted: it goes elsewhere).
   */
  encode(metric: Metric): PushRecord | undefined | null;
}

/** What a transport is created for: one endpoint, at the addresses its name resolved to. */
export interface Target {
  readonly endpoint: Endpoint;
  /** `host:port`, as logs and stat labels show it. */
  readonly label: string;
  /** In order of preference; never empty. */
  readonly addresses: readonly string[];
}

/**
 * Sends batches to one endpoint. The sink never calls `send` again before the previous call has
 * settled, and replaces the transport (after `close`) when the endpoint's addresses change or a
 * send times out.
 */
export interface PushTransport {
  /**
   * Resolves once the batch is delivered as far as the protocol can tell (written to the socket
   * for carbon, a 2xx for HTTP). Rejects on failure: the batch is retried, unless the error is a
   * `PushRejected`.
   */
  send(payload: Payload): Promise<void>;
  /** Releases connections; a send in progress rejects. Idempotent, and bounded in time. */
  close(): Promise<void>;
}

export type TransportFactory = (target: Target) => PushTransport;

/**
 * A failure that retrying cannot fix (an HTTP 400 for a malformed batch, say): the batch is
 * dropped and counted with reason `rejected`, and the endpoint is not considered down.
 */
export class PushRejected extends Error {
  override readonly name = 'PushRejected';
}

export interface PushDeps {
  readonly scheduler?: Scheduler;
  /** Values in [0, 1), for the backoff jitter. */
  readonly random?: () => number;
  readonly lookup?: Lookup;
}

const DROP_HELP = 'Metrics dropped before reaching the sink.';
const DROP_LOG_INTERVAL_MS = 60_000;

/** A queue and its stats: one per endpoint in fanout mode, one for the sink in spread mode. */
class Channel {
  readonly queue: RecordQueue;
  readonly droppedFull: StatCounter;
  readonly droppedShutdown: StatCounter;
  readonly bufferedPoints: StatGauge;
  readonly bufferedBytes: StatGauge;
  /** Drops not yet logged (the log is rate-limited). */
  unloggedDrops = 0;
  lastDropLog = -Infinity;
  /** Records ever queued, and ever settled (sent, refused or dropped): for `delivered`. */
  enqueued = 0;
  settled = 0;

  constructor(
    config: PushConfig,
    ctx: ComponentContext,
    readonly label: string | undefined,
  ) {
    this.queue = new RecordQueue(config.buffer_points, config.buffer_bytes);
    const labels: Record<string, string> = label === undefined ? {} : { endpoint: label };
    this.droppedFull = ctx.stats.counter('dropped_metrics', DROP_HELP, { ...labels, reason: 'buffer_full' });
    this.droppedShutdown = ctx.stats.counter('dropped_metrics', DROP_HELP, { ...labels, reason: 'shutdown' });
    this.bufferedPoints = ctx.stats.gauge('buffered_points', 'Points waiting to be sent.', labels);
    ctx.stats
      .gauge(
        'buffer_limit_points',
        'Most points the buffer holds (buffer_points); beyond, the oldest are dropped.',
        labels,
      )
      .set(config.buffer_points);
    this.bufferedBytes = ctx.stats.gauge(
      'buffered_bytes',
      'Bytes of encoded points waiting to be sent.',
      labels,
    );
  }

  updateGauges(): void {
    this.bufferedPoints.set(this.queue.points);
    this.bufferedBytes.set(this.queue.bytes);
  }
}

/** One endpoint: its transport, its in-flight batch and its retry state. */
class Lane {
  transport: PushTransport | undefined = undefined;
  addresses: readonly string[] = [];
  /** The addresses changed: replace the transport before the next send. */
  stale = false;
  inFlight: Payload | undefined = undefined;
  /** Consecutive failed sends. */
  failures = 0;
  retryTimer: TimerHandle | undefined = undefined;
  downSince = 0;
  resolveFailing = false;
  readonly pointsSent: StatCounter;
  readonly bytesSent: StatCounter;
  readonly retries: StatCounter;
  readonly up: StatGauge;
  readonly lastError: StatGauge;

  constructor(
    readonly endpoint: Endpoint,
    readonly label: string,
    readonly channel: Channel,
    ctx: ComponentContext,
  ) {
    const labels = { endpoint: label };
    this.pointsSent = ctx.stats.counter('points_sent', 'Points delivered to the endpoint.', labels);
    this.bytesSent = ctx.stats.counter(
      'bytes_sent',
      'Bytes of encoded points delivered to the endpoint.',
      labels,
    );
    this.retries = ctx.stats.counter(
      'retries',
      'Failed sends whose batch was kept to be sent again.',
      labels,
    );
    this.up = ctx.stats.gauge(
      'endpoint_up',
      '1 while the last send to the endpoint succeeded, 0 after a failure.',
      labels,
    );
    this.lastError = ctx.stats.gauge(
      'last_error_timestamp_seconds',
      'Unix time of the last failed send to the endpoint (0: none yet).',
      labels,
    );
    this.up.set(1);
  }
}

export class PushSink implements Sink {
  private readonly lanes: Lane[];
  private readonly channels: Channel[];
  private readonly scheduler: Scheduler;
  private readonly random: () => number;
  private readonly lookup: Lookup;
  private readonly droppedUnencodable: StatCounter;
  private readonly droppedRejected: StatCounter;
  private readonly droppedStopped: StatCounter;
  private deliveryWaiters: { readonly targets: readonly number[]; readonly resolve: () => void }[] = [];
  private readonly spread: boolean;
  /** Spread mode: the lane the next batch goes to first. */
  private next = 0;
  private ticker: TimerHandle | undefined = undefined;
  private resolver: TimerHandle | undefined = undefined;
  private deadline: TimerHandle | undefined = undefined;
  private stopping = false;
  /** After shutdown: nothing is sent or counted any more. */
  private closed = false;
  private stopped: Promise<void> | undefined = undefined;
  private onStopped: (() => void) | undefined = undefined;
  private lastRejectLog = -Infinity;
  private lastEncodeErrorLog = -Infinity;

  constructor(
    private readonly config: PushConfig,
    private readonly encoder: PushEncoder,
    private readonly createTransport: TransportFactory,
    private readonly ctx: ComponentContext,
    deps: PushDeps = {},
  ) {
    this.scheduler = deps.scheduler ?? systemScheduler;
    this.random = deps.random ?? Math.random;
    this.lookup = deps.lookup ?? systemLookup;
    this.spread = config.mode === 'spread' && config.endpoints.length > 1;
    const shared = this.spread ? new Channel(config, ctx, undefined) : undefined;
    this.lanes = config.endpoints.map((endpoint) => {
      const label = formatEndpoint(endpoint);
      return new Lane(endpoint, label, shared ?? new Channel(config, ctx, label), ctx);
    });
    this.channels = shared !== undefined ? [shared] : this.lanes.map((l) => l.channel);
    this.droppedUnencodable = ctx.stats.counter('dropped_metrics', DROP_HELP, { reason: 'unencodable' });
    this.droppedRejected = ctx.stats.counter('dropped_metrics', DROP_HELP, { reason: 'rejected' });
    this.droppedStopped = ctx.stats.counter('dropped_metrics', DROP_HELP, { reason: 'stopped' });
  }

  async start(): Promise<void> {
    // Lookups are not awaited: a slow resolver must not fail the start. A send before the first
    // answer looks the name up itself.
    for (const lane of this.lanes) void this.refresh(lane);
    this.scheduleTick();
    this.scheduleResolve();
  }

  write(batch: Batch): void {
    if (batch.length === 0) return;
    if (this.closed) {
      this.droppedStopped.inc(batch.length);
      return;
    }
    for (let i = 0; i < batch.length; i++) {
      const record = this.encode(batch[i] as Metric);
      if (record !== undefined && record !== null) this.enqueue(record);
    }
    this.afterEnqueue();
  }

  /**
   * Appends records already in the wire format (a relay's raw lines, an event's line), each
   * counted as one point. Like `write`, never blocks and never throws.
   */
  writeRecords(records: readonly PushRecord[]): void {
    if (records.length === 0) return;
    if (this.closed) {
      this.droppedStopped.inc(records.length);
      return;
    }
    for (const record of records) this.enqueue(record);
    this.afterEnqueue();
  }

  private enqueue(record: PushRecord): void {
    const size = recordSize(record);
    const channels = this.channels;
    for (let c = 0; c < channels.length; c++) {
      const channel = channels[c] as Channel;
      channel.enqueued++;
      const dropped = channel.queue.push(record, size);
      if (dropped > 0) this.countDrops(channel, dropped);
    }
  }

  private afterEnqueue(): void {
    for (const channel of this.channels) channel.updateGauges();
    this.dispatch(this.stopping);
  }

  /** Delivers what is buffered, giving up after `shutdown_timeout`; then closes the transports. */
  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      this.onStopped = resolve;
      this.stopping = true;
      this.cancel(this.ticker);
      this.cancel(this.resolver);
      this.ticker = this.resolver = undefined;
      // Waiting out a backoff would waste the shutdown window: try every endpoint now.
      for (const lane of this.lanes) {
        this.cancel(lane.retryTimer);
        lane.retryTimer = undefined;
      }
      this.deadline = this.scheduler.setTimeout(() => this.giveUp(), this.config.shutdown_timeout);
      this.dispatch(true);
      this.checkDrained();
    });
    return this.stopped;
  }

  private encode(metric: Metric): PushRecord | undefined | null {
    let record: PushRecord | undefined | null;
    try {
      record = this.encoder.encode(metric);
    } catch (e) {
      // An encoder bug must cost one metric, not the sink and its buffer.
      const now = this.ctx.clock.now();
      if (now - this.lastEncodeErrorLog >= DROP_LOG_INTERVAL_MS) {
        this.lastEncodeErrorLog = now;
        this.ctx.log.error('A metric could not be encoded; it is dropped.', {
          error: e,
          metric: metric.name,
        });
      }
      record = undefined;
    }
    if (record === undefined) this.droppedUnencodable.inc();
    return record;
  }

  /** Starts every send that can start: full batches, or any batch when `force`. */
  private dispatch(force: boolean): void {
    if (this.closed) return;
    if (!this.spread) {
      for (const lane of this.lanes) this.pump(lane, force);
      return;
    }
    const n = this.lanes.length;
    const start = this.next;
    for (let k = 0; k < n; k++) {
      const index = (start + k) % n;
      if (this.pump(this.lanes[index] as Lane, force)) this.next = (index + 1) % n;
    }
  }

  /** Sends the next batch on `lane` if it is idle and a batch is due; true if it did. */
  private pump(lane: Lane, force: boolean): boolean {
    if (lane.inFlight !== undefined || lane.retryTimer !== undefined) return false;
    const channel = lane.channel;
    const queue = channel.queue;
    if (queue.points === 0) return false;
    if (!force && !queue.hasBatch(this.config.batch_size, this.config.batch_bytes)) return false;
    const payload = queue.take(this.config.batch_size, this.config.batch_bytes);
    if (payload === undefined) return false;
    channel.updateGauges();
    this.send(lane, payload);
    return true;
  }

  private send(lane: Lane, payload: Payload): void {
    lane.inFlight = payload;
    let settled = false;
    const timer = this.scheduler.setTimeout(() => {
      if (settled) return;
      settled = true;
      // The connection may be wedged (a peer that stopped reading): start afresh.
      this.resetTransport(lane);
      this.failed(lane, payload, new Error(`The send did not complete within ${this.config.timeout} ms.`));
    }, this.config.timeout);
    this.attempt(lane, payload).then(
      () => {
        if (settled) return;
        settled = true;
        this.scheduler.clearTimeout(timer);
        this.succeeded(lane, payload);
      },
      (error: unknown) => {
        if (settled) return;
        settled = true;
        this.scheduler.clearTimeout(timer);
        this.failed(lane, payload, error);
      },
    );
  }

  private async attempt(lane: Lane, payload: Payload): Promise<void> {
    if (lane.addresses.length === 0) lane.addresses = await resolveEndpoint(lane.endpoint, this.lookup);
    if (lane.stale) {
      lane.stale = false;
      this.resetTransport(lane);
    }
    lane.transport ??= this.createTransport({
      endpoint: lane.endpoint,
      label: lane.label,
      addresses: lane.addresses,
    });
    await lane.transport.send(payload);
  }

  private succeeded(lane: Lane, payload: Payload): void {
    lane.inFlight = undefined;
    if (this.closed) return;
    lane.pointsSent.inc(payload.points);
    this.settle(lane.channel, payload.points);
    lane.bytesSent.inc(payload.bytes);
    if (lane.failures > 0) {
      this.ctx.log.info('The endpoint accepts data again.', {
        endpoint: lane.label,
        down_ms: this.ctx.clock.now() - lane.downSince,
        failed_sends: lane.failures,
      });
      lane.failures = 0;
    }
    lane.up.set(1);
    this.dispatch(this.stopping);
    this.checkDrained();
  }

  private failed(lane: Lane, payload: Payload, error: unknown): void {
    lane.inFlight = undefined;
    if (this.closed) return;
    const now = this.ctx.clock.now();
    lane.lastError.set(Math.floor(now / 1000));
    if (error instanceof PushRejected) {
      this.droppedRejected.inc(payload.points);
      this.settle(lane.channel, payload.points);
      if (now - this.lastRejectLog >= DROP_LOG_INTERVAL_MS) {
        this.lastRejectLog = now;
        this.ctx.log.warn('The endpoint rejected a batch; it is dropped, not retried.', {
          endpoint: lane.label,
          points: payload.points,
          error,
        });
      }
      this.dispatch(this.stopping);
      this.checkDrained();
      return;
    }
    lane.up.set(0);
    lane.retries.inc();
    const channel = lane.channel;
    const dropped = channel.queue.unshift(payload);
    if (dropped > 0) this.countDrops(channel, dropped);
    channel.updateGauges();
    lane.failures++;
    let delay = backoffDelay(
      lane.failures,
      this.config.retry_initial,
      this.config.max_retry_interval,
      this.random,
    );
    if (this.stopping) delay = Math.min(delay, this.config.retry_initial);
    if (lane.failures === 1) {
      lane.downSince = now;
      this.ctx.log.warn('Sending to the endpoint failed; retrying with backoff until it accepts data.', {
        endpoint: lane.label,
        error,
        retry_in_ms: delay,
      });
    } else {
      this.ctx.log.debug('Sending to the endpoint failed again.', {
        endpoint: lane.label,
        error,
        failed_sends: lane.failures,
        retry_in_ms: delay,
      });
    }
    lane.retryTimer = this.scheduler.setTimeout(() => {
      lane.retryTimer = undefined;
      if (this.spread) this.dispatch(true);
      else this.pump(lane, true);
    }, delay);
    // Spread mode: another endpoint takes the batch at once.
    if (this.spread) this.dispatch(true);
  }

  private resetTransport(lane: Lane): void {
    const transport = lane.transport;
    lane.transport = undefined;
    if (transport !== undefined) {
      transport.close().catch((e: unknown) => {
        this.ctx.log.debug('Closing a connection failed.', { endpoint: lane.label, error: e });
      });
    }
  }

  private countDrops(channel: Channel, n: number): void {
    channel.droppedFull.inc(n);
    this.settle(channel, n);
    channel.unloggedDrops += n;
    const now = this.ctx.clock.now();
    if (now - channel.lastDropLog < DROP_LOG_INTERVAL_MS) return;
    channel.lastDropLog = now;
    this.ctx.log.warn(
      'The buffer is full: the oldest points are dropped. Check the endpoint, or raise buffer_points or buffer_bytes.',
      {
        ...(channel.label === undefined ? {} : { endpoint: channel.label }),
        dropped: channel.unloggedDrops,
        buffer_points: this.config.buffer_points,
        buffer_bytes: this.config.buffer_bytes,
      },
    );
    channel.unloggedDrops = 0;
  }

  /** Looks the endpoint's name up again; a change makes the next send reconnect. */
  private async refresh(lane: Lane): Promise<void> {
    let addresses: string[];
    try {
      addresses = await resolveEndpoint(lane.endpoint, this.lookup);
    } catch (e) {
      if (!lane.resolveFailing) {
        lane.resolveFailing = true;
        this.ctx.log.warn('Could not resolve the endpoint; keeping its previous addresses.', {
          endpoint: lane.label,
          error: e,
        });
      }
      return;
    }
    lane.resolveFailing = false;
    if (this.closed || sameAddresses(addresses, lane.addresses)) return;
    if (lane.addresses.length > 0) {
      this.ctx.log.info('The endpoint resolves to new addresses; reconnecting.', {
        endpoint: lane.label,
        addresses,
        previous: lane.addresses,
      });
      lane.stale = true;
    }
    lane.addresses = addresses;
  }

  private scheduleTick(): void {
    this.ticker = this.scheduler.setTimeout(() => {
      this.scheduleTick();
      this.dispatch(true);
    }, this.config.flush_interval);
    this.scheduler.unref(this.ticker);
  }

  private scheduleResolve(): void {
    if (this.config.resolve_interval <= 0) return;
    this.resolver = this.scheduler.setTimeout(() => {
      this.scheduleResolve();
      for (const lane of this.lanes) void this.refresh(lane);
    }, this.config.resolve_interval);
    this.scheduler.unref(this.resolver);
  }

  private cancel(handle: TimerHandle | undefined): void {
    if (handle !== undefined) this.scheduler.clearTimeout(handle);
  }

  private checkDrained(): void {
    if (!this.stopping || this.closed) return;
    for (const channel of this.channels) if (channel.queue.points > 0) return;
    for (const lane of this.lanes) if (lane.inFlight !== undefined) return;
    void this.finish();
  }

  /**
   * Resolves once every record written before the call has left the buffer: delivered, refused
   * or dropped (each counted). An aggregator commits its Kafka offsets only then (docs/fleet.md).
   * With `mode: spread` lanes finish out of order, so it waits for the buffer to be empty and
   * nothing in flight instead.
   */
  delivered(): Promise<void> {
    const targets = this.channels.map((c) => c.enqueued);
    if (this.isDelivered(targets)) return Promise.resolve();
    return new Promise((resolve) => this.deliveryWaiters.push({ targets, resolve }));
  }

  private isDelivered(targets: readonly number[]): boolean {
    if (this.closed) return true;
    if (this.spread) {
      for (const channel of this.channels) if (channel.queue.points > 0) return false;
      for (const lane of this.lanes) if (lane.inFlight !== undefined) return false;
      return true;
    }
    for (let i = 0; i < targets.length; i++)
      if ((this.channels[i] as Channel).settled < (targets[i] as number)) return false;
    return true;
  }

  private settle(channel: Channel, n: number): void {
    channel.settled += n;
    if (this.deliveryWaiters.length === 0) return;
    this.deliveryWaiters = this.deliveryWaiters.filter((w) => {
      if (!this.isDelivered(w.targets)) return true;
      w.resolve();
      return false;
    });
  }

  /** The shutdown deadline passed: what is left is counted as dropped. */
  private giveUp(): void {
    if (this.closed) return;
    let lost = 0;
    for (const lane of this.lanes) {
      if (lane.inFlight !== undefined) {
        lane.channel.droppedShutdown.inc(lane.inFlight.points);
        this.settle(lane.channel, lane.inFlight.points);
        lost += lane.inFlight.points;
        lane.inFlight = undefined;
      }
    }
    for (const channel of this.channels) {
      const n = channel.queue.clear();
      channel.droppedShutdown.inc(n);
      this.settle(channel, n);
      lost += n;
    }
    this.ctx.log.error('Shutdown: gave up delivering what was buffered.', {
      dropped: lost,
      shutdown_timeout_ms: this.config.shutdown_timeout,
    });
    void this.finish();
  }

  private async finish(): Promise<void> {
    this.closed = true;
    for (const w of this.deliveryWaiters) w.resolve();
    this.deliveryWaiters = [];
    this.cancel(this.deadline);
    this.deadline = undefined;
    for (const lane of this.lanes) {
      this.cancel(lane.retryTimer);
      lane.retryTimer = undefined;
    }
    for (const channel of this.channels) channel.updateGauges();
    await Promise.all(
      this.lanes.map(async (lane) => {
        const transport = lane.transport;
        lane.transport = undefined;
        try {
          await transport?.close();
        } catch (e) {
          this.ctx.log.debug('Closing a connection failed.', { endpoint: lane.label, error: e });
        }
      }),
    );
    this.onStopped?.();
  }
}
