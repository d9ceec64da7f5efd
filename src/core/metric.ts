/**
 * The metric model every source produces and every sink consumes.
 *
 * One value per series, with a kind (the Prometheus/Vector shape rather than Influx's
 * measurement-plus-fields): it maps one-to-one onto Prometheus and StatsD, and sinks that want
 * fields (InfluxDB, JSON) build them from the kind. Sinks normalise for their protocol; sources
 * never know which sinks exist.
 *
 * Metrics are immutable snapshots. Aggregators hand sinks fresh objects, never live state.
 */
import type { HyperLogLog } from './hll.js';
import type { Tags } from './tags.js';

interface MetricBase {
  /** Metric name as the source knows it (StatsD names may contain dots; sinks sanitise). */
  readonly name: string;
  /** Sorted by key, keys unique. Built with `makeTags`/`mergeTags`. */
  readonly tags: Tags;
  /** Milliseconds since the Unix epoch. */
  readonly timestamp: number;
  /** One-line description, for exporters that carry one (Prometheus `# HELP`). */
  readonly help?: string | undefined;
  /**
   * How long a sink that holds series (the Prometheus exporter) keeps this one without an update,
   * when the source says (a statsd_exporter mapping's `ttl`); absent: the sink's own expiry.
   */
  readonly ttlMs?: number | undefined;
  /**
   * Set when this value is one field of a multi-field point (an untyped JSON object, as Bucky3's
   * jsond passed them on): InfluxDB line protocol writes it as field `field` of `measurement`
   * and merges the fields of one point (same measurement, tags and time) into one line. Sinks
   * without fields use `name`, which flattens the two (`json.a`).
   */
  readonly point?: PointField | undefined;
}

export interface PointField {
  readonly measurement: string;
  readonly field: string;
}

/**
 * A monotonic count. `delta` counters hold what was counted during `intervalMs` (StatsD
 * counters after aggregation); `cumulative` ones hold a running total (kernel counters in /proc).
 */
export interface CounterMetric extends MetricBase {
  readonly kind: 'counter';
  readonly temporality: 'delta' | 'cumulative';
  readonly value: number;
  /** Length of the aggregation interval for delta counters, used to derive per-second rates; 0 if none. */
  readonly intervalMs: number;
}

/** A value that goes up and down; the latest observation wins. */
export interface GaugeMetric extends MetricBase {
  readonly kind: 'gauge';
  readonly value: number;
  /**
   * Mergeable state, set by the aggregating sources only while a sink publishes it (the Kafka
   * sink's `format: state`, for a tier of aggregators): when the value last changed (a gauge's
   * last write, in ms since the epoch; a held gauge keeps its old time), so merging takes the
   * value written last on any host.
   */
  readonly updatedAt?: number | undefined;
  /** Present when the gauge counts a StatsD set's distinct members: them, for a union. */
  readonly set?: SetState | undefined;
}

/** A set's distinct members, or a HyperLogLog of them once there are too many to send. */
export type SetState = { readonly members: readonly string[] } | { readonly sketch: HyperLogLog };

export interface Quantile {
  /** In [0, 1]. */
  readonly quantile: number;
  readonly value: number;
  /**
   * Etsy statsd's per-percentile statistics over the samples at or below this quantile
   * (`count_90`, `sum_90`, `mean_90`; `value` is `upper_90`). Present for StatsD timers.
   */
  readonly count?: number;
  readonly sum?: number;
  readonly mean?: number;
}

/** Distribution of observations over one interval (StatsD timers). */
export interface Summary {
  /** Observations, scaled by 1/sample rate. */
  readonly count: number;
  /** Observations actually received (unscaled); the statistics below are computed over these. */
  readonly samples: number;
  /** Sum of the received values (Etsy statsd's `sum`, unscaled like `mean`). */
  readonly sum: number;
  /**
   * Sum of the values each weighted by 1/sample rate, like `count`: `weightedSum / count` is the
   * mean, as Prometheus' `_sum / _count` must be. Equals `sum` when nothing was sampled.
   */
  readonly weightedSum: number;
  readonly sumSquares: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly median: number;
  /** Population standard deviation of the received samples. */
  readonly stdev: number;
  readonly quantiles: readonly Quantile[];
}

export interface SummaryMetric extends MetricBase {
  readonly kind: 'summary';
  readonly intervalMs: number;
  readonly summary: Summary;
  /**
   * Mergeable state, set only while a sink publishes it (as GaugeMetric.updatedAt): the received
   * values the summary was computed over, so an aggregator computes it again over every host's.
   */
  readonly samples?: Float64Array | undefined;
  /** The same samples in a DDSketch, while a sink sends timers to aggregators as sketches. */
  readonly sketch?: Distribution | undefined;
}

/**
 * One bin of a histogram: the observations in (previous bin's `le`, `le`]. Bins are not
 * cumulative here; sinks that want Prometheus' cumulative `le` buckets add them up.
 */
export interface HistogramBin {
  /** Inclusive upper bound; the last bin's is +Infinity. */
  readonly le: number;
  /** Observations in the bin, scaled by 1/sample rate. */
  readonly count: number;
  /**
   * Sum of the observations in the bin, weighted by 1/sample rate like `count` (0 when empty);
   * lowest and highest received (NaN when empty).
   */
  readonly sum: number;
  readonly min: number;
  readonly max: number;
}

/** A real histogram over one interval (StatsD `h` with configured bins). */
export interface Histogram {
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  /** Ordered by `le`; the last one has `le` = +Infinity. */
  readonly bins: readonly HistogramBin[];
  /**
   * The same observations in exponential buckets, when a mapping asks for a native histogram
   * besides the bins (statsd_exporter's native_histogram_bucket_factor).
   */
  readonly native?: ExponentialBuckets | undefined;
}

export interface HistogramMetric extends MetricBase {
  readonly kind: 'histogram';
  readonly intervalMs: number;
  readonly histogram: Histogram;
}

/** Consecutive buckets of an exponential histogram: counts[i] is bucket `offset + i`. */
export interface BucketRun {
  readonly offset: number;
  readonly counts: readonly number[];
}

/**
 * Exponential buckets, as Prometheus native histograms and OpenTelemetry exponential histograms
 * have them: with base = 2^(2^−schema), positive bucket i holds (base^(i−1), base^i], negative
 * bucket i the same range negated, and the zero bucket [−zeroThreshold, zeroThreshold]. Counts
 * are per bucket (not cumulative), weighted by 1/sample rate.
 */
export interface ExponentialBuckets {
  readonly schema: number;
  readonly zeroThreshold: number;
  readonly zeroCount: number;
  readonly positive: BucketRun;
  readonly negative: BucketRun;
}

/**
 * A mergeable sketch of a distribution (StatsD `d`): quantiles within a stated relative error,
 * and sketches from several agents or workers can be merged without losing that bound.
 */
export interface Distribution {
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  /** α: every quantile returned is within α·|exact value| of the exact one. */
  readonly relativeAccuracy: number;
  /** Quantiles for the configured percentiles, computed once at flush. */
  readonly quantiles: readonly Quantile[];
  /** Any other quantile, from the sketch itself. */
  quantile(q: number): number;
  /**
   * The sketch's bins as exponential buckets, when they are such (sluice's DDSketch): sinks that
   * speak native histograms export them without added error. Absent: quantiles only.
   */
  exponential?(): ExponentialBuckets;
}

export interface DistributionMetric extends MetricBase {
  readonly kind: 'distribution';
  readonly intervalMs: number;
  readonly distribution: Distribution;
}

export type Metric = CounterMetric | GaugeMetric | SummaryMetric | HistogramMetric | DistributionMetric;
export type MetricKind = Metric['kind'];

/** What flows through the pipeline: an immutable list of metrics. */
export type Batch = readonly Metric[];

/** Per-second rate of a delta counter, or undefined when it has no interval. */
export function counterRate(m: CounterMetric): number | undefined {
  return m.temporality === 'delta' && m.intervalMs > 0 ? (m.value * 1000) / m.intervalMs : undefined;
}
