/**
 * Prometheus text exposition format parser (format 0.0.4, as client libraries and exporters
 * print it: https://prometheus.io/docs/instrumenting/exposition_formats/), for commands that
 * print it. The inverse of src/protocols/prometheus/text.ts's renderFamily; it lives with its
 * only user until a second one (a scraping source) wants it in src/protocols/prometheus/.
 *
 *   # HELP http_requests_total Requests served.
 *   # TYPE http_requests_total counter
 *   http_requests_total{code="200",path="/a b"} 1027 1395066363000
 *
 * Each sample becomes one metric named as the sample (`_total`, `_sum`, `_bucket` suffixes
 * kept), with its labels as tags and its `# HELP` text as help:
 * - in a `counter` family: a cumulative counter;
 * - in a `gauge` or `untyped` family, or one without `# TYPE`: a gauge;
 * - in a `summary`: the `{quantile="…"}` samples are gauges; `_sum` and `_count` cumulative
 *   counters (Prometheus summaries are running totals, not the model's per-interval summaries);
 * - in a `histogram`: `_bucket{le="…"}` (cumulative, as written), `_sum` and `_count` are
 *   cumulative counters.
 * Values are Go floats: decimals, `NaN`, `+Inf`, `-Inf`. Timestamps are integer milliseconds;
 * a sample without one takes `now`. Other comments are skipped. Nothing here throws on input.
 */
import { isUtf8 } from 'node:buffer';
import type { Metric } from '../../core/metric.js';
import { makeTags, type Tag } from '../../core/tags.js';

/** Why a line was dropped. A closed set: each is a self-metric label and documented. */
export const PROMETHEUS_REJECT_REASONS = [
  'invalid_utf8',
  'bad_metadata',
  'bad_name',
  'bad_labels',
  'bad_value',
  'bad_timestamp',
] as const;
export type PrometheusRejectReason = (typeof PROMETHEUS_REJECT_REASONS)[number];

export type PrometheusReject = (
  reason: PrometheusRejectReason,
  buf: Buffer,
  start: number,
  end: number,
) => void;

type FamilyType = 'counter' | 'gauge' | 'summary' | 'histogram' | 'untyped';
const FAMILY_TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'summary', 'histogram', 'untyped']);

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
const TIMESTAMP = /^-?\d{1,16}$/;
/** Largest |ms| a Date can hold. */
const MAX_MS = 8.64e15;
const SUFFIXES = ['_total', '_sum', '_count', '_bucket', '_created'] as const;

/** Go's strconv.ParseFloat spellings that the exposition format uses. */
function parseValue(raw: string): number | undefined {
  if (FLOAT.test(raw)) return Number(raw);
  switch (raw.toLowerCase()) {
    case 'nan':
      return NaN;
    case '+inf':
    case 'inf':
      return Infinity;
    case '-inf':
      return -Infinity;
    default:
      return undefined;
  }
}

/** `\\`, `\"` and `\n` in label values (`quote`); `\\` and `\n` in help text. */
function unescape(s: string, quote: boolean): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '\\' && i + 1 < s.length) {
      const n = s[i + 1];
      if (n === 'n') {
        out += '\n';
        i++;
        continue;
      }
      if (n === '\\' || (quote && n === '"')) {
        out += n;
        i++;
        continue;
      }
    }
    out += c;
  }
  return out;
}

interface FamilyInfo {
  type: FamilyType;
  help: string | undefined;
}

/** The state of one exposition (families declared so far), parsed line by line. */
class Exposition {
  private readonly families = new Map<string, FamilyInfo>();

  constructor(
    private readonly now: number,
    private readonly out: Metric[],
  ) {}

  private family(name: string): FamilyInfo {
    let f = this.families.get(name);
    if (f === undefined) {
      f = { type: 'untyped', help: undefined };
      this.families.set(name, f);
    }
    return f;
  }

  /** `# HELP` / `# TYPE`; other comments are skipped. */
  comment(line: string): PrometheusRejectReason | undefined {
    const m = /^#[ \t]+(HELP|TYPE)[ \t]+([^ \t]+)(?:[ \t]+([^]*))?$/.exec(line);
    if (m === null) return undefined;
    const name = m[2] as string;
    const rest = m[3] ?? '';
    if (!METRIC_NAME.test(name)) return 'bad_metadata';
    if (m[1] === 'HELP') {
      this.family(name).help = unescape(rest, false);
      return undefined;
    }
    const type = rest.trim();
    if (!FAMILY_TYPES.has(type)) return 'bad_metadata';
    this.family(name).type = type as FamilyType;
    return undefined;
  }

  /** The family a sample name belongs to: itself, or itself less a summary/histogram suffix. */
  private familyOf(name: string): { base: string; info: FamilyInfo | undefined } {
    const exact = this.families.get(name);
    if (exact !== undefined) return { base: name, info: exact };
    for (const suffix of SUFFIXES) {
      if (name.endsWith(suffix)) {
        const base = name.slice(0, -suffix.length);
        const info = this.families.get(base);
        if (info !== undefined) return { base, info };
      }
    }
    return { base: name, info: undefined };
  }

  sample(line: string): PrometheusRejectReason | undefined {
    let i = 0;
    while (i < line.length && !' \t{'.includes(line[i] as string)) i++;
    const name = line.slice(0, i);
    if (!METRIC_NAME.test(name)) return 'bad_name';
    const labels: Tag[] = [];
    if (line[i] === '{') {
      i = this.labels(line, i + 1, labels);
      if (i < 0) return 'bad_labels';
    }
    const rest = line
      .slice(i)
      .trim()
      .split(/[ \t]+/);
    if (rest.length < 1 || rest.length > 2 || rest[0] === '') return 'bad_value';
    const value = parseValue(rest[0] as string);
    if (value === undefined) return 'bad_value';
    let timestamp = this.now;
    if (rest.length === 2) {
      const raw = rest[1] as string;
      if (!TIMESTAMP.test(raw)) return 'bad_timestamp';
      timestamp = Number(raw);
      if (Math.abs(timestamp) > MAX_MS) return 'bad_timestamp';
    }
    const tags = makeTags(labels);
    if (tags.length !== labels.length) return 'bad_labels';
    const { base, info } = this.familyOf(name);
    const type = info?.type ?? 'untyped';
    const help = info?.help;
    const cumulative =
      type === 'counter' ||
      (type === 'histogram' && name !== base) ||
      (type === 'summary' && (name === base + '_sum' || name === base + '_count'));
    const m: Metric = cumulative
      ? { kind: 'counter', temporality: 'cumulative', name, tags, value, intervalMs: 0, timestamp }
      : { kind: 'gauge', name, tags, value, timestamp };
    this.out.push(help === undefined ? m : { ...m, help });
    return undefined;
  }

  /** Reads `name="value",...}` from `i`; returns the index after `}`, or -1. */
  private labels(line: string, i: number, out: Tag[]): number {
    for (;;) {
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (line[i] === '}') return i + 1;
      const eq = line.indexOf('=', i);
      if (eq < 0) return -1;
      const key = line.slice(i, eq).trim();
      if (!LABEL_NAME.test(key)) return -1;
      i = eq + 1;
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (line[i] !== '"') return -1;
      let j = i + 1;
      for (; j < line.length; j++) {
        const c = line[j];
        if (c === '\\') j++;
        else if (c === '"') break;
      }
      if (j >= line.length) return -1;
      out.push([key, unescape(line.slice(i + 1, j), true)]);
      i = j + 1;
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') return -1;
    }
  }
}

/**
 * Parses one exposition into metrics appended to `out`. Returns the number of lines that were
 * neither blank nor comments (HELP and TYPE lines count; they can be rejected too).
 */
export function parsePrometheusText(
  buf: Buffer,
  now: number,
  out: Metric[],
  reject: PrometheusReject,
): number {
  const expo = new Exposition(now, out);
  const checkLines = !isUtf8(buf);
  let lines = 0;
  let pos = 0;
  while (pos < buf.length) {
    let eol = buf.indexOf(0x0a, pos);
    if (eol < 0) eol = buf.length;
    let start = pos;
    let end = eol;
    pos = eol + 1;
    while (start < end && (buf[start] === 0x20 || buf[start] === 0x09)) start++;
    if (end > start && buf[end - 1] === 0x0d) end--;
    const isComment = buf[start] === 0x23;
    // Help text keeps its trailing blanks, as Prometheus reads it; samples do not need them.
    if (!isComment) while (end > start && (buf[end - 1] === 0x20 || buf[end - 1] === 0x09)) end--;
    if (start === end) continue;
    if (checkLines && !isUtf8(buf.subarray(start, end))) {
      lines++;
      reject('invalid_utf8', buf, start, end);
      continue;
    }
    const line = buf.toString('utf8', start, end);
    let reason: PrometheusRejectReason | undefined;
    if (isComment) {
      if (!/^#[ \t]+(HELP|TYPE)[ \t]/.test(line)) continue;
      reason = expo.comment(line);
    } else {
      reason = expo.sample(line);
    }
    lines++;
    if (reason !== undefined) reject(reason, buf, start, end);
  }
  return lines;
}
