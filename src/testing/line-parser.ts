/**
 * Helpers for the tests of line parsers (carbon plaintext, influx line protocol, Prometheus
 * text), which share one contract: `parse(buf, now, out, reject)` appends metrics to `out`,
 * reports each refused line with a reason, and returns how many lines it read.
 */
import fc from 'fast-check';
import type { Metric } from '../core/metric.js';

export type LineParser<R> = (
  buf: Buffer,
  now: number,
  out: Metric[],
  reject: (reason: R, buf: Buffer, start: number, end: number) => void,
) => number;

export interface Parsed<R> {
  metrics: Metric[];
  /** Each refused line: the reason and the line's text. */
  rejected: [R, string][];
  lines: number;
}

/** What `parser` makes of `text`, at the time `now`. */
export function parseLines<R>(parser: LineParser<R>, text: string | Buffer, now: number): Parsed<R> {
  const metrics: Metric[] = [];
  const rejected: [R, string][] = [];
  const buf = typeof text === 'string' ? Buffer.from(text) : text;
  const lines = parser(buf, now, metrics, (reason, b, start, end) =>
    rejected.push([reason, b.toString('utf8', start, end)]),
  );
  return { metrics, rejected, lines };
}

/**
 * Input for "never throws" properties: random bytes, or text made of `tokens` (the characters
 * and words the grammar cares about, so that most of it gets past the first byte).
 */
export function bytesOrTokens(tokens: readonly string[]): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    fc.array(fc.constantFrom(...tokens), { maxLength: 80 }).map((a) => Buffer.from(a.join(''))),
  );
}
