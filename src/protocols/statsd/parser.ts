/**
 * StatsD datagram parser (the DogStatsD tagged dialect, core subset):
 *
 *   <name>:<value>|<type>[|@<sample rate>][|#<tag>,<tag>...]   with <tag> = k:v | k=v | k
 *
 * See https://docs.datadoghq.com/developers/dogstatsd/datagram_shell/ and Etsy's
 * docs/metric_types.md. Built for the ingest hot path: no regex, no split; it scans the Buffer
 * (a word at a time where it can), keeps offsets instead of strings, hashes the series' raw
 * bytes as it goes, and hands every valid line to a sink through one reusable `StatsdLine`, so
 * a line costs no allocation unless the consumer asks for a string. Decoding (UTF-8 names,
 * tags) happens on demand, which lets the aggregator skip it for series it already knows.
 *
 * Room for the full protocol: fields after the type are read in any order and unknown ones
 * (`|T<ts>`, `|c:<container>`, ...) are skipped; events and service checks are recognised and
 * rejected as unsupported rather than mistaken for metrics. Nothing in here throws on input.
 */
import { makeTags, NO_TAGS, type Tag, type Tags } from '../../core/tags.js';

export const STATSD_COUNTER = 0;
export const STATSD_GAUGE = 1;
export const STATSD_TIMER = 2;
export const STATSD_HISTOGRAM = 3;
export const STATSD_SET = 4;
export type StatsdType = 0 | 1 | 2 | 3 | 4;

/** The wire spelling of each type, indexed by `StatsdType`. */
export const STATSD_TYPE_CODES = ['c', 'g', 'ms', 'h', 's'] as const;
export type StatsdTypeCode = (typeof STATSD_TYPE_CODES)[number];
/** Number of types, for tables indexed by `StatsdType`. */
export const STATSD_TYPE_COUNT = STATSD_TYPE_CODES.length;

/** Why a line was dropped. A closed set: each one is a self-metric label and documented. */
export const REJECT_REASONS = [
  'empty_name',
  'missing_value',
  'bad_value',
  'missing_type',
  'unknown_type',
  'bad_sample_rate',
  'bad_tags',
  'unsupported_event',
  'unsupported_service_check',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** Receives the outcome of every non-empty line of a datagram, in order. */
export interface StatsdSink {
  /** A valid line. `line` is reused for the next one: read it now, keep nothing but copies. */
  point(line: StatsdLine): void;
  /** An invalid line, as the byte range [start, end) of `buf`. */
  reject(reason: RejectReason, buf: Buffer, start: number, end: number): void;
}

const COLON = 0x3a;
const PIPE = 0x7c;
const COMMA = 0x2c;
const EQUALS = 0x3d;
const NEWLINE = 0x0a;
const CR = 0x0d;
const HASH = 0x23;
const AT = 0x40;
const UNDERSCORE = 0x5f;
const DOT = 0x2e;
const MINUS = 0x2d;
const PLUS = 0x2b;
const ZERO = 0x30;
const NINE = 0x39;

const EMPTY = Buffer.alloc(0);

// FNV-1a, fused into the byte scans; finished with murmur3's fmix32 so the low bits, which pick
// a slot in a power-of-two table, depend on every byte.
const FNV_PRIME = 0x01000193;
const FNV_OFFSET = 0x811c9dc5 | 0;
// Random per process, so colliding names are harder to precompute (a collision costs probes,
// never correctness: matches are confirmed byte by byte); shared by every parser, so several
// listeners can feed one aggregator.
const SEED = (Math.random() * 0x100000000) | 0;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

const EMPTY_VIEW = new DataView(new ArrayBuffer(0));

/** Compares byte ranges four bytes at a time (about four times faster than byte by byte). */
function rangeEquals(a: DataView, ai: number, b: DataView, bi: number, length: number): boolean {
  let k = 0;
  for (; k + 4 <= length; k += 4) if (a.getInt32(ai + k) !== b.getInt32(bi + k)) return false;
  for (; k < length; k++) if (a.getUint8(ai + k) !== b.getUint8(bi + k)) return false;
  return true;
}

// SWAR ("SIMD within a register") byte search: a 32-bit word has a byte equal to b when
// x = word ^ (b * ONES) has a zero byte, i.e. when (x - ONES) & ~x & HIGHS is not 0.
const ONES = 0x01010101;
const HIGHS = 0x80808080 | 0;
const COLONS = 0x3a3a3a3a;
const PIPES = 0x7c7c7c7c;
const COMMAS = 0x2c2c2c2c;

/** Buffer's direct decoders skip `toString`'s argument checks and encoding lookup. */
interface FastBuffer extends Buffer {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

/**
 * One parsed line, as offsets into the datagram. Valid only during `StatsdSink.point`; the
 * accessors decode on demand.
 */
export class StatsdLine {
  buf: FastBuffer = EMPTY as FastBuffer;
  /** The same bytes, for word-at-a-time reads. */
  view: DataView = EMPTY_VIEW;
  /** The whole line (without its line break). */
  start = 0;
  end = 0;
  nameStart = 0;
  nameEnd = 0;
  valueStart = 0;
  valueEnd = 0;
  type: StatsdType = STATSD_COUNTER;
  /** The numeric value; NaN for sets, whose member is `member()`. */
  value = 0;
  /** In (0, 1]; 1 when absent. */
  sampleRate = 1;
  /** The raw text after `|#`; an empty range when the line has no tags. */
  tagsStart = 0;
  tagsEnd = 0;
  /**
   * A 32-bit hash of the series as written: name bytes, type and raw tag bytes. Equal raw keys
   * have equal hashes; tables confirm a match with `sameKey`.
   */
  keyHash = 0;

  /** Metric name, decoded as UTF-8 (invalid bytes become U+FFFD). */
  name(): string {
    return this.buf.utf8Slice(this.nameStart, this.nameEnd);
  }

  hasTags(): boolean {
    return this.tagsEnd > this.tagsStart;
  }

  /** Set member (sets only), decoded as UTF-8. */
  member(): string {
    return this.buf.utf8Slice(this.valueStart, this.valueEnd);
  }

  /** The member's bytes as a one-byte string: distinct byte sequences give distinct keys. */
  memberKey(): string {
    return this.buf.latin1Slice(this.valueStart, this.valueEnd);
  }

  /** A copy of the line's identity as written: its name bytes followed by its raw tag bytes. */
  keyBytes(): Buffer {
    const n = this.nameEnd - this.nameStart;
    const out = Buffer.allocUnsafeSlow(n + this.tagsEnd - this.tagsStart);
    this.buf.copy(out, 0, this.nameStart, this.nameEnd);
    this.buf.copy(out, n, this.tagsStart, this.tagsEnd);
    return out;
  }

  /**
   * Whether this line's name and raw tag bytes are exactly those of `key` (made by `keyBytes`,
   * its first `nameLength` bytes the name).
   */
  sameKey(key: DataView, nameLength: number): boolean {
    const n = this.nameEnd - this.nameStart;
    const t = this.tagsEnd - this.tagsStart;
    if (n !== nameLength || n + t !== key.byteLength) return false;
    return (
      rangeEquals(this.view, this.nameStart, key, 0, n) && rangeEquals(this.view, this.tagsStart, key, n, t)
    );
  }

  /** The tags in line order, decoded: `k:v` and `k=v` split at the first separator, `k` alone has value "". */
  tagList(): Tag[] {
    const buf = this.buf;
    const end = this.tagsEnd;
    const out: Tag[] = [];
    let i = this.tagsStart;
    while (i < end) {
      const itemStart = i;
      let sep = -1;
      for (; i < end; i++) {
        const c = buf[i];
        if (c === COMMA) break;
        if (sep < 0 && (c === COLON || c === EQUALS)) sep = i;
      }
      if (i > itemStart) {
        out.push(
          sep < 0
            ? [buf.utf8Slice(itemStart, i), '']
            : [buf.utf8Slice(itemStart, sep), buf.utf8Slice(sep + 1, i)],
        );
      }
      i++;
    }
    return out;
  }

  /** The tags, sorted and deduplicated (the last value of a repeated key wins). */
  tags(): Tags {
    return this.hasTags() ? makeTags(this.tagList()) : NO_TAGS;
  }

  /** The whole line, decoded (for messages). */
  text(): string {
    return this.buf.utf8Slice(this.start, this.end);
  }
}

// Powers of ten that are exact doubles: dividing an exact mantissa by one of them is a single
// correctly rounded operation, so the fast path gives the same double as Number() (Clinger).
const POW10: number[] = [];
for (let i = 0, p = 1; i <= 22; i++, p *= 10) POW10.push(p);

/** Parses a decimal number from bytes; NaN when it is not one or is not finite. */
export function parseNumber(buf: Buffer, start: number, end: number): number {
  let i = start;
  let negative = false;
  const first = buf[i];
  if (first === MINUS) {
    negative = true;
    i++;
  } else if (first === PLUS) {
    i++;
  }
  let mantissa = 0;
  let digits = 0;
  let fraction = -1;
  for (; i < end; i++) {
    const c = buf[i] as number;
    if (c >= ZERO && c <= NINE) {
      mantissa = mantissa * 10 + (c - ZERO);
      digits++;
    } else if (c === DOT && fraction < 0) {
      fraction = digits;
    } else {
      return parseNumberSlow(buf, start, end);
    }
  }
  if (digits === 0) return NaN;
  const decimals = fraction < 0 ? 0 : digits - fraction;
  // 15 digits stay below 2^53, so the mantissa is exact.
  if (digits > 15 || decimals > 22) return parseNumberSlow(buf, start, end);
  const v = decimals === 0 ? mantissa : mantissa / (POW10[decimals] as number);
  return negative ? -v : v;
}

/** Exponents and long mantissas. Only decimal syntax reaches Number(): no hex, no spaces. */
function parseNumberSlow(buf: Buffer, start: number, end: number): number {
  if (end <= start) return NaN;
  for (let i = start; i < end; i++) {
    const c = buf[i] as number;
    if (!((c >= ZERO && c <= NINE) || c === DOT || c === MINUS || c === PLUS || c === 0x65 || c === 0x45))
      return NaN;
  }
  const v = Number((buf as FastBuffer).latin1Slice(start, end));
  return Number.isFinite(v) ? v : NaN;
}

/**
 * Splits datagrams into lines and parses them. Holds only its scratch line, so it is cheap to
 * have one per socket; `parse` is synchronous and not re-entrant.
 */
export class StatsdParser {
  private readonly line = new StatsdLine();

  /**
   * Parses every line of `buf` (separated by `\n`, a trailing `\r` tolerated, empty lines
   * skipped) into `sink`. Returns the number of non-empty lines.
   */
  parse(buf: Buffer, sink: StatsdSink): number {
    const end = buf.length;
    const line = this.line;
    line.buf = buf as FastBuffer;
    line.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let lines = 0;
    let pos = 0;
    while (pos < end) {
      let eol = buf.indexOf(NEWLINE, pos);
      if (eol < 0) eol = end;
      let stop = eol;
      if (stop > pos && buf[stop - 1] === CR) stop--;
      if (stop > pos) {
        lines++;
        const reason = this.parseLine(buf, pos, stop);
        if (reason === undefined) sink.point(line);
        else sink.reject(reason, buf, pos, stop);
      }
      pos = eol + 1;
    }
    // Do not pin the datagram.
    line.buf = EMPTY as FastBuffer;
    line.view = EMPTY_VIEW;
    return lines;
  }

  /** Fills the scratch line from [start, end); returns why the line is invalid, if it is. */
  private parseLine(buf: Buffer, start: number, end: number): RejectReason | undefined {
    const line = this.line;
    if (buf[start] === UNDERSCORE) {
      // DogStatsD events `_e{title_len,text_len}:...` and service checks `_sc|name|status|...`.
      if (buf[start + 1] === 0x65 && buf[start + 2] === 0x7b) return 'unsupported_event';
      if (buf[start + 1] === 0x73 && buf[start + 2] === 0x63 && buf[start + 3] === PIPE)
        return 'unsupported_service_check';
    }
    line.start = start;
    line.end = end;

    // The name is hashed a word at a time up to the word holding the ':', then byte by byte.
    // The split depends only on the name's length (a valid line has 4 bytes after the name),
    // so equal names hash alike wherever they sit in the datagram.
    const view = line.view;
    let i = start;
    let nameHash = FNV_OFFSET ^ SEED;
    while (i + 4 <= end) {
      const w = view.getInt32(i, true);
      const x = w ^ COLONS;
      if (((x - ONES) & ~x & HIGHS) !== 0) break;
      nameHash = Math.imul(nameHash ^ w, FNV_PRIME);
      i += 4;
    }
    for (; i < end; i++) {
      const c = buf[i] as number;
      if (c === COLON) break;
      nameHash = Math.imul(nameHash ^ c, FNV_PRIME);
    }
    if (i === start) return 'empty_name';
    if (i === end) return 'missing_value';
    line.nameStart = start;
    line.nameEnd = i;

    const valueStart = ++i;
    while (i < end && buf[i] !== PIPE) i++;
    if (i === valueStart) return 'missing_value';
    line.valueStart = valueStart;
    line.valueEnd = i;
    if (i === end) return 'missing_type';

    const typeStart = ++i;
    while (i < end && buf[i] !== PIPE) i++;
    const typeLength = i - typeStart;
    let type: StatsdType;
    if (typeLength === 1) {
      const c = buf[typeStart];
      if (c === 0x63) type = STATSD_COUNTER;
      else if (c === 0x67) type = STATSD_GAUGE;
      else if (c === 0x68) type = STATSD_HISTOGRAM;
      else if (c === 0x73) type = STATSD_SET;
      else return 'unknown_type';
    } else if (typeLength === 2 && buf[typeStart] === 0x6d && buf[typeStart + 1] === 0x73) {
      type = STATSD_TIMER;
    } else {
      return typeLength === 0 ? 'missing_type' : 'unknown_type';
    }
    line.type = type;

    if (type === STATSD_SET) {
      line.value = NaN;
    } else {
      const v = parseNumber(buf, valueStart, line.valueEnd);
      if (v !== v) return 'bad_value';
      line.value = v;
    }

    line.sampleRate = 1;
    line.tagsStart = 0;
    line.tagsEnd = 0;
    let tagsHash = FNV_OFFSET;
    // Optional fields, in any order; unknown ones are skipped so later dialects slot in.
    while (i < end) {
      const kind = ++i < end ? buf[i] : -1;
      if (kind === HASH) {
        // Tags are hashed and checked for empty keys here, in one pass, and split only when a
        // consumer asks (`tagList`): a known series never needs them split. A repeated `|#`
        // field replaces the earlier one.
        // Words without ',' or '|' are hashed whole, the others byte by byte: a choice made
        // by the tag bytes alone, so equal tag text hashes alike.
        const tagsStart = ++i;
        let h = FNV_OFFSET;
        let itemStart = true;
        while (i < end) {
          if (i + 4 <= end) {
            const w = view.getInt32(i, true);
            const p = w ^ PIPES;
            const c = w ^ COMMAS;
            if (((((p - ONES) & ~p) | ((c - ONES) & ~c)) & HIGHS) === 0) {
              if (itemStart) {
                const first = w & 0xff;
                if (first === COLON || first === EQUALS) return 'bad_tags';
                itemStart = false;
              }
              h = Math.imul(h ^ w, FNV_PRIME);
              i += 4;
              continue;
            }
          }
          const c = buf[i] as number;
          if (c === PIPE) break;
          if (itemStart && (c === COLON || c === EQUALS)) return 'bad_tags';
          itemStart = c === COMMA;
          h = Math.imul(h ^ c, FNV_PRIME);
          i++;
        }
        line.tagsStart = tagsStart;
        line.tagsEnd = i;
        tagsHash = h;
      } else {
        const fieldStart = i;
        while (i < end && buf[i] !== PIPE) i++;
        if (kind === AT) {
          const rate = parseNumber(buf, fieldStart + 1, i);
          if (!(rate > 0 && rate <= 1)) return 'bad_sample_rate';
          line.sampleRate = rate;
        }
      }
    }
    line.keyHash = fmix32(Math.imul(Math.imul(nameHash ^ (type + 1), FNV_PRIME) ^ tagsHash, FNV_PRIME));
    return undefined;
  }
}

/** A rejected line kept for inspection. */
export interface RejectedLine {
  readonly reason: RejectReason;
  /** The line, decoded and cut to the log's byte limit (a cut is marked with `…`). */
  readonly line: string;
}

/**
 * Counts rejections by reason and keeps the most recent few lines in a ring, so an operator
 * can see what a misbehaving client sends without logging every line.
 */
export class RejectionLog {
  readonly counts: Record<RejectReason, number>;
  total = 0;
  private readonly ring: (RejectedLine | undefined)[];
  private next = 0;

  constructor(
    readonly capacity = 16,
    readonly maxLineBytes = 256,
  ) {
    this.counts = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
    this.ring = new Array<RejectedLine | undefined>(capacity).fill(undefined);
  }

  record(reason: RejectReason, buf: Buffer, start: number, end: number): void {
    this.counts[reason]++;
    this.total++;
    if (this.capacity === 0) return;
    const cut = end - start > this.maxLineBytes;
    const text = buf.toString('utf8', start, cut ? start + this.maxLineBytes : end);
    this.ring[this.next] = { reason, line: cut ? text + '…' : text };
    this.next = (this.next + 1) % this.capacity;
  }

  /** The kept lines, oldest first. */
  recent(): RejectedLine[] {
    const out: RejectedLine[] = [];
    for (let k = 0; k < this.capacity; k++) {
      const entry = this.ring[(this.next + k) % this.capacity];
      if (entry !== undefined) out.push(entry);
    }
    return out;
  }
}
