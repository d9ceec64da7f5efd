/**
 * What the status page shows, gathered in the agent: a snapshot of every figure the agent
 * exports about itself (the same numbers the `internal` source hands the sinks, so the page and
 * /metrics agree), the components' state and last rejected lines, the event loop's delay, and a
 * 15-minute history sampled every 5 s so that a page opened now has charts at once.
 *
 * It costs nothing unless the admin endpoint is on: then one sample every SAMPLE_MS, a loop-delay
 * timer (100 ms while the loop is busy, 1 s while idle, as the internal source does), and, only
 * while someone has looked at the page in the last NAME_RATES_IDLE_MS, a tap counting metric
 * names on their way to the sinks.
 */
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import type { Clock } from '../core/clock.js';
import type { NameScope } from '../core/filter.js';
import type { Metric } from '../core/metric.js';
import type { RejectedLine } from '../core/rejection.js';
import type { Tap } from '../core/pipeline.js';

/** One sample every 5 s, 180 of them: the last 15 minutes. */
export const SAMPLE_MS = 5000;
export const HISTORY_SAMPLES = 180;
/** Names counted for the rate table; beyond it, new names are counted together as one. */
const MAX_NAMES_COUNTED = 10_000;
/** The name-rate tap is removed once nobody asked for the status this long. */
const NAME_RATES_IDLE_MS = 60_000;
const NAMES_SHOWN = 10;
/**
 * Rates of names are averaged over the last this many samples (a minute): a source flushing
 * every 10 s hands the sinks nothing for most 5 s periods.
 */
const NAME_RATE_SAMPLES = 12;
const DELAY_RESOLUTION_BUSY_MS = 100;
const DELAY_RESOLUTION_IDLE_MS = 1000;
const BUSY_UTILIZATION = 0.01;

export interface ComponentState {
  readonly id: string;
  readonly kind: 'source' | 'sink';
  readonly type: string;
  readonly state: string;
  /** Sources that parse client input: their last rejected lines, oldest first. */
  readonly rejections?: readonly RejectedLine[];
}

/** What the status reads from the agent. */
export interface StatusTarget {
  readonly version: string;
  /** When the process started (ms since the epoch). */
  readonly startedAt: number;
  ready(): boolean;
  lastReload(): unknown;
  components(): ComponentState[];
  /** The agent's own metrics, exactly as the `internal` source emits them. */
  telemetry(now: number): Metric[];
  tap(listener: Tap): () => void;
  /** Which series of a name go global (a sink publishes state), or undefined when none does. */
  globalScope?(name: string): NameScope | undefined;
}

/** A figure as the page shows it: the name and labels it has in /metrics (before the sink's suffix). */
export interface StatusFigure {
  readonly name: string;
  readonly kind: 'counter' | 'gauge';
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface LoopDelay {
  /**
   * How late the loop-delay timer fired, in milliseconds, over the last sample period (Node's
   * histogram counts the timer's own period too; it is taken off here).
   */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** The timer's period: stalls shorter than it may not show. */
  readonly resolution: number;
  /** Share of the period the loop was busy (0..1). */
  readonly utilization: number;
}

export interface StatusDocument {
  readonly version: string;
  readonly pid: number;
  readonly now: number;
  readonly started_at: number;
  readonly uptime_seconds: number;
  readonly ready: boolean;
  readonly last_reload: unknown;
  readonly event_loop: LoopDelay | undefined;
  readonly components: ComponentState[];
  readonly figures: StatusFigure[];
  /** The names reaching the sinks most often (metrics/s over up to the last minute). */
  readonly busiest_names:
    { readonly name: string; readonly rate: number; readonly global?: NameScope }[] | undefined;
}

/**
 * Per sample: the time and, per key, a value; keys that appear later have nulls before. Totals
 * are cumulative (the page takes differences); the rest are as measured.
 */
export interface HistoryDocument {
  readonly interval_ms: number;
  readonly t: number[];
  readonly series: Record<string, (number | null)[]>;
}

function labelsOf(m: Metric): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of m.tags) out[k] = v;
  return out;
}

/** Sums of a component's counters, by what the page charts. */
function componentTotals(figures: readonly StatusFigure[], out: Map<string, number>): void {
  const add = (key: string, v: number): void => void out.set(key, (out.get(key) ?? 0) + v);
  for (const f of figures) {
    const id = f.labels.component;
    if (id === undefined) continue;
    switch (f.name) {
      case 'sluice_lines_received':
        add(`in:${id}`, f.value);
        break;
      case 'sluice_metrics_emitted':
        add(`out:${id}`, f.value);
        break;
      case 'sluice_metrics_received':
        add(`in:${id}`, f.value);
        break;
      case 'sluice_points_sent':
      case 'sluice_metrics_sent':
      case 'sluice_lines_sent':
        add(`out:${id}`, f.value);
        break;
      case 'sluice_lines_rejected':
        add(`rejected:${id}`, f.value);
        break;
      case 'sluice_dropped_metrics':
      case 'sluice_dropped_lines':
      case 'sluice_lines_lost':
        add(`dropped:${id}`, f.value);
        break;
      case 'sluice_udp_socket_drops':
        add(`kernel_drops:${id}`, f.value);
        break;
      case 'sluice_series':
        add(`series:${id}`, f.value);
        break;
    }
  }
}

export class StatusCollector {
  private timer: ReturnType<typeof setInterval> | undefined;
  private delay: IntervalHistogram | undefined;
  private delayResolutionMs = DELAY_RESOLUTION_BUSY_MS;
  private lastElu = performance.eventLoopUtilization();
  private loop: LoopDelay | undefined;
  private readonly times: number[] = [];
  private readonly series = new Map<string, (number | null)[]>();
  /** The name-rate tap, while someone watches. */
  private untap: (() => void) | undefined;
  private lastAskedAt = -Infinity;
  private names = new Map<string, number>();
  /** The counts of the last NAME_RATE_SAMPLES periods, and when the oldest began. */
  private namePeriods: Map<string, number>[] = [];
  private periodStarts: number[] = [];
  private namesSince = 0;
  private busiest: { name: string; rate: number; global?: NameScope }[] | undefined;

  constructor(
    private readonly target: StatusTarget,
    private readonly clock: Clock,
  ) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.sample();
    this.watchDelay(DELAY_RESOLUTION_BUSY_MS);
    this.lastElu = performance.eventLoopUtilization();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.delay?.disable();
    this.delay = undefined;
    this.untap?.();
    this.untap = undefined;
  }

  status(): StatusDocument {
    const now = this.clock.now();
    this.watchNames(now);
    const figures = this.figures(now);
    return {
      version: this.target.version,
      pid: process.pid,
      now,
      started_at: this.target.startedAt,
      uptime_seconds: (now - this.target.startedAt) / 1000,
      ready: this.target.ready(),
      last_reload: this.target.lastReload() ?? null,
      event_loop: this.loop,
      components: this.target.components(),
      figures,
      busiest_names: this.busiest,
    };
  }

  history(): HistoryDocument {
    return {
      interval_ms: SAMPLE_MS,
      t: [...this.times],
      series: Object.fromEntries([...this.series].map(([k, v]) => [k, [...v]])),
    };
  }

  private figures(now: number): StatusFigure[] {
    return this.target
      .telemetry(now)
      .flatMap((m): StatusFigure[] =>
        m.kind === 'counter' || m.kind === 'gauge'
          ? [{ name: m.name, kind: m.kind, labels: labelsOf(m), value: m.value }]
          : [],
      );
  }

  /** Turns the name tap on while the page is being looked at, and off some time after. */
  private watchNames(now: number): void {
    this.lastAskedAt = now;
    if (this.untap !== undefined) return;
    this.names = new Map();
    this.namePeriods = [];
    this.periodStarts = [];
    this.namesSince = now;
    this.untap = this.target.tap((batch) => {
      const names = this.names;
      for (const m of batch) {
        const n = names.get(m.name);
        if (n !== undefined) names.set(m.name, n + 1);
        else if (names.size < MAX_NAMES_COUNTED) names.set(m.name, 1);
        else names.set('(other names)', (names.get('(other names)') ?? 0) + 1);
      }
    });
  }

  private sample(): void {
    const now = this.clock.now();
    this.measureLoop();
    if (this.untap !== undefined) {
      this.namePeriods.push(this.names);
      this.periodStarts.push(this.namesSince);
      if (this.namePeriods.length > NAME_RATE_SAMPLES) {
        this.namePeriods.shift();
        this.periodStarts.shift();
      }
      const totals = new Map<string, number>();
      for (const period of this.namePeriods)
        for (const [name, count] of period) totals.set(name, (totals.get(name) ?? 0) + count);
      const seconds = Math.max(0.001, (now - (this.periodStarts[0] ?? now)) / 1000);
      this.busiest = [...totals]
        .sort((a, b) => b[1] - a[1])
        .slice(0, NAMES_SHOWN)
        .map(([name, count]) => {
          const global = this.target.globalScope?.(name);
          return global === undefined
            ? { name, rate: count / seconds }
            : { name, rate: count / seconds, global };
        });
      this.names = new Map();
      this.namesSince = now;
      if (now - this.lastAskedAt > NAME_RATES_IDLE_MS) {
        this.untap();
        this.untap = undefined;
        this.busiest = undefined;
      }
    }
    const values = new Map<string, number>();
    componentTotals(this.figures(now), values);
    const mem = process.memoryUsage();
    values.set('rss_bytes', mem.rss);
    values.set('heap_used_bytes', mem.heapUsed);
    if (this.loop !== undefined) {
      values.set('loop_delay_p99_ms', this.loop.p99);
      values.set('loop_delay_max_ms', this.loop.max);
      values.set('loop_utilization', this.loop.utilization);
    }
    this.times.push(now);
    const drop = this.times.length > HISTORY_SAMPLES;
    if (drop) this.times.shift();
    const length = this.times.length;
    for (const [key, v] of values) {
      let column = this.series.get(key);
      if (column === undefined) {
        column = new Array<number | null>(length - 1).fill(null);
        this.series.set(key, column);
      } else if (drop) column.shift();
      column.push(v);
    }
    // Keys that stopped (a removed component) keep their column aligned, then fade out.
    for (const [key, column] of this.series) {
      if (values.has(key)) continue;
      if (drop) column.shift();
      column.push(null);
      if (column.every((v) => v === null)) this.series.delete(key);
    }
  }

  private measureLoop(): void {
    const h = this.delay;
    if (h === undefined) return;
    const elu = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(elu, this.lastElu).utilization;
    this.lastElu = elu;
    const late = (ns: number): number => Math.max(0, ns / 1e6 - this.delayResolutionMs);
    const seen = h.count > 0;
    this.loop = {
      p50: seen ? late(h.percentile(50)) : 0,
      p99: seen ? late(h.percentile(99)) : 0,
      max: seen ? late(h.max) : 0,
      resolution: this.delayResolutionMs,
      utilization,
    };
    const wanted = utilization > BUSY_UTILIZATION ? DELAY_RESOLUTION_BUSY_MS : DELAY_RESOLUTION_IDLE_MS;
    if (wanted !== this.delayResolutionMs) this.watchDelay(wanted);
    else h.reset();
  }

  private watchDelay(resolutionMs: number): void {
    this.delay?.disable();
    this.delayResolutionMs = resolutionMs;
    this.delay = monitorEventLoopDelay({ resolution: resolutionMs });
    this.delay.enable();
  }
}
