/** Test doubles for component contexts: a recording emit, a manual clock, silent logs. */
import { ManualClock, type Clock } from '../core/clock.js';
import type { ComponentContext, SourceContext } from '../core/component.js';
import { createLogger, silentLogger, type Logger } from '../core/logger.js';
import type { Event } from '../core/event.js';
import type { Batch, Metric } from '../core/metric.js';
import { ComponentStats } from '../core/stats.js';

export interface TestSourceContext extends SourceContext {
  readonly batches: Batch[];
  readonly events: Event[];
  readonly failures: unknown[];
  /** Every metric emitted so far, in order. */
  metrics(): Metric[];
}

interface TestContextOptions {
  id?: string;
  type?: string;
  clock?: Clock;
  log?: Logger;
}

export function testContext(
  options: TestContextOptions = {},
): ComponentContext & { readonly failures: unknown[] } {
  const failures: unknown[] = [];
  const id = options.id ?? 'test';
  return {
    id,
    log: options.log ?? silentLogger,
    clock: options.clock ?? new ManualClock(),
    stats: new ComponentStats(id, options.type ?? 'test'),
    fail: (e) => failures.push(e),
    failures,
  };
}

export function testSourceContext(options: TestContextOptions = {}): TestSourceContext {
  const batches: Batch[] = [];
  const events: Event[] = [];
  return {
    ...testContext(options),
    emit: (b) => batches.push(b),
    emitEvents: (e) => events.push(...e),
    batches,
    events,
    metrics: () => batches.flat(),
  };
}

/** A logger that keeps its lines as parsed objects, for asserting on what was logged. */
export function recordingLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level: 'debug',
    write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>),
  });
  return { log, lines };
}

/** Finds the one metric with this name and (subset of) tags, or throws with what there was. */
export function findMetric(
  metrics: readonly Metric[],
  name: string,
  tags: Record<string, string> = {},
): Metric {
  const found = metrics.filter(
    (m) =>
      m.name === name && Object.entries(tags).every(([k, v]) => m.tags.some((t) => t[0] === k && t[1] === v)),
  );
  if (found.length !== 1) {
    throw new Error(
      `expected one metric ${name} ${JSON.stringify(tags)}, found ${found.length} among: ` +
        metrics.map((m) => `${m.name}${JSON.stringify(m.tags)}`).join(', '),
    );
  }
  return found[0] as Metric;
}
