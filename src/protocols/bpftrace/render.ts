/**
 * Writes blocks the way bpftrace 0.17 prints them (src/output.cpp: TextOutput::hist_to_str,
 * hist_index_label, lhist_index_label; JsonOutput::hist_to_str), so tests and docs can produce
 * output that the parser must read back, without a kernel at hand.
 */
import type { HistBlock, HistBucket } from './hist.js';

const SUFFIXES = ['', 'K', 'M', 'G', 'T', 'P', 'E'];
const BAR_WIDTH = 52;

/** 1024 → `1K`, 3145728 → `3M`, 1000 → `1000`: the largest power of 1024 that divides it. */
export function boundLabel(n: number): string {
  if (n === 0) return '0';
  let k = 0;
  let v = n;
  while (k < SUFFIXES.length - 1 && v % 1024 === 0) {
    v /= 1024;
    k++;
  }
  return String(v) + (SUFFIXES[k] as string);
}

/** `[2, 4)`, `[0]`, `(..., 0)`, `[100, ...)`. */
export function rowLabel(b: HistBucket): string {
  if (b.lower === -Infinity) return `(..., ${boundLabel(b.upper)})`;
  if (b.upper === Infinity) return `[${boundLabel(b.lower)}, ...)`;
  // hist() prints its buckets of 0 and 1 as single values; a step-1 lhist() prints `[0, 1)`,
  // which reads back the same.
  if (b.upper === b.lower + 1 && (b.lower === 0 || b.lower === 1)) return `[${b.lower}]`;
  return `[${boundLabel(b.lower)}, ${boundLabel(b.upper)})`;
}

export function header(block: Pick<HistBlock, 'map' | 'key'>): string {
  return `@${block.map}${block.key === undefined ? '' : `[${block.key}]`}: `;
}

/** The block as `print(@map)` writes it, blank line included. */
export function renderText(block: HistBlock): string {
  let max = 0;
  for (const b of block.buckets) if (b.count > max) max = b.count;
  let out = header(block) + '\n';
  for (const b of block.buckets) {
    const width = max === 0 ? 0 : Math.floor((b.count / max) * BAR_WIDTH);
    out +=
      rowLabel(b).padEnd(16) +
      String(b.count).padStart(8) +
      ' |' +
      '@'.repeat(width).padEnd(BAR_WIDTH) +
      '|\n';
  }
  return out + '\n';
}

/** One `-f json` line for a map: its blocks must share `map` and be all keyed or all not. */
export function renderJson(blocks: readonly HistBlock[]): string {
  const rows = (buckets: readonly HistBucket[]): unknown[] =>
    buckets.map((b) => {
      const row: Record<string, number> = {};
      if (b.lower !== -Infinity) row.min = b.lower;
      if (b.upper !== Infinity) row.max = b.upper - 1;
      row.count = b.count;
      return row;
    });
  const first = blocks[0];
  if (first === undefined) throw new Error('renderJson needs at least one block');
  const name = `@${first.map}`;
  let data: unknown;
  if (first.key === undefined) data = { [name]: rows(first.buckets) };
  else data = { [name]: Object.fromEntries(blocks.map((b) => [b.key, rows(b.buckets)])) };
  return JSON.stringify({ type: 'hist', data }) + '\n';
}
