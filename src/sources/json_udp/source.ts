/**
 * The `json_udp` source: takes buffers of lines from the shared transport (UDP, TCP, Unix
 * sockets; compressed datagrams inflated there), parses their JSON lines (src/protocols/json) and hands them to the StatsD aggregator: typed records aggregate
 * exactly as the StatsD lines they stand for; untyped objects pass through as timestamped gauges.
 */
import { timerObserver } from '../../aggregation/timers.js';
import type { MergeableStateWanted, SourceContext } from '../../core/component.js';
import type { InferFields } from '../../config/schema.js';
import type { PointField } from '../../core/metric.js';
import { Mapper } from '../../aggregation/mapping.js';
import type { StatCounter, StatGauge } from '../../core/stats.js';
import {
  JSON_REJECT_REASONS,
  JsonParser,
  JsonRejectionLog,
  type JsonRecord,
  type JsonRejectReason,
  type JsonSink,
  type RejectedJsonLine,
} from '../../protocols/json/parser.js';
import type { RejectReason } from '../../protocols/statsd/parser.js';
import { StatsdAggregator, type AddValueOptions } from '../../aggregation/aggregator.js';
import { SeriesBudgetReport } from '../../aggregation/budget.js';
import type { ComponentContext } from '../../core/component.js';
import type { Batch } from '../../core/metric.js';
import type { AggregatorOptions } from '../../aggregation/aggregator.js';
import { AggregatingListener, senderText, type Sender } from '../transport/index.js';
import type { jsonUdpSchema } from './schema.js';

export type JsonUdpConfig = InferFields<typeof jsonUdpSchema.fields>;

/** At most one warning about rejected lines per this period; the counters tell the rest. */
const REJECT_WARN_INTERVAL_MS = 60_000;

/** Why a valid value (a typed record, or one field of an untyped object) is not kept. */
const DROP_REASONS = ['mapping', 'pending_full'] as const;
type DropReason = (typeof DROP_REASONS)[number];

/** The JSON reason for a value the aggregator refuses (the parser has checked the rest). */
function refusal(reason: RejectReason): JsonRejectReason {
  switch (reason) {
    case 'type_conflict':
      return 'type_conflict';
    case 'series_limit':
      return 'series_limit';
    case 'empty_name':
      return 'missing_name';
    case 'bad_sample_rate':
      return 'bad_sample_rate';
    default:
      return 'bad_value';
  }
}

/**
 * Where parsed lines go. Everything goes through the one aggregator, which applies the mapping
 * rules and keeps each name to one type; untyped fields go in as gauges stamped with their time,
 * which the aggregator (in `forward` mode) passes on once, unaggregated.
 */
class Ingest implements JsonSink {
  /** Arrival time of the datagram being parsed. */
  now = 0;
  /** Who sent it (formatted only for a rejected line). */
  from: Sender | undefined;
  /** Untyped fields taken since the last flush, against `maxPending`. */
  pending = 0;
  /** Flat gauge name → (measurement, field) of the untyped fields taken since the last flush. */
  readonly points = new Map<string, PointField>();
  private readonly options = { timestamp: 0 };

  constructor(
    private readonly aggregator: StatsdAggregator,
    private readonly measurement: string,
    private readonly maxPending: number,
    private readonly rejections: JsonRejectionLog,
    private readonly rejected: Record<JsonRejectReason, StatCounter>,
    private readonly dropped: Record<DropReason, StatCounter>,
    private readonly traces: StatCounter,
  ) {}

  record(r: JsonRecord): JsonRejectReason | undefined {
    if (r.kind === 'untyped') return this.untyped(r);
    if (r.kind === 'trace') this.traces.inc();
    let options: AddValueOptions | undefined;
    if (!Number.isNaN(r.timestamp)) {
      this.options.timestamp = r.timestamp;
      options = this.options;
    }
    const drops = this.aggregator.mappedDrops;
    const refused = this.aggregator.addValue(
      r.name,
      r.sortedTags(),
      r.type,
      r.type === 's' ? r.member : r.value,
      r.sampleRate,
      options,
    );
    if (this.aggregator.mappedDrops !== drops) this.dropped.mapping.inc();
    return refused === undefined ? undefined : refusal(refused);
  }

  /**
   * One gauge per field, named `<measurement>.<field>`. A field the aggregator refuses (its
   * name holds another type) rejects the line with that reason; the other fields are kept.
   */
  private untyped(r: JsonRecord): JsonRejectReason | undefined {
    const n = r.fieldNames.length;
    if (this.pending + n > this.maxPending) {
      this.dropped.pending_full.inc(n);
      return undefined;
    }
    this.pending += n;
    const measurement = r.name === '' ? this.measurement : r.name;
    const prefix = measurement + '.';
    this.options.timestamp = Number.isNaN(r.timestamp) ? this.now : r.timestamp;
    const tags = r.sortedTags();
    let refused: RejectReason | undefined;
    for (let i = 0; i < n; i++) {
      const drops = this.aggregator.mappedDrops;
      const field = r.fieldNames[i] as string;
      // Remembered until the flush, so the gauge can say which point and field it is.
      this.points.set(prefix + field, { measurement, field });
      const reason = this.aggregator.addValue(
        prefix + field,
        tags,
        'g',
        r.fieldValues[i] as number,
        1,
        this.options,
      );
      if (this.aggregator.mappedDrops !== drops) this.dropped.mapping.inc();
      refused ??= reason;
    }
    return refused === undefined ? undefined : refusal(refused);
  }

  reject(reason: JsonRejectReason, buf: Buffer, start: number, end: number): void {
    const from = this.from === undefined ? undefined : senderText(this.from);
    this.rejections.record(reason, buf, start, end, from, this.now);
    this.rejected[reason].inc();
  }
}

/** The aggregator options a json_udp source's config asks for. */
export function jsonAggregatorOptions(
  config: JsonUdpConfig,
  role?: AggregatorOptions['role'],
  sharedSeriesCount?: Int32Array,
  mergeableState?: MergeableStateWanted,
): AggregatorOptions {
  const merging = role === 'merging';
  return {
    mergeableState,
    flushIntervalMs: config.flush_interval,
    percentiles: config.percentiles,
    expiryMs: config.expiry,
    histogramBins: config.histogram_bins,
    // As the statsd source's default (dogstatsd) dialect: a counter or gauge with its own
    // time is passed on alone, at that time. Untyped fields rely on it to pass through.
    timestamps: 'forward',
    // The main thread of multi-threaded ingest merges names the workers already mapped.
    mapper: merging ? undefined : new Mapper(config.mappings),
    maxSeries: merging ? 0 : config.max_series,
    timerObserver: merging ? undefined : timerObserver(config.timers),
    sharedSeriesCount,
    role,
  };
}

/**
 * Untyped objects' gauges say which point they belong to, so line protocol can write each
 * object as one point with fields (a mapping rule that renamed one breaks the link).
 */
export function withPoints(batch: Batch, points: ReadonlyMap<string, PointField>): Batch {
  if (points.size === 0) return batch;
  return batch.map((m) => {
    const point = m.kind === 'gauge' ? points.get(m.name) : undefined;
    return point === undefined ? m : { ...m, point };
  });
}

/** The JSON receive path, wherever it runs: the main thread (`workers: 0`) or an ingest worker. */
export class JsonIngest {
  readonly parser: JsonParser;
  readonly aggregator: StatsdAggregator;
  private readonly ingest: Ingest;
  private readonly lines: StatCounter;
  private readonly budget: SeriesBudgetReport;
  private lastWarnAt = -Infinity;
  private warnedTotal = 0;
  private warnedSeriesLimit = 0;
  /** Lines parsed so far, valid or not: what a dead worker held is counted from it. */
  linesParsed = 0;

  constructor(
    config: JsonUdpConfig,
    private readonly ctx: ComponentContext,
    role?: 'partial',
    sharedSeriesCount?: Int32Array,
    /** A reload's predecessor's, so the rejected lines a status page shows outlive a reload. */
    private readonly rejections = new JsonRejectionLog(16, 256),
  ) {
    this.aggregator = new StatsdAggregator(
      jsonAggregatorOptions(config, role, sharedSeriesCount, (ctx as SourceContext).mergeableState),
      () => ctx.clock.now(),
    );
    this.parser = new JsonParser({
      maxLineBytes: config.max_line_bytes,
      timestampWindowMs: config.timestamp_window,
    });
    const st = ctx.stats;
    this.lines = st.counter('lines_received', 'Non-blank JSON lines received, valid or not.');
    this.budget = new SeriesBudgetReport(st, this.aggregator);
    const rejected = {} as Record<JsonRejectReason, StatCounter>;
    for (const reason of JSON_REJECT_REASONS) {
      rejected[reason] = st.counter('lines_rejected', 'JSON lines dropped as invalid, by reason.', {
        reason,
      });
    }
    const dropped = {} as Record<DropReason, StatCounter>;
    for (const reason of DROP_REASONS) {
      dropped[reason] = st.counter(
        'values_dropped',
        'Valid values (a typed record, or one field of an untyped object) not kept, by reason.',
        { reason },
      );
    }
    const traces = st.counter('traces_received', 'Typed records of metric_type trace (each counts 1).');
    this.ingest = new Ingest(
      this.aggregator,
      config.measurement,
      config.max_pending_points,
      this.rejections,
      rejected,
      dropped,
      traces,
    );
  }

  /** The most recent rejected lines, oldest first. */
  recentRejections(): RejectedJsonLine[] {
    return this.rejections.recent();
  }

  /** The rejection log, for the receive path a reload builds next. */
  rejectionLog(): JsonRejectionLog {
    return this.rejections;
  }

  /** Parses one buffer of complete lines. */
  receive(buf: Buffer, from?: Sender): void {
    const now = this.ctx.clock.now();
    this.ingest.now = now;
    this.ingest.from = from;
    const n = this.parser.parse(buf, this.ingest, now);
    this.lines.inc(n);
    this.linesParsed += n;
  }

  /**
   * Closes the interval on the JSON side: returns the untyped fields' points taken in it (and
   * forgets them), reports the budget and warns about rejections.
   */
  intervalClosed(now: number): Map<string, PointField> {
    const points = new Map(this.ingest.points);
    this.ingest.points.clear();
    this.ingest.pending = 0;
    this.budget.flushed();
    this.warnAboutRejections(now);
    return points;
  }

  private warnAboutRejections(now: number): void {
    const total = this.rejections.total;
    if (total === this.warnedTotal || now - this.lastWarnAt < REJECT_WARN_INTERVAL_MS) return;
    const count = total - this.warnedTotal;
    this.lastWarnAt = now;
    this.warnedTotal = total;
    const recent = this.rejections.recent();
    this.ctx.log.warn('Rejected invalid JSON lines (counted in lines_rejected by reason).', {
      count,
      last: recent[recent.length - 1],
    });
    const refused = this.rejections.counts.series_limit - this.warnedSeriesLimit;
    this.warnedSeriesLimit = this.rejections.counts.series_limit;
    if (refused > 0) this.ctx.log.warn(...this.budget.warning(refused));
  }
}

/** JSON ingest on the agent's main thread (`workers: 0`). */
export class JsonUdpSource extends AggregatingListener {
  private ingest: JsonIngest;
  private readonly seriesHeld: StatGauge;
  private readonly seriesEvicted: StatCounter;

  constructor(config: JsonUdpConfig, ctx: SourceContext) {
    super(ctx, config, config.flush_interval);
    this.ingest = new JsonIngest(config, ctx);
    this.seriesHeld = ctx.stats.gauge('series', 'Series held by the aggregator.');
    this.seriesEvicted = ctx.stats.counter(
      'series_evicted',
      'Series dropped after `expiry` without updates.',
    );
  }

  /** The most recent rejected lines, oldest first. */
  recentRejections(): RejectedJsonLine[] {
    return this.ingest.recentRejections();
  }

  /** A reload with the same sockets (AggregatingListener.reconfigureInPlace). */
  async reconfigure(options: unknown): Promise<boolean> {
    const next = options as JsonUdpConfig;
    return this.reconfigureInPlace(
      next,
      () => (this.ingest = new JsonIngest(next, this.ctx, undefined, undefined, this.ingest.rejectionLog())),
    );
  }

  /**
   * Parses one buffer of complete lines: a datagram (inflated by the transport if it was
   * compressed) or the lines a stream read brought.
   */
  receive(buf: Buffer, from?: Sender): void {
    this.ingest.receive(buf, from);
  }

  /** Emits the interval's batch: aggregates and the points of untyped objects. */
  protected flushInterval(now: number, intervalMs: number): void {
    const aggregator = this.ingest.aggregator;
    const before = aggregator.evicted;
    const flushed = aggregator.flush(now, intervalMs);
    const batch = withPoints(flushed, this.ingest.intervalClosed(now));
    this.seriesEvicted.inc(aggregator.evicted - before);
    this.seriesHeld.set(aggregator.size);
    if (batch.length > 0) this.ctx.emit(batch);
  }
}
