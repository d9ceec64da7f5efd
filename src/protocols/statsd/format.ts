/**
 * Encodes StatsD lines, events and service checks that `parser.ts` reads back as they were:
 *
 *   name:value[:value...]|type[|@rate][|#k=v,...][|T<seconds>][|c:<container>]   (dogstatsd)
 *   name:value|type[|@rate]:value|type...[|#k=v,...]                              (etsy)
 *   name:value|type[|@rate][|#k=v,...,timestamp=<s>,bucket=<b>]                    (bucky)
 *
 * Tags are written `k=v`, sluice's canonical spelling, or `k:v` (DogStatsD's, which the Datadog
 * agent needs to see a key) when asked. Characters that would change a line's
 * structure are replaced by `_` (or, in bucky tag values, escaped with a backslash), so whatever
 * the input, the output parses back as exactly one line.
 */
import type { AlertEvent, ServiceCheck } from '../../core/event.js';
import type { Tag, Tags } from '../../core/tags.js';
import type { StatsdDialect, StatsdTypeCode } from './parser.js';

export interface StatsdPoint {
  readonly name: string;
  readonly type: StatsdTypeCode;
  /**
   * A finite number, several (written `1:2:3` in dogstatsd, as separate samples in etsy; not
   * bucky), or the member of a set (`s`).
   */
  readonly value: number | string | readonly number[];
  /** In (0, 1]; omitted (or 1) means unsampled. */
  readonly sampleRate?: number | undefined;
  readonly tags?: readonly Tag[] | undefined;
  /** Gauges: write the value with an explicit sign, a delta in the etsy and bucky dialects. */
  readonly delta?: boolean | undefined;
  /** The point's own time in whole seconds since the epoch (`|T` in dogstatsd, `timestamp=` in bucky). */
  readonly timestamp?: number | undefined;
  /** DogStatsD's `|c:` container id. */
  readonly containerId?: string | undefined;
  /** Bucky3's `bucket=` destination. */
  readonly bucket?: string | undefined;
}

export interface StatsdFormatOptions {
  /** Between a tag's key and value: `=` (default) or `:`, DogStatsD's. Bucky3 reads both. */
  readonly tagSeparator?: '=' | ':';
}

// A name may not hold ':' (ends the name), '|' or a line break.
const NAME_BAD = ':|\n\r';
// A tag key ends at ':' or '='; any item ends at ',' and the field at '|'.
const TAG_KEY_BAD = ':=,|\n\r\\';
const TAG_VALUE_BAD = ',|\n\r';
const MEMBER_BAD = '|\n\r';
const ETSY_MEMBER_BAD = ':|\n\r';
const FIELD_BAD = '|\n\r';

function sanitise(text: string, bad: string): string {
  let i = 0;
  while (i < text.length && !bad.includes(text.charAt(i))) i++;
  if (i === text.length) return text;
  let out = text.slice(0, i);
  for (; i < text.length; i++) {
    const ch = text.charAt(i);
    out += bad.includes(ch) ? '_' : ch;
  }
  return out;
}

/** Bucky3's escapes for tag values: `\\`, `\,`, `\n`, `\r`, `\t`. */
function escapeTagValue(text: string): string {
  let out = '';
  for (const ch of text) {
    if (ch === '\\' || ch === ',') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else out += ch;
  }
  return out;
}

function formatTags(tags: readonly Tag[], dialect: StatsdDialect, extra: string, sep: string): string {
  let out = '';
  for (const [k, v] of tags) {
    if (k === '') continue;
    if (dialect === 'bucky' && (k === 'timestamp' || k === 'bucket')) continue;
    out += out === '' ? '' : ',';
    // A parser drops a `#` before a key (Datadog's PHP client writes `|#a:1,#b:2`).
    out += sanitise(k.startsWith('#') ? '_' + k.slice(1) : k, TAG_KEY_BAD);
    // Bucky3 has no valueless tags.
    if (v !== '' || dialect === 'bucky')
      out += sep + (dialect === 'bucky' ? escapeTagValue(v) : sanitise(v, TAG_VALUE_BAD));
  }
  if (extra !== '') out += (out === '' ? '' : ',') + extra;
  return out === '' ? '' : '|#' + out;
}

function number(v: number, delta: boolean): string | undefined {
  if (!Number.isFinite(v)) return undefined;
  const text = String(v);
  // -0 has no sign in String(); a delta of -0 is a delta of 0 anyway.
  return delta && v >= 0 ? '+' + text : text;
}

/**
 * The line for `point` in `dialect` (default dogstatsd), without a line break; undefined when
 * it has no valid encoding there (empty name or set member, a value that is not finite, a
 * sample rate outside (0, 1], several values in bucky, a timestamp in etsy, a negative gauge
 * that is not a delta in etsy or bucky).
 */
export function formatStatsdLine(
  point: StatsdPoint,
  dialect: StatsdDialect = 'dogstatsd',
  options: StatsdFormatOptions = {},
): string | undefined {
  if (point.name === '') return undefined;
  let name = sanitise(point.name, NAME_BAD);
  // A name starting `_e{` would read as an event (`_sc|` cannot occur: '|' is replaced).
  if (name.startsWith('_e{')) name = '_e_' + name.slice(3);

  const delta = point.delta === true && point.type === 'g';
  let values: string[];
  if (point.type === 's') {
    const member = sanitise(String(point.value), dialect === 'etsy' ? ETSY_MEMBER_BAD : MEMBER_BAD);
    if (member === '' || Array.isArray(point.value)) return undefined;
    values = [member];
  } else {
    const list = typeof point.value === 'number' ? [point.value] : point.value;
    if (typeof list === 'string' || list.length === 0) return undefined;
    if (list.length > 1 && dialect === 'bucky') return undefined;
    values = [];
    for (const v of list) {
      // Etsy and Bucky3 read any signed gauge as a delta: a negative value cannot be set in one line.
      if (point.type === 'g' && !delta && v < 0 && dialect !== 'dogstatsd') return undefined;
      const text = number(v, delta);
      if (text === undefined) return undefined;
      values.push(text);
    }
  }

  let rate = '';
  const r = point.sampleRate;
  if (r !== undefined && r !== 1) {
    if (!(r > 0 && r < 1)) return undefined;
    rate = `|@${r}`;
  }
  const ts = point.timestamp;
  if (ts !== undefined && (!Number.isInteger(ts) || ts < 1 || dialect === 'etsy')) return undefined;
  let extraTags = '';
  if (dialect === 'bucky') {
    if (ts !== undefined) extraTags = `timestamp=${ts}`;
    if (point.bucket !== undefined && point.bucket !== '')
      extraTags += (extraTags === '' ? '' : ',') + 'bucket=' + escapeTagValue(point.bucket);
  } else if (point.bucket !== undefined) {
    return undefined;
  }
  const tags = formatTags(point.tags ?? [], dialect, extraTags, options.tagSeparator ?? '=');

  if (dialect === 'etsy') {
    if (point.containerId !== undefined) return undefined;
    return `${name}:${values.map((v) => `${v}|${point.type}${rate}`).join(':')}${tags}`;
  }
  let line = `${name}:${values.join(':')}|${point.type}${rate}${tags}`;
  if (dialect === 'dogstatsd') {
    if (ts !== undefined) line += `|T${ts}`;
    if (point.containerId !== undefined) {
      const id = sanitise(point.containerId, FIELD_BAD);
      if (id === '') return undefined;
      line += `|c:${id}`;
    }
  } else if (point.containerId !== undefined) {
    return undefined;
  }
  return line;
}

function eventTags(tags: Tags, sep: string): string {
  let out = '';
  for (const [k, v] of tags) {
    if (k === '') continue;
    out +=
      (out === '' ? '|#' : ',') +
      sanitise(k, TAG_KEY_BAD) +
      (v === '' ? '' : sep + sanitise(v, TAG_VALUE_BAD));
  }
  return out;
}

/** `_e{…}:title|text|…` for an event; a line break in title or text is written `\n`. */
export function formatStatsdEvent(event: AlertEvent, options: StatsdFormatOptions = {}): string | undefined {
  const title = event.title.replaceAll('\r', '').replaceAll('\n', '\\n');
  const text = event.text.replaceAll('\r', '').replaceAll('\n', '\\n');
  if (title === '') return undefined;
  let line = `_e{${Buffer.byteLength(title)},${Buffer.byteLength(text)}}:${title}|${text}`;
  line += `|d:${Math.floor(event.timestamp / 1000)}`;
  if (event.hostname !== undefined) line += `|h:${sanitise(event.hostname, FIELD_BAD)}`;
  if (event.aggregationKey !== undefined) line += `|k:${sanitise(event.aggregationKey, FIELD_BAD)}`;
  if (event.priority !== undefined) line += `|p:${event.priority}`;
  if (event.sourceType !== undefined) line += `|s:${sanitise(event.sourceType, FIELD_BAD)}`;
  if (event.alertType !== undefined) line += `|t:${event.alertType}`;
  return line + eventTags(event.tags, options.tagSeparator ?? '=');
}

/** `_sc|name|status|…` for a service check; the message goes last, as DogStatsD requires. */
export function formatStatsdServiceCheck(
  check: ServiceCheck,
  options: StatsdFormatOptions = {},
): string | undefined {
  const name = sanitise(check.name, FIELD_BAD);
  if (name === '') return undefined;
  let line = `_sc|${name}|${check.status}|d:${Math.floor(check.timestamp / 1000)}`;
  if (check.hostname !== undefined) line += `|h:${sanitise(check.hostname, FIELD_BAD)}`;
  line += eventTags(check.tags, options.tagSeparator ?? '=');
  if (check.message !== undefined) line += `|m:${sanitise(check.message, '\n\r')}`;
  return line;
}
