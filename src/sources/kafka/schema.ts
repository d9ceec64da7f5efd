/** Config of the `kafka` source (a sluice aggregator), and the sample `sluice generate` prints. */
import { s, type InferFields } from '../../config/schema.js';
import { aggregationFields, DEFAULT_MAX_SERIES } from '../../aggregation/schema.js';
import { kafkaBroker, kafkaSasl, kafkaTls, KAFKA_PORT, KAFKA_TLS_SASL_SAMPLE } from '../../config/kafka.js';

export const schema = s.object(
  {
    brokers: s.array(kafkaBroker, {
      minLength: 1,
      default: [{ host: '127.0.0.1', port: KAFKA_PORT }],
      doc: 'Bootstrap brokers, "host:port" (the port defaults to 9092).',
    }),
    topic: s.string({
      nonEmpty: true,
      default: 'sluice-state',
      doc: 'The topic agents publish their state to.',
    }),
    group: s.string({
      nonEmpty: true,
      default: 'sluice-aggregators',
      doc: "The consumer group: every aggregator of one tier names the same, and Kafka shares the topic's partitions among them.",
    }),
    client_id: s.string({ nonEmpty: true, default: 'sluice-aggregator', doc: 'The client id brokers log.' }),
    tls: kafkaTls,
    sasl: kafkaSasl,
    window: s.duration({
      default: 10_000,
      minMs: 1000,
      doc: "Length of the global windows; agents' flush interval should divide it.",
    }),
    allowed_lateness: s.duration({
      default: 5_000,
      doc: 'How long after its end a window waits for state before it closes.',
    }),
    late: s.oneOf(['next_window', 'drop'] as const, {
      default: 'next_window',
      doc: 'State for a window already closed: merged into the earliest open one, or dropped (counted either way).',
    }),
    session_timeout: s.duration({
      default: 10_000,
      minMs: 1000,
      doc: 'How long the group waits for a silent aggregator before its partitions move to the others.',
    }),
    percentiles: aggregationFields.percentiles,
    max_series: s.number({
      default: DEFAULT_MAX_SERIES,
      integer: true,
      min: 0,
      doc: 'Most series one window of one partition holds; more are refused and counted. 0 = no limit.',
    }),
  },
  { allowKeys: ['type'] },
);

export type KafkaSourceConfig = InferFields<typeof schema.fields>;

export const sample = `  kafka:
    type: kafka
    # A sluice aggregator: reads the interval state agents publish (a kafka sink with
    # format: state), merges it into global series per window and hands them to the sinks.
    # Bootstrap brokers, "host:port" (the port defaults to 9092).
    brokers: ['127.0.0.1:9092']
    # The topic agents publish to, and the consumer group every aggregator of the tier
    # joins: Kafka shares the partitions among them and moves a dead one's to the others.
    topic: sluice-state
    group: sluice-aggregators
    client_id: sluice-aggregator
${KAFKA_TLS_SASL_SAMPLE}    # Global windows (agents' flush interval should divide the window), how long a window
    # waits for late state after its end, and what late state does then: next_window
    # (merged into the earliest open window) or drop; counted either way.
    window: 10s
    allowed_lateness: 5s
    late: next_window
    # How long the group waits for a silent aggregator before its partitions move.
    session_timeout: 10s
    # Percentiles of merged timers and distributions.
    percentiles: [50, 90, 95, 99]
    # Most series one window of one partition holds (0 = no limit).
    max_series: ${DEFAULT_MAX_SERIES}
`;
