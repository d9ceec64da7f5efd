/**
 * Encodes one StatsD line in the tagged (DogStatsD) dialect that `parser.ts` reads:
 * `name:value|type[|@rate][|#k:v,...]`. Characters that would change the line's structure are
 * replaced by `_`, so whatever the input, the output parses back as exactly one line.
 */
import type { Tag } from '../../core/tags.js';
import type { StatsdTypeCode } from './parser.js';

export interface StatsdPoint {
  readonly name: string;
  readonly type: StatsdTypeCode;
  /** A finite number, or the member of a set (`s`). */
  readonly value: number | string;
  /** In (0, 1]; omitted (or 1) means unsampled. */
  readonly sampleRate?: number | undefined;
  readonly tags?: readonly Tag[] | undefined;
}

// Per position: a name may not hold ':' (ends the name) nor '|' or a line break.
const NAME_BAD = ':|\n\r';
// A tag key ends at ':' or '='; any item ends at ',' and the field at '|'.
const TAG_KEY_BAD = ':=,|\n\r';
const TAG_VALUE_BAD = ',|\n\r';
const MEMBER_BAD = '|\n\r';

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

/**
 * The line for `point`, without a line break; undefined when it has no valid encoding (empty
 * name or set member, a value that is not finite, a sample rate outside (0, 1]).
 */
export function formatStatsdLine(point: StatsdPoint): string | undefined {
  if (point.name === '') return undefined;
  let name = sanitise(point.name, NAME_BAD);
  // A name starting `_e{` would read as a DogStatsD event.
  if (name.startsWith('_e{')) name = '_e_' + name.slice(3);

  let value: string;
  if (point.type === 's') {
    value = sanitise(String(point.value), MEMBER_BAD);
    if (value === '') return undefined;
  } else {
    if (typeof point.value !== 'number' || !Number.isFinite(point.value)) return undefined;
    value = String(point.value);
  }

  let line = `${name}:${value}|${point.type}`;
  const rate = point.sampleRate;
  if (rate !== undefined && rate !== 1) {
    if (!(rate > 0 && rate < 1)) return undefined;
    line += `|@${rate}`;
  }
  const tags = point.tags;
  if (tags !== undefined && tags.length > 0) {
    let first = true;
    for (const [k, v] of tags) {
      if (k === '') continue;
      line += first ? '|#' : ',';
      first = false;
      line += sanitise(k, TAG_KEY_BAD);
      if (v !== '') line += ':' + sanitise(v, TAG_VALUE_BAD);
    }
  }
  return line;
}
