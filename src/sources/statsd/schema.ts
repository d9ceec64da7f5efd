/** Config of the `statsd` source. */
import { INVALID, s, type InferFields, type Issue, type Path } from '../../config/schema.js';
import {
  loadExporterMapping,
  MappingFileError,
  type ExporterMappingFile,
} from '../../aggregation/exporter-mapping.js';
import { aggregationFields } from '../../aggregation/schema.js';
import { timersSample } from '../../aggregation/timers.js';
import { NAME_TAG_FORMATS, STATSD_DIALECTS, STATSD_MODES } from '../../protocols/statsd/parser.js';
import { workersFields, workersSample } from '../ingest/schema.js';
import { listenSchema, transportOptionsSchema, transportSample } from '../transport/index.js';

const bucket = (what: string) =>
  s.string({
    default: '',
    doc: `Metric name for all ${what} (Bucky3's bucket): the StatsD name becomes the tag \`name\`. "" keeps StatsD names.`,
  });

/**
 * statsd_exporter's mapping file: read and checked with the config (so `sluice validate` and a
 * reload report its problems with their file:line), kept as the parsed rules.
 */
const mappingConfig = s.custom<ExporterMappingFile | undefined>(
  'the path of a statsd_exporter mapping file (YAML)',
  (value) => {
    if (typeof value !== 'string') return { ok: false };
    if (value === '') return { ok: true, value: undefined };
    try {
      return { ok: true, value: loadExporterMapping(value) };
    } catch (e) {
      if (e instanceof MappingFileError) return { ok: false, message: `invalid mapping file:\n${e.message}` };
      return { ok: false, message: `cannot read the mapping file: ${(e as Error).message}` };
    }
  },
  {
    optional: true,
    doc: 'A prometheus/statsd_exporter mapping file (its --statsd.mapping-config), used as it is: its rules, defaults and matching order. Not together with `mappings`.',
  },
);

const statsdFields = s.object({
  listen: listenSchema({
    default: '127.0.0.1:8125',
    doc: 'Where to listen: one address or a list (udp://, tcp://, unixgram://, unix://; a bare host:port is UDP, [::1]:8125 IPv6).',
  }),
  ...workersFields,
  ...transportOptionsSchema,
  dialect: s.oneOf(STATSD_DIALECTS, {
    default: 'dogstatsd',
    doc: 'Which server to behave like where servers disagree (gauge +5, @0, packed values...): dogstatsd, etsy or bucky. See docs/protocol.md.',
  }),
  mode: s.oneOf(STATSD_MODES, {
    default: 'lenient',
    doc: 'lenient accepts what the dialect repairs (a clamped rate, an ignored field), counting it; strict rejects such lines.',
  }),
  name_tags: s.array(s.oneOf(NAME_TAG_FORMATS), {
    default: [],
    doc: 'Tags written inside metric names to read, by format: librato (name#k=v,k2=v2), influxdb (name,k=v), signalfx (name.[k=v]rest), graphite (name;k=v;k2=v2); statsd_exporter reads the first three. Default none: such names stay names.',
  }),
  ...aggregationFields,
  mapping_config: mappingConfig,
  timestamp_window: s.duration({
    default: 600_000,
    doc: 'A point with its own time (|T, timestamp=) is accepted only this close to now; 0 accepts any.',
  }),
  counters_bucket: bucket('counters'),
  gauges_bucket: bucket('gauges'),
  timers_bucket: bucket('timers'),
  histograms_bucket: bucket('histograms'),
  sets_bucket: bucket('sets'),
  distributions_bucket: bucket('distributions'),
});

export const statsdSample = `  statsd:
    type: statsd
    # One address or a list: udp://host:port, tcp://host:port, unixgram:///path (DogStatsD's
    # Unix datagram socket), unix:///path; a bare host:port is UDP, [::1]:8125 is IPv6.
    listen: 127.0.0.1:8125
${transportSample}${workersSample}    # Behave like this server where servers disagree: dogstatsd, etsy or bucky
    # (gauge +5 as delta or value, @0, packed values...; see docs/protocol.md).
    dialect: dogstatsd
    # lenient: accept what the dialect repairs (clamped rate, ignored field), counted;
    # strict: reject those lines.
    mode: lenient
    # How often aggregates are emitted. Counters report the total of each interval.
    flush_interval: 10s
    # Percentiles (0 to 100) of timers (ms) and distributions (d).
    percentiles: [50, 90, 95, 99]
    # Bins (upper bounds) of histograms (h): the first rule matching a series' name and
    # tags (globs or /regexes/) picks its bins; the others get the default bins.
    histogram_bins:
      default: [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
      rules: []
${timersSample}    # Tags written inside names to read: librato (name#k=v,k2=v2), influxdb (name,k=v),
    # signalfx (name.[k=v]rest), graphite (name;k=v;k2=v2). statsd_exporter reads the first
    # three; none by default (such names stay names).
    name_tags: []
    # A point with its own time (|T, timestamp=) must be this close to now; 0 = any.
    timestamp_window: 10m
    # Series not updated for this long are forgotten (gauges stop being reported); 0 = never.
    expiry: 5m
    # Rules (statsd_exporter style, first match wins) turning dotted names into a name
    # and tags, e.g. - { match: "*.*.requests", name: requests, tags: { env: $1, host: $2 } }
    mappings: []
    # Or a prometheus/statsd_exporter mapping file, used as it is (its --statsd.mapping-config):
    # its defaults, globs before regexes, glob_disable_ordering, observer options and TTLs,
    # e.g. /etc/statsd_exporter/mapping.yml. '' for none.
    mapping_config: ''
    # Most series held at once, over all workers (~2.5 KB of RSS each: 200000 is ~0.5 GB).
    # A line that would create another is dropped, counted as
    # lines_rejected{reason="series_limit"} and logged with the names creating the most
    # series. 0 = no limit.
    max_series: 200000
    # Metric name per type (Bucky3's buckets): with one set, the StatsD name becomes the
    # tag "name"; a bucket= tag overrides it per line (bucky dialect). '' keeps StatsD names.
    counters_bucket: ''
    gauges_bucket: ''
    timers_bucket: ''
    histograms_bucket: ''
    sets_bucket: ''
    distributions_bucket: ''
`;

/** The options, and one rule across them: one kind of mapping rules at a time. */
export const statsdSchema: typeof statsdFields = {
  ...statsdFields,
  parse(value: unknown, path: Path, issues: Issue[]) {
    const config = statsdFields.parse(value, path, issues);
    if (config === INVALID) return INVALID;
    if (config.mapping_config !== undefined && config.mappings.length > 0) {
      issues.push({
        path: [...path, 'mapping_config'],
        message: 'set either mapping_config (a statsd_exporter file) or mappings (sluice rules), not both',
      });
      return INVALID;
    }
    return config;
  },
};

export type StatsdConfig = InferFields<typeof statsdFields.fields>;
