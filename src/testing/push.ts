/**
 * Helpers for push-sink tests: reading a component's stats, and timing `write()` calls to show
 * that ingestion never waits on a dead or slow backend.
 */
import type { ComponentContext, Sink } from '../core/component.js';
import type { Metric } from '../core/metric.js';

/** Sum of a stat over its labels, or over those matching `labels`. */
export function stat(ctx: ComponentContext, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const m of ctx.stats.toMetrics(0)) {
    if (m.name !== `sluice_${name}`) continue;
    if (!Object.entries(labels).every(([k, v]) => m.tags.some((t) => t[0] === k && t[1] === v))) continue;
    sum += (m as { value: number }).value;
  }
  return sum;
}

/** Timing of write() calls, in milliseconds. */
export class WriteTimer {
  readonly samples: number[] = [];
  write(sink: Sink, metrics: Metric[]): void {
    const start = process.hrtime.bigint();
    sink.write(metrics);
    this.samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  get max(): number {
    return this.samples.length === 0 ? 0 : Math.max(...this.samples);
  }
  quantile(q: number): number {
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  }
}
