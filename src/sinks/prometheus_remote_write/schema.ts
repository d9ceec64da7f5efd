/** Config of the `prometheus_remote_write` sink, and the sample block `sluice generate` prints for it. */
import { INVALID, s, type InferFields, type ObjectSchema } from '../../config/schema.js';
import { clientTlsSample, clientTlsSchema } from '../../config/tls.js';
import { formatEndpoint, type Endpoint } from '../push/endpoints.js';
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

/**
 * One `urls` entry: an Endpoint (host and port, which PushSink resolves and labels stats with)
 * that keeps its whole URL, since each receiver may have its own scheme and path.
 */
export interface RemoteWriteUrl extends Endpoint {
  /** The URL, normalised (`new URL(...).href`). */
  readonly href: string;
}

/** Parses a remote-write URL; an error message when it is not one. */
export function parseRemoteWriteUrl(text: string): RemoteWriteUrl | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `"${text}" is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `"${text}" is not an http:// or https:// URL`;
  // Credentials in the URL would show in logs and stat labels; they go in basic_auth instead.
  if (url.username !== '' || url.password !== '')
    return 'has credentials in it; use basic_auth with password_env instead';
  if (url.hash !== '') return `"${text}" has a #fragment`;
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  // URL keeps IPv6 hosts in brackets; endpoints hold them bare.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port, href: url.href };
}

const envName = (doc: string) =>
  s.string({ pattern: ENV_NAME, patternHint: 'an environment variable name', optional: true, doc });

const fields = {
  urls: s.array(
    s.custom<RemoteWriteUrl>('an http:// or https:// URL', (v) => {
      if (typeof v !== 'string') return { ok: false };
      const u = parseRemoteWriteUrl(v);
      return typeof u === 'string' ? { ok: false, message: u } : { ok: true, value: u };
    }),
    {
      minLength: 1,
      default: [parseRemoteWriteUrl(DEFAULT_URL) as RemoteWriteUrl],
      doc:
        "The receivers' remote-write URLs: Prometheus /api/v1/write (started with " +
        '--web.enable-remote-write-receiver), Mimir and Cortex /api/v1/push, VictoriaMetrics ' +
        '/api/v1/write, Thanos Receive /api/v1/receive. Each names its own host:port; host names ' +
        'are resolved at start and every resolve_interval.',
    },
  ),
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
  tls: clientTlsSchema,
  native_histograms: s.boolean({
    default: false,
    doc:
      'Send distributions (d) as native histograms (exact sketch buckets, one series each) ' +
      'instead of quantile, _sum and _count series. The receiver must take them: Prometheus ' +
      'with --enable-feature=native-histograms, Mimir, VictoriaMetrics.',
  }),
  native_histogram_max_buckets: s.number({
    default: 0,
    min: 0,
    integer: true,
    doc: 'Most populated buckets per native histogram series; beyond, its resolution is halved until it fits. 0: no limit (4096 per sign at most are held).',
  }),
  ...withoutEndpoints(pushOptionsSchema(REMOTE_WRITE_PUSH)),
};

/** The push options less `endpoints`, which `urls` replaces (a receiver needs a scheme and a path). */
function withoutEndpoints<T extends { endpoints: unknown }>(f: T): Omit<T, 'endpoints'> {
  const { endpoints: _endpoints, ...rest } = f;
  return rest;
}

const base = s.object(fields, { allowKeys: ['type'] });

/** The object schema, plus the rules that span fields. */
export const schema: ObjectSchema<typeof fields> = {
  ...base,
  parse(value, path, issues) {
    const parsed = base.parse(value, path, issues);
    if (parsed === INVALID) return parsed;
    const before = issues.length;
    if (parsed.bearer_token_env !== undefined && parsed.basic_auth !== undefined)
      issues.push({
        path: [...path, 'basic_auth'],
        message: 'cannot be used with bearer_token_env: a request carries one Authorization header',
      });
    // Stats are labelled, and endpoints told apart, by host:port; two receivers behind one
    // host:port (two paths of one server) take two sinks.
    const seen = new Set<string>();
    for (const [i, u] of parsed.urls.entries()) {
      const label = formatEndpoint(u);
      if (seen.has(label))
        issues.push({
          path: [...path, 'urls', i],
          message: `names ${label} again; each URL must have a host:port of its own (use another sink)`,
        });
      seen.add(label);
    }
    return issues.length > before ? INVALID : parsed;
  },
};

export type RemoteWriteConfig = InferFields<typeof fields>;

/** The shared push options' block, without `endpoints` (`urls` says where) and `mode` (above, reworded). */
function pushSample(): string {
  const text = pushOptionsSample(REMOTE_WRITE_PUSH);
  const at = text.indexOf('    # A batch is sent');
  if (at < 0) throw new Error('the push options sample changed: update prometheus_remote_write');
  return text.slice(at);
}

export const sample = `  remote_write:
    type: prometheus_remote_write
    # The receivers' remote-write URLs, http:// or https:// (ports 80 and 443 by default):
    # Prometheus /api/v1/write (run with --web.enable-remote-write-receiver), Mimir or
    # Cortex /api/v1/push, VictoriaMetrics /api/v1/write, Thanos Receive /api/v1/receive.
    # Each needs a host:port of its own. Host names are resolved at start and again every
    # resolve_interval; requests still carry the URL's host (Host header, TLS name).
    urls: ['${DEFAULT_URL}']
    # With several URLs: fanout sends every sample to each receiver, each with its own
    # buffer, so one that was down catches up; spread sends each batch to one receiver in
    # turn, skipping one that fails: for receivers sharing one storage (Mimir, Cortex or
    # VictoriaMetrics nodes), as each sample reaches only one of them.
    mode: ${REMOTE_WRITE_PUSH.mode}
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
${clientTlsSample('    ')}    # Distributions (d) as native histograms: one series of the sketch's exact buckets,
    # which sum() merges across agents. The receiver must accept them (Prometheus with
    # --enable-feature=native-histograms, Mimir, VictoriaMetrics). false: quantile, _sum
    # and _count series, which any receiver takes.
    native_histograms: false
    # Most populated buckets per native histogram series; beyond, the resolution halves.
    native_histogram_max_buckets: 0
${pushSample()}`;
