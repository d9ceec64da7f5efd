/** Config of the `statsd` sink (a StatsD relay), and the sample block `sluice generate` prints. */
import { s, type InferFields } from '../../config/schema.js';
import { pushDefaults, pushOptionsSample, pushOptionsSchema } from '../push/schema.js';

/**
 * StatsD's port. A short flush_interval: a relay should pass lines on about as fast as they come
 * (Etsy's repeater sends each packet at once), and a batch is only what one send packs into
 * datagrams, so small batches cost nothing extra.
 */
export const STATSD_PUSH = pushDefaults({ port: 8125, flushIntervalMs: 100, batchBytes: 64 * 1024 });

export const FORWARDS = ['aggregates', 'raw'] as const;
export type Forward = (typeof FORWARDS)[number];
export const RELAY_DIALECTS = ['dogstatsd', 'etsy'] as const;
export type RelayDialect = (typeof RELAY_DIALECTS)[number];
export const RELAY_TRANSPORTS = ['udp', 'tcp'] as const;

/**
 * DogStatsD clients' default UDP payload (datadog-go's OptimalUDPPayloadSize): a 1500-byte
 * Ethernet MTU less the IPv6 and UDP headers, with room to spare, so no datagram is fragmented
 * (a lost fragment loses the whole datagram) over IPv4 or IPv6.
 */
export const DEFAULT_MAX_PACKET_SIZE = 1432;
/** The largest UDP payload over IPv4 (65535 less the IP and UDP headers). */
export const MAX_UDP_PAYLOAD = 65_507;

const fields = {
  forward: s.oneOf(FORWARDS, {
    default: 'aggregates',
    doc:
      'aggregates: each flush, what the sources aggregated, as StatsD lines (counters as counts, ' +
      'gauges as gauges, timers, histograms and distributions as one line per statistic). raw: the ' +
      'StatsD lines the statsd sources received, verbatim, valid or not (a repeater); filters and ' +
      'agent tags do not apply to them.',
  }),
  dialect: s.oneOf(RELAY_DIALECTS, {
    default: 'dogstatsd',
    doc:
      'The upstream server, for aggregates: dogstatsd writes negative gauges as they are and ' +
      'relays events and service checks; etsy (Etsy statsd, which reads a signed gauge as a ' +
      'change) sets a negative gauge with two lines, and relays no events. Tags are written ' +
      '|#key:value in both. raw mode ignores it.',
  }),
  transport: s.oneOf(RELAY_TRANSPORTS, {
    default: 'udp',
    doc:
      'udp: datagrams of up to max_packet_size bytes; an upstream that is down is not noticed, ' +
      'and what is sent meanwhile is lost. tcp: newline-separated lines over one connection; ' +
      'an upstream that is down is noticed, and the buffer holds the lines until it is back.',
  }),
  max_packet_size: s.number({
    integer: true,
    min: 64,
    max: MAX_UDP_PAYLOAD,
    default: DEFAULT_MAX_PACKET_SIZE,
    doc:
      'udp: lines are packed into datagrams of at most this many bytes; a longer line is dropped ' +
      '(counted as unencodable). 1432 fits an Ethernet MTU; 8192 suits loopback and local networks.',
  }),
  ...pushOptionsSchema(STATSD_PUSH),
};

export const schema = s.object(fields, { allowKeys: ['type'] });

export type StatsdSinkConfig = InferFields<typeof fields>;

export const sample = `  statsd_relay:
    type: statsd
    # aggregates: each flush, what the sources aggregated, as StatsD lines (timers,
    # histograms and distributions as one line per statistic: name.count, name.upper_90...);
    # raw: the lines the statsd sources received, verbatim (a repeater; no filters or tags).
    forward: aggregates
    # Upstream server, for aggregates: dogstatsd (events relayed) or etsy (negative gauges
    # set with two lines, no events). Tags are written |#key:value either way.
    dialect: dogstatsd
    # udp (an upstream that is down is not noticed: lines sent meanwhile are lost) or tcp
    # (newline-separated; the buffer keeps the lines until the upstream is back).
    transport: udp
    # udp: lines are packed into datagrams of at most this many bytes; a longer line is
    # dropped and counted. 1432 fits an Ethernet MTU; 8192 suits loopback.
    max_packet_size: ${DEFAULT_MAX_PACKET_SIZE}
${pushOptionsSample(STATSD_PUSH)}`;
