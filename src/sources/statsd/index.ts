/**
 * The `statsd` source: listens for StatsD datagrams (UDP, TCP, Unix sockets, through
 * src/sources/transport) and emits one aggregated batch per flush interval, and events and
 * service checks as they arrive.
 *
 * UDP has no back-pressure: a datagram that arrives while the socket buffer is full is lost in
 * the kernel, unseen. So the receive path does as little as possible (byte-level parse straight
 * into in-place aggregates, see parser.ts and aggregator.ts), the socket asks for a large
 * receive buffer, and all the expensive work (sorting timer values, building metrics) happens
 * once per interval in `flush`. Stopping flushes what the interval holds, so a SIGTERM does not
 * lose counts. Other transports (TCP, Unix sockets, compressed payloads) hand their datagrams
 * to `receive`, the single entry point for bytes.
 */
import type { RawLinesHandler, SourceContext } from '../../core/component.js';
import { defineSource } from '../../core/definition.js';
import type { Event } from '../../core/event.js';
import { Mapper } from '../../aggregation/mapping.js';
import type { InferFields } from '../../config/schema.js';
import type { StatCounter, StatGauge } from '../../core/stats.js';
import {
  REJECT_REASONS,
  REPAIR_REASONS,
  RejectionLog,
  StatsdParser,
  type RejectedLine,
  type RejectReason,
  type StatsdLine,
  type StatsdSink,
} from '../../protocols/statsd/parser.js';
import { AggregatingListener } from '../transport/index.js';
import { StatsdAggregator } from '../../aggregation/aggregator.js';
import { SeriesBudgetReport } from '../../aggregation/budget.js';
import { statsdSample, statsdSchema } from './schema.js';

export type StatsdConfig = InferFields<typeof statsdSchema.fields>;

/** At most one warning about rejected lines per this period; the counters tell the rest. */
const REJECT_WARN_INTERVAL_MS = 60_000;

/** Where parsed lines go: the aggregator, the rejection and repair counters, the event list. */
class Ingest implements StatsdSink {
  /** Events of the datagram being parsed, handed on when it is done. */
  events: Event[] = [];

  constructor(
    private readonly aggregator: StatsdAggregator,
    private readonly rejections: RejectionLog,
    private readonly rejected: Record<RejectReason, StatCounter>,
    private readonly repaired: readonly StatCounter[],
    private readonly eventCounts: { event: StatCounter; service_check: StatCounter },
  ) {}

  point(line: StatsdLine): void {
    const reason = this.aggregator.add(line);
    if (reason !== undefined) this.reject(reason, line.buf, line.start, line.end);
    else if (line.repairs !== 0) this.repairs(line.repairs);
  }

  reject(reason: RejectReason, buf: Buffer, start: number, end: number): void {
    this.rejections.record(reason, buf, start, end);
    this.rejected[reason].inc();
  }

  event(event: Event, repairs: number): void {
    this.events.push(event);
    this.eventCounts[event.kind].inc();
    if (repairs !== 0) this.repairs(repairs);
  }

  private repairs(mask: number): void {
    for (let i = 0; i < this.repaired.length; i++) if ((mask & (1 << i)) !== 0) this.repaired[i]!.inc();
  }
}

/**
 * Every non-empty line of a datagram, as received, for repeaters. Valid or not: like Etsy
 * statsd's repeater, which forwards packets verbatim, a relay passes on what it got, and the
 * upstream (perhaps of another dialect) judges it. Bytes that are not UTF-8 become U+FFFD.
 */
export function rawLines(datagram: Buffer): string[] {
  const out: string[] = [];
  const end = datagram.length;
  let pos = 0;
  while (pos < end) {
    let eol = datagram.indexOf(0x0a, pos);
    if (eol < 0) eol = end;
    let stop = eol;
    if (stop > pos && datagram[stop - 1] === 0x0d) stop--;
    if (stop > pos) out.push(datagram.toString('utf8', pos, stop));
    pos = eol + 1;
  }
  return out;
}

export class StatsdSource extends AggregatingListener {
  private readonly parser: StatsdParser;
  private readonly aggregator: StatsdAggregator;
  private readonly rejections = new RejectionLog(16, 256);
  private readonly ingest: Ingest;
  private readonly datagrams: StatCounter;
  private readonly lines: StatCounter;
  private readonly bytes: StatCounter;
  private readonly seriesHeld: StatGauge;
  private readonly seriesEvicted: StatCounter;
  private readonly budget: SeriesBudgetReport;
  private lastWarnAt = -Infinity;
  private warnedCounts: Record<RejectReason, number>;
  /** Set only when a sink relays raw StatsD lines (a repeater): otherwise no line is decoded for it. */
  private readonly raw: RawLinesHandler | undefined;

  constructor(
    private readonly config: StatsdConfig,
    ctx: SourceContext,
  ) {
    super(ctx, config.listen, config, config.flush_interval);
    this.raw = ctx.rawLines?.('statsd');
    const now = (): number => ctx.clock.now();
    this.parser = new StatsdParser({
      dialect: config.dialect,
      mode: config.mode,
      timestampWindowMs: config.timestamp_window,
      now,
    });
    this.aggregator = new StatsdAggregator(
      {
        flushIntervalMs: config.flush_interval,
        percentiles: config.percentiles,
        expiryMs: config.expiry,
        histogramBins: config.histogram_bins,
        buckets: {
          counters: config.counters_bucket,
          gauges: config.gauges_bucket,
          timers: config.timers_bucket,
          histograms: config.histograms_bucket,
          sets: config.sets_bucket,
          distributions: config.distributions_bucket,
        },
        // DogStatsD forwards timestamped points; Bucky3 (and Etsy, which has none) aggregates.
        timestamps: config.dialect === 'dogstatsd' ? 'forward' : 'aggregate',
        // Consulted once per new series, so the rules cost nothing for known ones.
        mapper: config.mappings.length > 0 ? new Mapper(config.mappings) : undefined,
        maxSeries: config.max_series,
      },
      now,
    );
    const st = ctx.stats;
    this.datagrams = st.counter('datagrams_received', 'UDP datagrams received.');
    this.lines = st.counter('lines_received', 'Non-empty StatsD lines received, valid or not.');
    this.bytes = st.counter('bytes_received', 'Bytes of StatsD datagrams received.');
    this.seriesHeld = st.gauge('series', 'Series held by the aggregator.');
    this.seriesEvicted = st.counter('series_evicted', 'Series dropped after `expiry` without updates.');
    this.budget = new SeriesBudgetReport(st, this.aggregator);
    const rejected = {} as Record<RejectReason, StatCounter>;
    for (const reason of REJECT_REASONS) {
      rejected[reason] = st.counter('lines_rejected', 'StatsD lines dropped as invalid, by reason.', {
        reason,
      });
    }
    const repaired = REPAIR_REASONS.map((reason) =>
      st.counter('lines_repaired', 'StatsD lines accepted after a lenient-mode repair, by reason.', {
        reason,
      }),
    );
    const events = {
      event: st.counter('events_received', 'DogStatsD events and service checks received, by kind.', {
        kind: 'event',
      }),
      service_check: st.counter('events_received', 'DogStatsD events and service checks received, by kind.', {
        kind: 'service_check',
      }),
    };
    this.warnedCounts = { ...this.rejections.counts };
    this.ingest = new Ingest(this.aggregator, this.rejections, rejected, repaired, events);
  }

  /** The most recent rejected lines, oldest first. */
  recentRejections(): RejectedLine[] {
    return this.rejections.recent();
  }

  /** Parses one datagram into the aggregates (the socket's message handler). */
  receive(datagram: Buffer): void {
    this.datagrams.inc();
    this.bytes.inc(datagram.length);
    const ingest = this.ingest;
    this.lines.inc(this.parser.parse(datagram, ingest));
    if (this.raw !== undefined) this.raw(rawLines(datagram));
    if (ingest.events.length > 0) {
      const events = ingest.events;
      ingest.events = [];
      this.ctx.emitEvents(events);
    }
  }

  /** Emits the interval's batch, if it has metrics. */
  protected flushInterval(now: number, intervalMs: number): void {
    const before = this.aggregator.evicted;
    const batch = this.aggregator.flush(now, intervalMs);
    this.seriesEvicted.inc(this.aggregator.evicted - before);
    this.seriesHeld.set(this.aggregator.size);
    this.budget.flushed();
    if (batch.length > 0) this.ctx.emit(batch);
    this.warnAboutRejections(now);
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
    const refused = reasons.series_limit;
    if (refused !== undefined) this.ctx.log.warn(...this.budget.warning(refused));
  }
}

export const statsdSource = defineSource({
  type: 'statsd',
  description:
    'Receives StatsD/DogStatsD metrics, events and service checks over UDP and aggregates metrics per flush interval.',
  schema: statsdSchema,
  sample: statsdSample,
  create: (config, ctx) => new StatsdSource(config, ctx),
});
