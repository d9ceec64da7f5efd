/**
 * JSON metrics over datagrams, as pystatsd (Symantec) and Bucky3's jsond received them:
 * newline-delimited flat JSON objects (http://ndjson.org/), one or more per datagram.
 *
 * Typed records (pystatsd) carry `metric_type` and aggregate like the StatsD line they stand for:
 *
 *   {"metric_name": "user.latency", "metric_type": "gauge", "value": 4.4, "env": "dev"}
 *     ≡ user.latency:4.4|g|#env:dev
 *
 *   - metric_type: counter, gauge (pystatsd's spelling `guage` too), timer, histogram,
 *     distribution, set, or the StatsD codes c, g, ms, h, d, s; and `trace`, which counts the
 *     message (a counter increment of 1, as pystatsd counted traces per tag combination).
 *   - value: a number, or a string holding a decimal number; for sets, the member (a string or a
 *     number). Counters may give it as `count` (pystatsd's counter field) instead.
 *   - sample_rate: optional, in (0, 1].
 *   - timestamp: optional, Unix seconds, or milliseconds when above 2^31 (Bucky3's rule); it must
 *     lie within the configured window around now (`timestamp_out_of_window`).
 *   - Every other field becomes a tag: strings as they are, numbers and booleans as their JSON
 *     spelling (pystatsd kept them all as tags); nulls are skipped.
 *
 * Untyped objects (no `metric_type`, Bucky3's jsond) are one point: every number is a field,
 * booleans are fields worth 1 or 0, strings are tags, `metric_name` (if any) names the
 * measurement and `timestamp` is read as above.
 *
 * Rejected, each with a reason counted by the source: invalid UTF-8, lines over the size limit,
 * invalid JSON, anything but an object, nested objects or arrays, numbers beyond ±(2^53 − 1)
 * (JSON.parse would silently round them: 12345678901234567890 becomes 12345678901234567000; and
 * 1e400 becomes Infinity), empty keys, and typed records without a usable name, type, value,
 * sample rate or timestamp. Nothing in here throws on input.
 */
import { RejectionLog, type RejectedLine } from '../rejections.js';
import { isUtf8 } from 'node:buffer';
import { NO_TAGS, type Tag, type Tags } from '../../core/tags.js';

/** StatsD type codes a typed record can aggregate as. */
export type JsonTypeCode = 'c' | 'g' | 'ms' | 'h' | 'd' | 's';

/** Accepted `metric_type` values; `trace` counts as `c` with the value 1. */
const TYPES = new Map<string, JsonTypeCode | 'trace'>([
  ['counter', 'c'],
  ['gauge', 'g'],
  ['guage', 'g'],
  ['timer', 'ms'],
  ['histogram', 'h'],
  ['distribution', 'd'],
  ['set', 's'],
  ['trace', 'trace'],
  ['c', 'c'],
  ['g', 'g'],
  ['ms', 'ms'],
  ['h', 'h'],
  ['d', 'd'],
  ['s', 's'],
]);

export const JSON_METRIC_TYPES: readonly string[] = [...TYPES.keys()];

/** Why a line was dropped. A closed set: each one is a self-metric label and documented. */
export const JSON_REJECT_REASONS = [
  'invalid_utf8',
  'too_long',
  'bad_json',
  'not_object',
  'nested_value',
  'huge_number',
  'bad_key',
  'missing_name',
  'unknown_type',
  'bad_value',
  'bad_sample_rate',
  'bad_timestamp',
  'timestamp_out_of_window',
  'no_fields',
  // Returned by the consumer (the aggregator): the name already holds another type, or the
  // value would create a series past `max_series`.
  'type_conflict',
  'series_limit',
] as const;
export type JsonRejectReason = (typeof JSON_REJECT_REASONS)[number];

export const NAME_KEY = 'metric_name';
export const TYPE_KEY = 'metric_type';
export const VALUE_KEY = 'value';
export const COUNT_KEY = 'count';
export const SAMPLE_RATE_KEY = 'sample_rate';
export const TIMESTAMP_KEY = 'timestamp';

/** One accepted line. Reused for the next line: read it during `JsonSink.record`, copy what you keep. */
export class JsonRecord {
  /** `metric` and `trace` are typed records; `untyped` is a point with fields. */
  kind: 'metric' | 'trace' | 'untyped' = 'metric';
  /** `metric_name`; '' for an untyped object without one. */
  name = '';
  /** Typed records: how to aggregate (`c` for traces). */
  type: JsonTypeCode = 'c';
  /** Typed records except sets: the value (1 for traces). */
  value = 0;
  /** Sets: the member. */
  member = '';
  /** In (0, 1]. */
  sampleRate = 1;
  /** Milliseconds since the epoch from the `timestamp` field, or NaN when absent. */
  timestamp = NaN;
  /** In object order, not sorted, keys unique (JSON.parse keeps the last of repeated keys). */
  readonly tags: Tag[] = [];
  /** Untyped objects: field names and values, index for index. */
  readonly fieldNames: string[] = [];
  readonly fieldValues: number[] = [];

  reset(): void {
    this.kind = 'metric';
    this.name = '';
    this.type = 'c';
    this.value = 0;
    this.member = '';
    this.sampleRate = 1;
    this.timestamp = NaN;
    // Truncating an array costs a builtin call even when it is already empty.
    if (this.tags.length !== 0) this.tags.length = 0;
    if (this.fieldNames.length !== 0) {
      this.fieldNames.length = 0;
      this.fieldValues.length = 0;
    }
  }

  /**
   * A fresh copy of `tags`, sorted by key: canonical Tags (JSON.parse already made keys unique),
   * by insertion sort, cheaper than a general sort for the handful of tags a record carries.
   */
  sortedTags(): Tags {
    const src = this.tags;
    const n = src.length;
    if (n === 0) return NO_TAGS;
    const out = src.slice();
    for (let i = 1; i < n; i++) {
      const t = out[i] as Tag;
      const key = t[0];
      let j = i - 1;
      while (j >= 0 && (out[j] as Tag)[0] > key) {
        out[j + 1] = out[j] as Tag;
        j--;
      }
      out[j + 1] = t;
    }
    return out;
  }
}

/** Receives the outcome of every non-blank line of a datagram, in order. */
export interface JsonSink {
  /** A valid record; the consumer may still refuse it (returning why), and it is then rejected. */
  record(record: JsonRecord): JsonRejectReason | undefined;
  /** An invalid line, as the byte range [start, end) of `buf`. */
  reject(reason: JsonRejectReason, buf: Buffer, start: number, end: number): void;
}

export interface JsonParserOptions {
  /** Longer lines are rejected unparsed (`too_long`). */
  readonly maxLineBytes: number;
  /** `timestamp` fields further than this from now are rejected; 0 accepts any. */
  readonly timestampWindowMs: number;
}

const NEWLINE = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
/** Bucky3's rule: a timestamp above 2^31 − 1 is in milliseconds. */
const MILLIS_ABOVE = 2147483647;

/** Buffer's direct decoder skips `toString`'s argument checks and encoding lookup. */
interface FastBuffer extends Buffer {
  utf8Slice(start: number, end: number): string;
}

/** Whether `s` is a decimal number as JSON writes one (no `+`, hex, `Infinity` or blanks). */
export function isDecimal(s: string): boolean {
  const n = s.length;
  let i = 0;
  if (s.charCodeAt(0) === 0x2d) i++;
  const intStart = i;
  while (i < n && isDigit(s.charCodeAt(i))) i++;
  if (i === intStart) return false;
  if (i < n && s.charCodeAt(i) === 0x2e) {
    i++;
    const fracStart = i;
    while (i < n && isDigit(s.charCodeAt(i))) i++;
    if (i === fracStart) return false;
  }
  if (i < n && (s.charCodeAt(i) | 0x20) === 0x65) {
    i++;
    if (i < n && (s.charCodeAt(i) === 0x2b || s.charCodeAt(i) === 0x2d)) i++;
    const expStart = i;
    while (i < n && isDigit(s.charCodeAt(i))) i++;
    if (i === expStart) return false;
  }
  return i === n;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Finite and exactly representable as far as integers go. */
function isSafeNumber(v: number): boolean {
  return v <= Number.MAX_SAFE_INTEGER && v >= -Number.MAX_SAFE_INTEGER;
}

/** A number or decimal string as a number; NaN when neither or out of range. */
function numericValue(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && isDecimal(v)) {
    const n = Number(v);
    return isSafeNumber(n) ? n : NaN;
  }
  return NaN;
}

/** The JSON spelling of a scalar used as a tag value. */
function tagValue(v: number | boolean | string): string {
  return typeof v === 'string' ? v : String(v);
}

/** Parses datagrams of newline-delimited JSON objects. One instance per listener. */
export class JsonParser {
  private readonly record = new JsonRecord();

  constructor(private readonly options: JsonParserOptions) {}

  /**
   * Parses one datagram, handing each non-blank line to `sink` as a record or a rejection.
   * `now` (ms) anchors the timestamp window. Returns the number of non-blank lines.
   */
  parse(buf: Buffer, sink: JsonSink, now: number): number {
    let start = 0;
    // A UTF-8 byte order mark (some Windows senders write one) is not JSON.
    if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) start = 3;
    // One check of the whole datagram; only a datagram that fails it is checked line by line.
    const checkLines = !isUtf8(buf);
    let lines = 0;
    while (start < buf.length) {
      let nl = buf.indexOf(NEWLINE, start);
      if (nl < 0) nl = buf.length;
      let end = nl;
      if (end > start && buf[end - 1] === CR) end--;
      let k = start;
      while (k < end && (buf[k] === SPACE || buf[k] === TAB)) k++;
      if (k < end) {
        lines++;
        this.line(buf, start, end, sink, now, checkLines);
      }
      start = nl + 1;
    }
    return lines;
  }

  private line(
    buf: Buffer,
    start: number,
    end: number,
    sink: JsonSink,
    now: number,
    checkUtf8: boolean,
  ): void {
    if (end - start > this.options.maxLineBytes) return sink.reject('too_long', buf, start, end);
    if (checkUtf8 && !isUtf8(buf.subarray(start, end))) return sink.reject('invalid_utf8', buf, start, end);
    let obj: unknown;
    try {
      obj = JSON.parse((buf as FastBuffer).utf8Slice(start, end));
    } catch {
      return sink.reject('bad_json', buf, start, end);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      return sink.reject('not_object', buf, start, end);
    }
    const o = obj as Record<string, unknown>;
    const r = this.record;
    r.reset();
    const reason = o[TYPE_KEY] === undefined ? this.untyped(o, r) : this.typed(o, r);
    if (reason !== undefined) return sink.reject(reason, buf, start, end);
    const window = this.options.timestampWindowMs;
    if (window > 0 && !Number.isNaN(r.timestamp) && Math.abs(r.timestamp - now) > window) {
      return sink.reject('timestamp_out_of_window', buf, start, end);
    }
    const refused = sink.record(r);
    if (refused !== undefined) sink.reject(refused, buf, start, end);
  }

  /** Fills `r` from a record with `metric_type`, or returns why it is rejected. */
  private typed(o: Record<string, unknown>, r: JsonRecord): JsonRejectReason | undefined {
    const rawType = o[TYPE_KEY];
    const kind =
      typeof rawType === 'string' ? (TYPES.get(rawType) ?? TYPES.get(rawType.toLowerCase())) : undefined;
    const trace = kind === 'trace';
    const type: JsonTypeCode = kind === undefined || kind === 'trace' ? 'c' : kind;
    // Checked first over every field, so an object is judged the same whatever its key order.
    let rawValue: unknown = undefined;
    let rawCount: unknown = undefined;
    for (const key in o) {
      const v = o[key];
      if (key === '') return 'bad_key';
      if (typeof v === 'object' && v !== null) return 'nested_value';
      if (typeof v === 'number' && !isSafeNumber(v)) return 'huge_number';
      if (key === NAME_KEY || key === TYPE_KEY || v === null) continue;
      if (key === TIMESTAMP_KEY) {
        if (!this.timestamp(v, r)) return 'bad_timestamp';
      } else if (key === SAMPLE_RATE_KEY) {
        const rate = numericValue(v);
        if (!(rate > 0 && rate <= 1)) return 'bad_sample_rate';
        r.sampleRate = rate;
      } else if (key === VALUE_KEY && !trace) {
        rawValue = v;
      } else if (key === COUNT_KEY && type === 'c' && !trace) {
        rawCount = v;
      } else {
        r.tags.push([key, tagValue(v as string | number | boolean)]);
      }
    }
    const name = o[NAME_KEY];
    if (typeof name !== 'string' || name === '') return 'missing_name';
    if (kind === undefined) return 'unknown_type';
    r.name = name;
    r.type = type;
    if (trace) {
      r.kind = 'trace';
      r.value = 1;
      return undefined;
    }
    r.kind = 'metric';
    if (rawValue === undefined) rawValue = rawCount;
    if (type === 's') {
      if (typeof rawValue === 'number') r.member = String(rawValue);
      else if (typeof rawValue === 'string' && rawValue !== '') r.member = rawValue;
      else return 'bad_value';
      return undefined;
    }
    const value = numericValue(rawValue);
    if (Number.isNaN(value)) return 'bad_value';
    r.value = value;
    return undefined;
  }

  /** Fills `r` from an object without `metric_type`, or returns why it is rejected. */
  private untyped(o: Record<string, unknown>, r: JsonRecord): JsonRejectReason | undefined {
    r.kind = 'untyped';
    for (const key in o) {
      const v = o[key];
      if (key === '') return 'bad_key';
      if (typeof v === 'object' && v !== null) return 'nested_value';
      if (typeof v === 'number' && !isSafeNumber(v)) return 'huge_number';
      if (v === null) continue;
      if (key === NAME_KEY) {
        if (typeof v !== 'string' || v === '') return 'missing_name';
        r.name = v;
      } else if (key === TIMESTAMP_KEY) {
        if (!this.timestamp(v, r)) return 'bad_timestamp';
      } else if (typeof v === 'number') {
        r.fieldNames.push(key);
        r.fieldValues.push(v);
      } else if (typeof v === 'boolean') {
        r.fieldNames.push(key);
        r.fieldValues.push(v ? 1 : 0);
      } else {
        r.tags.push([key, v as string]);
      }
    }
    return r.fieldNames.length === 0 ? 'no_fields' : undefined;
  }

  /** Reads a `timestamp` field into `r.timestamp` (ms); false if it is not a positive number. */
  private timestamp(v: unknown, r: JsonRecord): boolean {
    if (typeof v !== 'number' || !(v > 0)) return false;
    r.timestamp = v > MILLIS_ABOVE ? v : v * 1000;
    return true;
  }
}

export type RejectedJsonLine = RejectedLine<JsonRejectReason>;

/** Counts rejected JSON lines by reason and keeps the most recent few, for logs and a status page. */
export class JsonRejectionLog extends RejectionLog<JsonRejectReason> {
  constructor(capacity = 16, maxLineBytes = 256) {
    super(JSON_REJECT_REASONS, capacity, maxLineBytes);
  }
}
