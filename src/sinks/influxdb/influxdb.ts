/**
 * The InfluxDB sink: the shared push machinery with the line protocol encoder and a UDP or
 * HTTP transport. Everything else (batching, buffering, retries, endpoints, DNS) is PushSink's.
 */
import type { ComponentContext } from '../../core/component.js';
import type { Metric } from '../../core/metric.js';
import { LineEncoder } from '../../protocols/influx/line.js';
import { PushSink, type PushDeps, type PushEncoder, type Target } from '../push/push.js';
import type { PushRecord } from '../push/queue.js';
import type { PushConfig } from '../push/schema.js';
import { HttpTransport, type HttpOptions } from './http.js';
import { MAX_UDP_PAYLOAD, type InfluxdbConfig } from './schema.js';
import { UdpTransport } from './udp.js';
import { clientTlsOptions } from '../../config/tls.js';

const PARTIAL_LOG_INTERVAL_MS = 60_000;

/**
 * Over UDP: lines split to fit `udp_payload`, and a metric with a line that no datagram can
 * carry at all is refused here (counted as unencodable) rather than failing its batch forever.
 */
class UdpLineEncoder implements PushEncoder {
  private readonly lines: LineEncoder;
  constructor(config: InfluxdbConfig) {
    this.lines = new LineEncoder(
      { precision: config.precision, integerCounters: config.integer_counters },
      config.udp_payload,
    );
  }
  encode(metric: Metric): PushRecord | undefined {
    const text = this.lines.encode(metric);
    if (text === undefined || text.length <= MAX_UDP_PAYLOAD / 3) return text;
    for (const line of text.split('\n'))
      if (Buffer.byteLength(line, 'utf8') + 1 > MAX_UDP_PAYLOAD) return undefined;
    return text;
  }
}

export function createEncoder(config: InfluxdbConfig): PushEncoder {
  if (config.urls[0]?.scheme === 'udp') return new UdpLineEncoder(config);
  return new LineEncoder({ precision: config.precision, integerCounters: config.integer_counters });
}

export function createInfluxdbSink(
  config: InfluxdbConfig,
  ctx: ComponentContext,
  deps: PushDeps = {},
): PushSink {
  const pushConfig: PushConfig = { ...config, endpoints: config.urls };
  if (config.urls[0]?.scheme === 'udp') {
    return new PushSink(
      pushConfig,
      createEncoder(config),
      (target) => new UdpTransport(target, config.udp_payload),
      ctx,
      deps,
    );
  }
  let lastPartialLog = -Infinity;
  const onPartialWrite = (target: Target, points: number, message: string): void => {
    ctx.stats
      .counter(
        'server_rejected_points',
        'Points of delivered batches that the server refused (a partial write: field type conflict, unparsable line).',
        { endpoint: target.label },
      )
      .inc(points);
    const now = ctx.clock.now();
    if (now - lastPartialLog < PARTIAL_LOG_INTERVAL_MS) return;
    lastPartialLog = now;
    ctx.log.warn(
      'InfluxDB refused part of a batch and stored the rest; the refused points are not retried.',
      {
        endpoint: target.label,
        points,
        error: message,
      },
    );
  };
  const options: HttpOptions = {
    api: config.api,
    database: config.database,
    retentionPolicy: config.retention_policy,
    username: config.username,
    password: config.password,
    organization: config.organization,
    bucket: config.bucket,
    token: config.token,
    precision: config.precision,
    gzip: config.content_encoding === 'gzip',
    tls: clientTlsOptions(config.tls),
    onPartialWrite,
  };
  return new PushSink(
    pushConfig,
    createEncoder(config),
    (target) => new HttpTransport(target, options),
    ctx,
    deps,
  );
}
