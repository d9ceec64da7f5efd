/**
 * Carbon's plaintext protocol parser: the inverse of plaintext.ts, for input.
 *
 *   <path> <value> [<unix seconds>]
 *
 * As carbon's MetricLineReceiver reads it, a line is split on runs of whitespace; value and
 * timestamp are decimal numbers (the timestamp may have a fraction, kept to the millisecond).
 * The timestamp may be left out, as Spoon's `cmd` agent and many scripts write lines: the line
 * then takes `now`. A path may carry Graphite 1.1 tags (docs/tags.rst), `name;tag=value;...`,
 * which become the metric's tags; tag names and values must not be empty.
 *
 * Graphite has no metric kinds, so every line is a gauge named by its path (dots kept: sluice
 * names may hold dots, and each sink sanitises for its protocol). NaN and infinities, which
 * carbon would drop, are rejected. Nothing here throws on input.
 */
import { isUtf8 } from 'node:buffer';
import type { Metric } from '../../core/metric.js';
import { NO_TAGS, makeTags, type Tag } from '../../core/tags.js';

/** Why a line was dropped. A closed set: each is a self-metric label and documented. */
export const CARBON_REJECT_REASONS = [
  'invalid_utf8',
  'bad_line',
  'bad_path',
  'bad_tag',
  'bad_value',
  'bad_timestamp',
] as const;
export type CarbonRejectReason = (typeof CARBON_REJECT_REASONS)[number];

export type CarbonReject = (reason: CarbonRejectReason, buf: Buffer, start: number, end: number) => void;

const DECIMAL = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
/** Largest ms a Date can hold. */
const MAX_MS = 8.64e15;

/** The metric of one line, or why there is none. */
function parseLine(line: string, now: number): Metric | CarbonRejectReason {
  const parts = line.split(/[ \t]+/);
  if (parts.length < 2 || parts.length > 3) return 'bad_line';
  const [path, rawValue, rawTime] = parts as [string, string, string | undefined];
  if (!DECIMAL.test(rawValue)) return 'bad_value';
  const value = Number(rawValue);
  if (!Number.isFinite(value)) return 'bad_value';
  let timestamp = now;
  if (rawTime !== undefined) {
    if (!DECIMAL.test(rawTime)) return 'bad_timestamp';
    timestamp = Math.round(Number(rawTime) * 1000);
    if (!(timestamp >= 0 && timestamp <= MAX_MS)) return 'bad_timestamp';
  }
  const semicolon = path.indexOf(';');
  const name = semicolon < 0 ? path : path.slice(0, semicolon);
  if (name === '') return 'bad_path';
  let tags = NO_TAGS;
  if (semicolon >= 0) {
    const pairs: Tag[] = [];
    for (const item of path.slice(semicolon + 1).split(';')) {
      const eq = item.indexOf('=');
      if (eq <= 0 || eq === item.length - 1) return 'bad_tag';
      pairs.push([item.slice(0, eq), item.slice(eq + 1)]);
    }
    tags = makeTags(pairs);
  }
  return { kind: 'gauge', name, tags, value, timestamp };
}

/**
 * Parses every line of `buf` (`\n`-separated, `\r` and surrounding blanks tolerated, blank
 * lines skipped) into gauges appended to `out`. Returns the number of non-blank lines.
 */
export function parseCarbonLines(buf: Buffer, now: number, out: Metric[], reject: CarbonReject): number {
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
    while (end > start && (buf[end - 1] === 0x0d || buf[end - 1] === 0x20 || buf[end - 1] === 0x09)) end--;
    if (start === end) continue;
    lines++;
    if (checkLines && !isUtf8(buf.subarray(start, end))) {
      reject('invalid_utf8', buf, start, end);
      continue;
    }
    const r = parseLine(buf.toString('utf8', start, end), now);
    if (typeof r === 'string') reject(r, buf, start, end);
    else out.push(r);
  }
  return lines;
}
