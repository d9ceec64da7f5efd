/** Every component type sluice knows, by its config `type`. */
import { kafkaSource } from './sources/kafka/index.js';
import type { Registry } from './config/load.js';
import type { SinkDefinition, SourceDefinition } from './core/definition.js';
import { consoleSink } from './sinks/console/index.js';
import { graphiteSink } from './sinks/graphite/index.js';
import { influxdbSink } from './sinks/influxdb/index.js';
import { kafkaSink } from './sinks/kafka/index.js';
import { prometheusRemoteWriteSink } from './sinks/prometheus_remote_write/index.js';
import { statsdSink } from './sinks/statsd/index.js';
import { prometheusExporterSink } from './sinks/prometheus_exporter/index.js';
import { bpftraceSource } from './sources/bpftrace/index.js';
import { commandSource } from './sources/command/index.js';
import { dockerSource } from './sources/docker/index.js';
import { internalSource } from './sources/internal/index.js';
import { jsonUdpSource } from './sources/json_udp/index.js';
import { linuxSource } from './sources/linux/index.js';
import { statsdSource } from './sources/statsd/index.js';

export const registry: Registry = {
  sources: [
    statsdSource,
    linuxSource,
    jsonUdpSource,
    internalSource,
    bpftraceSource,
    dockerSource,
    commandSource,
    kafkaSource,
  ] as unknown as readonly SourceDefinition[],
  sinks: [
    prometheusExporterSink,
    consoleSink,
    graphiteSink,
    influxdbSink,
    prometheusRemoteWriteSink,
    statsdSink,
    kafkaSink,
  ] as unknown as readonly SinkDefinition[],
};
