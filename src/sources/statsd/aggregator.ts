/**
 * Aggregates parsed StatsD lines per flush interval into metrics, with Etsy statsd's semantics
 * (lib/process_metrics.js) for timers and the Telegraf/DogStatsD defaults for what is emitted:
 * counters, timers and sets only in intervals where they were updated, gauges at every flush
 * until their series expires.
 *
 * Series identity is name + type + canonical tags. The canonical form costs a decode and a sort,
 * so lines are first looked up by their raw bytes (name and tag text as written, hashed by the
 * parser during its scan), and the canonical key is only built on a miss; the raw key is then
 * remembered as an alias of the series.
 */
import type { Batch, Metric, Quantile, Summary } from '../../core/metric.js';
import { seriesKey, type Tags } from '../../core/tags.js';
import {
  STATSD_COUNTER,
  STATSD_GAUGE,
  STATSD_HISTOGRAM,
  STATSD_SET,
  STATSD_TIMER,
  STATSD_TYPE_COUNT,
  type StatsdLine,
  type StatsdType,
} from '../../protocols/statsd/parser.js';

export interface AggregatorOptions {
  /** Reported as `intervalMs` of counters and summaries. */
  readonly flushIntervalMs: number;
  /** Percentiles in [0, 100] computed for timers and histograms. */
  readonly percentiles: readonly number[];
  /** Series not updated for this long are dropped at a flush; 0 keeps them forever. */
  readonly expiryMs: number;
}

const HELP: readonly string[] = [
  'StatsD counter: total of the interval (per-second rate = value / interval).',
  'StatsD gauge: last value received.',
  'StatsD timer: distribution of the values received in the interval.',
  'StatsD histogram: distribution of the values received in the interval.',
  'StatsD set: number of distinct members received in the interval.',
];

/** Raw spellings remembered per series; past this, yet another tag order takes the slow path. */
const MAX_ALIASES = 8;

class Series {
  /** Raw spellings of this series in the key table. */
  readonly aliases: RawKey[] = [];
  /** Updated since the last flush. */
  updated = false;
  /** Time of the flush that closed the last interval with an update (creation time before). */
  lastSeen: number;
  /** Counter: sum of value / sample rate. Gauge: last value. */
  value = 0;
  /** Timer/histogram: observations scaled by 1 / sample rate. */
  count = 0;
  /** Timer/histogram: values received, the first `n` slots used. */
  values: Float64Array;
  n = 0;
  /** Set: members of this interval (as byte-exact keys). */
  members: Set<string> | null;

  constructor(
    readonly name: string,
    readonly tags: Tags,
    readonly type: StatsdType,
    now: number,
  ) {
    this.lastSeen = now;
    this.values = type === STATSD_TIMER || type === STATSD_HISTOGRAM ? new Float64Array(16) : EMPTY_VALUES;
    this.members = type === STATSD_SET ? new Set() : null;
  }

  addValue(v: number): void {
    if (this.n === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.n++] = v;
  }
}

const EMPTY_VALUES = new Float64Array(0);

/** A series as written on the wire: name bytes, type and raw tag bytes. */
class RawKey {
  constructor(
    readonly hash: number,
    readonly type: StatsdType,
    /** Name bytes then raw tag bytes. */
    readonly bytes: DataView,
    readonly nameLength: number,
    readonly series: Series,
  ) {}
}

/**
 * Open-addressing hash table from raw keys to series, probed with the hash the parser computed
 * while scanning and confirmed by comparing bytes: no string is built for a known series.
 */
class RawKeyTable {
  private hashes: Int32Array;
  private keys: (RawKey | undefined)[];
  private mask: number;
  private size = 0;

  constructor(capacity = 1024) {
    this.hashes = new Int32Array(capacity);
    this.keys = new Array<RawKey | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
  }

  find(line: StatsdLine): Series | undefined {
    const h = line.keyHash;
    const hashes = this.hashes;
    const keys = this.keys;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === undefined) return undefined;
      if (hashes[i] === h && k.type === line.type && line.sameKey(k.bytes, k.nameLength)) return k.series;
    }
  }

  add(key: RawKey): void {
    // At most half full keeps probe sequences short.
    if ((this.size + 1) * 2 > this.keys.length) this.grow();
    this.place(key);
    this.size++;
  }

  private place(key: RawKey): void {
    const mask = this.mask;
    let i = key.hash & mask;
    while (this.keys[i] !== undefined) i = (i + 1) & mask;
    this.keys[i] = key;
    this.hashes[i] = key.hash;
  }

  private grow(): void {
    const old = this.keys;
    const capacity = old.length * 2;
    this.hashes = new Int32Array(capacity);
    this.keys = new Array<RawKey | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
    for (const k of old) if (k !== undefined) this.place(k);
  }
}

function perType<T>(make: () => T): T[] {
  const out: T[] = [];
  for (let t = 0; t < STATSD_TYPE_COUNT; t++) out.push(make());
  return out;
}

export class StatsdAggregator {
  private raw = new RawKeyTable();
  /** Per type: seriesKey(name, canonical tags) → series. */
  private canonical: Map<string, Series>[] = perType(() => new Map());
  private series: Series[] = [];
  private readonly quantiles: readonly number[];
  /** Series dropped by expiry, over the aggregator's life. */
  evicted = 0;

  constructor(
    private readonly options: AggregatorOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.quantiles = options.percentiles.map((p) => p / 100);
  }

  /** Number of series held. */
  get size(): number {
    return this.series.length;
  }

  /** Adds one parsed line. */
  add(line: StatsdLine): void {
    let s = this.raw.find(line);
    if (s === undefined) s = this.resolve(line);
    s.updated = true;
    switch (line.type) {
      case STATSD_COUNTER:
        s.value += line.sampleRate === 1 ? line.value : line.value / line.sampleRate;
        break;
      case STATSD_GAUGE:
        s.value = line.value;
        break;
      case STATSD_SET:
        (s.members as Set<string>).add(line.memberKey());
        break;
      default:
        s.addValue(line.value);
        s.count += line.sampleRate === 1 ? 1 : 1 / line.sampleRate;
    }
  }

  /** Finds or creates the series of a line whose raw key is unknown, and remembers the key. */
  private resolve(line: StatsdLine): Series {
    const type = line.type;
    const name = line.name();
    const tags = line.tags();
    const canonical = this.canonical[type] as Map<string, Series>;
    const ckey = seriesKey(name, tags);
    let s = canonical.get(ckey);
    if (s === undefined) {
      s = new Series(name, tags, type, this.now());
      canonical.set(ckey, s);
      this.series.push(s);
    }
    if (s.aliases.length < MAX_ALIASES) {
      const b = line.keyBytes();
      const bytes = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const key = new RawKey(line.keyHash, type, bytes, line.nameEnd - line.nameStart, s);
      s.aliases.push(key);
      this.raw.add(key);
    }
    return s;
  }

  /**
   * Closes the interval: returns its metrics as a fresh batch, resets interval state and drops
   * series not updated for `expiryMs`. `intervalMs` is how long the closing interval really
   * lasted (shorter than the configured one for the last flush at shutdown), so rates are true.
   */
  flush(now: number, intervalMs: number = this.options.flushIntervalMs): Batch {
    const out: Metric[] = [];
    const expiry = this.options.expiryMs;
    const interval = intervalMs;
    let expired = 0;
    for (const s of this.series) {
      if (s.updated) {
        s.updated = false;
        s.lastSeen = now;
        const help = HELP[s.type];
        switch (s.type) {
          case STATSD_COUNTER:
            out.push({
              kind: 'counter',
              name: s.name,
              tags: s.tags,
              timestamp: now,
              help,
              temporality: 'delta',
              value: s.value,
              intervalMs: interval,
            });
            s.value = 0;
            break;
          case STATSD_GAUGE:
            out.push({ kind: 'gauge', name: s.name, tags: s.tags, timestamp: now, help, value: s.value });
            break;
          case STATSD_SET: {
            const members = s.members as Set<string>;
            out.push({
              kind: 'gauge',
              name: s.name,
              tags: s.tags,
              timestamp: now,
              help,
              value: members.size,
            });
            s.members = new Set();
            break;
          }
          default:
            out.push({
              kind: 'summary',
              name: s.name,
              tags: s.tags,
              timestamp: now,
              help,
              intervalMs: interval,
              summary: summarize(s.values.subarray(0, s.n), s.count, this.quantiles),
            });
            s.n = 0;
            s.count = 0;
            // Give back the memory of a burst.
            if (s.values.length > 1024) s.values = new Float64Array(16);
        }
      } else if (expiry > 0 && now - s.lastSeen >= expiry) {
        expired++;
      } else if (s.type === STATSD_GAUGE) {
        out.push({
          kind: 'gauge',
          name: s.name,
          tags: s.tags,
          timestamp: now,
          help: HELP[1],
          value: s.value,
        });
      }
    }
    if (expired > 0) this.evict(now, expiry, expired);
    return out;
  }

  /** Rebuilds the tables without expired series (swapping beats deleting from big maps). */
  private evict(now: number, expiry: number, expired: number): void {
    const raw = new RawKeyTable();
    const canonical = perType(() => new Map<string, Series>());
    const kept: Series[] = [];
    for (const s of this.series) {
      if (now - s.lastSeen >= expiry) continue;
      kept.push(s);
      (canonical[s.type] as Map<string, Series>).set(seriesKey(s.name, s.tags), s);
      for (const a of s.aliases) raw.add(a);
    }
    this.raw = raw;
    this.canonical = canonical;
    this.series = kept;
    this.evicted += expired;
  }
}

/**
 * Timer statistics as Etsy statsd computes them: over the sorted values, population standard
 * deviation, the median as the middle value (or the mean of the two middle ones), and each
 * percentile p as the value at nearest rank round(p/100 * n) (1-based, at least 1).
 * `values` is sorted in place.
 */
export function summarize(values: Float64Array, count: number, quantiles: readonly number[]): Summary {
  const n = values.length;
  values.sort();
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    sum += v;
    sumSquares += v * v;
  }
  const mean = sum / n;
  let diffs = 0;
  for (let i = 0; i < n; i++) {
    const d = (values[i] as number) - mean;
    diffs += d * d;
  }
  const mid = Math.floor(n / 2);
  const median =
    n % 2 === 1 ? (values[mid] as number) : ((values[mid - 1] as number) + (values[mid] as number)) / 2;
  const qs: Quantile[] = [];
  for (const q of quantiles) {
    const rank = Math.round(q * n);
    qs.push({ quantile: q, value: values[rank > 0 ? rank - 1 : 0] as number });
  }
  return {
    count,
    samples: n,
    sum,
    sumSquares,
    min: values[0] as number,
    max: values[n - 1] as number,
    mean,
    median,
    stdev: Math.sqrt(diffs / n),
    quantiles: qs,
  };
}
