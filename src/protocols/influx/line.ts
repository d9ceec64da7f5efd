/**
 * InfluxDB line protocol encoder: `measurement,tag=v field=1,field2=2 1700000000000000000`.
 *
 * Spec: https://docs.influxdata.com/influxdb/v2/reference/syntax/line-protocol/ and the
 * reference parser (github.com/influxdata/line-protocol/v2). Escaping:
 * - measurement: `,` and space;
 * - tag keys, tag values, field keys: `,`, `=` and space;
 * - string field values (quoted): `"` and `\`.
 * Some strings have no encoding at all, and are adjusted instead of producing a line the server
 * would reject or misread:
 * - control characters (0x00–0x1f, 0x7f) are invalid outside string fields: each becomes a space
 *   (then escaped);
 * - a trailing backslash would escape the separator after it: trailing backslashes are dropped;
 * - a line starting with `#` is a comment: a leading `#` in a measurement becomes `_`;
 * - empty tag keys or values are not allowed: such tags are left out;
 * - NaN and ±Infinity are not valid field values: such fields are left out, and a metric with no
 *   field left is not encoded;
 * - a tag key or field key that InfluxDB reserves (`time` in 1.x, also `_field` and
 *   `_measurement` in 2.x) gets a `_` appended: the server would drop the whole point otherwise.
 *
 * Backslashes: InfluxDB's parser (models/points.go, 1.x and 2.x) treats a separator preceded by
 * a backslash as escaped and unescapes only `\,`, `\ ` and `\=` (`\\` stays two backslashes), so
 * a literal backslash is written as is, and one right before an escaped character still comes
 * out as `\`: `a\,` (backslash, comma) is written `a\\,` and read back as `a\,`. Checked
 * against InfluxDB 1.6.7.
 *
 * Field types are a function of the metric kind and the field name, never of the value:
 * InfluxDB refuses a point whose field changes type within a shard ("field type conflict"),
 * so a counter that happens to be whole in one interval must not become an integer there.
 *
 * Mapping from the metric model (all values are floats; the model has no integers):
 * - counter: `value`, plus `rate` (per second) for delta counters with an interval;
 * - gauge: `value`;
 * - summary: `count`, `sum`, `mean`, `min`, `max`, `stdev`, `median`, and one field per quantile
 *   named `p` + the percentile with `.` written `_`: 0.9 → `p90`, 0.999 → `p99_9`, 0.5 → `p50`;
 *   Etsy's per-percentile statistics, when present, as `p90_count`, `p90_sum`, `p90_mean`;
 * - histogram: `count`, `sum`, `min`, `max`, `mean`, and per bin `le_<bound>` (`le_2.5`,
 *   `le_1e+06`: the bound as Go and Prometheus' `le` label write it; `le_inf` for the last bin)
 *   holding the observations at or below the bound, cumulative like Prometheus buckets, so
 *   `le_inf` = `count`. One line with a field per bin rather than one line per bin with an
 *   `le` tag: the interval stays one point whose bins are written together, count and sum sit
 *   beside them, and series cardinality does not multiply by the number of bins;
 * - distribution: `count`, `sum`, `min`, `max`, `mean`, `median` and the `p…` quantile fields.
 *
 * With `integerCounters`, a counter's `value` is an integer field instead (`3i`, rounded), as
 * Telegraf's statsd input writes counters: for databases that already hold its data.
 *
 * Timestamps are written in nanoseconds (the default precision) from the model's milliseconds,
 * or in the precision asked for (rounded down).
 */
import type { Metric } from '../../core/metric.js';
import type { Tags } from '../../core/tags.js';
import { foldFields } from '../fields.js';

// Their home is the field visitor now; exported here still for the encoders that name fields.
export { binField, quantileField } from '../fields.js';

const BACKSLASH = 0x5c;

function isControl(c: number): boolean {
  return c < 0x20 || c === 0x7f;
}

/** Escapes `s` for a context where `,`, space and (if `equals`) `=` are separators. */
function escapeToken(s: string, equals: boolean): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === BACKSLASH) end--;
  let i = 0;
  for (; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2c || c === 0x20 || (equals && c === 0x3d) || isControl(c)) break;
  }
  if (i === end) return end === s.length ? s : s.slice(0, end);
  let out = s.slice(0, i);
  for (; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2c) out += '\\,';
    else if (c === 0x20 || isControl(c)) out += '\\ ';
    else if (equals && c === 0x3d) out += '\\=';
    else out += s[i];
  }
  return out;
}

/** A measurement name; '' when nothing is left to write. */
export function escapeMeasurement(name: string): string {
  const out = escapeToken(name, false);
  return out.charCodeAt(0) === 0x23 ? '_' + out.slice(1) : out;
}

/** A tag key, tag value or field key; '' when nothing is left to write. */
export function escapeKey(s: string): string {
  return escapeToken(s, true);
}

/** A string field value, with its quotes. */
export function quoteStringField(s: string): string {
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === BACKSLASH) break;
  }
  if (i === s.length) return '"' + s + '"';
  let out = '"' + s.slice(0, i);
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === BACKSLASH) out += '\\\\';
    else out += s[i];
  }
  return out + '"';
}

export const PRECISIONS = ['ns', 'us', 'ms', 's'] as const;
/** The unit of the timestamps written (InfluxDB's `precision`). */
export type Precision = (typeof PRECISIONS)[number];

/** An integral number in decimal, without the exponent String() uses from 1e21 on. */
function integerString(n: number): string {
  return Number.isSafeInteger(n) ? String(n) : BigInt(n).toString();
}

/** The timestamp in `precision` units, truncated towards the past as InfluxDB truncates. */
export function formatTimestamp(ms: number, precision: Precision): string {
  switch (precision) {
    case 'ns':
      return timestampNs(ms);
    case 'us':
      return integerString(Math.floor(ms * 1000));
    case 'ms':
      return integerString(Math.floor(ms));
    case 's':
      return integerString(Math.floor(ms / 1000));
  }
}

/** Nanoseconds since the epoch from milliseconds, exactly (ms * 1e6 is not exact above 2^53). */
export function timestampNs(ms: number): string {
  if (Number.isSafeInteger(ms) && ms > 0) return ms + '000000';
  if (ms === 0) return '0';
  return (BigInt(Math.floor(ms)) * 1_000_000n + BigInt(Math.round((ms - Math.floor(ms)) * 1e6))).toString();
}

/** Keys InfluxDB refuses for tags or fields: 1.x drops a point using `time`, 2.x also the others. */
function unreserved(key: string): string {
  return key === 'time' || key === '_field' || key === '_measurement' ? key + '_' : key;
}

/** `,k=v` for each tag, leaving out tags whose key or value would be empty. */
export function encodeTags(tags: Tags): string {
  let out = '';
  for (const [k, v] of tags) {
    const key = unreserved(escapeKey(k));
    const value = escapeKey(v);
    if (key !== '' && value !== '') out += ',' + key + '=' + value;
  }
  return out;
}

function field(out: string, key: string, value: number): string {
  if (!Number.isFinite(value)) return out;
  return out + (out === '' ? '' : ',') + key + '=' + String(value);
}

const INT64_LIMIT = 2 ** 63;

/** An integer field (`3i`), rounded; left out when not finite or outside int64. */
function integerField(out: string, key: string, value: number): string {
  if (!Number.isFinite(value)) return out;
  const n = Math.round(value);
  if (n >= INT64_LIMIT || n < -INT64_LIMIT) return out;
  return out + (out === '' ? '' : ',') + key + '=' + integerString(n === 0 ? 0 : n) + 'i';
}

/** How metrics become lines; the defaults are what encodeLine and encodeBatch write. */
export interface LineOptions {
  readonly precision: Precision;
  /** Counter `value` fields as integers (`3i`), as Telegraf's statsd input writes them. */
  readonly integerCounters: boolean;
}

export const DEFAULT_LINE_OPTIONS: LineOptions = { precision: 'ns', integerCounters: false };

/** integerCounters' step: a counter's `value` as an integer field, its `rate` as a float. */
function counterField(out: string, key: string, value: number): string {
  return key === 'value' ? integerField(out, key, value) : field(out, key, value);
}

/** The field set of a metric (`value=3,rate=0.3`); '' when no field has a finite value. */
export function encodeFields(m: Metric, options: LineOptions = DEFAULT_LINE_OPTIONS): string {
  return foldFields(m, '', options.integerCounters && m.kind === 'counter' ? counterField : field);
}

interface LineParts {
  /** Measurement and tags. */
  readonly head: string;
  /** The field set, `k=v` joined by commas. */
  readonly fields: string;
  /** ` <timestamp>`, or '' when the metric has none. */
  readonly ts: string;
}

function lineParts(m: Metric, options: LineOptions = DEFAULT_LINE_OPTIONS): LineParts | undefined {
  // A field of a multi-field point (src/core/metric.ts `point`) is written under its own key.
  const point = m.kind === 'gauge' ? m.point : undefined;
  const measurement = escapeMeasurement(point?.measurement ?? m.name);
  if (measurement === '') return undefined;
  const fields =
    point !== undefined
      ? field('', unreserved(escapeKey(point.field)), (m as { value: number }).value)
      : encodeFields(m, options);
  if (fields === '') return undefined;
  const ts = Number.isFinite(m.timestamp)
    ? ' ' +
      (options.precision === 'ns'
        ? timestampNs(m.timestamp)
        : formatTimestamp(m.timestamp, options.precision))
    : '';
  return { head: measurement + encodeTags(m.tags), fields, ts };
}

/**
 * Splits a field set at its separating commas. A comma preceded by a backslash is part of an
 * escaped key (keys never end in a backslash, values are numbers), exactly InfluxDB's rule.
 */
export function splitFieldSet(fields: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = fields.indexOf(','); i !== -1; i = fields.indexOf(',', i + 1)) {
    if (fields.charCodeAt(i - 1) === BACKSLASH) continue;
    out.push(fields.slice(start, i));
    start = i + 1;
  }
  out.push(fields.slice(start));
  return out;
}

/**
 * Lines of at most `maxBytes` bytes (newline included) for one point: its fields are spread
 * over several lines with the same measurement, tags and timestamp, which InfluxDB merges back
 * into one point (Telegraf's UDP output splits metrics the same way). A line with a single
 * field that is still longer stays as it is.
 */
function splitLine(parts: LineParts, maxBytes: number): string {
  const fixed = Buffer.byteLength(parts.head, 'utf8') + Buffer.byteLength(parts.ts, 'utf8') + 2;
  let out = '';
  let current = '';
  let size = fixed;
  for (const f of splitFieldSet(parts.fields)) {
    const n = Buffer.byteLength(f, 'utf8');
    if (current !== '' && size + 1 + n > maxBytes) {
      out += parts.head + ' ' + current + parts.ts + '\n';
      current = '';
      size = fixed;
    }
    size += current === '' ? n : n + 1;
    current = current === '' ? f : current + ',' + f;
  }
  return out + parts.head + ' ' + current + parts.ts + '\n';
}

/**
 * Encodes one metric at a time, for sinks that buffer metrics separately (src/sinks/influxdb).
 * Unlike encodeBatch it does not merge the fields of a multi-field point into one line: each
 * is a line of its own, and InfluxDB merges lines with the same series and time into one point.
 */
export class LineEncoder {
  constructor(
    private readonly options: LineOptions = DEFAULT_LINE_OPTIONS,
    /** Split longer lines across several (see splitLine); undefined: never split. */
    private readonly maxLineBytes?: number,
  ) {}

  /** The metric's line(s), each ending in a newline; undefined if it has nothing to write. */
  encode(m: Metric): string | undefined {
    const parts = lineParts(m, this.options);
    if (parts === undefined) return undefined;
    const line = parts.head + ' ' + parts.fields + parts.ts + '\n';
    const max = this.maxLineBytes;
    // A UTF-16 unit is at most 3 UTF-8 bytes: most lines need no byte count at all.
    if (max === undefined || line.length * 3 <= max || Buffer.byteLength(line, 'utf8') <= max) return line;
    return splitLine(parts, max);
  }
}

/** One line, without its newline; undefined if the metric cannot be encoded (empty name, no finite field). */
export function encodeLine(m: Metric): string | undefined {
  const parts = lineParts(m);
  return parts === undefined ? undefined : parts.head + ' ' + parts.fields + parts.ts;
}

export interface EncodedBatch {
  /** Newline-terminated lines. */
  readonly text: string;
  readonly lines: number;
  /** Metrics that could not be encoded (see encodeLine). */
  readonly skipped: number;
}

export function encodeBatch(batch: readonly Metric[]): EncodedBatch {
  let text = '';
  let lines = 0;
  let skipped = 0;
  // Consecutive fields of one point (same measurement, tags and time) share a line.
  let pending = '';
  let pendingTs = '';
  let pendingKey = '';
  for (const m of batch) {
    const parts = lineParts(m);
    if (parts === undefined) {
      skipped++;
      continue;
    }
    const key = m.kind === 'gauge' && m.point !== undefined ? parts.head + parts.ts : '';
    if (key !== '' && key === pendingKey) {
      pending += ',' + parts.fields;
      continue;
    }
    if (pending !== '') text += pending + pendingTs + '\n';
    pending = parts.head + ' ' + parts.fields;
    pendingTs = parts.ts;
    pendingKey = key;
    lines++;
  }
  if (pending !== '') text += pending + pendingTs + '\n';
  return { text, lines, skipped };
}
