/**
 * The agent's own health, as Spoon's `meta` agent and Bucky3's `self_report` reported it, named
 * as Prometheus' process collector and Telegraf's `internal` input name theirs: process CPU and
 * memory, the V8 heap, how late the event loop runs (the first sign of an agent that cannot keep
 * up), and every component's counters, read from the agent's telemetry on each collection.
 */
import {
  monitorEventLoopDelay,
  performance,
  type EventLoopUtilization,
  type IntervalHistogram,
  type Performance,
} from 'node:perf_hooks';
import type { PolledSource, SourceContext } from '../../core/component.js';
import type { Metric } from '../../core/metric.js';
import { makeTags } from '../../core/tags.js';
import type { InternalConfig } from './schema.js';

/**
 * The loop-delay timer's period, chosen at each collection from how busy the loop was over the
 * last interval. Each wakeup of a sleeping process costs CPU: measured on the project's VM, 20 ms
 * (50 wakeups/s) cost an idle agent 0.26 % of a core, 100 ms 0.10 %, and the 100 ms timer alone
 * kept the built-in config above 0.2 %. A loop busy past BUSY_UTILIZATION is awake anyway, so it
 * gets the 100 ms timer: a stall of D ms shows with a chance of about D / 100, surely from
 * 100 ms. An idle loop gets the 1 s timer: stalls of a second or more still show surely, shorter
 * ones with a chance of D / 1000 (and an idle loop has little to stall it). StatsD ingest runs on
 * its own threads, so the main loop's short stalls no longer cost datagrams either way.
 */
const DELAY_RESOLUTION_BUSY_MS = 100;
const DELAY_RESOLUTION_IDLE_MS = 1000;
const BUSY_UTILIZATION = 0.01;
const NO_TAGS = makeTags({});

export class InternalSource implements PolledSource {
  readonly mode = 'polled';
  readonly intervalMs: number;
  readonly startJitter: boolean;
  private delay: IntervalHistogram | undefined;
  /** Starts busy: a starting agent is, and the first interval then decides. */
  private delayResolutionMs = DELAY_RESOLUTION_BUSY_MS;
  private lastElu: EventLoopUtilization;
  private readonly startedAt = Date.now() - process.uptime() * 1000;

  constructor(
    private readonly config: InternalConfig,
    private readonly ctx: SourceContext,
    /** The loop's utilisation (a test seam: the machine's load must not decide a test). */
    private readonly utilization: Performance['eventLoopUtilization'] = (a, b) =>
      performance.eventLoopUtilization(a, b),
  ) {
    this.lastElu = utilization();
    this.intervalMs = config.interval;
    this.startJitter = config.start_jitter;
    if (config.process) this.watchDelay(DELAY_RESOLUTION_BUSY_MS);
  }

  async collect(): Promise<Metric[]> {
    const now = this.ctx.clock.now();
    const out: Metric[] = [];
    if (this.config.process) this.processMetrics(now, out);
    if (this.config.components && this.ctx.telemetry !== undefined)
      out.push(...this.ctx.telemetry.metrics(now));
    return out;
  }

  async stop(): Promise<void> {
    this.delay?.disable();
    this.delay = undefined;
  }

  /** The loop-delay timer in use, in milliseconds (see DELAY_RESOLUTION_BUSY_MS). */
  get delayResolution(): number {
    return this.delayResolutionMs;
  }

  private watchDelay(resolutionMs: number): void {
    this.delay?.disable();
    this.delayResolutionMs = resolutionMs;
    this.delay = monitorEventLoopDelay({ resolution: resolutionMs });
    this.delay.enable();
  }

  private processMetrics(timestamp: number, out: Metric[]): void {
    const gauge = (name: string, value: number, help: string): void => {
      out.push({ kind: 'gauge', name, tags: NO_TAGS, value, timestamp, help });
    };
    const counter = (name: string, value: number, help: string): void => {
      out.push({
        kind: 'counter',
        temporality: 'cumulative',
        name,
        tags: NO_TAGS,
        value,
        intervalMs: 0,
        timestamp,
        help,
      });
    };
    const cpu = process.cpuUsage();
    counter(
      'sluice_process_cpu_seconds',
      (cpu.user + cpu.system) / 1e6,
      'CPU time used by the agent (user + system).',
    );
    counter('sluice_process_cpu_user_seconds', cpu.user / 1e6, 'CPU time used by the agent in user mode.');
    counter(
      'sluice_process_cpu_system_seconds',
      cpu.system / 1e6,
      'CPU time used by the agent in the kernel.',
    );
    const mem = process.memoryUsage();
    gauge('sluice_process_resident_memory_bytes', mem.rss, 'Resident set size of the agent.');
    gauge('sluice_process_heap_used_bytes', mem.heapUsed, 'V8 heap in use.');
    gauge('sluice_process_heap_total_bytes', mem.heapTotal, 'V8 heap reserved.');
    gauge(
      'sluice_process_external_memory_bytes',
      mem.external + mem.arrayBuffers,
      'Memory of Buffers and other objects outside the V8 heap.',
    );
    gauge(
      'sluice_process_start_time_seconds',
      Math.floor(this.startedAt / 1000),
      'When the agent started, in Unix time.',
    );
    gauge('sluice_uptime_seconds', process.uptime(), 'Seconds since the agent started.');
    const elu = this.utilization(this.lastElu);
    this.lastElu = this.utilization();
    gauge(
      'sluice_event_loop_utilization',
      elu.utilization,
      'Share of the last interval the event loop was busy (0 to 1).',
    );
    const delay = this.delay;
    if (delay !== undefined && delay.count > 0) {
      // The histogram measures timer lateness past its resolution, in nanoseconds.
      gauge(
        'sluice_event_loop_delay_seconds_max',
        delay.max / 1e9,
        'Longest event-loop delay in the last interval.',
      );
      gauge(
        'sluice_event_loop_delay_seconds_p99',
        delay.percentile(99) / 1e9,
        '99th percentile of event-loop delay in the last interval.',
      );
      gauge(
        'sluice_event_loop_delay_seconds_mean',
        delay.mean / 1e9,
        'Mean event-loop delay in the last interval.',
      );
      gauge(
        'sluice_event_loop_delay_resolution_seconds',
        this.delayResolutionMs / 1000,
        'Period of the timer the event-loop delay was measured with: 0.1 while the loop was busy, 1 while idle.',
      );
      delay.reset();
    }
    if (delay !== undefined) {
      const want = elu.utilization >= BUSY_UTILIZATION ? DELAY_RESOLUTION_BUSY_MS : DELAY_RESOLUTION_IDLE_MS;
      if (want !== this.delayResolutionMs) this.watchDelay(want);
    }
  }
}
