/**
 * The options every push sink shares (batching, buffering, retries, endpoints), as schema fields
 * a sink spreads into its own `s.object(...)`, and the matching block of its sample config:
 *
 *   export const schema = s.object({ ...pushOptionsSchema(GRAPHITE_PUSH), template: ... });
 *
 * Defaults differ per protocol (a UDP sink wants small batches, a TCP one large), so both are
 * built from a `PushDefaults`.
 */
import { s, type InferFields } from '../../config/schema.js';
import { formatEndpoint, parseEndpoint, type Endpoint } from './endpoints.js';

export const PUSH_MODES = ['fanout', 'spread'] as const;
export type PushMode = (typeof PUSH_MODES)[number];

export interface PushDefaults {
  /** Port used when an endpoint names a host only. */
  readonly port: number;
  readonly endpoints: readonly string[];
  readonly mode: PushMode;
  readonly batchSize: number;
  readonly batchBytes: number;
  readonly flushIntervalMs: number;
  readonly bufferPoints: number;
  readonly bufferBytes: number;
  readonly retryInitialMs: number;
  readonly maxRetryIntervalMs: number;
  readonly resolveIntervalMs: number;
  readonly timeoutMs: number;
  readonly shutdownTimeoutMs: number;
}

/** Reasonable values for a TCP sink delivering every second; sinks override what they must. */
export function pushDefaults(overrides: Partial<PushDefaults> & Pick<PushDefaults, 'port'>): PushDefaults {
  return {
    endpoints: [`127.0.0.1:${overrides.port}`],
    mode: 'fanout',
    batchSize: 1000,
    batchBytes: 1024 * 1024,
    flushIntervalMs: 1000,
    bufferPoints: 100_000,
    bufferBytes: 64 * 1024 * 1024,
    retryInitialMs: 500,
    maxRetryIntervalMs: 30_000,
    resolveIntervalMs: 60_000,
    timeoutMs: 10_000,
    shutdownTimeoutMs: 5_000,
    ...overrides,
  };
}

function endpointSchema(defaultPort: number) {
  return s.custom<Endpoint>(
    `an endpoint like "graphite.example.com:${defaultPort}" or "[::1]:${defaultPort}"`,
    (v) => {
      if (typeof v !== 'string') return { ok: false };
      const parsed = parseEndpoint(v, defaultPort);
      return typeof parsed === 'string' ? { ok: false, message: parsed } : { ok: true, value: parsed };
    },
  );
}

function parseDefaultEndpoints(d: PushDefaults): Endpoint[] {
  return d.endpoints.map((text) => {
    const e = parseEndpoint(text, d.port);
    if (typeof e === 'string') throw new Error(`bad default endpoint: ${e}`);
    return e;
  });
}

const MiB = 1024 * 1024;

export function pushOptionsSchema(d: PushDefaults) {
  return {
    endpoints: s.array(endpointSchema(d.port), {
      minLength: 1,
      default: parseDefaultEndpoints(d),
      doc:
        `Servers to send to, as "host:port" ("[v6]:port" for IPv6; the port defaults to ${d.port}). ` +
        'Host names are resolved at start and every resolve_interval.',
    }),
    mode: s.oneOf(PUSH_MODES, {
      default: d.mode,
      doc:
        'With several endpoints: fanout sends every point to every endpoint, each with its own ' +
        'buffer, so a dead one never holds back the others; spread sends each batch to one ' +
        'endpoint, in turn, and moves on to the next when one fails.',
    }),
    batch_size: s.number({
      integer: true,
      min: 1,
      default: d.batchSize,
      doc: 'At most this many points per send; a full batch is sent at once, without waiting for flush_interval.',
    }),
    batch_bytes: s.number({
      integer: true,
      min: 1,
      default: d.batchBytes,
      doc: 'At most this many bytes per send (a single larger point is sent alone).',
    }),
    flush_interval: s.duration({
      default: d.flushIntervalMs,
      minMs: 10,
      doc: 'How long a point may wait for its batch to fill before it is sent anyway.',
    }),
    buffer_points: s.number({
      integer: true,
      min: 1,
      default: d.bufferPoints,
      doc:
        'Points kept while an endpoint is slow or down (per endpoint in fanout mode). When full, the ' +
        'oldest are dropped and counted in sluice_dropped_metrics{reason="buffer_full"}.',
    }),
    buffer_bytes: s.number({
      integer: true,
      min: 1,
      default: d.bufferBytes,
      doc: `The same limit in bytes of encoded data (${d.bufferBytes / MiB} MiB by default).`,
    }),
    retry_initial: s.duration({
      default: d.retryInitialMs,
      minMs: 1,
      doc:
        'After a failed send, the first retry comes within this delay; each further failure doubles ' +
        'the bound, and the actual delay is random below it (full jitter).',
    }),
    max_retry_interval: s.duration({
      default: d.maxRetryIntervalMs,
      minMs: 1,
      doc: 'The longest wait between two retries, however long the endpoint has been down.',
    }),
    resolve_interval: s.duration({
      default: d.resolveIntervalMs,
      doc: 'How often host names are looked up again, to follow DNS changes; 0 looks them up at start only.',
    }),
    timeout: s.duration({
      default: d.timeoutMs,
      minMs: 1,
      doc: 'A send (connecting included) that takes longer fails, and is retried on a new connection.',
    }),
    shutdown_timeout: s.duration({
      default: d.shutdownTimeoutMs,
      doc:
        'At shutdown, how long to keep trying to deliver what is buffered before giving up (and ' +
        'counting it as dropped); keep it below the agent shutdown_timeout.',
    }),
  };
}

export type PushConfig = InferFields<ReturnType<typeof pushOptionsSchema>>;

/** Durations as the sample writes them: the largest unit that divides evenly. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/**
 * The push options of a sample config block, with their defaults and comments, indented for
 * a component body (four spaces). Sinks insert it into their own `sample`.
 */
export function pushOptionsSample(d: PushDefaults): string {
  // Single quotes, as prettier writes YAML in the READMEs that embed the sample.
  const endpoints = parseDefaultEndpoints(d)
    .map((e) => `'${formatEndpoint(e)}'`)
    .join(', ');
  return `    # Servers to send to, "host:port" ("[v6]:port" for IPv6; the port defaults to ${d.port}).
    # Host names are resolved at start and again every resolve_interval.
    endpoints: [${endpoints}]
    # With several endpoints: fanout sends every point to each of them, each with its own
    # buffer; spread sends each batch to one of them in turn, skipping one that fails.
    mode: ${d.mode}
    # A batch is sent as soon as it holds batch_size points or batch_bytes bytes, and at the
    # latest flush_interval after its first point arrived.
    batch_size: ${d.batchSize}
    batch_bytes: ${d.batchBytes}
    flush_interval: ${formatDuration(d.flushIntervalMs)}
    # What is kept while an endpoint is down (per endpoint in fanout mode); when full, the
    # oldest points are dropped and counted (sluice_dropped_metrics{reason="buffer_full"}).
    buffer_points: ${d.bufferPoints}
    buffer_bytes: ${d.bufferBytes}
    # Failed sends are retried after a random delay below retry_initial, doubling with each
    # failure up to max_retry_interval.
    retry_initial: ${formatDuration(d.retryInitialMs)}
    max_retry_interval: ${formatDuration(d.maxRetryIntervalMs)}
    # How often host names are looked up again (0: at start only).
    resolve_interval: ${formatDuration(d.resolveIntervalMs)}
    # A send (connecting included) that takes longer fails and is retried on a new connection.
    timeout: ${formatDuration(d.timeoutMs)}
    # At shutdown, how long to keep delivering what is buffered before giving up.
    shutdown_timeout: ${formatDuration(d.shutdownTimeoutMs)}
`;
}
