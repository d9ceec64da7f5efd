/**
 * The Prometheus text exposition format, version 0.0.4: names, escaping, numbers, and the
 * rendering of one metric family. Pure functions; the exporter sink holds the state.
 *
 * Spec: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 * (histograms and summaries: https://prometheus.io/docs/concepts/metric_types/)
 * Checked against `promtool check metrics` (the Go expfmt parser plus promlint).
 */
import type { Quantile } from '../../core/metric.js';
import type { Tags } from '../../core/tags.js';

export type FamilyType = 'counter' | 'gauge' | 'summary' | 'histogram';

function isNameChar(c: number, allowColon: boolean): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x5f || // _
    (allowColon && c === 0x3a) // :
  );
}

function sanitize(name: string, allowColon: boolean): string {
  let clean = true;
  for (let i = 0; i < name.length; i++) {
    if (!isNameChar(name.charCodeAt(i), allowColon)) {
      clean = false;
      break;
    }
  }
  let out = name;
  if (!clean) {
    out = '';
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      if (isNameChar(c, allowColon)) {
        out += name[i];
      } else {
        out += '_';
        // One `_` per character, not per UTF-16 unit: skip the low half of a surrogate pair.
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < name.length) {
          const next = name.charCodeAt(i + 1);
          if (next >= 0xdc00 && next <= 0xdfff) i++;
        }
      }
    }
  }
  if (out === '') return '_';
  const first = out.charCodeAt(0);
  return first >= 0x30 && first <= 0x39 ? '_' + out : out;
}

/**
 * A valid metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*`: other characters become `_`, a leading digit
 * gets a `_` prefix. Exporters pass `allowColons = false`: colons are valid but reserved for
 * recording rules ("they should not be used by exporters", data model docs; promlint warns).
 */
export function sanitizeMetricName(name: string, allowColons = true): string {
  return sanitize(name, allowColons);
}

/**
 * A valid label name, `[a-zA-Z_][a-zA-Z0-9_]*`, that does not start with `__` (reserved for
 * Prometheus' internal labels): extra leading underscores are dropped.
 */
export function sanitizeLabelName(name: string): string {
  let out = sanitize(name, false);
  let start = 0;
  while (start + 1 < out.length && out.charCodeAt(start + 1) === 0x5f && out.charCodeAt(start) === 0x5f)
    start++;
  if (start > 0) out = out.slice(start);
  return out;
}

/** Counters are exposed as `<name>_total`; a name that already ends so is kept as is. */
export function counterName(name: string): string {
  return name.endsWith('_total') ? name : name + '_total';
}

/** The name a family is exposed under: counters get the `_total` suffix. */
export function familyName(sanitizedName: string, type: FamilyType): string {
  return type === 'counter' ? counterName(sanitizedName) : sanitizedName;
}

/** Every sample name a family produces; no two families may share one. */
export function sampleNames(exposedName: string, type: FamilyType): string[] {
  if (type === 'summary') return [exposedName, exposedName + '_sum', exposedName + '_count'];
  // `x` itself is no sample name, but the family holds it: a gauge `x` is a type conflict.
  if (type === 'histogram') return [exposedName + '_bucket', exposedName + '_sum', exposedName + '_count'];
  return [exposedName];
}

function escapeText(s: string, quote: boolean): string {
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c || c === 0x0a || (quote && c === 0x22)) break;
  }
  if (i === s.length) return s;
  let out = s.slice(0, i);
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (quote && c === 0x22) out += '\\"';
    else out += s[i];
  }
  return out;
}

/** Label values escape `\`, `"` and newline (as `\\`, `\"`, `\n`). */
export function escapeLabelValue(value: string): string {
  return escapeText(value, true);
}

/** HELP text escapes `\` and newline only. */
export function escapeHelp(help: string): string {
  return escapeText(help, false);
}

/**
 * A sample value as Go's ParseFloat reads it: `+Inf`, `-Inf`, `NaN`, else JavaScript's shortest
 * round-trip form, which writes integers below 1e21 in full (100000, not 1e+05).
 */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * A float as Go's `strconv.FormatFloat(v, 'g', -1, 64)` writes it, which is how client_golang
 * writes the `le` and `quantile` label values: shortest round-trip digits, in exponent form
 * (at least two exponent digits) when the exponent is below -4 or at least 6: `0.005`, `1`,
 * `2.5`, `100000`, `1e+06`, `1.5e-05`, `+Inf`. Label values are strings to Prometheus, so
 * writing them as Go exporters do keeps the series of two exporters the same.
 */
export function formatGoFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  // JavaScript's shortest round-trip digits are the same as Go's; only the layout differs.
  const e = v.toExponential();
  const at = e.indexOf('e');
  const exp = Number(e.slice(at + 1));
  if (exp >= -4 && exp < 6) return String(v);
  const abs = exp < 0 ? -exp : exp;
  return `${e.slice(0, at)}e${exp < 0 ? '-' : '+'}${abs < 10 ? '0' : ''}${abs}`;
}

/**
 * The inside of a label set, `a="x",b="y"` (no braces), from (name, value) pairs whose names are
 * already valid. Pairs with an empty value are left out: Prometheus treats `a=""` as no label.
 */
export function renderLabelPairs(pairs: readonly (readonly [string, string])[]): string {
  let out = '';
  for (const [name, value] of pairs) {
    if (value === '') continue;
    if (out !== '') out += ',';
    out += name + '="' + escapeLabelValue(value) + '"';
  }
  return out;
}

/**
 * A metric's labels for Prometheus, as (name, value) pairs: names sanitised, empty values left
 * out (Prometheus treats `a=""` as absent), sorted by the sanitised name, the first of two tags
 * that sanitise alike kept, and a tag named like the label the type itself adds (`quantile` on
 * summaries, `le` on histograms) renamed `exported_…` (Prometheus' own convention for clashing
 * labels). The exporter's page and remote write both label series with this, so they agree.
 */
export function labelPairs(tags: Tags, reserved?: 'quantile' | 'le'): [string, string][] {
  const pairs: [string, string][] = [];
  for (const [key, value] of tags) {
    if (value === '') continue;
    let name = sanitizeLabelName(key);
    if (name === reserved) name = 'exported_' + name;
    // Insertion into a sorted list: tag lists are short.
    let i = pairs.length;
    while (i > 0 && (pairs[i - 1] as [string, string])[0] > name) i--;
    if (i > 0 && (pairs[i - 1] as [string, string])[0] === name) continue;
    pairs.splice(i, 0, [name, value]);
  }
  return pairs;
}

/**
 * The (name, value) pairs of label text written by renderLabelPairs (`a="x",b="y\"z"`), values
 * unescaped: the inverse, for formats that carry labels as pairs (protobuf).
 */
export function parseLabelText(text: string): [string, string][] {
  const pairs: [string, string][] = [];
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('="', i);
    if (eq < 0) break;
    const name = text.slice(i, eq);
    let value = '';
    let j = eq + 2;
    for (; j < text.length; j++) {
      const c = text[j] as string;
      if (c === '"') break;
      if (c === '\\') {
        const next = text[++j];
        value += next === 'n' ? '\n' : (next as string);
      } else value += c;
    }
    pairs.push([name, value]);
    i = j + 2; // past the closing quote and the comma
  }
  return pairs;
}

/** The label text of `labelPairs`, `a="x",b="y"` (no braces). */
export function labelText(tags: Tags, reserved?: 'quantile' | 'le'): string {
  return tags.length === 0 ? '' : renderLabelPairs(labelPairs(tags, reserved));
}

/** One series of a counter or gauge: its label text (see renderLabelPairs) and value. */
export interface ValueSeries {
  readonly labels: string;
  readonly value: number;
  /** When the series began (ms since the epoch): OpenMetrics' `_created` of counters. */
  readonly created?: number;
}

/** One series of a summary. `count` and `sum` are the cumulative `_count` and `_sum`. */
export interface SummarySeries {
  readonly labels: string;
  readonly quantiles: readonly Quantile[];
  readonly sum: number;
  readonly count: number;
  readonly created?: number;
}

/**
 * One series of a histogram. `les` are the rendered `le` values (formatGoFloat; the last is
 * `+Inf`); `buckets` the non-cumulative counts of each bin, accumulated across intervals
 * (rendering adds them up into Prometheus' cumulative buckets); `sum` the cumulative `_sum`.
 * `_count` is written as the `+Inf` bucket, so the two always agree.
 */
export interface HistogramSeries {
  readonly labels: string;
  readonly les: readonly string[];
  readonly buckets: ArrayLike<number>;
  readonly sum: number;
  readonly created?: number;
}

export type Family =
  | {
      readonly name: string;
      readonly help: string;
      readonly type: 'histogram';
      readonly series: readonly HistogramSeries[];
    }
  | {
      readonly name: string;
      readonly help: string;
      readonly type: 'counter' | 'gauge';
      readonly series: readonly ValueSeries[];
      /** A counter exposed under its name as it is, without `_total` (statsd_exporter's names). */
      readonly keepName?: boolean;
    }
  | {
      readonly name: string;
      readonly help: string;
      readonly type: 'summary';
      readonly series: readonly SummarySeries[];
    };

function sample(name: string, labels: string, value: number): string {
  return labels === '' ? `${name} ${formatValue(value)}\n` : `${name}{${labels}} ${formatValue(value)}\n`;
}

/**
 * `# HELP`, `# TYPE` and the samples of one family, each line ending in a newline. `name` must
 * be sanitised; counters get `_total` here. No timestamps: Prometheus stamps samples with the
 * scrape time, and explicit ones would defeat its staleness handling.
 */
export function renderFamily(family: Family): string {
  const name =
    family.type === 'counter' && family.keepName === true
      ? family.name
      : familyName(family.name, family.type);
  return (
    `# HELP ${name} ${escapeHelp(family.help)}\n# TYPE ${name} ${family.type}\n` +
    samples(family, name, false)
  );
}

/**
 * The sample lines of a family under its exposed `name`: in OpenMetrics, counters' samples end in
 * `_total` and counters, summaries and histograms get `_created` (the series' start, in seconds).
 */
function samples(family: Family, name: string, openMetrics: boolean): string {
  let out = '';
  const created = (labels: string, at: number | undefined): string =>
    !openMetrics || at === undefined ? '' : sample(name + '_created', labels, Math.floor(at) / 1000);
  if (family.type === 'summary') {
    for (const s of family.series) {
      const prefix = s.labels === '' ? `${name}{quantile="` : `${name}{${s.labels},quantile="`;
      for (const q of s.quantiles) out += `${prefix}${formatGoFloat(q.quantile)}"} ${formatValue(q.value)}\n`;
      out += sample(name + '_sum', s.labels, s.sum);
      out += sample(name + '_count', s.labels, s.count);
      out += created(s.labels, s.created);
    }
  } else if (family.type === 'histogram') {
    for (const s of family.series) {
      // `le` goes last, after the sorted labels, as client_golang writes it.
      const prefix = s.labels === '' ? `${name}_bucket{le="` : `${name}_bucket{${s.labels},le="`;
      let cumulative = 0;
      for (let i = 0; i < s.les.length; i++) {
        cumulative += s.buckets[i] as number;
        out += `${prefix}${s.les[i] as string}"} ${formatValue(cumulative)}\n`;
      }
      out += sample(name + '_sum', s.labels, s.sum);
      out += sample(name + '_count', s.labels, cumulative);
      out += created(s.labels, s.created);
    }
  } else if (family.type === 'counter' && openMetrics) {
    for (const s of family.series) {
      out += sample(name + '_total', s.labels, s.value);
      out += created(s.labels, s.created);
    }
  } else {
    for (const s of family.series) out += sample(name, s.labels, s.value);
  }
  return out;
}

// ---- OpenMetrics 1.0 -------------------------------------------------------------------------

export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/**
 * How much an Accept header wants a media type (its q, 1 when unstated; 0 when it is not named).
 * `params` must all be present with these values (case-sensitive, as Prometheus writes them).
 * Only named types count: a wildcard does not make a scraper want OpenMetrics or protobuf.
 */
export function acceptQuality(
  accept: string | undefined,
  type: string,
  params: Readonly<Record<string, string>> = {},
): number {
  if (accept === undefined) return 0;
  let best = 0;
  for (const part of accept.split(',')) {
    const [t = '', ...rest] = part.split(';').map((x) => x.trim());
    if (t.toLowerCase() !== type) continue;
    let q = 1;
    const got: Record<string, string> = {};
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const key = p.slice(0, eq).trim().toLowerCase();
      const value = p.slice(eq + 1).trim();
      if (key === 'q') q = Number(value);
      else got[key] = value;
    }
    if (!Object.entries(params).every(([k, v]) => got[k] === v)) continue;
    if (q > best) best = q;
  }
  return best;
}

/** How much an Accept header wants OpenMetrics text (Prometheus offers it first by default). */
export function openMetricsQuality(accept: string | undefined): number {
  return acceptQuality(accept, 'application/openmetrics-text');
}

/** Whether an Accept header asks for OpenMetrics text at all. */
export function acceptsOpenMetrics(accept: string | undefined): boolean {
  return openMetricsQuality(accept) > 0;
}

/** The family name OpenMetrics wants: a counter's without its `_total` (its sample keeps it). */
export function openMetricsName(family: Family): string {
  const name = family.type === 'counter' ? familyName(family.name, 'counter') : family.name;
  return family.type === 'counter' ? name.slice(0, -'_total'.length) : name;
}

/** Units OpenMetrics can state, known from the name's suffix (Prometheus' base units). */
const UNITS = ['seconds', 'bytes', 'ratio', 'celsius', 'volts', 'amperes', 'joules', 'grams', 'meters'];

/**
 * One family in OpenMetrics text: HELP (quotes escaped too), TYPE, UNIT where the name ends in
 * a base unit, counters' samples as `_total`, and `_created` (the series' start, in seconds) for
 * counters, summaries and histograms.
 */
export function renderFamilyOpenMetrics(family: Family): string {
  const name = openMetricsName(family);
  let out = `# HELP ${name} ${escapeText(family.help, true)}\n# TYPE ${name} ${family.type}\n`;
  const unit = UNITS.find((u) => name.endsWith(`_${u}`));
  if (unit !== undefined) out += `# UNIT ${name} ${unit}\n`;
  return out + samples(family, name, true);
}

/**
 * Whether families can share one OpenMetrics page: there a counter `x` (samples `x_total`,
 * `x_created`) collides with a gauge `x` or a gauge `x_created`, which the text format allows.
 */
export function openMetricsConflict(families: readonly Family[]): string | undefined {
  const owners = new Map<string, string>();
  for (const f of families) {
    const name = openMetricsName(f);
    const names =
      f.type === 'counter'
        ? [name, name + '_total', name + '_created']
        : f.type === 'summary'
          ? [name, name + '_sum', name + '_count', name + '_created']
          : f.type === 'histogram'
            ? [name, name + '_bucket', name + '_sum', name + '_count', name + '_created']
            : [name];
    for (const n of names) {
      const other = owners.get(n);
      if (other !== undefined) return `${n} (${other} and ${f.name})`;
      owners.set(n, f.name);
    }
  }
  return undefined;
}
