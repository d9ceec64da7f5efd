/**
 * Carbon's plaintext protocol: one line per value, `<path> <value> <unix seconds>\n`
 * (graphite docs, "Feeding In Your Data"; carbon's MetricLineReceiver splits each line on
 * whitespace and parses both numbers as floats).
 *
 * Each metric becomes one path per value it holds, named by its field; the names are Etsy
 * statsd's Graphite names, so dashboards built on statsd keep working:
 *
 *   gauge                 value                  (no field node unless the template asks)
 *   counter, cumulative   value                  (the same)
 *   counter, delta        count, rate            (rate per second, when the interval is known)
 *   summary (timer)       count, count_ps, sum, sum_squares, mean, lower, upper, std, median,
 *                         and per percentile P: upper_P, plus mean_P, sum_P, count_P when known
 *   histogram             count, sum, lower, upper, and bin_<le> per bin (its own count, not
 *                         cumulative; the last is bin_inf)
 *   distribution          count, sum, mean, lower, upper, and p<P> per configured percentile
 *
 * P is the percentile with `.` written `_`: 0.9 → 90, 0.999 → 99_9; a bin's bound likewise
 * (2.5 → bin_2_5). Values that are not finite (NaN, ±Infinity) are left out: carbon drops NaN
 * and whisper cannot graph infinities. Timestamps are whole seconds, rounded down.
 *
 * With `naming: tagged`, paths become Graphite 1.1 tagged series: the template builds the name,
 * and every tag it does not use is appended as `;key=value`, sorted by key.
 */
import type { Metric } from '../../core/metric.js';
import { sanitizeName, sanitizeNode, sanitizeTagKey, sanitizeTagValue } from './sanitize.js';
import type { Template } from './template.js';

export type CarbonNaming = 'path' | 'tagged';

const CACHE_SIZE = 10_000;

/** `0.9` → `90`, `0.999` → `99_9`: a percentile as a path-safe suffix. */
export function percentileLabel(q: number): string {
  // Rounding to 1e-6 of a percent hides float noise (0.999 * 100 = 99.89999999999999).
  return String(Math.round(q * 100 * 1e6) / 1e6).replace('.', '_');
}

/** A histogram bound as a field suffix: `2.5` → `2_5`, +Infinity → `inf`. */
export function boundLabel(le: number): string {
  if (le === Infinity) return 'inf';
  if (le === -Infinity) return '-inf';
  return sanitizeNode(String(le));
}

function formatValue(v: number): string {
  return v === 0 ? '0' : String(v);
}

export class CarbonEncoder {
  // Scratch lists reused for every metric: the fields of the metric being encoded.
  private readonly fieldNames: string[] = [];
  private readonly fieldValues: number[] = [];
  private readonly percentiles = new Map<number, string>();
  private readonly bounds = new Map<number, string>();
  // Names and tag values repeat every flush: sanitise each once. Swapped for a fresh map when
  // full, so a stream of unique values cannot grow it without bound.
  private nodes = new Map<string, string>();
  private names = new Map<string, string>();
  private tagKeys = new Map<string, string>();
  private tagValues = new Map<string, string>();

  constructor(
    private readonly template: Template,
    private readonly naming: CarbonNaming,
  ) {
    if (naming === 'tagged' && template.hasTags) {
      throw new Error(
        'A template for tagged series cannot use {tags}: the tags it leaves out become Graphite tags.',
      );
    }
  }

  /** The metric's lines, or undefined when it has no path or no finite value. */
  encode(metric: Metric): string | undefined {
    const single = this.collectFields(metric);
    const names = this.fieldNames;
    const values = this.fieldValues;
    if (names.length === 0) return undefined;

    // The path around the field, rendered once per metric.
    const template = this.template;
    let before = '';
    let after = '';
    let fieldSeen = false;
    for (const node of template.nodes) {
      let text: string;
      switch (node.kind) {
        case 'literal':
          text = node.text;
          break;
        case 'name':
          text = this.name(metric.name);
          break;
        case 'tag': {
          text = '';
          for (const t of metric.tags) {
            if (t[0] === node.key) {
              text = this.node(t[1]);
              break;
            }
          }
          break;
        }
        case 'tags':
          text = this.remainingTagsAsNodes(metric);
          break;
        case 'field':
          fieldSeen = true;
          continue;
      }
      if (text === '') continue;
      if (fieldSeen) after = after === '' ? text : after + '.' + text;
      else before = before === '' ? text : before + '.' + text;
    }
    const suffix = this.naming === 'tagged' ? this.graphiteTags(metric) : '';
    const withField = template.hasField || !single;
    const time = ' ' + Math.floor(metric.timestamp / 1000) + '\n';

    let out = '';
    for (let i = 0; i < names.length; i++) {
      let path = before;
      if (withField) path = path === '' ? (names[i] as string) : path + '.' + (names[i] as string);
      if (after !== '') path = path === '' ? after : path + '.' + after;
      if (path === '') continue;
      out += path + suffix + ' ' + formatValue(values[i] as number) + time;
    }
    return out === '' ? undefined : out;
  }

  /** Fills the scratch lists with the metric's finite values; true for single-valued kinds. */
  private collectFields(m: Metric): boolean {
    this.fieldNames.length = 0;
    this.fieldValues.length = 0;
    switch (m.kind) {
      case 'gauge':
        this.add('value', m.value);
        return true;
      case 'counter':
        if (m.temporality === 'cumulative') {
          this.add('value', m.value);
          return true;
        }
        this.add('count', m.value);
        if (m.intervalMs > 0) this.add('rate', (m.value * 1000) / m.intervalMs);
        return false;
      case 'summary': {
        const s = m.summary;
        this.add('count', s.count);
        if (m.intervalMs > 0) this.add('count_ps', (s.count * 1000) / m.intervalMs);
        this.add('sum', s.sum);
        this.add('sum_squares', s.sumSquares);
        this.add('mean', s.mean);
        this.add('lower', s.min);
        this.add('upper', s.max);
        this.add('std', s.stdev);
        this.add('median', s.median);
        for (const q of s.quantiles) {
          const p = this.percentile(q.quantile);
          this.add('upper_' + p, q.value);
          if (q.mean !== undefined) this.add('mean_' + p, q.mean);
          if (q.sum !== undefined) this.add('sum_' + p, q.sum);
          if (q.count !== undefined) this.add('count_' + p, q.count);
        }
        return false;
      }
      case 'histogram': {
        const h = m.histogram;
        this.add('count', h.count);
        this.add('sum', h.sum);
        this.add('lower', h.min);
        this.add('upper', h.max);
        for (const bin of h.bins) this.add('bin_' + this.bound(bin.le), bin.count);
        return false;
      }
      case 'distribution': {
        const d = m.distribution;
        this.add('count', d.count);
        this.add('sum', d.sum);
        if (d.count > 0) this.add('mean', d.sum / d.count);
        this.add('lower', d.min);
        this.add('upper', d.max);
        for (const q of d.quantiles) this.add('p' + this.percentile(q.quantile), q.value);
        return false;
      }
    }
  }

  private add(name: string, value: number): void {
    if (!Number.isFinite(value)) return;
    this.fieldNames.push(name);
    this.fieldValues.push(value);
  }

  private node(value: string): string {
    let out = this.nodes.get(value);
    if (out === undefined) {
      out = sanitizeNode(value);
      if (this.nodes.size >= CACHE_SIZE) this.nodes = new Map();
      this.nodes.set(value, out);
    }
    return out;
  }

  private tagKey(value: string): string {
    let out = this.tagKeys.get(value);
    if (out === undefined) {
      out = sanitizeTagKey(value);
      if (this.tagKeys.size >= CACHE_SIZE) this.tagKeys = new Map();
      this.tagKeys.set(value, out);
    }
    return out;
  }

  private tagValue(value: string): string {
    let out = this.tagValues.get(value);
    if (out === undefined) {
      out = sanitizeTagValue(value);
      if (this.tagValues.size >= CACHE_SIZE) this.tagValues = new Map();
      this.tagValues.set(value, out);
    }
    return out;
  }

  private name(value: string): string {
    let out = this.names.get(value);
    if (out === undefined) {
      out = sanitizeName(value);
      if (this.names.size >= CACHE_SIZE) this.names = new Map();
      this.names.set(value, out);
    }
    return out;
  }

  private percentile(q: number): string {
    let label = this.percentiles.get(q);
    if (label === undefined) {
      label = percentileLabel(q);
      this.percentiles.set(q, label);
    }
    return label;
  }

  private bound(le: number): string {
    let label = this.bounds.get(le);
    if (label === undefined) {
      label = boundLabel(le);
      this.bounds.set(le, label);
    }
    return label;
  }

  /** `{tags}`: the values of the tags the template does not name, in key order. */
  private remainingTagsAsNodes(m: Metric): string {
    const used = this.template.usedKeys;
    let out = '';
    for (const t of m.tags) {
      if (used.has(t[0])) continue;
      const node = this.node(t[1]);
      if (node !== '') out = out === '' ? node : out + '.' + node;
    }
    return out;
  }

  /** `;k=v` for every tag the template does not name, sorted by (sanitised) key, keys unique. */
  private graphiteTags(m: Metric): string {
    const used = this.template.usedKeys;
    let out = '';
    let last = '';
    for (const t of m.tags) {
      if (used.has(t[0])) continue;
      const key = this.tagKey(t[0]);
      const value = this.tagValue(t[1]);
      if (key === '' || value === '') continue;
      // Tags arrive sorted; sanitising (or renaming `name`) may unsort them or make two equal.
      if (key <= last) return this.graphiteTagsResorted(m);
      last = key;
      out += ';' + key + '=' + value;
    }
    return out;
  }

  /** The rare case: sort after sanitising, keeping the first of equal keys. */
  private graphiteTagsResorted(m: Metric): string {
    const pairs: [string, string][] = [];
    for (const t of m.tags) {
      if (this.template.usedKeys.has(t[0])) continue;
      const key = this.tagKey(t[0]);
      const value = this.tagValue(t[1]);
      if (key !== '' && value !== '') pairs.push([key, value]);
    }
    pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    let out = '';
    let previous = '';
    for (const [key, value] of pairs) {
      if (key === previous) continue;
      previous = key;
      out += ';' + key + '=' + value;
    }
    return out;
  }
}
