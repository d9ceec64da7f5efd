/**
 * Prometheus native (exponential) histograms: picking a schema, reducing one, adding up
 * intervals, and the sparse span/delta form that the protobuf exposition format and remote
 * write carry. Pure; the encoders are in protobuf.ts (exposition) and remote_write/protobuf.ts.
 *
 * With base = 2^(2^−schema), positive bucket i holds (base^(i−1), base^i] and negative bucket i
 * the same range negated (Prometheus' model/histogram; OpenTelemetry's exponential histograms
 * with scale = schema are the same buckets, their index shifted by one).
 */
import type { BucketRun, ExponentialBuckets } from '../../core/metric.js';

/** Schemas Prometheus accepts. */
export const PROMETHEUS_MIN_SCHEMA = -4;
export const PROMETHEUS_MAX_SCHEMA = 8;

/**
 * The schema of a bucket factor, as client_golang (and so statsd_exporter's
 * `native_histogram_bucket_factor`) picks it: the largest resolution whose buckets grow by at
 * most `factor`, within −4 to 8. `factor` > 1.
 */
export function pickSchema(factor: number): number {
  const floor = Math.floor(Math.log2(Math.log2(factor)));
  if (floor <= -PROMETHEUS_MAX_SCHEMA) return PROMETHEUS_MAX_SCHEMA;
  if (floor >= -PROMETHEUS_MIN_SCHEMA) return PROMETHEUS_MIN_SCHEMA;
  return 0 - floor; // not -floor, which is -0 for 0
}

/** Upper bound of bucket `index` at `schema`: base^index. */
export function bucketBound(index: number, schema: number): number {
  return Math.pow(2, index * Math.pow(2, -schema));
}

/** Buckets held per sign, from lowest to highest populated, before the resolution is halved. */
export const MAX_SPAN = 4096;

const EMPTY: BucketRun = Object.freeze({ offset: 0, counts: Object.freeze([]) as readonly number[] });

/** Bucket i at schema s is bucket ⌈i / 2^(s−t)⌉ at schema t < s: each holds 2^(s−t) of the finer. */
function reduceRun(run: BucketRun, by: number): BucketRun {
  if (by === 0 || run.counts.length === 0) return run;
  const f = Math.pow(2, by);
  const first = Math.ceil(run.offset / f);
  const last = Math.ceil((run.offset + run.counts.length - 1) / f);
  const counts = new Array<number>(last - first + 1).fill(0);
  for (let i = 0; i < run.counts.length; i++) {
    const at = Math.ceil((run.offset + i) / f) - first;
    counts[at] = (counts[at] as number) + (run.counts[i] as number);
  }
  return { offset: first, counts };
}

/** The same observations in the coarser buckets of `schema` (≤ b.schema): exact, no estimate. */
export function reduceSchema(b: ExponentialBuckets, schema: number): ExponentialBuckets {
  if (schema >= b.schema) return b;
  const by = b.schema - schema;
  return {
    schema,
    zeroThreshold: b.zeroThreshold,
    zeroCount: b.zeroCount,
    positive: reduceRun(b.positive, by),
    negative: reduceRun(b.negative, by),
  };
}

/** Buckets holding a count, over both signs. */
export function populatedBuckets(b: ExponentialBuckets): number {
  let n = 0;
  for (const c of b.positive.counts) if (c !== 0) n++;
  for (const c of b.negative.counts) if (c !== 0) n++;
  return n;
}

/**
 * `b` at the finest schema not above `maxSchema` that leaves at most `maxBuckets` populated
 * buckets (0: any number), as client_golang halves the resolution of a histogram with too many.
 */
export function fitBuckets(b: ExponentialBuckets, maxSchema: number, maxBuckets: number): ExponentialBuckets {
  let out = reduceSchema(b, maxSchema);
  while (maxBuckets > 0 && out.schema > PROMETHEUS_MIN_SCHEMA && populatedBuckets(out) > maxBuckets)
    out = reduceSchema(out, out.schema - 1);
  return out;
}

/**
 * A growable run of bucket counts, for adding intervals up into a cumulative histogram (what
 * the exporter serves and remote write sends).
 */
class RunAccumulator {
  counts = new Float64Array(0);
  offset = 0;

  /** How many buckets the run would span with `run` (at `by` steps finer) added. */
  spanWith(run: BucketRun, by: number): number {
    const n = run.counts.length;
    if (n === 0) return this.counts.length;
    const f = Math.pow(2, by);
    const lo = Math.ceil(run.offset / f);
    const hi = Math.ceil((run.offset + n - 1) / f);
    if (this.counts.length === 0) return hi - lo + 1;
    return Math.max(hi, this.offset + this.counts.length - 1) - Math.min(lo, this.offset) + 1;
  }

  add(run: BucketRun, by: number): void {
    const n = run.counts.length;
    if (n === 0) return;
    const f = Math.pow(2, by);
    const lo = Math.ceil(run.offset / f);
    const hi = Math.ceil((run.offset + n - 1) / f);
    this.reserve(lo, hi);
    for (let i = 0; i < n; i++) {
      const c = run.counts[i] as number;
      if (c === 0) continue;
      const at = (by === 0 ? run.offset + i : Math.ceil((run.offset + i) / f)) - this.offset;
      this.counts[at] = (this.counts[at] as number) + c;
    }
  }

  private reserve(lo: number, hi: number): void {
    const len = this.counts.length;
    if (len > 0 && lo >= this.offset && hi < this.offset + len) return;
    const from = len === 0 ? lo : Math.min(lo, this.offset);
    const to = len === 0 ? hi : Math.max(hi, this.offset + len - 1);
    const counts = new Float64Array(to - from + 1);
    if (len > 0) counts.set(this.counts, this.offset - from);
    this.counts = counts;
    this.offset = from;
  }

  /** Reduces the resolution by `by` steps in place. */
  reduce(by: number): void {
    if (this.counts.length === 0) return;
    const run = reduceRun({ offset: this.offset, counts: Array.from(this.counts) }, by);
    this.counts = Float64Array.from(run.counts);
    this.offset = run.offset;
  }

  run(): BucketRun {
    return this.counts.length === 0 ? EMPTY : { offset: this.offset, counts: Array.from(this.counts) };
  }

  populated(): number {
    let n = 0;
    for (let i = 0; i < this.counts.length; i++) if (this.counts[i] !== 0) n++;
    return n;
  }
}

/**
 * Exponential buckets added up across intervals, with their count and sum: a native histogram
 * series as Prometheus wants it (cumulative, like a counter). Intervals of a finer schema are
 * reduced to this one; a coarser one reduces this one first, so the sum is always exact. Past
 * `maxBuckets` populated buckets (0: no limit) the resolution is halved until it fits.
 */
export class NativeAccumulator {
  schema: number;
  zeroThreshold = 0;
  zeroCount = 0;
  count = 0;
  sum = 0;
  private readonly positive = new RunAccumulator();
  private readonly negative = new RunAccumulator();

  constructor(
    /** The finest schema kept (Prometheus': at most 8). */
    readonly maxSchema: number = PROMETHEUS_MAX_SCHEMA,
    readonly maxBuckets = 0,
  ) {
    this.schema = maxSchema;
  }

  /** Adds one interval's buckets, with its count and (weighted) sum. */
  add(b: ExponentialBuckets, count: number, sum: number): void {
    if (b.schema < this.schema) this.reduce(this.schema - b.schema);
    // Memory stays bounded whatever values arrive (1e-300 and 1e300 in one series): the
    // buckets are held densely, so past MAX_SPAN per sign the resolution is halved.
    while (
      this.schema > PROMETHEUS_MIN_SCHEMA &&
      (this.positive.spanWith(b.positive, b.schema - this.schema) > MAX_SPAN ||
        this.negative.spanWith(b.negative, b.schema - this.schema) > MAX_SPAN)
    )
      this.reduce(1);
    const by = b.schema - this.schema;
    this.positive.add(b.positive, by);
    this.negative.add(b.negative, by);
    if (b.zeroThreshold > this.zeroThreshold) this.zeroThreshold = b.zeroThreshold;
    this.zeroCount += b.zeroCount;
    this.count += count;
    this.sum += sum;
    while (
      this.maxBuckets > 0 &&
      this.schema > PROMETHEUS_MIN_SCHEMA &&
      this.positive.populated() + this.negative.populated() > this.maxBuckets
    )
      this.reduce(1);
  }

  private reduce(by: number): void {
    this.positive.reduce(by);
    this.negative.reduce(by);
    this.schema -= by;
  }

  buckets(): ExponentialBuckets {
    return {
      schema: this.schema,
      zeroThreshold: this.zeroThreshold,
      zeroCount: this.zeroCount,
      positive: this.positive.run(),
      negative: this.negative.run(),
    };
  }
}

/** A bucket span: `offset` empty buckets after the previous span (or the first index), `length` buckets. */
export interface Span {
  readonly offset: number;
  readonly length: number;
}

/** A run in the sparse form: spans, and the counts of the buckets they cover, in order. */
export interface SparseRun {
  readonly spans: readonly Span[];
  readonly counts: readonly number[];
}

/**
 * The sparse form of a run: empty buckets at the ends left out, and a new span wherever more
 * than two empty buckets lie between populated ones (fewer are cheaper kept as zeros), as
 * client_golang encodes them.
 */
export function sparse(run: BucketRun): SparseRun {
  const spans: Span[] = [];
  const counts: number[] = [];
  const n = run.counts.length;
  let spanStart = NaN;
  let spanEnd = NaN; // index of the last populated bucket of the open span
  let prevEnd = NaN; // index after the last bucket of the previous span
  let pending: number[] = [];
  const close = (): void => {
    if (Number.isNaN(spanStart)) return;
    const offset = Number.isNaN(prevEnd) ? spanStart : spanStart - prevEnd;
    spans.push({ offset, length: spanEnd - spanStart + 1 });
    for (const c of pending) counts.push(c);
    prevEnd = spanEnd + 1;
    pending = [];
  };
  for (let i = 0; i < n; i++) {
    const c = run.counts[i] as number;
    if (c === 0) continue;
    const index = run.offset + i;
    if (!Number.isNaN(spanStart) && index - spanEnd - 1 <= 2) {
      for (let k = spanEnd + 1; k < index; k++) pending.push(0);
    } else {
      close();
      spanStart = index;
    }
    pending.push(c);
    spanEnd = index;
  }
  close();
  return { spans, counts };
}

/** Whether every count is an integer that a uint64/sint64 delta carries exactly. */
export function integerCounts(b: ExponentialBuckets, count: number): boolean {
  if (!Number.isSafeInteger(count) || !Number.isSafeInteger(b.zeroCount)) return false;
  for (const c of b.positive.counts) if (!Number.isSafeInteger(c)) return false;
  for (const c of b.negative.counts) if (!Number.isSafeInteger(c)) return false;
  return true;
}

/** Counts as deltas, each against the bucket before it (the first against 0), as integer histograms carry them. */
export function deltas(counts: readonly number[]): number[] {
  const out = new Array<number>(counts.length);
  let prev = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] as number;
    out[i] = c - prev;
    prev = c;
  }
  return out;
}
