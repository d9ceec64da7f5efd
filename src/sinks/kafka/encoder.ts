/**
 * What one metric becomes in Kafka: a message with a topic, a key, a value and a timestamp.
 *
 * Values, one message per metric:
 * - `json`: the shape pystatsd's Kafka forwarder sent (a metric name, its value, its tags as an
 *   object), with what a consumer needs to read the other kinds: the metric's type, every field
 *   (the Influx line's field set, so both formats carry the same numbers) and the time in Unix
 *   milliseconds. Keys always in this order:
 *     {"name":"api.requests","type":"counter","value":30,"tags":{"host":"web01"},
 *      "fields":{"value":30,"rate":3},"timestamp":1795262400000}
 *   `value` is the metric's own number (gauges, counters) or its count (summaries, histograms,
 *   distributions). Non-finite numbers are left out of `fields` (JSON has none); `value` is then
 *   null. A field of a multi-field point (json_udp objects) is named as in Influx: its
 *   measurement as `name`, its field as the one key of `fields`.
 * - `influx`: the metric's line of InfluxDB line protocol, newline-terminated, as Telegraf's
 *   influx serializer writes Kafka messages (src/protocols/influx/line.ts).
 * A metric with no finite field has no message (it is counted as unencodable).
 *
 * Keys: `series` (default) is the series as an Influx line head, `name,tag=value,...` with the
 * tags sorted, so every point of a series goes to the same partition, in order; `name` keys by
 * the metric name alone; `none` sends no key (the client spreads messages over partitions).
 *
 * The PushSink buffers records as bytes, so the message travels as one frame (the transport
 * unpacks it without copying): u8 topic length, the topic (ASCII), f64 timestamp (ms, BE), i32
 * key length (-1: no key, BE), the key, then the value up to the end.
 */
import type { Metric } from '../../core/metric.js';
import type { Tags } from '../../core/tags.js';
import { foldFields } from '../../protocols/fields.js';
import { encodeLine, encodeTags, escapeMeasurement } from '../../protocols/influx/line.js';
import type { PushEncoder } from '../push/push.js';
import { renderTopic, type TopicTemplate } from './topic.js';

export const FORMATS = ['json', 'influx', 'state'] as const;
export type KafkaFormat = (typeof FORMATS)[number];

export const KEYS = ['series', 'name', 'none'] as const;
export type KafkaKey = (typeof KEYS)[number];

/** One Kafka message, as the transport hands it to the client. */
export interface KafkaMessage {
  readonly topic: string;
  readonly key: Buffer | undefined;
  readonly value: Buffer;
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
}

/** Packs a message into one buffer (the layout is in the header comment). */
export function packMessage(
  topic: string,
  key: string | undefined,
  value: string | Uint8Array,
  timestamp: number,
): Buffer {
  const keyBytes = key === undefined ? 0 : Buffer.byteLength(key, 'utf8');
  const valueBytes = typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.byteLength;
  const buf = Buffer.allocUnsafe(1 + topic.length + 8 + 4 + keyBytes + valueBytes);
  let at = 0;
  buf[at++] = topic.length;
  at += buf.write(topic, at, 'latin1');
  at = buf.writeDoubleBE(timestamp, at);
  at = buf.writeInt32BE(key === undefined ? -1 : keyBytes, at);
  if (key !== undefined) at += buf.write(key, at, 'utf8');
  if (typeof value === 'string') buf.write(value, at, 'utf8');
  else buf.set(value, at);
  return buf;
}

/** The inverse of packMessage; key and value share the record's memory. */
export function unpackMessage(record: Uint8Array): KafkaMessage {
  const buf = Buffer.isBuffer(record)
    ? record
    : Buffer.from(record.buffer, record.byteOffset, record.byteLength);
  const topicLength = buf[0] as number;
  let at = 1;
  const topic = buf.toString('latin1', at, at + topicLength);
  at += topicLength;
  const timestamp = buf.readDoubleBE(at);
  at += 8;
  const keyLength = buf.readInt32BE(at);
  at += 4;
  let key: Buffer | undefined;
  if (keyLength >= 0) {
    key = buf.subarray(at, at + keyLength);
    at += keyLength;
  }
  return { topic, key, value: buf.subarray(at), timestamp };
}

function jsonField(out: string, key: string, value: number): string {
  if (!Number.isFinite(value)) return out;
  return out + (out === '' ? '' : ',') + JSON.stringify(key) + ':' + String(value);
}

/** The `fields` object's members, as the Influx encoder names them (src/protocols/fields.ts). */
function jsonFields(m: Metric): string {
  return m.kind === 'gauge' && m.point !== undefined
    ? jsonField('', m.point.field, m.value)
    : foldFields(m, '', jsonField);
}

function primaryValue(m: Metric): number {
  switch (m.kind) {
    case 'counter':
    case 'gauge':
      return m.value;
    case 'summary':
      return m.summary.count;
    case 'histogram':
      return m.histogram.count;
    case 'distribution':
      return m.distribution.count;
  }
}

function jsonTags(tags: Tags): string {
  let out = '';
  for (let i = 0; i < tags.length; i++) {
    const [k, v] = tags[i] as readonly [string, string];
    out += (i === 0 ? '' : ',') + JSON.stringify(k) + ':' + JSON.stringify(v);
  }
  return out;
}

/** The JSON document of a metric; undefined when it has no finite field. */
export function jsonValue(m: Metric): string | undefined {
  const fields = jsonFields(m);
  if (fields === '') return undefined;
  const name = m.kind === 'gauge' && m.point !== undefined ? m.point.measurement : m.name;
  const value = primaryValue(m);
  return (
    '{"name":' +
    JSON.stringify(name) +
    ',"type":"' +
    m.kind +
    '","value":' +
    (Number.isFinite(value) ? String(value) : 'null') +
    ',"tags":{' +
    jsonTags(m.tags) +
    '},"fields":{' +
    fields +
    '},"timestamp":' +
    (Number.isFinite(m.timestamp) ? String(m.timestamp) : 'null') +
    '}'
  );
}

/** The message key of a metric under a key mode. */
export function messageKey(mode: KafkaKey, m: Metric): string | undefined {
  switch (mode) {
    case 'series':
      return escapeMeasurement(m.name) + encodeTags(m.tags);
    case 'name':
      return m.name;
    case 'none':
      return undefined;
  }
}

export interface KafkaEncoderOptions {
  readonly topic: TopicTemplate;
  /** Where metrics without a topic go; '' drops them. */
  readonly fallbackTopic: string;
  readonly key: KafkaKey;
  readonly format: KafkaFormat;
}

/** A metric's message before packing, for `sluice explain` and the tests. */
export interface PlainMessage {
  readonly topic: string;
  readonly key: string | undefined;
  readonly value: string;
  readonly timestamp: number;
}

export class KafkaEncoder implements PushEncoder {
  constructor(private readonly options: KafkaEncoderOptions) {}

  /** The message of a metric, unpacked; undefined when it has no topic or no value. */
  message(m: Metric): PlainMessage | undefined {
    const o = this.options;
    let topic = renderTopic(o.topic, m.name, m.tags);
    if (topic === undefined) {
      if (o.fallbackTopic === '') return undefined;
      topic = o.fallbackTopic;
    }
    let value: string | undefined;
    if (o.format === 'json') value = jsonValue(m);
    else {
      const line = encodeLine(m);
      value = line === undefined ? undefined : line + '\n';
    }
    if (value === undefined) return undefined;
    return { topic, key: messageKey(o.key, m), value, timestamp: m.timestamp };
  }

  encode(m: Metric): Uint8Array | undefined {
    const msg = this.message(m);
    return msg === undefined ? undefined : packMessage(msg.topic, msg.key, msg.value, msg.timestamp);
  }
}
