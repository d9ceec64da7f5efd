/**
 * What may appear in a Graphite name, and what becomes `_`.
 *
 * Path nodes (the parts between dots) keep ASCII letters, digits and `!#$%&+-:<>@^_|~` and the
 * backquote: the printable ASCII characters graphite-web's target grammar accepts in a metric
 * name (webapp/graphite/render/grammar.py excludes `(){},=.'"\`), less the glob characters
 * `*?[]` (a name containing them cannot be queried literally), `/` (a directory separator in
 * whisper's file layout) and `;` (where Graphite 1.1 tags begin). Everything else (`.`, spaces,
 * control characters, the excluded ASCII, and any non-ASCII character, which Graphite's docs
 * advise against) becomes one `_` per character.
 *
 * Tagged series (Graphite 1.1, docs/tags.rst; carbon's TaggedSeries.validateTagAndValue): tag
 * names may not contain `;!^=`, tag values may not contain `;` nor start with `~`, neither may be
 * empty. Whitespace (the plaintext protocol's separator) is replaced in both, and non-ASCII
 * characters too, as in path nodes.
 */

const PATH_SAFE = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) PATH_SAFE[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) PATH_SAFE[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) PATH_SAFE[c] = 1;
for (const ch of '!#$%&+-:<>@^_|~`') PATH_SAFE[ch.charCodeAt(0)] = 1;

/** Printable ASCII except the characters carbon forbids in tag names. */
const TAG_KEY_SAFE = new Uint8Array(128);
/** Printable ASCII except `;`. */
const TAG_VALUE_SAFE = new Uint8Array(128);
for (let c = 0x21; c < 0x7f; c++) {
  TAG_VALUE_SAFE[c] = c === 0x3b ? 0 : 1;
  TAG_KEY_SAFE[c] = c === 0x3b || c === 0x21 || c === 0x5e || c === 0x3d ? 0 : 1;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Replaces every character `safe` does not allow with `_` (one per code point). */
function replaceUnsafe(s: string, safe: Uint8Array): string {
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || safe[c] === 0) break;
  }
  if (i === s.length) return s;
  let out = s.slice(0, i);
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 128 && safe[c] === 1) out += s[i];
    else {
      out += '_';
      if (isHighSurrogate(c) && i + 1 < s.length && isLowSurrogate(s.charCodeAt(i + 1))) i++;
    }
  }
  return out;
}

/** Whether `s` is usable as a path node as it is (literal text in a template, say). */
export function isSafeNode(s: string): boolean {
  return s.length > 0 && replaceUnsafe(s, PATH_SAFE) === s;
}

/** One path node from any text (a tag value): dots and unsafe characters become `_`. */
export function sanitizeNode(s: string): string {
  return replaceUnsafe(s, PATH_SAFE);
}

/**
 * A metric name as a path: its dots are kept as the hierarchy they are in StatsD names
 * (`api.requests`), each part between them is sanitised, and empty parts (from `a..b` or a
 * leading dot) are left out. '' when nothing is left.
 */
export function sanitizeName(name: string): string {
  let out = '';
  let start = 0;
  for (;;) {
    const dot = name.indexOf('.', start);
    const part = sanitizeNode(dot === -1 ? name.slice(start) : name.slice(start, dot));
    if (part !== '') out = out === '' ? part : out + '.' + part;
    if (dot === -1) return out;
    start = dot + 1;
  }
}

/** A Graphite 1.1 tag name; '' when empty. A tag called `name` becomes `_name`: carbon keeps `name` for the series name. */
export function sanitizeTagKey(key: string): string {
  const out = replaceUnsafe(key, TAG_KEY_SAFE);
  return out === 'name' ? '_name' : out;
}

/** A Graphite 1.1 tag value; '' when empty (the tag is then left out). */
export function sanitizeTagValue(value: string): string {
  const out = replaceUnsafe(value, TAG_VALUE_SAFE);
  return out.charCodeAt(0) === 0x7e ? '_' + out.slice(1) : out;
}
