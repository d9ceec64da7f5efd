/**
 * bpftrace's printed histograms, read incrementally: `hist()` and `lhist()` maps as `print()`
 * (or the exit of bpftrace) writes them, in its text output (the default, `-f text`) or its
 * JSON output (`-f json`).
 *
 * Text (bpftrace src/output.cpp, TextOutput::hist_to_str and lhist_to_str): a header naming the
 * map and its key, one row per bucket from the lowest to the highest non-empty one, then a
 * blank line:
 *
 *   @usecs_by_comm[cc1]:
 *   (..., 0)               1 |@                                                   |
 *   [0]                    3 |@@@                                                 |
 *   [1]                    0 |                                                    |
 *   [2, 4)                12 |@@@@@@@@@@@@                                        |
 *   [1K, 2K)               7 |@@@@@@@                                             |
 *   [100, ...)            52 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
 *
 * Bounds are integers, multiples of 1024^n written with K, M, G, T, P or E; `[N]` is the bucket
 * of the single value N (hist's 0 and 1), `(..., N)` holds what is below the lowest bound and
 * `[N, ...)` what is at or above the highest (lhist's min and max; hist's negative values). A
 * map without any value prints its header and the blank line only.
 *
 * JSON (JsonOutput::hist_to_str): one object per line, `{"type": "hist", "data": {"@name":
 * [{"min": 2, "max": 3, "count": 1}, ...]}}`, or `{"@name": {"key": [...]}}` for a keyed map;
 * `max` is inclusive, and an open bucket lacks `min` or `max`.
 *
 * A block is handed out only once it is complete: in text, when the blank line (or the next
 * header, or any line that is not a row) ends it; in JSON, when its line ends. A block with a
 * malformed row is dropped whole and counted, never handed out in part. Other lines (bpftrace's
 * "Attaching 3 probes...", printf output, scalar maps like `@c: 10`) are skipped; lines that
 * look like a time of day (`time("%H:%M:%S\n")`) are handed out, so a source can date the blocks
 * that follow. Any bytes are accepted: nothing here throws.
 */
import { RejectionLog } from '../rejections.js';

export interface HistBucket {
  /** Inclusive lower bound; -Infinity for `(..., N)`. */
  readonly lower: number;
  /** Exclusive upper bound; +Infinity for `[N, ...)`, N + 1 for `[N]`. */
  readonly upper: number;
  readonly count: number;
}

export interface HistBlock {
  /** The map's name without `@` ('' for the anonymous map `@`). */
  readonly map: string;
  /** The key as printed between the brackets (`comm, pid` keys stay joined), or undefined. */
  readonly key: string | undefined;
  /** Ordered by bound, not overlapping; empty when the map held nothing. */
  readonly buckets: readonly HistBucket[];
}

/** A `time()` line: seconds since local midnight, and the local date when the line has one. */
export interface TimeOfDay {
  readonly seconds: number;
  readonly date?: { readonly year: number; readonly month: number; readonly day: number };
}

export type BpftraceItem =
  { readonly type: 'hist'; readonly block: HistBlock } | { readonly type: 'time'; readonly time: TimeOfDay };

export type BpftraceFormat = 'text' | 'json';

export const REJECT_REASONS = ['bad_row', 'bad_json', 'line_too_long', 'incomplete'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

const SUFFIX: Record<string, number> = {
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
  P: 1024 ** 5,
  E: 1024 ** 6,
};

const N = '(-?\\d{1,20}[KMGTPE]?)';
const COUNT_AND_BAR = '\\s+(\\d{1,20})\\s*(?:\\|[@ ]*\\|)?\\s*$';
const ROW_SINGLE = new RegExp(`^\\[${N}\\]${COUNT_AND_BAR}`);
const ROW_RANGE = new RegExp(`^\\[${N}, ${N}\\)${COUNT_AND_BAR}`);
const ROW_ABOVE = new RegExp(`^\\[${N}, \\.\\.\\.\\)${COUNT_AND_BAR}`);
const ROW_BELOW = new RegExp(`^\\(\\.\\.\\., ${N}\\)${COUNT_AND_BAR}`);
// Map names are identifiers, possibly empty (`@ = hist(x)` prints `@:`). The key runs to the
// last `]` before the colon: a comm may hold brackets.
const HEADER = /^@([A-Za-z_][A-Za-z0-9_]*)?(?:\[(.*)\])?:$/;
const TIME = /^(?:(\d{4})-(\d{2})-(\d{2})[ T])?(\d{2}):(\d{2}):(\d{2})$/;

/** `1K` → 1024; `-3M` → -3145728. */
export function parseBound(text: string): number {
  const last = text.charCodeAt(text.length - 1);
  if (last >= 0x30 && last <= 0x39) return Number(text);
  return Number(text.slice(0, -1)) * (SUFFIX[text[text.length - 1] as string] as number);
}

/** One text row, or undefined when the line is not a well-formed row. */
export function parseRow(line: string): HistBucket | undefined {
  let m = ROW_RANGE.exec(line);
  if (m !== null) return bucket(parseBound(m[1] as string), parseBound(m[2] as string), m[3] as string);
  m = ROW_SINGLE.exec(line);
  if (m !== null) {
    const v = parseBound(m[1] as string);
    return bucket(v, v + 1, m[2] as string);
  }
  m = ROW_ABOVE.exec(line);
  if (m !== null) return bucket(parseBound(m[1] as string), Infinity, m[2] as string);
  m = ROW_BELOW.exec(line);
  if (m !== null) return bucket(-Infinity, parseBound(m[1] as string), m[2] as string);
  return undefined;
}

function bucket(lower: number, upper: number, count: string): HistBucket | undefined {
  return lower < upper ? { lower, upper, count: Number(count) } : undefined;
}

function parseTime(line: string): TimeOfDay | undefined {
  const m = TIME.exec(line);
  if (m === null) return undefined;
  const h = Number(m[4]);
  const min = Number(m[5]);
  const s = Number(m[6]);
  if (h > 23 || min > 59 || s > 60) return undefined;
  const seconds = h * 3600 + min * 60 + s;
  if (m[1] === undefined) return { seconds };
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1 || day > 31) return undefined;
  return { seconds, date: { year: Number(m[1]), month, day } };
}

/** Whether the buckets are ordered and do not overlap, as bpftrace prints them. */
function ordered(buckets: readonly HistBucket[]): boolean {
  for (let i = 1; i < buckets.length; i++) {
    if ((buckets[i] as HistBucket).lower < (buckets[i - 1] as HistBucket).upper) return false;
  }
  return true;
}

interface OpenBlock {
  map: string;
  key: string | undefined;
  buckets: HistBucket[];
  /** A malformed row was seen: the block is dropped when it ends. */
  bad: boolean;
}

export interface HistParserOptions {
  readonly format?: BpftraceFormat;
  /** Longest line kept; a longer one is dropped and counted (JSON lines of big keyed maps are long). */
  readonly maxLineBytes?: number;
}

/**
 * Turns a byte stream (file appends, a pipe's chunks) into complete blocks. Lines split across
 * chunks are joined; a block split across chunks is handed out by the chunk that completes it.
 */
export class HistParser {
  readonly format: BpftraceFormat;
  readonly maxLineBytes: number;
  readonly rejections = new RejectionLog<RejectReason>(REJECT_REASONS);
  /** Lines that are neither part of a block nor a time (probe messages, printf output, scalars). */
  ignored = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Inside a line already counted as too long: drop bytes up to its end. */
  private discarding = false;
  private open: OpenBlock | undefined;
  private out: BpftraceItem[] = [];

  constructor(options: HistParserOptions = {}) {
    this.format = options.format ?? 'text';
    this.maxLineBytes = options.maxLineBytes ?? (this.format === 'json' ? 16 * 1024 * 1024 : 64 * 1024);
  }

  /** Feeds bytes; returns the blocks and times they complete, in order. */
  push(chunk: Buffer): BpftraceItem[] {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      if (this.discarding) {
        this.discarding = false;
      } else if (this.pendingBytes + nl - start > this.maxLineBytes) {
        this.tooLong(chunk, start, nl);
      } else if (this.pendingBytes > 0) {
        this.pending.push(chunk.subarray(start, nl));
        const line = Buffer.concat(this.pending);
        this.pending = [];
        this.pendingBytes = 0;
        this.line(line, 0, line.length);
      } else {
        this.line(chunk, start, nl);
      }
      start = nl + 1;
    }
    if (start < chunk.length && !this.discarding) {
      if (this.pendingBytes + chunk.length - start > this.maxLineBytes) {
        this.tooLong(chunk, start, chunk.length);
        this.discarding = true;
      } else {
        // Copied: the caller may reuse its read buffer.
        this.pending.push(Buffer.from(chunk.subarray(start)));
        this.pendingBytes += chunk.length - start;
      }
    }
    return this.take();
  }

  /**
   * The stream ended (the process exited, the file was replaced): a last line without its
   * newline is read, and a text block still open is dropped and counted as incomplete, since
   * bpftrace ends every block with a blank line.
   */
  end(): BpftraceItem[] {
    if (this.pendingBytes > 0) {
      const line = Buffer.concat(this.pending);
      this.pending = [];
      this.pendingBytes = 0;
      this.line(line, 0, line.length);
    }
    this.discarding = false;
    if (this.open !== undefined) {
      this.rejections.record('incomplete', Buffer.from(`@${this.open.map}`), 0, this.open.map.length + 1);
      this.open = undefined;
    }
    return this.take();
  }

  /** Whether a block has begun and not ended: a reader that stops now would cut it. */
  get inBlock(): boolean {
    return this.open !== undefined;
  }

  private take(): BpftraceItem[] {
    if (this.out.length === 0) return [];
    const items = this.out;
    this.out = [];
    return items;
  }

  private tooLong(buf: Buffer, start: number, end: number): void {
    const head = this.pending.length > 0 ? Buffer.concat(this.pending) : buf.subarray(start, end);
    this.rejections.record('line_too_long', head, 0, Math.min(head.length, 256));
    this.pending = [];
    this.pendingBytes = 0;
    // A block cannot survive losing a line.
    if (this.open !== undefined) this.open.bad = true;
  }

  private line(buf: Buffer, start: number, end: number): void {
    // A log truncated under a writer that does not append (bpftrace -o, then logrotate's
    // copytruncate) grows back with a hole of NULs before the next write.
    while (start < end && buf[start] === 0) start++;
    let stop = end;
    while (stop > start && (buf[stop - 1] === 0x20 || buf[stop - 1] === 0x0d || buf[stop - 1] === 0x09))
      stop--;
    if (this.format === 'json') this.jsonLine(buf, start, stop);
    else this.textLine(buf, start, stop);
  }

  private textLine(buf: Buffer, start: number, end: number): void {
    if (start === end) {
      this.close();
      return;
    }
    const line = buf.toString('utf8', start, end);
    const first = line.charCodeAt(0);
    if (first === 0x5b /* [ */ || first === 0x28 /* ( */) {
      const open = this.open;
      if (open === undefined) {
        // A row without its header: reading began inside a block.
        this.ignored++;
        return;
      }
      if (open.bad) return;
      const row = parseRow(line);
      if (
        row === undefined ||
        (open.buckets.length > 0 && row.lower < (open.buckets.at(-1) as HistBucket).upper)
      ) {
        open.bad = true;
        this.rejections.record('bad_row', buf, start, end);
        return;
      }
      open.buckets.push(row);
      return;
    }
    this.close();
    if (first === 0x40 /* @ */) {
      const m = HEADER.exec(line);
      if (m !== null) {
        this.open = { map: m[1] ?? '', key: m[2], buckets: [], bad: false };
        return;
      }
    } else {
      const time = parseTime(line);
      if (time !== undefined) {
        this.out.push({ type: 'time', time });
        return;
      }
    }
    this.ignored++;
  }

  private close(): void {
    const open = this.open;
    if (open === undefined) return;
    this.open = undefined;
    if (!open.bad)
      this.out.push({ type: 'hist', block: { map: open.map, key: open.key, buckets: open.buckets } });
  }

  private jsonLine(buf: Buffer, start: number, end: number): void {
    if (start === end) return;
    let doc: unknown;
    try {
      doc = JSON.parse(buf.toString('utf8', start, end));
    } catch {
      this.rejections.record('bad_json', buf, start, end);
      return;
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      this.rejections.record('bad_json', buf, start, end);
      return;
    }
    const { type, data } = doc as { type?: unknown; data?: unknown };
    if (type === 'time' && typeof data === 'string') {
      const time = parseTime(data.trim());
      if (time !== undefined) this.out.push({ type: 'time', time });
      else this.ignored++;
      return;
    }
    if (type !== 'hist') {
      this.ignored++;
      return;
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      this.rejections.record('bad_json', buf, start, end);
      return;
    }
    // Every block of the line is checked before any is handed out: a line is one print().
    const blocks: HistBlock[] = [];
    for (const [name, value] of Object.entries(data as Record<string, unknown>)) {
      const map = name.startsWith('@') ? name.slice(1) : name;
      if (Array.isArray(value)) {
        const buckets = jsonBuckets(value);
        if (buckets === undefined) return this.rejections.record('bad_json', buf, start, end);
        blocks.push({ map, key: undefined, buckets });
      } else if (value !== null && typeof value === 'object') {
        for (const [key, rows] of Object.entries(value as Record<string, unknown>)) {
          const buckets = Array.isArray(rows) ? jsonBuckets(rows) : undefined;
          if (buckets === undefined) return this.rejections.record('bad_json', buf, start, end);
          blocks.push({ map, key, buckets });
        }
      } else {
        return this.rejections.record('bad_json', buf, start, end);
      }
    }
    for (const block of blocks) this.out.push({ type: 'hist', block });
  }
}

function isInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** `[{"min": 2, "max": 3, "count": 1}, ...]`, or undefined when malformed. */
function jsonBuckets(rows: readonly unknown[]): HistBucket[] | undefined {
  const out: HistBucket[] = [];
  for (const row of rows) {
    if (row === null || typeof row !== 'object') return undefined;
    const { min, max, count } = row as { min?: unknown; max?: unknown; count?: unknown };
    if (!isInteger(count) || count < 0) return undefined;
    if (min !== undefined && !isInteger(min)) return undefined;
    if (max !== undefined && !isInteger(max)) return undefined;
    const lower = min ?? -Infinity;
    const upper = max === undefined ? Infinity : max + 1;
    if (!(lower < upper) || (min === undefined && max === undefined)) return undefined;
    out.push({ lower, upper, count });
  }
  return ordered(out) ? out : undefined;
}
