/**
 * The StatsD receive path, wherever it runs: the agent's main thread (`workers: 0`) or an
 * ingest worker (worker.ts). Bytes in, parsed straight into the aggregator, rejections and
 * repairs counted, events handed on. It never blocks and never throws on input.
 */
import type {
  ComponentContext,
  MergeableStateWanted,
  RawOutlet,
  SourceContext,
} from '../../core/component.js';
import type { Event } from '../../core/event.js';
import type { StatCounter } from '../../core/stats.js';
import { timerObserver } from '../../aggregation/timers.js';
import { Mapper } from '../../aggregation/mapping.js';
import { ExporterMapper } from '../../aggregation/exporter-mapping.js';
import { StatsdAggregator, type AggregatorOptions } from '../../aggregation/aggregator.js';
import { SeriesBudgetReport } from '../../aggregation/budget.js';
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
import type { StatsdConfig } from './schema.js';
import { senderText, type Sender } from '../transport/index.js';

/** At most one warning about rejected lines per this period; the counters tell the rest. */
const REJECT_WARN_INTERVAL_MS = 60_000;

/** Where parsed lines go: the aggregator, the rejection and repair counters, the event list. */
class Sink implements StatsdSink {
  /** Events of the datagram being parsed, handed on when it is done. */
  events: Event[] = [];
  /** Who sent the datagram being parsed (formatted only for a rejected line). */
  from: Sender | undefined;

  constructor(
    private readonly aggregator: StatsdAggregator,
    private readonly rejections: RejectionLog,
    private readonly rejected: Record<RejectReason, StatCounter>,
    private readonly repaired: readonly StatCounter[],
    private readonly eventCounts: { event: StatCounter; service_check: StatCounter },
    private readonly now: () => number,
  ) {}

  point(line: StatsdLine): void {
    const reason = this.aggregator.add(line);
    if (reason !== undefined) this.reject(reason, line.buf, line.start, line.end);
    else if (line.repairs !== 0) this.repairs(line.repairs);
  }

  reject(reason: RejectReason, buf: Buffer, start: number, end: number): void {
    const from = this.from === undefined ? undefined : senderText(this.from);
    this.rejections.record(reason, buf, start, end, from, this.now());
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

/** The aggregator options a StatsD source's config asks for. */
export function aggregatorOptions(
  config: StatsdConfig,
  role?: AggregatorOptions['role'],
  sharedSeriesCount?: Int32Array,
  mergeableState?: MergeableStateWanted,
): AggregatorOptions {
  // The main thread of multi-threaded ingest merges destination names: mapping and buckets were
  // applied by the workers that created the series.
  const merging = role === 'merging';
  return {
    mergeableState,
    flushIntervalMs: config.flush_interval,
    percentiles: config.percentiles,
    expiryMs: config.expiry,
    histogramBins: config.histogram_bins,
    buckets: merging
      ? undefined
      : {
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
    mapper: merging
      ? undefined
      : config.mapping_config !== undefined
        ? new ExporterMapper(config.mapping_config)
        : config.mappings.length > 0
          ? new Mapper(config.mappings)
          : undefined,
    // Workers scale and shape timers; the merging thread takes the shapes they pinned.
    timerObserver: merging ? undefined : timerObserver(config.timers),
    // Each ingest thread holds at most max_series; the main thread's merge holds their union.
    maxSeries: merging ? 0 : config.max_series,
    sharedSeriesCount,
    role,
  };
}

/** What the receive path needs besides the component context. */
export interface IngestOutputs {
  emitEvents(events: readonly Event[]): void;
  /** Raw lines' way out: lines are decoded for it only while `raw.wanted[0]` is nonzero. */
  readonly raw: RawOutlet | undefined;
}

export class StatsdIngest {
  readonly parser: StatsdParser;
  readonly aggregator: StatsdAggregator;
  private readonly sink: Sink;
  private readonly datagrams: StatCounter;
  private readonly lines: StatCounter;
  private readonly bytes: StatCounter;
  private readonly budget: SeriesBudgetReport;
  private lastWarnAt = -Infinity;
  private warnedCounts: Record<RejectReason, number>;
  /** Lines parsed so far (valid or not), for a worker to say what it held when it died. */
  linesParsed = 0;

  constructor(
    config: StatsdConfig,
    private readonly ctx: ComponentContext,
    private readonly outputs: IngestOutputs,
    role?: 'partial',
    sharedSeriesCount?: Int32Array,
    /** A reload's predecessor's, so the rejected lines a status page shows outlive a reload. */
    private readonly rejections = new RejectionLog(16, 256),
  ) {
    const now = (): number => ctx.clock.now();
    this.parser = new StatsdParser({
      dialect: config.dialect,
      mode: config.mode,
      timestampWindowMs: config.timestamp_window,
      nameTags: config.name_tags,
      now,
    });
    this.aggregator = new StatsdAggregator(
      aggregatorOptions(config, role, sharedSeriesCount, (ctx as SourceContext).mergeableState),
      now,
    );
    const st = ctx.stats;
    this.datagrams = st.counter('datagrams_received', 'UDP datagrams received.');
    this.lines = st.counter('lines_received', 'Non-empty StatsD lines received, valid or not.');
    this.bytes = st.counter('bytes_received', 'Bytes of StatsD datagrams received.');
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
    this.budget = new SeriesBudgetReport(st, this.aggregator);
    this.warnedCounts = { ...this.rejections.counts };
    this.sink = new Sink(this.aggregator, this.rejections, rejected, repaired, events, now);
  }

  /** The most recent rejected lines, oldest first. */
  recentRejections(): RejectedLine[] {
    return this.rejections.recent();
  }

  /** The rejection log, for the receive path a reload builds next. */
  rejectionLog(): RejectionLog {
    return this.rejections;
  }

  /** Parses one datagram into the aggregates (the socket's message handler). */
  receive(datagram: Buffer, from?: Sender): void {
    this.datagrams.inc();
    this.bytes.inc(datagram.length);
    const sink = this.sink;
    sink.from = from;
    const n = this.parser.parse(datagram, sink);
    this.lines.inc(n);
    this.linesParsed += n;
    const raw = this.outputs.raw;
    if (raw !== undefined && raw.wanted[0] !== 0) raw.write(rawLines(datagram));
    if (sink.events.length > 0) {
      const events = sink.events;
      sink.events = [];
      this.outputs.emitEvents(events);
    }
  }

  /** At each flush (or drain): exports the interval's top new-series names and starts anew. */
  intervalClosed(): void {
    this.budget.flushed();
  }

  /** Logs, at most once per REJECT_WARN_INTERVAL_MS, how many lines were rejected and why. */
  warnAboutRejections(now: number): void {
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
