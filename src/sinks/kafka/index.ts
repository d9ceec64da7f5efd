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
import { sample, schema, type KafkaConfig } from './schema.js';
import { KafkaStateEncoder } from './state.js';
import { decodeState } from '../../protocols/state/codec.js';
import type { Batch } from '../../core/metric.js';
import { MetricSelector } from '../../core/filter.js';

const selectors = new WeakMap<KafkaConfig, MetricSelector>();
function selectorOf(config: KafkaConfig): MetricSelector {
  let s = selectors.get(config);
  if (s === undefined) selectors.set(config, (s = new MetricSelector(config.state.metrics)));
  return s;
}

/** What `sluice explain` shows of state messages: topic, key, and the state decoded again. */
function previewState(config: KafkaConfig, batch: Batch): string {
  const encoder = new KafkaStateEncoder(config.topic, config.fallback_topic, config.state, 'explain');
  let out = '';
  for (const m of batch) {
    const msg = encoder.message(m);
    if (msg === null) {
      out += `${m.name}: stays local (no state.metrics selector matches)\n`;
      continue;
    }
    if (msg === undefined) {
      out += `${m.name}: no mergeable state (${m.kind}${m.kind === 'counter' ? `, ${m.temporality}` : ''}); not published\n`;
      continue;
    }
    const decoded = decodeState(msg.value);
    const series = decoded.kind === 'series' ? decoded.series : undefined;
    const state = JSON.stringify(series, (k, v: unknown) => {
      if (k === 'name' || k === 'tags' || k === 'timestamp') return undefined;
      if (v instanceof Uint8Array) return `<${v.length} bytes>`;
      return v instanceof Float64Array ? Array.from(v) : v;
    });
    out += `topic=${msg.topic} key=${JSON.stringify(msg.key)} ${msg.value.length} bytes: ${state}\n`;
  }
  return out;
}

export const kafkaSink = defineSink({
  type: 'kafka',
  description: 'Produces metrics to Kafka topics, as JSON or Influx line protocol, keyed by series.',
  schema,
  sample,
  create: (config, ctx) => createKafkaSink(config, ctx),
  publishesState: (config) => config.format === 'state',
  sketchesTimers: (config) => config.format === 'state' && config.state.timers === 'sketch',
  globalScope: (config, name) => (config.format === 'state' ? selectorOf(config).nameScope(name) : undefined),
  preview: (config, batch) => {
    if (config.format === 'state') return previewState(config, batch);
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
