/**
 * The polled shell of the `command` source: at every tick, one run of the command (run.ts),
 * whose stdout the configured format turns into metrics (formats.ts). Nothing a command does
 * is fatal to the agent: a program that cannot start, exits non-zero, hangs, prints too much or
 * prints garbage makes a failed run, counted in command_failures by reason and logged (the
 * first time, then at most once a minute per reason), and the next tick runs it again.
 */
import { performance } from 'node:perf_hooks';
import type { PolledSource, SourceContext } from '../../core/component.js';
import type { Batch, Metric } from '../../core/metric.js';
import type { StatCounter, StatGauge } from '../../core/stats.js';
import { makeTags, mergeTags, type Tags } from '../../core/tags.js';
import { RejectionLog } from '../../protocols/rejections.js';
import { outputParser, type OutputParser } from './formats.js';
import { CommandRun, type RunOptions, type RunResult } from './run.js';
import type { CommandConfig, DataFormat } from './schema.js';

/** The PATH a command gets when it does not inherit the agent's environment. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const FAILURE_REASONS = ['spawn', 'exit', 'timeout', 'too_large', 'parse'] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** At most one warning per failure reason in this period; the counters tell the rest. */
const WARN_INTERVAL_MS = 60_000;

const MESSAGES: Record<FailureReason, string> = {
  spawn: 'The command could not be started (check command or shell, PATH and cwd).',
  exit: 'The command failed (non-zero exit status or killed by a signal); its output was discarded.',
  timeout:
    'The command did not finish within its timeout and was killed; its output was discarded (raise timeout if it needs longer).',
  too_large: 'The command printed more than max_output bytes and was killed; its output was discarded.',
  parse: "Lines of the command's output could not be parsed (counted in lines_rejected by reason).",
};

interface WarnState {
  at: number;
  suppressed: number;
}

export class CommandSource implements PolledSource {
  readonly mode = 'polled';
  readonly intervalMs: number;
  readonly startJitter: boolean;
  private readonly format: DataFormat;
  private readonly runOptions: RunOptions;
  private readonly parser: OutputParser;
  private readonly prefix: string;
  private readonly tags: Tags;
  private readonly rejections: RejectionLog<string>;
  private readonly runs: StatCounter;
  private readonly failures: Record<FailureReason, StatCounter>;
  private readonly rejected = new Map<string, StatCounter>();
  private readonly duration: StatGauge;
  private readonly warned = new Map<FailureReason, WarnState>();
  private failedInARow = 0;
  private running: CommandRun | undefined;
  private stopped = false;

  constructor(
    config: CommandConfig,
    private readonly ctx: SourceContext,
  ) {
    this.intervalMs = config.interval;
    this.startJitter = config.start_jitter;
    this.format = config.data_format;
    this.prefix = config.name_prefix;
    this.tags = makeTags(config.tags);
    const env: NodeJS.ProcessEnv = config.inherit_env
      ? { ...process.env, ...config.env }
      : { PATH: DEFAULT_PATH, ...config.env };
    this.runOptions = {
      argv: config.command ?? ['/bin/sh', '-c', config.shell as string],
      env,
      cwd: config.cwd,
      timeoutMs: config.timeout,
      killGraceMs: config.kill_grace,
      maxOutputBytes: config.max_output,
    };
    this.parser = outputParser(
      config.data_format,
      { intervalMs: config.interval, name: config.name ?? ctx.id },
      config.max_output,
    );
    this.rejections = new RejectionLog<string>(this.parser.reasons, 16, 256);
    const st = ctx.stats;
    this.runs = st.counter('command_runs', 'Runs of the command started.');
    this.failures = {} as Record<FailureReason, StatCounter>;
    for (const reason of FAILURE_REASONS) {
      this.failures[reason] = st.counter(
        'command_failures',
        'Runs that failed: spawn (could not start), exit (non-zero status or signal), timeout, too_large (stdout over max_output), parse (some lines rejected).',
        { reason },
      );
    }
    for (const reason of this.parser.reasons) {
      this.rejected.set(
        reason,
        st.counter('lines_rejected', "Lines of the command's output dropped as invalid, by reason.", {
          reason,
        }),
      );
    }
    this.duration = st.gauge('command_duration_seconds', 'How long the last run of the command took.');
  }

  async collect(): Promise<Batch> {
    if (this.stopped) return [];
    const now = this.ctx.clock.now();
    const started = performance.now();
    this.runs.inc();
    const run = new CommandRun(this.runOptions);
    this.running = run;
    const result = await run.done;
    this.running = undefined;
    this.duration.set((performance.now() - started) / 1000);
    if (result.outcome === 'stopped') return [];
    if (result.outcome !== 'ok') {
      this.failed(result.outcome, this.details(result));
      return [];
    }
    return this.parse(result.stdout, now);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running?.stop();
  }

  private parse(stdout: Buffer, now: number): Batch {
    const before = this.rejections.total;
    const parsed = this.parser.parse(stdout, now, (reason, buf, start, end) => {
      this.rejections.record(reason, buf, start, end);
      this.rejected.get(reason)?.inc();
    });
    const rejected = this.rejections.total - before;
    if (rejected > 0) {
      const recent = this.rejections.recent();
      this.failed('parse', {
        data_format: this.format,
        lines: parsed.lines,
        rejected,
        last: recent[recent.length - 1],
      });
    } else {
      this.succeeded();
    }
    if (parsed.events.length > 0) {
      this.ctx.emitEvents(
        this.tags.length === 0
          ? parsed.events
          : parsed.events.map((e) => ({ ...e, tags: mergeTags(e.tags, this.tags) })),
      );
    }
    if (this.prefix === '' && this.tags.length === 0) return parsed.metrics;
    return parsed.metrics.map((m) => this.decorate(m));
  }

  private decorate(m: Metric): Metric {
    const prefix = this.prefix;
    const name = prefix + m.name;
    const tags = mergeTags(m.tags, this.tags);
    // A field of a multi-field point keeps saying which (renamed) point it belongs to.
    if (m.point === undefined || prefix === '') return { ...m, name, tags };
    return { ...m, name, tags, point: { measurement: prefix + m.point.measurement, field: m.point.field } };
  }

  private details(result: Exclude<RunResult, { outcome: 'ok' }>): Record<string, unknown> {
    const command = this.runOptions.argv;
    switch (result.outcome) {
      case 'spawn':
        return { command, cwd: this.runOptions.cwd, error: result.error };
      case 'exit':
        return { command, exit_code: result.code, signal: result.signal, stderr: result.stderr };
      case 'timeout':
        return { command, timeout_ms: this.runOptions.timeoutMs, stderr: result.stderr };
      case 'too_large':
        return { command, max_output: this.runOptions.maxOutputBytes, stderr: result.stderr };
      case 'stopped':
        return { command };
    }
  }

  private failed(reason: FailureReason, fields: Record<string, unknown>): void {
    this.failures[reason].inc();
    this.failedInARow++;
    const now = this.ctx.clock.now();
    const state = this.warned.get(reason);
    if (state !== undefined && now - state.at < WARN_INTERVAL_MS) {
      state.suppressed++;
      return;
    }
    const suppressed = state?.suppressed ?? 0;
    this.warned.set(reason, { at: now, suppressed: 0 });
    this.ctx.log.warn(
      MESSAGES[reason],
      suppressed > 0 ? { ...fields, not_logged_since_last: suppressed } : fields,
    );
  }

  private succeeded(): void {
    if (this.failedInARow === 0) return;
    this.ctx.log.info('The command succeeded again.', { failed_runs_before: this.failedInARow });
    this.failedInARow = 0;
  }
}
