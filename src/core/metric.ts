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
}

export interface Quantile {
  /** In [0, 1]. */
  readonly quantile: number;
  readonly value: number;
}

/** Distribution of observations over one interval (StatsD timers). */
export interface Summary {
  /** Observations, scaled by 1/sample rate. */
  readonly count: number;
  /** Observations actually received (unscaled); the statistics below are computed over these. */
  readonly samples: number;
  readonly sum: number;
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
}

export type Metric = CounterMetric | GaugeMetric | SummaryMetric;
export type MetricKind = Metric['kind'];

/** What flows through the pipeline: an immutable list of metrics. */
export type Batch = readonly Metric[];

/** Per-second rate of a delta counter, or undefined when it has no interval. */
export function counterRate(m: CounterMetric): number | undefined {
  return m.temporality === 'delta' && m.intervalMs > 0 ? (m.value * 1000) / m.intervalMs : undefined;
}
