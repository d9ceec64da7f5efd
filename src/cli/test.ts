/**
 * `sluice test [FILE]`, like `telegraf --test`: runs every configured polled source once,
 * through the configured filters and metadata tags, and prints what it collected with the
 * console sink, so an operator sees the names and tags before deploying. Listening sources
 * (StatsD, JSON, bpftrace) have nothing to collect on demand and are listed as skipped; no sink
 * is started and nothing is sent anywhere.
 */
import type { Writable } from 'node:stream';
import type { AgentConfig } from '../config/load.js';
import { metadataTags } from '../core/agent.js';
import type { Clock } from '../core/clock.js';
import type { AgentTelemetry, SourceContext } from '../core/component.js';
import { Filter } from '../core/filter.js';
import type { Logger } from '../core/logger.js';
import type { Batch, Metric } from '../core/metric.js';
import { Pipeline } from '../core/pipeline.js';
import { ComponentStats } from '../core/stats.js';
import { withTimeout } from '../core/timeout.js';
import { ConsoleSink } from '../sinks/console/console.js';

export type TestFormat = 'text' | 'influx' | 'json';

export interface TestOptions {
  readonly format: TestFormat;
  readonly out: Writable;
  /** Where the per-source summary lines go (stderr), so stdout stays parseable. */
  readonly note: (text: string) => void;
  readonly log: Logger;
  readonly clock: Clock;
  /** A collection that takes longer fails (a hung statfs, a command without a timeout). */
  readonly timeoutMs?: number;
}

function byNameAndTags(a: Metric, b: Metric): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  const ta = a.tags.join(',');
  const tb = b.tags.join(',');
  return ta < tb ? -1 : ta > tb ? 1 : 0;
}

/** Returns the exit status: 0 if every polled source collected, 1 if one failed. */
export async function runTest(config: AgentConfig, options: TestOptions): Promise<number> {
  const sinkStats = new ComponentStats('test', 'console');
  const sink = new ConsoleSink(
    { format: options.format } as never,
    { id: 'test', log: options.log, clock: options.clock, stats: sinkStats, fail: () => {} },
    options.out,
  );
  await sink.start();
  const collected: Metric[] = [];
  const pipeline = new Pipeline(new Filter(config.filters), metadataTags(config), [
    { write: (b: Batch) => collected.push(...b), carriesEvents: false, writeEvents: () => {} },
  ]);
  const allStats: ComponentStats[] = [];
  const telemetry: AgentTelemetry = {
    metrics: (ts) => [...allStats.flatMap((s) => s.toMetrics(ts)), ...pipeline.toMetrics(ts)],
  };
  let status = 0;
  for (const c of config.sources) {
    const stats = new ComponentStats(c.id, c.type);
    allStats.push(stats);
    const failures: unknown[] = [];
    const ctx: SourceContext = {
      id: c.id,
      log: options.log.child({ component: c.id }),
      clock: options.clock,
      stats,
      fail: (e) => failures.push(e),
      emit: (b) => pipeline.push(b),
      emitEvents: () => {},
      telemetry,
    };
    let source;
    try {
      source = c.definition.create(c.options as never, ctx);
    } catch (e) {
      options.note(`# ${c.id} (${c.type}): could not be created: ${(e as Error).message}\n`);
      status = 1;
      continue;
    }
    if (source.mode === 'listening') {
      options.note(`# ${c.id} (${c.type}): skipped, a listening source has nothing to collect on demand\n`);
      continue;
    }
    collected.length = 0;
    const started = performance.now();
    try {
      const timeoutMs = options.timeoutMs ?? 30_000;
      const batch = await withTimeout(source.collect(), timeoutMs, `did not finish within ${timeoutMs} ms`);
      pipeline.push(batch);
      const ms = (performance.now() - started).toFixed(1);
      const rejected = failures.length > 0 ? `, ${failures.length} failure(s) reported` : '';
      options.note(`# ${c.id} (${c.type}): ${collected.length} metrics in ${ms} ms${rejected}\n`);
      sink.write([...collected].sort(byNameAndTags));
    } catch (e) {
      options.note(`# ${c.id} (${c.type}): collection failed: ${(e as Error).message}\n`);
      status = 1;
    } finally {
      await source.stop?.().catch(() => {});
    }
  }
  await sink.stop();
  return status;
}
