/**
 * Runs each source and sink in isolation. A component that fails (its start rejects, a call into
 * it throws, or it reports `ctx.fail`) is stopped, logged and started again from a fresh
 * instance after a backoff that doubles up to a cap; one that keeps failing is given up on.
 * Nothing a component does can stop the others.
 */
import type { Clock } from './clock.js';
import type {
  ComponentContext,
  PolledSource,
  RawProtocol,
  Sink,
  Source,
  SourceContext,
} from './component.js';
import type { Logger } from './logger.js';
import type { Event } from './event.js';
import type { Batch } from './metric.js';
import { ComponentStats, type StatCounter } from './stats.js';
import { withTimeout } from './timeout.js';
import type { RejectedLine } from './rejection.js';

export interface RestartPolicy {
  /** First restart delay; doubles after each failure up to `maxBackoffMs`. */
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
  /** Give up when a component fails more than this many times within `windowMs`. */
  readonly maxFailures: number;
  readonly windowMs: number;
  /** A start that takes longer than this counts as a failure. */
  readonly startTimeoutMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  minBackoffMs: 1000,
  maxBackoffMs: 60_000,
  maxFailures: 10,
  windowMs: 600_000,
  startTimeoutMs: 30_000,
};

export type RunnerState = 'idle' | 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped' | 'gave_up';

interface Deps {
  readonly log: Logger;
  readonly clock: Clock;
  readonly policy: RestartPolicy;
  /** Values in [0, 1), for polled sources' start jitter. */
  readonly random?: () => number;
}

/** Lifecycle, failure accounting and backoff shared by source and sink runners. */
abstract class Runner<T> {
  state: RunnerState = 'idle';
  readonly stats: ComponentStats;
  protected instance: T | undefined;
  /** Bumped on every (re)start so late calls from a replaced instance are ignored. */
  protected generation = 0;
  private failures: number[] = [];
  private backoffMs: number;
  /** The start under way, if any (see stop). */
  private starting: Promise<unknown> | undefined;
  /** When the instance last reached 'running' (the clock's time). */
  private runningSince = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  protected readonly log: Logger;
  private readonly restarts;
  private readonly failuresCounter;

  constructor(
    readonly id: string,
    readonly type: string,
    protected readonly deps: Deps,
  ) {
    this.log = deps.log.child({ component: id });
    this.stats = new ComponentStats(id, type);
    this.backoffMs = deps.policy.minBackoffMs;
    this.restarts = this.stats.counter(
      'component_restarts',
      'Times the component was restarted after a failure.',
    );
    this.failuresCounter = this.stats.counter('component_failures', 'Failures of the component.');
  }

  protected abstract create(ctxFail: (e: unknown) => void): T;
  protected abstract startInstance(instance: T): Promise<void>;
  protected abstract stopInstance(instance: T): Promise<void>;

  protected baseContext(generation: number): ComponentContext {
    return {
      id: this.id,
      log: this.log,
      clock: this.deps.clock,
      stats: this.stats,
      fail: (e) => {
        if (generation === this.generation) this.fail(e);
      },
    };
  }

  /**
   * Starts the component. A failed start is restarted with backoff, unless `failFast`: then the
   * instance is stopped and the error returned (the agent's startup_error_behavior: error).
   */
  async start(options: { failFast?: boolean } = {}): Promise<unknown> {
    const run = this.startOnce(options);
    this.starting = run;
    try {
      return await run;
    } finally {
      if (this.starting === run) this.starting = undefined;
    }
  }

  private async startOnce(options: { failFast?: boolean }): Promise<unknown> {
    if (this.state === 'stopping' || this.state === 'stopped') return undefined;
    this.state = 'starting';
    const generation = ++this.generation;
    let instance: T;
    try {
      instance = this.create((e) => {
        if (generation === this.generation) this.fail(e);
      });
      this.instance = instance;
      const ms = this.deps.policy.startTimeoutMs;
      await withTimeout(this.startInstance(instance), ms, `start did not finish within ${ms} ms`);
    } catch (e) {
      if (generation !== this.generation) return undefined;
      if (!options.failFast) {
        await this.fail(e);
        return undefined;
      }
      await this.stopNow().catch(() => {});
      return e;
    }
    if (generation !== this.generation || this.state !== 'starting') return undefined;
    this.state = 'running';
    this.runningSince = this.deps.clock.now();
    return undefined;
  }

  /** Handles a failure: stop the instance, then restart after backoff, or give up. */
  async fail(error: unknown): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped' || this.state === 'gave_up') return;
    if (this.state === 'backoff') return;
    this.failuresCounter.inc();
    const now = this.deps.clock.now();
    // A failure after a successful start backs off like a failed start: only a component that
    // ran a whole failure window without failing has recovered and starts over from the
    // shortest delay (its earlier failures have left the window by then too).
    if (this.state === 'running' && now - this.runningSince >= this.deps.policy.windowMs)
      this.backoffMs = this.deps.policy.minBackoffMs;
    this.failures = this.failures.filter((t) => now - t < this.deps.policy.windowMs);
    this.failures.push(now);
    const instance = this.instance;
    this.instance = undefined;
    this.generation++;
    this.state = 'backoff';
    if (instance !== undefined) {
      try {
        const ms = this.deps.policy.startTimeoutMs;
        await withTimeout(this.stopInstance(instance), ms, `stop did not finish within ${ms} ms`);
      } catch (e) {
        this.log.warn('The failed component did not stop cleanly.', { error: e });
      }
    }
    if (this.failures.length > this.deps.policy.maxFailures) {
      this.state = 'gave_up';
      this.log.error('The component keeps failing; giving up on it. The rest of the agent keeps running.', {
        error,
        failures: this.failures.length,
        window_ms: this.deps.policy.windowMs,
      });
      return;
    }
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.deps.policy.maxBackoffMs);
    this.log.error('The component failed; restarting it.', { error, restart_in_ms: delay });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.state !== 'backoff') return;
      this.restarts.inc();
      void this.start();
    }, delay);
  }

  async stop(): Promise<void> {
    // An instance still starting would come up after this stop and hold its sockets, orphaned:
    // let the start settle first, then stop what it started.
    if (this.starting !== undefined) await this.starting.catch(() => {});
    await this.stopNow();
  }

  private async stopNow(): Promise<void> {
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const instance = this.instance;
    this.instance = undefined;
    this.state = 'stopping';
    if (instance !== undefined) await this.stopInstance(instance);
    this.state = 'stopped';
  }
}

export type SourceFactory = (ctx: SourceContext) => Source;

export class SourceRunner extends Runner<Source> {
  private ticker: NodeJS.Timeout | undefined;
  private collecting = false;
  private readonly overruns;
  private readonly collectErrors;

  constructor(
    id: string,
    type: string,
    private factory: SourceFactory,
    private readonly emitTo: (batch: Batch) => void,
    deps: Deps,
    private readonly emitEvents: (events: readonly Event[]) => void = () => {},
  ) {
    super(id, type, deps);
    this.overruns = this.stats.counter(
      'collection_skipped',
      'Collections skipped because the previous one overran.',
    );
    this.collectErrors = this.stats.counter('collection_errors', 'Collections that failed.');
    this.emitted = this.stats.counter('metrics_emitted', 'Metrics the source handed to the pipeline.');
  }

  /**
   * Applies a reloaded config's options to the running instance, if it can take them in place;
   * later restarts then build from `factory`. Resolves false when the agent must rebuild it.
   */
  async reconfigure(factory: SourceFactory, options: unknown): Promise<boolean> {
    const instance = this.instance;
    if (this.state !== 'running' || instance === undefined || instance.mode !== 'listening') return false;
    if (instance.reconfigure === undefined || !(await instance.reconfigure(options))) return false;
    this.factory = factory;
    return true;
  }

  /** The running instance's last rejected lines (none when it keeps none, or is not running). */
  recentRejections(): readonly RejectedLine[] {
    const instance = this.instance;
    if (instance === undefined || instance.mode !== 'listening') return [];
    return instance.recentRejections?.() ?? [];
  }

  private readonly emitted: StatCounter;

  private emit(batch: Batch): void {
    this.emitted.inc(batch.length);
    this.emitTo(batch);
  }

  protected create(): Source {
    const generation = this.generation;
    const ctx: SourceContext = {
      ...this.baseContext(generation),
      emit: (batch) => {
        // A replaced instance may still flush what it held while stopping: keep that data.
        if (batch.length > 0) this.emit(batch);
      },
      emitEvents: (events) => {
        if (events.length > 0) this.emitEvents(events);
      },
    };
    return this.factory(ctx);
  }

  protected async startInstance(source: Source): Promise<void> {
    if (source.mode === 'listening') return source.start();
    const interval = source.intervalMs;
    const now = this.deps.clock.now();
    if (source.startJitter === true) {
      // Spoon's start delay: agents restarted together (a fleet deploy) spread their polls over
      // half an interval instead of reading /proc and the Docker API in step.
      const random = this.deps.random ?? Math.random;
      this.schedule(source, this.generation, now + Math.floor(random() * (interval / 2)));
      return;
    }
    // Collect at once, so a fresh agent has data before its first interval ends, then on ticks
    // at multiples of the interval on the wall clock, like Telegraf's round_interval.
    this.tick(source, this.generation);
    this.schedule(source, this.generation, now - (now % interval) + interval);
  }

  /**
   * Ticks at `at`, then every interval after it. Each tick is computed from the previous one,
   * not from when its timer fired, so late timers never make the schedule drift; ticks the event
   * loop missed entirely (a blocked process, a suspended VM) are skipped and counted.
   */
  private schedule(source: PolledSource, generation: number, at: number): void {
    const delay = Math.max(0, at - this.deps.clock.now());
    this.ticker = setTimeout(() => {
      if (generation !== this.generation) return;
      const interval = source.intervalMs;
      let next = at + interval;
      const now = this.deps.clock.now();
      if (next <= now) {
        const missed = Math.floor((now - next) / interval) + 1;
        this.overruns.inc(missed);
        next += missed * interval;
      }
      this.schedule(source, generation, next);
      this.tick(source, generation);
    }, delay);
  }

  private tick(source: PolledSource, generation: number): void {
    if (this.collecting) {
      this.overruns.inc();
      this.log.warn('Skipped a collection: the previous one is still running.', {
        interval_ms: source.intervalMs,
      });
      return;
    }
    this.collecting = true;
    let pending: Promise<Batch>;
    try {
      pending = source.collect();
    } catch (e) {
      pending = Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    pending.then(
      (batch) => {
        this.collecting = false;
        if (generation === this.generation && batch.length > 0) this.emit(batch);
      },
      (e: unknown) => {
        this.collecting = false;
        this.collectErrors.inc();
        this.log.warn('A collection failed.', { error: e });
      },
    );
  }

  protected async stopInstance(source: Source): Promise<void> {
    if (this.ticker !== undefined) clearTimeout(this.ticker);
    this.ticker = undefined;
    if (source.mode === 'listening') await source.stop();
    else if (source.stop !== undefined) await source.stop();
  }
}

export type SinkFactory = (ctx: ComponentContext) => Sink;

export class SinkRunner extends Runner<Sink> {
  private readonly dropped;
  private readonly droppedEvents;

  constructor(
    id: string,
    type: string,
    private readonly factory: SinkFactory,
    deps: Deps,
  ) {
    super(id, type, deps);
    this.droppedEvents = this.stats.counter('dropped_events', 'Events dropped before reaching the sink.', {
      reason: 'sink_down',
    });
    this.dropped = this.stats.counter('dropped_metrics', 'Metrics dropped before reaching the sink.', {
      reason: 'sink_down',
    });
    this.received = this.stats.counter('metrics_received', 'Metrics the pipeline handed to the sink.');
  }

  private readonly received: StatCounter;

  protected startInstance(sink: Sink): Promise<void> {
    return sink.start();
  }

  protected stopInstance(sink: Sink): Promise<void> {
    return sink.stop();
  }

  /** Known once the first instance exists; a sink type either carries events or not. */
  carriesEvents = false;

  protected create(): Sink {
    const sink = this.factory(this.baseContext(this.generation));
    this.carriesEvents = typeof sink.writeEvents === 'function';
    return sink;
  }

  /**
   * Raw lines (SourceContext.rawOutlet) for a sink whose definition declared the protocol. Like
   * `write`: never throws, and lines a sink that is down cannot take are counted.
   */
  writeRaw(protocol: RawProtocol, lines: readonly string[]): void {
    const sink = this.instance;
    if (sink?.writeRaw === undefined || (this.state !== 'running' && this.state !== 'stopping')) {
      this.droppedRaw().inc(lines.length);
      return;
    }
    try {
      sink.writeRaw(protocol, lines);
    } catch (e) {
      this.droppedRaw().inc(lines.length);
      void this.fail(e);
    }
  }

  /** Made on first use: only repeaters ever count raw lines. */
  private droppedRaw(): StatCounter {
    return this.stats.counter('dropped_raw_lines', 'Raw lines dropped before reaching the sink.', {
      reason: 'sink_down',
    });
  }

  /** Like `write`: never throws, and events a sink that is down cannot take are counted. */
  writeEvents(events: readonly Event[]): void {
    const sink = this.instance;
    if (sink?.writeEvents === undefined || this.state !== 'running') {
      this.droppedEvents.inc(events.length);
      return;
    }
    try {
      sink.writeEvents(events);
    } catch (e) {
      this.droppedEvents.inc(events.length);
      void this.fail(e);
    }
  }

  /** Sink.delivered of the running instance; at once when it has none or is not running. */
  async delivered(): Promise<void> {
    const sink = this.instance;
    if (sink?.delivered === undefined) return;
    try {
      await sink.delivered();
    } catch {
      // A sink failing here is restarted by its own error path; nothing more was delivered.
    }
  }

  /** Never throws: a failing sink is restarted and the batch counted as dropped. */
  write(batch: Batch): void {
    this.received.inc(batch.length);
    const sink = this.instance;
    if (sink === undefined || (this.state !== 'running' && this.state !== 'stopping')) {
      this.dropped.inc(batch.length);
      return;
    }
    try {
      sink.write(batch);
    } catch (e) {
      this.dropped.inc(batch.length);
      void this.fail(e);
    }
  }
}
