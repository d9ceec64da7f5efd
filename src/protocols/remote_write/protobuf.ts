/**
 * Prometheus remote write 1.0: the protobuf encoding of `prometheus.WriteRequest`, by hand.
 *
 * Spec: https://prometheus.io/docs/specs/remote_write_spec/ ; messages from prometheus/prompb
 * (types.proto, remote.proto):
 *
 *   message WriteRequest   { repeated TimeSeries timeseries = 1; reserved 2; repeated MetricMetadata metadata = 3; }
 *   message TimeSeries     { repeated Label labels = 1; repeated Sample samples = 2; repeated Histogram histograms = 4; }
 *   message Label          { string name = 1; string value = 2; }
 *   message Sample         { double value = 1; int64 timestamp = 2; }   // timestamp in ms
 *   message MetricMetadata { MetricType type = 1; string metric_family_name = 2; string help = 4; string unit = 5; }
 *   message Histogram      { oneof count { uint64 count_int = 1; double count_float = 2; } double sum = 3;
 *                            sint32 schema = 4; double zero_threshold = 5;
 *                            oneof zero_count { uint64 zero_count_int = 6; double zero_count_float = 7; }
 *                            repeated BucketSpan negative_spans = 8; repeated sint64 negative_deltas = 9;
 *                            repeated double negative_counts = 10; repeated BucketSpan positive_spans = 11;
 *                            repeated sint64 positive_deltas = 12; repeated double positive_counts = 13;
 *                            ResetHint reset_hint = 14; int64 timestamp = 15; }
 *   message BucketSpan     { sint32 offset = 1; uint32 length = 2; }
 *
 * Why by hand rather than a protobuf library: five tiny messages, of which the agent only
 * writes, and the shape that makes batching cheap. A WriteRequest is nothing but its fields one
 * after another, and a repeated field may be split anywhere, so each metric is encoded once into
 * complete `timeseries` (and `metadata`) entries of the WriteRequest, and any concatenation of
 * such entries IS a WriteRequest. The push buffer holds those bytes; a send joins them.
 *
 * Encoding is canonical proto3: fields in number order, zero values (a +0 sample value, a 0
 * timestamp, an empty string, type UNKNOWN) left out. The decoder below reads what this encoder
 * and Prometheus write, skips unknown fields, and reports malformed input instead of throwing.
 */

import { deltas, integerCounts, sparse, type Span, type SparseRun } from '../prometheus/native.js';
import type { NativeHistogramData } from '../prometheus/protobuf.js';

/** Protobuf wire types. */
export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;
export const I32 = 5;

/** `MetricMetadata.MetricType`. */
export const METRIC_TYPES = {
  unknown: 0,
  counter: 1,
  gauge: 2,
  histogram: 3,
  gaugehistogram: 4,
  summary: 5,
  info: 6,
  stateset: 7,
} as const;
export type MetricTypeName = keyof typeof METRIC_TYPES;

export interface RwSample {
  readonly value: number;
  /** Milliseconds since the Unix epoch; an integer. */
  readonly timestamp: number;
}

export type RwLabel = readonly [name: string, value: string];

export interface RwTimeSeries {
  /** Sorted by name, as the spec requires; `__name__` among them. */
  readonly labels: readonly RwLabel[];
  readonly samples: readonly RwSample[];
  /** Native histogram samples (decoded only; absent when there are none). */
  readonly histograms?: readonly RwHistogram[];
}

/** A native histogram sample as decoded: counts as absolute values per bucket, whatever the wire form. */
export interface RwHistogram {
  readonly count: number;
  readonly sum: number;
  readonly schema: number;
  readonly zeroThreshold: number;
  readonly zeroCount: number;
  readonly positiveSpans: readonly Span[];
  readonly positiveCounts: readonly number[];
  readonly negativeSpans: readonly Span[];
  readonly negativeCounts: readonly number[];
  /** Whether counts were integers on the wire (count_int, deltas). */
  readonly integer: boolean;
  readonly timestamp: number;
}

export interface RwMetadata {
  readonly type: number;
  readonly family: string;
  readonly help: string;
  readonly unit: string;
}

export interface RwWriteRequest {
  readonly timeseries: RwTimeSeries[];
  readonly metadata: RwMetadata[];
}

/** Bytes of `n` as a varint; `n` a non-negative integer below 2^64 (exact below 2^53). */
export function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Bytes of an int64 field value: negative numbers take ten (two's complement, not zigzag). */
function int64Size(n: number): number {
  return n < 0 ? 10 : varintSize(n);
}

const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);

/** Whether a double is proto3's default (+0), which canonical encoding leaves out. */
function isPositiveZero(v: number): boolean {
  return v === 0 && !Object.is(v, -0);
}

/** The size of a `Sample` message's body. */
export function sampleSize(value: number, timestamp: number): number {
  return (isPositiveZero(value) ? 0 : 9) + (timestamp === 0 ? 0 : 1 + int64Size(timestamp));
}

/**
 * A growable byte buffer with protobuf primitives. One is kept and reused by an encoder; `take`
 * copies out what was written.
 */
export class ProtoWriter {
  private buf: Buffer;
  pos = 0;

  constructor(initial = 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  reset(): void {
    this.pos = 0;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** A copy of what was written since the last reset. */
  take(): Uint8Array {
    return new Uint8Array(this.buf.subarray(0, this.pos));
  }

  varint(n: number): void {
    this.ensure(10);
    const buf = this.buf;
    if (n < 0) {
      // int64 two's complement: only timestamps before 1970 get here.
      let big = BigInt.asUintN(64, BigInt(n));
      while (big >= 128n) {
        buf[this.pos++] = Number(big & 127n) | 128;
        big >>= 7n;
      }
      buf[this.pos++] = Number(big);
      return;
    }
    while (n >= 128) {
      buf[this.pos++] = (n % 128) | 128;
      n = Math.floor(n / 128);
    }
    buf[this.pos++] = n;
  }

  tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  /** A sint32/sint64 (zigzag) value; exact for safe integers. */
  svarint(n: number): void {
    this.varint(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  /** A length-delimited field holding `bytes` (a sub-message encoded on its own). */
  bytesField(field: number, bytes: Uint8Array): void {
    this.tag(field, LEN);
    this.varint(bytes.length);
    this.raw(bytes);
  }

  /** A double field, written even when 0 (proto2 presence, where that matters). */
  doubleField(field: number, v: number): void {
    this.tag(field, I64);
    this.double(v);
  }

  /** A varint field, written even when 0. */
  varintField(field: number, n: number): void {
    this.tag(field, VARINT);
    this.varint(n);
  }

  double(v: number): void {
    this.ensure(8);
    F64[0] = v;
    // Little-endian on every platform Node runs on; the protobuf wire format is little-endian.
    this.buf.set(F64_BYTES, this.pos);
    this.pos += 8;
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** A length-delimited string field (left out when empty). */
  stringField(field: number, s: string): void {
    if (s === '') return;
    const n = Buffer.byteLength(s, 'utf8');
    this.tag(field, LEN);
    this.varint(n);
    this.ensure(n);
    this.buf.write(s, this.pos, 'utf8');
    this.pos += n;
  }

  /** A `Sample` as field 2 of a TimeSeries. */
  sample(value: number, timestamp: number): void {
    this.tag(2, LEN);
    this.varint(sampleSize(value, timestamp));
    if (!isPositiveZero(value)) {
      this.tag(1, I64);
      this.double(value);
    }
    if (timestamp !== 0) {
      this.tag(2, VARINT);
      this.varint(timestamp);
    }
  }
}

function labelBody(name: string, value: string): number {
  const n = Buffer.byteLength(name, 'utf8');
  const v = Buffer.byteLength(value, 'utf8');
  return (n === 0 ? 0 : 1 + varintSize(n) + n) + (v === 0 ? 0 : 1 + varintSize(v) + v);
}

/**
 * One `Label` as the `labels` field (1) of a TimeSeries, tag and length included. Encoders keep
 * these per series, so a label is encoded once and copied into every sample's TimeSeries.
 */
export function encodeLabel(name: string, value: string): Uint8Array {
  const w = new ProtoWriter(16 + name.length * 3 + value.length * 3);
  w.tag(1, LEN);
  w.varint(labelBody(name, value));
  w.stringField(1, name);
  w.stringField(2, value);
  return w.take();
}

/**
 * Writes one TimeSeries as a `timeseries` entry (field 1) of a WriteRequest: the labels, given
 * pre-encoded (encodeLabel) and already in the spec's order, then one sample.
 */
export function writeTimeSeries(
  w: ProtoWriter,
  labels: readonly Uint8Array[],
  value: number,
  timestamp: number,
): void {
  let body = 0;
  for (let i = 0; i < labels.length; i++) body += (labels[i] as Uint8Array).length;
  const s = sampleSize(value, timestamp);
  body += 1 + varintSize(s) + s;
  w.tag(1, LEN);
  w.varint(body);
  for (let i = 0; i < labels.length; i++) w.raw(labels[i] as Uint8Array);
  w.sample(value, timestamp);
}

/**
 * Writes one TimeSeries holding one native histogram sample as a `timeseries` entry: labels
 * pre-encoded and in order (as writeTimeSeries), the buckets sparse, counts as integer deltas
 * when they are integers and as doubles otherwise (sampling), repeated fields packed (proto3).
 */
export function writeHistogramSeries(
  w: ProtoWriter,
  labels: readonly Uint8Array[],
  h: NativeHistogramData,
  timestamp: number,
): void {
  const body = new ProtoWriter(256);
  const b = h.buckets;
  const integer = integerCounts(b, h.count);
  if (integer) body.varintField(1, h.count);
  else body.doubleField(2, h.count);
  body.doubleField(3, h.sum);
  if (b.schema !== 0) {
    body.tag(4, VARINT);
    body.svarint(b.schema);
  }
  body.doubleField(5, b.zeroThreshold);
  if (integer) body.varintField(6, b.zeroCount);
  else body.doubleField(7, b.zeroCount);
  const packed = new ProtoWriter(64);
  const runs = (run: SparseRun, field: number): void => {
    for (const span of run.spans) {
      packed.reset();
      if (span.offset !== 0) {
        packed.tag(1, VARINT);
        packed.svarint(span.offset);
      }
      packed.varintField(2, span.length);
      body.bytesField(field, packed.take());
    }
    if (run.counts.length === 0) return;
    packed.reset();
    if (integer) for (const d of deltas(run.counts)) packed.svarint(d);
    else for (const c of run.counts) packed.double(c);
    body.bytesField(integer ? field + 1 : field + 2, packed.take());
  };
  runs(sparse(b.negative), 8);
  runs(sparse(b.positive), 11);
  if (timestamp !== 0) body.varintField(15, timestamp);
  const hist = body.take();
  let size = 0;
  for (let i = 0; i < labels.length; i++) size += (labels[i] as Uint8Array).length;
  size += 1 + varintSize(hist.length) + hist.length;
  w.tag(1, LEN);
  w.varint(size);
  for (let i = 0; i < labels.length; i++) w.raw(labels[i] as Uint8Array);
  w.bytesField(4, hist);
}

/** A whole TimeSeries entry from plain values; labels must be sorted by the caller. */
export function encodeTimeSeries(series: RwTimeSeries): Uint8Array {
  const w = new ProtoWriter();
  const labels = series.labels.map(([n, v]) => encodeLabel(n, v));
  let body = 0;
  for (const l of labels) body += l.length;
  for (const s of series.samples) {
    const n = sampleSize(s.value, s.timestamp);
    body += 1 + varintSize(n) + n;
  }
  w.tag(1, LEN);
  w.varint(body);
  for (const l of labels) w.raw(l);
  for (const s of series.samples) w.sample(s.value, s.timestamp);
  return w.take();
}

/** Writes one MetricMetadata as a `metadata` entry (field 3) of a WriteRequest. */
export function writeMetadata(w: ProtoWriter, m: RwMetadata): void {
  const body =
    (m.type === 0 ? 0 : 1 + varintSize(m.type)) + strSize(m.family) + strSize(m.help) + strSize(m.unit);
  w.tag(3, LEN);
  w.varint(body);
  if (m.type !== 0) {
    w.tag(1, VARINT);
    w.varint(m.type);
  }
  w.stringField(2, m.family);
  w.stringField(4, m.help);
  w.stringField(5, m.unit);
}

function strSize(s: string): number {
  if (s === '') return 0;
  const n = Buffer.byteLength(s, 'utf8');
  return 1 + varintSize(n) + n;
}

export function encodeMetadata(m: RwMetadata): Uint8Array {
  const w = new ProtoWriter(64);
  writeMetadata(w, m);
  return w.take();
}

/** Joins pre-encoded WriteRequest entries (encodeTimeSeries, encodeMetadata) into one WriteRequest. */
export function joinEntries(entries: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (let i = 0; i < entries.length; i++) total += (entries[i] as Uint8Array).length;
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as Uint8Array;
    out.set(e, pos);
    pos += e.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding: for tests, `sluice explain` and anything that must read a WriteRequest back.

/** Why a byte string is not a WriteRequest. */
export type DecodeErrorCode =
  'truncated' | 'varint_too_long' | 'bad_wire_type' | 'bad_field' | 'bad_utf8' | 'length_out_of_range';

export class DecodeError {
  constructor(
    readonly code: DecodeErrorCode,
    readonly offset: number,
  ) {}
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A protobuf reader over buf[start, end): throws DecodeError on malformed input. */
export class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** An unsigned varint as a number (exact below 2^53), or a bigint when it needs 64 bits. */
  varint(): number | bigint {
    let result = 0;
    let scale = 1;
    const start = this.pos;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new DecodeError('truncated', this.pos);
      const b = this.buf[this.pos++] as number;
      result += (b & 127) * scale;
      scale *= 128;
      if (b < 128) {
        if (i < 7) return result;
        // Past 49 bits a number may lose precision: redo it exactly.
        let big = 0n;
        for (let k = i; k >= 0; k--) big = (big << 7n) | BigInt((this.buf[start + k] as number) & 127);
        return BigInt.asUintN(64, big);
      }
    }
    throw new DecodeError('varint_too_long', start);
  }

  uint(): number {
    const v = this.varint();
    if (typeof v === 'bigint') {
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError('length_out_of_range', this.pos);
      return Number(v);
    }
    return v;
  }

  /**
   * A repeated scalar field's values, in either form: one value, or packed values in a LEN field
   * (proto3 packs them, proto2 does not by default; parsers take both).
   */
  repeated(wireType: number, read: (r: Reader) => number, into: number[]): void {
    if (wireType === LEN) {
      const sub = this.sub();
      while (!sub.done) into.push(read(sub));
    } else into.push(read(this));
  }

  /** A sint32/sint64 (zigzag) value. */
  sint(): number {
    const v = this.varint();
    if (typeof v === 'bigint') return Number((v >> 1n) ^ -(v & 1n));
    return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
  }

  int64(): number {
    const v = this.varint();
    return typeof v === 'bigint' ? Number(BigInt.asIntN(64, v)) : v;
  }

  double(): number {
    if (this.pos + 8 > this.end) throw new DecodeError('truncated', this.pos);
    for (let i = 0; i < 8; i++) F64_BYTES[i] = this.buf[this.pos + i] as number;
    this.pos += 8;
    return F64[0] as number;
  }

  /** A length-delimited field: returns its [start, end). */
  bytes(): [number, number] {
    const at = this.pos;
    const n = this.uint();
    if (n > this.end - this.pos) throw new DecodeError('length_out_of_range', at);
    const start = this.pos;
    this.pos += n;
    return [start, this.pos];
  }

  string(): string {
    const [start, end] = this.bytes();
    try {
      return utf8.decode(this.buf.subarray(start, end));
    } catch {
      throw new DecodeError('bad_utf8', start);
    }
  }

  skip(wireType: number): void {
    if (wireType === VARINT) this.varint();
    else if (wireType === I64) {
      if (this.pos + 8 > this.end) throw new DecodeError('truncated', this.pos);
      this.pos += 8;
    } else if (wireType === LEN) this.bytes();
    else if (wireType === I32) {
      if (this.pos + 4 > this.end) throw new DecodeError('truncated', this.pos);
      this.pos += 4;
    } else throw new DecodeError('bad_wire_type', this.pos);
  }

  /** The next field's number and wire type. */
  key(): [number, number] {
    const at = this.pos;
    const k = this.uint();
    const field = Math.floor(k / 8);
    if (field === 0) throw new DecodeError('bad_field', at);
    return [field, k % 8];
  }

  sub(): Reader {
    const [start, end] = this.bytes();
    return new Reader(this.buf, start, end);
  }
}

export function expect(r: Reader, wireType: number, want: number): void {
  if (wireType !== want) throw new DecodeError('bad_wire_type', r.pos);
}

function readLabel(r: Reader): RwLabel {
  let name = '';
  let value = '';
  while (!r.done) {
    const [field, wt] = r.key();
    if (field === 1) {
      expect(r, wt, LEN);
      name = r.string();
    } else if (field === 2) {
      expect(r, wt, LEN);
      value = r.string();
    } else r.skip(wt);
  }
  return [name, value];
}

function readSample(r: Reader): RwSample {
  let value = 0;
  let timestamp = 0;
  while (!r.done) {
    const [field, wt] = r.key();
    if (field === 1) {
      expect(r, wt, I64);
      value = r.double();
    } else if (field === 2) {
      expect(r, wt, VARINT);
      timestamp = r.int64();
    } else r.skip(wt);
  }
  return { value, timestamp };
}

/** A native histogram's BucketSpan (the same message in remote write and the exposition format). */
export function readSpan(r: Reader): Span {
  let offset = 0;
  let length = 0;
  while (!r.done) {
    const [field, wt] = r.key();
    if (field === 1) offset = r.sint();
    else if (field === 2) length = r.uint();
    else r.skip(wt);
  }
  return { offset, length };
}

/** Deltas back to absolute counts. */
function undelta(ds: readonly number[]): number[] {
  const out: number[] = [];
  let c = 0;
  for (const d of ds) out.push((c += d));
  return out;
}

function readHistogram(r: Reader): RwHistogram {
  let count = 0;
  let sum = 0;
  let schema = 0;
  let zeroThreshold = 0;
  let zeroCount = 0;
  let integer = true;
  let timestamp = 0;
  const spans: [Span[], Span[]] = [[], []];
  const ds: [number[], number[]] = [[], []];
  const cs: [number[], number[]] = [[], []];
  while (!r.done) {
    const [field, wt] = r.key();
    if (field === 1) count = r.uint();
    else if (field === 2) {
      count = r.double();
      integer = false;
    } else if (field === 3) sum = r.double();
    else if (field === 4) schema = r.sint();
    else if (field === 5) zeroThreshold = r.double();
    else if (field === 6) zeroCount = r.uint();
    else if (field === 7) zeroCount = r.double();
    else if (field === 8 || field === 11) spans[field === 8 ? 0 : 1].push(readSpan(r.sub()));
    else if (field === 9 || field === 12) r.repeated(wt, (x) => x.sint(), ds[field === 9 ? 0 : 1]);
    else if (field === 10 || field === 13) r.repeated(wt, (x) => x.double(), cs[field === 10 ? 0 : 1]);
    else if (field === 15) timestamp = r.int64();
    else r.skip(wt);
  }
  return {
    count,
    sum,
    schema,
    zeroThreshold,
    zeroCount,
    negativeSpans: spans[0],
    negativeCounts: integer ? undelta(ds[0]) : cs[0],
    positiveSpans: spans[1],
    positiveCounts: integer ? undelta(ds[1]) : cs[1],
    integer,
    timestamp,
  };
}

function readTimeSeries(r: Reader): RwTimeSeries {
  const labels: RwLabel[] = [];
  const samples: RwSample[] = [];
  const histograms: RwHistogram[] = [];
  while (!r.done) {
    const [field, wt] = r.key();
    if (field === 1) {
      expect(r, wt, LEN);
      labels.push(readLabel(r.sub()));
    } else if (field === 2) {
      expect(r, wt, LEN);
      samples.push(readSample(r.sub()));
    } else if (field === 4) {
      expect(r, wt, LEN);
      histograms.push(readHistogram(r.sub()));
    } else r.skip(wt); // exemplars
  }
  return histograms.length === 0 ? { labels, samples } : { labels, samples, histograms };
}

function readMetadata(r: Reader): RwMetadata {
  let type = 0;
  let family = '';
  let help = '';
  let unit = '';
  while (!r.done) {
    const [field, wt] = r.key();
    if (field === 1) {
      expect(r, wt, VARINT);
      type = r.int64();
    } else if (field === 2) {
      expect(r, wt, LEN);
      family = r.string();
    } else if (field === 4) {
      expect(r, wt, LEN);
      help = r.string();
    } else if (field === 5) {
      expect(r, wt, LEN);
      unit = r.string();
    } else r.skip(wt);
  }
  return { type, family, help, unit };
}

/** Reads a WriteRequest; malformed input gives a DecodeError, never an exception. */
export function decodeWriteRequest(buf: Uint8Array): RwWriteRequest | DecodeError {
  const r = new Reader(buf, 0, buf.length);
  const timeseries: RwTimeSeries[] = [];
  const metadata: RwMetadata[] = [];
  try {
    while (!r.done) {
      const [field, wt] = r.key();
      if (field === 1) {
        expect(r, wt, LEN);
        timeseries.push(readTimeSeries(r.sub()));
      } else if (field === 3) {
        expect(r, wt, LEN);
        metadata.push(readMetadata(r.sub()));
      } else r.skip(wt);
    }
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw e;
  }
  return { timeseries, metadata };
}
