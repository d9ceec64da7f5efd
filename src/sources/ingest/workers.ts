/**
 * Multi-threaded ingest for the aggregating listeners (statsd, json_udp; `workers` ≥ 1):
 * receiving, parsing and aggregating run on worker threads that do nothing else, so the agent's flushes, sink encoding, scrapes and
 * garbage collection never stall a receive loop (each thread has its own heap and event loop).
 *
 * Every udp:// address is bound by every worker with SO_REUSEPORT (Node >= 22.12): the kernel
 * gives each datagram to one socket by a hash of the sender's address and port, so one sender
 * with one source port always lands on the same worker (its lines stay in order; the spread
 * needs many senders or ports). Older Node has no SO_REUSEPORT for dgram, and one worker takes
 * the address. Stream and unixgram listeners run on the first worker.
 *
 * At each flush the main thread asks every worker to drain its interval (partial.ts) and merges
 * the chunks into one aggregator whose flush produces the batch: counters and bins add, sets
 * unite, timers keep every sample, sketches merge, gauges take the value that arrived last.
 * A worker that dies is restarted with backoff; the lines it held are counted in
 * `lines_lost{reason="worker_exit"}`, and the other workers keep running and counting.
 */
import dgram from 'node:dgram';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ListeningSource, RawOutlet, RawProtocol, SourceContext } from '../../core/component.js';
import type { Batch } from '../../core/metric.js';
import type { StatCounter, StatGauge, StatSnapshot } from '../../core/stats.js';
import type { StatsdAggregator } from '../../aggregation/aggregator.js';
import { TOP_NAMES_HELP, TOP_NAMES_REPORTED } from '../../aggregation/budget.js';
import { sameSockets, type BoundListener, type ListenEndpoint } from '../transport/index.js';
import type { IngestWorkerConfig, MainToWorker, WorkerInit, WorkerToMain } from './messages.js';
import type { RejectedLine } from '../../protocols/rejections.js';
import { singleExecutable, shippedText, type Shipped } from '../../core/embedded.js';

export type { IngestWorkerConfig } from './messages.js';
export { runIngestWorker, type WorkerIngest, type WorkerOutputs } from './runtime.js';

/** What a source gives the coordinator. */
export interface IngestWorkersOptions<C extends IngestWorkerConfig> {
  /** The worker entry module (it calls runIngestWorker); a bundled script in the single executable. */
  readonly worker: Shipped;
  /** The source's config, sent to each worker with `listen` narrowed to its share. */
  readonly config: C;
  readonly flushIntervalMs: number;
  /** Workers asked for (resolveWorkers); fewer when the Node cannot share a UDP address. */
  readonly workers: number;
  /** Builds the main thread's aggregator (role `merging`) for a config. */
  readonly merger: (config: C) => StatsdAggregator;
  /** Builds the batch from the merged flush and what each worker's source added to the interval. */
  readonly finish?: (batch: Batch, extras: readonly unknown[]) => Batch;
  /** The raw protocol the source hands to relaying sinks, if any. */
  readonly rawProtocol?: RawProtocol;
}

/** SO_REUSEPORT on dgram sockets arrived in Node 22.12 (and 23.1). */
export function dgramReusePort(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}

/**
 * Binds each fixed UDP address once without SO_REUSEPORT, then lets it go: that bind fails with
 * EADDRINUSE when anything holds the address, with SO_REUSEPORT or not, where the workers' own
 * SO_REUSEPORT binds would have joined it.
 */
export async function claimUdpAddresses(listen: readonly ListenEndpoint[]): Promise<void> {
  for (const e of listen) {
    if (e.transport !== 'udp' || e.port === 0) continue;
    const socket = dgram.createSocket({ type: e.family === 6 ? 'udp6' : 'udp4' });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ address: e.host, port: e.port, exclusive: true }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new Error(
        code === 'EADDRINUSE'
          ? `Could not listen on ${e.url}: another process (another sluice, or a StatsD server) is using it`
          : `Could not listen on ${e.url}: ${(error as Error).message}`,
        { cause: error },
      );
    } finally {
      await new Promise<void>((resolve) => {
        try {
          socket.close(() => resolve());
        } catch {
          resolve(); // a socket whose bind failed may be closed already
        }
      });
    }
  }
}

/** The worker count `workers` asks for: auto is one per CPU the process may use. */
export function resolveWorkers(workers: number | 'auto'): number {
  return workers === 'auto' ? Math.max(1, os.availableParallelism()) : workers;
}

const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 30_000;
/** A worker that ran this long before dying restarts after the shortest delay again. */
const HEALTHY_MS = 60_000;

class Slot {
  worker: Worker | undefined;
  /** Lines a crash would lose, series held (runtime.ts). */
  held = new Float64Array(new SharedArrayBuffer(16));
  /** Last value of each of the worker's counters, to add only what is new. */
  counters = new Map<string, number>();
  gauges = new Map<string, number>();
  /** The worker's latest top new-series names. */
  top = new Map<string, number>();
  /** The worker's last rejected lines (kept across its restarts: what it rejected still was). */
  rejected: readonly RejectedLine[] = [];
  startedAt = 0;
  restartDelay = RESTART_MIN_MS;
  restartTimer: ReturnType<typeof setTimeout> | undefined;
  onStopped: (() => void) | undefined;
  /** Listening (its `ready` came). */
  ready = false;
  constructor(
    readonly index: number,
    /** This worker's listeners (ports resolved). */
    public listen: readonly ListenEndpoint[],
  ) {}
}

/** Rejected lines the source shows, as one thread's log keeps. */
const REJECTIONS_KEPT = 16;

const statKey = (s: StatSnapshot): string => s.name + JSON.stringify(s.labels);
const TOP_NAMES = 'series_new_top_names';

export class IngestWorkerSource<C extends IngestWorkerConfig> implements ListeningSource {
  readonly mode = 'listening';
  private merger: StatsdAggregator;
  private slots: Slot[] = [];
  private readonly count: number;
  private readonly reusePort: boolean;
  private timer: ReturnType<typeof setInterval> | undefined;
  private intervalStart = 0;
  private seq = 0;
  /** The drain in progress: the workers whose last chunk has not come yet. */
  private pending:
    { seq: number; waiting: Set<number>; done: () => void; finished: Promise<void> } | undefined;
  private running = false;
  private stopping = false;
  private boundListeners: BoundListener[] = [];
  private readonly raw: RawOutlet | undefined;
  private readonly mirrored = new Map<string, StatCounter | StatGauge>();
  private readonly seriesHeld: StatGauge;
  private readonly seriesEvicted: StatCounter;
  private readonly linesLost: StatCounter;
  private readonly restarts: StatCounter;
  private readonly workersGauge: StatGauge;
  private readonly mergeConflicts: StatCounter;
  /** Series all workers hold, against max_series (their aggregators change it with Atomics). */
  private readonly seriesCount = new Int32Array(new SharedArrayBuffer(4));
  private config: C;
  private flushIntervalMs: number;
  /** What each worker's source added to the interval being drained. */
  private extras: unknown[] = [];

  constructor(
    private readonly ctx: SourceContext,
    private readonly options: IngestWorkersOptions<C>,
  ) {
    const { config, workers } = options;
    this.config = config;
    this.flushIntervalMs = options.flushIntervalMs;
    const hasUdp = config.listen.some((e) => e.transport === 'udp');
    this.reusePort = dgramReusePort();
    // Without SO_REUSEPORT a second socket cannot bind the address: one worker receives it all.
    this.count = hasUdp && !this.reusePort ? 1 : Math.max(1, workers);
    if (this.count < workers)
      ctx.log.info('One ingest worker: this Node has no SO_REUSEPORT for UDP sockets (Node >= 22.12 has).', {
        workers_asked: workers,
        node: process.versions.node,
      });
    this.merger = options.merger(config);
    this.raw = options.rawProtocol !== undefined ? ctx.rawOutlet?.(options.rawProtocol) : undefined;
    const st = ctx.stats;
    this.seriesHeld = st.gauge('series', 'Series held by the aggregator.');
    this.seriesEvicted = st.counter('series_evicted', 'Series dropped after `expiry` without updates.');
    this.linesLost = st.counter(
      'lines_lost',
      'StatsD lines taken in but lost before a flush, by reason (worker_exit: an ingest worker died holding them).',
      { reason: 'worker_exit' },
    );
    this.restarts = st.counter('worker_restarts', 'Ingest workers restarted after dying.');
    this.workersGauge = st.gauge('workers', 'Ingest worker threads running.');
    this.mergeConflicts = st.counter(
      'merge_conflicts',
      "Series refused when merging ingest workers' intervals: their name holds another type on another worker.",
    );
  }

  /** The most recent rejected lines of all workers, oldest first. */
  recentRejections(): RejectedLine[] {
    const all = this.slots.flatMap((slot) => slot.rejected);
    all.sort((a, b) => (a.at ?? 0) - (b.at ?? 0));
    return all.slice(-REJECTIONS_KEPT);
  }

  /** The bound listeners, with the ports chosen for port 0, in the order of `listen`. */
  bound(): BoundListener[] {
    return this.running ? this.boundListeners : [];
  }

  get port(): number | undefined {
    return this.running ? this.boundListeners[0]?.port : undefined;
  }

  get workerCount(): number {
    return this.count;
  }

  /** Workers alive now (fewer while a dead one waits for its restart). */
  runningWorkers(): number {
    return this.slots.filter((s) => s.worker !== undefined && s.ready).length;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.stopping = false;
    const first = new Slot(0, this.config.listen);
    this.slots = [first];
    // SO_REUSEPORT lets any process of the same user join a bound port and take a share of its
    // datagrams: a second sluice (or any StatsD server) started on the same port would bind
    // without error and split the traffic. Claim each fixed address alone first.
    if (this.reusePort && this.count > 1) await claimUdpAddresses(this.config.listen);
    try {
      this.boundListeners = await this.spawn(first);
      // Port 0 resolved: the other workers join the same addresses (UDP only, SO_REUSEPORT).
      const udp: ListenEndpoint[] = [];
      this.config.listen.forEach((e, i) => {
        const b = this.boundListeners[i];
        if (e.transport === 'udp' && b?.port !== undefined) udp.push({ ...e, port: b.port, url: b.url });
      });
      first.listen = this.config.listen.map((e, i) => {
        const b = this.boundListeners[i];
        return e.transport === 'udp' && b?.port !== undefined ? { ...e, port: b.port, url: b.url } : e;
      });
      for (let i = 1; i < this.count && udp.length > 0; i++) {
        const slot = new Slot(i, udp);
        this.slots.push(slot);
        await this.spawn(slot);
      }
    } catch (error) {
      await this.terminateAll();
      throw error;
    }
    this.running = true;
    this.workersGauge.set(this.slots.length);
    this.ctx.log.info('Ingest workers started.', {
      workers: this.slots.length,
      reuse_port: this.reusePort && this.slots.length > 1,
    });
    this.intervalStart = this.ctx.clock.now();
    this.timer = setInterval(() => void this.flush(), this.flushIntervalMs);
  }

  /** Closes the interval: drains every worker, merges and emits. Resolves when emitted. */
  async flush(): Promise<void> {
    if (this.pending !== undefined) return; // the previous drain is still arriving: the next tick takes both
    const seq = ++this.seq;
    await this.drainAll(seq, (w) =>
      w.postMessage({ t: 'drain', seq, now: this.ctx.clock.now() } satisfies MainToWorker),
    );
    this.emit();
  }

  /**
   * A reload with the same sockets and workers: one drain closes the interval under the old
   * options (merged and emitted as a short interval), and each worker aggregates under the new
   * ones from that drain's start on, in the same turn of its event loop, so no line falls
   * between them. Flushing rather than carrying aggregates over keeps every interval under one
   * set of options; the main thread's merger is rebuilt for the new ones once it has emitted.
   */
  async reconfigure(options: unknown): Promise<boolean> {
    const next = options as C;
    if (!this.running || !sameSockets(this.config, next)) return false;
    if (this.pending !== undefined) await this.pending.finished;
    const seq = ++this.seq;
    const now = this.ctx.clock.now();
    this.config = { ...next, listen: this.config.listen };
    await this.drainAll(seq, (w) =>
      w.postMessage({ t: 'reconfigure', seq, now, config: next } satisfies MainToWorker),
    );
    this.emit();
    this.merger = this.options.merger(this.config);
    if (next.flush_interval !== this.flushIntervalMs) {
      this.flushIntervalMs = next.flush_interval;
      clearInterval(this.timer);
      this.timer = setInterval(() => void this.flush(), this.flushIntervalMs);
    }
    return true;
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.running) return;
    this.running = false;
    this.stopping = true;
    for (const slot of this.slots) clearTimeout(slot.restartTimer);
    // A flush under way finishes (and emits) first: its continuation was registered before ours.
    if (this.pending !== undefined) await this.pending.finished;
    const seq = ++this.seq;
    const stopped = this.slots.map(
      (slot) =>
        new Promise<void>((resolve) => {
          if (slot.worker === undefined) return resolve();
          slot.onStopped = resolve;
        }),
    );
    await this.drainAll(seq, (w) => w.postMessage({ t: 'stop', seq } satisfies MainToWorker));
    await Promise.all(stopped);
    this.emit();
    await this.terminateAll();
    this.workersGauge.set(0);
  }

  /** Test hook: kills worker `index` as a crash would (it restarts after the backoff). */
  async killWorker(index: number): Promise<void> {
    await this.slots[index]?.worker?.terminate();
  }

  private drainAll(seq: number, ask: (w: Worker) => void): Promise<void> {
    const waiting = new Set<number>();
    for (const slot of this.slots) if (slot.worker !== undefined) waiting.add(slot.index);
    if (waiting.size === 0) return Promise.resolve();
    let done = (): void => {};
    const finished = new Promise<void>((resolve) => {
      done = () => {
        this.pending = undefined;
        resolve();
      };
    });
    this.pending = { seq, waiting, done, finished };
    for (const slot of this.slots) if (slot.worker !== undefined) ask(slot.worker);
    return finished;
  }

  private emit(): void {
    const now = this.ctx.clock.now();
    const elapsed = now - this.intervalStart;
    this.intervalStart = now;
    const interval = elapsed > 0 && elapsed < this.flushIntervalMs ? elapsed : this.flushIntervalMs;
    const before = this.merger.evicted;
    this.mergeConflicts.inc(this.merger.mergeConflicts - this.mergeConflicts.value);
    const merged = this.merger.flush(now, interval);
    const extras = this.extras;
    this.extras = [];
    const batch = this.options.finish !== undefined ? this.options.finish(merged, extras) : merged;
    this.seriesEvicted.inc(this.merger.evicted - before);
    this.seriesHeld.set(this.merger.size);
    if (batch.length > 0) this.ctx.emit(batch);
  }

  /** Starts the slot's worker; resolves with its bound listeners once it listens. */
  private spawn(slot: Slot): Promise<BoundListener[]> {
    slot.held[0] = 0;
    slot.counters = new Map();
    slot.gauges = new Map();
    const init: WorkerInit<C> = {
      id: this.ctx.id,
      type: this.ctx.stats.componentType,
      index: slot.index,
      config: { ...this.config, listen: [...slot.listen] },
      reusePort: this.reusePort && this.count > 1,
      raw: this.raw?.wanted.buffer as SharedArrayBuffer | undefined,
      debug: this.ctx.log.isEnabled('debug'),
      held: slot.held.buffer as SharedArrayBuffer,
      seriesCount: this.seriesCount.buffer as SharedArrayBuffer,
    };
    const worker = singleExecutable
      ? new Worker(shippedText(this.options.worker), { eval: true, workerData: init })
      : new Worker(this.options.worker.url, { workerData: init });
    slot.worker = worker;
    slot.startedAt = Date.now();
    return new Promise<BoundListener[]>((resolve, reject) => {
      let ready = false;
      worker.on('message', (m: WorkerToMain) => {
        if (m.t === 'ready') {
          ready = true;
          slot.ready = true;
          resolve(m.bound);
        } else if (m.t === 'startError') {
          reject(new Error(m.message));
        } else this.onMessage(slot, m);
      });
      worker.on('error', (error) => {
        if (!ready) reject(error);
        else this.ctx.log.error('An ingest worker failed.', { worker: slot.index, error });
      });
      worker.on('exit', (code) => {
        if (slot.worker !== worker) return;
        slot.worker = undefined;
        slot.ready = false;
        if (!ready)
          return reject(new Error(`ingest worker ${slot.index} exited (code ${code}) before listening`));
        this.onExit(slot, code);
      });
    });
  }

  private onMessage(slot: Slot, m: WorkerToMain): void {
    switch (m.t) {
      case 'chunk':
        this.merger.mergeChunk(slot.index, m.chunk);
        if (m.stats !== undefined) this.mirror(slot, m.stats);
        if (m.rejected !== undefined) slot.rejected = m.rejected;
        if (m.extras !== undefined) this.extras.push(m.extras);
        if (m.chunk.last) this.arrived(slot.index, m.seq);
        break;
      case 'stats':
        this.mirror(slot, m.stats);
        if (m.rejected !== undefined) slot.rejected = m.rejected;
        break;
      case 'log':
        this.ctx.log[m.level](m.msg, { ...m.fields, worker: slot.index });
        break;
      case 'events':
        this.ctx.emitEvents(m.events);
        break;
      case 'raw':
        this.raw?.write(m.lines);
        break;
      case 'fail':
        // Only this worker restarts: the others keep their sockets and aggregates.
        this.ctx.log.error('An ingest worker failed; restarting it.', {
          worker: slot.index,
          error: m.message,
        });
        void slot.worker?.terminate();
        break;
      case 'stopped':
        slot.onStopped?.();
        break;
    }
  }

  private arrived(index: number, seq: number): void {
    const p = this.pending;
    if (p === undefined || p.seq !== seq) return;
    p.waiting.delete(index);
    if (p.waiting.size === 0) p.done();
  }

  private onExit(slot: Slot, code: number): void {
    const lost = slot.held[0] as number;
    // Its series are gone with it: room for the others under the shared budget.
    Atomics.sub(this.seriesCount, 0, slot.held[1] as number);
    slot.held[0] = 0;
    slot.held[1] = 0;
    this.merger.forgetWorker(slot.index);
    slot.onStopped?.();
    slot.onStopped = undefined;
    if (this.pending !== undefined) this.arrived(slot.index, this.pending.seq);
    if (this.stopping) return;
    this.linesLost.inc(lost);
    this.restarts.inc();
    this.workersGauge.set(this.slots.filter((s) => s.worker !== undefined).length);
    if (Date.now() - slot.startedAt >= HEALTHY_MS) slot.restartDelay = RESTART_MIN_MS;
    const delay = slot.restartDelay;
    slot.restartDelay = Math.min(RESTART_MAX_MS, delay * 2);
    this.ctx.log.error('An ingest worker exited; restarting it.', {
      worker: slot.index,
      code,
      lines_lost: lost,
      restart_in_ms: delay,
    });
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.stopping) return;
      this.spawn(slot).then(
        () => this.workersGauge.set(this.slots.filter((s) => s.worker !== undefined).length),
        (error: unknown) => {
          this.ctx.log.error('Could not restart an ingest worker.', { worker: slot.index, error });
          this.onExit(slot, -1);
        },
      );
    }, delay);
  }

  /**
   * Adds a worker's stats to the source's: counters by what is new, gauges summed over workers
   * (the budget is per worker, so `series_limit` is not summed; the top new-series names are a
   * ranking whose members change, rebuilt from every worker's latest).
   */
  private mirror(slot: Slot, snapshot: readonly StatSnapshot[]): void {
    const top = new Map<string, number>();
    let sawTop = false;
    for (const s of snapshot) {
      if (s.name === TOP_NAMES) {
        sawTop = true;
        top.set(s.labels.name ?? '', s.value);
        continue;
      }
      const key = statKey(s);
      if (s.kind === 'counter') {
        const last = slot.counters.get(key) ?? 0;
        if (s.value === last) continue;
        slot.counters.set(key, s.value);
        let c = this.mirrored.get(key) as StatCounter | undefined;
        if (c === undefined) this.mirrored.set(key, (c = this.ctx.stats.counter(s.name, s.help, s.labels)));
        c.inc(s.value - last);
      } else {
        slot.gauges.set(key, s.value);
        let g = this.mirrored.get(key) as StatGauge | undefined;
        if (g === undefined) this.mirrored.set(key, (g = this.ctx.stats.gauge(s.name, s.help, s.labels)));
        let sum = 0;
        for (const other of this.slots) sum += other.gauges.get(key) ?? 0;
        g.set(s.name === 'series_limit' ? s.value : sum);
      }
    }
    if (sawTop || slot.top.size > 0) {
      slot.top = top;
      const union = new Map<string, number>();
      for (const other of this.slots)
        for (const [name, n] of other.top) union.set(name, (union.get(name) ?? 0) + n);
      const ranked = [...union].sort((a, b) => b[1] - a[1]).slice(0, TOP_NAMES_REPORTED);
      this.ctx.stats.replaceGauges(TOP_NAMES, TOP_NAMES_HELP, 'name', ranked);
    }
  }

  private async terminateAll(): Promise<void> {
    const slots = this.slots;
    await Promise.all(
      slots.map(async (slot) => {
        clearTimeout(slot.restartTimer);
        const w = slot.worker;
        slot.worker = undefined;
        if (w !== undefined) await w.terminate();
      }),
    );
  }
}
