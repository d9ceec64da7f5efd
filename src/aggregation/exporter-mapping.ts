/**
 * prometheus/statsd_exporter's mapping file, read as it is (a StatsD source's `mapping_config`,
 * its `--statsd.mapping-config`), and matched the way statsd_exporter matches it. sluice's own
 * `mappings:` (mapping.ts) differ on purpose (one order for every rule, config errors for
 * references to captures a rule lacks); this module keeps statsd_exporter's semantics so that a
 * team can point sluice at the file it already has:
 *
 *   - Glob rules are tried before regex rules, whatever their order in the file. Among globs the
 *     first in the file wins; with `defaults.glob_disable_ordering: true` the most specific one
 *     does (at the first component where two differ, a literal beats `*`).
 *   - A glob's `*` is one whole dot-separated component, possibly empty; components are
 *     `[a-zA-Z_](-?[a-zA-Z0-9_])*` and a glob has at least two of them.
 *   - Templates (`name`, label values) expand as Go's regexp.Expand does, for globs too: `$1`
 *     and `${1}` are captures, `$name`/`${name}` named groups, `$$` a `$`; `$1_foo` names a
 *     group `1_foo` (so it expands to ""), and a capture the rule lacks is "" too.
 *   - `match_metric_type`: counter, gauge, or observer (timers, histograms and distributions;
 *     `timer` is read as observer). Sets have no statsd_exporter type: only untyped rules apply.
 *   - Rule names must be valid Prometheus names with `$n` references, label names
 *     `[a-zA-Z_][a-zA-Z0-9_]+`.
 *
 * Every key of the file is checked: an unknown or unsupported key is an error naming the file,
 * line, column and key, as a bad value is.
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { NO_TAGS, type Tag, type Tags } from '../core/tags.js';
import { parseDuration } from '../config/schema.js';
import { nativeSpec, type NameMapper, type NameMapping, type ObserverSpec } from './aggregator.js';

export type ExporterMetricType = 'counter' | 'gauge' | 'observer';

export interface Objective {
  readonly quantile: number;
  readonly error: number;
}

/** A timer's (observer's) Prometheus form, as a rule or the defaults ask for it. */
export interface ObserverOptions {
  readonly type: 'histogram' | 'summary' | undefined;
  readonly buckets: readonly number[];
  readonly quantiles: readonly Objective[];
  readonly maxAgeMs: number;
  readonly ageBuckets: number;
  readonly bufCap: number;
  /** histogram_options.native_histogram_bucket_factor: above 1, a native histogram too. */
  readonly nativeFactor: number;
  /** histogram_options.native_histogram_max_buckets (0: any number). */
  readonly nativeMaxBuckets: number;
}

export interface ExporterRule {
  /** Position in the file's `mappings`. */
  readonly index: number;
  readonly match: string;
  readonly matchType: 'glob' | 'regex';
  readonly matchMetricType: ExporterMetricType | undefined;
  readonly name: string;
  /** Label name → value template, sorted by name. */
  readonly labels: readonly (readonly [string, string])[];
  readonly action: 'map' | 'drop';
  readonly honorLabels: boolean;
  readonly observer: ObserverOptions;
  /** 0: the series never expires (statsd_exporter's default without --statsd.ttl). */
  readonly ttlMs: number;
  /** The metric's HELP text, when the rule gives one. */
  readonly help: string | undefined;
}

export interface ExporterMappingFile {
  readonly file: string;
  readonly rules: readonly ExporterRule[];
  readonly globDisableOrdering: boolean;
  /** The observer options of names no rule maps (statsd_exporter applies its defaults to them). */
  readonly defaults: ObserverOptions;
  /** `defaults.ttl`, which applies to names no rule maps too (0: none). */
  readonly defaultTtlMs: number;
}

/** One problem of a mapping file, placed like the agent config's problems. */
export interface MappingFileProblem {
  readonly line: number | undefined;
  readonly column: number | undefined;
  /** `mappings[2].observer_type`, or '' for the file as a whole. */
  readonly path: string;
  readonly message: string;
}

export class MappingFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly MappingFileProblem[],
  ) {
    super(
      problems
        .map((p) => {
          const where = p.line === undefined ? file : `${file}:${p.line}:${p.column ?? 1}`;
          return p.path === '' ? `${where}: ${p.message}` : `${where}: ${p.path}: ${p.message}`;
        })
        .join('\n'),
    );
    this.name = 'MappingFileError';
  }
}

/** prometheus.DefBuckets. */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const DEFAULT_QUANTILES: readonly Objective[] = [
  { quantile: 0.5, error: 0.05 },
  { quantile: 0.9, error: 0.01 },
  { quantile: 0.99, error: 0.001 },
];

const ID = '[a-zA-Z_](-?[a-zA-Z0-9_])*';
const GLOB_LINE = new RegExp(`^(\\*\\.|${ID}\\.)+(\\*|${ID})$`);
const TEMPLATE_REF = '(\\$\\{?\\d+\\}?)';
const METRIC_NAME = new RegExp(`^([a-zA-Z_]|${TEMPLATE_REF})([a-zA-Z0-9_]|${TEMPLATE_REF})*$`);
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]+$/;

const TOP_KEYS = ['defaults', 'mappings'] as const;
const DEFAULT_KEYS = [
  'match_type',
  'glob_disable_ordering',
  'observer_type',
  'timer_type',
  'buckets',
  'quantiles',
  'histogram_options',
  'summary_options',
  'ttl',
] as const;
const MAPPING_KEYS = [
  'match',
  'help',
  'match_type',
  'match_metric_type',
  'name',
  'labels',
  'action',
  'honor_labels',
  'observer_type',
  'timer_type',
  'buckets',
  'quantiles',
  'histogram_options',
  'summary_options',
  'ttl',
] as const;
const SUMMARY_KEYS = ['quantiles', 'max_age', 'age_buckets', 'buf_cap'] as const;
const HISTOGRAM_KEYS = ['buckets', 'native_histogram_bucket_factor', 'native_histogram_max_buckets'] as const;
const OBJECTIVE_KEYS = ['quantile', 'error'] as const;

type Path = (string | number)[];

function formatPath(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}

/** Reads and checks a mapping file; throws MappingFileError (or the read's error). */
export function loadExporterMapping(file: string): ExporterMappingFile {
  return parseExporterMapping(readFileSync(file, 'utf8'), file);
}

/** Parses a mapping file's text; throws MappingFileError naming every problem with its place. */
export function parseExporterMapping(text: string, file: string): ExporterMappingFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: MappingFileProblem[] = [];
  const at = (offset: number | undefined): { line?: number; column?: number } => {
    if (offset === undefined) return {};
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
  for (const e of doc.errors)
    problems.push({
      ...at(e.pos[0]),
      line: at(e.pos[0]).line,
      column: at(e.pos[0]).column,
      path: '',
      message: `YAML syntax error: ${e.message.split('\n')[0]}`,
    });
  if (problems.length > 0) throw new MappingFileError(file, problems);
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: 0 }) as unknown;
  } catch (e) {
    throw new MappingFileError(file, [{ line: 1, column: 1, path: '', message: (e as Error).message }]);
  }
  const issues: { path: Path; key?: boolean; message: string }[] = [];
  const result = checkFile(root ?? {}, issues);
  if (issues.length > 0) {
    for (const issue of issues) {
      const node = locate(doc, issue.path, issue.key === true);
      problems.push({
        ...at(node?.range?.[0]),
        line: at(node?.range?.[0]).line,
        column: at(node?.range?.[0]).column,
        path: formatPath(issue.path),
        message: issue.message,
      });
    }
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
    throw new MappingFileError(file, problems);
  }
  return { file, ...(result as Omit<ExporterMappingFile, 'file'>) };
}

/** The node at `path` (its key node when `key`), or the nearest ancestor that exists. */
function locate(doc: Document, path: Path, key: boolean): Node | undefined {
  for (let n = path.length; n >= 0; n--) {
    const sub = path.slice(0, n);
    if (key && n === path.length && n > 0) {
      const parent = doc.getIn(sub.slice(0, -1), true) as Node | undefined;
      if (isMap(parent)) {
        const last = String(sub[sub.length - 1]);
        const pair = parent.items.find(
          (p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === last,
        );
        if (pair?.key !== undefined && pair.key !== null) return pair.key as Node;
      }
      continue;
    }
    const node = (n === 0 ? doc.contents : doc.getIn(sub, true)) as Node | undefined | null;
    if (node !== undefined && node !== null) return node;
  }
  return undefined;
}

type Issues = { path: Path; key?: boolean; message: string }[];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(
  value: Record<string, unknown>,
  known: readonly string[],
  path: Path,
  issues: Issues,
  what: string,
): void {
  for (const k of Object.keys(value))
    if (!known.includes(k))
      issues.push({
        path: [...path, k],
        key: true,
        message: `unknown or unsupported key in ${what}; known keys: ${known.join(', ')}`,
      });
}

function str(v: unknown, path: Path, issues: Issues): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  issues.push({ path, message: `expected a string, got ${JSON.stringify(v)}` });
  return undefined;
}

function bool(v: unknown, path: Path, issues: Issues): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  issues.push({ path, message: `expected true or false, got ${JSON.stringify(v)}` });
  return undefined;
}

/** A Go duration ("10m", "1h30m") or seconds; undefined when absent. */
function durationMs(v: unknown, path: Path, issues: Issues): number | undefined {
  if (v === undefined || v === null) return undefined;
  const ms = goDuration(v);
  if (ms === undefined) {
    issues.push({ path, message: `expected a duration such as "10m" or "30s", got ${JSON.stringify(v)}` });
    return undefined;
  }
  return ms;
}

/** Go's time.ParseDuration (h, m, s, ms, us, ns, combined: "1h30m"), or a plain number of seconds. */
export function goDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v * 1000 : undefined;
  if (typeof v !== 'string') return undefined;
  const text = v.trim();
  if (text === '0') return 0;
  const units: Record<string, number> = {
    h: 3_600_000,
    m: 60_000,
    s: 1000,
    ms: 1,
    us: 1e-3,
    µs: 1e-3,
    ns: 1e-6,
  };
  const part = /(\d+(?:\.\d*)?|\.\d+)(h|ms|us|µs|ns|m|s)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = part.exec(text)) !== null) {
    total += Number(m[1]) * (units[m[2] as string] as number);
    pos = part.lastIndex;
  }
  if (pos !== text.length || pos === 0) return parseDuration(text);
  return total;
}

function uint(v: unknown, path: Path, issues: Issues): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) return v;
  issues.push({ path, message: `expected a whole number >= 0, got ${JSON.stringify(v)}` });
  return undefined;
}

function buckets(v: unknown, path: Path, issues: Issues): number[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((b) => typeof b !== 'number' || Number.isNaN(b))) {
    issues.push({ path, message: 'expected a list of numbers (bucket upper bounds)' });
    return undefined;
  }
  const list = v as number[];
  for (let i = 1; i < list.length; i++)
    if (!((list[i] as number) > (list[i - 1] as number))) {
      issues.push({ path: [...path, i], message: 'bucket bounds must increase' });
      return undefined;
    }
  return list;
}

function objectives(v: unknown, path: Path, issues: Issues): Objective[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) {
    issues.push({ path, message: 'expected a list of {quantile, error}' });
    return undefined;
  }
  const out: Objective[] = [];
  v.forEach((o: unknown, i) => {
    if (!isRecord(o)) {
      issues.push({ path: [...path, i], message: 'expected {quantile, error}' });
      return;
    }
    checkKeys(o, OBJECTIVE_KEYS, [...path, i], issues, 'a quantile objective');
    const q = o.quantile;
    const e = o.error ?? 0;
    if (typeof q !== 'number' || !(q >= 0 && q <= 1))
      issues.push({ path: [...path, i, 'quantile'], message: 'expected a number in [0, 1]' });
    else if (typeof e !== 'number' || !(e >= 0 && e <= 1))
      issues.push({ path: [...path, i, 'error'], message: 'expected a number in [0, 1]' });
    else out.push({ quantile: q, error: e });
  });
  return out;
}

interface RawObserver {
  type: 'histogram' | 'summary' | undefined;
  legacyBuckets: number[] | undefined;
  legacyQuantiles: Objective[] | undefined;
  histogram:
    | {
        buckets: number[] | undefined;
        nativeFactor: number | undefined;
        nativeMaxBuckets: number | undefined;
      }
    | undefined;
  summary:
    | {
        quantiles: Objective[] | undefined;
        maxAgeMs: number | undefined;
        ageBuckets: number | undefined;
        bufCap: number | undefined;
      }
    | undefined;
}

function observerFields(o: Record<string, unknown>, path: Path, issues: Issues): RawObserver {
  const typeOf = (key: 'observer_type' | 'timer_type'): 'histogram' | 'summary' | undefined => {
    const t = o[key];
    if (t === undefined || t === null || t === '') return undefined;
    if (t === 'histogram' || t === 'summary') return t;
    issues.push({ path: [...path, key], message: `expected histogram or summary, got ${JSON.stringify(t)}` });
    return undefined;
  };
  const type = typeOf('observer_type') ?? typeOf('timer_type');
  let histogram: RawObserver['histogram'];
  if (o.histogram_options !== undefined && o.histogram_options !== null) {
    if (!isRecord(o.histogram_options))
      issues.push({ path: [...path, 'histogram_options'], message: 'expected a mapping' });
    else {
      checkKeys(
        o.histogram_options,
        HISTOGRAM_KEYS,
        [...path, 'histogram_options'],
        issues,
        'histogram_options',
      );
      const ho = o.histogram_options;
      const factor = ho.native_histogram_bucket_factor;
      const factorPath = [...path, 'histogram_options', 'native_histogram_bucket_factor'];
      if (factor !== undefined && factor !== null && (typeof factor !== 'number' || !Number.isFinite(factor)))
        issues.push({ path: factorPath, message: `expected a number, got ${JSON.stringify(factor)}` });
      histogram = {
        buckets: buckets(ho.buckets, [...path, 'histogram_options', 'buckets'], issues),
        nativeFactor: typeof factor === 'number' && Number.isFinite(factor) ? factor : undefined,
        nativeMaxBuckets: uint(
          ho.native_histogram_max_buckets,
          [...path, 'histogram_options', 'native_histogram_max_buckets'],
          issues,
        ),
      };
    }
  }
  let summary: RawObserver['summary'];
  if (o.summary_options !== undefined && o.summary_options !== null) {
    const so = o.summary_options;
    const p = [...path, 'summary_options'];
    if (!isRecord(so)) issues.push({ path: p, message: 'expected a mapping' });
    else {
      checkKeys(so, SUMMARY_KEYS, p, issues, 'summary_options');
      summary = {
        quantiles: objectives(so.quantiles, [...p, 'quantiles'], issues),
        maxAgeMs: durationMs(so.max_age, [...p, 'max_age'], issues),
        ageBuckets: uint(so.age_buckets, [...p, 'age_buckets'], issues),
        bufCap: uint(so.buf_cap, [...p, 'buf_cap'], issues),
      };
    }
  }
  return {
    type,
    legacyBuckets: buckets(o.buckets, [...path, 'buckets'], issues),
    legacyQuantiles: objectives(o.quantiles, [...path, 'quantiles'], issues),
    histogram,
    summary,
  };
}

function checkFile(root: unknown, issues: Issues): Omit<ExporterMappingFile, 'file'> | undefined {
  if (!isRecord(root)) {
    issues.push({ path: [], message: 'expected a mapping with keys defaults and mappings' });
    return undefined;
  }
  checkKeys(root, TOP_KEYS, [], issues, 'the mapping file');
  const rawDefaults = root.defaults ?? {};
  const defaults = isRecord(rawDefaults) ? rawDefaults : {};
  if (!isRecord(rawDefaults)) issues.push({ path: ['defaults'], message: 'expected a mapping' });
  checkKeys(defaults, DEFAULT_KEYS, ['defaults'], issues, 'defaults');
  const defaultMatchType = matchType(defaults.match_type, ['defaults', 'match_type'], issues) ?? 'glob';
  const globDisableOrdering =
    bool(defaults.glob_disable_ordering, ['defaults', 'glob_disable_ordering'], issues) ?? false;
  const d = observerFields(defaults, ['defaults'], issues);
  const defaultBuckets = d.histogram?.buckets ?? d.legacyBuckets;
  const defaultQuantiles = d.summary?.quantiles ?? d.legacyQuantiles;
  const defaultObserver: ObserverOptions = {
    type: d.type,
    buckets: defaultBuckets !== undefined && defaultBuckets.length > 0 ? defaultBuckets : DEFAULT_BUCKETS,
    quantiles:
      defaultQuantiles !== undefined && defaultQuantiles.length > 0 ? defaultQuantiles : DEFAULT_QUANTILES,
    maxAgeMs: d.summary?.maxAgeMs ?? 0,
    ageBuckets: d.summary?.ageBuckets ?? 0,
    bufCap: d.summary?.bufCap ?? 0,
    nativeFactor: d.histogram?.nativeFactor ?? 0,
    nativeMaxBuckets: d.histogram?.nativeMaxBuckets ?? 0,
  };
  const defaultTtl = durationMs(defaults.ttl, ['defaults', 'ttl'], issues) ?? 0;

  const rawMappings = root.mappings ?? [];
  if (!Array.isArray(rawMappings)) {
    issues.push({ path: ['mappings'], message: 'expected a list of mappings' });
    return undefined;
  }
  const rules: ExporterRule[] = [];
  rawMappings.forEach((raw: unknown, index) => {
    const path: Path = ['mappings', index];
    if (!isRecord(raw)) {
      issues.push({ path, message: 'expected a mapping with match and name' });
      return;
    }
    const before = issues.length;
    checkKeys(raw, MAPPING_KEYS, path, issues, 'a mapping');
    const match = str(raw.match, [...path, 'match'], issues);
    if (match === undefined || match === '')
      issues.push({ path: [...path, 'match'], message: 'is required' });
    const type = matchType(raw.match_type, [...path, 'match_type'], issues) ?? defaultMatchType;
    const name = str(raw.name, [...path, 'name'], issues);
    if (name === undefined || name === '')
      issues.push({
        path: [...path, 'name'],
        message: "is required (statsd_exporter: metric mapping didn't set a metric name)",
      });
    else if (!METRIC_NAME.test(name))
      issues.push({
        path: [...path, 'name'],
        message: `"${name}" is not a metric name: letters, digits and _ (not first a digit), with $n or \${n} captures`,
      });
    const action = raw.action ?? 'map';
    if (action !== 'map' && action !== 'drop')
      issues.push({
        path: [...path, 'action'],
        message: `expected map or drop, got ${JSON.stringify(action)}`,
      });
    let metricType: ExporterMetricType | undefined;
    const mmt = raw.match_metric_type;
    if (mmt !== undefined && mmt !== null && mmt !== '') {
      if (mmt === 'counter' || mmt === 'gauge' || mmt === 'observer') metricType = mmt;
      else if (mmt === 'timer') metricType = 'observer';
      else
        issues.push({
          path: [...path, 'match_metric_type'],
          message: `expected counter, gauge or observer (timer), got ${JSON.stringify(mmt)}`,
        });
    }
    const labels: [string, string][] = [];
    if (raw.labels !== undefined && raw.labels !== null) {
      if (!isRecord(raw.labels))
        issues.push({ path: [...path, 'labels'], message: 'expected a mapping of label names to values' });
      else
        for (const [k, v] of Object.entries(raw.labels)) {
          if (!LABEL_NAME.test(k))
            issues.push({ path: [...path, 'labels', k], key: true, message: `invalid label name "${k}"` });
          const value = str(v, [...path, 'labels', k], issues);
          if (value !== undefined) labels.push([k, value]);
        }
    }
    labels.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const honorLabels = bool(raw.honor_labels, [...path, 'honor_labels'], issues) ?? false;
    const help = str(raw.help, [...path, 'help'], issues);
    const o = observerFields(raw, path, issues);
    if (o.legacyQuantiles !== undefined && o.summary?.quantiles !== undefined)
      issues.push({
        path: [...path, 'quantiles'],
        message: 'quantiles given both here and in summary_options; keep only summary_options.quantiles',
      });
    if (o.legacyBuckets !== undefined && o.histogram?.buckets !== undefined)
      issues.push({
        path: [...path, 'buckets'],
        message: 'buckets given both here and in histogram_options; keep only histogram_options.buckets',
      });
    const observerType = o.type ?? defaultObserver.type;
    if (observerType === 'histogram' && o.summary !== undefined)
      issues.push({
        path: [...path, 'summary_options'],
        message: 'a histogram observer takes no summary_options',
      });
    if (observerType === 'summary' && o.histogram !== undefined)
      issues.push({
        path: [...path, 'histogram_options'],
        message: 'a summary observer takes no histogram_options',
      });
    let regexOk = true;
    if (match !== undefined && match !== '') {
      if (type === 'glob' && !GLOB_LINE.test(match))
        issues.push({
          path: [...path, 'match'],
          message: `invalid glob "${match}": dot-separated components, each * or [a-zA-Z_](-?[a-zA-Z0-9_])*, at least two`,
        });
      if (type === 'regex') regexOk = compileGoRegex(match, [...path, 'match'], issues) !== undefined;
    }
    const ttlMs = durationMs(raw.ttl, [...path, 'ttl'], issues) ?? 0;
    if (issues.length > before || !regexOk) return;
    const ruleBuckets = o.histogram?.buckets ?? o.legacyBuckets;
    const ruleQuantiles = o.summary?.quantiles ?? o.legacyQuantiles;
    rules.push({
      index,
      match: match as string,
      matchType: type,
      matchMetricType: metricType,
      name: name as string,
      labels,
      action: action as 'map' | 'drop',
      honorLabels,
      observer: {
        type: observerType,
        buckets: ruleBuckets !== undefined && ruleBuckets.length > 0 ? ruleBuckets : defaultObserver.buckets,
        quantiles:
          ruleQuantiles !== undefined && ruleQuantiles.length > 0 ? ruleQuantiles : defaultObserver.quantiles,
        maxAgeMs: o.summary?.maxAgeMs || defaultObserver.maxAgeMs,
        ageBuckets: o.summary?.ageBuckets || defaultObserver.ageBuckets,
        bufCap: o.summary?.bufCap || defaultObserver.bufCap,
        nativeFactor: o.histogram?.nativeFactor ?? defaultObserver.nativeFactor,
        nativeMaxBuckets: o.histogram?.nativeMaxBuckets ?? defaultObserver.nativeMaxBuckets,
      },
      ttlMs: ttlMs === 0 ? defaultTtl : ttlMs,
      help: help === '' ? undefined : help,
    });
  });
  return { rules, globDisableOrdering, defaults: defaultObserver, defaultTtlMs: defaultTtl };
}

function matchType(v: unknown, path: Path, issues: Issues): 'glob' | 'regex' | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (v === 'glob' || v === 'regex') return v;
  issues.push({ path, message: `expected glob or regex, got ${JSON.stringify(v)}` });
  return undefined;
}

/**
 * A Go (RE2) regex as JavaScript's: `(?P<name>` becomes `(?<name>`. RE2 refuses what has no
 * meaning (a leading repetition); JavaScript agrees on that, and its extra features (lookaround,
 * backreferences) are refused here so that a file valid for sluice is valid for statsd_exporter.
 */
function compileGoRegex(source: string, path: Path, issues: Issues): RegExp | undefined {
  if (/\(\?[=!<][^P]|\\[1-9]|\(\?<[=!]/.test(source)) {
    issues.push({
      path,
      message: `"${source}" uses lookaround or backreferences, which Go's regexp (RE2) has not`,
    });
    return undefined;
  }
  try {
    return new RegExp(source.replaceAll('(?P<', '(?<'), 'u');
  } catch (e) {
    issues.push({ path, message: `invalid regular expression: ${(e as Error).message}` });
    return undefined;
  }
}

// ---- matching --------------------------------------------------------------------------------

/**
 * Go's regexp.Expand: `$name` (the longest run of letters, digits and _), `${name}`, `$$`; a
 * numeric name is a capture number; what names nothing expands to "", and a `$` that starts no
 * name stays a `$`.
 */
export function goExpand(
  template: string,
  captures: readonly (string | undefined)[],
  named: Readonly<Record<string, string | undefined>> | undefined,
): string {
  if (!template.includes('$')) return template;
  let out = '';
  let i = 0;
  const isNameChar = (c: number): boolean =>
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
  while (i < template.length) {
    const c = template.charCodeAt(i);
    if (c !== 0x24) {
      out += template[i];
      i++;
      continue;
    }
    if (template.charCodeAt(i + 1) === 0x24) {
      out += '$';
      i += 2;
      continue;
    }
    let name = '';
    let next = i + 1;
    if (template.charCodeAt(i + 1) === 0x7b) {
      const close = template.indexOf('}', i + 2);
      const inner = close < 0 ? '' : template.slice(i + 2, close);
      if (close >= 0 && inner !== '' && [...inner].every((ch) => isNameChar(ch.charCodeAt(0)))) {
        name = inner;
        next = close + 1;
      }
    } else {
      let j = i + 1;
      while (j < template.length && isNameChar(template.charCodeAt(j))) j++;
      name = template.slice(i + 1, j);
      next = j;
    }
    if (name === '') {
      out += '$';
      i++;
      continue;
    }
    i = next;
    if (/^\d+$/.test(name)) {
      const n = Number(name);
      if (n < 1e8) out += captures[n] ?? '';
    } else out += named?.[name] ?? '';
  }
  return out;
}

const TYPE_OF: Record<string, ExporterMetricType | undefined> = {
  c: 'counter',
  g: 'gauge',
  ms: 'observer',
  h: 'observer',
  d: 'observer',
  s: undefined,
};

/** A rule's match, ready: glob components (null for `*`) or the regex. */
interface Compiled {
  readonly rule: ExporterRule;
  readonly glob: readonly (string | null)[] | null;
  readonly regex: RegExp | null;
}

/**
 * A name no rule maps, as statsd_exporter names it in Prometheus: letters, digits and `_` kept,
 * a run of `-` one `_`, any other character (code point) `_`, and a `_` before a leading digit.
 */
export function escapeMetricName(name: string): string {
  let out = '';
  let previous = '';
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    const valid =
      (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f;
    if (valid) out += ch;
    else if (!(ch === '-' && previous === '-')) out += '_';
    previous = ch;
  }
  const first = name.charCodeAt(0);
  return first >= 0x30 && first <= 0x39 ? '_' + out : out;
}

/** statsd_exporter's timers are milliseconds on the wire and seconds in Prometheus. */
export const TIMER_SCALE = 0.001;

/** What the aggregator does with observations under these options (see ObserverSpec). */
export function observerSpec(o: ObserverOptions): ObserverSpec {
  return o.type === 'histogram'
    ? {
        timerScale: TIMER_SCALE,
        histogram: o.buckets,
        percentiles: undefined,
        native: nativeSpec(o.nativeFactor, o.nativeMaxBuckets),
      }
    : {
        timerScale: TIMER_SCALE,
        histogram: undefined,
        // Quantiles as percentiles, without 0.99 * 100 = 98.99999999999999 surprises.
        percentiles: o.quantiles.map((q) => Math.round(q.quantile * 1e8) / 1e6),
      };
}

/** The result of a mapped name: what the aggregator takes, and the rule it came from. */
export class ExporterMapping implements NameMapping {
  constructor(
    readonly name: string,
    readonly tags: Tags,
    readonly honorTags: boolean,
    /** Undefined for a name no rule maps (an observation under the file's defaults). */
    readonly rule: ExporterRule | undefined,
    readonly observer: ObserverSpec | undefined,
    readonly ttlMs: number,
    readonly help?: string,
  ) {}
}

/** Matches names against a statsd_exporter mapping file, as statsd_exporter does. */
export class ExporterMapper implements NameMapper {
  private readonly globs: Compiled[] = [];
  private readonly regexes: Compiled[] = [];
  private readonly cache = new Map<string, ExporterMapping | 'drop' | null>();
  private readonly defaults: ObserverSpec;

  constructor(
    readonly mapping: ExporterMappingFile,
    private readonly cacheSize = 10_000,
  ) {
    this.defaults = observerSpec(mapping.defaults);
    for (const rule of mapping.rules) {
      if (rule.matchType === 'glob')
        this.globs.push({
          rule,
          glob: rule.match.split('.').map((p) => (p === '*' ? null : p)),
          regex: null,
        });
      else
        this.regexes.push({ rule, glob: null, regex: new RegExp(rule.match.replaceAll('(?P<', '(?<'), 'u') });
    }
  }

  map(name: string, type: string): ExporterMapping | 'drop' | undefined {
    const key = `${type}\u0000${name}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit ?? undefined;
    const result = this.lookup(name, TYPE_OF[type]);
    if (this.cache.size >= this.cacheSize) this.cache.clear();
    this.cache.set(key, result ?? null);
    return result;
  }

  /** The rule a name of this StatsD type hits (for `sluice explain`), or undefined. */
  ruleFor(name: string, type: string): ExporterRule | undefined {
    return this.find(name, TYPE_OF[type])?.rule;
  }

  private lookup(name: string, type: ExporterMetricType | undefined): ExporterMapping | 'drop' | undefined {
    const found = this.find(name, type);
    if (found === undefined) {
      // statsd_exporter escapes the names no rule maps, converts every timer to seconds and
      // applies the defaults (observer, ttl) to them.
      const escaped = escapeMetricName(name);
      return type === 'observer' || this.mapping.defaultTtlMs > 0 || escaped !== name
        ? new ExporterMapping(
            escaped,
            NO_TAGS,
            false,
            undefined,
            type === 'observer' ? this.defaults : undefined,
            this.mapping.defaultTtlMs,
          )
        : undefined;
    }
    const { rule, captures, named } = found;
    if (rule.action === 'drop') return 'drop';
    const tags: Tag[] = rule.labels.map(([k, v]) => [k, goExpand(v, captures, named)]);
    return new ExporterMapping(
      goExpand(rule.name, captures, named),
      tags.length === 0 ? NO_TAGS : tags,
      rule.honorLabels,
      rule,
      type === 'observer' ? observerSpec(rule.observer) : undefined,
      rule.ttlMs,
      rule.help,
    );
  }

  private find(
    name: string,
    type: ExporterMetricType | undefined,
  ):
    | {
        rule: ExporterRule;
        captures: readonly (string | undefined)[];
        named: Record<string, string | undefined> | undefined;
      }
    | undefined {
    const applies = (r: ExporterRule): boolean =>
      r.matchMetricType === undefined || r.matchMetricType === type;
    if (this.globs.length > 0) {
      const components = name.split('.');
      let best: Compiled | undefined;
      for (const c of this.globs) {
        if (!applies(c.rule) || !globMatches(c.glob as readonly (string | null)[], components)) continue;
        if (best === undefined) {
          best = c;
          if (!this.mapping.globDisableOrdering) break;
        } else if (
          moreSpecific(c.glob as readonly (string | null)[], best.glob as readonly (string | null)[])
        )
          best = c;
      }
      if (best !== undefined) {
        const captures: string[] = [name];
        (best.glob as readonly (string | null)[]).forEach((p, i) => {
          if (p === null) captures.push(components[i] as string);
        });
        return { rule: best.rule, captures, named: undefined };
      }
    }
    for (const c of this.regexes) {
      const m = (c.regex as RegExp).exec(name);
      if (m === null || !applies(c.rule)) continue;
      return { rule: c.rule, captures: m, named: m.groups };
    }
    return undefined;
  }
}

function globMatches(glob: readonly (string | null)[], components: readonly string[]): boolean {
  if (glob.length !== components.length) return false;
  for (let i = 0; i < glob.length; i++) {
    const p = glob[i];
    if (p !== null && p !== components[i]) return false;
  }
  return true;
}

/** Whether `a` beats `b` when ordering is off: at the first component where they differ, a literal beats `*`. */
function moreSpecific(a: readonly (string | null)[], b: readonly (string | null)[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] === null;
    const y = b[i] === null;
    if (x !== y) return !x;
  }
  return false;
}
