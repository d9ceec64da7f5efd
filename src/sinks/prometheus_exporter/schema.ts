/** Config of the `prometheus_exporter` sink, and the sample block `sluice generate` prints for it. */
import { s, type InferFields } from '../../config/schema.js';
import { webConfigFileSchema } from '../../core/web.js';

export const schema = s.object(
  {
    listen: s.listen({
      doc:
        'Address and port the scrape endpoint listens on. The default, all interfaces, is the one ' +
        'exception to loopback-only defaults: Prometheus scrapes from another host.',
      default: '0.0.0.0:9103',
    }),
    path: s.string({
      doc: 'HTTP path of the metrics page.',
      default: '/metrics',
      pattern: /^\/[^?#\s]*$/,
      patternHint: 'a path starting with "/" (no query string)',
    }),
    expiry: s.duration({
      doc: 'A series not written for this long is removed from the output; 0 keeps every series for good (memory then grows with every series ever written).',
      default: 300_000,
      minMs: 1_000,
      zeroMeans: 'never',
    }),
    counter_suffix: s.boolean({
      default: true,
      doc: 'Expose counters as <name>_total, as Prometheus names them. false keeps their name, as statsd_exporter does, so that its dashboards keep working (promtool then warns about counters without _total).',
    }),
    web_config_file: webConfigFileSchema(
      "A web configuration file in the Prometheus exporter toolkit's format (its --web.config.file): tls_server_config (cert, key, client CA and client_auth_type) and basic_auth_users (bcrypt hashes). '' for plain HTTP without authentication.",
    ),
    native_histograms: s.boolean({
      default: true,
      doc: 'Serve the protobuf format to a scraper that asks for it (Prometheus does with --enable-feature=native-histograms), where distributions (d) are native histograms: exact sketch buckets, mergeable with sum(). false: text formats only, distributions as summaries.',
    }),
    native_histogram_max_buckets: s.number({
      default: 0,
      min: 0,
      integer: true,
      doc: 'Most populated buckets of a native histogram series; beyond, its resolution is halved until it fits (client_golang and statsd_exporter do the same). 0: no limit but the 4096 buckets per sign held at most.',
    }),
  },
  { allowKeys: ['type'] },
);

export type PrometheusExporterConfig = InferFields<typeof schema.fields>;

export const sample = `  prometheus:
    type: prometheus_exporter
    # Address and port Prometheus scrapes. 0.0.0.0 listens on all interfaces (Prometheus
    # usually runs on another host); use 127.0.0.1:9103 to keep it local.
    listen: 0.0.0.0:9103
    # HTTP path of the metrics page (text exposition format 0.0.4, gzip when asked for).
    path: /metrics
    # A series that is not written for this long leaves the output (a StatsD key that
    # stopped arriving, a disk that was unmounted). 0: never, so a counter that comes back
    # after a gap continues from its total instead of restarting from zero (a reset to
    # Prometheus); memory then grows with every series ever written (about 360 bytes each).
    expiry: 5m
    # Counters as <name>_total (Prometheus' convention). false exposes them under their own
    # name, as statsd_exporter does, so that dashboards built on it keep working.
    counter_suffix: true
    # TLS and basic authentication, from a web configuration file in the Prometheus
    # exporter toolkit's format (--web.config.file of node_exporter and the others):
    # tls_server_config (cert_file, key_file, client_auth_type, client_ca_file) and
    # basic_auth_users (user: bcrypt hash). '' serves plain HTTP to anyone.
    web_config_file: ''
    # Prometheus started with --enable-feature=native-histograms asks for the protobuf
    # format: there, distributions (d) are native histograms (the sketch's exact buckets, so
    # histogram_quantile(0.99, sum(x)) over many agents is within the sketch's error).
    # Text scrapes keep seeing summaries. false: never serve protobuf.
    native_histograms: true
    # Most populated buckets per native histogram series; beyond, the resolution halves.
    # 0: no limit (4096 buckets per sign at most are held).
    native_histogram_max_buckets: 0
`;
