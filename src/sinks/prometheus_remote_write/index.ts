/**
 * The `prometheus_remote_write` sink: Prometheus remote write 1.0 (protobuf WriteRequest,
 * snappy, HTTP POST) to any receiver: Prometheus with its receiver enabled, Mimir, Cortex,
 * VictoriaMetrics, Thanos Receive. Series are named and valued exactly as the
 * `prometheus_exporter` sink would expose them (its state does the accumulating), so switching
 * from scraping to pushing changes no query. Buffering, retries with backoff and the flush at
 * shutdown are the shared push machinery's (src/sinks/push).
 */
import { defineSink } from '../../core/definition.js';
import type { Metric } from '../../core/metric.js';
import { formatValue, renderLabelPairs } from '../../protocols/prometheus/text.js';
import { decodeWriteRequest, DecodeError } from '../../protocols/remote_write/protobuf.js';
import { RemoteWriteEncoder } from './encoder.js';
import { createRemoteWriteSink } from './remote_write.js';
import { sample, schema, type RemoteWriteConfig } from './schema.js';

/** What one batch would carry, one line per sample: `name{labels} value @timestamp_ms`. */
export function previewRemoteWrite(config: RemoteWriteConfig, batch: readonly Metric[]): string {
  const encoder = new RemoteWriteEncoder({
    expiryMs: config.expiry,
    metadataIntervalMs: 0,
    now: () => 0,
    nativeHistograms: config.native_histograms
      ? { maxBuckets: config.native_histogram_max_buckets }
      : undefined,
  });
  let out = '';
  for (const m of batch) {
    const bytes = encoder.encode(m);
    if (bytes === undefined) {
      out += `# ${m.name}: not sent (the prometheus_exporter would refuse it too)\n`;
      continue;
    }
    const req = decodeWriteRequest(bytes);
    if (req instanceof DecodeError) throw new Error(`the encoder wrote an undecodable entry (${req.code})`);
    for (const ts of req.timeseries) {
      const name = ts.labels.find(([n]) => n === '__name__')?.[1] ?? '';
      const labels = renderLabelPairs(ts.labels.filter(([n]) => n !== '__name__'));
      for (const s of ts.samples)
        out += `${name}${labels === '' ? '' : `{${labels}}`} ${formatValue(s.value)} @${s.timestamp}\n`;
      for (const h of ts.histograms ?? [])
        out += `${name}${labels === '' ? '' : `{${labels}}`} {count:${formatValue(h.count)} sum:${formatValue(h.sum)} schema:${h.schema} buckets:${h.positiveCounts.length + h.negativeCounts.length}} @${h.timestamp}\n`;
    }
  }
  return out;
}

export const prometheusRemoteWriteSink = defineSink({
  type: 'prometheus_remote_write',
  description:
    'Pushes metrics with Prometheus remote write 1.0 (protobuf + snappy over HTTP) to Prometheus, Mimir, VictoriaMetrics or Thanos.',
  schema,
  sample,
  create: (config, ctx) => createRemoteWriteSink(config, ctx),
  preview: (config, batch) => previewRemoteWrite(config, batch),
});
