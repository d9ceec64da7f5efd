/**
 * The body of an ingest worker thread (see workers.ts): binds its share of the source's
 * listeners, hands every buffer of lines to the source's receive path, and at each flush drains
 * the interval to the main thread in chunks (aggregation/partial.ts) between receives, so even
 * a table of a million series never holds the receive loop for long. Logs, stats, events and
 * raw lines travel to the main thread as messages; nothing here touches a sink.
 *
 * Each source has a tiny entry module (statsd/worker.ts, json_udp/worker.ts) that calls
 * `runIngestWorker` with a factory for its receive path.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ComponentContext, RawOutlet } from '../../core/component.js';
import { systemClock } from '../../core/clock.js';
import type { Event } from '../../core/event.js';
import type { LogFields, Logger, LogLevel } from '../../core/logger.js';
import { ComponentStats } from '../../core/stats.js';
import type { StatsdAggregator } from '../../aggregation/aggregator.js';
import { createListeners, type Sender } from '../transport/index.js';
import type { RejectedLine } from '../../protocols/rejections.js';
import type { IngestWorkerConfig, MainToWorker, WorkerInit, WorkerToMain } from './messages.js';

/** Series per drained chunk: small enough that one chunk costs a millisecond or two. */
const CHUNK_SERIES = 4096;
/** Series and keys per step of dropping expired series: each step a few milliseconds at most. */
const COMPACT_STEP = 1024;
/**
 * Stats travel to the main thread with every drain, and between drains at most this long after
 * lines arrive: an idle worker sends nothing and sets no timer, since every wakeup of an idle
 * agent costs CPU.
 */
const STATS_INTERVAL_MS = 1000;

/** A source's receive path, as a worker runs it. */
export interface WorkerIngest {
  /** Parses one buffer of complete lines into the aggregator. Never throws on input. */
  receive(buf: Buffer, from: Sender): void;
  /** Rejected lines: how many so far, and the last few (sent to the main thread when they change). */
  readonly rejections: { readonly total: number; recent(): RejectedLine[] };
  readonly aggregator: StatsdAggregator;
  /** Lines parsed so far, valid or not: what a crash loses is counted from it. */
  readonly linesParsed: number;
  /**
   * Closes the interval on the source's side (budget report, rejection warnings); returns what
   * the main thread needs besides the aggregates to build the batch (structured-cloneable).
   */
  intervalClosed(now: number): unknown;
}

/** What a worker's receive path may hand on besides aggregates. */
export interface WorkerOutputs {
  emitEvents(events: readonly Event[]): void;
  readonly raw: RawOutlet | undefined;
}

/** Error objects do not survive every structured clone intact: send what a log line shows. */
function plain(fields: LogFields | undefined): LogFields | undefined {
  if (fields === undefined) return undefined;
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = v instanceof Error ? v.message : v;
  return out;
}

/** What the workers of one source share. */
export interface WorkerShared {
  /** Series held by all the source's workers, against the budget (AggregatorOptions). */
  readonly seriesCount: Int32Array;
}

export function runIngestWorker<C extends IngestWorkerConfig>(
  build: (config: C, ctx: ComponentContext, outputs: WorkerOutputs, shared: WorkerShared) => WorkerIngest,
): void {
  const port = parentPort;
  if (port === null) throw new Error('an ingest worker runs as a worker thread');
  const init = workerData as WorkerInit<C>;
  const post = (message: WorkerToMain): void => port.postMessage(message);

  const makeLogger = (bindings: LogFields): Logger => {
    const send =
      (level: Exclude<LogLevel, 'silent'>) =>
      (msg: string, fields?: LogFields): void => {
        if (level === 'debug' && !init.debug) return;
        post({ t: 'log', level, msg, fields: plain({ ...bindings, ...fields }) });
      };
    return {
      debug: send('debug'),
      info: send('info'),
      warn: send('warn'),
      error: send('error'),
      child: (more) => makeLogger({ ...bindings, ...more }),
      isEnabled: (level) => level !== 'silent' && (level !== 'debug' || init.debug),
    };
  };

  const stats = new ComponentStats(init.id, init.type);
  const ctx: ComponentContext = {
    id: init.id,
    log: makeLogger({}),
    clock: systemClock,
    stats,
    fail: (error) => post({ t: 'fail', message: error instanceof Error ? error.message : String(error) }),
  };
  const outputs: WorkerOutputs = {
    emitEvents: (events) => post({ t: 'events', events: [...events] }),
    raw:
      init.raw === undefined
        ? undefined
        : { write: (lines) => post({ t: 'raw', lines: [...lines] }), wanted: new Int32Array(init.raw) },
  };
  const shared: WorkerShared = { seriesCount: new Int32Array(init.seriesCount) };
  let ingest = build(init.config, ctx, outputs, shared);
  /** Lines parsed by receive paths a reload replaced. */
  let retiredLines = 0;
  const linesParsed = (): number => retiredLines + ingest.linesParsed;
  let statsTimer: ReturnType<typeof setTimeout> | undefined;
  /** The rejection count last sent: the kept lines travel only when it moved. */
  let rejectionsSent = 0;
  function rejectedSince(): RejectedLine[] | undefined {
    const r = ingest.rejections;
    if (r.total === rejectionsSent) return undefined;
    rejectionsSent = r.total;
    return r.recent();
  }
  function postStats(): void {
    statsTimer = undefined;
    post({ t: 'stats', stats: stats.snapshot(), rejected: rejectedSince() });
  }

  /** Lines taken since the start of the last completed drain: what a crash would lose. */
  const held = new Float64Array(init.held);
  let heldBase = 0;
  const listeners = createListeners(
    init.config.listen,
    init.config,
    ctx,
    (buf, from) => {
      ingest.receive(buf, from);
      held[0] = linesParsed() - heldBase;
      held[1] = ingest.aggregator.size;
      if (statsTimer === undefined) {
        statsTimer = setTimeout(postStats, STATS_INTERVAL_MS);
        statsTimer.unref();
      }
    },
    { reusePort: init.reusePort },
  );

  let draining = false;
  let afterDrain: (() => void) | undefined;
  /**
   * Drains the interval, one chunk per event-loop turn, so receives run between chunks. With
   * `nextConfig` (a reload), lines received from the drain's start on go to a receive path built
   * from it, and the drained tables are dropped once sent (their series leave the budget).
   */
  const drain = (seq: number, now: number, nextConfig?: C): void => {
    draining = true;
    const base = linesParsed();
    const aggregator = ingest.aggregator;
    aggregator.beginDrain(now);
    const extras = ingest.intervalClosed(now);
    if (nextConfig !== undefined) {
      retiredLines += ingest.linesParsed;
      ingest = build(nextConfig, ctx, outputs, shared);
    }
    const step = (): void => {
      const chunk = aggregator.drainSome(CHUNK_SERIES);
      if (!chunk.last) {
        post({ t: 'chunk', seq, chunk });
        setImmediate(step);
        return;
      }
      if (nextConfig !== undefined) Atomics.sub(shared.seriesCount, 0, aggregator.size);
      heldBase = base;
      held[0] = linesParsed() - heldBase;
      held[1] = ingest.aggregator.size;
      draining = false;
      post({ t: 'chunk', seq, chunk, stats: stats.snapshot(), extras, rejected: rejectedSince() });
      if (ingest.aggregator.compacting) setImmediate(compact);
      const next = afterDrain;
      afterDrain = undefined;
      next?.();
    };
    step();
  };

  /** Drops expired series from the tables a step at a time, between receives (and drains). */
  const compact = (): void => {
    if (draining) return; // beginDrain finishes what is left
    if (ingest.aggregator.compactSome(COMPACT_STEP)) setImmediate(compact);
  };

  port.on('message', (message: MainToWorker) => {
    switch (message.t) {
      case 'drain':
        // The main thread waits for each drain before it asks for the next one.
        if (!draining) drain(message.seq, message.now);
        break;
      case 'reconfigure':
        if (!draining)
          drain(message.seq, message.now, { ...(message.config as C), listen: init.config.listen });
        break;
      case 'stop':
        // Stream clients finish their lines first; then the last interval leaves; then we exit.
        void listeners.stop().then(
          () => {
            const finish = (): void => {
              afterDrain = () => {
                clearTimeout(statsTimer);
                post({ t: 'stopped' });
                port.close();
              };
              drain(message.seq, Date.now());
            };
            if (draining) afterDrain = finish;
            else finish();
          },
          (error: unknown) => post({ t: 'fail', message: (error as Error).message }),
        );
        break;
    }
  });

  listeners.start().then(
    () => post({ t: 'ready', bound: listeners.bound() }),
    (error: unknown) => post({ t: 'startError', message: (error as Error).message }),
  );
}
