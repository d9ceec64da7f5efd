/**
 * Turns one run's stdout into metrics, by data format. Every format is a parser that never
 * throws on input: each non-blank line (for `number`, the whole output) becomes metrics or a
 * rejection with a reason from the format's closed set.
 *
 * StatsD lines and typed JSON records go through a StatsD aggregator made for the run and
 * flushed once, so a run's output means what it means on the wire: counters are what was
 * counted during the interval (deltas with the interval as their length), gauges the last
 * value, timers summaries with percentiles, sets the number of distinct members.
 */
import { isUtf8 } from 'node:buffer';
import type { Event } from '../../core/event.js';
import type { Metric, PointField } from '../../core/metric.js';
import { CARBON_REJECT_REASONS, parseCarbonLines } from '../../protocols/carbon/parse.js';
import { INFLUX_REJECT_REASONS, parseInfluxLines } from '../../protocols/influx/parse.js';
import {
  JSON_REJECT_REASONS,
  JsonParser,
  type JsonRecord,
  type JsonRejectReason,
  type JsonSink,
} from '../../protocols/json/parser.js';
import {
  REJECT_REASONS as STATSD_REJECT_REASONS,
  StatsdParser,
  type RejectReason,
  type StatsdLine,
  type StatsdSink,
} from '../../protocols/statsd/parser.js';
import { StatsdAggregator, type AddValueOptions } from '../../aggregation/aggregator.js';
import { PROMETHEUS_REJECT_REASONS, parsePrometheusText } from './prometheus.js';
import type { DataFormat } from './schema.js';

/** Percentiles of StatsD timers and distributions, as the statsd source's default. */
export const PERCENTILES: readonly number[] = [50, 90, 95, 99];

/** Nesting levels of a JSON document that are flattened into dotted keys. */
const MAX_JSON_DEPTH = 16;

export type Reject = (reason: string, buf: Buffer, start: number, end: number) => void;

export interface ParsedOutput {
  readonly metrics: Metric[];
  readonly events: Event[];
  /** Non-blank lines read (for `number`: 1). */
  readonly lines: number;
}

export interface OutputParser {
  /** Every reason `parse` may reject with. */
  readonly reasons: readonly string[];
  parse(buf: Buffer, now: number, reject: Reject): ParsedOutput;
}

export interface FormatOptions {
  /** Length of the interval a run covers: the interval of StatsD counters and timers. */
  readonly intervalMs: number;
  /** `number`: the gauge's name. `json`: the measurement of untyped objects. */
  readonly name: string;
}

const FLOAT = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
export const NUMBER_REJECT_REASONS = ['not_a_number'] as const;

function runAggregator(intervalMs: number, now: number): StatsdAggregator {
  return new StatsdAggregator(
    {
      flushIntervalMs: intervalMs,
      percentiles: PERCENTILES,
      expiryMs: 0,
      // A counter or gauge with its own time is passed on alone, at that time.
      timestamps: 'forward',
    },
    () => now,
  );
}

function statsdParser(options: FormatOptions): OutputParser {
  return {
    reasons: STATSD_REJECT_REASONS,
    parse(buf, now, reject) {
      const aggregator = runAggregator(options.intervalMs, now);
      const events: Event[] = [];
      // The window is off: a command's own timestamps are taken as they are.
      const parser = new StatsdParser({ timestampWindowMs: 0, now: () => now });
      const sink: StatsdSink = {
        point(line: StatsdLine) {
          const reason = aggregator.add(line);
          if (reason !== undefined) reject(reason, line.buf, line.start, line.end);
        },
        reject,
        event(event) {
          events.push(event);
        },
      };
      const lines = parser.parse(buf, sink);
      return { metrics: [...aggregator.flush(now, options.intervalMs)], events, lines };
    },
  };
}

/** The JSON reason for a value the aggregator refuses (the parser has checked the rest). */
function refusal(reason: RejectReason): JsonRejectReason {
  switch (reason) {
    case 'type_conflict':
      return 'type_conflict';
    case 'series_limit':
      return 'series_limit';
    case 'empty_name':
      return 'missing_name';
    case 'bad_sample_rate':
      return 'bad_sample_rate';
    default:
      return 'bad_value';
  }
}

/** Nested objects and arrays become dotted keys (`{"a":{"b":1}}` → `a.b`), as far as MAX_JSON_DEPTH. */
function flatten(
  value: Record<string, unknown>,
  prefix: string,
  out: Record<string, unknown>,
  depth: number,
): void {
  for (const [k, v] of Object.entries(value)) {
    const key = prefix + k;
    if (v !== null && typeof v === 'object' && depth < MAX_JSON_DEPTH) {
      flatten(v as Record<string, unknown>, key + '.', out, depth + 1);
    } else {
      out[key] = v;
    }
  }
}

/**
 * One JSON object per line, as the json_udp source reads them. Commands also print one
 * document (`jq`, `curl`, pretty-printed or not): when the whole output is one JSON object or
 * an array, each object of it is taken as a line. Nested objects are flattened into dotted keys
 * in both cases. What is not JSON goes to the parser as it is, which rejects it with a reason.
 */
export function jsonLines(buf: Buffer): Buffer {
  const text = buf.toString('utf8');
  let items: unknown[] | undefined;
  try {
    const doc: unknown = JSON.parse(text);
    if (doc !== null && typeof doc === 'object') items = Array.isArray(doc) ? doc : [doc];
  } catch {
    // Not one document: newline-delimited objects, or garbage.
  }
  const lines: string[] = [];
  if (items !== undefined) {
    for (const item of items) lines.push(JSON.stringify(flatItem(item)) ?? 'null');
  } else {
    for (const line of text.split('\n')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        lines.push(line);
        continue;
      }
      lines.push(
        parsed !== null && typeof parsed === 'object' ? (JSON.stringify(flatItem(parsed)) ?? line) : line,
      );
    }
  }
  // Garbage that was not UTF-8 stays as it was, for the parser's invalid_utf8 check.
  return items === undefined && !isUtf8(buf) ? buf : Buffer.from(lines.join('\n'));
}

function flatItem(item: unknown): unknown {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return item;
  const out: Record<string, unknown> = {};
  flatten(item as Record<string, unknown>, '', out, 0);
  return out;
}

class JsonIngest implements JsonSink {
  readonly metrics: Metric[] = [];
  private readonly options = { timestamp: 0 };

  constructor(
    private readonly aggregator: StatsdAggregator,
    private readonly measurement: string,
    private readonly now: number,
    readonly reject: Reject,
  ) {}

  record(r: JsonRecord): JsonRejectReason | undefined {
    if (r.kind === 'untyped') {
      const measurement = r.name === '' ? this.measurement : r.name;
      const timestamp = Number.isNaN(r.timestamp) ? this.now : r.timestamp;
      const tags = r.sortedTags();
      for (let i = 0; i < r.fieldNames.length; i++) {
        const field = r.fieldNames[i] as string;
        const point: PointField = { measurement, field };
        const value = r.fieldValues[i] as number;
        this.metrics.push({ kind: 'gauge', name: measurement + '.' + field, tags, value, timestamp, point });
      }
      return undefined;
    }
    let options: AddValueOptions | undefined;
    if (!Number.isNaN(r.timestamp)) {
      this.options.timestamp = r.timestamp;
      options = this.options;
    }
    const refused = this.aggregator.addValue(
      r.name,
      r.sortedTags(),
      r.type,
      r.type === 's' ? r.member : r.value,
      r.sampleRate,
      options,
    );
    return refused === undefined ? undefined : refusal(refused);
  }
}

function jsonParser(options: FormatOptions, maxLineBytes: number): OutputParser {
  return {
    reasons: JSON_REJECT_REASONS,
    parse(buf, now, reject) {
      const aggregator = runAggregator(options.intervalMs, now);
      const ingest = new JsonIngest(aggregator, options.name, now, reject);
      const parser = new JsonParser({ maxLineBytes, timestampWindowMs: 0 });
      const lines = parser.parse(jsonLines(buf), ingest, now);
      return {
        metrics: [...ingest.metrics, ...aggregator.flush(now, options.intervalMs)],
        events: [],
        lines,
      };
    },
  };
}

function numberParser(options: FormatOptions): OutputParser {
  return {
    reasons: NUMBER_REJECT_REASONS,
    parse(buf, now, reject) {
      const text = isUtf8(buf) ? buf.toString('utf8').trim() : '';
      if (!FLOAT.test(text) || !Number.isFinite(Number(text))) {
        reject('not_a_number', buf, 0, buf.length);
        return { metrics: [], events: [], lines: 1 };
      }
      return {
        metrics: [{ kind: 'gauge', name: options.name, tags: [], value: Number(text), timestamp: now }],
        events: [],
        lines: 1,
      };
    },
  };
}

function lineParser(
  reasons: readonly string[],
  parse: (buf: Buffer, now: number, out: Metric[], reject: Reject) => number,
): OutputParser {
  return {
    reasons,
    parse(buf, now, reject) {
      const metrics: Metric[] = [];
      const lines = parse(buf, now, metrics, reject);
      return { metrics, events: [], lines };
    },
  };
}

export function outputParser(format: DataFormat, options: FormatOptions, maxLineBytes: number): OutputParser {
  switch (format) {
    case 'statsd':
      return statsdParser(options);
    case 'json':
      return jsonParser(options, maxLineBytes);
    case 'number':
      return numberParser(options);
    case 'influx':
      return lineParser(INFLUX_REJECT_REASONS, parseInfluxLines);
    case 'graphite':
      return lineParser(CARBON_REJECT_REASONS, parseCarbonLines);
    case 'prometheus':
      return lineParser(PROMETHEUS_REJECT_REASONS, parsePrometheusText);
  }
}
