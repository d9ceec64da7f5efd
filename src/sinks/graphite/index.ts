/**
 * The `graphite` sink: carbon's plaintext protocol over TCP, batched, to one or more carbon
 * daemons (carbon-cache, carbon-relay, go-carbon, or anything that speaks it). Graphite names
 * are dotted paths, so a template says how a metric's name, tags and field become one: the
 * bpftrace client's `<hostname>.cpu-lat.<bucket>` and Bucky3's `name_mapping` are both one
 * template. Graphite 1.1 tagged series are an option. Buffering, retries with backoff and
 * reconnection are the shared push machinery's (src/sinks/push).
 */
import { defineSink } from '../../core/definition.js';
import { CarbonEncoder } from '../../protocols/carbon/plaintext.js';
import { createGraphiteSink } from './graphite.js';
import { sample, schema } from './schema.js';

export const graphiteSink = defineSink({
  type: 'graphite',
  description: 'Sends metrics to Graphite (carbon plaintext over TCP), paths built from tags by a template.',
  schema,
  sample,
  create: (config, ctx) => createGraphiteSink(config, ctx),
  preview: (config, batch) => {
    const encoder = new CarbonEncoder(config.template, config.naming);
    return batch.map((m) => encoder.encode(m) ?? '').join('');
  },
});
