/** Config of the `influxdb` sink, and the sample block `sluice generate` prints for it. */
import { INVALID, s, type InferFields, type ObjectSchema } from '../../config/schema.js';
import { PRECISIONS } from '../../protocols/influx/line.js';
import { formatEndpoint, parseEndpoint, type Endpoint } from '../push/endpoints.js';
import { pushDefaults, pushOptionsSample, pushOptionsSchema } from '../push/schema.js';
import { clientTlsSample, clientTlsSchema } from '../../config/tls.js';

/** The HTTP API's port; the UDP listener's is 8089 (both InfluxDB's defaults). */
export const INFLUXDB_PUSH = pushDefaults({ port: 8086, endpoints: ['127.0.0.1:8086'] });

export const UDP_DEFAULT_PORT = 8089;
/** The largest UDP payload over IPv4 (65535 - 20 bytes of IP header - 8 of UDP header). */
export const MAX_UDP_PAYLOAD = 65_507;
/**
 * Telegraf's `udp_payload` default: a datagram of 512 bytes plus headers is never fragmented,
 * whatever tunnels lie on the path (IPv4 hosts must accept 576 bytes).
 */
export const DEFAULT_UDP_PAYLOAD = 512;

export const SCHEMES = ['udp', 'http', 'https'] as const;
export type Scheme = (typeof SCHEMES)[number];

/** One `urls` entry. An Endpoint, so that PushSink resolves and labels it as any other. */
export interface InfluxUrl extends Endpoint {
  readonly scheme: Scheme;
  /** A path prefix before /write (InfluxDB behind a proxy), without a trailing slash; '' if none. */
  readonly path: string;
}

/** Parses `udp://host:port`, `http://host:port[/prefix]`, `https://...`; an error message otherwise. */
export function parseInfluxUrl(text: string): InfluxUrl | string {
  const m = /^([a-zA-Z]+):\/\/([^/?#]*)([^?#]*)$/.exec(text.trim());
  if (m === null)
    return `"${text}" is not a URL like "http://127.0.0.1:8086" or "udp://127.0.0.1:8089" (no query or fragment)`;
  const scheme = (m[1] as string).toLowerCase();
  if (!(SCHEMES as readonly string[]).includes(scheme))
    return `"${text}" has the scheme "${scheme}"; expected udp, http or https`;
  const authority = m[2] as string;
  if (authority.includes('@'))
    return `"${text}" holds credentials; set username and password (or token) instead, so that they never appear where URLs are logged`;
  const endpoint = parseEndpoint(authority, scheme === 'udp' ? UDP_DEFAULT_PORT : 8086);
  if (typeof endpoint === 'string') return endpoint;
  const path = (m[3] as string).replace(/\/+$/, '');
  if (scheme === 'udp' && path !== '') return `"${text}": a udp:// URL has no path`;
  return { host: endpoint.host, port: endpoint.port, scheme: scheme as Scheme, path };
}

export function formatInfluxUrl(u: InfluxUrl): string {
  return `${u.scheme}://${formatEndpoint(u)}${u.path}`;
}

const DEFAULT_URL = parseInfluxUrl('http://127.0.0.1:8086') as InfluxUrl;

export const APIS = ['v1', 'v2'] as const;
export const CONTENT_ENCODINGS = ['gzip', 'identity'] as const;

// Every push option but `endpoints`, which `urls` replaces (it needs a scheme).
const { endpoints: _endpoints, ...pushFields } = pushOptionsSchema(INFLUXDB_PUSH);

const fields = {
  urls: s.array(
    s.custom<InfluxUrl>('a URL like "http://127.0.0.1:8086" or "udp://127.0.0.1:8089"', (v) => {
      if (typeof v !== 'string') return { ok: false };
      const u = parseInfluxUrl(v);
      return typeof u === 'string' ? { ok: false, message: u } : { ok: true, value: u };
    }),
    {
      minLength: 1,
      default: [DEFAULT_URL],
      doc:
        'Servers to write to: udp://host:port (the port defaults to 8089) or http(s)://host:port[/prefix] ' +
        '(8086), all udp or all http(s). Host names are resolved at start and every resolve_interval.',
    },
  ),
  api: s.oneOf(APIS, {
    default: 'v1',
    doc: 'HTTP only: v1 writes to /write (database, retention_policy, username, password); v2 to /api/v2/write (organization, bucket, token).',
  }),
  database: s.string({ default: 'sluice', nonEmpty: true, doc: 'v1: the database to write to.' }),
  retention_policy: s.string({
    default: '',
    doc: "v1: the retention policy; '' for the database's default.",
  }),
  username: s.string({ default: '', doc: "v1: user for HTTP basic authentication; '' for none." }),
  password: s.string({
    default: '',
    secret: true,
    doc: 'v1: its password; write "${VAR}" to take it from the environment. Never logged.',
  }),
  organization: s.string({ default: '', doc: 'v2: the organization (name or ID) that owns the bucket.' }),
  bucket: s.string({
    default: '',
    doc: 'v2: the bucket to write to (a 1.8 server takes "database/retention_policy").',
  }),
  token: s.string({
    default: '',
    secret: true,
    doc: 'v2: sent as "Authorization: Token …"; write "${VAR}" to take it from the environment. Never logged.',
  }),
  tls: clientTlsSchema,
  precision: s.oneOf(PRECISIONS, {
    default: 'ns',
    doc: 'Unit of the timestamps written. Over UDP it must equal the precision of the server\'s [[udp]] listener ("" there means ns).',
  }),
  content_encoding: s.oneOf(CONTENT_ENCODINGS, {
    default: 'gzip',
    doc: 'HTTP only: gzip compresses each request body (line protocol shrinks about tenfold); identity sends it as is.',
  }),
  udp_payload: s.number({
    integer: true,
    min: 64,
    max: MAX_UDP_PAYLOAD,
    default: DEFAULT_UDP_PAYLOAD,
    doc:
      'UDP only: the largest datagram payload in bytes. Lines are packed into datagrams up to this size; ' +
      'a longer point is split into several lines (InfluxDB merges them), and a line that is still longer goes alone.',
  }),
  integer_counters: s.boolean({
    default: false,
    doc:
      "Write counter values as integers (3i) instead of floats, as Telegraf's statsd input does; for databases " +
      'that already hold integer counters, where a float would be refused as a field type conflict.',
  }),
  ...pushFields,
};

const base = s.object(fields, { allowKeys: ['type'] });

export type InfluxdbConfig = InferFields<typeof fields>;

/** The object schema, plus the rules that span fields. */
export const schema: ObjectSchema<typeof fields> = {
  ...base,
  parse(value, path, issues) {
    const parsed = base.parse(value, path, issues);
    if (parsed === INVALID) return parsed;
    const before = issues.length;
    const udp = parsed.urls.filter((u) => u.scheme === 'udp').length;
    if (udp > 0 && udp < parsed.urls.length)
      issues.push({
        path: [...path, 'urls'],
        message: 'mixes udp:// and http(s):// URLs; use one influxdb sink for each',
      });
    const seen = new Set<string>();
    for (const [i, u] of parsed.urls.entries()) {
      const label = formatEndpoint(u);
      if (seen.has(label)) issues.push({ path: [...path, 'urls', i], message: `names ${label} twice` });
      seen.add(label);
    }
    if (parsed.api === 'v2') {
      if (udp > 0)
        issues.push({
          path: [...path, 'api'],
          message: 'is v2, which has no UDP listener; use http(s):// URLs',
        });
      for (const key of ['organization', 'bucket'] as const)
        if (parsed[key] === '') issues.push({ path: [...path, key], message: 'is required with api: v2' });
    }
    return issues.length > before ? INVALID : parsed;
  },
};

/** The push options' sample, less its `endpoints` lines, which `urls` replaces. */
function pushSampleWithoutEndpoints(): string {
  const lines = pushOptionsSample(INFLUXDB_PUSH).split('\n');
  const at = lines.findIndex((l) => l.startsWith('    endpoints:'));
  // The endpoints option and the two comment lines above it.
  if (at < 2) throw new Error('the push sample no longer starts with endpoints');
  lines.splice(at - 2, 3);
  return lines.join('\n');
}

export const sample = `  influxdb:
    type: influxdb
    # Servers to write to, all of one kind: "udp://host:port" (InfluxDB 1.x's UDP listener,
    # port 8089 by default) or "http://host:port", "https://host:port/prefix" (the HTTP API,
    # port 8086). Host names are resolved at start and again every resolve_interval.
    urls: ['http://127.0.0.1:8086']
    # HTTP API: v1 writes to /write (InfluxDB 1.x, and 2.x's v1 compatibility API); v2 writes
    # to /api/v2/write (InfluxDB 2.x, or 1.8+ with bucket "database/retention_policy").
    api: v1
    # v1: where to write, and basic authentication ('' for none). Write secrets as "\${VAR}"
    # to take them from the environment; they are never logged.
    database: sluice
    retention_policy: ''
    username: ''
    password: ''
    # v2: organization, bucket and API token (sent as "Authorization: Token ...").
    organization: ''
    bucket: ''
    token: ''
${clientTlsSample('    ')}    # Unit of the timestamps written: ns, us, ms or s. Over UDP it must match the
    # "precision" of the server's [[udp]] listener ("" there means ns).
    precision: ns
    # HTTP: gzip compresses request bodies; identity sends them as they are.
    content_encoding: gzip
    # UDP: largest datagram payload in bytes; lines are packed up to it, longer points are
    # split into several lines (InfluxDB merges them), a line still longer is sent alone.
    udp_payload: ${DEFAULT_UDP_PAYLOAD}
    # Write counter values as integers (3i) rather than floats, as Telegraf's statsd input
    # does: for databases that already hold its integer counters.
    integer_counters: false
${pushSampleWithoutEndpoints()}`;
