/**
 * An upstream StatsD server for relay tests: sluice's own statsd source, in process, on a free
 * loopback port, recording what it aggregates. Counters are summed over every flush, gauges keep
 * their last value, by series (`name{k=v,...}`).
 */
import assert from 'node:assert/strict';
import type { Issue } from '../config/schema.js';
import { systemClock } from '../core/clock.js';
import type { Metric } from '../core/metric.js';
import type { Tags } from '../core/tags.js';
import { StatsdSource } from '../sources/statsd/index.js';
import { statsdSchema } from '../sources/statsd/schema.js';
import { testSourceContext, type TestSourceContext } from './context.js';

export function seriesKey(name: string, tags: Tags): string {
  return `${name}{${tags.map(([k, v]) => `${k}=${v}`).join(',')}}`;
}

export class StatsdUpstream {
  readonly ctx: TestSourceContext;
  private source: StatsdSource | undefined;

  /** `listen` as the statsd source takes it: `udp://127.0.0.1:<port>`, `tcp://…`. */
  constructor(
    readonly listen: string,
    private readonly options: Record<string, unknown> = {},
  ) {
    this.ctx = testSourceContext({ type: 'statsd', clock: systemClock });
  }

  async start(): Promise<void> {
    const issues: Issue[] = [];
    const config = statsdSchema.parse(
      { listen: this.listen, flush_interval: '100ms', ...this.options },
      [],
      issues,
    );
    assert.deepEqual(issues, []);
    this.source = new StatsdSource(config as never, this.ctx);
    await this.source.start();
  }

  /** Stops listening (closing stream connections) and flushes what it holds. */
  async stop(): Promise<void> {
    const s = this.source;
    this.source = undefined;
    await s?.stop();
  }

  get running(): boolean {
    return this.source !== undefined;
  }

  metrics(): Metric[] {
    return this.ctx.metrics();
  }

  /** Sum of every delta counter per series. */
  counters(): Map<string, number> {
    const out = new Map<string, number>();
    for (const m of this.metrics()) {
      if (m.kind !== 'counter') continue;
      const key = seriesKey(m.name, m.tags);
      out.set(key, (out.get(key) ?? 0) + m.value);
    }
    return out;
  }

  /** The last value of each gauge series. */
  gauges(): Map<string, number> {
    const out = new Map<string, number>();
    for (const m of this.metrics()) if (m.kind === 'gauge') out.set(seriesKey(m.name, m.tags), m.value);
    return out;
  }
}
