/**
 * The Prometheus remote-write sink: the shared push machinery with the remote-write encoder (one
 * metric → its TimeSeries entries) and an HTTP transport (one batch → one snappy-compressed
 * WriteRequest). Batching, the bounded buffer, retries and self-stats are PushSink's.
 */
import type { ComponentContext } from '../../core/component.js';
import { agentVersion } from '../../core/embedded.js';
import { PushSink, type PushDeps } from '../push/push.js';
import type { PushConfig } from '../push/schema.js';
import { RemoteWriteEncoder } from './encoder.js';
import { HttpTransport } from './http.js';
import type { RemoteWriteConfig } from './schema.js';
import { registerSecret } from '../../core/secrets.js';
import { clientTlsOptions } from '../../config/tls.js';

let userAgent: string | undefined;

/** `sluice/<version>`, as the spec asks every sender to identify itself. */
function agentName(): string {
  userAgent ??= `sluice/${agentVersion()}`;
  return userAgent;
}

/** Reads a secret from the environment; the error names the variable, never a value. */
function secret(name: string, env: NodeJS.ProcessEnv, option: string): string {
  const value = env[name];
  if (value === undefined || value === '')
    throw new Error(`The environment variable ${name} (${option}) is not set or empty.`);
  return value;
}

/** Every header of a request: the protocol's, the user's, and authorization. */
export function requestHeaders(
  config: RemoteWriteConfig,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const headers: Record<string, string> = {
    ...config.headers,
    'Content-Encoding': 'snappy',
    'Content-Type': 'application/x-protobuf',
    'User-Agent': agentName(),
    'X-Prometheus-Remote-Write-Version': '0.1.0',
  };
  if (config.bearer_token_env !== undefined) {
    const token = secret(config.bearer_token_env, env, 'bearer_token_env');
    registerSecret(token);
    headers.Authorization = `Bearer ${token}`;
  }
  if (config.basic_auth !== undefined) {
    const { username, password_env } = config.basic_auth;
    const password = secret(password_env, env, 'basic_auth.password_env');
    registerSecret(password);
    const credentials = Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
    registerSecret(credentials);
    headers.Authorization = `Basic ${credentials}`;
  }
  return headers;
}

/**
 * The push options, with one endpoint per URL. The encoder runs once per metric and its records
 * are shared by every endpoint's queue, so in fanout mode each receiver gets the same bytes: the
 * same cumulative values, and the metadata entries that ride along with them.
 */
export function pushConfig(config: RemoteWriteConfig): PushConfig {
  return { ...config, endpoints: config.urls };
}

export function createRemoteWriteSink(
  config: RemoteWriteConfig,
  ctx: ComponentContext,
  deps: PushDeps & { env?: NodeJS.ProcessEnv } = {},
): PushSink {
  const headers = requestHeaders(config, deps.env);
  const tlsOptions = clientTlsOptions(config.tls);
  let lastRejectLog = -Infinity;
  const encoder = new RemoteWriteEncoder({
    expiryMs: config.expiry,
    metadataIntervalMs: config.metadata_interval,
    now: () => ctx.clock.now(),
    nativeHistograms: config.native_histograms
      ? { maxBuckets: config.native_histogram_max_buckets }
      : undefined,
    onReject: (reason, metric) => {
      // Counted by PushSink as dropped_metrics{reason="unencodable"}; the log says why.
      const now = ctx.clock.now();
      if (now - lastRejectLog < 60_000) return;
      lastRejectLog = now;
      ctx.log.warn(
        'A metric has no Prometheus series (as the prometheus_exporter would refuse it); it is dropped.',
        {
          metric: metric.name,
          kind: metric.kind,
          reason,
        },
      );
    },
  });
  return new PushSink(
    pushConfig(config),
    encoder,
    (target) => new HttpTransport(target, { headers, tls: tlsOptions }),
    ctx,
    deps,
  );
}
