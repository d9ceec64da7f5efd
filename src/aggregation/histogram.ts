/**
 * Real histograms for StatsD `h`: observations counted in fixed bins whose upper bounds are
 * configured per metric, rather than a timer in disguise. A bin holds the values v with
 * previous bound < v ≤ its bound (`le`, Prometheus' inclusive upper bound); the last bin, +Inf,
 * is implicit and catches the rest.
 *
 * Which bins a series gets is decided once, when the series is created, by a HistogramSelector:
 * an ordered list of rules matching the name and tags (globs or /regexes/, as in filters), the
 * first match winning, in the spirit of Bucky3's histogram selector. A series never changes bins.
 */
import { INVALID, s, type Issue, type ObjectSchema, type Path, type Schema } from '../config/schema.js';
import { compilePattern, type CompiledPattern } from '../core/filter.js';
import type { Histogram, HistogramBin } from '../core/metric.js';
import type { Tags } from '../core/tags.js';
import { fitBuckets, PROMETHEUS_MAX_SCHEMA } from '../protocols/prometheus/native.js';
import type { DDSketch } from './sketch.js';

/**
 * Default bins, in milliseconds, for StatsD histograms (clients send milliseconds, as for `ms`
 * timers): 1 ms to 10 s in a 1-2.5-5 progression. Prometheus' own default buckets
 * (.005 … 10) are seconds and would put nearly every StatsD value in +Inf.
 */
export const DEFAULT_HISTOGRAM_BINS: readonly number[] = Object.freeze([
  1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
]);

/** Why `bins` cannot be histogram bounds (empty, not finite, not strictly increasing), or undefined. */
export function checkBins(bins: readonly number[]): string | undefined {
  if (bins.length === 0) return 'bins must hold at least one bound';
  for (let i = 0; i < bins.length; i++) {
    const b = bins[i] as number;
    if (typeof b !== 'number' || !Number.isFinite(b))
      return `bins must be finite numbers (+Inf is implicit), got ${String(b)}`;
    if (i > 0 && !(b > (bins[i - 1] as number)))
      return `bins must be strictly increasing, but ${b} follows ${bins[i - 1] as number}`;
  }
  return undefined;
}

/**
 * Counts observations into fixed bins over one interval; reused across intervals with clear().
 * Counts and sums are weighted (weight = 1/sample rate), so sum/count is the mean of the stream
 * the samples stand for and Prometheus' `_sum` agrees with `_count`; min and max are of the
 * values received.
 */
export class HistogramAccumulator {
  /** The finite upper bounds, strictly increasing; +Inf is implicit. */
  readonly bounds: readonly number[];
  /** The bounds again, unboxed, for the binary search. */
  private readonly les: Float64Array;
  private readonly counts: Float64Array;
  private readonly sums: Float64Array;
  private readonly mins: Float64Array;
  private readonly maxs: Float64Array;
  /** Timer (`ms`) values added by the aggregator are multiplied by this (a mapping's unit change). */
  scale = 1;
  /** The bins came from a mapping, not from the source's histogram_bins (merging threads need them). */
  pinned = false;
  /**
   * A native histogram kept beside the bins (a mapping's native_histogram_bucket_factor): a
   * sketch at that schema, whose bins are the native buckets; null when none is asked for.
   */
  native: DDSketch | null = null;
  /** Most populated native buckets per interval (0: any); beyond, the resolution halves. */
  nativeMaxBuckets = 0;
  private total = 0;
  private sumValue = 0;
  private minValue = Infinity;
  private maxValue = -Infinity;

  /** Throws a RangeError when `bounds` fails checkBins. Keeps (does not copy) a frozen array. */
  constructor(bounds: readonly number[]) {
    const problem = checkBins(bounds);
    if (problem !== undefined) throw new RangeError(problem);
    this.bounds = Object.isFrozen(bounds) ? bounds : Object.freeze([...bounds]);
    this.les = Float64Array.from(bounds);
    const n = bounds.length + 1;
    this.counts = new Float64Array(n);
    this.sums = new Float64Array(n);
    this.mins = new Float64Array(n).fill(Infinity);
    this.maxs = new Float64Array(n).fill(-Infinity);
  }

  /** Total weight added. */
  get count(): number {
    return this.total;
  }

  /** Weighted sum, Σ value·weight. */
  get sum(): number {
    return this.sumValue;
  }

  get min(): number {
    return this.total > 0 ? this.minValue : NaN;
  }

  get max(): number {
    return this.total > 0 ? this.maxValue : NaN;
  }

  /** Index of the bin `value` falls in: the first bound ≥ value, or bounds.length for +Inf. */
  binIndex(value: number): number {
    const les = this.les;
    let lo = 0;
    let hi = les.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (value <= (les[mid] as number)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /**
   * Adds `value` with `weight` (1/sample rate). Returns false, changing nothing, for a value that
   * is NaN or infinite or a weight that is not finite and positive. Never allocates.
   */
  add(value: number, weight = 1): boolean {
    if (!(weight > 0 && weight < Infinity) || !(value > -Infinity && value < Infinity)) return false;
    const i = this.binIndex(value);
    const w = value * weight;
    this.counts[i] = (this.counts[i] as number) + weight;
    this.sums[i] = (this.sums[i] as number) + w;
    if (value < (this.mins[i] as number)) this.mins[i] = value;
    if (value > (this.maxs[i] as number)) this.maxs[i] = value;
    this.total += weight;
    this.sumValue += w;
    if (value < this.minValue) this.minValue = value;
    if (value > this.maxValue) this.maxValue = value;
    if (this.native !== null) this.native.add(value, weight);
    return true;
  }

  clear(): void {
    this.counts.fill(0);
    this.sums.fill(0);
    this.mins.fill(Infinity);
    this.maxs.fill(-Infinity);
    this.total = 0;
    this.sumValue = 0;
    this.minValue = Infinity;
    this.maxValue = -Infinity;
    this.native?.clear();
  }

  /**
   * The accumulator's whole state as one array, for moving an interval between threads:
   * [counts…, sums…, mins…, maxs…, total, sum, min, max] (4·bins + 4 values).
   */
  state(): Float64Array {
    const n = this.counts.length;
    const out = new Float64Array(4 * n + 4);
    out.set(this.counts, 0);
    out.set(this.sums, n);
    out.set(this.mins, 2 * n);
    out.set(this.maxs, 3 * n);
    out[4 * n] = this.total;
    out[4 * n + 1] = this.sumValue;
    out[4 * n + 2] = this.minValue;
    out[4 * n + 3] = this.maxValue;
    return out;
  }

  /** Adds a `state()` of an accumulator with the same bounds: counts and sums add, extremes widen. */
  mergeState(state: ArrayLike<number>): void {
    const n = this.counts.length;
    if (state.length !== 4 * n + 4)
      throw new RangeError(`histogram state of ${state.length} values for ${n} bins`);
    for (let i = 0; i < n; i++) {
      this.counts[i] = (this.counts[i] as number) + (state[i] as number);
      this.sums[i] = (this.sums[i] as number) + (state[n + i] as number);
      const lo = state[2 * n + i] as number;
      const hi = state[3 * n + i] as number;
      if (lo < (this.mins[i] as number)) this.mins[i] = lo;
      if (hi > (this.maxs[i] as number)) this.maxs[i] = hi;
    }
    this.total += state[4 * n] as number;
    this.sumValue += state[4 * n + 1] as number;
    if ((state[4 * n + 2] as number) < this.minValue) this.minValue = state[4 * n + 2] as number;
    if ((state[4 * n + 3] as number) > this.maxValue) this.maxValue = state[4 * n + 3] as number;
  }

  /**
   * An immutable Histogram: every bin, empty ones included (sum 0, min and max NaN), the last
   * with le = +Infinity, so a series keeps the same bins from one interval to the next.
   */
  snapshot(): Histogram {
    const bins: HistogramBin[] = [];
    for (let i = 0; i < this.counts.length; i++) {
      const count = this.counts[i] as number;
      bins.push(
        Object.freeze({
          le: i < this.bounds.length ? (this.bounds[i] as number) : Infinity,
          count,
          sum: this.sums[i] as number,
          min: count > 0 ? (this.mins[i] as number) : NaN,
          max: count > 0 ? (this.maxs[i] as number) : NaN,
        }),
      );
    }
    return Object.freeze({
      count: this.total,
      sum: this.sumValue,
      min: this.min,
      max: this.max,
      bins: Object.freeze(bins),
      native:
        this.native === null
          ? undefined
          : fitBuckets(this.native.exponential(), PROMETHEUS_MAX_SCHEMA, this.nativeMaxBuckets),
    });
  }
}

/** One selector rule, as configured. At least one of `name` and `tags`. */
export interface HistogramRuleConfig {
  /** Metric name pattern: a glob (`*`, `?`) or a /regex/. */
  readonly name?: string | undefined;
  /** Tag patterns that must all match (a missing tag does not match). */
  readonly tags?: Readonly<Record<string, string>> | undefined;
  /** Finite upper bounds, strictly increasing. */
  readonly bins: readonly number[];
}

export interface HistogramBinsConfig {
  /** Bins for series no rule matches. */
  readonly default: readonly number[];
  readonly rules: readonly HistogramRuleConfig[];
}

class SelectorRule {
  readonly name: CompiledPattern | undefined;
  readonly tagKeys: readonly string[];
  readonly tagPatterns: readonly CompiledPattern[];
  readonly bins: readonly number[];

  constructor(rule: HistogramRuleConfig, index: number) {
    const problem = checkBins(rule.bins);
    if (problem !== undefined) throw new RangeError(`histogram rule ${index}: ${problem}`);
    const keys = Object.keys(rule.tags ?? {});
    if (rule.name === undefined && keys.length === 0)
      throw new RangeError(`histogram rule ${index}: needs \`name\` or \`tags\` to match`);
    this.name = rule.name !== undefined ? compilePattern(rule.name) : undefined;
    this.tagKeys = keys;
    this.tagPatterns = keys.map((k) => compilePattern((rule.tags as Record<string, string>)[k] as string));
    this.bins = Object.freeze([...rule.bins]);
  }

  matches(name: string, tags: Tags): boolean {
    if (this.name !== undefined && !this.name.regex.test(name)) return false;
    for (let i = 0; i < this.tagKeys.length; i++) {
      const key = this.tagKeys[i] as string;
      let value: string | undefined;
      for (const t of tags) {
        if (t[0] === key) {
          value = t[1];
          break;
        }
      }
      if (value === undefined || !(this.tagPatterns[i] as CompiledPattern).regex.test(value)) return false;
    }
    return true;
  }
}

/**
 * Picks the bins of a new histogram series: the first rule matching its name and tags, else the
 * default. Patterns are compiled once, here. Call it when a series is created, not per sample.
 */
export class HistogramSelector {
  readonly defaultBins: readonly number[];
  private readonly rules: readonly SelectorRule[];

  /** Throws a RangeError or SyntaxError for bad bins or patterns (the schema checks them first). */
  constructor(config: Partial<HistogramBinsConfig> = {}) {
    const def = config.default ?? DEFAULT_HISTOGRAM_BINS;
    const problem = checkBins(def);
    if (problem !== undefined) throw new RangeError(`histogram default: ${problem}`);
    this.defaultBins = Object.isFrozen(def) ? def : Object.freeze([...def]);
    this.rules = (config.rules ?? []).map((r, i) => new SelectorRule(r, i));
  }

  /**
   * The bins for a series: a frozen array, the same instance for every series the same rule
   * picks, so accumulators can share it and sinks can compare layouts by identity.
   */
  select(name: string, tags: Tags): readonly number[] {
    for (const rule of this.rules) if (rule.matches(name, tags)) return rule.bins;
    return this.defaultBins;
  }
}

/** A schema that adds a check to another, reporting at the path it returns. */
export function refine<T>(
  inner: Schema<T>,
  check: (value: T) => { path: Path; message: string } | undefined,
): Schema<T> {
  return {
    ...inner,
    parse(value: unknown, path: Path, issues: Issue[]): T | typeof INVALID {
      const r = inner.parse(value, path, issues);
      if (r === INVALID) return r;
      const problem = check(r);
      if (problem === undefined) return r;
      issues.push({ path: [...path, ...problem.path], message: problem.message });
      return INVALID;
    },
  };
}

export function binsSchema(opts: { doc: string; default?: number[]; optional?: boolean }): Schema<number[]> {
  return refine(s.array(s.number(), { minLength: 1, ...opts }), (bins) => {
    for (let i = 1; i < bins.length; i++)
      if (!((bins[i] as number) > (bins[i - 1] as number)))
        return {
          path: [i],
          message: `bins must be strictly increasing, but ${bins[i] as number} follows ${bins[i - 1] as number}`,
        };
    return undefined;
  });
}

const ruleFields = {
  name: s.pattern({ optional: true, doc: 'Metric name pattern: a glob (`*`, `?`) or a /regex/.' }),
  tags: s.record(s.pattern(), { optional: true, doc: 'Tag patterns that must all match.' }),
  bins: binsSchema({ doc: 'Upper bounds (`le`) of the bins, strictly increasing; +Inf is implicit.' }),
};

const ruleSchema = refine(s.object(ruleFields), (rule) =>
  rule.name === undefined && (rule.tags === undefined || Object.keys(rule.tags).length === 0)
    ? { path: [], message: 'a rule needs `name` or `tags` to match (`default` covers the rest)' }
    : undefined,
);

const binsConfigFields = {
  default: binsSchema({
    default: [...DEFAULT_HISTOGRAM_BINS],
    doc: 'Bins of histograms no rule matches: upper bounds, strictly increasing (StatsD sends milliseconds).',
  }),
  rules: s.array(ruleSchema, {
    default: [],
    doc: 'Bins per metric: the first rule whose `name` and `tags` patterns match picks `bins`.',
  }),
};

/**
 * The config of a HistogramSelector, for a source to embed as an option (the StatsD source's
 * `histogram_bins`). Parses to a HistogramBinsConfig.
 *
 * ```yaml
 * histogram_bins:
 *   default: [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
 *   rules:
 *     - name: "api.*.latency"
 *       tags: { service: "/^web-/" }
 *       bins: [5, 10, 20, 50, 100]
 * ```
 */
export const histogramBinsSchema: ObjectSchema<typeof binsConfigFields> = s.object(binsConfigFields, {
  doc: 'Bins of StatsD histograms (`h`), chosen per series by name and tags.',
});
