/**
 * The agent: builds the pipeline from a loaded config, starts sinks before sources (so the first
 * batch has somewhere to go), and stops in the order that loses nothing: sources first (each
 * flushes what its aggregators hold into the pipeline), then sinks, each given until the
 * shutdown deadline to deliver.
 */
import type { AgentConfig } from '../config/load.js';
import type { Clock } from './clock.js';
import type { AgentTelemetry, SourceContext } from './component.js';
import type { Metric } from './metric.js';
import { Filter } from './filter.js';
import type { Logger } from './logger.js';
import { Pipeline, type RawRoute } from './pipeline.js';
import { makeTags, mergeTags, type Tags } from './tags.js';
import { SinkRunner, SourceRunner } from './supervisor.js';

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

export class Agent {
  readonly sources: readonly SourceRunner[];
  readonly sinks: readonly SinkRunner[];
  readonly pipeline: Pipeline;
  private stopping: Promise<StopResult> | undefined;
  private readonly telemetryView: AgentTelemetry = { metrics: (timestamp) => this.telemetry(timestamp) };

  constructor(
    private readonly config: AgentConfig,
    private readonly log: Logger,
    clock: Clock,
  ) {
    const deps = { log, clock, policy: config.agent.restart };
    this.sinks = config.sinks.map(
      (c) => new SinkRunner(c.id, c.type, (ctx) => c.definition.create(c.options as never, ctx), deps),
    );
    this.pipeline = new Pipeline(
      new Filter(config.filters),
      metadataTags(config),
      this.sinks,
      rawRoutes(config, this.sinks),
    );
    this.sources = config.sources.map(
      (c) =>
        new SourceRunner(
          c.id,
          c.type,
          (ctx) => c.definition.create(c.options as never, this.sourceContext(ctx)),
          (batch) => this.pipeline.push(batch),
          deps,
          (events) => this.pipeline.pushEvents(events),
        ),
    );
  }

  /**
   * What the agent adds to each source's context: its telemetry (for the `internal` source) and
   * the route to the sinks that take raw lines.
   */
  private sourceContext(ctx: SourceContext): SourceContext {
    return {
      ...ctx,
      telemetry: this.telemetryView,
      rawLines: (protocol) => this.pipeline.rawLines(protocol),
    };
  }

  /** Every component's stats and the pipeline's counts, as the `internal` source reports them. */
  telemetry(timestamp: number): Metric[] {
    const out: Metric[] = [];
    for (const r of this.sources) out.push(...r.stats.toMetrics(timestamp));
    for (const r of this.sinks) out.push(...r.stats.toMetrics(timestamp));
    out.push(...this.pipeline.toMetrics(timestamp));
    return out;
  }

  async start(): Promise<void> {
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
