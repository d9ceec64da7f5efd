/**
 * The `json_udp` source: newline-delimited flat JSON objects over UDP (or any transport of
 * src/sources/transport), the format of pystatsd (Symantec) and Bucky3's jsond, so their
 * clients can point at sluice unchanged.
 *
 * Typed records (`metric_type`) go through the same aggregator as StatsD lines, so a JSON
 * gauge, counter or timer reports exactly what the equivalent StatsD line would. The model holds
 * one value per series, so an untyped object, which Bucky3 wrote as one InfluxDB point with many
 * fields, becomes one gauge per numeric field, named `<measurement>.<field>`: Prometheus shows
 * `json_a`, InfluxDB and Graphite `json.a`. Those are passed through, each with its own
 * timestamp, at the next flush rather than aggregated, as jsond passed them on; they still go
 * through the aggregator (as timestamped gauges, which it forwards) so that mapping rules and
 * the one-type-per-name rule hold for them too.
 */
import { defineSource } from '../../core/definition.js';
import type { PointField } from '../../core/metric.js';
import { StatsdAggregator } from '../../aggregation/aggregator.js';
import { IngestWorkerSource, resolveWorkers } from '../ingest/workers.js';
import { jsonUdpSample, jsonUdpSchema } from './schema.js';
import { jsonAggregatorOptions, JsonUdpSource, withPoints } from './source.js';

export { JsonUdpSource, type JsonUdpConfig } from './source.js';

export const jsonUdpSource = defineSource({
  type: 'json_udp',
  description:
    'Receives newline-delimited JSON metrics (pystatsd, Bucky3 jsond) over UDP and aggregates them as StatsD.',
  schema: jsonUdpSchema,
  sample: jsonUdpSample,
  create: (config, ctx) => {
    const workers = resolveWorkers(config.workers);
    if (workers === 0) return new JsonUdpSource(config, ctx);
    return new IngestWorkerSource(ctx, {
      worker: { url: new URL('./worker.js', import.meta.url), key: 'workers/json_udp.cjs' },
      config,
      flushIntervalMs: config.flush_interval,
      workers,
      merger: (c) =>
        new StatsdAggregator(jsonAggregatorOptions(c, 'merging', undefined, ctx.mergeableState), () =>
          ctx.clock.now(),
        ),
      // Each worker names the points of the untyped objects it took (worker.ts).
      finish: (batch, extras) => {
        const points = new Map<string, PointField>();
        for (const pairs of extras as [string, PointField][][]) for (const [k, v] of pairs) points.set(k, v);
        return withPoints(batch, points);
      },
    });
  },
});
