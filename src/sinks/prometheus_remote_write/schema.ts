/** Config of the `prometheus_remote_write` sink, and the sample block `sluice generate` prints for it. */
import { INVALID, s, type InferFields, type ObjectSchema } from '../../config/schema.js';
import { formatDuration, pushDefaults, pushOptionsSample, pushOptionsSchema } from '../push/schema.js';

/**
 * Prometheus' own remote-write client sends every 5 s at most 2000 samples (2.42: 500) with a
 * 30 s timeout. A point here is one metric, which is one sample (counter, gauge) or a dozen (a
 * summary, a histogram), so 500 points make requests of the same order.
 */
export const REMOTE_WRITE_PUSH = pushDefaults({ port: 9090, batchSize: 500, timeoutMs: 30_000 });

export const DEFAULT_URL = 'http://127.0.0.1:9090/api/v1/write';

/** Headers the sink sets itself; the user's `headers` may not override them. */
export const RESERVED_HEADERS = [
  'authorization',
  'content-encoding',
  'content-length',
  'content-type',
  'host',
  'transfer-encoding',
  'connection',
  'x-prometheus-remote-write-version',
];

/** An HTTP header name: a token (RFC 9110, 5.6.2). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A header value: visible ASCII, spaces and tabs, no CR/LF (which would split the request). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Checks a remote-write URL; the value kept is its normalised text (`new URL(...).href`). */
function parseUrl(value: unknown): { ok: true; value: string } | { ok: false; message?: string } {
  if (typeof value !== 'string') return { ok: false };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, message: `"${value}" is not a URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { ok: false, message: `"${value}" is not an http:// or https:// URL` };
  // Credentials in the URL would show in logs and stat labels; they go in basic_auth instead.
  if (url.username !== '' || url.password !== '')
    return { ok: false, message: 'has credentials in it; use basic_auth with password_env instead' };
  if (url.hash !== '') return { ok: false, message: `"${value}" has a #fragment` };
  return { ok: true, value: url.href };
}

const envName = (doc: string) =>
  s.string({ pattern: ENV_NAME, patternHint: 'an environment variable name', optional: true, doc });

const fields = {
  url: s.custom<string>('an http:// or https:// URL', parseUrl, {
    default: DEFAULT_URL,
    doc:
      "The receiver's remote-write URL: Prometheus /api/v1/write (started with " +
      '--web.enable-remote-write-receiver), Mimir and Cortex /api/v1/push, VictoriaMetrics ' +
      '/api/v1/write, Thanos Receive /api/v1/receive.',
  }),
  headers: s.custom<Record<string, string>>(
    'a mapping of header names to values',
    (value) => {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false };
      const out: Record<string, string> = {};
      for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
        if (!HEADER_NAME.test(name)) return { ok: false, message: `"${name}" is not a header name` };
        if (RESERVED_HEADERS.includes(name.toLowerCase()))
          return {
            ok: false,
            message: `"${name}" is set by the sink${name.toLowerCase() === 'authorization' ? ' (use bearer_token_env or basic_auth)' : ''}`,
          };
        const text = typeof v === 'number' || typeof v === 'boolean' ? String(v) : v;
        if (typeof text !== 'string' || !HEADER_VALUE.test(text))
          return { ok: false, message: `the value of "${name}" is not a header value (one line of text)` };
        out[name] = text;
      }
      return { ok: true, value: out };
    },
    {
      default: {},
      doc: 'Extra HTTP headers sent with every request (X-Scope-OrgID for a Mimir or Cortex tenant, say).',
    },
  ),
  bearer_token_env: envName(
    'The environment variable holding a bearer token, sent as "Authorization: Bearer <token>". ' +
      'Read when the sink starts; never logged.',
  ),
  basic_auth: s.object(
    {
      username: s.string({ nonEmpty: true, doc: 'The user name.' }),
      password_env: s.string({
        pattern: ENV_NAME,
        patternHint: 'an environment variable name',
        doc: 'The environment variable holding the password; read when the sink starts, never logged.',
      }),
    },
    { optional: true, doc: 'HTTP basic authentication.' },
  ),
  expiry: s.duration({
    default: 300_000,
    minMs: 1_000,
    doc:
      'A series not written for this long is forgotten: a delta counter that comes back starts ' +
      'again from zero (as the prometheus_exporter sink would show it).',
  }),
  metadata_interval: s.duration({
    default: 60_000,
    doc:
      'How often the type and help of each metric family are sent along (with the first sample, ' +
      'then at most this often); 0 sends none.',
  }),
  ...withoutEndpoints(pushOptionsSchema(REMOTE_WRITE_PUSH)),
};

/** One receiver per sink: endpoints come from the URL, and with one there is no mode to pick. */
function withoutEndpoints<T extends { endpoints: unknown; mode: unknown }>(
  f: T,
): Omit<T, 'endpoints' | 'mode'> {
  const { endpoints: _endpoints, mode: _mode, ...rest } = f;
  return rest;
}

const base = s.object(fields, { allowKeys: ['type'] });

/** The object schema, plus the one rule that spans two fields. */
export const schema: ObjectSchema<typeof fields> = {
  ...base,
  parse(value, path, issues) {
    const parsed = base.parse(value, path, issues);
    if (parsed !== INVALID && parsed.bearer_token_env !== undefined && parsed.basic_auth !== undefined) {
      issues.push({
        path: [...path, 'basic_auth'],
        message: 'cannot be used with bearer_token_env: a request carries one Authorization header',
      });
      return INVALID;
    }
    return parsed;
  },
};

export type RemoteWriteConfig = InferFields<typeof fields>;

/** The shared push options' block, without `endpoints` and `mode` (the URL says where). */
function pushSample(): string {
  const text = pushOptionsSample(REMOTE_WRITE_PUSH);
  const at = text.indexOf('    # A batch is sent');
  if (at < 0) throw new Error('the push options sample changed: update prometheus_remote_write');
  return text.slice(at);
}

export const sample = `  remote_write:
    type: prometheus_remote_write
    # The receiver's remote-write URL: Prometheus /api/v1/write (run with
    # --web.enable-remote-write-receiver), Mimir or Cortex /api/v1/push, VictoriaMetrics
    # /api/v1/write, Thanos Receive /api/v1/receive. http:// or https://.
    url: ${DEFAULT_URL}
    # Extra HTTP headers on every request, e.g. {X-Scope-OrgID: tenant1} for Mimir.
    headers: {}
    # Authentication, at most one of the two, the secret read from an environment
    # variable when the sink starts (never logged): bearer_token_env: RW_TOKEN sends
    # "Authorization: Bearer <token>"; basic_auth: {username: sluice, password_env:
    # RW_PASSWORD} sends basic authentication. Empty: none.
    bearer_token_env:
    basic_auth:
    # Series state (the running totals of delta counters) is forgotten after this long
    # without a write; a counter that comes back then starts again from zero.
    expiry: ${formatDuration(300_000)}
    # Each family's type and help go along with its first sample, then at most this
    # often (0s: never). Mimir keeps them; Prometheus ignores them.
    metadata_interval: ${formatDuration(60_000)}
${pushSample()}`;
