/**
 * What the exporter serves: the latest state of every series, updated by `write` and rendered
 * by the pure `renderExposition`.
 *
 * Semantics, per kind:
 * - delta counters (StatsD) add up into a running total, so increments sum exactly across
 *   flushes; cumulative counters (/proc) are exported as they come;
 * - gauges keep their last value;
 * - summaries (StatsD timers) and distributions (sketches, exposed as summaries) show the
 *   quantiles of the latest interval, while `_sum` and `_count` add up across intervals (they
 *   are what rate() is taken of);
 * - histograms add up bin by bin across intervals into cumulative `_bucket`s, `_sum` and
 *   `_count`, like counters. A series keeps its bins: if they change, it starts again from zero
 *   (which Prometheus reads as a counter reset) and the reset is counted;
 * - with native histograms on, distributions also add up their sketch's exponential buckets
 *   into a cumulative native histogram, which the protobuf page serves instead of the summary
 *   (the text formats cannot carry it); histograms that carry native buckets (a mapping's
 *   native_histogram_bucket_factor) add them up too, and the protobuf page serves both.
 *
 * Label text is sanitised and escaped once, when a series first appears (Bucky3 renders at
 * ingest so that a scrape is mostly a join); later writes to the series are a map lookup.
 */
import type { Distribution, Histogram, Metric, MetricKind, Quantile, Summary } from '../../core/metric.js';
import { flatString, seriesKey } from '../../core/tags.js';
import { NativeAccumulator, PROMETHEUS_MAX_SCHEMA } from '../../protocols/prometheus/native.js';
import { encodeLabelPairs, ExpositionWriter } from '../../protocols/prometheus/protobuf.js';
import {
  familyName,
  labelText,
  openMetricsConflict,
  renderFamilyOpenMetrics,
  formatGoFloat,
  renderFamily,
  sampleNames,
  parseLabelText,
  sanitizeMetricName,
  type FamilyType,
} from '../../protocols/prometheus/text.js';

/** Why a metric was not exported. Each one is counted as `dropped_metrics{reason}`. */
export type RejectReason =
  /** A family of this name exists with another type (a gauge and a counter both called `x_total`). */
  | 'type_conflict'
  /** A sample name this family would produce belongs to another family (gauge `x_sum` vs summary `x`). */
  | 'name_conflict'
  /** Prometheus counters only go up: a negative increment would read as a counter reset. */
  | 'negative_counter'
  /** A NaN or infinite increment would stick in the running total forever. */
  | 'invalid_value';

export const REJECT_REASONS: readonly RejectReason[] = [
  'type_conflict',
  'name_conflict',
  'negative_counter',
  'invalid_value',
];

/** The bins of histogram series: their bounds, and the same rendered as `le` values. */
export class Layout {
  constructor(
    /** Upper bounds, the last +Infinity. */
    readonly bounds: readonly number[],
    readonly les: readonly string[],
  ) {}
}

const NO_LAYOUT = new Layout([], []);
const MAX_LAYOUTS = 10_000;
const NO_BUCKETS = new Float64Array(0);

/** One exported series. One class for all kinds, so V8 sees one shape. */
export { labelText };

export class Series {
  value = 0;
  quantiles: readonly Quantile[] = [];
  sum = 0;
  count = 0;
  /** Histograms: the bins (shared by every series with the same) and their running counts. */
  layout: Layout = NO_LAYOUT;
  buckets: Float64Array = NO_BUCKETS;
  /** Cleared when the series expires, so stale index entries can be told apart. */
  alive = true;
  /** The source's expiry for it (Metric.ttlMs), or 0 for the exporter's. */
  ttl = 0;
  /** When its running totals began (OpenMetrics' `_created`): its creation, or a reset. */
  created: number;
  /** Distributions with native histograms on: the cumulative exponential buckets. */
  native: NativeAccumulator | null = null;
  /** Its labels as protobuf LabelPair fields, made at the first protobuf scrape. */
  protoLabels: Uint8Array | undefined = undefined;
  constructor(
    /** Rendered label text without braces: `a="x",b="y"`. */
    readonly labels: string,
    /** When it was last written (the sink's clock, not the metric's timestamp). */
    public lastWrite: number,
  ) {
    this.created = lastWrite;
  }

  get les(): readonly string[] {
    return this.layout.les;
  }
}

export class Family {
  help: string;
  /** A counter exposed without `_total` (the exporter's counter_suffix: false). */
  keepName = false;
  readonly byLabels = new Map<string, Series>();
  private sorted: Series[] | undefined;

  constructor(
    /** The exposed name (counters already end in `_total`). */
    readonly name: string,
    readonly type: FamilyType,
    /** The metric kind it was created for: a timer and a distribution are both summaries, but do not mix. */
    readonly kind: MetricKind,
    help: string,
  ) {
    this.help = help;
  }

  /** Series sorted by label text, for a stable output; cached until the set changes. */
  get series(): readonly Series[] {
    if (this.sorted === undefined) {
      this.sorted = [...this.byLabels.values()];
      this.sorted.sort((a, b) => (a.labels < b.labels ? -1 : a.labels > b.labels ? 1 : 0));
    }
    return this.sorted;
  }

  add(series: Series): void {
    this.byLabels.set(series.labels, series);
    this.sorted = undefined;
  }

  /** Removes series last written at or before `cutoff`; returns how many. */
  /** Removes the series not written for their ttl, or for `expiryMs` (0: never) without one. */
  expire(now: number, expiryMs: number): number {
    let removed = 0;
    for (const s of this.byLabels.values()) {
      const ttl = s.ttl > 0 ? s.ttl : expiryMs;
      if (ttl > 0 && s.lastWrite <= now - ttl) {
        s.alive = false;
        this.byLabels.delete(s.labels);
        removed++;
      }
    }
    if (removed > 0) this.sorted = undefined;
    return removed;
  }
}

const KIND_NAME: Record<FamilyType, string> = {
  counter: 'Counter',
  gauge: 'Gauge',
  summary: 'Summary',
  histogram: 'Histogram',
};

/** The Prometheus type a metric kind is exposed as. */
export function familyType(kind: MetricKind): FamilyType {
  return kind === 'distribution' ? 'summary' : kind;
}

/** Help text for metrics that bring none: promtool requires one on every family. */
export function defaultHelp(type: FamilyType, name: string): string {
  return `${KIND_NAME[type]} ${name}.`;
}

/** Where the median goes among sorted quantiles, or -1 when 0.5 is there already. */
function medianIndex(qs: readonly Quantile[]): number {
  for (let i = 0; i < qs.length; i++) {
    const q = (qs[i] as Quantile).quantile;
    if (q === 0.5) return -1;
    if (q > 0.5) return i;
  }
  return qs.length;
}

function withMedian(qs: readonly Quantile[], at: number, median: number): readonly Quantile[] {
  const out = qs.slice();
  out.splice(at, 0, { quantile: 0.5, value: median });
  return out;
}

/** The interval's quantiles, with the median as quantile 0.5 when it is not among them. */
export function quantilesWithMedian(s: Summary): readonly Quantile[] {
  const at = medianIndex(s.quantiles);
  return at < 0 ? s.quantiles : withMedian(s.quantiles, at, s.median);
}

/** The same for a distribution, whose median comes from its sketch. */
export function distributionQuantiles(d: Distribution): readonly Quantile[] {
  const at = medianIndex(d.quantiles);
  return at < 0 ? d.quantiles : withMedian(d.quantiles, at, d.quantile(0.5));
}

/**
 * Whether a histogram can be exported: bins ordered by strictly increasing bounds ending in
 * +Inf, counts finite and not negative (cumulative buckets must not decrease), sum finite.
 */
function validHistogram(h: Histogram): boolean {
  const bins = h.bins;
  if (bins.length === 0 || !Number.isFinite(h.sum)) return false;
  let prev = -Infinity;
  for (let i = 0; i < bins.length; i++) {
    const b = bins[i] as Histogram['bins'][number];
    if (!(b.le > prev) || !(b.count >= 0 && b.count < Infinity)) return false;
    prev = b.le;
  }
  return prev === Infinity;
}

function sameLayout(layout: Layout, h: Histogram): boolean {
  const bounds = layout.bounds;
  const bins = h.bins;
  if (bounds.length !== bins.length) return false;
  for (let i = 0; i < bins.length; i++)
    if (bounds[i] !== (bins[i] as Histogram['bins'][number]).le) return false;
  return true;
}

export type RejectHandler = (reason: RejectReason, metric: Metric) => void;
/** Called when a histogram series starts again from zero because its bins changed. */
export type ResetHandler = (metric: Metric) => void;

export class ExporterState {
  /** Bumped on every change, so a rendered page can be reused until the next one. */
  version = 0;
  private readonly families = new Map<string, Family>();
  /** Every sample name in use, and the family that produces it. */
  private readonly sampleOwners = new Map<string, Family>();
  /** (name, tags) of incoming metrics → their series, one map per kind. */
  private counters = new Map<string, Series>();
  private gauges = new Map<string, Series>();
  private summaries = new Map<string, Series>();
  private histograms = new Map<string, Series>();
  private distributions = new Map<string, Series>();
  /** Histogram layouts by their bounds, so series with the same bins share rendered `le`s. */
  private readonly layouts = new Map<string, Layout>();
  private sortedFamilies: Family[] | undefined;
  private seriesTotal = 0;
  /** Series that came with their own ttl: expiry must run for them even when expiryMs is 0. */
  private ttlSeries = 0;

  constructor(
    /** How long a series stays without being written, in milliseconds. */
    readonly expiryMs: number,
    private readonly onReject: RejectHandler = () => {},
    private readonly onReset: ResetHandler = () => {},
    /** Counters exposed as `<name>_total` (false: under their name, as statsd_exporter does). */
    private readonly counterSuffix = true,
    /**
     * Native histograms: distributions keep cumulative exponential buckets (at most this many
     * populated, halving the resolution beyond; 0: no limit). Absent: off.
     */
    readonly native: { readonly maxBuckets: number } | undefined = undefined,
  ) {}

  /**
   * Native buckets are added up only once something wants them (a protobuf scrape, remote
   * write's native_histograms): they cost 8 bytes per bucket a series spans (about 7 KB for
   * latencies from 1 ms to 10 s), which text-only scrapers would pay for nothing.
   */
  private nativeActive = false;

  /** Starts keeping native buckets, when `native` allows; series show them from their next write. */
  activateNative(): void {
    if (this.native !== undefined) this.nativeActive = true;
  }

  get seriesCount(): number {
    return this.seriesTotal;
  }

  write(batch: readonly Metric[], now: number): void {
    for (const m of batch) this.writeOne(m, now);
    if (batch.length > 0) this.version++;
  }

  private writeOne(m: Metric, now: number): void {
    let index: Map<string, Series>;
    if (m.kind === 'counter') {
      if (m.temporality === 'delta') {
        if (!Number.isFinite(m.value)) return this.onReject('invalid_value', m);
        if (m.value < 0) return this.onReject('negative_counter', m);
      }
      index = this.counters;
    } else if (m.kind === 'gauge') {
      index = this.gauges;
    } else if (m.kind === 'summary') {
      if (!Number.isFinite(m.summary.weightedSum) || !Number.isFinite(m.summary.count))
        return this.onReject('invalid_value', m);
      index = this.summaries;
    } else if (m.kind === 'histogram') {
      if (!validHistogram(m.histogram)) return this.onReject('invalid_value', m);
      index = this.histograms;
    } else {
      const d = m.distribution;
      if (!Number.isFinite(d.sum) || !(d.count >= 0 && d.count < Infinity))
        return this.onReject('invalid_value', m);
      index = this.distributions;
    }
    const key = seriesKey(m.name, m.tags);
    let series = index.get(key);
    if (series === undefined) {
      series = this.resolve(m, now);
      if (series === undefined) return;
      index.set(flatString(key), series);
    }
    series.lastWrite = now;
    if (m.ttlMs !== undefined && m.ttlMs > 0 && series.ttl !== m.ttlMs) {
      if (series.ttl === 0) this.ttlSeries++;
      series.ttl = m.ttlMs;
    }
    if (m.kind === 'counter') {
      if (m.temporality === 'delta') series.value += m.value;
      else series.value = m.value;
    } else if (m.kind === 'gauge') {
      series.value = m.value;
    } else if (m.kind === 'summary') {
      series.quantiles = quantilesWithMedian(m.summary);
      series.sum += m.summary.weightedSum;
      series.count += m.summary.count;
    } else if (m.kind === 'histogram') {
      const h = m.histogram;
      if (!sameLayout(series.layout, h)) {
        if (series.layout !== NO_LAYOUT) {
          this.onReset(m);
          series.created = now;
        }
        series.layout = this.layoutOf(h);
        series.buckets = new Float64Array(h.bins.length);
        series.sum = 0;
        series.native = null;
      }
      const buckets = series.buckets;
      for (let i = 0; i < buckets.length; i++)
        buckets[i] = (buckets[i] as number) + (h.bins[i] as Histogram['bins'][number]).count;
      series.sum += h.sum;
      if (this.nativeActive && h.native !== undefined) {
        series.native ??= new NativeAccumulator(
          PROMETHEUS_MAX_SCHEMA,
          (this.native as { maxBuckets: number }).maxBuckets,
        );
        series.native.add(h.native, h.count, h.sum);
      }
    } else {
      const d = m.distribution;
      series.quantiles = distributionQuantiles(d);
      series.sum += d.sum;
      series.count += d.count;
      if (this.nativeActive && d.exponential !== undefined) {
        series.native ??= new NativeAccumulator(
          PROMETHEUS_MAX_SCHEMA,
          (this.native as { maxBuckets: number }).maxBuckets,
        );
        series.native.add(d.exponential(), d.count, d.sum);
      }
    }
  }

  private layoutOf(h: Histogram): Layout {
    const bounds = h.bins.map((b) => b.le);
    const key = bounds.join(',');
    let layout = this.layouts.get(key);
    if (layout === undefined) {
      layout = new Layout(bounds, bounds.map(formatGoFloat));
      // Layouts come from configured bins, so few; the cap only guards against a runaway source.
      if (this.layouts.size < MAX_LAYOUTS) this.layouts.set(key, layout);
    }
    return layout;
  }

  /** Finds or creates the series of a metric not seen before; undefined if it is rejected. */
  private resolve(m: Metric, now: number): Series | undefined {
    const type = familyType(m.kind);
    const sanitized = sanitizeMetricName(m.name, false);
    const name = type === 'counter' && !this.counterSuffix ? sanitized : familyName(sanitized, type);
    let family = this.families.get(name);
    if (family === undefined) {
      const names = sampleNames(name, type);
      for (const n of names) {
        if (this.sampleOwners.has(n)) {
          this.onReject('name_conflict', m);
          return undefined;
        }
      }
      family = new Family(
        name,
        type,
        m.kind,
        m.help !== undefined && m.help !== '' ? m.help : defaultHelp(type, m.name),
      );
      family.keepName = type === 'counter' && !this.counterSuffix;
      this.families.set(name, family);
      for (const n of names) this.sampleOwners.set(n, family);
      this.sortedFamilies = undefined;
    } else if (family.kind !== m.kind) {
      this.onReject('type_conflict', m);
      return undefined;
    } else if (m.help !== undefined && m.help !== '' && m.help !== family.help) {
      family.help = m.help;
    }
    const labels = labelText(
      m.tags,
      type === 'summary' ? 'quantile' : type === 'histogram' ? 'le' : undefined,
    );
    let series = family.byLabels.get(labels);
    if (series === undefined) {
      series = new Series(flatString(labels), now);
      family.add(series);
      this.seriesTotal++;
    }
    return series;
  }

  /**
   * Removes series not written for `expiryMs`, and families left empty. Returns how many series
   * went. An `expiryMs` of 0 keeps every series.
   */
  expire(now: number): number {
    if (this.expiryMs === 0 && this.ttlSeries === 0) return 0;
    let removed = 0;
    for (const family of this.families.values()) {
      removed += family.expire(now, this.expiryMs);
      if (family.byLabels.size === 0) {
        this.families.delete(family.name);
        for (const n of sampleNames(family.name, family.type)) this.sampleOwners.delete(n);
        this.sortedFamilies = undefined;
      }
    }
    if (removed > 0) {
      let withTtl = 0;
      for (const family of this.families.values())
        for (const x of family.byLabels.values()) if (x.ttl > 0) withTtl++;
      this.ttlSeries = withTtl;
      // Swap in fresh indexes holding only live series rather than deleting entry by entry.
      this.counters = liveEntries(this.counters);
      this.gauges = liveEntries(this.gauges);
      this.summaries = liveEntries(this.summaries);
      this.histograms = liveEntries(this.histograms);
      this.distributions = liveEntries(this.distributions);
      this.seriesTotal -= removed;
      this.version++;
    }
    return removed;
  }

  /** Families sorted by name; cached until one is added or removed. */
  listFamilies(): readonly Family[] {
    if (this.sortedFamilies === undefined) {
      this.sortedFamilies = [...this.families.values()];
      this.sortedFamilies.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    }
    return this.sortedFamilies;
  }
}

function liveEntries(index: Map<string, Series>): Map<string, Series> {
  const out = new Map<string, Series>();
  for (const [key, series] of index) if (series.alive) out.set(key, series);
  return out;
}

/**
 * The page in the protobuf exposition format. Distribution families whose every series has a
 * native histogram are histograms there (native buckets only); histograms carry their native
 * buckets beside the classic ones where they have them; everything else is what the text page
 * shows.
 */
export function renderProtobuf(state: ExporterState): Buffer {
  const w = new ExpositionWriter();
  for (const family of state.listFamilies()) {
    const series = family.series;
    const native = family.kind === 'distribution' && series.every((s) => s.native !== null);
    w.family(family.name, family.help, native ? 'histogram' : family.type);
    for (const s of series) {
      s.protoLabels ??= encodeLabelPairs(parseLabelText(s.labels));
      const labels = s.protoLabels;
      if (native) {
        const n = s.native as NativeAccumulator;
        w.histogram(labels, n.count, n.sum, undefined, n.buckets());
      } else if (family.type === 'counter') w.counter(labels, s.value);
      else if (family.type === 'gauge') w.gauge(labels, s.value);
      else if (family.type === 'summary') w.summary(labels, s.count, s.sum, s.quantiles);
      else {
        const layout = s.layout;
        let count = 0;
        for (let i = 0; i < s.buckets.length; i++) count += s.buckets[i] as number;
        w.histogram(
          labels,
          count,
          s.sum,
          { bounds: layout.bounds, counts: s.buckets },
          s.native === null ? undefined : s.native.buckets(),
        );
      }
    }
    w.end();
  }
  return w.finish();
}

/**
 * The page in OpenMetrics text, ending `# EOF`; undefined when two families' OpenMetrics names
 * collide (a counter `x` beside a gauge `x`, which the text format allows): serve that as text.
 */
export function renderOpenMetricsBuffer(state: ExporterState): Buffer | undefined {
  const families = state.listFamilies();
  if (openMetricsConflict(families) !== undefined) return undefined;
  return renderBuffer(families, renderFamilyOpenMetrics, '# EOF\n');
}

/** The exposition page (text format 0.0.4) of the current state. */
export function renderExposition(state: ExporterState): string {
  let out = '';
  for (const family of state.listFamilies()) out += renderFamily(family);
  return out;
}

const CHUNK_CHARS = 64 * 1024;

/**
 * The same page as bytes, encoded in chunks of about 64 KiB: measured 40% faster on a 17 MB
 * page than building one string and encoding it, which makes V8 flatten a huge string.
 */
export function renderExpositionBuffer(state: ExporterState): Buffer {
  return renderBuffer(state.listFamilies(), renderFamily, '');
}

/** Families rendered one by one, encoded in chunks of about CHUNK_CHARS, `tail` last. */
function renderBuffer(families: readonly Family[], render: (f: Family) => string, tail: string): Buffer {
  const parts: Buffer[] = [];
  let pending = '';
  for (const family of families) {
    pending += render(family);
    if (pending.length >= CHUNK_CHARS) {
      parts.push(Buffer.from(pending));
      pending = '';
    }
  }
  parts.push(Buffer.from(pending + tail));
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}
