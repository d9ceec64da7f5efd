/**
 * A line protocol reader for tests, written to read exactly as InfluxDB's own parser does
 * (models/points.go in 1.x and 2.x), so that what the encoder writes can be checked without a
 * server, and what a server would store can be predicted:
 * - a separator (`,`, space, `=` where it separates) preceded by a backslash is escaped;
 * - unescaping replaces `\,` and `\ ` (and `\=` outside measurements) and nothing else: `\\`
 *   stays two backslashes;
 * - fields are floats (`1.5`, `1e+21`), integers (`3i`), strings (`"a \" b"`) or booleans;
 * - the timestamp is an optional integer.
 * It throws where InfluxDB would refuse the line, and is stricter in one way: control
 * characters outside string fields are refused, as the v2 parser does.
 */

export type FieldType = 'float' | 'integer' | 'string' | 'boolean';

export interface ParsedField {
  readonly key: string;
  readonly type: FieldType;
  /** The value as written (for strings: unescaped, without quotes). */
  readonly text: string;
}

export interface ParsedLine {
  readonly measurement: string;
  readonly tags: [string, string][];
  readonly fields: ParsedField[];
  readonly timestamp: string | undefined;
}

function isControl(code: number): boolean {
  return code < 0x20 || code === 0x7f;
}

function unescape(s: string, chars: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && i + 1 < s.length && chars.includes(s[i + 1] as string)) {
      out += s[i + 1];
      i++;
    } else out += s[i];
  }
  return out;
}

/** Parses one line (no newline). Throws on anything InfluxDB would refuse; undefined for a comment. */
export function parseInfluxLine(line: string): ParsedLine | undefined {
  if (line.startsWith('#')) return undefined;
  let i = 0;
  /** Reads up to the first of `stops` not preceded by a backslash. */
  const scan = (stops: string, what: string): string => {
    const start = i;
    while (i < line.length) {
      const c = line[i] as string;
      if (isControl(c.charCodeAt(0)))
        throw new Error(`control character in ${what} of ${JSON.stringify(line)}`);
      if (stops.includes(c) && (i === start || line[i - 1] !== '\\')) break;
      i++;
    }
    if (i === start) throw new Error(`empty ${what} at ${i} in ${JSON.stringify(line)}`);
    return line.slice(start, i);
  };
  const measurement = unescape(scan(', ', 'measurement'), ', ');
  const tags: [string, string][] = [];
  while (line[i] === ',') {
    i++;
    const k = unescape(scan('=, ', 'tag key'), ',= ');
    if (line[i] !== '=') throw new Error(`expected = after tag key in ${JSON.stringify(line)}`);
    i++;
    tags.push([k, unescape(scan(', =', 'tag value'), ',= ')]);
  }
  if (line[i] !== ' ')
    throw new Error(`expected a space before the fields at ${i} in ${JSON.stringify(line)}`);
  i++;
  const fields: ParsedField[] = [];
  for (;;) {
    const key = unescape(scan('=, ', 'field key'), ',= ');
    if (line[i] !== '=') throw new Error(`expected = after field key in ${JSON.stringify(line)}`);
    i++;
    if (line[i] === '"') {
      let text = '';
      i++;
      for (;;) {
        if (i >= line.length) throw new Error(`unterminated string in ${JSON.stringify(line)}`);
        const c = line[i] as string;
        if (c === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) {
          text += line[i + 1];
          i += 2;
          continue;
        }
        i++;
        if (c === '"') break;
        text += c;
      }
      fields.push({ key, type: 'string', text });
    } else {
      const start = i;
      while (i < line.length && line[i] !== ',' && line[i] !== ' ') i++;
      const v = line.slice(start, i);
      if (/^-?\d+i$/.test(v)) {
        const n = BigInt(v.slice(0, -1));
        if (n >= 2n ** 63n || n < -(2n ** 63n)) throw new Error(`integer out of range: ${v}`);
        fields.push({ key, type: 'integer', text: v.slice(0, -1) });
      } else if (/^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(v)) {
        if (!Number.isFinite(Number(v))) throw new Error(`float out of range: ${v}`);
        fields.push({ key, type: 'float', text: v });
      } else if (/^(t|T|true|True|TRUE|f|F|false|False|FALSE)$/.test(v)) {
        fields.push({ key, type: 'boolean', text: v });
      } else throw new Error(`bad field value ${JSON.stringify(v)} in ${JSON.stringify(line)}`);
    }
    if (line[i] !== ',') break;
    i++;
  }
  let timestamp: string | undefined;
  if (line[i] === ' ') {
    i++;
    timestamp = line.slice(i);
    if (!/^-?\d+$/.test(timestamp)) throw new Error(`bad timestamp ${JSON.stringify(timestamp)}`);
    i = line.length;
  }
  if (i !== line.length) throw new Error(`trailing text in ${JSON.stringify(line)}`);
  return { measurement, tags, fields, timestamp };
}

/** Parses newline-separated lines (a request body, a datagram); empty lines are skipped. */
export function parseInfluxLines(text: string): ParsedLine[] {
  const out: ParsedLine[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const parsed = parseInfluxLine(line);
    if (parsed !== undefined) out.push(parsed);
  }
  return out;
}
