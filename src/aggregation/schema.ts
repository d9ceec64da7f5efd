/** Config of StatsD-family aggregation, shared by the sources that feed the aggregator. */
import { s } from '../config/schema.js';
import { histogramBinsSchema } from './histogram.js';
import { mappingSchema } from './mapping.js';
import { timersSchema } from './timers.js';

/**
 * Measured for the whole agent (bench/cardinality.mjs, docs/benchmarks.md): a tagged series held
 * costs about 2.5 KB of RSS with the built-in sinks (the ingest worker's tables, the main
 * thread's merge, the Prometheus exporter's copy, and the garbage collector's headroom while
 * series arrive fast), so 200,000 series is ~0.5 GB. A host agent normally holds thousands; a
 * budget this size is hit by a leak (a tag with request ids) or a hostile sender.
 */
export const DEFAULT_MAX_SERIES = 200_000;

/**
 * Aggregation options shared by the sources that feed the StatsD aggregator (statsd, json_udp),
 * so the same option means the same thing in both.
 */
export const aggregationFields = {
  flush_interval: s.duration({
    default: 10_000,
    minMs: 100,
    doc: 'How often aggregates are emitted. Counters report the total of each interval.',
  }),
  percentiles: s.array(s.number({ min: 0, max: 100 }), {
    default: [50, 90, 95, 99],
    doc: 'Percentiles (0 to 100) of timers (ms, by nearest rank as Etsy statsd does) and distributions.',
  }),
  histogram_bins: histogramBinsSchema,
  timers: timersSchema,
  expiry: s.duration({
    default: 300_000,
    doc: 'Series not updated for this long are forgotten: gauges stop being reported. 0 keeps every series forever.',
  }),
  mappings: mappingSchema,
  max_series: s.number({
    default: DEFAULT_MAX_SERIES,
    integer: true,
    min: 0,
    doc: 'Most series held at once, over all ingest workers (about 2.5 KB of RSS each with a Prometheus exporter); a value that would create another is dropped and counted as series_limit. 0 = no limit.',
  }),
};
