/**
 * `${VAR}` and `${VAR:-default}` interpolation of config strings, as in shells and Bucky3.
 * `$$` is a literal `$`. A variable that is unset and has no default is an error: silently
 * substituting "" would turn a missing secret into an empty password.
 */

export type Env = Readonly<Record<string, string | undefined>>;

export interface InterpolationResult {
  readonly value: string;
  /** Names of unset variables that had no default. */
  readonly missing: readonly string[];
  /** Malformed `${` expressions, as written. */
  readonly malformed: readonly string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function interpolate(text: string, env: Env): InterpolationResult {
  const missing: string[] = [];
  const malformed: string[] = [];
  let out = '';
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf('$', i);
    if (dollar < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, dollar);
    const next = text[dollar + 1];
    if (next === '$') {
      out += '$';
      i = dollar + 2;
      continue;
    }
    if (next !== '{') {
      out += '$';
      i = dollar + 1;
      continue;
    }
    const close = text.indexOf('}', dollar + 2);
    if (close < 0) {
      malformed.push(text.slice(dollar));
      out += text.slice(dollar);
      break;
    }
    const body = text.slice(dollar + 2, close);
    const sep = body.indexOf(':-');
    const name = sep >= 0 ? body.slice(0, sep) : body;
    if (!NAME.test(name)) {
      malformed.push(text.slice(dollar, close + 1));
      out += text.slice(dollar, close + 1);
    } else {
      const value = env[name];
      if (sep >= 0) {
        // Like the shell's `:-`, an empty variable also takes the default.
        out += value !== undefined && value !== '' ? value : body.slice(sep + 2);
      } else if (value !== undefined) {
        out += value;
      } else {
        missing.push(name);
      }
    }
    i = close + 1;
  }
  return { value: out, missing, malformed };
}
