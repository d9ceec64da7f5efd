/**
 * One metric → the remote-write entries for it: complete `timeseries` entries of a WriteRequest
 * (src/protocols/remote_write), one per sample the Prometheus exporter would show for it, each
 * with one sample at the metric's timestamp, and now and then a `metadata` entry for its family.
 *
 * The series are named, labelled and valued exactly as the `prometheus_exporter` sink exposes
 * them, because the exporter's own state does the work: this encoder feeds each metric to an
 * `ExporterState` and reads the series it updated. So delta counters add up into cumulative
 * `_total` series, summaries and distributions get `quantile` series (the median included) plus
 * cumulative `_sum`/`_count`, histograms get cumulative `_bucket{le}` (ending in `+Inf`), `_sum`
 * and `_count`; names and labels are sanitised the same way, and the same conflicts are refused.
 * That state is what makes the encoder stateful, unlike the push README's pure encoders; the
 * sink calls it once per metric, in order, on the ingestion path, which is what it relies on.
 * Series not written for `expiryMs` are forgotten (a delta counter that comes back starts again
 * from zero, which PromQL's rate() reads as a counter reset).
 *
 * Per series, the label entries are encoded once and kept; a later metric of the series costs a
 * map lookup, the exporter's update and copying bytes.
 */
import type { Metric, MetricKind, Quantile } from '../../core/metric.js';
import { seriesKey } from '../../core/tags.js';
import {
  familyName,
  formatGoFloat,
  labelPairs,
  labelText,
  sanitizeMetricName,
} from '../../protocols/prometheus/text.js';
import {
  encodeLabel,
  METRIC_TYPES,
  ProtoWriter,
  writeHistogramSeries,
  writeMetadata,
  writeTimeSeries,
} from '../../protocols/remote_write/protobuf.js';
import {
  ExporterState,
  familyType,
  type Family,
  type Layout,
  type RejectReason,
  type Series,
} from '../prometheus_exporter/state.js';

const KIND_PREFIX: Record<MetricKind, string> = {
  counter: 'c',
  gauge: 'g',
  summary: 's',
  histogram: 'h',
  distribution: 'd',
};

/** What is kept per series: the exporter's series, and the encoded labels around which samples go. */
class Cached {
  constructor(
    readonly series: Series,
    readonly family: Family,
    /** The metric's own labels, encoded, sorted by name. */
    readonly base: readonly Uint8Array[],
    /** How many of `base` sort before `__name__`, and before the type's label (quantile, le). */
    readonly nameAt: number,
    readonly extraAt: number,
    /** `__name__` labels: [name] for counters and gauges; [name, _sum, _count] for summaries; [_bucket, _sum, _count] for histograms. */
    readonly names: readonly Uint8Array[],
    /** `__name__` of a native histogram: the family's name, without a suffix. */
    readonly nativeName: Uint8Array,
  ) {}
}

export interface RemoteWriteEncoderOptions {
  /** Series state is forgotten after this long without a write. */
  readonly expiryMs: number;
  /** How often each family's metadata is repeated; 0 sends none. */
  readonly metadataIntervalMs: number;
  readonly now: () => number;
  /** A metric the exporter would refuse (a name used by another kind, a negative delta, …). */
  readonly onReject?: (reason: RejectReason, metric: Metric) => void;
  /** A histogram series whose bins changed starts again from zero. */
  readonly onReset?: (metric: Metric) => void;
  /**
   * Distributions as native histograms (one series of cumulative exponential buckets) instead
   * of quantile, `_sum` and `_count` series; at most `maxBuckets` populated buckets (0: any).
   */
  readonly nativeHistograms?: { readonly maxBuckets: number } | undefined;
}

const EXPIRE_EVERY_MS = 60_000;

export class RemoteWriteEncoder {
  private readonly state: ExporterState;
  private cache = new Map<string, Cached>();
  private metadataSent = new Map<string, number>();
  private readonly writer = new ProtoWriter(4096);
  private readonly one: Metric[] = [];
  private rejected: RejectReason | undefined = undefined;
  private lastExpire: number;
  private readonly quantileLabels = new Map<number, Uint8Array>();
  private readonly leLabels = new WeakMap<Layout, Uint8Array[]>();
  /** Scratch list of the labels of one TimeSeries. */
  private readonly scratch: Uint8Array[] = [];

  constructor(private readonly options: RemoteWriteEncoderOptions) {
    this.state = new ExporterState(
      options.expiryMs,
      (reason) => {
        this.rejected = reason;
      },
      (m) => options.onReset?.(m),
      true,
      options.nativeHistograms,
    );
    this.state.activateNative();
    this.lastExpire = options.now();
  }

  /** Series whose state is kept. */
  get seriesCount(): number {
    return this.state.seriesCount;
  }

  encode(m: Metric): Uint8Array | undefined {
    const now = this.options.now();
    if (now - this.lastExpire >= Math.min(EXPIRE_EVERY_MS, this.options.expiryMs)) this.expire(now);
    this.rejected = undefined;
    this.one[0] = m;
    this.state.write(this.one, now);
    this.one.length = 0;
    if (this.rejected !== undefined) {
      this.options.onReject?.(this.rejected, m);
      return undefined;
    }
    const key = KIND_PREFIX[m.kind] + seriesKey(m.name, m.tags);
    let c = this.cache.get(key);
    if (c === undefined || !c.series.alive) {
      c = this.resolve(m);
      if (c === undefined) return undefined;
      this.cache.set(key, c);
    }
    const w = this.writer;
    w.reset();
    if (this.options.metadataIntervalMs > 0) this.metadata(c.family, now);
    const ts = Math.floor(m.timestamp);
    const s = c.series;
    if (s.native !== null) {
      this.scratch.length = 0;
      const base = c.base;
      for (let i = 0; i < c.nameAt; i++) this.scratch.push(base[i] as Uint8Array);
      this.scratch.push(c.nativeName);
      for (let i = c.nameAt; i < base.length; i++) this.scratch.push(base[i] as Uint8Array);
      writeHistogramSeries(
        w,
        this.scratch,
        { buckets: s.native.buckets(), count: s.native.count, sum: s.native.sum },
        ts,
      );
    } else if (m.kind === 'counter' || m.kind === 'gauge') {
      this.series(c, c.names[0] as Uint8Array, undefined, s.value, ts);
    } else if (m.kind === 'histogram') {
      const les = this.les(s.layout);
      let cumulative = 0;
      for (let i = 0; i < les.length; i++) {
        cumulative += s.buckets[i] as number;
        this.series(c, c.names[0] as Uint8Array, les[i], cumulative, ts);
      }
      this.series(c, c.names[1] as Uint8Array, undefined, s.sum, ts);
      this.series(c, c.names[2] as Uint8Array, undefined, cumulative, ts);
    } else {
      const qs = s.quantiles;
      for (let i = 0; i < qs.length; i++) {
        const q = qs[i] as Quantile;
        this.series(c, c.names[0] as Uint8Array, this.quantileLabel(q.quantile), q.value, ts);
      }
      this.series(c, c.names[1] as Uint8Array, undefined, s.sum, ts);
      this.series(c, c.names[2] as Uint8Array, undefined, s.count, ts);
    }
    return w.take();
  }

  /** One TimeSeries: the base labels with `__name__` and the type's label merged in, in order. */
  private series(
    c: Cached,
    name: Uint8Array,
    extra: Uint8Array | undefined,
    value: number,
    ts: number,
  ): void {
    const labels = this.scratch;
    labels.length = 0;
    const base = c.base;
    for (let i = 0; i < c.nameAt; i++) labels.push(base[i] as Uint8Array);
    labels.push(name);
    if (extra === undefined) {
      for (let i = c.nameAt; i < base.length; i++) labels.push(base[i] as Uint8Array);
    } else {
      for (let i = c.nameAt; i < c.extraAt; i++) labels.push(base[i] as Uint8Array);
      labels.push(extra);
      for (let i = c.extraAt; i < base.length; i++) labels.push(base[i] as Uint8Array);
    }
    writeTimeSeries(this.writer, labels, value, ts);
  }

  private metadata(family: Family, now: number): void {
    const last = this.metadataSent.get(family.name);
    if (last !== undefined && now - last < this.options.metadataIntervalMs) return;
    this.metadataSent.set(family.name, now);
    const native = family.kind === 'distribution' && this.options.nativeHistograms !== undefined;
    writeMetadata(this.writer, {
      type: native ? METRIC_TYPES.histogram : METRIC_TYPES[family.type],
      family: family.name,
      help: family.help,
      unit: '',
    });
  }

  private quantileLabel(q: number): Uint8Array {
    let label = this.quantileLabels.get(q);
    if (label === undefined) {
      label = encodeLabel('quantile', formatGoFloat(q));
      // Quantiles come from configuration, so few; the cap only guards against a runaway source.
      if (this.quantileLabels.size < 10_000) this.quantileLabels.set(q, label);
    }
    return label;
  }

  private les(layout: Layout): Uint8Array[] {
    let labels = this.leLabels.get(layout);
    if (labels === undefined) {
      labels = layout.les.map((le) => encodeLabel('le', le));
      this.leLabels.set(layout, labels);
    }
    return labels;
  }

  /** Finds, for a metric the state has just taken, its family and series, and encodes its labels. */
  private resolve(m: Metric): Cached | undefined {
    const type = familyType(m.kind);
    const name = familyName(sanitizeMetricName(m.name, false), type);
    const family = findFamily(this.state.listFamilies(), name);
    const reserved = type === 'summary' ? 'quantile' : type === 'histogram' ? 'le' : undefined;
    const series = family?.byLabels.get(labelText(m.tags, reserved));
    if (family === undefined || series === undefined) return undefined;
    const pairs = labelPairs(m.tags, reserved);
    const base = pairs.map(([n, v]) => encodeLabel(n, v));
    let nameAt = 0;
    while (nameAt < pairs.length && (pairs[nameAt] as [string, string])[0] < '__name__') nameAt++;
    let extraAt = nameAt;
    if (reserved !== undefined)
      while (extraAt < pairs.length && (pairs[extraAt] as [string, string])[0] < reserved) extraAt++;
    const names =
      type === 'histogram'
        ? [name + '_bucket', name + '_sum', name + '_count']
        : type === 'summary'
          ? [name, name + '_sum', name + '_count']
          : [name];
    return new Cached(
      series,
      family,
      base,
      nameAt,
      extraAt,
      names.map((n) => encodeLabel('__name__', n)),
      encodeLabel('__name__', name),
    );
  }

  private expire(now: number): void {
    this.lastExpire = now;
    if (this.state.expire(now) === 0) return;
    const cache = new Map<string, Cached>();
    for (const [key, c] of this.cache) if (c.series.alive) cache.set(key, c);
    this.cache = cache;
    const names = new Set(this.state.listFamilies().map((f) => f.name));
    const sent = new Map<string, number>();
    for (const [name, at] of this.metadataSent) if (names.has(name)) sent.set(name, at);
    this.metadataSent = sent;
  }
}

/** Binary search in the state's families, which it keeps sorted by name. */
function findFamily(families: readonly Family[], name: string): Family | undefined {
  let lo = 0;
  let hi = families.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const f = families[mid] as Family;
    if (f.name === name) return f;
    if (f.name < name) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}
