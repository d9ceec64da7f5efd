/**
 * The console sink's output formats, as pure functions of a batch. Each returns one string of
 * newline-terminated lines, one line per metric.
 *
 * text, for people:
 *   2026-11-21T12:00:00.000Z counter foobar{env=prod,host=web1} value=3 rate=0.3
 *   2026-11-21T12:00:00.000Z summary api.latency{route=/a} count=4 sum=10 mean=2.5 … p90=4
 *   2026-11-21T12:00:00.000Z histogram req.size count=6 sum=21 … le_1=2 le_2.5=3 le_inf=6
 *   2026-11-21T12:00:00.000Z distribution db.latency count=5 sum=110 … median=3 p90=100
 * Field names are those of the Influx encoder (src/protocols/fields.ts): quantiles p90, p99_9,
 * Etsy's per-percentile statistics p90_count, p90_sum, p90_mean; histogram bins le_<bound>,
 * cumulative (observations at or below the bound, so le_inf = count), as in Prometheus and the
 * Influx lines. A tag key, tag value or name that is empty or holds a space, `,`, `=`, `{`, `}`,
 * `"`, `\` or a control character is written as a JSON string, so every line stays one
 * unambiguous line.
 *
 * json, for jq: each metric as the model holds it (src/core/metric.ts), with the tags as an
 * object; NaN and infinities become null, as JSON has no such numbers, except the last
 * histogram bin's `le`, written "+Inf". Histogram bins are the model's: not cumulative.
 */
import type { Event } from '../../core/event.js';
import type { Batch, Metric, Quantile } from '../../core/metric.js';
import type { Tags } from '../../core/tags.js';
import { foldFields } from '../../protocols/fields.js';

function needsQuotes(s: string): boolean {
  if (s === '') return true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (
      c <= 0x20 ||
      c === 0x7f ||
      c === 0x2c || // ,
      c === 0x3d || // =
      c === 0x7b || // {
      c === 0x7d || // }
      c === 0x22 || // "
      c === 0x5c // \
    )
      return true;
  }
  return false;
}

function readable(s: string): string {
  return needsQuotes(s) ? JSON.stringify(s) : s;
}

function readableTags(tags: Tags): string {
  if (tags.length === 0) return '';
  let out = '{';
  for (let i = 0; i < tags.length; i++) {
    const [k, v] = tags[i] as readonly [string, string];
    out += (i === 0 ? '' : ',') + readable(k) + '=' + readable(v);
  }
  return out + '}';
}

function isoTime(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms);
}

/** Unlike the line and JSON encoders, the text keeps non-finite values: NaN says "no data". */
function textField(out: string, key: string, value: number): string {
  return out + ' ' + key + '=' + value;
}

export function formatTextLine(m: Metric, time: string): string {
  return foldFields(m, time + ' ' + m.kind + ' ' + readable(m.name) + readableTags(m.tags), textField);
}

export function formatText(batch: Batch): string {
  let out = '';
  // Metrics of one flush share a timestamp: format it once.
  let lastMs = NaN;
  let lastTime = '';
  for (const m of batch) {
    if (m.timestamp !== lastMs) {
      lastMs = m.timestamp;
      lastTime = isoTime(m.timestamp);
    }
    out += formatTextLine(m, lastTime) + '\n';
  }
  return out;
}

function tagsObject(tags: Tags): Record<string, string> {
  // No prototype, so a tag named __proto__ is an ordinary key.
  const out = Object.create(null) as Record<string, string>;
  for (const [k, v] of tags) out[k] = v;
  return out;
}

/** Built field by field so the key order is the same whatever object the source built. */
export function formatJsonLine(m: Metric): string {
  const tags = tagsObject(m.tags);
  switch (m.kind) {
    case 'counter':
      return JSON.stringify({
        name: m.name,
        kind: m.kind,
        temporality: m.temporality,
        tags,
        timestamp: m.timestamp,
        value: m.value,
        intervalMs: m.intervalMs,
        help: m.help,
      });
    case 'gauge':
      return JSON.stringify({
        name: m.name,
        kind: m.kind,
        tags,
        timestamp: m.timestamp,
        value: m.value,
        help: m.help,
        point: m.point,
      });
    case 'summary': {
      const s = m.summary;
      const summary = {
        count: s.count,
        samples: s.samples,
        sum: s.sum,
        weightedSum: s.weightedSum,
        sumSquares: s.sumSquares,
        min: s.min,
        max: s.max,
        mean: s.mean,
        median: s.median,
        stdev: s.stdev,
        quantiles: s.quantiles.map(jsonQuantile),
      };
      return jsonWithStats(m, tags, 'summary', summary);
    }
    case 'histogram': {
      const h = m.histogram;
      const histogram = {
        count: h.count,
        sum: h.sum,
        min: h.min,
        max: h.max,
        bins: h.bins.map((b) => ({
          le: b.le === Infinity ? '+Inf' : b.le,
          count: b.count,
          sum: b.sum,
          min: b.min,
          max: b.max,
        })),
      };
      return jsonWithStats(m, tags, 'histogram', histogram);
    }
    case 'distribution': {
      const d = m.distribution;
      const distribution = {
        count: d.count,
        sum: d.sum,
        min: d.min,
        max: d.max,
        relativeAccuracy: d.relativeAccuracy,
        quantiles: d.quantiles.map(jsonQuantile),
      };
      return jsonWithStats(m, tags, 'distribution', distribution);
    }
  }
}

/** The line of a kind that carries one statistics object, under the kind's name. */
function jsonWithStats(
  m: Metric & { intervalMs: number },
  tags: Record<string, string>,
  key: string,
  stats: object,
): string {
  return JSON.stringify({
    name: m.name,
    kind: m.kind,
    tags,
    timestamp: m.timestamp,
    intervalMs: m.intervalMs,
    [key]: stats,
    help: m.help,
  });
}

/** A quantile with Etsy's per-percentile statistics when it has them (undefined keys are left out). */
function jsonQuantile(q: Quantile): Quantile {
  return { quantile: q.quantile, value: q.value, count: q.count, sum: q.sum, mean: q.mean };
}

export function formatJson(batch: Batch): string {
  let out = '';
  for (const m of batch) out += formatJsonLine(m) + '\n';
  return out;
}

/** One event as a JSON object, the same shape as the model (tags as an object). */
export function formatEventJson(e: Event): string {
  return JSON.stringify({ ...e, tags: tagsObject(e.tags) });
}

const SERVICE_STATUS = ['ok', 'warning', 'critical', 'unknown'] as const;

/**
 * One readable line per event: `<time> event "title" alert_type=error {tags} text` or
 * `<time> service_check name status=critical {tags} message`. Strings are JSON-quoted so a
 * newline in a text cannot forge another line.
 */
export function formatEventText(e: Event): string {
  const tags = e.tags.map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join(',');
  const time = isoTime(e.timestamp);
  if (e.kind === 'service_check') {
    let line = `${time} service_check ${JSON.stringify(e.name)} status=${SERVICE_STATUS[e.status]} {${tags}}`;
    if (e.message !== undefined) line += ` message=${JSON.stringify(e.message)}`;
    return line;
  }
  let line = `${time} event ${JSON.stringify(e.title)}`;
  if (e.alertType !== undefined) line += ` alert_type=${e.alertType}`;
  if (e.priority !== undefined) line += ` priority=${e.priority}`;
  if (e.sourceType !== undefined) line += ` source_type=${JSON.stringify(e.sourceType)}`;
  if (e.aggregationKey !== undefined) line += ` aggregation_key=${JSON.stringify(e.aggregationKey)}`;
  return `${line} {${tags}} text=${JSON.stringify(e.text)}`;
}

/** Events one per line: JSON objects for the json format, readable lines otherwise. */
export function formatEvents(events: readonly Event[], json: boolean): string {
  let text = '';
  for (const e of events) text += (json ? formatEventJson(e) : formatEventText(e)) + '\n';
  return text;
}
