/**
 * Secrets the agent holds (passwords, tokens, the Authorization values made from them), so that
 * no log line, error, command output or page shows one, even when a server echoes a request
 * back: every such output passes through `redactSecrets`. A secret is registered where it is
 * read: a config field declared `secret` when the config is parsed, a `*_env` option when a sink
 * reads the variable. Passwords inside URLs (`http://user:pass@host`) are masked wherever they
 * appear, registered or not.
 */

/** Shorter values would mask ordinary text; such a secret is weak anyway. */
const MIN_LENGTH = 4;
const MASK = '***';

const registered = new Set<string>();
/** Every form a secret may take in output, longest first so a longer form is masked whole. */
let forms: string[] = [];

/** Registers a secret value; its plain, JSON-escaped and URL-encoded forms are masked from now on. */
export function registerSecret(value: string): void {
  if (value.length < MIN_LENGTH || registered.has(value)) return;
  registered.add(value);
  const all = new Set(forms);
  all.add(value);
  all.add(JSON.stringify(value).slice(1, -1));
  all.add(encodeURIComponent(value));
  all.add(Buffer.from(value).toString('base64'));
  forms = [...all].filter((f) => f.length >= MIN_LENGTH).sort((a, b) => b.length - a.length);
}

// scheme://user:password@ → scheme://user:***@ (the user stays: it says which account).
const URL_CREDENTIALS = /([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s/:@"'<>]*):[^\s/@"'<>]+@/g;

/** `text` with every registered secret, and every password inside a URL, replaced by `***`. */
export function redactSecrets(text: string): string {
  let out = text.includes('://') ? text.replace(URL_CREDENTIALS, `$1:${MASK}@`) : text;
  for (const f of forms) if (out.includes(f)) out = out.split(f).join(MASK);
  return out;
}

/** For tests: forgets every registered secret. */
export function clearSecrets(): void {
  registered.clear();
  forms = [];
}
