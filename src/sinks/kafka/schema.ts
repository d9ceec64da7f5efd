/** Config of the `kafka` sink, and the sample block `sluice generate` prints for it. */
import zlib from 'node:zlib';
import { INVALID, s, type InferFields, type ObjectSchema } from '../../config/schema.js';
import {
  kafkaBroker,
  kafkaSasl,
  kafkaTls,
  KAFKA_PORT,
  KAFKA_TLS_SASL_SAMPLE,
  SASL_MECHANISMS,
} from '../../config/kafka.js';
import { formatEndpoint } from '../push/endpoints.js';
import { formatDuration, pushDefaults, pushOptionsSchema, type PushDefaults } from '../push/schema.js';
import { FORMATS, KEYS } from './encoder.js';
import { compileTopic, isLegalTopic, type TopicTemplate } from './topic.js';

/**
 * Kafka's port; batches below the broker's default max.message.bytes (1 MiB after compression)
 * with room for the record overhead, so a full batch is never refused as too large.
 */
export const KAFKA_PUSH: PushDefaults = pushDefaults({ port: KAFKA_PORT, batchBytes: 512 * 1024 });
export { SASL_MECHANISMS };

export const COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export const ACKS = ['all', 'leader', 'none'] as const;

/** zstd comes from node:zlib, which has it from Node 22.15 / 23.8 on. */
export const ZSTD_AVAILABLE = typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function';

const DEFAULT_TOPIC = 'metrics';

function compiledTopic(source: string): TopicTemplate {
  const t = compileTopic(source);
  if (typeof t === 'string') throw new Error(`bad default topic: ${t}`);
  return t;
}

const push = pushOptionsSchema(KAFKA_PUSH);

const selectorFields = {
  name: s.pattern({ optional: true, doc: 'Metric name pattern: a glob (`*`, `?`) or a /regex/.' }),
  tags: s.record(s.pattern(), { optional: true, doc: 'Tag patterns that must all match.' }),
};

const stateFields = {
  metrics: s.array(s.object(selectorFields), {
    default: [],
    doc:
      'Which metrics go global, matched by name and tag patterns as filters match them; ' +
      '[] (the default): every metric with mergeable state. The others stay local.',
  }),
  drop_tags: s.array(s.string({ nonEmpty: true }), {
    default: ['host'],
    doc: "Tag keys left out of the global series (each agent's own, like host).",
  }),
  timers: s.oneOf(['samples', 'sketch'] as const, {
    default: 'samples',
    doc:
      'Timers as their samples (exact statistics, as large as the traffic), or as a DDSketch of them ' +
      '(1 % relative error, bounded size; the global series is then a distribution).',
  }),
  set_exact_limit: s.number({
    integer: true,
    min: 0,
    default: 1000,
    doc: 'Sets with more members than this in an interval go as a HyperLogLog (0.81 % standard error).',
  }),
};

const fields = {
  brokers: s.array(kafkaBroker, {
    minLength: 1,
    default: [{ host: '127.0.0.1', port: KAFKA_PUSH.port }],
    doc:
      'Bootstrap brokers, "host:port" (the port defaults to 9092): the client asks them for the ' +
      'cluster and then talks to each partition leader.',
  }),
  topic: s.custom<TopicTemplate>(
    'a topic name or template like "metrics-{env}"',
    (value) => {
      if (typeof value !== 'string') return { ok: false };
      const t = compileTopic(value);
      return typeof t === 'string'
        ? { ok: false, message: `is not a usable topic: it ${t}` }
        : { ok: true, value: t };
    },
    {
      default: compiledTopic(DEFAULT_TOPIC),
      doc:
        'The topic, or a template: {name} (the metric name), {KEY} or {tag:KEY} (the value of tag KEY), ' +
        'other text as written. Characters a topic cannot hold become "_".',
    },
  ),
  fallback_topic: s.string({
    default: '',
    doc:
      'Where a metric goes when it lacks a tag the topic names; empty: it is dropped and counted ' +
      '(sluice_dropped_metrics{reason="unencodable"}).',
  }),
  key: s.oneOf(KEYS, {
    default: 'series',
    doc: 'Message key: series (name and tags: one partition per series, in order), name, or none.',
  }),
  format: s.oneOf(FORMATS, {
    default: 'json',
    doc:
      'Message value: json (name, type, value, tags, fields, timestamp), influx (one line of line ' +
      "protocol), or state (the interval's mergeable state, for sluice aggregators: docs/fleet.md).",
  }),
  state: s.object(stateFields, { doc: 'With format: state, what goes global and how.' }),
  compression: s.oneOf(COMPRESSIONS, {
    default: 'none',
    doc: 'Batch compression: none, gzip, snappy, lz4, or zstd (Node 22.15 and later).',
  }),
  acks: s.oneOf(ACKS, {
    default: 'all',
    doc:
      'When a batch counts as delivered: all (every in-sync replica has it), leader (the partition ' +
      'leader has it), none (sent; a broker that fails loses it unseen).',
  }),
  client_id: s.string({
    nonEmpty: true,
    default: 'sluice',
    doc: 'The client id brokers log and apply quotas to.',
  }),
  auto_create_topics: s.boolean({
    default: true,
    doc: "Ask brokers to create missing topics (as Java producers do); the broker's auto.create.topics.enable decides.",
  }),
  tls: kafkaTls,
  sasl: kafkaSasl,
  batch_size: push.batch_size,
  batch_bytes: push.batch_bytes,
  flush_interval: push.flush_interval,
  buffer_points: push.buffer_points,
  buffer_bytes: push.buffer_bytes,
  retry_initial: push.retry_initial,
  max_retry_interval: push.max_retry_interval,
  timeout: s.duration({
    default: KAFKA_PUSH.timeoutMs,
    minMs: 1,
    doc: 'A batch not acknowledged within this time fails and is retried with a new client.',
  }),
  shutdown_timeout: push.shutdown_timeout,
};

const base = s.object(fields, { allowKeys: ['type'] });

/** The object schema, plus the rules that span fields or depend on the Node version. */
export const schema: ObjectSchema<typeof fields> = {
  ...base,
  parse(value, path, issues) {
    const parsed = base.parse(value, path, issues);
    if (parsed === INVALID) return parsed;
    if (parsed.fallback_topic !== '' && !isLegalTopic(parsed.fallback_topic)) {
      issues.push({
        path: [...path, 'fallback_topic'],
        message: 'is not a legal topic name (at most 249 letters, digits, ".", "_" or "-")',
      });
      return INVALID;
    }
    if (parsed.compression === 'zstd' && !ZSTD_AVAILABLE) {
      issues.push({
        path: [...path, 'compression'],
        message: `zstd needs Node 22.15 or later (this is ${process.version}); use lz4, snappy or gzip`,
      });
      return INVALID;
    }
    return parsed;
  },
};

export type KafkaConfig = InferFields<typeof fields>;

export const sample = `  kafka:
    type: kafka
    # Bootstrap brokers, "host:port" (the port defaults to 9092); the client learns the
    # rest of the cluster from them and sends each partition's messages to its leader.
    brokers: ['${formatEndpoint({ host: '127.0.0.1', port: KAFKA_PUSH.port })}']
    # The topic, or a template: {name} is the metric name, {KEY} or {tag:KEY} the value
    # of tag KEY ("metrics-{env}"). Characters a topic cannot hold become "_".
    topic: ${DEFAULT_TOPIC}
    # Where a metric goes when it lacks a tag the topic names; '' drops it, counted in
    # sluice_dropped_metrics{reason="unencodable"}.
    fallback_topic: ''
    # Message key: series (name,tag=value,...: each series keeps to one partition, in
    # order), name (the metric name), or none (messages spread over partitions).
    key: series
    # Message value: json ({"name","type","value","tags","fields","timestamp"}), influx
    # (the metric's line of InfluxDB line protocol), or state: the interval's mergeable
    # state, keyed by the global series, for a tier of sluice aggregators (docs/fleet.md).
    format: json
    # With format: state, which metrics go global (name and tag patterns as in filters;
    # [] for every metric with mergeable state), the tag keys each agent has its own of,
    # left out of the global series, and the set size beyond which a set goes as a
    # HyperLogLog (0.81 % standard error) instead of its members; timers go as their samples
    # (exact, as large as the traffic) or as a sketch (1 %, bounded; then a distribution).
    state:
      metrics: []
      drop_tags: [host]
      timers: samples
      set_exact_limit: 1000
    # Compression of each batch: none, gzip, snappy, lz4, or zstd (Node 22.15+).
    compression: none
    # When a batch counts as delivered: all (every in-sync replica has it), leader (the
    # partition leader has it), none (as soon as it is sent, unacknowledged).
    acks: all
    # The client id brokers log and apply quotas to.
    client_id: sluice
    # Ask brokers to create missing topics (the broker's auto.create.topics.enable decides).
    auto_create_topics: true
${KAFKA_TLS_SASL_SAMPLE}    # A batch is sent as soon as it holds batch_size points or batch_bytes bytes, and at the
    # latest flush_interval after its first point arrived.
    batch_size: ${KAFKA_PUSH.batchSize}
    batch_bytes: ${KAFKA_PUSH.batchBytes}
    flush_interval: ${formatDuration(KAFKA_PUSH.flushIntervalMs)}
    # What is kept while the cluster is unreachable; when full, the oldest points are
    # dropped and counted (sluice_dropped_metrics{reason="buffer_full"}).
    buffer_points: ${KAFKA_PUSH.bufferPoints}
    buffer_bytes: ${KAFKA_PUSH.bufferBytes}
    # Failed batches are retried after a random delay below retry_initial, doubling with
    # each failure up to max_retry_interval.
    retry_initial: ${formatDuration(KAFKA_PUSH.retryInitialMs)}
    max_retry_interval: ${formatDuration(KAFKA_PUSH.maxRetryIntervalMs)}
    # A batch not acknowledged within this time fails and is retried with a new client.
    timeout: ${formatDuration(KAFKA_PUSH.timeoutMs)}
    # At shutdown, how long to keep delivering what is buffered before giving up.
    shutdown_timeout: ${formatDuration(KAFKA_PUSH.shutdownTimeoutMs)}
`;
