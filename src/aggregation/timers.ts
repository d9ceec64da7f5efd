/**
 * What a StatsD timer (`ms`) becomes, as a source default (the `timers` option): Etsy statsd's
 * summary in milliseconds, as sent, unless asked otherwise; or a Prometheus histogram with
 * buckets, and either in seconds, Prometheus' base unit (statsd_exporter divides by 1000 too).
 * A histogram may carry a native histogram beside its buckets. A statsd_exporter mapping file's
 * observer options (its rules and `defaults`) take precedence over this.
 */
import { s, type InferFields, type ObjectSchema } from '../config/schema.js';
import { nativeSpec, type ObserverSpec } from './aggregator.js';
import { binsSchema, DEFAULT_HISTOGRAM_BINS, refine } from './histogram.js';

/** client_golang's DefBuckets: Prometheus' default histogram buckets, in seconds. */
export const PROMETHEUS_DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

const fields = {
  type: s.oneOf(['summary', 'histogram'] as const, {
    default: 'summary',
    doc: 'summary: percentiles, mean, stdev and the rest over each interval (Etsy statsd); histogram: counts in `buckets`, cumulative in Prometheus.',
  }),
  unit: s.oneOf(['ms', 's'] as const, {
    default: 'ms',
    doc: 'ms keeps values as clients send them; s divides them by 1000 (Prometheus wants seconds).',
  }),
  buckets: binsSchema({
    optional: true,
    doc: "Histogram bucket upper bounds, in `unit`, strictly increasing; default 1 ms to 10 s (Prometheus' default buckets when unit is s).",
  }),
  native_histogram_bucket_factor: s.number({
    default: 0,
    min: 0,
    doc: 'Histogram only: above 1, a Prometheus native histogram besides, its buckets growing by at most this factor (1.1: schema 3; statsd_exporter and client_golang pick the same). 0: none.',
  }),
  native_histogram_max_buckets: s.number({
    default: 0,
    min: 0,
    integer: true,
    doc: 'Most populated native buckets per interval; beyond, the resolution halves. 0: any.',
  }),
};

export type TimersConfig = InferFields<typeof fields>;

export const timersSchema: ObjectSchema<typeof fields> = refine(
  s.object(fields, {
    doc: 'What a timer (ms) becomes: a summary or a histogram, in ms or seconds.',
  }),
  (t) =>
    t.type !== 'histogram' && t.native_histogram_bucket_factor > 0
      ? { path: ['native_histogram_bucket_factor'], message: 'needs type: histogram' }
      : t.type !== 'histogram' && t.buckets !== undefined
        ? { path: ['buckets'], message: 'needs type: histogram' }
        : undefined,
) as ObjectSchema<typeof fields>;

/** The aggregator's default for timers under this config; undefined: as always (ms summaries). */
export function timerObserver(t: TimersConfig): ObserverSpec | undefined {
  const scale = t.unit === 's' ? 0.001 : 1;
  if (t.type === 'summary') {
    if (scale === 1) return undefined;
    return { timerScale: scale, histogram: undefined, percentiles: undefined };
  }
  return {
    timerScale: scale,
    histogram: t.buckets ?? (t.unit === 's' ? PROMETHEUS_DEFAULT_BUCKETS : DEFAULT_HISTOGRAM_BINS),
    percentiles: undefined,
    native: nativeSpec(t.native_histogram_bucket_factor, t.native_histogram_max_buckets),
  };
}

export const timersSample = `    # What a timer (ms) becomes: summary (percentiles, mean... as Etsy statsd) or histogram
    # (counts in buckets, cumulative in Prometheus); in ms as sent or in s (÷1000, what
    # Prometheus and statsd_exporter want). A histogram can carry a native histogram too
    # (native_histogram_bucket_factor above 1). A mapping_config's observer options win.
    timers:
      type: summary
      unit: ms
      # buckets: [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000]
      native_histogram_bucket_factor: 0
      native_histogram_max_buckets: 0
`;
