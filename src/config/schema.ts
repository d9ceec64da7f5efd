/**
 * A small schema language for the YAML config: each field has a type, a default or `optional`,
 * and a doc string. Parsing never throws; it collects issues with the path of the bad value, so
 * one run of `sluice validate` reports every mistake, each with its file and line.
 *
 * Unknown keys are errors, not silently ignored: a typo in an option name must not pass.
 */
import { compilePattern } from '../core/filter.js';
import { registerSecret } from '../core/secrets.js';

export type PathSegment = string | number;
export type Path = readonly PathSegment[];

export interface Issue {
  readonly path: Path;
  readonly message: string;
  /** The problem is the key itself (unknown, badly named), not its value. */
  readonly at?: 'key';
}

export const INVALID: unique symbol = Symbol('invalid');
export type Invalid = typeof INVALID;

export interface Schema<T> {
  readonly kind: string;
  /** A short description of what is expected, used in messages: "a number". */
  readonly expected: string;
  readonly doc: string | undefined;
  /** Whether the key may be absent; then `defaultValue` (possibly undefined) is used. */
  readonly optional: boolean;
  readonly defaultValue: T | undefined;
  parse(value: unknown, path: Path, issues: Issue[]): T | Invalid;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

interface Common<T> {
  doc?: string;
  default?: T;
  optional?: boolean;
}

/**
 * A plain (unquoted) YAML scalar that reads as a number, with the text it was written as (after
 * `${VAR}` interpolation): a string field takes the text (`00918273` stays `00918273`, where
 * the number would be 918273), every other field the number.
 */
export class PlainScalar {
  constructor(
    readonly text: string,
    readonly value: number,
  ) {}
}

function describe(value: unknown): string {
  if (value instanceof PlainScalar) return value.text;
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

function base<T>(
  kind: string,
  expected: string,
  opts: Common<T>,
  parse: (value: unknown, path: Path, issues: Issue[]) => T | Invalid,
): Schema<T> {
  return {
    kind,
    expected,
    doc: opts.doc,
    optional: opts.optional === true || opts.default !== undefined,
    defaultValue: opts.default,
    parse: (value, path, issues) =>
      parse(
        value instanceof PlainScalar ? (kind === 'string' ? value.text : value.value) : value,
        path,
        issues,
      ),
  };
}

export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out === '' ? '(top level)' : out;
}

function mismatch(issues: Issue[], path: Path, expected: string, value: unknown): Invalid {
  issues.push({ path, message: `expected ${expected}, got ${describe(value)}` });
  return INVALID;
}

export interface StringOptions extends Common<string> {
  /** Accepted values must match; `patternHint` explains the rule in messages. */
  pattern?: RegExp;
  patternHint?: string;
  nonEmpty?: boolean;
  /** A password or token: its value is registered (core/secrets.ts) so no output shows it. */
  secret?: boolean;
}

function string(opts: StringOptions = {}): Schema<string> {
  const expected = opts.patternHint ?? (opts.nonEmpty === true ? 'a non-empty string' : 'a string');
  return base('string', expected, opts, (value, path, issues) => {
    // YAML turns `name: 123` into a number; a string field takes it as written.
    if (typeof value === 'number' || typeof value === 'boolean') value = String(value);
    if (typeof value !== 'string') return mismatch(issues, path, expected, value);
    if (opts.nonEmpty === true && value === '') return mismatch(issues, path, expected, value);
    if (opts.secret === true) {
      registerSecret(value);
      // A bad secret is reported without its value.
      if (opts.pattern !== undefined && !opts.pattern.test(value))
        return mismatch(issues, path, expected, '(secret)');
    }
    if (opts.pattern !== undefined && !opts.pattern.test(value))
      return mismatch(issues, path, expected, value);
    return value;
  });
}

export interface NumberOptions extends Common<number> {
  min?: number;
  max?: number;
  integer?: boolean;
}

function number(opts: NumberOptions = {}): Schema<number> {
  const what = opts.integer === true ? 'an integer' : 'a number';
  let expected = what;
  if (opts.min !== undefined && opts.max !== undefined) expected = `${what} from ${opts.min} to ${opts.max}`;
  else if (opts.min !== undefined) expected = `${what} of at least ${opts.min}`;
  else if (opts.max !== undefined) expected = `${what} of at most ${opts.max}`;
  return base('number', expected, opts, (value, path, issues) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) return mismatch(issues, path, what, value);
    if (opts.integer === true && !Number.isInteger(value)) return mismatch(issues, path, expected, value);
    if (opts.min !== undefined && value < opts.min) return mismatch(issues, path, expected, value);
    if (opts.max !== undefined && value > opts.max) return mismatch(issues, path, expected, value);
    return value;
  });
}

function boolean(opts: Common<boolean> = {}): Schema<boolean> {
  return base('boolean', 'true or false', opts, (value, path, issues) =>
    typeof value === 'boolean' ? value : mismatch(issues, path, 'true or false', value),
  );
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses "250ms", "10s", "1.5m", "2h" or a bare number of seconds into milliseconds. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (m === null) return undefined;
  return Number(m[1]) * (DURATION_UNITS[m[2] ?? 's'] as number);
}

export interface DurationOptions extends Common<number> {
  /** Bounds in milliseconds. */
  minMs?: number;
  maxMs?: number;
  /** 0 is accepted whatever `minMs` says: the option's "never" (or "off"). */
  zeroMeans?: string;
}

/** A duration; the parsed value (and `default`) are in milliseconds. */
function duration(opts: DurationOptions = {}): Schema<number> {
  const expected = 'a duration (seconds, or a string like "10s", "500ms", "5m")';
  return base('duration', expected, opts, (value, path, issues) => {
    const ms = parseDuration(value);
    if (ms === undefined) return mismatch(issues, path, expected, value);
    if (ms === 0 && opts.zeroMeans !== undefined) return 0;
    if (opts.minMs !== undefined && ms < opts.minMs)
      return mismatch(
        issues,
        path,
        `a duration of at least ${opts.minMs} ms` +
          (opts.zeroMeans === undefined ? '' : ` (or 0: ${opts.zeroMeans})`),
        value,
      );
    if (opts.maxMs !== undefined && ms > opts.maxMs)
      return mismatch(issues, path, `a duration of at most ${opts.maxMs} ms`, value);
    return ms;
  });
}

function oneOf<const V extends string>(values: readonly V[], opts: Common<V> = {}): Schema<V> {
  const expected = `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
  return base('enum', expected, opts, (value, path, issues) =>
    typeof value === 'string' && (values as readonly string[]).includes(value)
      ? (value as V)
      : mismatch(issues, path, expected, value),
  );
}

export interface ArrayOptions<T> extends Common<T[]> {
  minLength?: number;
}

function array<T>(item: Schema<T>, opts: ArrayOptions<T> = {}): Schema<T[]> {
  const expected = `a list of ${item.expected.replace(/^(a|an) /, '')}s`;
  return base('array', 'a list', opts, (value, path, issues) => {
    if (!Array.isArray(value)) return mismatch(issues, path, expected, value);
    if (opts.minLength !== undefined && value.length < opts.minLength) {
      issues.push({ path, message: `expected at least ${opts.minLength} item(s), got ${value.length}` });
      return INVALID;
    }
    const out: T[] = [];
    let ok = true;
    value.forEach((v, i) => {
      const r = item.parse(v, [...path, i], issues);
      if (r === INVALID) ok = false;
      else out.push(r);
    });
    return ok ? out : INVALID;
  });
}

/** A mapping from free-form keys (tag names, instance names) to values of one schema. */
function record<T>(valueSchema: Schema<T>, opts: Common<Record<string, T>> = {}): Schema<Record<string, T>> {
  return base('record', 'a mapping', opts, (value, path, issues) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      return mismatch(issues, path, 'a mapping', value);
    const out: Record<string, T> = {};
    let ok = true;
    for (const [k, v] of Object.entries(value)) {
      const r = valueSchema.parse(v, [...path, k], issues);
      if (r === INVALID) ok = false;
      else out[k] = r;
    }
    return ok ? out : INVALID;
  });
}

export type Fields = Record<string, Schema<unknown>>;
export type InferFields<F extends Fields> = { [K in keyof F]: Infer<F[K]> };

export interface ObjectSchema<F extends Fields> extends Schema<InferFields<F>> {
  readonly fields: F;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min(
        (row[j] as number) + 1,
        (row[j - 1] as number) + 1,
        prev + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      prev = tmp;
    }
  }
  return row[b.length] as number;
}

/** Suggests the closest known key for a typo. */
export function suggest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

export interface ObjectOptions {
  doc?: string;
  optional?: boolean;
  /** Keys accepted and ignored (the `type` discriminator of a component block). */
  allowKeys?: readonly string[];
}

function object<F extends Fields>(fields: F, opts: ObjectOptions = {}): ObjectSchema<F> {
  const known = Object.keys(fields);
  const allowed = new Set([...known, ...(opts.allowKeys ?? [])]);
  const parse = (value: unknown, path: Path, issues: Issue[]): InferFields<F> | Invalid => {
    if (value === undefined || value === null) value = {};
    if (typeof value !== 'object' || Array.isArray(value)) return mismatch(issues, path, 'a mapping', value);
    const input = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    let ok = true;
    for (const key of Object.keys(input)) {
      if (!allowed.has(key)) {
        const hint = suggest(key, known);
        issues.push({
          path: [...path, key],
          at: 'key',
          message: `unknown key${hint !== undefined ? ` (did you mean "${hint}"?)` : ''}; known keys: ${known.join(', ')}`,
        });
        ok = false;
      }
    }
    for (const key of known) {
      const field = fields[key] as Schema<unknown>;
      const raw = input[key];
      if (raw === undefined || raw === null) {
        if (field.optional || field.kind === 'object') {
          out[key] =
            field.kind === 'object' && !field.optional
              ? field.parse({}, [...path, key], issues)
              : field.defaultValue;
          if (out[key] === INVALID) ok = false;
        } else {
          issues.push({ path: [...path, key], message: `is required (${field.expected})` });
          ok = false;
        }
        continue;
      }
      const r = field.parse(raw, [...path, key], issues);
      if (r === INVALID) ok = false;
      else out[key] = r;
    }
    return ok ? (out as InferFields<F>) : INVALID;
  };
  return { ...base('object', 'a mapping', { doc: opts.doc, optional: opts.optional }, parse), fields };
}

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** "host:port", "[v6]:port" or ":port" (all interfaces). */
export function parseListen(value: string): ListenAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]*)):(\d{1,5})$/.exec(value.trim());
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? (m[2] === '' || m[2] === undefined ? '0.0.0.0' : m[2]);
  return { host, port };
}

function listen(opts: Common<string> = {}): Schema<ListenAddress> {
  const expected = 'an address like "127.0.0.1:8125", "[::1]:8125" or ":8125"';
  const def = opts.default !== undefined ? parseListen(opts.default) : undefined;
  if (opts.default !== undefined && def === undefined)
    throw new Error(`bad default listen address ${opts.default}`);
  return base<ListenAddress>(
    'listen',
    expected,
    { doc: opts.doc, optional: opts.optional, default: def },
    (value, path, issues) => {
      const parsed = typeof value === 'string' ? parseListen(value) : undefined;
      return parsed ?? mismatch(issues, path, expected, value);
    },
  );
}

/** A value checked by a function that returns an error message or the parsed value. */
function custom<T>(
  expected: string,
  check: (value: unknown) => { ok: true; value: T } | { ok: false; message?: string },
  opts: Common<T> = {},
): Schema<T> {
  return base('custom', expected, opts, (value, path, issues) => {
    const r = check(value);
    if (r.ok) return r.value;
    if (r.message !== undefined) {
      issues.push({ path, message: r.message });
      return INVALID;
    }
    return mismatch(issues, path, expected, value);
  });
}

/** A name or tag pattern as the filter step understands it: a glob, or a /regex/ that must compile. */
function pattern(opts: Common<string> = {}): Schema<string> {
  return custom<string>(
    'a glob or a /regex/',
    (v) => {
      if (typeof v !== 'string') return { ok: false };
      try {
        compilePattern(v);
        return { ok: true, value: v };
      } catch (e) {
        return {
          ok: false,
          message: `invalid regular expression ${JSON.stringify(v)}: ${(e as Error).message}`,
        };
      }
    },
    opts,
  );
}

export const s = { string, number, boolean, duration, oneOf, array, record, object, listen, custom, pattern };
