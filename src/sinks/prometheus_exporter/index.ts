/**
 * The `prometheus_exporter` sink: serves the latest value of every series for Prometheus to
 * scrape, in the text exposition format 0.0.4 (what `promtool check metrics` accepts) or in
 * OpenMetrics when the scraper asks for it, gzipped when the scraper asks.
 *
 * It is a pull sink: batches only update state, and a scrape renders it. StatsD deltas are
 * turned into running totals here, because Prometheus computes rates from counters that only go
 * up. Series that stop arriving leave the page after `expiry`, as everything in Bucky3 expires.
 * Timestamps are not written: Prometheus stamps samples with the scrape time, and explicit ones
 * would break its staleness handling.
 */
import { defineSink } from '../../core/definition.js';
import { PrometheusExporter } from './exporter.js';
import { ExporterState, renderExposition } from './state.js';
import { sample, schema } from './schema.js';

export const prometheusExporterSink = defineSink({
  type: 'prometheus_exporter',
  description:
    'Serves every series on an HTTP page for Prometheus to scrape (text format 0.0.4 or OpenMetrics, gzip).',
  schema,
  sample,
  create: (config, ctx) => new PrometheusExporter(config, ctx),
  preview: (config, batch) => {
    const state = new ExporterState(config.expiry, undefined, undefined, config.counter_suffix);
    state.write(batch, batch[0]?.timestamp ?? 0);
    return renderExposition(state);
  },
});
