/**
 * StatsD datagram parser: the DogStatsD-extended grammar, in three dialects.
 *
 *   <name>:<value>[:<value>...]|<type>[|@<rate>][|#<tags>][|T<unix seconds>][|c:<container id>]
 *   _e{<title bytes>,<text bytes>}:<title>|<text>[|d:<ts>][|h:<host>][|k:<key>][|p:<priority>][|s:<source>][|t:<alert type>][|#<tags>]
 *   _sc|<name>|<status>[|d:<ts>][|h:<host>][|#<tags>][|m:<message>]
 *
 * Servers disagree on the edges of this grammar (gauge `+5`, `@0`, packed values, unknown
 * fields...), so the parser takes a `dialect` that reproduces one server: `dogstatsd`
 * (DataDog/datadog-agent comp/dogstatsd/server/parse.go), `etsy` (statsd/statsd stats.js and
 * lib/helpers.js) or `bucky` (jsiembida/bucky3 bucky3/statsd.py). In `lenient` mode a line the
 * server would accept after a repair (a clamped rate, an ignored field) is accepted with the
 * same repair, flagged in `StatsdLine.repairs` so it is counted; `strict` mode rejects it.
 * docs/protocol.md has the table of every disputed case, which a test runs row by row.
 *
 * Built for the ingest hot path: no regex, no split; it scans the Buffer (a word at a time where
 * it can), keeps offsets instead of strings, hashes the series' raw bytes as it goes, and hands
 * every value to a sink through one reusable `StatsdLine`, so a line costs no allocation unless
 * the consumer asks for a string. Decoding (UTF-8 names, tags) happens on demand, which lets the
 * aggregator skip it for series it already knows. Events and service checks are rare and take a
 * plain slow path that builds objects. Nothing in here throws on input.
 */
import {
  RejectionLog as GenericRejectionLog,
  type RejectedLine as GenericRejectedLine,
} from '../rejections.js';
import { isUtf8 } from 'node:buffer';
import type { AlertEvent, Event, ServiceCheck } from '../../core/event.js';
import { makeTags, NO_TAGS, sortTags, type Tag, type Tags } from '../../core/tags.js';

export const STATSD_COUNTER = 0;
export const STATSD_GAUGE = 1;
export const STATSD_TIMER = 2;
export const STATSD_HISTOGRAM = 3;
export const STATSD_SET = 4;
export const STATSD_DISTRIBUTION = 5;
export type StatsdType = 0 | 1 | 2 | 3 | 4 | 5;

/** The wire spelling of each type, indexed by `StatsdType`. */
export const STATSD_TYPE_CODES = ['c', 'g', 'ms', 'h', 's', 'd'] as const;
export type StatsdTypeCode = (typeof STATSD_TYPE_CODES)[number];
/** Number of types, for tables indexed by `StatsdType`. */
export const STATSD_TYPE_COUNT = STATSD_TYPE_CODES.length;

export const STATSD_DIALECTS = ['dogstatsd', 'etsy', 'bucky'] as const;
export type StatsdDialect = (typeof STATSD_DIALECTS)[number];
export const STATSD_MODES = ['lenient', 'strict'] as const;
export type StatsdMode = (typeof STATSD_MODES)[number];

/** Why a line (or one value of an Etsy multi-metric line) was dropped. A closed set: each is a self-metric label, documented in docs/protocol.md. */
export const REJECT_REASONS = [
  'empty_name',
  'missing_value',
  'bad_value',
  'missing_type',
  'unknown_type',
  'bad_sample_rate',
  'bad_tags',
  'unknown_field',
  'bad_timestamp',
  'timestamp_out_of_window',
  'timestamp_unsupported',
  'invalid_utf8',
  'bad_event',
  'bad_service_check',
  'type_conflict',
  // From the aggregator: the line would create a series past `max_series`.
  'series_limit',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/**
 * What lenient mode repaired in an accepted line (strict mode rejects the line instead). A closed
 * set; `StatsdLine.repairs` holds them as a bit mask, bit i standing for REPAIR_REASONS[i].
 */
export const REPAIR_REASONS = [
  'sample_rate_clamped',
  'field_ignored',
  'empty_value_skipped',
  'tag_ignored',
  'invalid_utf8_replaced',
  'unknown_type_as_counter',
  'event_field_ignored',
  'event_length_in_characters',
] as const;
export type RepairReason = (typeof REPAIR_REASONS)[number];
const REPAIR_SAMPLE_RATE = 1;
const REPAIR_FIELD = 2;
const REPAIR_EMPTY_VALUE = 4;
const REPAIR_TAG = 8;
const REPAIR_UTF8 = 16;
const REPAIR_TYPE = 32;
const REPAIR_EVENT_FIELD = 64;
const REPAIR_EVENT_LENGTH = 128;

/** The repair reasons in a `repairs` bit mask. */
export function repairReasons(mask: number): RepairReason[] {
  const out: RepairReason[] = [];
  for (let i = 0; i < REPAIR_REASONS.length; i++) if ((mask & (1 << i)) !== 0) out.push(REPAIR_REASONS[i]!);
  return out;
}

/** Receives the outcome of every non-empty line of a datagram, in order. */
export interface StatsdSink {
  /**
   * One value of a valid line (a line with several values, `a:1:2|d`, calls this once per
   * value). `line` is reused: read it now, keep nothing but copies.
   */
  point(line: StatsdLine): void;
  /** An invalid line, as the byte range [start, end) of `buf`. */
  reject(reason: RejectReason, buf: Buffer, start: number, end: number): void;
  /** An event or service check, with the repairs (bit mask) lenient mode made to it. */
  event?(event: Event, repairs: number): void;
}

export interface StatsdParserOptions {
  /** Which server's behaviour to reproduce on disputed input. Default `dogstatsd`. */
  readonly dialect?: StatsdDialect;
  /** Default `lenient`. */
  readonly mode?: StatsdMode;
  /**
   * A point's own timestamp (`|T`, `timestamp=`) must be within this many milliseconds of now;
   * default 600 000 (Bucky3's `timestamp_window`). 0 accepts any.
   */
  readonly timestampWindowMs?: number;
  /** Milliseconds since the epoch, for the timestamp window and events without `d:`. */
  readonly now?: () => number;
  /** Tags written inside the metric name, by format (see NAME_TAG_FORMATS); none by default. */
  readonly nameTags?: readonly NameTagFormat[];
}

/**
 * Tags some clients write inside the name, as statsd_exporter reads them (pkg/line):
 *   librato   `name#k1=v1,k2=v2`
 *   influxdb  `name,k1=v1,k2=v2`
 *   signalfx  `name.[k1=v1,k2=v2]rest` (the brackets anywhere; `name.rest` is the name)
 *   graphite  `name;k1=v1;k2=v2` (Graphite 1.1's tagged series)
 * Items without `=` are dropped. They join the line's `|#` tags (which win on a shared key) and
 * cost nothing per line: only a new series decodes its name.
 */
export const NAME_TAG_FORMATS = ['librato', 'influxdb', 'signalfx', 'graphite'] as const;
export type NameTagFormat = (typeof NAME_TAG_FORMATS)[number];
const NAME_TAG_BIT: Record<NameTagFormat, number> = { librato: 1, influxdb: 2, signalfx: 4, graphite: 8 };

/** The name and the tags written in it, for the formats of `mask` (NAME_TAG_BIT). */
export function splitNameTags(name: string, mask: number): { name: string; tags: Tag[] } {
  if ((mask & NAME_TAG_BIT.signalfx) !== 0) {
    const open = name.indexOf('[');
    const close = name.indexOf(']');
    if (open >= 0 && close > open)
      return {
        name: name.slice(0, open) + name.slice(close + 1),
        tags: nameTagItems(name.slice(open + 1, close), ','),
      };
    // A lone bracket: statsd_exporter leaves such a name whole, whatever the other formats say.
    if (open >= 0 || close >= 0) return { name, tags: [] };
  }
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (
      (c === HASH && (mask & NAME_TAG_BIT.librato) !== 0) ||
      (c === COMMA && (mask & NAME_TAG_BIT.influxdb) !== 0)
    )
      return { name: name.slice(0, i), tags: nameTagItems(name.slice(i + 1), ',') };
    if (c === SEMICOLON && (mask & NAME_TAG_BIT.graphite) !== 0)
      return { name: name.slice(0, i), tags: nameTagItems(name.slice(i + 1), ';') };
  }
  return { name, tags: [] };
}

function nameTagItems(text: string, separator: string): Tag[] {
  const out: Tag[] = [];
  for (const item of text.split(separator)) {
    const eq = item.indexOf('=');
    if (eq > 0) out.push([item.slice(0, eq), item.slice(eq + 1)]);
  }
  return out;
}

const COLON = 0x3a;
const PIPE = 0x7c;
const COMMA = 0x2c;
const EQUALS = 0x3d;
const NEWLINE = 0x0a;
const CR = 0x0d;
const HASH = 0x23;
const SEMICOLON = 0x3b;
const AT = 0x40;
const UNDERSCORE = 0x5f;
const BACKSLASH = 0x5c;
const DOT = 0x2e;
const MINUS = 0x2d;
const PLUS = 0x2b;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_C = 0x63;
const LOWER_E = 0x65;
const UPPER_T = 0x54;

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

function hashRange(buf: Buffer, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) h = Math.imul(h ^ (buf[i] as number), FNV_PRIME);
  return h;
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

/** `\n`, `\r`, `\t` and `\<any>` → the character, as Bucky3 unescapes tag values. */
function unescapeTag(text: string): string {
  if (!text.includes('\\')) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    let ch = text.charAt(i);
    if (ch === '\\' && i + 1 < text.length) {
      ch = text.charAt(++i);
      if (ch === 'n') ch = '\n';
      else if (ch === 'r') ch = '\r';
      else if (ch === 't') ch = '\t';
    }
    out += ch;
  }
  return out;
}

function isReservedKey(buf: Buffer, start: number, end: number, key: string): boolean {
  if (end - start !== key.length) return false;
  for (let k = 0; k < key.length; k++) if (buf[start + k] !== key.charCodeAt(k)) return false;
  return true;
}

/**
 * One parsed value of a line, as offsets into the datagram. Valid only during
 * `StatsdSink.point`; the accessors decode on demand.
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
  /** The value as written (one value of a multi-value line). */
  valueStart = 0;
  valueEnd = 0;
  type: StatsdType = STATSD_COUNTER;
  /** The numeric value; NaN for sets, whose member is `member()`. */
  value = 0;
  /** A gauge value written with a sign, in a dialect where that makes it a delta. */
  gaugeDelta = false;
  /** In (0, 1]; 1 when absent or when the dialect ignores it for this type. */
  sampleRate = 1;
  /** The raw text after `|#`; an empty range when the line has no tags. */
  tagsStart = 0;
  tagsEnd = 0;
  /** Tag values hold backslash escapes (bucky dialect). */
  escapedTags = false;
  /** Tags hold Bucky3's reserved `timestamp=`/`bucket=` keys (bucky dialect). */
  reservedTags = false;
  /** The value of a `bucket=` tag; an empty range when there is none. */
  bucketStart = 0;
  bucketEnd = 0;
  /** DogStatsD `|c:<container id>`; an empty range when absent. */
  containerStart = 0;
  containerEnd = 0;
  /** The point's own time (`|T`, `timestamp=`) in ms since the epoch; 0 when it has none. */
  timestamp = 0;
  /**
   * The series key varies from line to line (a `timestamp=` tag is part of the raw tag bytes),
   * so a raw-bytes lookup would miss every time: look the series up by its decoded key instead.
   */
  slowKey = false;
  /** Repairs lenient mode made (bit i: REPAIR_REASONS[i]); 0 for a clean line. */
  repairs = 0;
  /** This value belongs to the same series as the previous `point` call (later values of `a:1:2|d`). */
  sameSeries = false;
  /** One of the rarely used fields above (from `gaugeDelta` on) is set: `clearExtras` before reuse. */
  extras = false;
  /**
   * A 32-bit hash of the series as written: name bytes, type, raw tag bytes and container id.
   * Equal raw keys have equal hashes; tables confirm a match with `sameKey`.
   */
  keyHash = 0;

  /** Resets the rarely used fields; the parser calls it only when `extras` says one is set. */
  clearExtras(): void {
    this.gaugeDelta = false;
    this.escapedTags = false;
    this.reservedTags = false;
    this.bucketStart = 0;
    this.bucketEnd = 0;
    this.containerStart = 0;
    this.containerEnd = 0;
    this.timestamp = 0;
    this.slowKey = false;
    this.extras = false;
  }

  /** Formats of tags written in the name to read (NAME_TAG_BIT), set by the parser. */
  nameTagMask = 0;

  /** Metric name, decoded as UTF-8 (invalid bytes become U+FFFD), without tags written in it. */
  name(): string {
    const name = this.buf.utf8Slice(this.nameStart, this.nameEnd);
    return this.nameTagMask === 0 ? name : splitNameTags(name, this.nameTagMask).name;
  }

  hasTags(): boolean {
    return this.tagsEnd > this.tagsStart || this.containerEnd > this.containerStart || this.nameTagMask !== 0;
  }

  /** Set member (sets only), decoded as UTF-8. */
  member(): string {
    return this.buf.utf8Slice(this.valueStart, this.valueEnd);
  }

  /** The member's bytes as a one-byte string: distinct byte sequences give distinct keys. */
  memberKey(): string {
    return this.buf.latin1Slice(this.valueStart, this.valueEnd);
  }

  /** The destination override of a `bucket=` tag (bucky dialect), if any. */
  bucket(): string | undefined {
    return this.bucketEnd > this.bucketStart
      ? this.buf.utf8Slice(this.bucketStart, this.bucketEnd)
      : undefined;
  }

  /** Bytes of the raw key: name, then tags, then container id. */
  keyLength(): number {
    return (
      this.nameEnd - this.nameStart + this.tagsEnd - this.tagsStart + this.containerEnd - this.containerStart
    );
  }

  /** A copy of the line's identity as written: name bytes, raw tag bytes, container id bytes. */
  keyBytes(): Buffer {
    const n = this.nameEnd - this.nameStart;
    const t = this.tagsEnd - this.tagsStart;
    const out = Buffer.allocUnsafeSlow(this.keyLength());
    this.buf.copy(out, 0, this.nameStart, this.nameEnd);
    this.buf.copy(out, n, this.tagsStart, this.tagsEnd);
    this.buf.copy(out, n + t, this.containerStart, this.containerEnd);
    return out;
  }

  /**
   * Whether this line's name, raw tag and container bytes are exactly those of `key` (made by
   * `keyBytes`, with these name and tag lengths).
   */
  sameKey(key: DataView, nameLength: number, tagsLength: number): boolean {
    const n = this.nameEnd - this.nameStart;
    const t = this.tagsEnd - this.tagsStart;
    const c = this.containerEnd - this.containerStart;
    if (n !== nameLength || t !== tagsLength || n + t + c !== key.byteLength) return false;
    return (
      rangeEquals(this.view, this.nameStart, key, 0, n) &&
      rangeEquals(this.view, this.tagsStart, key, n, t) &&
      (c === 0 || rangeEquals(this.view, this.containerStart, key, n + t, c))
    );
  }

  /**
   * The tags in line order, decoded: `k:v` and `k=v` split at the first separator, `k` alone has
   * value "", empty items and items with an empty key are left out, a `#` before a key dropped. Bucky3's reserved keys are
   * left out too (see `bucket()` and `timestamp`), and a container id becomes `container_id`.
   */
  tagList(): Tag[] {
    const buf = this.buf;
    const end = this.tagsEnd;
    // Tags written in the name first, so that the line's own win on a shared key.
    const out: Tag[] =
      this.nameTagMask === 0
        ? []
        : splitNameTags(buf.utf8Slice(this.nameStart, this.nameEnd), this.nameTagMask).tags;
    const escaped = this.escapedTags;
    let i = this.tagsStart;
    while (i < end) {
      // `#k:v` within the list (Datadog's PHP client writes `|#a:1,#b:2`): the `#` is no part
      // of the key, as statsd_exporter reads it.
      if (buf[i] === HASH && i > this.tagsStart) i++;
      const itemStart = i;
      let sep = -1;
      for (; i < end; i++) {
        const c = buf[i];
        if (c === COMMA) break;
        if (c === BACKSLASH && escaped) i++;
        else if (sep < 0 && (c === COLON || c === EQUALS)) sep = i;
      }
      if (i > end) i = end;
      if (i > itemStart && sep !== itemStart) {
        if (sep < 0) {
          out.push([buf.utf8Slice(itemStart, i), '']);
        } else if (
          !this.reservedTags ||
          !(isReservedKey(buf, itemStart, sep, 'timestamp') || isReservedKey(buf, itemStart, sep, 'bucket'))
        ) {
          const value = buf.utf8Slice(sep + 1, i);
          out.push([buf.utf8Slice(itemStart, sep), escaped ? unescapeTag(value) : value]);
        }
      }
      i++;
    }
    if (this.containerEnd > this.containerStart)
      out.push(['container_id', buf.utf8Slice(this.containerStart, this.containerEnd)]);
    return out;
  }

  /** The tags, sorted and deduplicated (the last value of a repeated key wins). */
  tags(): Tags {
    return this.hasTags() ? sortTags(this.tagList()) : NO_TAGS;
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

/** A base-10 integer with an optional sign, as Go's strconv.ParseInt reads it; NaN otherwise. */
function parseInteger(buf: Buffer, start: number, end: number): number {
  let i = start;
  const first = buf[i];
  if (first === MINUS || first === PLUS) i++;
  if (i === end || end - i > 15) return NaN;
  let v = 0;
  for (; i < end; i++) {
    const c = buf[i] as number;
    if (c < ZERO || c > NINE) return NaN;
    v = v * 10 + (c - ZERO);
  }
  return first === MINUS ? -v : v;
}

/** The type spelled by [start, end), or -1 when it is not one of `c g ms h s d`. */
function typeOf(buf: Buffer, start: number, end: number): StatsdType | -1 {
  const n = end - start;
  if (n === 1) {
    const c = buf[start];
    if (c === 0x63) return STATSD_COUNTER;
    if (c === 0x67) return STATSD_GAUGE;
    if (c === 0x68) return STATSD_HISTOGRAM;
    if (c === 0x73) return STATSD_SET;
    if (c === 0x64) return STATSD_DISTRIBUTION;
  } else if (n === 2 && buf[start] === 0x6d && buf[start + 1] === 0x73) {
    return STATSD_TIMER;
  }
  return -1;
}

/** A line that was not a metric: an event or a service check, already handed to the sink. */
const HANDLED = null;
type Outcome = RejectReason | undefined | typeof HANDLED;

const DIALECT_DOGSTATSD = 0;
const DIALECT_ETSY = 1;
const DIALECT_BUCKY = 2;

const PRIORITIES = new Set(['normal', 'low']);
const ALERT_TYPES = new Set(['error', 'warning', 'info', 'success']);

/**
 * Splits datagrams into lines and parses them. Holds only its scratch line, so it is cheap to
 * have one per socket; `parse` is synchronous and not re-entrant.
 */
export class StatsdParser {
  readonly dialect: StatsdDialect;
  readonly mode: StatsdMode;
  private readonly line = new StatsdLine();
  private readonly dialectId: number;
  private readonly strict: boolean;
  private readonly windowMs: number;
  private readonly now: () => number;
  /** Values of the current multi-value line. */
  private values = new Float64Array(16);
  private valueCount = 0;

  constructor(options: StatsdParserOptions = {}) {
    this.dialect = options.dialect ?? 'dogstatsd';
    this.mode = options.mode ?? 'lenient';
    this.dialectId =
      this.dialect === 'etsy' ? DIALECT_ETSY : this.dialect === 'bucky' ? DIALECT_BUCKY : DIALECT_DOGSTATSD;
    this.strict = this.mode === 'strict';
    this.windowMs = options.timestampWindowMs ?? 600_000;
    this.now = options.now ?? Date.now;
    for (const f of options.nameTags ?? []) this.line.nameTagMask |= NAME_TAG_BIT[f];
  }

  /**
   * Parses every line of `buf` (separated by `\n`, a trailing `\r` tolerated, empty lines
   * skipped) into `sink`. Returns the number of non-empty lines.
   */
  parse(buf: Buffer, sink: StatsdSink): number {
    const end = buf.length;
    const line = this.line;
    line.buf = buf as FastBuffer;
    line.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const etsy = this.dialectId === DIALECT_ETSY;
    let lines = 0;
    let pos = 0;
    while (pos < end) {
      let eol = buf.indexOf(NEWLINE, pos);
      if (eol < 0) eol = end;
      let stop = eol;
      if (stop > pos && buf[stop - 1] === CR) stop--;
      if (stop > pos) {
        lines++;
        if (buf[pos] === UNDERSCORE && this.special(buf, pos, stop, sink)) {
          // an event or a service check
        } else if (etsy) {
          this.parseEtsy(buf, pos, stop, sink);
        } else {
          const reason = this.parseLine(buf, pos, stop);
          if (reason !== undefined) {
            sink.reject(reason, buf, pos, stop);
          } else if (this.valueCount === 0) {
            sink.point(line);
          } else {
            const values = this.values;
            for (let k = 0; k < this.valueCount; k++) {
              line.value = values[k] as number;
              line.sameSeries = k > 0;
              sink.point(line);
            }
            line.sameSeries = false;
          }
        }
      }
      pos = eol + 1;
    }
    // Do not pin the datagram.
    line.buf = EMPTY as FastBuffer;
    line.view = EMPTY_VIEW;
    return lines;
  }

  /** Events and service checks; false when the line is a metric that starts with `_`. */
  private special(buf: Buffer, start: number, end: number, sink: StatsdSink): boolean {
    let outcome: Outcome | false = false;
    if (buf[start + 1] === LOWER_E && buf[start + 2] === 0x7b)
      outcome = this.parseEvent(buf, start, end, sink);
    else if (buf[start + 1] === 0x73 && buf[start + 2] === LOWER_C && buf[start + 3] === PIPE)
      outcome = this.parseServiceCheck(buf, start, end, sink);
    if (outcome === false) return false;
    if (outcome !== HANDLED && outcome !== undefined) sink.reject(outcome, buf, start, end);
    return true;
  }

  /** A lenient repair, or the strict rejection that replaces it. */
  private repair(bit: number, strictReason: RejectReason): RejectReason | undefined {
    if (this.strict) return strictReason;
    this.line.repairs |= bit;
    return undefined;
  }

  /** Checks a point's own timestamp against the window; `ms` is already in milliseconds. */
  private checkTimestamp(ms: number): RejectReason | undefined {
    if (this.windowMs > 0 && Math.abs(ms - this.now()) > this.windowMs) return 'timestamp_out_of_window';
    this.line.timestamp = ms;
    this.line.extras = true;
    return undefined;
  }

  /** UTF-8 validity of [start, end), called only when a byte ≥ 0x80 was seen. */
  private checkUtf8(buf: Buffer, start: number, end: number): RejectReason | undefined {
    if (isUtf8(buf.subarray(start, end))) return undefined;
    // Bucky3 drops what does not decode; the others replace (Etsy) or pass bytes on (DogStatsD).
    if (this.dialectId === DIALECT_BUCKY) return 'invalid_utf8';
    return this.repair(REPAIR_UTF8, 'invalid_utf8');
  }

  /** Fills the scratch line from [start, end) (dogstatsd and bucky dialects); returns why the line is invalid, if it is. */
  private parseLine(buf: Buffer, start: number, end: number): RejectReason | undefined {
    const line = this.line;
    const bucky = this.dialectId === DIALECT_BUCKY;
    line.start = start;
    line.end = end;
    line.repairs = 0;
    this.valueCount = 0;
    // Bytes ≥ 0x80 seen anywhere: only such lines need a UTF-8 check.
    let high = 0;

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
      high |= w;
      nameHash = Math.imul(nameHash ^ w, FNV_PRIME);
      i += 4;
    }
    for (; i < end; i++) {
      const c = buf[i] as number;
      if (c === COLON) break;
      high |= c;
      nameHash = Math.imul(nameHash ^ c, FNV_PRIME);
    }
    if (i === start) return 'empty_name';
    if (i === end) return 'missing_value';
    line.nameStart = start;
    line.nameEnd = i;

    const valueStart = ++i;
    let colons = 0;
    for (; i < end; i++) {
      const c = buf[i] as number;
      if (c === PIPE) break;
      if (c === COLON) colons++;
    }
    if (i === valueStart) return 'missing_value';
    line.valueStart = valueStart;
    line.valueEnd = i;
    if (i === end) return 'missing_type';

    const typeStart = ++i;
    while (i < end && buf[i] !== PIPE) i++;
    let type = typeOf(buf, typeStart, i);
    if (type === -1) {
      // Bucky3 cuts the line at the first `|#` before it looks for a type.
      if (i === typeStart || (bucky && buf[typeStart] === HASH)) return 'missing_type';
      // Bucky3 counts any other type (stats.js does too; see parseEtsy).
      if (!bucky) return 'unknown_type';
      const reason = this.repair(REPAIR_TYPE, 'unknown_type');
      if (reason !== undefined) return reason;
      type = STATSD_COUNTER;
    } else if (bucky && type === STATSD_DISTRIBUTION) {
      const reason = this.repair(REPAIR_TYPE, 'unknown_type');
      if (reason !== undefined) return reason;
      type = STATSD_COUNTER;
    }
    line.type = type;

    line.sampleRate = 1;
    line.tagsStart = 0;
    line.tagsEnd = 0;
    if (line.extras) line.clearExtras();
    let tagsHash = FNV_OFFSET;
    let extraFields = 0;
    let rateStart = -1;
    let rateEnd = -1;
    let stampStart = -1;
    let stampEnd = -1;
    // Optional fields, in any order.
    while (i < end) {
      const kind = ++i < end ? buf[i] : -1;
      if (kind === HASH) {
        const tagsStart = ++i;
        if (bucky) {
          // bucky3/statsd.py handle_metadata: everything after the first `|#` is tags.
          const reason = this.scanBuckyTags(buf, tagsStart, end);
          if (reason !== undefined) return reason;
          tagsHash = hashRange(buf, tagsStart, end);
          i = end;
          continue;
        }
        // Tags are hashed and checked for empty keys here, in one pass, and split only when a
        // consumer asks (`tagList`): a known series never needs them split. A repeated `|#`
        // field replaces the earlier one (parse.go keeps the last).
        // Words without ',' or '|' are hashed whole, the others byte by byte: a choice made
        // by the tag bytes alone, so equal tag text hashes alike.
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
                if (first === COLON || first === EQUALS) {
                  // An empty key: DogStatsD keeps ":v" as an opaque tag, sluice cannot.
                  const reason = this.repair(REPAIR_TAG, 'bad_tags');
                  if (reason !== undefined) return reason;
                }
                itemStart = false;
              }
              high |= w;
              h = Math.imul(h ^ w, FNV_PRIME);
              i += 4;
              continue;
            }
          }
          const c = buf[i] as number;
          if (c === PIPE) break;
          if (itemStart && (c === COLON || c === EQUALS)) {
            const reason = this.repair(REPAIR_TAG, 'bad_tags');
            if (reason !== undefined) return reason;
          }
          itemStart = c === COMMA;
          high |= c;
          h = Math.imul(h ^ c, FNV_PRIME);
          i++;
        }
        line.tagsStart = tagsStart;
        line.tagsEnd = i;
        tagsHash = h;
        continue;
      }
      const fieldStart = i;
      while (i < end && buf[i] !== PIPE) high |= buf[i++] as number;
      if (bucky) {
        // handle_line: at most one field besides the tags (`bits` of length 2 or 3).
        if (++extraFields > 1) return 'unknown_field';
        if (kind === AT) {
          rateStart = fieldStart + 1;
          rateEnd = i;
        } else {
          const reason = this.repair(REPAIR_FIELD, 'unknown_field');
          if (reason !== undefined) return reason;
        }
      } else if (kind === AT) {
        rateStart = fieldStart + 1;
        rateEnd = i;
      } else if (kind === UPPER_T) {
        stampStart = fieldStart + 1;
        stampEnd = i;
      } else if (kind === LOWER_C && buf[fieldStart + 1] === COLON) {
        // Origin detection's container id, DogStatsD 1.2: a tag, part of the series.
        line.containerStart = fieldStart + 2;
        line.extras = true;
        line.containerEnd = i;
      } else if (
        // Origin detection's external data (`e:`) and cardinality (`card:`): valid, not used.
        (kind === LOWER_E && buf[fieldStart + 1] === COLON) ||
        (kind === LOWER_C &&
          buf[fieldStart + 1] === 0x61 &&
          buf[fieldStart + 2] === 0x72 &&
          buf[fieldStart + 3] === 0x64 &&
          buf[fieldStart + 4] === COLON)
      ) {
        // nothing to do
      } else {
        // parse.go ignores fields it does not know.
        const reason = this.repair(REPAIR_FIELD, 'unknown_field');
        if (reason !== undefined) return reason;
      }
    }

    if (rateStart >= 0) {
      const reason = this.sampleRate(buf, rateStart, rateEnd, type);
      if (reason !== undefined) return reason;
    }
    if (stampStart >= 0) {
      // parse.go: an integer ≥ 1, in seconds.
      const ts = parseInteger(buf, stampStart, stampEnd);
      if (!(ts >= 1)) return 'bad_timestamp';
      // The no-aggregation pipeline forwards gauges and counts only and drops the rest.
      if (type !== STATSD_COUNTER && type !== STATSD_GAUGE) return 'timestamp_unsupported';
      const reason = this.checkTimestamp(ts * 1000);
      if (reason !== undefined) return reason;
    }

    if (type === STATSD_SET) {
      line.value = NaN;
      // Only a member can be non-ASCII and valid: a number with such bytes is a bad_value.
      for (let k = valueStart; k < line.valueEnd; k++) high |= buf[k] as number;
    } else if (colons === 0) {
      const v = parseNumber(buf, valueStart, line.valueEnd);
      if (v !== v) return 'bad_value';
      line.value = v;
      if (type === STATSD_GAUGE && bucky) {
        const first = buf[valueStart];
        if (first === PLUS || first === MINUS) {
          line.gaugeDelta = true;
          line.extras = true;
        }
      }
    } else if (bucky) {
      // handle_line keeps the value whole, and float('1:2') fails.
      return 'bad_value';
    } else {
      const reason = this.multiValue(buf, valueStart, line.valueEnd);
      if (reason !== undefined) return reason;
    }

    if ((high & HIGHS) !== 0) {
      const reason = this.checkUtf8(buf, start, end);
      if (reason !== undefined) return reason;
    }
    let keyHash = Math.imul(Math.imul(nameHash ^ (type + 1), FNV_PRIME) ^ tagsHash, FNV_PRIME);
    if (line.containerEnd > line.containerStart)
      keyHash = Math.imul(keyHash ^ hashRange(buf, line.containerStart, line.containerEnd), FNV_PRIME);
    line.keyHash = fmix32(keyHash);
    return undefined;
  }

  /** Reads `@rate` for a line of `type` under the dialect's rules into `line.sampleRate`. */
  private sampleRate(buf: Buffer, start: number, end: number, type: StatsdType): RejectReason | undefined {
    const rate = parseNumber(buf, start, end);
    if (this.dialectId === DIALECT_BUCKY) {
      if (type === STATSD_COUNTER) {
        // handle_counter drops counters whose rate is not a number in (0, 1].
        if (!(rate > 0 && rate <= 1)) return 'bad_sample_rate';
        this.line.sampleRate = rate;
        return undefined;
      }
      // Bucky3 never reads the rate of other types: not even a bad one drops the line.
      if (rate > 0 && rate <= 1) return undefined;
      return this.repair(REPAIR_FIELD, 'bad_sample_rate');
    }
    if (rate !== rate) return 'bad_sample_rate';
    // Etsy rejects a negative rate (helpers.js isValidSampleRate); DogStatsD takes any float.
    if (rate < 0 && this.dialectId === DIALECT_ETSY) return 'bad_sample_rate';
    if (rate > 0 && rate <= 1) {
      this.line.sampleRate = rate;
      return undefined;
    }
    // Both servers divide by it as is: @0 makes an infinite count, @2 halves it, a negative
    // rate makes counts negative. Lenient mode counts such lines unsampled.
    this.line.sampleRate = 1;
    return this.repair(REPAIR_SAMPLE_RATE, 'bad_sample_rate');
  }

  /** `1:2:3` (DogStatsD 1.1 packed values) into `values`; empty pieces are skipped, as parse.go does. */
  private multiValue(buf: Buffer, start: number, end: number): RejectReason | undefined {
    let n = 0;
    let i = start;
    while (i <= end) {
      let j = i;
      while (j < end && buf[j] !== COLON) j++;
      if (j === i) {
        if (j < end) {
          const reason = this.repair(REPAIR_EMPTY_VALUE, 'bad_value');
          if (reason !== undefined) return reason;
        }
      } else {
        const v = parseNumber(buf, i, j);
        if (v !== v) return 'bad_value';
        if (n === this.values.length) {
          const grown = new Float64Array(n * 2);
          grown.set(this.values);
          this.values = grown;
        }
        this.values[n++] = v;
      }
      i = j + 1;
    }
    if (n === 0) return 'bad_value';
    this.valueCount = n;
    this.line.value = this.values[0] as number;
    return undefined;
  }

  /**
   * Bucky3's tags (bucky3/statsd.py handle_metadata): everything to the end of the line, items
   * `key=value` or `key:value` (no valueless keys, no empty items but one trailing comma),
   * backslash escapes in values, and the reserved keys `timestamp` and `bucket`.
   */
  private scanBuckyTags(buf: Buffer, start: number, end: number): RejectReason | undefined {
    const line = this.line;
    line.tagsStart = start;
    line.tagsEnd = end;
    let i = start;
    while (i < end) {
      const itemStart = i;
      let sep = -1;
      for (; i < end; i++) {
        const c = buf[i];
        if (c === COMMA) break;
        if (c === BACKSLASH) {
          line.escapedTags = true;
          line.extras = true;
          i++;
        } else if (sep < 0 && (c === COLON || c === EQUALS)) {
          sep = i;
        }
      }
      if (i > end) i = end;
      if (i === itemStart) {
        // One trailing comma is allowed; an empty item anywhere else is not.
        if (i < end || itemStart === start) return 'bad_tags';
      } else if (sep <= itemStart) {
        return 'bad_tags';
      } else if (isReservedKey(buf, itemStart, sep, 'timestamp')) {
        line.reservedTags = true;
        line.slowKey = true;
        line.extras = true;
        let ts = parseNumber(buf, sep + 1, i);
        if (ts !== ts) return 'bad_timestamp';
        // Seconds, or milliseconds when above 2^31 (handle_metadata_kv).
        if (ts <= 2147483647) ts *= 1000;
        const reason = this.checkTimestamp(Math.round(ts));
        if (reason !== undefined) return reason;
      } else if (isReservedKey(buf, itemStart, sep, 'bucket')) {
        if (i === sep + 1) return 'bad_tags';
        line.reservedTags = true;
        line.extras = true;
        line.bucketStart = sep + 1;
        line.bucketEnd = i;
      }
      i++;
    }
    return undefined;
  }

  /**
   * Etsy's grammar (stats.js handlePacket): tags are the text after the first `|#` (to the next
   * `|#`), and the rest splits at every `:` into samples `value|type[|@rate][|...]`, each valid
   * or not on its own: `a:1|c:2|ms` is a counter and a timer, `a:1:2|c` a bad line and a 2.
   */
  private parseEtsy(buf: Buffer, start: number, end: number, sink: StatsdSink): void {
    const line = this.line;
    line.start = start;
    line.end = end;
    line.repairs = 0;
    line.sameSeries = false;
    if (line.extras) line.clearExtras();
    let high = 0;
    let headEnd = end;
    line.tagsStart = line.tagsEnd = 0;
    let tagsHash = FNV_OFFSET;
    for (let i = start; i + 1 < end; i++) {
      if (buf[i] === PIPE && buf[i + 1] === HASH) {
        headEnd = i;
        let j = i + 2;
        while (j + 1 < end && !(buf[j] === PIPE && buf[j + 1] === HASH)) j++;
        if (j + 1 >= end) j = end;
        else {
          // stats.js reads bits[1] only: a second `|#` and what follows are dropped.
          const reason = this.repair(REPAIR_FIELD, 'unknown_field');
          if (reason !== undefined) return sink.reject(reason, buf, start, end);
        }
        line.tagsStart = i + 2;
        line.tagsEnd = j;
        let itemStart = true;
        for (let k = i + 2; k < j; k++) {
          const c = buf[k] as number;
          if (itemStart && (c === COLON || c === EQUALS)) {
            const reason = this.repair(REPAIR_TAG, 'bad_tags');
            if (reason !== undefined) return sink.reject(reason, buf, start, end);
          }
          itemStart = c === COMMA;
          high |= c;
        }
        tagsHash = hashRange(buf, i + 2, j);
        break;
      }
    }
    let i = start;
    let nameHash = FNV_OFFSET ^ SEED;
    for (; i < headEnd; i++) {
      const c = buf[i] as number;
      if (c === COLON) break;
      high |= c;
      nameHash = Math.imul(nameHash ^ c, FNV_PRIME);
    }
    if (i === start) return sink.reject('empty_name', buf, start, end);
    // `name` alone: stats.js reads it as the sample "1", which has no type.
    if (i === headEnd) return sink.reject('missing_value', buf, start, end);
    line.nameStart = start;
    line.nameEnd = i;
    for (let k = i; k < headEnd; k++) high |= buf[k] as number;
    if ((high & HIGHS) !== 0) {
      const reason = this.checkUtf8(buf, start, end);
      if (reason !== undefined) return sink.reject(reason, buf, start, end);
    }
    const repairs = line.repairs;
    let previousType = -1;
    while (i < headEnd) {
      const sampleStart = ++i;
      while (i < headEnd && buf[i] !== COLON) i++;
      line.repairs = repairs;
      const reason = this.etsySample(buf, sampleStart, i);
      if (reason !== undefined) {
        sink.reject(reason, buf, start, end);
        previousType = -1;
        continue;
      }
      line.keyHash = fmix32(
        Math.imul(Math.imul(nameHash ^ (line.type + 1), FNV_PRIME) ^ tagsHash, FNV_PRIME),
      );
      line.sameSeries = line.type === previousType;
      previousType = line.type;
      sink.point(line);
    }
    line.sameSeries = false;
  }

  /** One `value|type[|@rate][|...]` sample of an Etsy line, validated as helpers.js is_valid_packet does. */
  private etsySample(buf: Buffer, start: number, end: number): RejectReason | undefined {
    const line = this.line;
    let i = start;
    while (i < end && buf[i] !== PIPE) i++;
    if (i === end) return start === end ? 'missing_value' : 'missing_type';
    const valueEnd = i;
    const typeStart = ++i;
    while (i < end && buf[i] !== PIPE) i++;
    if (i === typeStart) return 'missing_type';
    let type = typeOf(buf, typeStart, i);
    if (type === STATSD_HISTOGRAM || type === STATSD_DISTRIBUTION || type === -1) {
      // stats.js counts every type it does not know (its last `else`).
      const reason = this.repair(REPAIR_TYPE, 'unknown_type');
      if (reason !== undefined) return reason;
      type = STATSD_COUNTER;
    }
    line.type = type;
    line.valueStart = start;
    line.valueEnd = valueEnd;
    line.sampleRate = 1;
    line.gaugeDelta = false;
    if (i < end) {
      const rateStart = ++i;
      while (i < end && buf[i] !== PIPE) i++;
      // The third field must be `@<non-negative number>`.
      if (buf[rateStart] !== AT) return 'bad_sample_rate';
      const reason = this.sampleRate(buf, rateStart + 1, i, type);
      if (reason !== undefined) return reason;
      if (i < end) {
        // Fields after the rate are never read.
        const r = this.repair(REPAIR_FIELD, 'unknown_field');
        if (r !== undefined) return r;
      }
    }
    if (type === STATSD_SET) {
      if (valueEnd === start) return 'missing_value';
      line.value = NaN;
      return undefined;
    }
    if (valueEnd === start) return 'missing_value';
    const v = parseNumber(buf, start, valueEnd);
    if (v !== v) return 'bad_value';
    // helpers.js: timers must not be negative.
    if (type === STATSD_TIMER && v < 0) return 'bad_value';
    line.value = v;
    if (type === STATSD_GAUGE) {
      const first = buf[start];
      if (first === PLUS || first === MINUS) {
        line.gaugeDelta = true;
        line.extras = true;
      }
    }
    return undefined;
  }

  /** Tags of an event or service check: `k:v`, `k=v` or `k`, empty items and keys skipped. */
  private eventTags(buf: Buffer, start: number, end: number): Tags {
    const out: Tag[] = [];
    const fb = buf as FastBuffer;
    let i = start;
    while (i < end) {
      const itemStart = i;
      let sep = -1;
      for (; i < end && buf[i] !== COMMA; i++)
        if (sep < 0 && (buf[i] === COLON || buf[i] === EQUALS)) sep = i;
      if (i > itemStart && sep !== itemStart) {
        out.push(
          sep < 0
            ? [fb.utf8Slice(itemStart, i), '']
            : [fb.utf8Slice(itemStart, sep), fb.utf8Slice(sep + 1, i)],
        );
      }
      i++;
    }
    return out.length === 0 ? NO_TAGS : makeTags(out);
  }

  /** Decodes [start, end) as event text: UTF-8, and `\n` (two characters) as a line break, as parse_events.go does. */
  private eventText(buf: Buffer, start: number, end: number): string {
    return (buf as FastBuffer).utf8Slice(start, end).replaceAll('\\n', '\n');
  }

  /** Seconds since the epoch from a `d:` field, or NaN. */
  private eventTime(buf: Buffer, start: number, end: number): number {
    const ts = parseInteger(buf, start, end);
    return ts === ts ? ts * 1000 : NaN;
  }

  /**
   * `_e{<title length>,<text length>}:<title>|<text>|...` (parse_events.go): lengths in bytes;
   * a malformed header or short content is `bad_event`, a bad optional field is ignored as
   * DogStatsD does (lenient) or rejects the event (strict).
   */
  private parseEvent(buf: Buffer, start: number, end: number, sink: StatsdSink): Outcome {
    const line = this.line;
    line.repairs = 0;
    let i = start + 3;
    const titleLength = this.headerNumber(buf, i, end, COMMA);
    if (titleLength < 1) return 'bad_event';
    i = this.headerEnd;
    const textLength = this.headerNumber(buf, i + 1, end, 0x7d);
    if (textLength < 0) return 'bad_event';
    i = this.headerEnd;
    if (buf[i + 1] !== COLON) return 'bad_event';
    const titleStart = i + 2;
    let titleEnd = titleStart + titleLength;
    let textStart = titleEnd + 1;
    let textEnd = textStart + textLength;
    const invalid = this.eventUtf8(buf, start, end);
    if (invalid !== undefined) return invalid;
    if (textEnd > end || buf[titleEnd] !== PIPE || (textEnd < end && buf[textEnd] !== PIPE)) {
      // DogStatsD counts bytes; some clients (hot-shots) count UTF-16 code units, which differs
      // for non-ASCII text. Lenient mode tries that reading before giving up.
      const rest = (buf as FastBuffer).utf8Slice(titleStart, end);
      const ends = titleLength + 1 + textLength;
      if (
        !(rest.length >= ends && rest.charCodeAt(titleLength) === PIPE) ||
        (rest.length > ends && rest.charCodeAt(ends) !== PIPE)
      )
        return 'bad_event';
      const reason = this.repair(REPAIR_EVENT_LENGTH, 'bad_event');
      if (reason !== undefined) return reason;
      titleEnd = titleStart + Buffer.byteLength(rest.slice(0, titleLength));
      textStart = titleEnd + 1;
      textEnd = textStart + Buffer.byteLength(rest.slice(titleLength + 1, ends));
    }
    let timestamp = NaN;
    let hostname: string | undefined;
    let aggregationKey: string | undefined;
    let priority: AlertEvent['priority'];
    let sourceType: string | undefined;
    let alertType: AlertEvent['alertType'];
    let tags = NO_TAGS;
    let container: string | undefined;
    const fb = buf as FastBuffer;
    i = textEnd;
    while (i < end) {
      const fieldStart = ++i;
      while (i < end && buf[i] !== PIPE) i++;
      const prefix = buf[fieldStart + 1] === COLON ? buf[fieldStart] : -1;
      let ok = true;
      if (buf[fieldStart] === HASH) tags = this.eventTags(buf, fieldStart + 1, i);
      else if (prefix === 0x64) ok = (timestamp = this.eventTime(buf, fieldStart + 2, i)) === timestamp;
      else if (prefix === 0x68) hostname = fb.utf8Slice(fieldStart + 2, i);
      else if (prefix === 0x6b) aggregationKey = fb.utf8Slice(fieldStart + 2, i);
      else if (prefix === 0x73) sourceType = fb.utf8Slice(fieldStart + 2, i);
      else if (prefix === 0x70) {
        const p = fb.latin1Slice(fieldStart + 2, i);
        ok = PRIORITIES.has(p);
        if (ok) priority = p as AlertEvent['priority'];
      } else if (prefix === 0x74) {
        const t = fb.latin1Slice(fieldStart + 2, i);
        ok = ALERT_TYPES.has(t);
        if (ok) alertType = t as AlertEvent['alertType'];
      } else if (prefix === LOWER_C && this.dialectId === DIALECT_DOGSTATSD) {
        // Origin detection's container id: a tag, as on a metric line.
        if (i > fieldStart + 2) container = fb.utf8Slice(fieldStart + 2, i);
      } else ok = prefix === LOWER_E && this.dialectId === DIALECT_DOGSTATSD;
      if (!ok) {
        const reason = this.repair(REPAIR_EVENT_FIELD, 'bad_event');
        if (reason !== undefined) return reason;
      }
    }
    const event: AlertEvent = {
      kind: 'event',
      title: this.eventText(buf, titleStart, titleEnd),
      text: this.eventText(buf, textStart, textEnd),
      tags: withContainer(tags, container),
      timestamp: timestamp === timestamp ? timestamp : this.now(),
      ...(hostname !== undefined ? { hostname } : {}),
      ...(aggregationKey !== undefined ? { aggregationKey } : {}),
      ...(priority !== undefined ? { priority } : {}),
      ...(sourceType !== undefined ? { sourceType } : {}),
      ...(alertType !== undefined ? { alertType } : {}),
    };
    sink.event?.(event, line.repairs);
    return HANDLED;
  }

  /** Where the last `headerNumber` stopped (its terminator). */
  private headerEnd = 0;

  /** A non-negative decimal from `start` up to `terminator`; -1 when malformed. */
  private headerNumber(buf: Buffer, start: number, end: number, terminator: number): number {
    let i = start;
    let v = 0;
    for (; i < end && buf[i] !== terminator; i++) {
      const c = buf[i] as number;
      if (c < ZERO || c > NINE || i - start > 9) return -1;
      v = v * 10 + (c - ZERO);
    }
    this.headerEnd = i;
    return i === start || i === end ? -1 : v;
  }

  /** UTF-8 validity of an event or service check line. */
  private eventUtf8(buf: Buffer, start: number, end: number): RejectReason | undefined {
    for (let i = start; i < end; i++) if ((buf[i] as number) >= 0x80) return this.checkUtf8(buf, start, end);
    return undefined;
  }

  /**
   * `_sc|<name>|<status>|...` (parse_service_checks.go): status 0 to 3; fields `d:`, `h:`, `#`
   * and `m:`, the message running to the end of the line (DogStatsD requires it last).
   */
  private parseServiceCheck(buf: Buffer, start: number, end: number, sink: StatsdSink): Outcome {
    const line = this.line;
    line.repairs = 0;
    const fb = buf as FastBuffer;
    let i = start + 4;
    const nameStart = i;
    while (i < end && buf[i] !== PIPE) i++;
    if (i === nameStart || i === end) return 'bad_service_check';
    const nameEnd = i;
    const statusStart = ++i;
    while (i < end && buf[i] !== PIPE) i++;
    const c = buf[statusStart] as number;
    if (i - statusStart !== 1 || c < ZERO || c > 0x33) return 'bad_service_check';
    const invalid = this.eventUtf8(buf, start, end);
    if (invalid !== undefined) return invalid;
    let timestamp = NaN;
    let hostname: string | undefined;
    let message: string | undefined;
    let tags = NO_TAGS;
    let container: string | undefined;
    while (i < end) {
      const fieldStart = ++i;
      const prefix = buf[fieldStart + 1] === COLON ? buf[fieldStart] : -1;
      if (prefix === 0x6d) {
        message = fb.utf8Slice(fieldStart + 2, end);
        break;
      }
      while (i < end && buf[i] !== PIPE) i++;
      let ok = true;
      if (buf[fieldStart] === HASH) tags = this.eventTags(buf, fieldStart + 1, i);
      else if (prefix === 0x64) ok = (timestamp = this.eventTime(buf, fieldStart + 2, i)) === timestamp;
      else if (prefix === 0x68) hostname = fb.utf8Slice(fieldStart + 2, i);
      else if (prefix === LOWER_C && this.dialectId === DIALECT_DOGSTATSD) {
        if (i > fieldStart + 2) container = fb.utf8Slice(fieldStart + 2, i);
      } else ok = prefix === LOWER_E && this.dialectId === DIALECT_DOGSTATSD;
      if (!ok) {
        const reason = this.repair(REPAIR_EVENT_FIELD, 'bad_service_check');
        if (reason !== undefined) return reason;
      }
    }
    const check: ServiceCheck = {
      kind: 'service_check',
      name: fb.utf8Slice(nameStart, nameEnd),
      status: (c - ZERO) as ServiceCheck['status'],
      tags: withContainer(tags, container),
      timestamp: timestamp === timestamp ? timestamp : this.now(),
      ...(hostname !== undefined ? { hostname } : {}),
      ...(message !== undefined ? { message } : {}),
    };
    sink.event?.(check, line.repairs);
    return HANDLED;
  }
}

/** Tags with DogStatsD's `|c:` container id as `container_id` (the field wins over a tag of that key). */
function withContainer(tags: Tags, container: string | undefined): Tags {
  if (container === undefined) return tags;
  const out: Tag[] = [['container_id', container]];
  for (const t of tags) if (t[0] !== 'container_id') out.push(t);
  return sortTags(out);
}

/** A rejected StatsD line kept for inspection. */
export type RejectedLine = GenericRejectedLine<RejectReason>;

/** Counts rejected StatsD lines by reason and keeps the most recent few. */
export class RejectionLog extends GenericRejectionLog<RejectReason> {
  constructor(capacity = 16, maxLineBytes = 256) {
    super(REJECT_REASONS, capacity, maxLineBytes);
  }
}
