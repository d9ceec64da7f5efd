/**
 * The pipeline between sources and sinks: applies the configured filter, adds the agent's
 * metadata tags (host, env, …) so no source has to, and fans each batch out to every sink.
 * Sinks receive the same frozen array; none may mutate it.
 */
import type { Filter } from './filter.js';
import type { Batch, Metric } from './metric.js';
import { mergeTags, type Tags } from './tags.js';

export interface BatchConsumer {
  write(batch: Batch): void;
}

export class Pipeline {
  /** Metrics that entered the pipeline and that left it, for self-telemetry. */
  received = 0;
  delivered = 0;

  constructor(
    private readonly filter: Filter,
    private readonly metadata: Tags,
    private readonly sinks: readonly BatchConsumer[],
  ) {}

  push(batch: Batch): void {
    this.received += batch.length;
    const out: Metric[] = [];
    for (const metric of batch) {
      const kept = this.filter.isEmpty ? metric : this.filter.apply(metric);
      if (kept === undefined) continue;
      out.push(this.metadata.length === 0 ? kept : { ...kept, tags: mergeTags(kept.tags, this.metadata) });
    }
    if (out.length === 0) return;
    Object.freeze(out);
    this.delivered += out.length;
    for (const sink of this.sinks) sink.write(out);
  }
}
