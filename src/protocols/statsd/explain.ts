/**
 * What a datagram parses into, one short line per outcome, in the notation of docs/protocol.md:
 *
 *   c 1 ×2 {env=prod}        a counter value with weight 1/rate and tags
 *   g Δ+5                    a gauge delta (g 5 or g +5 would replace the value)
 *   s "a:b"                  a set member
 *   c 1 at 1656581400        a point with its own time (seconds)
 *   c 1 bucket api           a point whose destination is the bucket `api`
 *   ✗ bad_sample_rate        a rejected line
 *   … (repaired: field_ignored)   what lenient mode repaired
 *   event "title" / service check "name" 2
 *
 * For `sluice explain` and for the tests that keep docs/protocol.md and the parser in step.
 */
import type { Event } from '../../core/event.js';
import {
  STATSD_TYPE_CODES,
  StatsdParser,
  repairReasons,
  type StatsdLine,
  type StatsdParserOptions,
  type StatsdSink,
} from './parser.js';

function quote(text: string): string {
  return JSON.stringify(text);
}

function describeTags(tags: readonly (readonly [string, string])[]): string {
  if (tags.length === 0) return '';
  return ` {${tags.map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join(', ')}}`;
}

function describePoint(l: StatsdLine): string {
  const type = STATSD_TYPE_CODES[l.type];
  let out = type;
  if (type === 's') out += ' ' + quote(l.member());
  else out += ' ' + (l.gaugeDelta ? (l.value >= 0 ? 'Δ+' : 'Δ') : '') + String(l.value);
  if (l.sampleRate !== 1) out += ` ×${Number((1 / l.sampleRate).toPrecision(12))}`;
  out += describeTags(l.tagList());
  if (l.timestamp !== 0) out += ` at ${l.timestamp / 1000}`;
  const bucket = l.bucket();
  if (bucket !== undefined) out += ` bucket ${bucket}`;
  return out;
}

function describeEvent(e: Event): string {
  if (e.kind === 'event') return `event ${quote(e.title)}${describeTags(e.tags)}`;
  return `service check ${quote(e.name)} ${e.status}${describeTags(e.tags)}`;
}

function withRepairs(text: string, repairs: number): string {
  return repairs === 0 ? text : `${text} (repaired: ${repairReasons(repairs).join(', ')})`;
}

/** One line per outcome of parsing `datagram`: points (a packed line gives several), events, rejections. */
export function explainDatagram(datagram: Buffer, options: StatsdParserOptions = {}): string[] {
  const out: string[] = [];
  const sink: StatsdSink = {
    point: (l) => out.push(withRepairs(describePoint(l), l.repairs)),
    reject: (reason) => out.push(`✗ ${reason}`),
    event: (e, repairs) => out.push(withRepairs(describeEvent(e), repairs)),
  };
  new StatsdParser(options).parse(datagram, sink);
  return out;
}
