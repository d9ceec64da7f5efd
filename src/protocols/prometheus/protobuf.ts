/**
 * The Prometheus protobuf exposition format: length-delimited `io.prometheus.client.MetricFamily`
 * messages (prometheus/client_model metrics.proto, proto2), the only scrape format that carries
 * native histograms. Prometheus asks for it first when native histograms are enabled.
 *
 *   MetricFamily { string name = 1; string help = 2; MetricType type = 3; repeated Metric metric = 4; }
 *   Metric       { repeated LabelPair label = 1; Gauge gauge = 2; Counter counter = 3;
 *                  Summary summary = 4; Histogram histogram = 7; }
 *   LabelPair    { string name = 1; string value = 2; }
 *   Counter, Gauge { double value = 1; }
 *   Summary      { uint64 sample_count = 1; double sample_sum = 2; repeated Quantile quantile = 3; }
 *   Quantile     { double quantile = 1; double value = 2; }
 *   Histogram    { uint64 sample_count = 1; double sample_count_float = 4; double sample_sum = 2;
 *                  repeated Bucket bucket = 3;                       // classic, cumulative
 *                  sint32 schema = 5; double zero_threshold = 6;     // native from here
 *                  uint64 zero_count = 7; double zero_count_float = 8;
 *                  repeated BucketSpan negative_span = 9; repeated sint64 negative_delta = 10;
 *                  repeated double negative_count = 11;
 *                  repeated BucketSpan positive_span = 12; repeated sint64 positive_delta = 13;
 *                  repeated double positive_count = 14; }
 *   Bucket       { uint64 cumulative_count = 1; double cumulative_count_float = 4; double upper_bound = 2; }
 *   BucketSpan   { sint32 offset = 1; uint32 length = 2; }
 *   MetricType   { COUNTER = 0; GAUGE = 1; SUMMARY = 2; UNTYPED = 3; HISTOGRAM = 4; }
 *
 * Counts are integers where they are (deltas, as client_golang writes them) and doubles where
 * sampling made them fractional (the `_float` fields). proto2 repeated scalars are written
 * unpacked, as its default is; the decoder reads both forms.
 */
import type { ExponentialBuckets } from '../../core/metric.js';
import {
  DecodeError,
  expect,
  I64,
  LEN,
  ProtoWriter,
  Reader,
  readSpan,
  VARINT,
} from '../remote_write/protobuf.js';
import { deltas, integerCounts, sparse, type Span } from './native.js';
import { acceptQuality } from './text.js';

export const PROTOBUF_CONTENT_TYPE =
  'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

export const PROTO_TYPES = { counter: 0, gauge: 1, summary: 2, untyped: 3, histogram: 4 } as const;
export type ProtoType = keyof typeof PROTO_TYPES;

/** A metric's labels as the `label` fields of a Metric, encoded once and kept by the caller. */
export function encodeLabelPairs(pairs: readonly (readonly [string, string])[]): Uint8Array {
  const w = new ProtoWriter(64);
  const pair = new ProtoWriter(64);
  for (const [name, value] of pairs) {
    if (value === '') continue;
    pair.reset();
    pair.stringField(1, name);
    pair.stringField(2, value);
    w.bytesField(1, pair.take());
  }
  return w.take();
}

/** A native histogram's data: cumulative buckets, count and sum. */
export interface NativeHistogramData {
  readonly buckets: ExponentialBuckets;
  readonly count: number;
  readonly sum: number;
}

/** A classic histogram's data: upper bounds (the last +Inf) and non-cumulative counts. */
export interface ClassicHistogramData {
  readonly bounds: readonly number[];
  readonly counts: ArrayLike<number>;
}

/**
 * Writes a page family by family: `family`, then one call per series, then `end`; `finish`
 * returns the page and starts the next. Each message is built in a scratch writer and copied
 * into its parent, since protobuf needs a message's length before its bytes.
 */
export class ExpositionWriter {
  private readonly page = new ProtoWriter(64 * 1024);
  private readonly fam = new ProtoWriter(4096);
  private readonly metric = new ProtoWriter(256);
  private readonly body = new ProtoWriter(256);
  private readonly part = new ProtoWriter(64);
  private open = false;

  family(name: string, help: string, type: ProtoType): void {
    this.fam.reset();
    this.fam.stringField(1, name);
    this.fam.stringField(2, help);
    this.fam.varintField(3, PROTO_TYPES[type]);
    this.open = true;
  }

  counter(labels: Uint8Array, value: number): void {
    this.valueMetric(labels, 3, value);
  }

  gauge(labels: Uint8Array, value: number): void {
    this.valueMetric(labels, 2, value);
  }

  /** Summaries have no float count in the format: a fractional (sampled) count is rounded. */
  summary(
    labels: Uint8Array,
    count: number,
    sum: number,
    quantiles: readonly { quantile: number; value: number }[],
  ): void {
    const b = this.body;
    b.reset();
    b.varintField(1, Math.round(count));
    b.doubleField(2, sum);
    for (const q of quantiles) {
      this.part.reset();
      this.part.doubleField(1, q.quantile);
      this.part.doubleField(2, q.value);
      b.bytesField(3, this.part.take());
    }
    this.finishMetric(labels, 4);
  }

  /** A histogram: classic buckets, native buckets, or both (Prometheus takes the native ones when it can). */
  histogram(
    labels: Uint8Array,
    count: number,
    sum: number,
    classic: ClassicHistogramData | undefined,
    native: ExponentialBuckets | undefined,
  ): void {
    const b = this.body;
    b.reset();
    const integer = Number.isSafeInteger(count) && (native === undefined || integerCounts(native, count));
    if (integer) b.varintField(1, count);
    b.doubleField(2, sum);
    if (classic !== undefined) {
      let cumulative = 0;
      for (let i = 0; i < classic.bounds.length; i++) {
        cumulative += classic.counts[i] as number;
        this.part.reset();
        if (Number.isSafeInteger(cumulative)) this.part.varintField(1, cumulative);
        this.part.doubleField(2, classic.bounds[i] as number);
        if (!Number.isSafeInteger(cumulative)) this.part.doubleField(4, cumulative);
        b.bytesField(3, this.part.take());
      }
    }
    if (!integer) b.doubleField(4, count);
    if (native !== undefined) {
      b.tag(5, VARINT);
      b.svarint(native.schema);
      b.doubleField(6, native.zeroThreshold);
      if (integer) b.varintField(7, native.zeroCount);
      else b.doubleField(8, native.zeroCount);
      this.runs(b, sparse(native.negative), integer, 9);
      this.runs(b, sparse(native.positive), integer, 12);
    }
    this.finishMetric(labels, 7);
  }

  /** Spans at `field`, then deltas (field + 1) or float counts (field + 2). */
  private runs(b: ProtoWriter, run: ReturnType<typeof sparse>, integer: boolean, field: number): void {
    for (const span of run.spans) b.bytesField(field, this.span(span));
    if (integer) {
      for (const d of deltas(run.counts)) {
        b.tag(field + 1, VARINT);
        b.svarint(d);
      }
    } else {
      for (const c of run.counts) b.doubleField(field + 2, c);
    }
  }

  private span(span: Span): Uint8Array {
    const p = this.part;
    p.reset();
    p.tag(1, VARINT);
    p.svarint(span.offset);
    p.varintField(2, span.length);
    return p.take();
  }

  private valueMetric(labels: Uint8Array, field: number, value: number): void {
    this.body.reset();
    this.body.doubleField(1, value);
    this.finishMetric(labels, field);
  }

  private finishMetric(labels: Uint8Array, field: number): void {
    const m = this.metric;
    m.reset();
    m.raw(labels);
    m.bytesField(field, this.body.take());
    this.fam.bytesField(4, m.take());
  }

  /** Closes the family: appends it, length-prefixed, to the page. */
  end(): void {
    if (!this.open) return;
    const bytes = this.fam.take();
    this.page.varint(bytes.length);
    this.page.raw(bytes);
    this.open = false;
  }

  finish(): Buffer {
    const out = Buffer.from(this.page.take());
    this.page.reset();
    return out;
  }
}

// ---- decoding: for tests and for reading what peers expose -------------------------------------

export type DecodedSpan = Span;

export interface DecodedHistogram {
  sampleCount: number;
  sampleCountFloat: number;
  sampleSum: number;
  buckets: { cumulativeCount: number; cumulativeCountFloat: number; upperBound: number }[];
  schema: number | undefined;
  zeroThreshold: number;
  zeroCount: number;
  zeroCountFloat: number;
  negativeSpans: DecodedSpan[];
  negativeDeltas: number[];
  negativeCounts: number[];
  positiveSpans: DecodedSpan[];
  positiveDeltas: number[];
  positiveCounts: number[];
}

export interface DecodedMetric {
  labels: [string, string][];
  gauge?: number;
  counter?: number;
  untyped?: number;
  summary?: { sampleCount: number; sampleSum: number; quantiles: { quantile: number; value: number }[] };
  histogram?: DecodedHistogram;
}

export interface DecodedFamily {
  name: string;
  help: string;
  type: number;
  metrics: DecodedMetric[];
}

function readValue(r: Reader): number {
  let v = 0;
  while (!r.done) {
    const [f, wt] = r.key();
    if (f === 1) {
      expect(r, wt, I64);
      v = r.double();
    } else r.skip(wt);
  }
  return v;
}

function readHistogram(r: Reader): DecodedHistogram {
  const h: DecodedHistogram = {
    sampleCount: 0,
    sampleCountFloat: 0,
    sampleSum: 0,
    buckets: [],
    schema: undefined,
    zeroThreshold: 0,
    zeroCount: 0,
    zeroCountFloat: 0,
    negativeSpans: [],
    negativeDeltas: [],
    negativeCounts: [],
    positiveSpans: [],
    positiveDeltas: [],
    positiveCounts: [],
  };
  const double = (x: Reader): number => x.double();
  const sint = (x: Reader): number => x.sint();
  while (!r.done) {
    const [f, wt] = r.key();
    if (f === 1) h.sampleCount = r.uint();
    else if (f === 2) h.sampleSum = r.double();
    else if (f === 3) {
      const b = r.sub();
      const bucket = { cumulativeCount: 0, cumulativeCountFloat: 0, upperBound: 0 };
      while (!b.done) {
        const [bf, bwt] = b.key();
        if (bf === 1) bucket.cumulativeCount = b.uint();
        else if (bf === 2) bucket.upperBound = b.double();
        else if (bf === 4) bucket.cumulativeCountFloat = b.double();
        else b.skip(bwt);
      }
      h.buckets.push(bucket);
    } else if (f === 4) h.sampleCountFloat = r.double();
    else if (f === 5) h.schema = r.sint();
    else if (f === 6) h.zeroThreshold = r.double();
    else if (f === 7) h.zeroCount = r.uint();
    else if (f === 8) h.zeroCountFloat = r.double();
    else if (f === 9) h.negativeSpans.push(readSpan(r.sub()));
    else if (f === 10) r.repeated(wt, sint, h.negativeDeltas);
    else if (f === 11) r.repeated(wt, double, h.negativeCounts);
    else if (f === 12) h.positiveSpans.push(readSpan(r.sub()));
    else if (f === 13) r.repeated(wt, sint, h.positiveDeltas);
    else if (f === 14) r.repeated(wt, double, h.positiveCounts);
    else r.skip(wt);
  }
  return h;
}

function readMetric(r: Reader): DecodedMetric {
  const m: DecodedMetric = { labels: [] };
  while (!r.done) {
    const [f, wt] = r.key();
    if (f === 1) {
      const p = r.sub();
      let name = '';
      let value = '';
      while (!p.done) {
        const [pf, pwt] = p.key();
        if (pf === 1) name = p.string();
        else if (pf === 2) value = p.string();
        else p.skip(pwt);
      }
      m.labels.push([name, value]);
    } else if (f === 2) m.gauge = readValue(r.sub());
    else if (f === 3) m.counter = readValue(r.sub());
    else if (f === 5) m.untyped = readValue(r.sub());
    else if (f === 4) {
      const s = r.sub();
      const summary = {
        sampleCount: 0,
        sampleSum: 0,
        quantiles: [] as { quantile: number; value: number }[],
      };
      while (!s.done) {
        const [sf, swt] = s.key();
        if (sf === 1) summary.sampleCount = s.uint();
        else if (sf === 2) summary.sampleSum = s.double();
        else if (sf === 3) {
          const q = s.sub();
          const quantile = { quantile: 0, value: 0 };
          while (!q.done) {
            const [qf, qwt] = q.key();
            if (qf === 1) quantile.quantile = q.double();
            else if (qf === 2) quantile.value = q.double();
            else q.skip(qwt);
          }
          summary.quantiles.push(quantile);
        } else s.skip(swt);
      }
      m.summary = summary;
    } else if (f === 7) m.histogram = readHistogram(r.sub());
    else r.skip(wt);
  }
  return m;
}

/** Reads a delimited page; malformed input gives a DecodeError, never an exception. */
export function decodeExposition(buf: Uint8Array): DecodedFamily[] | DecodeError {
  const families: DecodedFamily[] = [];
  const r = new Reader(buf, 0, buf.length);
  try {
    while (!r.done) {
      const fr = r.sub();
      const family: DecodedFamily = { name: '', help: '', type: 0, metrics: [] };
      while (!fr.done) {
        const [f, wt] = fr.key();
        if (f === 1) family.name = fr.string();
        else if (f === 2) family.help = fr.string();
        else if (f === 3) family.type = fr.uint();
        else if (f === 4) {
          expect(fr, wt, LEN);
          family.metrics.push(readMetric(fr.sub()));
        } else fr.skip(wt);
      }
      families.push(family);
    }
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw e;
  }
  return families;
}

/**
 * How much an Accept header wants this format (Prometheus offers it first, at q=1, when native
 * histograms are enabled); 0 when it does not name it.
 */
export function protobufQuality(accept: string | undefined): number {
  return acceptQuality(accept, 'application/vnd.google.protobuf', {
    proto: 'io.prometheus.client.MetricFamily',
    encoding: 'delimited',
  });
}
