/**
 * The console sink's output formats, as pure functions of a batch. Each returns one string of
 * newline-terminated lines, one line per metric.
 *
 * text, for people:
 *   2026-11-21T12:00:00.000Z counter foobar{env=prod,host=web1} value=3 rate=0.3
 *   2026-11-21T12:00:00.000Z summary api.latency{route=/a} count=4 sum=10 mean=2.5 … p90=4
 * Summary fields and quantile names are those of the Influx encoder (p90, p99_9). A tag key,
 * tag value or name that is empty or holds a space, `,`, `=`, `{`, `}`, `"`, `\` or a control
 * character is written as a JSON string, so every line stays one unambiguous line.
 *
 * json, for jq: each metric as the model holds it (src/core/metric.ts), with the tags as an
 * object; NaN and infinities become null, as JSON has no such numbers.
 */
import { counterRate, type Batch, type Metric } from '../../core/metric.js';
import type { Tags } from '../../core/tags.js';
import { quantileField } from '../../protocols/influx/line.js';

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

export function formatTextLine(m: Metric, time: string): string {
  let out = time + ' ' + m.kind + ' ' + readable(m.name) + readableTags(m.tags);
  switch (m.kind) {
    case 'counter': {
      out += ' value=' + m.value;
      const rate = counterRate(m);
      if (rate !== undefined) out += ' rate=' + rate;
      break;
    }
    case 'gauge':
      out += ' value=' + m.value;
      break;
    case 'summary': {
      const s = m.summary;
      out += ` count=${s.count} sum=${s.sum} mean=${s.mean} min=${s.min} max=${s.max} stdev=${s.stdev} median=${s.median}`;
      for (const q of s.quantiles) out += ' ' + quantileField(q.quantile) + '=' + q.value;
      break;
    }
  }
  return out;
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
      });
    case 'summary': {
      const s = m.summary;
      const summary = {
        count: s.count,
        samples: s.samples,
        sum: s.sum,
        sumSquares: s.sumSquares,
        min: s.min,
        max: s.max,
        mean: s.mean,
        median: s.median,
        stdev: s.stdev,
        quantiles: s.quantiles.map((q) => ({ quantile: q.quantile, value: q.value })),
      };
      return JSON.stringify({
        name: m.name,
        kind: m.kind,
        tags,
        timestamp: m.timestamp,
        intervalMs: m.intervalMs,
        summary,
        help: m.help,
      });
    }
  }
}

export function formatJson(batch: Batch): string {
  let out = '';
  for (const m of batch) out += formatJsonLine(m) + '\n';
  return out;
}
