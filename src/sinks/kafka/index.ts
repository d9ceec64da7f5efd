/**
 * The `kafka` sink: each metric becomes one Kafka message (JSON as pystatsd's forwarder sent it,
 * or a line of InfluxDB line protocol), keyed by its series, on a topic that may depend on its
 * tags, produced in compressed batches through @platformatic/kafka (pure JavaScript: no native
 * build, no download). Buffering, retries with backoff and the flush at shutdown are the shared
 * push machinery's (src/sinks/push). Why this client: docs/sinks/kafka.md.
 */
import { defineSink } from '../../core/definition.js';
import { KafkaEncoder } from './encoder.js';
import { createKafkaSink } from './kafka.js';
import { sample, schema } from './schema.js';

export const kafkaSink = defineSink({
  type: 'kafka',
  description: 'Produces metrics to Kafka topics, as JSON or Influx line protocol, keyed by series.',
  schema,
  sample,
  create: (config, ctx) => createKafkaSink(config, ctx),
  preview: (config, batch) => {
    const encoder = new KafkaEncoder({
      topic: config.topic,
      fallbackTopic: config.fallback_topic,
      key: config.key,
      format: config.format,
    });
    let out = '';
    for (const m of batch) {
      const msg = encoder.message(m);
      if (msg === undefined) continue;
      const key = msg.key === undefined ? '' : ` key=${JSON.stringify(msg.key)}`;
      out += `topic=${msg.topic}${key} ${msg.value.endsWith('\n') ? msg.value : msg.value + '\n'}`;
    }
    return out;
  },
});
