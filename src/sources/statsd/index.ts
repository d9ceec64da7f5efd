/**
 * The `statsd` source: listens for StatsD datagrams on UDP and emits one aggregated batch per
 * flush interval.
 *
 * UDP has no back-pressure: a datagram that arrives while the socket buffer is full is lost in
 * the kernel, unseen. So the receive path does as little as possible (byte-level parse straight
 * into in-place aggregates, see parser.ts and aggregator.ts), the socket asks for a large
 * receive buffer, and all the expensive work (sorting timer values, building metrics) happens
 * once per interval in `flush`. Stopping flushes what the interval holds, so a SIGTERM does not
 * lose counts.
 */
import dgram from 'node:dgram';
import type { ListeningSource, SourceContext } from '../../core/component.js';
import { defineSource } from '../../core/definition.js';
import type { InferFields } from '../../config/schema.js';
import type { StatCounter, StatGauge } from '../../core/stats.js';
import {
  REJECT_REASONS,
  RejectionLog,
  StatsdParser,
  type RejectedLine,
  type RejectReason,
  type StatsdLine,
  type StatsdSink,
} from '../../protocols/statsd/parser.js';
import { StatsdAggregator } from './aggregator.js';
import { statsdSample, statsdSchema } from './schema.js';

export type StatsdConfig = InferFields<typeof statsdSchema.fields>;

/** At most one warning about rejected lines per this period; the counters tell the rest. */
const REJECT_WARN_INTERVAL_MS = 60_000;

/** Where parsed lines go: the aggregator, or the rejection counters. */
class Ingest implements StatsdSink {
  constructor(
    private readonly aggregator: StatsdAggregator,
    private readonly rejections: RejectionLog,
    private readonly rejected: Record<RejectReason, StatCounter>,
  ) {}
  point(line: StatsdLine): void {
    this.aggregator.add(line);
  }
  reject(reason: RejectReason, buf: Buffer, start: number, end: number): void {
    this.rejections.record(reason, buf, start, end);
    this.rejected[reason].inc();
  }
}

export class StatsdSource implements ListeningSource {
  readonly mode = 'listening';
  private socket: dgram.Socket | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** When the current interval began, to report the true length of a short last interval. */
  private intervalStart = 0;
  private readonly parser = new StatsdParser();
  private readonly aggregator: StatsdAggregator;
  private readonly rejections = new RejectionLog(16, 256);
  private readonly ingest: Ingest;
  private readonly datagrams: StatCounter;
  private readonly lines: StatCounter;
  private readonly bytes: StatCounter;
  private readonly seriesHeld: StatGauge;
  private readonly seriesEvicted: StatCounter;
  private lastWarnAt = -Infinity;
  private warnedCounts: Record<RejectReason, number>;

  constructor(
    private readonly config: StatsdConfig,
    private readonly ctx: SourceContext,
  ) {
    this.aggregator = new StatsdAggregator(
      { flushIntervalMs: config.flush_interval, percentiles: config.percentiles, expiryMs: config.expiry },
      () => ctx.clock.now(),
    );
    const st = ctx.stats;
    this.datagrams = st.counter('datagrams_received', 'UDP datagrams received.');
    this.lines = st.counter('lines_received', 'Non-empty StatsD lines received, valid or not.');
    this.bytes = st.counter('bytes_received', 'Bytes of StatsD datagrams received.');
    this.seriesHeld = st.gauge('series', 'Series held by the aggregator.');
    this.seriesEvicted = st.counter('series_evicted', 'Series dropped after `expiry` without updates.');
    const rejected = {} as Record<RejectReason, StatCounter>;
    for (const reason of REJECT_REASONS) {
      rejected[reason] = st.counter('lines_rejected', 'StatsD lines dropped as invalid, by reason.', {
        reason,
      });
    }
    this.warnedCounts = { ...this.rejections.counts };
    this.ingest = new Ingest(this.aggregator, this.rejections, rejected);
  }

  /** The bound UDP port (useful with port 0), or undefined when not listening. */
  get port(): number | undefined {
    return this.socket?.address().port;
  }

  /** The most recent rejected lines, oldest first. */
  recentRejections(): RejectedLine[] {
    return this.rejections.recent();
  }

  /** Parses one datagram into the aggregates (the socket's message handler). */
  receive(datagram: Buffer): void {
    this.datagrams.inc();
    this.bytes.inc(datagram.length);
    this.lines.inc(this.parser.parse(datagram, this.ingest));
  }

  /** Closes the interval and emits its batch, if it has metrics. */
  flush(): void {
    const now = this.ctx.clock.now();
    const before = this.aggregator.evicted;
    const elapsed = now - this.intervalStart;
    this.intervalStart = now;
    const batch = this.aggregator.flush(
      now,
      elapsed > 0 && elapsed < this.config.flush_interval ? elapsed : this.config.flush_interval,
    );
    this.seriesEvicted.inc(this.aggregator.evicted - before);
    this.seriesHeld.set(this.aggregator.size);
    if (batch.length > 0) this.ctx.emit(batch);
    this.warnAboutRejections(now);
  }

  async start(): Promise<void> {
    if (this.socket !== undefined) return;
    const { host, port } = this.config.listen;
    const socket = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => {
        try {
          socket.close();
        } catch {
          // already closed by the failed bind
        }
        reject(error);
      };
      socket.once('error', onError);
      socket.bind({ port, address: host }, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    socket.on('error', (error) => this.ctx.fail(error));
    socket.on('message', (msg) => {
      try {
        this.receive(msg);
      } catch (error) {
        this.ctx.fail(error);
      }
    });
    this.socket = socket;
    this.intervalStart = this.ctx.clock.now();
    const receiveBuffer = this.sizeReceiveBuffer(socket);
    const a = socket.address();
    this.ctx.log.info('StatsD source listening.', {
      address: a.address,
      port: a.port,
      protocol: 'udp',
      receive_buffer_bytes: receiveBuffer,
    });
    // Not unref'd: the flush timer is the source's heartbeat and must keep running.
    this.timer = setInterval(() => {
      try {
        this.flush();
      } catch (error) {
        this.ctx.fail(error);
      }
    }, this.config.flush_interval);
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    const socket = this.socket;
    if (socket === undefined) return;
    this.socket = undefined;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    // What the interval holds so far, so a shutdown loses no counts.
    this.flush();
  }

  /** Requests `receive_buffer_bytes` and returns the size the kernel granted. */
  private sizeReceiveBuffer(socket: dgram.Socket): number {
    const requested = this.config.receive_buffer_bytes;
    if (requested > 0) {
      try {
        socket.setRecvBufferSize(requested);
      } catch (error) {
        this.ctx.log.warn('Could not set the socket receive buffer size.', { requested, error });
      }
    }
    const effective = socket.getRecvBufferSize();
    // Linux reports twice the size set (the rest is bookkeeping), capped by net.core.rmem_max.
    const expected = process.platform === 'linux' ? 2 * requested : requested;
    if (effective < expected) {
      this.ctx.log.warn(
        'The socket receive buffer is smaller than receive_buffer_bytes; raise sysctl net.core.rmem_max to get it.',
        { requested, effective },
      );
    }
    return effective;
  }

  private warnAboutRejections(now: number): void {
    const counts = this.rejections.counts;
    if (now - this.lastWarnAt < REJECT_WARN_INTERVAL_MS) return;
    let total = 0;
    const reasons: Partial<Record<RejectReason, number>> = {};
    for (const reason of REJECT_REASONS) {
      const delta = counts[reason] - this.warnedCounts[reason];
      if (delta > 0) {
        reasons[reason] = delta;
        total += delta;
      }
    }
    if (total === 0) return;
    this.lastWarnAt = now;
    this.warnedCounts = { ...counts };
    const recent = this.rejections.recent();
    this.ctx.log.warn('Rejected invalid StatsD lines (counted in lines_rejected).', {
      count: total,
      reasons,
      last: recent[recent.length - 1],
    });
  }
}

export const statsdSource = defineSource({
  type: 'statsd',
  description: 'Receives StatsD/DogStatsD metrics over UDP and aggregates them per flush interval.',
  schema: statsdSchema,
  sample: statsdSample,
  create: (config, ctx) => new StatsdSource(config, ctx),
});
