/** Config of StatsD-family aggregation, shared by the sources that feed the aggregator. */
import { s } from '../config/schema.js';
import { histogramBinsSchema } from './histogram.js';
import { mappingSchema } from './mapping.js';

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
  expiry: s.duration({
    default: 300_000,
    doc: 'Series not updated for this long are forgotten: gauges stop being reported. 0 keeps every series forever.',
  }),
  mappings: mappingSchema,
};
