/**
 * DDSketch: a mergeable quantile sketch with a relative-error guarantee (Masson, Rim, Lee,
 * "DDSketch: A fast and fully-mergeable quantile sketch with relative-error guarantees",
 * VLDB 2019, https://arxiv.org/abs/1908.10693).
 *
 * Values are counted in logarithmic bins: key k holds the values in (γ^(k−1), γ^k], and the
 * bin's representative value 2γ^k/(γ+1) is within α·|x| of every value x in it as long as
 * γ ≤ (1+α)/(1−α). A quantile is read by walking the bins to the wanted rank, so any quantile is
 * within relative error α of the exact one (the value of rank ⌊q·(n−1)⌋ in the sorted stream).
 * Merging adds bin counts, so sketches built by several workers or agents merge without losing
 * that bound: this is what DogStatsD's `d` type needs and what a timer's sorted array cannot do.
 *
 * γ is not the paper's (1+α)/(1−α) but the largest 2^(2^−schema) below it, for an integer
 * schema (α = 1 % gives schema 6: γ = 2^(1/64) ≈ 1.0109, which guarantees α ≈ 0.54 %). The
 * bins are then exactly the buckets of Prometheus native histograms and OpenTelemetry
 * exponential histograms of that schema (scale): key k is their bucket index k, so a sketch
 * leaves the process as a native histogram without any error added (`exponential()`), and
 * native histograms summed in Prometheus are the merged sketch. It costs about twice the bins of
 * the paper's γ for α = 1 %.
 *
 * Positive and negative values have separate stores, plus a count for values whose magnitude is
 * at most 2^−1022 (the smallest normal double, zero included), which read back as 0: that is the
 * zero bucket, and its threshold, of the native histogram.
 *
 * Bounded memory: each store keeps at most `maxBins` bins (default 4096). Beyond that the
 * lowest bins are collapsed into one, as DDSketch's CollapsingLowestDenseStore does: for
 * positive values the smallest ones, for negative values the most negative ones, so only the
 * lowest quantiles lose their guarantee. At schema 6, 4096 bins span a ratio of 2^64 ≈ 2e19
 * between the smallest and largest magnitude of one sign (the paper's γ for 1 % spanned 6e17
 * with 2048), so real data never collapses. Only the range in use is allocated: 1 ms to 10 s
 * takes about 850 bins (6.8 KB) at schema 6.
 */
import type { BucketRun, Distribution, ExponentialBuckets, Quantile } from '../core/metric.js';

export const DEFAULT_RELATIVE_ACCURACY = 0.01;
export const DEFAULT_MAX_BINS = 4096;

/** Smallest positive normal double, 2^−1022: the zero bucket's threshold. */
export const ZERO_THRESHOLD = 2.2250738585072014e-308;
const EMPTY_RUN: BucketRun = Object.freeze({ offset: 0, counts: Object.freeze([]) as readonly number[] });
/** Bins are allocated in steps of at least this many, so a growing store reallocates rarely. */
const GROW = 64;

/**
 * The schema of the sketch of relative accuracy α: the smallest integer s for which
 * γ = 2^(2^−s) ≤ (1+α)/(1−α). Prometheus accepts −4 to 8; α below about 0.14 % needs more,
 * which `exponential()` reduces.
 */
export function schemaFor(alpha: number): number {
  return Math.ceil(-Math.log2(Math.log2((1 + alpha) / (1 - alpha))));
}

/**
 * Schemas a sketch may have: Prometheus' −4 to 8, and finer ones (OpenTelemetry goes to 20) for
 * α below 0.14 %, which a Prometheus sink reduces to 8.
 */
export const MIN_SCHEMA = -4;
export const MAX_SCHEMA = 24;

/** The relative accuracy a schema guarantees: (γ−1)/(γ+1). */
export function accuracyOf(schema: number): number {
  const gamma = Math.pow(2, Math.pow(2, -schema));
  return (gamma - 1) / (gamma + 1);
}

/** key(x) = ⌈log₂(x)·2^schema⌉: bucket k holds (2^((k−1)/2^schema), 2^(k/2^schema)]. */
class ExponentialMapping {
  readonly gamma: number;
  /** 2^schema; multiplying by it is exact, so powers of two land on their own bucket's bound. */
  readonly scale: number;
  readonly lnGamma: number;
  /** ln(2/(γ+1)): value(k) = γ^k · 2/(γ+1), computed in log space so it cannot overflow. */
  readonly lnRepresentative: number;
  readonly maxIndexable: number;
  /** The key of the bucket whose upper bound is the zero threshold (no value goes there). */
  readonly lowestKey: number;

  constructor(readonly schema: number) {
    this.scale = Math.pow(2, schema);
    this.lowestKey = -1022 * this.scale;
    this.lnGamma = Math.LN2 / this.scale;
    this.gamma = Math.exp(this.lnGamma);
    this.lnRepresentative = Math.log(2 / (this.gamma + 1));
    this.maxIndexable = Number.MAX_VALUE / this.gamma;
  }

  /** For ZERO_THRESHOLD < x ≤ maxIndexable. */
  key(x: number): number {
    // + 0 turns ⌈−0.5⌉ = −0 into 0: keys are compared and serialised.
    const k = Math.ceil(Math.log2(x) * this.scale) + 0;
    // Just above 2^−1022, log₂ rounds to −1022, whose bucket would lie inside the zero bucket.
    return k > this.lowestKey ? k : this.lowestKey + 1;
  }

  value(key: number): number {
    return Math.exp(key * this.lnGamma + this.lnRepresentative);
  }
}

/**
 * Weighted counts for a contiguous range of keys, in a Float64Array that grows as needed up to
 * `maxBins`, beyond which the lowest keys are collapsed. Keys ascend with the values they stand
 * for (the negative store is given negated keys), so collapsing the lowest is always right.
 */
class DenseStore {
  counts: Float64Array;
  /** Key of counts[0]. */
  offset = 0;
  /** Range of keys that may hold counts; empty when minKey > maxKey. */
  minKey = 1;
  maxKey = 0;
  total = 0;

  constructor(readonly maxBins: number) {
    this.counts = new Float64Array(0);
  }

  get isEmpty(): boolean {
    return this.minKey > this.maxKey;
  }

  add(key: number, weight: number): void {
    if (this.minKey > this.maxKey) {
      this.reserve(key, key);
      this.minKey = key;
      this.maxKey = key;
    } else if (key < this.minKey) {
      const lowest = this.maxKey - this.maxBins + 1;
      if (key < lowest) key = lowest;
      if (key < this.minKey) {
        this.reserve(key, this.maxKey);
        this.minKey = key;
      }
    } else if (key > this.maxKey) {
      const lowest = key - this.maxBins + 1;
      if (lowest > this.minKey) this.collapseBelow(lowest);
      this.reserve(this.minKey, key);
      this.maxKey = key;
    }
    const i = key - this.offset;
    this.counts[i] = (this.counts[i] as number) + weight;
    this.total += weight;
  }

  /** Moves the counts of every key below `lowest` into `lowest`; the store then starts there. */
  private collapseBelow(lowest: number): void {
    const counts = this.counts;
    const end = Math.min(lowest - 1, this.maxKey) - this.offset;
    let moved = 0;
    for (let i = this.minKey - this.offset; i <= end; i++) {
      moved += counts[i] as number;
      counts[i] = 0;
    }
    if (lowest > this.maxKey) {
      // Everything collapsed: the store is empty but for `moved`, which goes to `lowest`.
      this.minKey = 1;
      this.maxKey = 0;
      this.reserve(lowest, lowest);
      this.maxKey = lowest;
    }
    this.minKey = lowest;
    this.counts[lowest - this.offset] = (this.counts[lowest - this.offset] as number) + moved;
  }

  /**
   * Makes [lo, hi] addressable, keeping the counts in [minKey, maxKey] (which it must contain).
   * hi − lo < maxBins.
   */
  private reserve(lo: number, hi: number): void {
    const len = this.counts.length;
    if (lo >= this.offset && hi < this.offset + len) return;
    const need = hi - lo + 1;
    const live = this.minKey <= this.maxKey;
    // Shift within the array when that leaves slack on both sides; else grow (up to maxBins).
    if (need <= len && (need * 2 <= len || len >= this.maxBins)) {
      // Room enough: shift the live counts instead of reallocating.
      const offset = lo - ((len - need) >> 1);
      if (live) {
        const from = this.minKey - this.offset;
        const to = this.minKey - offset;
        const n = this.maxKey - this.minKey + 1;
        this.counts.copyWithin(to, from, from + n);
        if (to > from) this.counts.fill(0, from, Math.min(to, from + n));
        else this.counts.fill(0, Math.max(to + n, from), from + n);
      }
      this.offset = offset;
      return;
    }
    const size = Math.min(this.maxBins, Math.max(need + GROW, need * 2));
    const counts = new Float64Array(size);
    const offset = lo - ((size - need) >> 1);
    if (live) {
      counts.set(
        this.counts.subarray(this.minKey - this.offset, this.maxKey - this.offset + 1),
        this.minKey - offset,
      );
    }
    this.counts = counts;
    this.offset = offset;
  }

  /** The first key at which the running count exceeds `rank` (the paper's KeyAtRank). */
  keyAtRank(rank: number): number {
    const counts = this.counts;
    let n = 0;
    for (let k = this.minKey; k <= this.maxKey; k++) {
      n += counts[k - this.offset] as number;
      if (n > rank) return k;
    }
    return this.maxKey;
  }

  mergeFrom(other: DenseStore): void {
    if (other.isEmpty) return;
    const lo = Math.min(other.minKey, this.isEmpty ? other.minKey : this.minKey);
    const hi = Math.max(other.maxKey, this.isEmpty ? other.maxKey : this.maxKey);
    if (hi - lo < this.maxBins) {
      // No collapse needed: size the array once, then add bin to bin.
      this.reserve(lo, hi);
      const counts = this.counts;
      for (let k = other.minKey; k <= other.maxKey; k++) {
        const i = k - this.offset;
        counts[i] = (counts[i] as number) + (other.counts[k - other.offset] as number);
      }
      this.minKey = lo;
      this.maxKey = hi;
      this.total += other.total;
      return;
    }
    // Highest key first: the range is then set at once and each collapse happens once.
    for (let k = other.maxKey; k >= other.minKey; k--) {
      const c = other.counts[k - other.offset] as number;
      if (c > 0) this.add(k, c);
    }
  }

  clear(): void {
    if (this.minKey <= this.maxKey)
      this.counts.fill(0, this.minKey - this.offset, this.maxKey - this.offset + 1);
    this.minKey = 1;
    this.maxKey = 0;
    this.total = 0;
  }

  /** Counts over the live range as a run of buckets: counts[0] at key `offset`. */
  run(): BucketRun {
    if (this.isEmpty) return EMPTY_RUN;
    return {
      offset: this.minKey,
      counts: Array.from(this.counts.subarray(this.minKey - this.offset, this.maxKey - this.offset + 1)),
    };
  }

  /** [offset, count at offset, count at offset+1, …] over the live range; [] when empty. */
  toJSON(): number[] {
    if (this.isEmpty) return [];
    const out: number[] = [this.minKey];
    for (let k = this.minKey; k <= this.maxKey; k++) out.push(this.counts[k - this.offset] as number);
    return out;
  }
}

export interface SketchOptions {
  /**
   * α in (0, 1): every quantile is within α·|exact| of the exact one; the schema is the
   * smallest whose γ guarantees it (schemaFor). Default 0.01.
   */
  readonly relativeAccuracy?: number;
  /**
   * Or the schema itself (an integer in [−4, 24]), as a native histogram's bucket factor picks
   * one; α is then what it guarantees, (γ−1)/(γ+1).
   */
  readonly schema?: number;
  /** Bins per sign before the lowest are collapsed; at least 16. Default 4096. */
  readonly maxBins?: number;
}

/**
 * The serialised form, for sending sketches between agents (`toJSON`/`fromJSON`). Version 2
 * (version 1 had the paper's γ, whose keys mean other values, and is refused):
 * - `schema`: the bins' schema (what merging checks); `alpha`: the relative accuracy stated;
 *   `bins`: maxBins;
 * - `zero`: weight of the values that read back as 0; `sum`: weighted sum;
 * - `min`, `max`: extreme values received, null when the sketch is empty;
 * - `pos`: [first key, weight at that key, weight at the next key, …] for positive values
 *   (key k holds (γ^(k−1), γ^k]); `neg`: the same for negative values x, keyed by −key(−x) so
 *   keys ascend with the values. Empty stores are [].
 */
export interface SketchJSON {
  readonly v: 2;
  readonly alpha: number;
  readonly schema: number;
  readonly bins: number;
  readonly zero: number;
  readonly sum: number;
  readonly min: number | null;
  readonly max: number | null;
  readonly pos: readonly number[];
  readonly neg: readonly number[];
}

/** A DDSketch; see the module comment. Reused across intervals with `clear()`. */
export class DDSketch {
  readonly relativeAccuracy: number;
  readonly maxBins: number;
  /** γ = 2^(2^−schema); see the module comment. */
  readonly schema: number;
  private readonly mapping: ExponentialMapping;
  private readonly positive: DenseStore;
  /** Negative values x under the key −key(−x). */
  private readonly negative: DenseStore;
  private zeroCount = 0;
  private total = 0;
  private sumValue = 0;
  private minValue = Infinity;
  private maxValue = -Infinity;

  /**
   * Throws a RangeError for α outside (0, 1), a schema outside [−4, 24] or not an integer, or
   * maxBins below 16 or not an integer.
   */
  constructor(options: SketchOptions = {}) {
    const maxBins = options.maxBins ?? DEFAULT_MAX_BINS;
    if (!Number.isInteger(maxBins) || maxBins < 16)
      throw new RangeError(`maxBins must be an integer of at least 16, got ${maxBins}`);
    if (options.schema !== undefined) {
      const schema = options.schema;
      if (!Number.isInteger(schema) || schema < MIN_SCHEMA || schema > MAX_SCHEMA)
        throw new RangeError(`schema must be an integer in [${MIN_SCHEMA}, ${MAX_SCHEMA}], got ${schema}`);
      this.schema = schema;
      this.relativeAccuracy = options.relativeAccuracy ?? accuracyOf(schema);
    } else {
      const alpha = options.relativeAccuracy ?? DEFAULT_RELATIVE_ACCURACY;
      if (!(alpha > 0 && alpha < 1))
        throw new RangeError(`relative accuracy must be in (0, 1), got ${alpha}`);
      const schema = schemaFor(alpha);
      if (schema > MAX_SCHEMA)
        throw new RangeError(`relative accuracy ${alpha} needs a schema above ${MAX_SCHEMA}: too fine`);
      this.relativeAccuracy = alpha;
      // α near 1 asks for buckets wider than schema −4's: its finer ones keep the guarantee.
      this.schema = Math.max(MIN_SCHEMA, schema);
    }
    this.maxBins = maxBins;
    this.mapping = new ExponentialMapping(this.schema);
    this.positive = new DenseStore(maxBins);
    this.negative = new DenseStore(maxBins);
  }

  /** Total weight added. */
  get count(): number {
    return this.total;
  }

  /** Weighted sum: Σ value·weight, so sum/count is the mean of the stream the weights stand for. */
  get sum(): number {
    return this.sumValue;
  }

  /** Lowest value added (exact), NaN when empty. */
  get min(): number {
    return this.total > 0 ? this.minValue : NaN;
  }

  /** Highest value added (exact), NaN when empty. */
  get max(): number {
    return this.total > 0 ? this.maxValue : NaN;
  }

  get isEmpty(): boolean {
    return this.total === 0;
  }

  /**
   * Adds `value` with `weight` (1/sample rate: a value sampled at @0.1 counts 10 times, at the
   * cost of one add; fractional weights are fine). Returns false, changing nothing, when the
   * value is NaN or infinite or the weight is not finite and positive. No allocation unless the
   * value falls outside the bins allocated so far.
   */
  add(value: number, weight = 1): boolean {
    if (!(weight > 0 && weight < Infinity) || !(value > -Infinity && value < Infinity)) return false;
    const m = this.mapping;
    if (value > 0) {
      if (value > ZERO_THRESHOLD) this.positive.add(m.key(Math.min(value, m.maxIndexable)), weight);
      else this.zeroCount += weight;
    } else if (value < 0) {
      if (value < -ZERO_THRESHOLD) this.negative.add(0 - m.key(Math.min(-value, m.maxIndexable)), weight);
      else this.zeroCount += weight;
    } else {
      this.zeroCount += weight;
      value = 0; // -0 would survive as min or max, and JSON cannot carry it
    }
    this.total += weight;
    this.sumValue += value * weight;
    if (value < this.minValue) this.minValue = value;
    if (value > this.maxValue) this.maxValue = value;
    return true;
  }

  /**
   * Adds every count of `other` into this sketch; `other` is unchanged. The result answers as a
   * sketch of both streams would, within the same α. Throws a RangeError when the relative
   * accuracies differ (their bins do not line up). maxBins may differ: this sketch's applies.
   */
  merge(other: DDSketch): this {
    if (other.schema !== this.schema)
      throw new RangeError(
        `cannot merge a sketch of schema ${other.schema} into one of schema ${this.schema}`,
      );
    if (other.total === 0) return this;
    this.positive.mergeFrom(other.positive);
    this.negative.mergeFrom(other.negative);
    this.zeroCount += other.zeroCount;
    this.total += other.total;
    this.sumValue += other.sumValue;
    if (other.minValue < this.minValue) this.minValue = other.minValue;
    if (other.maxValue > this.maxValue) this.maxValue = other.maxValue;
    return this;
  }

  /**
   * The value at quantile q in [0, 1] (throws a RangeError otherwise): within α·|exact| of the
   * exact value of rank ⌊q·(count−1)⌋ (0-based, by weight) in the sorted stream, and never
   * outside [min, max]. q = 0 and q = 1 return the exact min and max. NaN when empty.
   */
  quantile(q: number): number {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${q}`);
    if (this.total === 0) return NaN;
    if (q === 0) return this.minValue;
    if (q === 1) return this.maxValue;
    const rank = q * (this.total - 1);
    const negatives = this.negative.total;
    let v: number;
    if (rank < negatives) v = -this.mapping.value(-this.negative.keyAtRank(rank));
    else if (rank < negatives + this.zeroCount) v = 0;
    else v = this.mapping.value(this.positive.keyAtRank(rank - negatives - this.zeroCount));
    // Clamping only moves v closer to the exact value, which lies in [min, max].
    return v < this.minValue ? this.minValue : v > this.maxValue ? this.maxValue : v;
  }

  /**
   * The bins as a native (exponential) histogram of the sketch's schema: bucket k of the
   * positive run holds (2^((k−1)/2^schema), 2^(k/2^schema)], bucket k of the negative run the
   * same range negated, and the zero bucket [−2^−1022, 2^−1022]. Exact: these are the bins.
   */
  exponential(): ExponentialBuckets {
    const neg = this.negative.run();
    return {
      schema: this.schema,
      zeroThreshold: ZERO_THRESHOLD,
      zeroCount: this.zeroCount,
      positive: this.positive.run(),
      // The negative store keys −x as −key(x), ascending with the values: reverse it.
      negative:
        neg.counts.length === 0
          ? EMPTY_RUN
          : { offset: -(neg.offset + neg.counts.length - 1), counts: neg.counts.slice().reverse() },
    };
  }

  /** Empties the sketch, keeping its allocated bins for the next interval. */
  clear(): void {
    this.positive.clear();
    this.negative.clear();
    this.zeroCount = 0;
    this.total = 0;
    this.sumValue = 0;
    this.minValue = Infinity;
    this.maxValue = -Infinity;
  }

  /** An independent copy, with bins trimmed to what is used. */
  copy(): DDSketch {
    const c = new DDSketch({
      schema: this.schema,
      relativeAccuracy: this.relativeAccuracy,
      maxBins: this.maxBins,
    });
    c.merge(this);
    return c;
  }

  /**
   * An immutable Distribution for a metric: count, sum, min, max, the quantiles of
   * `percentiles` (each in [0, 100]; throws a RangeError otherwise) and `quantile(q)` for any
   * other. It holds its own copy of the bins: clearing or updating this sketch later does not
   * change it.
   */
  snapshot(percentiles: readonly number[]): SketchDistribution {
    const copy = this.copy();
    const quantiles: Quantile[] = [];
    for (const p of percentiles) {
      if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
      const q = percentileToQuantile(p);
      quantiles.push(Object.freeze({ quantile: q, value: copy.quantile(q) }));
    }
    return new SketchDistribution(copy, Object.freeze(quantiles));
  }

  /** The serialised form; see SketchJSON. `JSON.stringify(sketch)` uses it. */
  toJSON(): SketchJSON {
    const empty = this.total === 0;
    return {
      v: 2,
      alpha: this.relativeAccuracy,
      schema: this.schema,
      bins: this.maxBins,
      zero: this.zeroCount,
      sum: this.sumValue,
      min: empty ? null : this.minValue,
      max: empty ? null : this.maxValue,
      pos: this.positive.toJSON(),
      neg: this.negative.toJSON(),
    };
  }

  /**
   * Rebuilds a sketch from `toJSON()` output (parsed). Data from the network: throws a TypeError
   * naming the first bad field rather than building a sketch that lies.
   */
  static fromJSON(json: unknown): DDSketch {
    const bad = (what: string): never => {
      throw new TypeError(`invalid sketch: ${what}`);
    };
    if (json === null || typeof json !== 'object' || Array.isArray(json)) bad('not an object');
    const o = json as Record<string, unknown>;
    if (o.v !== 2) bad(`unknown version ${String(o.v)}`);
    const finite = (k: string): number => {
      const v = o[k];
      if (typeof v !== 'number' || !Number.isFinite(v)) bad(`${k} is not a finite number`);
      return v as number;
    };
    const alpha = finite('alpha');
    const bins = finite('bins');
    if (!(alpha > 0 && alpha < 1)) bad('alpha must be in (0, 1)');
    if (!Number.isInteger(bins) || bins < 16) bad('bins must be an integer of at least 16');
    const schema = o.schema;
    if (typeof schema !== 'number' || !Number.isInteger(schema) || schema < MIN_SCHEMA || schema > MAX_SCHEMA)
      bad(`schema must be an integer in [${MIN_SCHEMA}, ${MAX_SCHEMA}]`);
    const zero = finite('zero');
    if (zero < 0) bad('zero is negative');
    const sketch = new DDSketch({ schema: schema as number, relativeAccuracy: alpha, maxBins: bins });
    const store = (k: 'pos' | 'neg', into: DenseStore): void => {
      const a = o[k];
      if (!Array.isArray(a)) return bad(`${k} is not a list`);
      if (a.length === 0) return;
      if (a.length === 1 || a.length - 1 > bins)
        bad(`${k} must hold 1 to ${bins} counts after its first key`);
      const first = a[0] as unknown;
      if (typeof first !== 'number' || !Number.isSafeInteger(first)) bad(`${k}[0] is not an integer key`);
      const limit = 1025 * Math.pow(2, schema as number);
      if (Math.abs(first as number) > limit || Math.abs((first as number) + a.length) > limit)
        bad(`${k} keys out of range`);
      for (let i = 1; i < a.length; i++) {
        const c = a[i] as unknown;
        if (typeof c !== 'number' || !(c >= 0 && c < Infinity)) bad(`${k}[${i}] is not a count`);
        if ((c as number) > 0) into.add((first as number) + i - 1, c as number);
      }
    };
    store('pos', sketch.positive);
    store('neg', sketch.negative);
    sketch.zeroCount = zero;
    sketch.total = sketch.positive.total + sketch.negative.total + zero;
    sketch.sumValue = finite('sum');
    if (sketch.total > 0) {
      const min = finite('min');
      const max = finite('max');
      if (min > max) bad('min is above max');
      sketch.minValue = min;
      sketch.maxValue = max;
    } else if (o.min !== null || o.max !== null) {
      bad('min and max must be null in an empty sketch');
    }
    return sketch;
  }
}

/** An immutable snapshot of a DDSketch; see DDSketch.snapshot. */
export class SketchDistribution implements Distribution {
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  readonly relativeAccuracy: number;
  readonly quantiles: readonly Quantile[];
  // A true private field: JSON.stringify and inspection show the statistics, not the bins.
  readonly #sketch: DDSketch;

  constructor(sketch: DDSketch, quantiles: readonly Quantile[]) {
    this.#sketch = sketch;
    this.count = sketch.count;
    this.sum = sketch.sum;
    this.min = sketch.min;
    this.max = sketch.max;
    this.relativeAccuracy = sketch.relativeAccuracy;
    this.quantiles = quantiles;
    Object.freeze(this);
  }

  quantile(q: number): number {
    return this.#sketch.quantile(q);
  }

  exponential(): ExponentialBuckets {
    return this.#sketch.exponential();
  }

  /** A fresh mutable sketch with the same bins, to merge or serialise. */
  toSketch(): DDSketch {
    return this.#sketch.copy();
  }
}

/**
 * p/100, rounded to 12 significant digits so that 99.9 gives 0.999 and not 0.9990000000000001
 * (the quantile ends up in labels and field names).
 */
export function percentileToQuantile(p: number): number {
  return Number((p / 100).toPrecision(12));
}
