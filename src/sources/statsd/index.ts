/**
 * The `statsd` source: listens for StatsD datagrams (UDP, TCP, Unix sockets, through
 * src/sources/transport) and emits one aggregated batch per flush interval, and events and
 * service checks as they arrive.
 *
 * UDP has no back-pressure: a datagram that arrives while the socket buffer is full is lost in
 * the kernel. So the receive path does as little as possible (byte-level parse straight into
 * in-place aggregates, see parser.ts and aggregator.ts), and by default it runs on ingest
 * worker threads (workers.ts) where no flush, sink, scrape or garbage collection of the agent's
 * main thread can hold it up. `workers: 0` keeps it on the main thread (StatsdSource below).
 * Stopping flushes what the interval holds, so a SIGTERM does not lose counts.
 */
import type { SourceContext } from '../../core/component.js';
import { defineSource } from '../../core/definition.js';
import type { StatGauge, StatCounter } from '../../core/stats.js';
import type { RejectedLine } from '../../protocols/statsd/parser.js';
import { AggregatingListener, type Sender } from '../transport/index.js';
import { StatsdIngest } from './ingest.js';
import { statsdSample, statsdSchema, type StatsdConfig } from './schema.js';
import { StatsdAggregator } from '../../aggregation/aggregator.js';
import { IngestWorkerSource, resolveWorkers } from '../ingest/workers.js';
import { aggregatorOptions } from './ingest.js';

export type { StatsdConfig } from './schema.js';
export { rawLines } from './ingest.js';

/** StatsD ingest on the agent's main thread (`workers: 0`, tests, `sluice explain`). */
export class StatsdSource extends AggregatingListener {
  private ingest: StatsdIngest;
  private readonly seriesHeld: StatGauge;
  private readonly seriesEvicted: StatCounter;

  constructor(config: StatsdConfig, ctx: SourceContext) {
    super(ctx, config, config.flush_interval);
    this.ingest = this.newIngest(config);
    this.seriesHeld = ctx.stats.gauge('series', 'Series held by the aggregator.');
    this.seriesEvicted = ctx.stats.counter(
      'series_evicted',
      'Series dropped after `expiry` without updates.',
    );
  }

  private newIngest(config: StatsdConfig): StatsdIngest {
    return new StatsdIngest(
      config,
      this.ctx,
      {
        emitEvents: (events) => this.ctx.emitEvents(events),
        raw: this.ctx.rawOutlet?.('statsd'),
      },
      undefined,
      undefined,
      // `this.ingest` is unset on the first call: the new receive path starts a log of its own.
      (this.ingest as StatsdIngest | undefined)?.rejectionLog(),
    );
  }

  /** A reload with the same sockets (AggregatingListener.reconfigureInPlace). */
  async reconfigure(options: unknown): Promise<boolean> {
    const next = options as StatsdConfig;
    return this.reconfigureInPlace(next, () => (this.ingest = this.newIngest(next)));
  }

  /** The most recent rejected lines, oldest first. */
  recentRejections(): RejectedLine[] {
    return this.ingest.recentRejections();
  }

  /** Parses one datagram into the aggregates (the socket's message handler). */
  receive(datagram: Buffer, from?: Sender): void {
    this.ingest.receive(datagram, from);
  }

  /** Emits the interval's batch, if it has metrics. */
  protected flushInterval(now: number, intervalMs: number): void {
    const aggregator = this.ingest.aggregator;
    const before = aggregator.evicted;
    const batch = aggregator.flush(now, intervalMs);
    this.seriesEvicted.inc(aggregator.evicted - before);
    this.seriesHeld.set(aggregator.size);
    this.ingest.intervalClosed();
    if (batch.length > 0) this.ctx.emit(batch);
    this.ingest.warnAboutRejections(now);
  }
}

export const statsdSource = defineSource({
  type: 'statsd',
  description:
    'Receives StatsD/DogStatsD metrics, events and service checks over UDP and aggregates metrics per flush interval.',
  schema: statsdSchema,
  sample: statsdSample,
  create: (config, ctx) => {
    const workers = resolveWorkers(config.workers);
    if (workers === 0) return new StatsdSource(config, ctx);
    return new IngestWorkerSource(ctx, {
      worker: { url: new URL('./worker.js', import.meta.url), key: 'workers/statsd.cjs' },
      config,
      flushIntervalMs: config.flush_interval,
      workers,
      merger: (c) =>
        new StatsdAggregator(aggregatorOptions(c, 'merging', undefined, ctx.mergeableState), () =>
          ctx.clock.now(),
        ),
      rawProtocol: 'statsd',
    });
  },
});
