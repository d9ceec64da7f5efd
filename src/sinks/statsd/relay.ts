/**
 * The StatsD relay: the shared push machinery (buffer, batches, retries, endpoints) with StatsD
 * lines as records, over UDP or TCP. In `aggregates` mode the records are the metrics of each
 * flush, encoded by StatsdLineEncoder, plus events and service checks (dogstatsd dialect); in
 * `raw` mode they are the lines the statsd sources received, one record per line, so that every
 * count the push machinery keeps (sent, buffered, dropped) is a count of lines.
 */
import type { ComponentContext, RawProtocol, Sink } from '../../core/component.js';
import type { Event } from '../../core/event.js';
import type { Batch } from '../../core/metric.js';
import type { StatCounter } from '../../core/stats.js';
import { formatStatsdEvent, formatStatsdServiceCheck } from '../../protocols/statsd/format.js';
import { PushSink, type PushDeps } from '../push/push.js';
import { TcpTransport } from '../push/tcp.js';
import { fitsIn, StatsdLineEncoder } from './encoder.js';
import type { StatsdSinkConfig } from './schema.js';
import { UdpTransport } from './udp.js';

export class StatsdRelaySink implements Sink {
  readonly push: PushSink;
  private readonly lineEncoder: StatsdLineEncoder;
  /** Lines (raw, or of an event) too long for one datagram. */
  private readonly droppedTooLong: StatCounter;
  private readonly maxLineBytes: number;
  private reportedTooLong = 0;
  /** Only in aggregates mode with the dogstatsd dialect: the agent sends events to sinks that have it. */
  readonly writeEvents?: (events: readonly Event[]) => void;

  constructor(
    private readonly config: StatsdSinkConfig,
    ctx: ComponentContext,
    deps: PushDeps = {},
  ) {
    this.maxLineBytes = config.transport === 'udp' ? config.max_packet_size : Infinity;
    this.lineEncoder = new StatsdLineEncoder(config.dialect, this.maxLineBytes);
    const tcp = { reconnectIntervalMs: 0, clock: ctx.clock };
    this.push = new PushSink(
      config,
      this.lineEncoder,
      config.transport === 'udp'
        ? (target) => new UdpTransport(target, config.max_packet_size)
        : (target) => new TcpTransport(target, tcp),
      ctx,
      deps,
    );
    this.droppedTooLong = ctx.stats.counter(
      'dropped_lines',
      'StatsD lines left out because they do not fit in one datagram (max_packet_size).',
      { reason: 'too_long' },
    );
    if (config.forward === 'aggregates' && config.dialect === 'dogstatsd') {
      this.writeEvents = (events) => this.relayEvents(events);
    }
  }

  start(): Promise<void> {
    return this.push.start();
  }

  /** Aggregates mode only: in raw mode the lines behind these metrics were relayed as received. */
  write(batch: Batch): void {
    if (this.config.forward !== 'aggregates') return;
    this.push.write(batch);
    this.countTooLong();
  }

  writeRaw(protocol: RawProtocol, lines: readonly string[]): void {
    if (protocol !== 'statsd' || this.config.forward !== 'raw') return;
    const records: string[] = [];
    for (const line of lines) {
      if (fitsIn(line, this.maxLineBytes)) records.push(line + '\n');
      else this.droppedTooLong.inc();
    }
    this.push.writeRecords(records);
  }

  stop(): Promise<void> {
    return this.push.stop();
  }

  private relayEvents(events: readonly Event[]): void {
    const records: string[] = [];
    for (const e of events) {
      const line =
        e.kind === 'event'
          ? formatStatsdEvent(e, { tagSeparator: ':' })
          : formatStatsdServiceCheck(e, { tagSeparator: ':' });
      if (line === undefined) continue;
      if (fitsIn(line, this.maxLineBytes)) records.push(line + '\n');
      else this.droppedTooLong.inc();
    }
    this.push.writeRecords(records);
  }

  private countTooLong(): void {
    const n = this.lineEncoder.droppedLines - this.reportedTooLong;
    if (n === 0) return;
    this.reportedTooLong += n;
    this.droppedTooLong.inc(n);
  }
}

export function createStatsdSink(
  config: StatsdSinkConfig,
  ctx: ComponentContext,
  deps: PushDeps = {},
): StatsdRelaySink {
  return new StatsdRelaySink(config, ctx, deps);
}
