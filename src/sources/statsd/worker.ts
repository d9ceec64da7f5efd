/**
 * An ingest worker thread (see workers.ts): binds its share of the source's listeners, parses
 * and aggregates everything they receive, and at each flush drains the interval to the main
 * thread in chunks (aggregation/partial.ts) between receives, so even a table of a million
 * series never holds the receive loop for long. Logs, stats, events and raw lines travel to
 * the main thread as messages; nothing here touches a sink.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ComponentContext } from '../../core/component.js';
import { systemClock } from '../../core/clock.js';
import type { LogFields, Logger, LogLevel } from '../../core/logger.js';
import { ComponentStats } from '../../core/stats.js';
import { createListeners, type Listeners } from '../transport/index.js';
import { StatsdIngest } from './ingest.js';
import type { MainToWorker, WorkerInit, WorkerToMain } from './messages.js';

/** Series per drained chunk: small enough that one chunk costs well under a millisecond or two. */
const CHUNK_SERIES = 4096;
/** How often stats travel to the main thread between flushes. */
const STATS_INTERVAL_MS = 1000;

const port = parentPort;
if (port === null) throw new Error('worker.ts runs as a worker thread');
const init = workerData as WorkerInit;
const post = (message: WorkerToMain): void => port.postMessage(message);

/** Error objects do not survive every structured clone intact: send what a log line shows. */
function plain(fields: LogFields | undefined): LogFields | undefined {
  if (fields === undefined) return undefined;
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = v instanceof Error ? v.message : v;
  return out;
}

function makeLogger(bindings: LogFields): Logger {
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
}

const stats = new ComponentStats(init.id, 'statsd');
const ctx: ComponentContext = {
  id: init.id,
  log: makeLogger({}),
  clock: systemClock,
  stats,
  fail: (error) => post({ t: 'fail', message: error instanceof Error ? error.message : String(error) }),
};
const ingest = new StatsdIngest(
  init.config,
  ctx,
  {
    emitEvents: (events) => post({ t: 'events', events: [...events] }),
    raw: init.raw ? (lines) => post({ t: 'raw', lines: [...lines] }) : undefined,
  },
  'partial',
);
/** Lines taken since the start of the last completed drain: what a crash would lose. */
const held = new Float64Array(init.held);
let heldBase = 0;
const listeners: Listeners = createListeners(
  init.config.listen,
  init.config,
  ctx,
  (buf) => {
    ingest.receive(buf);
    held[0] = ingest.linesParsed - heldBase;
  },
  { reusePort: init.reusePort },
);

let draining = false;
/** Drains the interval, one chunk per event-loop turn, so receives run between chunks. */
function drain(seq: number, now: number, done?: () => void): void {
  if (draining) return;
  draining = true;
  const base = ingest.linesParsed;
  ingest.aggregator.beginDrain(now);
  ingest.intervalClosed();
  ingest.warnAboutRejections(now);
  const step = (): void => {
    const chunk = ingest.aggregator.drainSome(CHUNK_SERIES);
    if (chunk.last) {
      heldBase = base;
      held[0] = ingest.linesParsed - heldBase;
      draining = false;
      post({ t: 'chunk', seq, chunk, stats: stats.snapshot() });
      done?.();
    } else {
      post({ t: 'chunk', seq, chunk });
      setImmediate(step);
    }
  };
  step();
}

const statsTimer = setInterval(() => post({ t: 'stats', stats: stats.snapshot() }), STATS_INTERVAL_MS);
statsTimer.unref();

port.on('message', (message: MainToWorker) => {
  switch (message.t) {
    case 'drain':
      drain(message.seq, message.now);
      break;
    case 'stop':
      // Stream clients finish their lines first; then the last interval leaves, then we exit.
      void listeners.stop().then(
        () => {
          const finish = (): void =>
            drain(message.seq, Date.now(), () => {
              clearInterval(statsTimer);
              post({ t: 'stopped' });
              port.close();
            });
          // A drain already under way finishes first (its chunks are on their way).
          if (draining)
            setTimeout(function wait() {
              if (draining) setTimeout(wait, 1);
              else finish();
            }, 1);
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
