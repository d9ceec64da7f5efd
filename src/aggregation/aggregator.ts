/**
 * Aggregates StatsD values per flush interval into metrics (docs/protocol.md, "Aggregation"):
 *
 *   c  counter       Σ value/rate, emitted as a delta counter with its interval (rate = value/interval)
 *   g  gauge         last value, or held value + delta; emitted at every flush until it expires
 *   ms timer         Etsy statsd's statistics (lib/process_metrics.js), as a summary
 *   h  histogram     fixed bins chosen per series by a HistogramSelector (core/histogram.ts)
 *   d  distribution  a DDSketch (core/sketch.ts), mergeable across agents
 *   s  set           number of distinct members
 *
 * Counters, timers, histograms, distributions and sets are emitted only in intervals where they
 * were updated. The sample rate is a weight (1/rate), never a loop.
 *
 * A metric name holds one type: the first series of a name decides it, and values of another
 * type under that name (with any tags) are rejected as `type_conflict` while it lives. Keyed
 * by name rather than name + tags because Prometheus and OpenMetrics give a whole metric family
 * one TYPE: `a{x="1"}` a counter and `a{x="2"}` a gauge cannot both be exposed.
 *
 * Series identity is destination name + canonical tags. The canonical form costs a decode and
 * a sort, so lines are first looked up by their raw bytes (name, tag text and container id as
 * written, hashed by the parser during its scan), and the canonical key is only built on a
 * miss; the raw key is then remembered as an alias of the series.
 *
 * Series are held up to `maxSeries`: a value that would create one more is refused as
 * `series_limit` while the known series go on aggregating, so a flood of distinct names or tag
 * values costs a count instead of the process's memory.
 */
import { DDSketch, percentileToQuantile } from './sketch.js';
import { HistogramAccumulator, HistogramSelector, type HistogramBinsConfig } from './histogram.js';
import { HyperLogLog } from '../core/hll.js';
import type { MergeableStateWanted } from '../core/component.js';
import type { Batch, Distribution, Metric, Quantile, Summary } from '../core/metric.js';
import { makeTags, mergeTags, NO_TAGS, type Tag, type Tags } from '../core/tags.js';
import {
  STATSD_COUNTER,
  STATSD_DISTRIBUTION,
  STATSD_GAUGE,
  STATSD_HISTOGRAM,
  STATSD_SET,
  STATSD_TIMER,
  STATSD_TYPE_CODES,
  type RejectReason,
  type StatsdLine,
  type StatsdType,
  type StatsdTypeCode,
} from '../protocols/statsd/parser.js';
import { DEAD, HASH_SEED, RawKeyTable, SeriesIndex, TagInterner, hashString, hashTags } from './tables.js';
import { arrivalTime, emptyChunk, type PartialChunk } from './partial.js';
import { TopNames } from './top-names.js';
import { pickSchema } from '../protocols/prometheus/native.js';

/** Per-type destination names (Bucky3's `*_bucket`); an empty or absent one keeps StatsD names. */
export interface Buckets {
  readonly counters?: string | undefined;
  readonly gauges?: string | undefined;
  readonly timers?: string | undefined;
  readonly histograms?: string | undefined;
  readonly sets?: string | undefined;
  readonly distributions?: string | undefined;
}

/** What a mapping hook (core/mapping.ts's Mapper) returns for a name. */
export interface NameMapping {
  readonly name: string;
  readonly tags: Tags;
  readonly honorTags: boolean;
  /** How timers, histograms and distributions of this name are aggregated (absent: as usual). */
  readonly observer?: ObserverSpec | undefined;
  /** The series expires after this long without updates, in the aggregator and downstream (0: as usual). */
  readonly ttlMs?: number | undefined;
  /** The metric's help text (a statsd_exporter rule's `help`); absent: the type's. */
  readonly help?: string | undefined;
}

/**
 * A mapping rule's say on observations (statsd_exporter's observer options): timers scaled (its
 * milliseconds to seconds), and timers, histograms and distributions aggregated as a histogram
 * with the given bounds, or as a timer summary with the given percentiles.
 */
export interface ObserverSpec {
  /** Timer (`ms`) values are multiplied by this; 1 keeps them. */
  readonly timerScale: number;
  /** Bins (finite upper bounds) of the histogram to aggregate into; or undefined... */
  readonly histogram: readonly number[] | undefined;
  /** ...the percentiles (0 to 100) of the timer summary to aggregate into. */
  readonly percentiles: readonly number[] | undefined;
  /**
   * With `histogram`: a native histogram besides the bins, at this schema, at most `maxBuckets`
   * populated buckets per interval (0: any).
   */
  readonly native?: NativeSpec | undefined;
}

export interface NativeSpec {
  readonly schema: number;
  readonly maxBuckets: number;
}

/**
 * The native histogram a bucket factor asks for, at the schema client_golang picks for it; a
 * factor of 1 or less means none, as in client_golang (and so statsd_exporter).
 */
export function nativeSpec(factor: number, maxBuckets: number): NativeSpec | undefined {
  return factor > 1 ? { schema: pickSchema(factor), maxBuckets } : undefined;
}

/** What a merging thread must know of a series a worker shaped by an ObserverSpec. */
export interface PinnedShape {
  readonly bins?: readonly number[];
  readonly native?: NativeSpec;
  readonly percentiles?: readonly number[];
  readonly ttlMs?: number;
  readonly help?: string;
}
export interface NameMapper {
  map(name: string, type: StatsdTypeCode): NameMapping | 'drop' | undefined;
}

export interface AggregatorOptions {
  /** Reported as `intervalMs` of counters, summaries, histograms and distributions. */
  readonly flushIntervalMs: number;
  /** Percentiles in (0, 100] computed for timers and distributions. */
  readonly percentiles: readonly number[];
  /** Series not updated for this long are dropped at a flush; 0 keeps them forever. */
  readonly expiryMs: number;
  /** Bins of histograms (`h`); default bins when absent. */
  readonly histogramBins?: Partial<HistogramBinsConfig> | undefined;
  readonly buckets?: Buckets | undefined;
  /**
   * What a point's own timestamp does: `forward` (DogStatsD's `|T`) emits counters and gauges
   * with a timestamp unaggregated, each at its time; `aggregate` (Bucky3's `timestamp=`)
   * aggregates them as usual and stamps the series' metric with the time of its last point.
   */
  readonly timestamps?: 'forward' | 'aggregate' | undefined;
  /** Relative accuracy of distribution sketches; default 1 %. */
  readonly sketchAccuracy?: number | undefined;
  /** Renames series (statsd_exporter-style mapping), consulted once per new series. */
  readonly mapper?: NameMapper | undefined;
  /**
   * What timers become when no mapping says (the source's `timers`): scaled, as a histogram or
   * a summary. Absent: millisecond summaries.
   */
  readonly timerObserver?: ObserverSpec | undefined;
  /**
   * How the aggregator takes part in multi-threaded ingest (partial.ts): `partial` is an ingest
   * worker's (gauges record their operations with arrival times; `drainSome` replaces `flush`),
   * `merging` the main thread's (fed by `mergeChunk`, flushed as usual). Absent: one thread.
   */
  readonly role?: 'partial' | 'merging' | undefined;
  /** Most series held at once; a value that would create another is refused. 0 or absent: no limit. */
  readonly maxSeries?: number | undefined;
  /**
   * Ingest workers of one source share the budget: element 0 counts the series all of them
   * hold (an Int32Array over a SharedArrayBuffer, changed with Atomics).
   */
  readonly sharedSeriesCount?: Int32Array | undefined;
  /**
   * While `wanted`, flushed metrics carry their mergeable state (a gauge's time, a set's members,
   * a timer's samples) for a sink that publishes it (SourceContext.mergeableState).
   */
  readonly mergeableState?: MergeableStateWanted | undefined;
}

/** Options of `addValue`. */
export interface AddValueOptions {
  /** Gauges only: add the value to the held one instead of replacing it. */
  readonly gaugeDelta?: boolean;
  /** The point's own time, ms since the epoch (see AggregatorOptions.timestamps). */
  readonly timestamp?: number;
}

const HELP: readonly string[] = [
  'StatsD counter: total of the interval (per-second rate = value / interval).',
  'StatsD gauge: last value received.',
  'StatsD timer: distribution of the values received in the interval.',
  'StatsD histogram: values received in the interval, counted in bins.',
  'StatsD set: number of distinct members received in the interval.',
  'StatsD distribution: sketch of the values received in the interval.',
];

const TYPE_INDEX: Readonly<Record<StatsdTypeCode, StatsdType>> = { c: 0, g: 1, ms: 2, h: 3, s: 4, d: 5 };

/** Raw spellings remembered per series; past this, yet another tag order takes the slow path. */
const MAX_ALIASES = 8;
/**
 * Raw keys remembered as conflicting, dropped or refused for the series limit, beyond which such
 * lines take the slow path. All are forgotten when expiry evicts series, the only time room
 * for a refused series can appear, so a remembered refusal is never stale.
 */
const MAX_NEGATIVE_KEYS = 4096;
/** Names tracked by new-series attempts: far more than a report shows, few enough to scan. */
const NEW_SERIES_NAMES_TRACKED = 256;

class Series {
  /** Index in the aggregator's series list: the id a worker's partials use. */
  id = -1;
  /**
   * Hash of name and canonical tags, kept so that dropping expired series rehashes nothing; 0
   * for a worker's series that is not in the canonical index (see `resolve`).
   */
  hash = 0;
  /** Number of raw spellings of this series in the key table. */
  aliases = 0;
  /** Updated since the last flush. */
  updated = false;
  /** Time of the flush that closed the last interval with an update (creation time before). */
  lastSeen: number;
  /** Counter: sum of value / sample rate. Gauge: last value. */
  value = 0;
  /** Gauge: a value was set (forwarded points do not set it). */
  hasValue = false;
  /**
   * What the type accumulates besides `value`, one field for all types (a few bytes per series):
   * timer: TimerValues, set: members of this interval (as byte-exact keys; on an aggregator, a
   * HyperLogLog once an agent sends one), histogram: HistogramAccumulator, distribution:
   * DDSketch; null for counters and gauges, except with multi-threaded ingest: a worker's gauge
   * records GaugeOps, the main thread's a list of them.
   */
  acc:
    TimerValues | Set<string> | HyperLogLog | HistogramAccumulator | DDSketch | GaugeOps | GaugeOps[] | null;
  /** Time of the interval's last point when it had its own (aggregate mode); 0 = flush time. */
  pointTime = 0;
  /** Gauge: the end of the last interval that changed it (GaugeMetric.updatedAt). */
  changedAt = 0;
  /** A mapping's own expiry for this series (ms), or 0 for the source's. */
  ttl = 0;

  constructor(
    readonly name: string,
    /** Released (NO_TAGS) by a worker once the main thread has them, unless indexed. */
    public tags: Tags,
    readonly type: StatsdType,
    now: number,
    bins: readonly number[] | null,
    sketchAccuracy: number,
    role: AggregatorOptions['role'],
  ) {
    this.lastSeen = now;
    this.acc =
      type === STATSD_GAUGE && role !== undefined
        ? role === 'partial'
          ? new GaugeOps()
          : []
        : type === STATSD_TIMER
          ? new TimerValues()
          : type === STATSD_SET
            ? new Set()
            : bins !== null
              ? new HistogramAccumulator(bins)
              : type === STATSD_DISTRIBUTION
                ? new DDSketch({ relativeAccuracy: sketchAccuracy })
                : null;
  }
}

/**
 * A gauge's operations in one interval on one thread: the last absolute value with its arrival
 * time and the deltas after it applied in order (setValue), and the sum of those deltas (all of
 * the interval's when there was no absolute value), for merging with other threads' values.
 */
class GaugeOps {
  setValue = 0;
  setTime = NaN;
  delta = 0;
  deltaTime = NaN;

  apply(value: number, isDelta: boolean): void {
    const t = arrivalTime();
    if (isDelta) {
      this.delta += value;
      this.deltaTime = t;
      // After a set, the deltas also apply to it one by one, as one thread applies them: adding
      // their sum instead rounds differently (7 + (-7 + 1e-214) is 0, (7 - 7) + 1e-214 is not).
      if (this.setTime === this.setTime) this.setValue += value;
    } else {
      this.setValue = value;
      this.setTime = t;
      this.delta = 0;
      this.deltaTime = NaN;
    }
  }
}

/** A timer's interval: the values received, the first `n` slots used. */
class TimerValues {
  values = new Float64Array(16);
  n = 0;
  /** Observations scaled by 1 / sample rate. */
  count = 0;
  /** The values, each weighted by 1 / its sample rate, like `count`. */
  weightedSum = 0;
  /** Timer (`ms`) values are multiplied by this (a mapping's unit change). */
  scale = 1;
  /** Percentiles of this series' summary, when a mapping chose them (else the source's). */
  percentiles: readonly number[] | null = null;

  add(v: number, weight: number): void {
    if (this.n === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.n++] = v;
    this.count += weight;
    this.weightedSum += weight === 1 ? v : v * weight;
  }

  /** Starts the next interval, giving back the memory of a burst. */
  reset(): void {
    this.n = 0;
    this.count = 0;
    this.weightedSum = 0;
    if (this.values.length > 1024) this.values = new Float64Array(16);
  }

  /** Appends another thread's samples of the interval. */
  addAll(values: Float64Array, count: number, weightedSum: number): void {
    const need = this.n + values.length;
    if (need > this.values.length) {
      let size = this.values.length * 2;
      while (size < need) size *= 2;
      const grown = new Float64Array(size);
      grown.set(this.values.subarray(0, this.n));
      this.values = grown;
    }
    this.values.set(values, this.n);
    this.n = need;
    this.count += count;
    this.weightedSum += weightedSum;
  }
}

/** Tables being rebuilt without expired series (StatsdAggregator.compactSome). */
interface Rebuild {
  /** Next index of the series list to copy, and next raw key entry. */
  series: number;
  entries: number;
  kept: Series[];
  raw: RawKeyTable<Series>;
  canonical: SeriesIndex<Series>;
  names: SeriesIndex<Series>;
  nameHashes: Map<string, number>;
}

/** A counter or gauge point with its own timestamp, forwarded without aggregation. */
class Forwarded {
  constructor(
    readonly series: Series,
    readonly value: number,
    readonly timestamp: number,
  ) {}
}

export class StatsdAggregator {
  private raw = new RawKeyTable<Series>();
  /** (destination name, canonical tags) → series. */
  private canonical = new SeriesIndex<Series>(false);
  /**
   * Destination name → a live series of that name, whose type all its series hold (rebuilt from
   * the survivors on eviction), and whose name string the name's later series share.
   */
  private names = new SeriesIndex<Series>(true);
  private readonly interner = new TagInterner();
  private series: Series[] = [];
  private forwarded: Forwarded[] = [];
  private readonly selector: HistogramSelector;
  /** Destination name per type; '' keeps the StatsD name. */
  private readonly buckets: readonly string[];
  private readonly forward: boolean;
  private readonly sketchAccuracy: number;
  private negativeKeys = 0;
  private readonly partial: boolean;
  private readonly merging: boolean;
  /** Worker side: series ids below this were defined to the main thread. */
  private announced = 0;
  /** Worker side: the interval being drained (see drainSome). */
  private drainCursor = 0;
  private drainEnd = -1;
  private drainNow = 0;
  private drainForwarded: Forwarded[] = [];
  /** Worker side: series marked DEAD (expired) and not yet dropped from the tables. */
  private dead = 0;
  /** Worker side: the tables being rebuilt without the dead series, a step at a time (compactSome). */
  private rebuild: Rebuild | undefined;
  /** Worker side: how ids moved at the last rebuild, for the next drain's first chunk. */
  private pendingRenumber: Int32Array | undefined;
  /** Main side: per worker, worker series id → series here (null: refused, type conflict). */
  private workerSeries: (Series | null | undefined)[][] = [];
  /** Main side: series of a worker refused as a type conflict with another worker's, over the aggregator's life. */
  mergeConflicts = 0;
  /** The series of the previous value, for later values of the same line. */
  private last: Series | RejectReason | null = null;
  /** Help texts mappings gave, by destination name (empty unless a rule has `help`). */
  private readonly helps = new Map<string, string>();
  /** Series dropped by expiry, over the aggregator's life. */
  evicted = 0;
  /** Values dropped by a mapping rule's `action: drop`, over the aggregator's life. */
  mappedDrops = 0;
  /** 0: no limit. */
  readonly maxSeries: number;
  /**
   * StatsD names (as received, before mapping) by values that reached the new-series path,
   * created or refused, until the owner clears it: who to blame when the limit is hit.
   */
  readonly newSeriesNames = new TopNames(NEW_SERIES_NAMES_TRACKED);

  constructor(
    private readonly options: AggregatorOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.selector = new HistogramSelector(options.histogramBins ?? {});
    const b = options.buckets ?? {};
    this.buckets = [
      b.counters ?? '',
      b.gauges ?? '',
      b.timers ?? '',
      b.histograms ?? '',
      b.sets ?? '',
      b.distributions ?? '',
    ];
    this.forward = options.timestamps === 'forward';
    this.partial = options.role === 'partial';
    this.merging = options.role === 'merging';
    this.sketchAccuracy = options.sketchAccuracy ?? 0.01;
    this.maxSeries = options.maxSeries ?? 0;
  }

  /** Number of series held. */
  get size(): number {
    return this.series.length;
  }

  /** Adds one parsed value; returns why it was rejected, if it was. */
  add(line: StatsdLine): RejectReason | undefined {
    let s: Series | RejectReason | null;
    if (line.sameSeries) {
      s = this.last;
    } else {
      const k = line.slowKey ? undefined : this.raw.find(line);
      s = k !== undefined ? k : this.resolve(line);
      this.last = s;
    }
    if (s === null) {
      this.mappedDrops++;
      return undefined;
    }
    if (typeof s === 'string') return s;
    const type = line.type;
    const weight = line.sampleRate === 1 ? 1 : 1 / line.sampleRate;
    if (line.timestamp !== 0 && this.forward) {
      // Parsers forward only counters and gauges (parse.go drops other timestamped types).
      this.forwarded.push(
        new Forwarded(s, type === STATSD_COUNTER ? line.value * weight : line.value, line.timestamp),
      );
      return undefined;
    }
    s.updated = true;
    s.pointTime = line.timestamp;
    // The series' type, not the line's: a mapping may aggregate a timer as a histogram.
    switch (s.type) {
      case STATSD_COUNTER:
        s.value += weight === 1 ? line.value : line.value * weight;
        break;
      case STATSD_GAUGE:
        if (this.partial) {
          (s.acc as GaugeOps).apply(line.value, line.gaugeDelta);
          break;
        }
        s.value = line.gaugeDelta && s.hasValue ? s.value + line.value : line.value;
        s.hasValue = true;
        break;
      case STATSD_SET:
        (s.acc as Set<string>).add(line.memberKey());
        break;
      // `scale` is a timer unit's: it applies to `ms` lines only, whatever the series became.
      case STATSD_TIMER: {
        const t = s.acc as TimerValues;
        t.add(t.scale === 1 || type !== STATSD_TIMER ? line.value : line.value * t.scale, weight);
        break;
      }
      case STATSD_HISTOGRAM: {
        const h = s.acc as HistogramAccumulator;
        h.add(h.scale === 1 || type !== STATSD_TIMER ? line.value : line.value * h.scale, weight);
        break;
      }
      default:
        (s.acc as DDSketch).add(line.value, weight);
    }
    return undefined;
  }

  /**
   * Adds an already parsed value (the JSON source's path; slower than `add`, same semantics).
   * `tags` must be canonical (sorted, keys unique: made with makeTags). `value` is a number, or
   * for a set any member (numbers become their decimal text); numeric text is read as a number
   * for the other types. Returns why the value was rejected, if it was.
   */
  addValue(
    name: string,
    tags: Tags,
    type: StatsdTypeCode,
    value: number | string,
    sampleRate = 1,
    options?: AddValueOptions,
  ): RejectReason | undefined {
    const t = TYPE_INDEX[type];
    if (t === undefined) return 'unknown_type';
    if (name === '') return 'empty_name';
    let v = NaN;
    let member = '';
    if (t === STATSD_SET) {
      member = typeof value === 'number' ? String(value) : value;
      if (member === '') return 'missing_value';
      // The byte-exact key the line path uses.
      member = Buffer.from(member, 'utf8').toString('latin1');
    } else {
      v = typeof value === 'number' ? value : value.trim() === '' ? NaN : Number(value);
      if (!Number.isFinite(v)) return 'bad_value';
    }
    if (!(sampleRate > 0 && sampleRate <= 1)) return 'bad_sample_rate';
    const s = this.resolveNamed(name, tags, t, undefined);
    if (s === null) {
      this.mappedDrops++;
      return undefined;
    }
    if (typeof s === 'string') return s;
    const weight = 1 / sampleRate;
    const timestamp = options?.timestamp ?? 0;
    if (timestamp !== 0 && this.forward && (t === STATSD_COUNTER || t === STATSD_GAUGE)) {
      this.forwarded.push(new Forwarded(s, t === STATSD_COUNTER ? v * weight : v, timestamp));
      return undefined;
    }
    s.updated = true;
    s.pointTime = timestamp;
    switch (s.type) {
      case STATSD_COUNTER:
        s.value += v * weight;
        break;
      case STATSD_GAUGE:
        if (this.partial) {
          (s.acc as GaugeOps).apply(v, options?.gaugeDelta === true);
          break;
        }
        s.value = options?.gaugeDelta === true && s.hasValue ? s.value + v : v;
        s.hasValue = true;
        break;
      case STATSD_SET:
        (s.acc as Set<string>).add(member);
        break;
      case STATSD_TIMER: {
        const timer = s.acc as TimerValues;
        timer.add(t === STATSD_TIMER ? v * timer.scale : v, weight);
        break;
      }
      case STATSD_HISTOGRAM: {
        const h = s.acc as HistogramAccumulator;
        h.add(t === STATSD_TIMER ? v * h.scale : v, weight);
        break;
      }
      default:
        (s.acc as DDSketch).add(v, weight);
    }
    return undefined;
  }

  /** Finds or creates the series of a line whose raw key is unknown, and remembers the key. */
  private resolve(line: StatsdLine): Series | RejectReason | null {
    const type = line.type;
    // A worker looks a line's series up by canonical key only when its raw key cannot be
    // remembered: another spelling of a series becomes a series of its own there, which the
    // main thread merges by canonical key, so the worker need not keep every series' tags.
    const indexed = !this.partial || line.slowKey;
    const s = this.resolveNamed(line.name(), line.tags(), type, line.bucket(), indexed);
    if (line.slowKey) return s;
    const remember = s instanceof Series ? s.aliases < MAX_ALIASES : this.negativeKeys < MAX_NEGATIVE_KEYS;
    if (remember) {
      if (s instanceof Series) s.aliases++;
      else this.negativeKeys++;
      this.raw.add(line, s);
    }
    return s;
  }

  /** The series of a StatsD name and tags after mapping and bucket rules, created if needed. */
  private resolveNamed(
    name: string,
    tags: Tags,
    type: StatsdType,
    bucket: string | undefined,
    indexed = true,
    /** Merging thread: the shape a worker gave the series. */
    pinned?: PinnedShape,
  ): Series | RejectReason | null {
    const received = name;
    const mapper = this.options.mapper;
    let observer: ObserverSpec | undefined;
    let ttl = pinned?.ttlMs ?? 0;
    let help = pinned?.help;
    if (mapper !== undefined) {
      const m = mapper.map(name, STATSD_TYPE_CODES[type]);
      if (m === 'drop') return null;
      if (m !== undefined) {
        if (m.name === '') return 'empty_name';
        name = m.name;
        tags = m.honorTags ? mergeTags(tags, m.tags) : mergeTags(m.tags, tags);
        observer = m.observer;
        ttl = m.ttlMs ?? 0;
        help = m.help;
      }
    }
    // The source's default for timers, where no mapping said (a merging thread has pinned shapes).
    if (observer === undefined && type === STATSD_TIMER) observer = this.options.timerObserver;
    // A mapping may aggregate an observation type otherwise: the series' type is what it says.
    let bins = pinned?.bins;
    let native = pinned?.native;
    let percentiles = pinned?.percentiles;
    let scale = 1;
    if (
      observer !== undefined &&
      (type === STATSD_TIMER || type === STATSD_HISTOGRAM || type === STATSD_DISTRIBUTION)
    ) {
      scale = observer.timerScale;
      if (observer.histogram !== undefined) {
        type = STATSD_HISTOGRAM;
        bins = observer.histogram;
        native = observer.native;
      } else if (observer.percentiles !== undefined) {
        type = STATSD_TIMER;
        percentiles = observer.percentiles;
      }
    }
    // Bucky3: the bucket is the measurement and the StatsD name becomes the tag `name`.
    const dest = bucket ?? (this.buckets[type] as string);
    if (dest !== '') {
      tags = mergeTags(makeTags([['name', name]]), tags);
      name = dest;
    }
    const nameHash = hashString(HASH_SEED, name);
    const owner = this.names.find(nameHash, name, tags);
    if (owner !== undefined && owner.type !== type) return 'type_conflict';
    const hash = indexed ? hashTags(nameHash, tags) : 0;
    let s = indexed ? this.canonical.find(hash, name, tags) : undefined;
    if (s === undefined) {
      this.newSeriesNames.add(received);
      if (this.maxSeries > 0 && !this.reserveSeries()) return 'series_limit';
      s = new Series(
        owner !== undefined ? owner.name : name,
        this.interner.intern(tags),
        type,
        this.now(),
        type === STATSD_HISTOGRAM ? (bins ?? this.selector.select(name, tags)) : null,
        this.sketchAccuracy,
        this.options.role,
      );
      if (type === STATSD_TIMER && (scale !== 1 || percentiles !== undefined)) {
        const t = s.acc as TimerValues;
        t.scale = scale;
        t.percentiles = percentiles ?? null;
      } else if (type === STATSD_HISTOGRAM && bins !== undefined) {
        const h = s.acc as HistogramAccumulator;
        h.scale = scale;
        h.pinned = true;
        if (native !== undefined) {
          h.native = new DDSketch({ schema: native.schema });
          h.nativeMaxBuckets = native.maxBuckets;
        }
      }
      s.id = this.series.length;
      s.ttl = ttl;
      // Bounded: names a rule's captures make can be many; past the cap they get the type's help.
      if (help !== undefined && help !== '' && this.helps.size < MAX_HELP_NAMES) this.helps.set(s.name, help);
      if (indexed) {
        s.hash = hash;
        this.canonical.add(hash, s);
      }
      this.series.push(s);
      if (owner === undefined) this.names.add(nameHash, s);
    }
    return s;
  }

  /**
   * Closes the interval: returns its metrics as a fresh batch, resets interval state and drops
   * series not updated for `expiryMs`. `intervalMs` is how long the closing interval really
   * lasted (shorter than the configured one for the last flush at shutdown), so rates are true.
   */
  flush(now: number, intervalMs: number = this.options.flushIntervalMs): Batch {
    const out: Metric[] = [];
    const expiry = this.options.expiryMs;
    const interval = intervalMs;
    const percentiles = this.options.percentiles;
    const withState = this.options.mergeableState?.wanted === true;
    let expired = 0;
    for (const f of this.forwarded) {
      const s = f.series;
      s.lastSeen = now;
      out.push(
        s.type === STATSD_COUNTER
          ? {
              kind: 'counter',
              name: s.name,
              tags: s.tags,
              timestamp: f.timestamp,
              help: this.helpOf(s),
              temporality: 'delta',
              value: f.value,
              intervalMs: this.options.flushIntervalMs,
            }
          : {
              kind: 'gauge',
              name: s.name,
              tags: s.tags,
              timestamp: f.timestamp,
              help: this.helpOf(s),
              value: f.value,
            },
      );
    }
    if (this.forwarded.length > 0) this.forwarded = [];
    for (const s of this.series) {
      if (s.updated) {
        s.updated = false;
        s.lastSeen = now;
        if (this.merging && s.type === STATSD_GAUGE) resolveGauge(s);
        const help = this.helpOf(s);
        const timestamp = s.pointTime !== 0 ? s.pointTime : now;
        switch (s.type) {
          case STATSD_COUNTER:
            out.push({
              kind: 'counter',
              name: s.name,
              tags: s.tags,
              timestamp,
              help,
              temporality: 'delta',
              value: s.value,
              intervalMs: interval,
            });
            s.value = 0;
            break;
          case STATSD_GAUGE:
            s.changedAt = timestamp;
            out.push({
              kind: 'gauge',
              name: s.name,
              tags: s.tags,
              timestamp,
              help,
              value: s.value,
              ...(withState ? { updatedAt: timestamp } : {}),
            });
            break;
          case STATSD_SET: {
            // A HyperLogLog only on an aggregator, merging agents' sets that were too large to send.
            const members = s.acc as Set<string> | HyperLogLog;
            const distinct = members instanceof HyperLogLog ? members.estimate() : members.size;
            out.push({
              kind: 'gauge',
              name: s.name,
              tags: s.tags,
              timestamp,
              help,
              value: distinct,
              ...(withState
                ? { set: members instanceof HyperLogLog ? { sketch: members } : { members: [...members] } }
                : {}),
            });
            s.acc = new Set();
            break;
          }
          case STATSD_TIMER: {
            const t = s.acc as TimerValues;
            out.push({
              kind: 'summary',
              name: s.name,
              tags: s.tags,
              timestamp,
              help,
              intervalMs: interval,
              summary: summarize(
                t.values.subarray(0, t.n),
                t.count,
                t.percentiles ?? percentiles,
                t.weightedSum,
              ),
              ...(withState ? this.timerState(t) : {}),
            });
            t.reset();
            break;
          }
          case STATSD_HISTOGRAM: {
            const h = s.acc as HistogramAccumulator;
            out.push({
              kind: 'histogram',
              name: s.name,
              tags: s.tags,
              timestamp,
              help,
              intervalMs: interval,
              histogram: h.snapshot(),
            });
            h.clear();
            break;
          }
          default: {
            const sketch = s.acc as DDSketch;
            out.push({
              kind: 'distribution',
              name: s.name,
              tags: s.tags,
              timestamp,
              help,
              intervalMs: interval,
              distribution: sketch.snapshot(percentiles),
            });
            sketch.clear();
          }
        }
        s.pointTime = 0;
        if (s.ttl > 0) withTtl(out, s.ttl);
      } else if (isExpired(s, now, expiry)) {
        expired++;
      } else if (s.type === STATSD_GAUGE && s.hasValue) {
        out.push({
          kind: 'gauge',
          name: s.name,
          tags: s.tags,
          timestamp: now,
          help: this.helpOf(s),
          value: s.value,
          ...(withState ? { updatedAt: s.changedAt } : {}),
        });
        if (s.ttl > 0) withTtl(out, s.ttl);
      }
    }
    if (expired > 0) this.evict(now, expiry, expired);
    return out;
  }

  /** A series' help text: its mapping's, or its type's. */
  private helpOf(s: Series): string {
    return (this.helps.size === 0 ? undefined : this.helps.get(s.name)) ?? (HELP[s.type] as string);
  }

  /** Rebuilds the tables without expired series (swapping beats deleting from big maps). */
  private evict(now: number, expiry: number, expired: number): void {
    for (const s of this.series) {
      // Marks it dead for the main thread's worker maps too, which may still point at it.
      if (isExpired(s, now, expiry)) s.lastSeen = DEAD;
    }
    this.dead = expired;
    this.startRebuild();
    this.compactSome(Infinity);
  }

  /**
   * Worker side: closes the interval. The series that exist now are drained by the following
   * `drainSome` calls; lines that arrive meanwhile go to the series as usual (a series not yet
   * drained carries them into this interval, one already drained into the next), so nothing is
   * counted twice or lost.
   */
  beginDrain(now: number): void {
    // A rebuild still under way finishes first, so ids stay put for the whole drain.
    if (this.rebuild !== undefined) this.compactSome(Infinity);
    this.drainCursor = 0;
    this.drainEnd = this.series.length;
    this.drainNow = now;
    this.drainForwarded = this.forwarded;
    this.forwarded = [];
    // A forwarded point keeps its series alive, as `flush` does.
    for (const f of this.drainForwarded) f.series.lastSeen = now;
  }

  /**
   * Worker side: drains up to `limit` series of the interval opened by `beginDrain` into a chunk
   * (partial.ts). The chunk with `last` set ends the interval; expired series are dropped then,
   * and the chunk's `renumber` says how the surviving ids moved.
   */
  drainSome(limit: number): PartialChunk {
    if (this.drainEnd < 0) throw new Error('drainSome without beginDrain');
    const chunk = emptyChunk(this.announced);
    if (this.pendingRenumber !== undefined) {
      chunk.renumber = this.pendingRenumber;
      this.pendingRenumber = undefined;
    }
    const stop = Math.min(this.drainEnd, this.drainCursor + limit);
    const last = stop >= this.drainEnd;
    // Defines the series this chunk's values name (at most `limit`: the series before the
    // cursor were defined by earlier chunks); the last chunk also defines those created during
    // the drain, so that every series is defined when expired ones are dropped.
    this.define(chunk, last ? this.series.length : Math.max(stop, this.announced));
    if (last) {
      // Series named by forwarded points existed at beginDrain: all defined by now.
      for (const f of this.drainForwarded) {
        chunk.forwardedIds.push(f.series.id);
        chunk.forwardedValues.push(f.value);
        chunk.forwardedTimes.push(f.timestamp);
      }
      this.drainForwarded = [];
    }
    const now = this.drainNow;
    const expiry = this.options.expiryMs;
    const timerValues: Float64Array[] = [];
    let timerLength = 0;
    for (let id = this.drainCursor; id < stop; id++) {
      const s = this.series[id] as Series;
      if (!s.updated) {
        if (s.lastSeen !== DEAD && isExpired(s, now, expiry)) {
          // From now on lookups pass over it; the tables drop it in the rebuild after this drain.
          s.lastSeen = DEAD;
          this.dead++;
          this.last = null;
        }
        continue;
      }
      s.updated = false;
      s.lastSeen = now;
      if (s.pointTime !== 0) {
        chunk.pointTimeIds.push(id);
        chunk.pointTimes.push(s.pointTime);
        s.pointTime = 0;
      }
      switch (s.type) {
        case STATSD_COUNTER:
          chunk.counterIds.push(id);
          chunk.counterValues.push(s.value);
          s.value = 0;
          break;
        case STATSD_GAUGE: {
          const o = s.acc as GaugeOps;
          chunk.gaugeIds.push(id);
          chunk.gaugeSet.push(o.setValue);
          chunk.gaugeSetTime.push(o.setTime);
          chunk.gaugeDelta.push(o.delta);
          chunk.gaugeDeltaTime.push(o.deltaTime);
          o.setTime = NaN;
          o.delta = 0;
          o.deltaTime = NaN;
          break;
        }
        case STATSD_SET: {
          chunk.setIds.push(id);
          chunk.setMembers.push([...(s.acc as Set<string>)]);
          s.acc = new Set();
          break;
        }
        case STATSD_TIMER: {
          const t = s.acc as TimerValues;
          chunk.timerIds.push(id);
          chunk.timerCounts.push(t.count);
          chunk.timerSums.push(t.weightedSum);
          chunk.timerLengths.push(t.n);
          timerValues.push(t.values.slice(0, t.n));
          timerLength += t.n;
          t.reset();
          break;
        }
        case STATSD_HISTOGRAM: {
          const h = s.acc as HistogramAccumulator;
          chunk.histogramIds.push(id);
          chunk.histogramStates.push(h.state());
          if (h.native !== null) (chunk.histogramNatives ??= []).push([id, h.native.toJSON()]);
          h.clear();
          break;
        }
        default: {
          const sketch = s.acc as DDSketch;
          chunk.sketchIds.push(id);
          chunk.sketches.push(sketch.toJSON());
          sketch.clear();
        }
      }
    }
    if (timerLength > 0) {
      const all = new Float64Array(timerLength);
      let at = 0;
      for (const v of timerValues) {
        all.set(v, at);
        at += v.length;
      }
      chunk.timerValues = all;
    }
    this.drainCursor = stop;
    if (last) {
      chunk.last = true;
      this.drainEnd = -1;
      if (this.dead > 0) this.startRebuild();
    }
    return chunk;
  }

  /** Room for one more series under the budget, taken from the shared count when there is one. */
  private reserveSeries(): boolean {
    const shared = this.options.sharedSeriesCount;
    if (shared === undefined) return this.series.length < this.maxSeries;
    if (Atomics.add(shared, 0, 1) < this.maxSeries) return true;
    Atomics.sub(shared, 0, 1);
    return false;
  }

  /** Worker side: a rebuild without the dead series is under way (call compactSome). */
  get compacting(): boolean {
    return this.rebuild !== undefined;
  }

  private startRebuild(): void {
    let capacity = 1024;
    while (capacity * 3 < (this.series.length - this.dead) * 4 + 4) capacity *= 2;
    // Keys of dead series are about as long as the others: the live share of the key bytes.
    const liveShare =
      this.raw.entries > 0 ? Math.min(1, (this.raw.entries - this.dead) / this.raw.entries) : 1;
    let rawCapacity = 1024;
    while (rawCapacity < (this.raw.entries - this.dead) * 2 + 2) rawCapacity *= 2;
    this.rebuild = {
      series: 0,
      entries: 0,
      kept: [],
      // Sized at once: growing the slab or slots mid-rebuild would copy it all in one step.
      raw: new RawKeyTable<Series>(rawCapacity, Math.max(16384, Math.ceil(this.raw.bytes * liveShare * 1.1))),
      canonical: new SeriesIndex<Series>(false, capacity),
      names: new SeriesIndex<Series>(true),
      nameHashes: new Map(),
    };
  }

  /**
   * Worker side: copies up to `limit` series and raw keys into the tables being rebuilt without
   * the dead series; lines keep using the old tables meanwhile (series created meanwhile join
   * the copy, which runs to the current ends). The last step swaps the tables and renumbers the
   * series; returns true while there is more to do. A step costs well under a millisecond per
   * thousand series, where rebuilding a million at once held a receive loop for ~0.3 s.
   */
  compactSome(limit: number): boolean {
    const r = this.rebuild;
    if (r === undefined) return false;
    const series = this.series;
    const seriesEnd = Math.min(series.length, r.series + limit);
    for (; r.series < seriesEnd; r.series++) {
      const s = series[r.series] as Series;
      if (s.lastSeen === DEAD) continue;
      r.kept.push(s);
      if (s.hash !== 0) r.canonical.add(s.hash, s);
      let nameHash = r.nameHashes.get(s.name);
      if (nameHash === undefined) r.nameHashes.set(s.name, (nameHash = hashString(HASH_SEED, s.name)));
      if (r.names.find(nameHash, s.name, s.tags) === undefined) r.names.add(nameHash, s);
    }
    const entriesEnd = Math.min(this.raw.entries, r.entries + limit);
    // Remembered conflicts and drops are not copied: they are found again on demand.
    this.raw.copyRange(r.raw, r.entries, entriesEnd, (t) => t instanceof Series && t.lastSeen !== DEAD);
    r.entries = entriesEnd;
    if (r.series < series.length || r.entries < this.raw.entries) return true;
    const renumber = new Int32Array(r.kept.length);
    let announced = 0;
    for (let i = 0; i < r.kept.length; i++) {
      const s = r.kept[i] as Series;
      if (s.id < this.announced) announced++;
      renumber[i] = s.id;
      s.id = i;
    }
    if (this.partial) {
      // Two rebuilds between drains compose: the main thread knows the ids of the last drain.
      const before = this.pendingRenumber;
      if (before !== undefined)
        for (let i = 0; i < renumber.length; i++) renumber[i] = before[renumber[i] as number] as number;
      this.pendingRenumber = renumber;
    }
    this.announced = announced;
    this.series = r.kept;
    this.raw = r.raw;
    this.canonical = r.canonical;
    this.names = r.names;
    this.negativeKeys = 0;
    this.last = null;
    this.evicted += this.dead;
    const shared = this.options.sharedSeriesCount;
    if (shared !== undefined) Atomics.sub(shared, 0, this.dead);
    this.dead = 0;
    this.rebuild = undefined;
    return false;
  }

  /**
   * Worker side: adds the definitions of series [announced, end) to the chunk, as one string
   * and their lengths (a structured clone copies that as two blocks, where an array per series
   * would cost an object each).
   */
  private define(chunk: PartialChunk, end: number): void {
    let text = '';
    const shape: number[] = [];
    for (let id = this.announced; id < end; id++) {
      const s = this.series[id] as Series;
      chunk.defTypes.push(s.type);
      const pinned = shapeOf(s, this.helps.size === 0 ? undefined : this.helps.get(s.name));
      if (pinned !== undefined) (chunk.defPinned ??= []).push([id - chunk.defStart, pinned]);
      text += s.name;
      shape.push(s.name.length, s.tags.length);
      for (const [k, v] of s.tags) {
        text += k;
        text += v;
        shape.push(k.length, v.length);
      }
      // The main thread holds the tags from now on; a series not in the canonical index
      // never compares them again here.
      if (s.hash === 0) s.tags = NO_TAGS;
    }
    chunk.defText = text;
    chunk.defShape = Int32Array.from(shape);
    if (end > this.announced) this.announced = end;
  }

  /** Main side: adds a chunk of worker `worker`'s interval (see partial.ts). */
  mergeChunk(worker: number, chunk: PartialChunk): void {
    if (chunk.renumber !== undefined) {
      const old = this.workerSeries[worker] ?? [];
      const next: (Series | null | undefined)[] = new Array(chunk.renumber.length);
      for (let i = 0; i < chunk.renumber.length; i++) next[i] = old[chunk.renumber[i] as number];
      this.workerSeries[worker] = next;
    }
    const map = (this.workerSeries[worker] ??= []);
    const text = chunk.defText;
    const shape = chunk.defShape;
    const pinned = chunk.defPinned === undefined ? undefined : new Map(chunk.defPinned);
    let pos = 0;
    let k = 0;
    for (let i = 0; i < chunk.defTypes.length; i++) {
      const nameLength = shape[k++] as number;
      const name = text.slice(pos, (pos += nameLength));
      const pairs = shape[k++] as number;
      const tags: Tag[] = [];
      for (let j = 0; j < pairs; j++) {
        const key = text.slice(pos, (pos += shape[k++] as number));
        tags.push([key, text.slice(pos, (pos += shape[k++] as number))]);
      }
      map[chunk.defStart + i] = this.seriesOf(name, tags, chunk.defTypes[i] as StatsdType, pinned?.get(i));
    }
    const at = (id: number, update = true): Series | null => {
      let s = map[id];
      if (s === undefined) return null;
      // Evicted here while the worker kept it (their expiry clocks differ by a flush at most).
      if (s !== null && s.lastSeen === -1)
        map[id] = s = this.seriesOf(s.name, s.tags, s.type, shapeOf(s, this.helps.get(s.name)));
      if (s !== null && update) s.updated = true;
      return s;
    };
    for (let i = 0; i < chunk.forwardedIds.length; i++) {
      // A forwarded point is not an update of the interval's aggregate, as in `add`.
      const s = at(chunk.forwardedIds[i] as number, false);
      if (s !== null)
        this.forwarded.push(
          new Forwarded(s, chunk.forwardedValues[i] as number, chunk.forwardedTimes[i] as number),
        );
    }
    for (let i = 0; i < chunk.counterIds.length; i++) {
      const s = at(chunk.counterIds[i] as number);
      if (s !== null) s.value += chunk.counterValues[i] as number;
    }
    for (let i = 0; i < chunk.gaugeIds.length; i++) {
      const s = at(chunk.gaugeIds[i] as number);
      if (s === null) continue;
      const o = new GaugeOps();
      o.setValue = chunk.gaugeSet[i] as number;
      o.setTime = chunk.gaugeSetTime[i] as number;
      o.delta = chunk.gaugeDelta[i] as number;
      o.deltaTime = chunk.gaugeDeltaTime[i] as number;
      (s.acc as GaugeOps[]).push(o);
    }
    let offset = 0;
    for (let i = 0; i < chunk.timerIds.length; i++) {
      const n = chunk.timerLengths[i] as number;
      const s = at(chunk.timerIds[i] as number);
      if (s !== null)
        (s.acc as TimerValues).addAll(
          chunk.timerValues.subarray(offset, offset + n),
          chunk.timerCounts[i] as number,
          chunk.timerSums[i] as number,
        );
      offset += n;
    }
    for (let i = 0; i < chunk.setIds.length; i++) {
      const s = at(chunk.setIds[i] as number);
      if (s === null) continue;
      const members = s.acc as Set<string> | HyperLogLog;
      for (const m of chunk.setMembers[i] as string[]) members.add(m);
    }
    const sketchIds = chunk.setSketchIds ?? [];
    for (let i = 0; i < sketchIds.length; i++) {
      const s = at(sketchIds[i] as number);
      if (s === null) continue;
      let acc = s.acc as Set<string> | HyperLogLog;
      if (!(acc instanceof HyperLogLog)) {
        // From now on this interval's set is an estimate: the members so far go into the sketch.
        const sketch = new HyperLogLog();
        for (const m of acc) sketch.add(m);
        s.acc = acc = sketch;
      }
      acc.merge((chunk.setSketches as Uint8Array[])[i] as Uint8Array);
    }
    for (let i = 0; i < chunk.histogramIds.length; i++) {
      const s = at(chunk.histogramIds[i] as number);
      if (s === null) continue;
      const acc = s.acc as HistogramAccumulator;
      const bounds = chunk.histogramBounds?.[i];
      if (bounds !== undefined && !sameBounds(bounds, acc.bounds)) {
        this.mergeConflicts++;
        continue;
      }
      acc.mergeState(chunk.histogramStates[i] as Float64Array);
    }
    for (const [id, json] of chunk.histogramNatives ?? []) {
      const s = at(id);
      const native = s === null ? null : (s.acc as HistogramAccumulator).native;
      if (native !== null) native.merge(DDSketch.fromJSON(json));
    }
    for (let i = 0; i < chunk.sketchIds.length; i++) {
      const s = at(chunk.sketchIds[i] as number);
      if (s === null) continue;
      try {
        (s.acc as DDSketch).merge(DDSketch.fromJSON(chunk.sketches[i]));
      } catch {
        // Another schema (an agent with another relative accuracy), or a sketch that lies.
        this.mergeConflicts++;
      }
    }
    for (let i = 0; i < chunk.pointTimeIds.length; i++) {
      const s = at(chunk.pointTimeIds[i] as number);
      if (s !== null && (chunk.pointTimes[i] as number) > s.pointTime)
        s.pointTime = chunk.pointTimes[i] as number;
    }
  }

  /** A timer's mergeable state: its samples, and a sketch of them when a sink sends timers so. */
  private timerState(t: TimerValues): { samples: Float64Array; sketch?: Distribution } {
    const samples = t.values.slice(0, t.n);
    if (this.options.mergeableState?.timerSketches !== true || t.n === 0) return { samples };
    const sketch = new DDSketch({ relativeAccuracy: this.options.sketchAccuracy ?? 0.01 });
    // Each received value stands for count/n observations (a sample rate below 1).
    const weight = t.count / t.n;
    for (let i = 0; i < t.n; i++) sketch.add(samples[i] as number, weight);
    return { samples, sketch: sketch.snapshot(t.percentiles ?? this.options.percentiles) };
  }

  /** Main side: forgets a worker's ids (it restarted with an empty table). */
  forgetWorker(worker: number): void {
    this.workerSeries[worker] = [];
  }

  /** Main side: the series for a worker's definition, or null when its name holds another type. */
  private seriesOf(name: string, tags: Tags, type: StatsdType, pinned?: PinnedShape): Series | null {
    const s = this.resolveNamed(name, tags, type, undefined, true, pinned);
    if (typeof s === 'string' || s === null) {
      this.mergeConflicts++;
      return null;
    }
    return s;
  }
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Names whose mapping's help text is kept (see StatsdAggregator.helps). */
const MAX_HELP_NAMES = 10_000;

/** The shape a mapping gave a series, for rebuilding it. */
function shapeOf(s: Series, help: string | undefined): PinnedShape | undefined {
  const acc = s.acc;
  const bins = acc instanceof HistogramAccumulator && acc.pinned ? acc.bounds : undefined;
  const native =
    acc instanceof HistogramAccumulator && acc.native !== null
      ? { schema: acc.native.schema, maxBuckets: acc.nativeMaxBuckets }
      : undefined;
  const percentiles = acc instanceof TimerValues && acc.percentiles !== null ? acc.percentiles : undefined;
  if (bins === undefined && percentiles === undefined && s.ttl === 0 && help === undefined) return undefined;
  return {
    ...(bins !== undefined ? { bins } : {}),
    ...(native !== undefined ? { native } : {}),
    ...(percentiles !== undefined ? { percentiles } : {}),
    ...(s.ttl > 0 ? { ttlMs: s.ttl } : {}),
    ...(help !== undefined ? { help } : {}),
  };
}

/** Whether a series not updated since `s.lastSeen` has expired: its own ttl, or the source's expiry. */
function isExpired(s: Series, now: number, expiry: number): boolean {
  const e = s.ttl > 0 ? s.ttl : expiry;
  return e > 0 && now - s.lastSeen >= e;
}

/** Stamps the metric just pushed with its series' ttl, for the sinks that hold series. */
function withTtl(out: Metric[], ttlMs: number): void {
  const last = out.length - 1;
  if (last >= 0) out[last] = { ...(out[last] as Metric), ttlMs };
}

/**
 * A merged gauge's value for the interval: the absolute value that arrived last on any thread,
 * plus the deltas that arrived after it (all deltas onto the held value when there was none).
 * Exact for any one sender, whose datagrams one worker receives in order; across senders,
 * arrival times order what no protocol orders anyway.
 */
function resolveGauge(s: Series): void {
  const ops = s.acc as GaugeOps[];
  if (ops.length === 0) return;
  let winner: GaugeOps | undefined;
  for (const o of ops)
    if (o.setTime === o.setTime && (winner === undefined || o.setTime > winner.setTime)) winner = o;
  let value = winner !== undefined ? winner.setValue : s.hasValue ? s.value : 0;
  // The winner's own deltas are in its setValue already (GaugeOps.apply).
  for (const o of ops) {
    if (o !== winner && (winner === undefined || o.deltaTime > winner.setTime)) value += o.delta;
  }
  s.value = value;
  s.hasValue = true;
  ops.length = 0;
}

/**
 * Timer statistics as Etsy statsd computes them (lib/process_metrics.js): over the values sorted
 * ascending, sums accumulated in that order, population standard deviation, the median as the
 * middle value (or the mean of the two middle ones), and for each percentile p (in [0, 100]) the
 * n = round(p/100 × samples) lowest values (all of them when there is one): `value` is the highest of them
 * (`upper_p`), with their `count`, `sum` and `mean`. A percentile that covers no value reports
 * the minimum as its value and leaves out count, sum and mean (Etsy leaves out the keys).
 * `values` is sorted in place.
 */
export function summarize(
  values: Float64Array,
  count: number,
  percentiles: readonly number[],
  /** The values weighted by 1 / sample rate; the plain sum when absent (no sampling). */
  weightedSum?: number,
): Summary {
  const n = values.length;
  values.sort();
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    sum += v;
    sumSquares += v * v;
  }
  const mean = sum / n;
  let diffs = 0;
  for (let i = 0; i < n; i++) {
    const d = (values[i] as number) - mean;
    diffs += d * d;
  }
  const mid = Math.floor(n / 2);
  const median =
    n % 2 === 1 ? (values[mid] as number) : ((values[mid - 1] as number) + (values[mid] as number)) / 2;
  const qs: Quantile[] = [];
  for (const p of percentiles) {
    // p / 100 * n, in Etsy's order of operations, so ranks round alike at .5.
    const rank = n === 1 ? 1 : Math.round((p / 100) * n);
    const q = percentileToQuantile(p);
    if (rank === 0) {
      qs.push({ quantile: q, value: values[0] as number });
      continue;
    }
    // Etsy's cumulative sums are the same left-to-right additions: prefix sums are exact matches.
    let s = 0;
    for (let i = 0; i < rank; i++) s += values[i] as number;
    qs.push({ quantile: q, value: values[rank - 1] as number, count: rank, sum: s, mean: s / rank });
  }
  return {
    count,
    samples: n,
    sum,
    // Unsampled, the weighted sum is the sum, computed in sorted order: the same bits however
    // ingest threads split the samples. Sampled, it is added in arrival order on each thread.
    weightedSum: weightedSum === undefined || count === n ? sum : weightedSum,
    sumSquares,
    min: values[0] as number,
    max: values[n - 1] as number,
    mean,
    median,
    stdev: Math.sqrt(diffs / n),
    quantiles: qs,
  };
}
