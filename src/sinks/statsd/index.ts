/**
 * The `statsd` sink: a StatsD relay to an upstream StatsD or DogStatsD server (Etsy statsd, the
 * Datadog agent, another sluice), over UDP or TCP. Either the aggregates of each flush, as StatsD
 * lines (a tier of aggregation: the upstream sees one line per series per flush instead of every
 * line the clients sent), or the lines as received (a repeater, like Etsy statsd's repeater
 * backend, to feed a second system with the same stream). Tags are kept either way. Buffering,
 * retries and endpoints are the shared push machinery's (src/sinks/push).
 */
import { defineSink } from '../../core/definition.js';
import { formatStatsdEvent, formatStatsdServiceCheck } from '../../protocols/statsd/format.js';
import { StatsdLineEncoder } from './encoder.js';
import { createStatsdSink } from './relay.js';
import { sample, schema } from './schema.js';

export const statsdSink = defineSink({
  type: 'statsd',
  description:
    'Relays to an upstream StatsD/DogStatsD server over UDP or TCP: the aggregates of each flush, or the received lines verbatim.',
  schema,
  sample,
  create: (config, ctx) => createStatsdSink(config, ctx),
  rawProtocols: (config) => (config.forward === 'raw' ? ['statsd'] : []),
  preview: (config, batch, events) => {
    if (config.forward === 'raw') return '(forward: raw relays the StatsD lines received, as they are)\n';
    const max = config.transport === 'udp' ? config.max_packet_size : Infinity;
    const encoder = new StatsdLineEncoder(config.dialect, max);
    let out = batch.map((m) => encoder.encode(m) ?? '').join('');
    if (config.dialect === 'dogstatsd') {
      for (const e of events) {
        const line =
          e.kind === 'event'
            ? formatStatsdEvent(e, { tagSeparator: ':' })
            : formatStatsdServiceCheck(e, { tagSeparator: ':' });
        if (line !== undefined) out += line + '\n';
      }
    }
    return out;
  },
});
