/**
 * The `influxdb` sink: InfluxDB line protocol over UDP (1.x's `[[udp]]` listener, as Bucky3 sent
 * it) or over HTTP, to the v1 `/write` API or the v2 `/api/v2/write` API, with Telegraf's
 * `urls = ["udp://…", "http://…"]` style of configuration. Why one sink for both: the encoding,
 * the buffering and the options are the same; only the transport differs. Buffering, retries
 * with backoff, several endpoints and DNS are the shared push machinery's (src/sinks/push).
 */
import { defineSink } from '../../core/definition.js';
import type { Metric } from '../../core/metric.js';
import { createEncoder, createInfluxdbSink } from './influxdb.js';
import { sample, schema } from './schema.js';

export const influxdbSink = defineSink({
  type: 'influxdb',
  description: 'Sends metrics to InfluxDB as line protocol, over UDP or the HTTP v1/v2 write APIs.',
  schema,
  sample,
  create: (config, ctx) => createInfluxdbSink(config, ctx),
  preview: (config, batch) => {
    const encoder = createEncoder(config);
    return batch.map((m: Metric) => encoder.encode(m) ?? '').join('');
  },
});
