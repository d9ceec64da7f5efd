/**
 * InfluxDB line protocol parser: the inverse of line.ts, for input (a command's output, say).
 *
 *   measurement[,tag=value...] field=value[,field=value...] [timestamp]
 *
 * Spec: https://docs.influxdata.com/influxdb/v2/reference/syntax/line-protocol/. Escapes follow
 * InfluxDB's own unescaping (models/points.go): in a measurement `\,` and `\ `; in tag keys,
 * tag values and field keys also `\=`; in string fields `\"` and `\\`. A backslash before any
 * other character is a literal backslash, which is what line.ts writes for one.
 *
 * Field values: floats (`1.5`, `-2e3`), integers (`5i`), unsigned integers (`5u`) and booleans
 * (`t`, `true`, `F`, ...; 1 or 0) become gauges; string fields have no place in the metric
 * model and are left out (a line with nothing but strings is rejected, `no_numeric_field`).
 * Integers beyond 2^53 lose precision, as every value in the model is a float.
 *
 * Naming, so that line.ts writes the same point back: the field `value` is the measurement
 * itself (`load value=1` → gauge `load`, which line.ts writes as `load value=1`); any other
 * field is `measurement.field`, with `point` set so line.ts writes it back as a field of one
 * point. Timestamps are nanoseconds (the default precision) and are truncated to milliseconds;
 * a line without one takes `now`. Lines starting with `#` are comments.
 *
 * Nothing here throws on input: every non-blank line is either metrics or a counted rejection.
 */
import { isUtf8 } from 'node:buffer';
import type { GaugeMetric, Metric } from '../../core/metric.js';
import { makeTags, type Tag } from '../../core/tags.js';

/** Why a line was dropped. A closed set: each is a self-metric label and documented. */
export const INFLUX_REJECT_REASONS = [
  'invalid_utf8',
  'missing_measurement',
  'bad_tag',
  'missing_fields',
  'bad_field',
  'bad_value',
  'bad_timestamp',
  'no_numeric_field',
] as const;
export type InfluxRejectReason = (typeof INFLUX_REJECT_REASONS)[number];

/** Receives each rejected line as the byte range [start, end) of the input. */
export type InfluxReject = (reason: InfluxRejectReason, buf: Buffer, start: number, end: number) => void;

const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const SPACE = 0x20;
const TAB = 0x09;
const EQUALS = 0x3d;
const QUOTE = 0x22;

/** Timestamps are signed 64-bit nanoseconds (years 1677 to 2262). */
const MAX_NS = 2n ** 63n - 1n;

const FLOAT = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
const INTEGER = /^[-+]?\d+i$/;
const UNSIGNED = /^\d+u$/;
const TRUE = new Set(['t', 'T', 'true', 'True', 'TRUE']);
const FALSE = new Set(['f', 'F', 'false', 'False', 'FALSE']);
const TIMESTAMP = /^-?\d{1,19}$/;

class LineError extends Error {
  constructor(readonly reason: InfluxRejectReason) {
    super(reason);
  }
}

/** A cursor over one line; `token` reads up to an unescaped stop character. */
class Scanner {
  i = 0;
  constructor(readonly s: string) {}

  /**
   * Reads an escaped token until one of the stop characters (unescaped) or the end. `equals`:
   * `=` is both a stop and escapable (keys); otherwise only `,` and space are.
   */
  token(stopAtEquals: boolean, escapeEquals: boolean): string {
    const s = this.s;
    let out = '';
    let from = this.i;
    let i = this.i;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === BACKSLASH && i + 1 < s.length) {
        const n = s.charCodeAt(i + 1);
        if (n === COMMA || n === SPACE || (escapeEquals && n === EQUALS)) {
          out += s.slice(from, i);
          from = i + 1;
          i++;
        }
        continue;
      }
      if (c === COMMA || c === SPACE || c === TAB || (stopAtEquals && c === EQUALS)) break;
    }
    this.i = i;
    return out + s.slice(from, i);
  }

  /** A quoted string field (the opening quote at `i`); undefined when it is not closed. */
  quoted(): string | undefined {
    const s = this.s;
    let out = '';
    let i = this.i + 1;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === BACKSLASH && i + 1 < s.length) {
        const n = s.charCodeAt(i + 1);
        if (n === QUOTE || n === BACKSLASH) {
          out += s[i + 1];
          i++;
          continue;
        }
      }
      if (c === QUOTE) {
        this.i = i + 1;
        return out;
      }
      out += s[i];
    }
    return undefined;
  }

  /** A bare field value, up to `,` or whitespace. */
  bare(): string {
    const s = this.s;
    let i = this.i;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c === COMMA || c === SPACE || c === TAB) break;
      i++;
    }
    const out = s.slice(this.i, i);
    this.i = i;
    return out;
  }

  peek(): number {
    return this.i < this.s.length ? this.s.charCodeAt(this.i) : -1;
  }

  skipBlanks(): number {
    const from = this.i;
    while (this.i < this.s.length && (this.peek() === SPACE || this.peek() === TAB)) this.i++;
    return this.i - from;
  }
}

/** The numeric value of a field, NaN for a string field; throws bad_value when it is neither. */
function fieldValue(sc: Scanner): number {
  if (sc.peek() === QUOTE) {
    if (sc.quoted() === undefined) throw new LineError('bad_value');
    return NaN;
  }
  const raw = sc.bare();
  let v: number;
  if (FLOAT.test(raw)) v = Number(raw);
  else if (INTEGER.test(raw) || UNSIGNED.test(raw)) v = Number(raw.slice(0, -1));
  else if (TRUE.has(raw)) v = 1;
  else if (FALSE.has(raw)) v = 0;
  else throw new LineError('bad_value');
  // 1e999 parses as Infinity; InfluxDB refuses it, and so do the sinks.
  if (!Number.isFinite(v)) throw new LineError('bad_value');
  return v;
}

function timestampMs(raw: string): number {
  if (!TIMESTAMP.test(raw)) throw new LineError('bad_timestamp');
  const ns = BigInt(raw);
  if (ns > MAX_NS || ns < -MAX_NS - 1n) throw new LineError('bad_timestamp');
  return Number(ns / 1_000_000n);
}

/** Parses one line (no newline, not blank, not a comment) into `out`. */
function parseLine(s: string, now: number, out: Metric[]): void {
  const sc = new Scanner(s);
  const measurement = sc.token(false, false);
  if (measurement === '') throw new LineError('missing_measurement');
  const tags: Tag[] = [];
  while (sc.peek() === COMMA) {
    sc.i++;
    const key = sc.token(true, true);
    if (key === '' || sc.peek() !== EQUALS) throw new LineError('bad_tag');
    sc.i++;
    const value = sc.token(false, true);
    if (value === '') throw new LineError('bad_tag');
    tags.push([key, value]);
  }
  if (sc.skipBlanks() === 0 || sc.i >= s.length) throw new LineError('missing_fields');
  const names: string[] = [];
  const values: number[] = [];
  for (;;) {
    const key = sc.token(true, true);
    if (key === '' || sc.peek() !== EQUALS) throw new LineError('bad_field');
    sc.i++;
    const v = fieldValue(sc);
    // A repeated key: the last one wins, as InfluxDB stores it.
    const seen = names.indexOf(key);
    if (seen >= 0) {
      names.splice(seen, 1);
      values.splice(seen, 1);
    }
    names.push(key);
    values.push(v);
    if (sc.peek() !== COMMA) break;
    sc.i++;
  }
  let timestamp = now;
  if (sc.skipBlanks() > 0 && sc.i < s.length) {
    timestamp = timestampMs(sc.bare());
    sc.skipBlanks();
  }
  if (sc.i < s.length) throw new LineError(sc.peek() === COMMA ? 'bad_field' : 'bad_timestamp');

  let numeric = 0;
  let lastNumeric = '';
  for (let k = 0; k < values.length; k++) {
    if (Number.isNaN(values[k])) continue;
    numeric++;
    lastNumeric = names[k] as string;
  }
  if (numeric === 0) throw new LineError('no_numeric_field');
  const sorted = makeTags(tags);
  // String fields are dropped, so `m value=1,s="x"` is the plain gauge `m` too.
  const single = numeric === 1 && lastNumeric === 'value';
  for (let k = 0; k < names.length; k++) {
    const value = values[k] as number;
    if (Number.isNaN(value)) continue;
    const field = names[k] as string;
    const m: GaugeMetric = single
      ? { kind: 'gauge', name: measurement, tags: sorted, value, timestamp }
      : {
          kind: 'gauge',
          name: field === 'value' ? measurement : measurement + '.' + field,
          tags: sorted,
          value,
          timestamp,
          point: { measurement, field },
        };
    out.push(m);
  }
}

/**
 * Parses every line of `buf` (`\n`-separated, a trailing `\r` tolerated; blank lines and `#`
 * comments skipped) into gauges appended to `out`. Returns the number of lines that were
 * neither blank nor comments.
 */
export function parseInfluxLines(buf: Buffer, now: number, out: Metric[], reject: InfluxReject): number {
  const checkLines = !isUtf8(buf);
  let lines = 0;
  let pos = 0;
  while (pos < buf.length) {
    let eol = buf.indexOf(0x0a, pos);
    if (eol < 0) eol = buf.length;
    let start = pos;
    let end = eol;
    pos = eol + 1;
    while (start < end && (buf[start] === SPACE || buf[start] === TAB)) start++;
    while (end > start && (buf[end - 1] === 0x0d || buf[end - 1] === SPACE || buf[end - 1] === TAB)) end--;
    if (start === end || buf[start] === 0x23) continue;
    lines++;
    if (checkLines && !isUtf8(buf.subarray(start, end))) {
      reject('invalid_utf8', buf, start, end);
      continue;
    }
    const mark = out.length;
    try {
      parseLine(buf.toString('utf8', start, end), now, out);
    } catch (e) {
      if (!(e instanceof LineError)) throw e;
      out.length = mark;
      reject(e.reason, buf, start, end);
    }
  }
  return lines;
}
