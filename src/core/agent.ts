/**
 * The agent: builds the pipeline from a loaded config, starts sinks before sources (so the first
 * batch has somewhere to go), and stops in the order that loses nothing: sources first (each
 * flushes what its aggregators hold into the pipeline), then sinks, each given until the
 * shutdown deadline to deliver.
 */
import { isDeepStrictEqual } from 'node:util';
import type { AgentConfig } from '../config/load.js';
import type { Clock } from './clock.js';
import type { AgentTelemetry, MergeableStateWanted, SourceContext } from './component.js';
import type { Metric } from './metric.js';
import { Filter, type NameScope } from './filter.js';
import type { Logger } from './logger.js';
import { Pipeline, type RawRoute } from './pipeline.js';
import { makeTags, mergeTags, type Tags } from './tags.js';
import { SinkRunner, SourceRunner, type SourceFactory } from './supervisor.js';

export interface StopResult {
  /** False when a sink did not finish delivering before the deadline. */
  readonly drained: boolean;
  readonly pending: readonly string[];
  /**
   * What sinks dropped while the agent stopped, per sink and reason (`dropped_metrics` and
   * `dropped_events`): a sink that gave up within its own timeout, a server that refused a
   * batch, a sink that was down. Empty when everything held was delivered.
   */
  readonly lost: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

/** Every drop counter of a sink by `name{reason}`, to tell what stopping cost. */
function drops(sink: SinkRunner): Map<string, number> {
  const out = new Map<string, number>();
  for (const st of sink.stats.snapshot()) {
    if (st.kind !== 'counter' || (st.name !== 'dropped_metrics' && st.name !== 'dropped_events')) continue;
    const key = `${st.name === 'dropped_events' ? 'events: ' : ''}${st.labels.reason ?? 'unknown'}`;
    out.set(key, (out.get(key) ?? 0) + st.value);
  }
  return out;
}

/** What a reload changed, by component id. */
export interface ReloadResult {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Rebuilt from a fresh instance (sources flushed first). */
  readonly rebuilt: readonly string[];
  /** Sources that took their new options in place, keeping sockets (see Source.reconfigure). */
  readonly reconfigured: readonly string[];
  readonly unchanged: readonly string[];
}

/** The last reload asked for, as the status page shows it. */
export type LastReload =
  | { readonly at: number; readonly result: 'applied'; readonly changes: ReloadResult }
  | { readonly at: number; readonly result: 'failed'; readonly problems: readonly string[] };

export class Agent {
  sources: readonly SourceRunner[];
  sinks: readonly SinkRunner[];
  readonly pipeline: Pipeline;
  /** Shared with every source (SourceContext.mergeableState); set from the sinks at start and reload. */
  private readonly mergeableState = { wanted: false, timerSketches: false };
  private stopping: Promise<StopResult> | undefined;
  private reloading: Promise<unknown> = Promise.resolve();
  /** Reloads applied, and reloads refused (an invalid file: the running config stayed). */
  private reloadsApplied = 0;
  private startedAll = false;
  private reloadsFailed = 0;
  /** The last reload's outcome (undefined until one is asked for). */
  lastReload: LastReload | undefined;
  private readonly telemetryView: AgentTelemetry = { metrics: (timestamp) => this.telemetry(timestamp) };

  constructor(
    private config: AgentConfig,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {
    this.sinks = config.sinks.map((c) => this.sinkRunner(c, config));
    this.pipeline = new Pipeline(
      new Filter(config.filters),
      metadataTags(config),
      this.sinks,
      rawRoutes(config, this.sinks),
    );
    Object.assign(this.mergeableState, stateWanted(config));
    this.sources = config.sources.map((c) => this.sourceRunner(c, config));
  }

  private sinkRunner(c: AgentConfig['sinks'][number], config: AgentConfig): SinkRunner {
    const deps = { log: this.log, clock: this.clock, policy: config.agent.restart };
    return new SinkRunner(c.id, c.type, (ctx) => c.definition.create(c.options as never, ctx), deps);
  }

  private sourceFactory(c: AgentConfig['sources'][number]): SourceFactory {
    return (ctx) => c.definition.create(c.options as never, this.sourceContext(ctx));
  }

  private sourceRunner(c: AgentConfig['sources'][number], config: AgentConfig): SourceRunner {
    const deps = { log: this.log, clock: this.clock, policy: config.agent.restart };
    return new SourceRunner(
      c.id,
      c.type,
      this.sourceFactory(c),
      (batch) => this.pipeline.push(batch, c.id),
      deps,
      (events) => this.pipeline.pushEvents(events),
    );
  }

  /**
   * Applies a new config to the running agent, component by component: one whose type and
   * options are unchanged keeps its instance (its aggregates, sockets, buffers, connections);
   * a changed or new sink starts before the pipeline switches to it, and the one it replaces
   * stops (delivering what it holds) after; a changed source stops first, so its final flush
   * reaches the new sinks, and starts again from its new options; the filter and the agent's
   * tags apply to every batch after the switch. Reloads run one at a time; none after stop.
   */
  reload(next: AgentConfig): Promise<ReloadResult> {
    const run = this.reloading.then(() => this.doReload(next));
    this.reloading = run.catch(() => {});
    return run;
  }

  /** Started (every component's first start done) and not stopping: what /-/ready reports. */
  get ready(): boolean {
    return this.startedAll && this.stopping === undefined;
  }

  /** Counts a reload whose config was refused (invalid, or its apply failed). */
  reloadFailed(problems: readonly string[]): void {
    this.reloadsFailed++;
    this.lastReload = { at: this.clock.now(), result: 'failed', problems };
  }

  private async doReload(next: AgentConfig): Promise<ReloadResult> {
    if (this.stopping !== undefined) throw new Error('the agent is stopping');
    const prev = this.config;
    const result = {
      added: [] as string[],
      removed: [] as string[],
      rebuilt: [] as string[],
      reconfigured: [] as string[],
      unchanged: [] as string[],
    };
    /**
     * Which runners the next config keeps, starts and stops. A changed component (every one,
     * with `rebuildAll`) is rebuilt unless `inPlace` takes the new options into the running one.
     */
    const plan = async <R extends SourceRunner | SinkRunner>(
      runners: readonly R[],
      prevConfigs: AgentConfig['sinks'] | AgentConfig['sources'],
      nextConfigs: AgentConfig['sinks'] | AgentConfig['sources'],
      make: (c: never) => R,
      inPlace: (old: R, c: never) => Promise<boolean>,
      rebuildAll = false,
    ): Promise<{ keep: R[]; start: R[]; stop: R[] }> => {
      const byId = new Map(runners.map((r) => [r.id, r]));
      const prevById = new Map(prevConfigs.map((c) => [c.id, c]));
      const keep: R[] = [];
      const start: R[] = [];
      const stop: R[] = [];
      for (const c of nextConfigs) {
        const old = byId.get(c.id);
        const was = prevById.get(c.id);
        if (old !== undefined && was !== undefined && !rebuildAll && sameComponent(was, c)) {
          keep.push(old);
          result.unchanged.push(c.id);
        } else if (
          old !== undefined &&
          !rebuildAll &&
          old.type === c.type &&
          (await inPlace(old, c as never))
        ) {
          keep.push(old);
          result.reconfigured.push(c.id);
        } else {
          const fresh = make(c as never);
          keep.push(fresh);
          start.push(fresh);
          if (old === undefined) result.added.push(c.id);
          else {
            stop.push(old);
            result.rebuilt.push(c.id);
          }
        }
      }
      const nextIds = new Set(nextConfigs.map((c) => c.id));
      for (const r of runners)
        if (!nextIds.has(r.id)) {
          stop.push(r);
          result.removed.push(r.id);
        }
      return { keep, start, stop };
    };
    const sinks = await plan(
      this.sinks,
      prev.sinks,
      next.sinks,
      (c) => this.sinkRunner(c, next),
      async () => false,
    );
    this.config = next;
    await Promise.all(sinks.start.map((r) => r.start()));
    this.sinks = sinks.keep;
    Object.assign(this.mergeableState, stateWanted(next));
    this.pipeline.reconfigure(
      new Filter(next.filters),
      metadataTags(next),
      this.sinks,
      rawRoutes(next, this.sinks),
    );
    // Raw-line handlers are handed to sources at start, bound to the relaying sinks of then:
    // when a relaying sink comes, goes or is rebuilt, every source is rebuilt too.
    const relays = (config: AgentConfig, id: string): boolean =>
      config.sinks.some(
        (c) => c.id === id && (c.definition.rawProtocols?.(c.options as never) ?? []).length > 0,
      );
    const relaysChanged =
      sinks.start.some((r) => relays(next, r.id)) || sinks.stop.some((r) => relays(prev, r.id));
    // After the switch: a changed source that takes its new options in place keeps its sockets
    // and flushes what it held under the old ones into the new sinks; the others stop
    // (flushing) and start afresh.
    const sources = await plan(
      this.sources,
      prev.sources,
      next.sources,
      (c) => this.sourceRunner(c, next),
      (old, c: AgentConfig['sources'][number]) => old.reconfigure(this.sourceFactory(c), c.options),
      relaysChanged,
    );
    await Promise.all(sources.stop.map((r) => r.stop()));
    this.sources = sources.keep;
    await Promise.all(sources.start.map((r) => r.start()));
    await Promise.all(sinks.stop.map((r) => r.stop()));
    this.reloadsApplied++;
    this.lastReload = { at: this.clock.now(), result: 'applied', changes: result };
    return result;
  }

  /**
   * What the agent adds to each source's context: its telemetry (for the `internal` source) and
   * the route to the sinks that take raw lines.
   */
  private sourceContext(ctx: SourceContext): SourceContext {
    return {
      ...ctx,
      telemetry: this.telemetryView,
      rawOutlet: (protocol) => this.pipeline.rawOutlet(protocol, ctx.id),
      mergeableState: this.mergeableState,
      delivered: async () => {
        await Promise.all(this.sinks.map((r) => r.delivered()));
      },
    };
  }

  /**
   * Which series of a name a state-publishing sink sends to the aggregators (all, some by their
   * tags, none); undefined when no sink publishes state.
   */
  globalScope(name: string): NameScope | undefined {
    let scope: NameScope | undefined;
    for (const c of this.config.sinks) {
      const s = c.definition.globalScope?.(c.options as never, name);
      if (s === undefined) continue;
      if (s === 'all') return 'all';
      if (s === 'some' || scope === undefined) scope = s;
    }
    return scope;
  }

  /** Every component's stats and the pipeline's counts, as the `internal` source reports them. */
  telemetry(timestamp: number): Metric[] {
    const out: Metric[] = [];
    for (const r of this.sources) out.push(...r.stats.toMetrics(timestamp));
    for (const r of this.sinks) out.push(...r.stats.toMetrics(timestamp));
    out.push(...this.pipeline.toMetrics(timestamp));
    for (const [result, value] of [
      ['applied', this.reloadsApplied],
      ['failed', this.reloadsFailed],
    ] as const) {
      out.push({
        kind: 'counter',
        temporality: 'cumulative',
        name: 'sluice_config_reloads',
        tags: makeTags({ result }),
        value,
        intervalMs: 0,
        timestamp,
        help: 'Config reloads (SIGHUP): applied, or failed (the file was invalid and the running config stayed).',
      });
    }
    return out;
  }

  /** Starts sinks, then sources. A reload asked for meanwhile waits until this is done. */
  start(): Promise<void> {
    const run = this.doStart();
    this.reloading = run.catch(() => {});
    return run;
  }

  private async doStart(): Promise<void> {
    const failFast = this.config.agent.startupErrorBehavior === 'error';
    const failed: { component: string; type: string; error: unknown }[] = [];
    const started = async (runners: readonly (SourceRunner | SinkRunner)[]): Promise<void> => {
      const errors = await Promise.all(runners.map((r) => r.start({ failFast })));
      runners.forEach((r, i) => {
        if (errors[i] !== undefined) failed.push({ component: r.id, type: r.type, error: errors[i] });
      });
    };
    await started(this.sinks);
    // Sources start even when a sink could not, so that one run names every conflict.
    await started(this.sources);
    if (failed.length > 0) {
      for (const f of failed) this.log.error('A component could not start.', f);
      await this.stop();
      throw new StartupError(failed.map((f) => `${f.component} (${f.type}): ${describe(f.error)}`));
    }
    this.startedAll = true;
    this.log.info('sluice started.', {
      sources: this.config.sources.map((c) => `${c.id} (${c.type})`),
      sinks: this.config.sinks.map((c) => `${c.id} (${c.type})`),
      host: this.config.agent.hostname,
    });
  }

  /** Idempotent; the second caller gets the first call's result. */
  stop(): Promise<StopResult> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<StopResult> {
    const deadline = this.config.agent.shutdownTimeoutMs;
    const stopOne = async (r: SourceRunner | SinkRunner): Promise<string | undefined> => {
      try {
        await r.stop();
        return undefined;
      } catch (e) {
        this.log.error('A component failed while stopping.', { component: r.id, error: e });
        return undefined;
      }
    };
    const dropsBefore = new Map(this.sinks.map((s) => [s.id, drops(s)]));
    // Sources flush into the pipeline as they stop, so all of them finish before any sink stops.
    await withDeadline(Promise.all(this.sources.map(stopOne)), deadline);
    const pending = new Set(this.sinks.map((s) => s.id));
    const sinkStops = this.sinks.map(async (s) => {
      await stopOne(s);
      pending.delete(s.id);
    });
    const finished = await withDeadline(Promise.all(sinkStops), deadline);
    if (!finished) {
      this.log.error('Shutdown timed out: some sinks did not deliver what they held.', {
        pending: [...pending],
        shutdown_timeout_ms: deadline,
      });
    }
    const lost: Record<string, Record<string, number>> = {};
    for (const s of this.sinks) {
      const before = dropsBefore.get(s.id);
      for (const [reason, n] of drops(s)) {
        const added = n - (before?.get(reason) ?? 0);
        if (added > 0) (lost[s.id] ??= {})[reason] = added;
      }
    }
    if (Object.keys(lost).length > 0)
      this.log.error('Sinks dropped data while stopping (counted in dropped_metrics).', { lost });
    return { drained: finished, pending: [...pending], lost };
  }
}

/** Same type and the same options (deeply): such a component is left running by a reload. */
function sameComponent(
  a: AgentConfig['sinks'][number] | AgentConfig['sources'][number],
  b: AgentConfig['sinks'][number] | AgentConfig['sources'][number],
): boolean {
  return a.type === b.type && isDeepStrictEqual(a.options, b.options);
}

/** Components failed their first start under `startup_error_behavior: error`. */
export class StartupError extends Error {
  constructor(readonly failures: readonly string[]) {
    super(
      `Could not start: ${failures.join('; ')}. ` +
        'Fix the cause (another process on the port?), or set agent.startup_error_behavior: retry to keep retrying it while the rest runs.',
    );
    this.name = 'StartupError';
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Whether any sink publishes mergeable interval state, and timers as sketches (SinkDefinition). */
export function stateWanted(config: AgentConfig): MergeableStateWanted {
  return {
    wanted: config.sinks.some((c) => c.definition.publishesState?.(c.options as never) === true),
    timerSketches: config.sinks.some((c) => c.definition.sketchesTimers?.(c.options as never) === true),
  };
}

/** Which sinks take which protocol's raw lines, from their definitions and configs. */
function rawRoutes(config: AgentConfig, sinks: readonly SinkRunner[]): RawRoute[] {
  const routes: RawRoute[] = [];
  config.sinks.forEach((c, i) => {
    const sink = sinks[i] as SinkRunner;
    for (const protocol of c.definition.rawProtocols?.(c.options as never) ?? [])
      routes.push({ protocol, sink });
  });
  return routes;
}

/** The tags the pipeline adds to everything: `agent.tags` and the host tag. */
export function metadataTags(config: AgentConfig): Tags {
  const base = makeTags(config.agent.tags);
  if (config.agent.hostTag === '') return base;
  return mergeTags(base, makeTags([[config.agent.hostTag, config.agent.hostname]]));
}

/** Resolves true if `p` settles within `ms`, false otherwise (without cancelling it). */
async function withDeadline(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
