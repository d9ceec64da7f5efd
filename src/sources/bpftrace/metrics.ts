/**
 * From printed histogram blocks to metrics: one gauge per bucket, valued with the bucket's count
 * as printed, tagged `bucket` with the bucket's lower bound and `key` with the map key.
 *
 * Gauges rather than a `histogram` metric, because what bpftrace prints is exactly a set of
 * counts per lower bound: the Graphite layout the bpftrace client used
 * (`<hostname>.cpu-lat.<bucket>`) is the template `{host}.cpu-lat.{bucket}` over them, and a
 * gauge is one path with no field node. They are gauges and not delta counters because the
 * script decides what a count covers: since the last `clear()`, or since it started.
 */
import type { HistBlock } from '../../protocols/bpftrace/hist.js';
import type { GaugeMetric } from '../../core/metric.js';
import { makeTags, type Tag } from '../../core/tags.js';

/** The `bucket` tag: the lower bound in decimal (1K → 1024); `-inf` for `(..., N)`. */
export function bucketTag(lower: number): string {
  if (lower === -Infinity) return '-inf';
  // Bounds above 2^53 are powers of two (hist), which doubles hold exactly; BigInt prints them
  // in full where String() would switch to exponent notation past 1e21.
  return Number.isSafeInteger(lower) ? String(lower) : BigInt(lower).toString();
}

function stripAt(name: string): string {
  return name.startsWith('@') ? name.slice(1) : name;
}

export interface ConverterOptions {
  readonly maps: readonly string[];
  readonly names: Readonly<Record<string, string>>;
  readonly fillZeros: boolean;
  /** Map-and-key series whose buckets are remembered for fill_zeros; the least recent go first. */
  readonly maxSeries?: number;
}

export const DEFAULT_MAX_SERIES = 10_000;

export class BlockConverter {
  private readonly maps: ReadonlySet<string> | undefined;
  private readonly names = new Map<string, string>();
  private readonly fillZeros: boolean;
  private readonly maxSeries: number;
  /** Per map and key, the lower bounds printed so far (fill_zeros). Insertion order = recency. */
  private readonly seen = new Map<string, Set<number>>();

  constructor(options: ConverterOptions) {
    this.maps = options.maps.length === 0 ? undefined : new Set(options.maps.map(stripAt));
    for (const [map, name] of Object.entries(options.names)) this.names.set(stripAt(map), name);
    this.fillZeros = options.fillZeros;
    this.maxSeries = options.maxSeries ?? DEFAULT_MAX_SERIES;
  }

  /** Whether blocks of this map are wanted. */
  selects(map: string): boolean {
    return this.maps === undefined || this.maps.has(map);
  }

  /** Appends the block's points to `out`; returns how many (0 for a map not selected). */
  convert(block: HistBlock, timestamp: number, out: GaugeMetric[]): number {
    if (!this.selects(block.map)) return 0;
    const name = this.names.get(block.map) ?? (block.map === '' ? 'bpftrace' : block.map);
    const help = `Events in the bucket of bpftrace map @${block.map} whose lower bound is the bucket tag, as printed.`;
    const keyTag: Tag[] = block.key === undefined ? [] : [['key', block.key]];
    const counts = new Map<number, number>();
    for (const b of block.buckets) counts.set(b.lower, b.count);
    let lowers: Iterable<number> = counts.keys();
    if (this.fillZeros) {
      const id = `${block.map}\0${block.key ?? ''}`;
      let seen = this.seen.get(id);
      if (seen === undefined) {
        seen = new Set();
        if (this.seen.size >= this.maxSeries) {
          const oldest = this.seen.keys().next().value;
          if (oldest !== undefined) this.seen.delete(oldest);
        }
      } else {
        this.seen.delete(id);
      }
      this.seen.set(id, seen);
      for (const lower of counts.keys()) seen.add(lower);
      lowers = [...seen].sort((a, b) => a - b);
    }
    let n = 0;
    for (const lower of lowers) {
      out.push({
        kind: 'gauge',
        name,
        tags: makeTags([['bucket', bucketTag(lower)], ...keyTag]),
        value: counts.get(lower) ?? 0,
        timestamp,
        help,
      });
      n++;
    }
    return n;
  }
}
