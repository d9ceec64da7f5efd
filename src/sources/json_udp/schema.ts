/** Config of the `json_udp` source. */
import { s } from '../../config/schema.js';
import {
  DECOMPRESS_MODES,
  listenSchema,
  transportOptionsSchema,
  transportSample,
} from '../transport/index.js';
import { workersFields, workersSample } from '../ingest/schema.js';
import { aggregationFields } from '../../aggregation/schema.js';
import { timersSample } from '../../aggregation/timers.js';

export const jsonUdpSchema = s.object({
  listen: listenSchema({
    default: '127.0.0.1:5090',
    doc: 'Where to listen: one address or a list (udp://, tcp://, unixgram://, unix://; a bare host:port is UDP). 5090 is the port pystatsd clients already send to; StatsD keeps 8125 (and 8126 is the Datadog trace agent).',
  }),
  ...transportOptionsSchema,
  ...workersFields,
  decompress: s.oneOf(DECOMPRESS_MODES, {
    default: 'auto',
    doc: 'auto (as Bucky3 jsond) inflates datagrams that start with a zlib or gzip header, which JSON text never does; none takes every datagram as text.',
  }),
  ...aggregationFields,
  measurement: s.string({
    default: 'json',
    nonEmpty: true,
    doc: 'Measurement of untyped objects without a metric_name: field `a` becomes the gauge `<measurement>.a`.',
  }),
  timestamp_window: s.duration({
    default: 600_000,
    doc: 'A `timestamp` field further than this from now rejects its line (Bucky3 used ±600 s); 0 accepts any.',
  }),
  max_pending_points: s.number({
    default: 100_000,
    integer: true,
    min: 1,
    doc: 'Gauges from untyped objects taken per flush interval; beyond this they are dropped and counted.',
  }),
});

const TRANSPORT_LINES = transportSample
  .replace(
    '    # Longest line on tcp:// and unix:// streams; longer ones are dropped and counted.\n',
    '    # Longest line (in datagrams too); longer ones are dropped and counted.\n',
  )
  .replace(
    '    # auto = inflate zlib/gzip-compressed datagrams; none = all datagrams are plain text.\n    decompress: none\n',
    '    # auto = inflate zlib/gzip-compressed datagrams (JSON text never looks compressed);\n    # none = all datagrams are plain text.\n    decompress: auto\n',
  );

export const jsonUdpSample = `  json:
    type: json_udp
    # One address or a list: udp://, tcp://, unixgram:///path, unix:///path; host:port is UDP.
    # 5090 is pystatsd's port (StatsD keeps 8125).
    listen: 127.0.0.1:5090
${TRANSPORT_LINES}${workersSample}    # How often aggregates and the points of untyped objects are emitted.
    flush_interval: 10s
    # Percentiles (0 to 100) of timers and distributions.
    percentiles: [50, 90, 95, 99]
    # Bins (upper bounds) of histograms: the first rule matching a series' name and
    # tags (globs or /regexes/) picks its bins; the others get the default bins.
    histogram_bins:
      default: [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
      rules: []
${timersSample}    # Series not updated for this long are forgotten (gauges stop being reported); 0 = never.
    expiry: 5m
    # Untyped objects without metric_name: field "a" becomes the gauge "json.a".
    measurement: json
    # A "timestamp" field further than this from now rejects its line; 0 = any.
    timestamp_window: 10m
    # Gauges of untyped objects taken per flush interval; more are dropped and counted.
    max_pending_points: 100000
    # Rules turning dotted names into a name and tags (statsd_exporter style); first match wins:
    # - match: "*.*.api.*"            # glob: * is one dot-separated component
    #   name: "api_$3"
    #   tags: { env: "$1", host: "$2" }
    # - match: /^debug\\./              # a regex between slashes
    #   action: drop
    mappings: []
    # Most series held at once, over all workers (~2.5 KB of RSS each: 200000 is ~0.5 GB).
    # A line that would create another is dropped, counted as
    # lines_rejected{reason="series_limit"} and logged with the names creating the most
    # series. 0 = no limit.
    max_series: 200000
`;
