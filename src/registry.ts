/** Every component type sluice knows, by its config `type`. */
import type { Registry } from './config/load.js';
import type { SinkDefinition, SourceDefinition } from './core/definition.js';
import { consoleSink } from './sinks/console/index.js';
import { prometheusExporterSink } from './sinks/prometheus_exporter/index.js';
import { linuxSource } from './sources/linux/index.js';
import { statsdSource } from './sources/statsd/index.js';

export const registry: Registry = {
  sources: [statsdSource, linuxSource] as unknown as readonly SourceDefinition[],
  sinks: [prometheusExporterSink, consoleSink] as unknown as readonly SinkDefinition[],
};
