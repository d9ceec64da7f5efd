/**
 * The built-in config, used when no file is given: StatsD on loopback, Linux stats, the agent's
 * own metrics, and a Prometheus scrape endpoint — the same quick start Bucky3 offered.
 */
export const DEFAULT_CONFIG = `# sluice's built-in configuration (used when no --config is given).
agent:
  hostname: \${SLUICE_HOSTNAME:-}
  log_level: \${SLUICE_LOG_LEVEL:-info}
sources:
  statsd:
    type: statsd
    listen: 127.0.0.1:8125
    flush_interval: 10s
  linux:
    type: linux
    interval: 10s
  internal:
    type: internal
    interval: 10s
sinks:
  prometheus:
    type: prometheus_exporter
    listen: 0.0.0.0:9103
    path: /metrics
`;
