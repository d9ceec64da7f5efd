/**
 * The Kafka sink: the shared push machinery (buffer, batches, retries with backoff, shutdown
 * flush, self-stats) with a transport whose `send` produces one batch through
 * @platformatic/kafka's Producer and resolves when the brokers acknowledge it (per `acks`).
 *
 * How Kafka fits PushSink's model:
 * - PushSink's endpoints are single servers; a Kafka cluster is one destination reached through
 *   bootstrap brokers, with the client routing each partition to its leader. So the sink has one
 *   lane, labelled with the first broker, and the client gets the whole list. DNS is the
 *   client's (PushSink's lookup is bypassed), so a broker name that does not resolve does not
 *   stop the others from being tried.
 * - A record is one packed message (topic, key, value, timestamp: see encoder.ts), so topic
 *   templates need nothing from PushSink.
 * - A send that fails is retried by PushSink with its backoff; within one send the client
 *   retries only briefly (a leader moving, a topic being created). A send that times out closes
 *   the producer, and the retry builds a new one, as TcpTransport does with a wedged socket.
 * - Errors that no retry can fix (a message or batch the broker refuses as too large, an invalid
 *   topic or timestamp) reject with PushRejected: the batch is dropped and counted instead of
 *   blocking the buffer forever.
 */
import type * as KafkaClient from '@platformatic/kafka';
import type { MessageToProduce, Producer, ProducerOptions } from '@platformatic/kafka';
import { kafkaConnection } from '../../config/kafka.js';
import type { ComponentContext } from '../../core/component.js';
import { PushRejected, PushSink, type PushDeps, type PushTransport } from '../push/push.js';
import type { Payload } from '../push/queue.js';
import type { PushConfig } from '../push/schema.js';
import { KafkaEncoder, unpackMessage } from './encoder.js';
import type { KafkaConfig } from './schema.js';
import { KafkaStateEncoder } from './state.js';

/** Kafka error names (protocol error ids) that mean the data itself is refused. */
const UNRETRIABLE = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'INVALID_TOPIC_EXCEPTION',
  'INVALID_TIMESTAMP',
  'CORRUPT_MESSAGE',
]);

/** Transient errors inside one send: a few quick retries, then PushSink's backoff takes over. */
const CLIENT_RETRIES = 3;
const CLIENT_RETRY_DELAY_MS = 250;
/** Closing a producer whose broker is gone must not hold up a retry or the shutdown. */
const CLOSE_TIMEOUT_MS = 2_000;

const ACKS = { all: -1, leader: 1, none: 0 } as const;

type KafkaModule = typeof KafkaClient;
let kafkaModule: Promise<KafkaModule> | undefined;

/**
 * The client is loaded when a kafka sink is created, not with the registry: importing it takes a second or
 * more (schema compilation, WebAssembly codecs), which every `sluice` command (validate,
 * generate, --version) would otherwise pay, with or without a kafka sink.
 */
function loadKafka(): Promise<KafkaModule> {
  kafkaModule ??= import('@platformatic/kafka');
  return kafkaModule;
}

/** The protocol error id (MESSAGE_TOO_LARGE, ...) anywhere in an error and its nested errors. */
function findApiIds(error: unknown, out: Set<string>, depth = 0): Set<string> {
  if (error === null || typeof error !== 'object' || depth > 8) return out;
  const e = error as { apiId?: unknown; errors?: unknown; cause?: unknown };
  if (typeof e.apiId === 'string') out.add(e.apiId);
  if (Array.isArray(e.errors)) for (const inner of e.errors) findApiIds(inner, out, depth + 1);
  findApiIds(e.cause, out, depth + 1);
  return out;
}

export function isUnretriable(error: unknown): boolean {
  for (const id of findApiIds(error, new Set())) if (UNRETRIABLE.has(id)) return true;
  return false;
}

/** What the producer is built from: TLS files are read once, when the sink is created. */
export function producerOptions(config: KafkaConfig): ProducerOptions<Buffer, Buffer, Buffer, Buffer> {
  return {
    clientId: config.client_id,
    ...kafkaConnection(config),
    timeout: config.timeout,
    connectTimeout: config.timeout,
    retries: CLIENT_RETRIES,
    retryDelay: CLIENT_RETRY_DELAY_MS,
    autocreateTopics: config.auto_create_topics,
    // Retries resend a batch with new sequence numbers, so idempotence would not prevent the
    // duplicates an at-least-once sink can produce; it would only add a round trip.
    idempotent: false,
  };
}

export class KafkaTransport implements PushTransport {
  private producer: Producer<Buffer, Buffer, Buffer, Buffer> | undefined;
  private closing: Promise<void> | undefined;
  /** Topics seen with a leader for every partition. */
  private readonly ready = new Set<string>();

  constructor(
    private readonly options: ProducerOptions<Buffer, Buffer, Buffer, Buffer>,
    private readonly config: KafkaConfig,
  ) {}

  async send(payload: Payload): Promise<void> {
    if (this.closing !== undefined) throw new Error('The Kafka transport is closed.');
    if (this.producer === undefined) {
      const { Producer } = await loadKafka();
      if (this.closing !== undefined) throw new Error('The Kafka transport is closed.');
      this.producer = new Producer(this.options);
    }
    const messages: MessageToProduce<Buffer, Buffer, Buffer, Buffer>[] = new Array(payload.points);
    for (let i = 0; i < payload.points; i++) {
      const m = unpackMessage(payload.records[i] as Uint8Array);
      const message: MessageToProduce<Buffer, Buffer, Buffer, Buffer> = { topic: m.topic, value: m.value };
      if (m.key !== undefined) message.key = m.key;
      if (Number.isSafeInteger(m.timestamp) && m.timestamp >= 0) message.timestamp = BigInt(m.timestamp);
      messages[i] = message;
    }
    const unknown = new Set<string>();
    for (const m of messages) if (!this.ready.has(m.topic)) unknown.add(m.topic);
    if (unknown.size > 0) await this.awaitLeaders(this.producer, [...unknown]);
    try {
      await this.producer.send({
        messages,
        acks: ACKS[this.config.acks],
        compression: this.config.compression,
        autocreateTopics: this.config.auto_create_topics,
      });
    } catch (e) {
      if (isUnretriable(e)) {
        throw new PushRejected(`Kafka refused the batch: ${(e as Error).message}`, { cause: e });
      }
      throw e;
    }
  }

  /**
   * Fails (to be retried with backoff) unless every partition of `topics` has a leader. Kafka
   * answers a produce request partition by partition: while an auto-created topic is still
   * electing leaders, some partitions would take their messages and others refuse theirs, the
   * send would fail as a whole, and its retry would write the accepted ones twice. Asking first
   * keeps the common case, a new topic, free of duplicates.
   */
  private async awaitLeaders(
    producer: Producer<Buffer, Buffer, Buffer, Buffer>,
    topics: string[],
  ): Promise<void> {
    const metadata = await producer.metadata({
      topics,
      autocreateTopics: this.config.auto_create_topics,
      forceUpdate: true,
    });
    for (const topic of topics) {
      const t = metadata.topics.get(topic);
      if (
        t === undefined ||
        t.partitions.length === 0 ||
        t.partitions.some((p) => p === undefined || p.leader < 0)
      ) {
        throw new Error(`Topic ${topic} has no leader for every partition yet; the batch waits.`);
      }
      this.ready.add(topic);
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const producer = this.producer;
      this.producer = undefined;
      if (producer === undefined) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        producer.close().catch(() => {}),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
    })();
    return this.closing;
  }
}

export function createKafkaSink(config: KafkaConfig, ctx: ComponentContext, deps: PushDeps = {}): PushSink {
  const encoder =
    config.format === 'state'
      ? new KafkaStateEncoder(config.topic, config.fallback_topic, config.state)
      : new KafkaEncoder({
          topic: config.topic,
          fallbackTopic: config.fallback_topic,
          key: config.key,
          format: config.format,
        });
  const options = producerOptions(config);
  // Loading starts now, so the first flush does not wait for it; a failure shows at that send.
  loadKafka().catch(() => {});
  const first = config.brokers[0] as (typeof config.brokers)[number];
  const pushConfig: PushConfig = {
    ...config,
    endpoints: [first],
    mode: 'fanout',
    resolve_interval: 0,
  };
  return new PushSink(pushConfig, encoder, () => new KafkaTransport(options, config), ctx, {
    // The client resolves broker names itself, each one when it connects.
    lookup: async (host) => [host],
    ...deps,
  });
}
