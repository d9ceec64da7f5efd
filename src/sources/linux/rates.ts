/**
 * The `counters` option: the kernel's running totals as they are (the default), or turned into
 * what changed since the previous collection, for backends that cannot compute rates themselves
 * (Graphite, StatsD-style dashboards; Bucky3 sent rates).
 *
 * The change needs two samples, so a counter is first reported on the second collection. A
 * counter that went down was reset (a reboot, a 32-bit wrap, an interface recreated): that one
 * sample is skipped rather than reported as a huge or negative value. Gauges pass unchanged.
 */
import type { CounterMetric, Metric } from '../../core/metric.js';
import { seriesKey } from '../../core/tags.js';

export const COUNTER_MODES = ['cumulative', 'delta', 'rate'] as const;
export type CounterMode = (typeof COUNTER_MODES)[number];

interface Sample {
  readonly value: number;
  readonly timestamp: number;
}

export class CounterConverter {
  /** Last sample of each counter series. Replaced whole each time, so vanished series are dropped. */
  private previous = new Map<string, Sample>();

  constructor(readonly mode: CounterMode) {}

  convert(batch: Metric[]): Metric[] {
    if (this.mode === 'cumulative') return batch;
    const next = new Map<string, Sample>();
    const out: Metric[] = [];
    for (const m of batch) {
      if (m.kind !== 'counter') {
        out.push(m);
        continue;
      }
      const key = seriesKey(m.name, m.tags);
      const prev = this.previous.get(key);
      next.set(key, { value: m.value, timestamp: m.timestamp });
      if (prev === undefined || m.value < prev.value || m.timestamp <= prev.timestamp) continue;
      out.push(this.derive(m, m.value - prev.value, m.timestamp - prev.timestamp));
    }
    this.previous = next;
    return out;
  }

  private derive(m: CounterMetric, delta: number, ms: number): Metric {
    if (this.mode === 'delta') {
      return { ...m, temporality: 'delta', value: delta, intervalMs: ms };
    }
    return {
      kind: 'gauge',
      name: `${m.name}_per_second`,
      tags: m.tags,
      value: (delta * 1000) / ms,
      timestamp: m.timestamp,
      help: `${m.help ?? m.name} Per second, between the last two collections.`,
    };
  }

  /** Forgets all samples (a restart of the source starts over anyway). */
  reset(): void {
    this.previous = new Map();
  }
}
