/** Config of the `statsd` source. */
import { s } from '../../config/schema.js';

export const statsdSchema = s.object({
  listen: s.listen({
    default: '127.0.0.1:8125',
    doc: 'UDP address to listen on: "host:port", "[::1]:8125" for IPv6, ":8125" for all interfaces.',
  }),
  flush_interval: s.duration({
    default: 10_000,
    minMs: 100,
    doc: 'How often aggregates are emitted. Counters report the total of each interval.',
  }),
  percentiles: s.array(s.number({ min: 0, max: 100 }), {
    default: [50, 90, 95, 99],
    doc: 'Percentiles (0 to 100) computed for timers (ms) and histograms (h), by nearest rank as Etsy statsd does.',
  }),
  expiry: s.duration({
    default: 300_000,
    doc: 'Series not updated for this long are forgotten: gauges stop being reported. 0 keeps every series forever.',
  }),
  receive_buffer_bytes: s.number({
    default: 8 * 1024 * 1024,
    integer: true,
    min: 0,
    doc: 'Socket receive buffer to request (SO_RCVBUF), in bytes; 0 keeps the system default. Linux caps it at sysctl net.core.rmem_max.',
  }),
});

export const statsdSample = `  statsd:
    type: statsd
    # UDP address to listen on: "host:port", "[::1]:8125" for IPv6, ":8125" for all interfaces.
    listen: 127.0.0.1:8125
    # How often aggregates are emitted. Counters report the total of each interval.
    flush_interval: 10s
    # Percentiles (0 to 100) computed for timers (ms) and histograms (h).
    percentiles: [50, 90, 95, 99]
    # Series not updated for this long are forgotten (gauges stop being reported); 0 = never.
    expiry: 5m
    # Socket receive buffer to request (SO_RCVBUF); 0 = system default.
    # Linux caps it at net.core.rmem_max: raise that sysctl for bigger bursts.
    receive_buffer_bytes: 8388608
`;
