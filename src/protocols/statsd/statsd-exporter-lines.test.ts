/**
 * StatsD lines as statsd_exporter reads them, checked against the cases of its own line tests
 * (src/sources/statsd/testdata/statsd_exporter/line-cases.json: inputs and expected events, taken
 * as facts; see SOURCE.md there). Each case's line goes through sluice's parser with the
 * name-embedded tag formats the case enables, and the points are compared as statsd_exporter's
 * events: counters divided by the sample rate, timers in seconds, a sampled observation weighed
 * by what statsd_exporter repeats it (int(1 / rate) times), label names as the Prometheus
 * exporter writes them. Where the two differ by design, KNOWN says so and why; a case that
 * starts to agree, or a new difference, fails the test.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { sanitizeLabelName } from '../prometheus/text.js';
import { StatsdParser, type NameTagFormat, type StatsdLine } from './parser.js';

interface Event {
  type: 'counter' | 'gauge' | 'observer';
  name: string;
  value: number;
  relative?: boolean;
  labels: Record<string, string>;
}

interface Case {
  test: string;
  in: string;
  inBase64?: string;
  out: Event[];
  flags?: { dogstatsd: boolean; influxdb: boolean; librato: boolean; signalfx: boolean };
  note?: string;
}

const cases = JSON.parse(
  readFileSync(
    new URL('../../../src/sources/statsd/testdata/statsd_exporter/line-cases.json', import.meta.url),
    'utf8',
  ),
) as Case[];

/**
 * Where sluice differs on purpose, by the case's name (without its Test… prefix, so that one
 * reason covers the case in every table).
 */
const KNOWN: Record<string, string> = {
  'datadog tag extension with valueless tags: ignored':
    'a DogStatsD tag without a value is kept with the value "", as the Datadog agent keeps it; Prometheus reads a label with an empty value as no label, so the scraped series are the same',
  'datadog tag extension with valueless tags (edge case)':
    'as above: a valueless tag is kept with the value ""',
  'gauge decrement':
    'in the dogstatsd dialect a signed gauge is a value, as the Datadog agent reads it; the etsy dialect reads -10 as a change, as statsd_exporter does',
  'illegal sampling factor':
    'a rate that is no number (`@bar`) rejects the line (bad_sample_rate): the rate it meant is unknown, and counting it as 1 would be a guess',
};

/** Why a case differs that no one name covers. */
function knownReason(c: Case): string | undefined {
  const name = c.test.slice(c.test.indexOf('/') + 1);
  if (KNOWN[name] !== undefined) return KNOWN[name];
  if (c.flags?.dogstatsd === false && c.in.includes('|#'))
    return "sluice always reads DogStatsD's |# tags (statsd_exporter's --no-statsd.parse-dogstatsd-tags has no counterpart)";
  return undefined;
}

/** One event as a comparable key: what it is, and its weight (how often statsd_exporter repeats it). */
function key(e: Event): string {
  const labels = Object.entries(e.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const relative = e.type === 'gauge' ? ` relative=${e.relative === true}` : '';
  return `${e.type} ${e.name}${JSON.stringify(labels)} ${+e.value.toPrecision(12)}${relative}`;
}

function expected(events: readonly Event[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of events) out.set(key(e), (out.get(key(e)) ?? 0) + 1);
  return out;
}

function parsed(text: Buffer, formats: NameTagFormat[]): { events: Map<string, number>; rejected: string[] } {
  const parser = new StatsdParser({ nameTags: formats, timestampWindowMs: 0 });
  const events = new Map<string, number>();
  const rejected: string[] = [];
  parser.parse(text, {
    point(line: StatsdLine) {
      const labels: Record<string, string> = {};
      for (const [k, v] of line.tags()) labels[sanitizeLabelName(k)] = v;
      const rate = line.sampleRate;
      const type = line.type;
      let e: Event;
      let weight = 1;
      if (type === 0) e = { type: 'counter', name: line.name(), value: line.value / rate, labels };
      else if (type === 1)
        e = { type: 'gauge', name: line.name(), value: line.value, relative: line.gaugeDelta, labels };
      else if (type === 2 || type === 3 || type === 5) {
        e = {
          type: 'observer',
          name: line.name(),
          value: type === 2 ? line.value / 1000 : line.value,
          labels,
        };
        weight = Math.floor(1 / rate);
      } else return; // sets: statsd_exporter has none
      events.set(key(e), (events.get(key(e)) ?? 0) + weight);
    },
    reject: (reason) => void rejected.push(reason),
    event: () => {},
  });
  return { events, rejected };
}

describe("statsd_exporter's line test cases", () => {
  for (const c of cases) {
    it(c.test, () => {
      const formats: NameTagFormat[] = [];
      const flags = c.flags ?? { dogstatsd: true, influxdb: true, librato: true, signalfx: true };
      if (flags.librato) formats.push('librato');
      if (flags.influxdb) formats.push('influxdb');
      if (flags.signalfx) formats.push('signalfx');
      const text = c.inBase64 !== undefined ? Buffer.from(c.inBase64, 'base64') : Buffer.from(c.in, 'utf8');
      const got = parsed(text, formats);
      // statsd_exporter's tests list no events for some lines and then check only that parsing
      // does not panic: sluice must not throw either, which parsing them above shows.
      if (c.out.length === 0) return;
      const want = expected(c.out);
      const known = knownReason(c);
      const agree = got.events.size === want.size && [...want].every(([k, n]) => got.events.get(k) === n);
      if (known !== undefined) {
        assert.ok(
          !agree,
          `listed as a known difference (${known}), but sluice now agrees: take it off KNOWN`,
        );
        return;
      }
      assert.deepEqual(
        Object.fromEntries(got.events),
        Object.fromEntries(want),
        `${c.in}${got.rejected.length > 0 ? ` (sluice rejected: ${got.rejected.join(', ')})` : ''}`,
      );
    });
  }
});
