/** An in-memory sink that records every batch, to assert on what a pipeline emitted. */
import type { Sink } from '../core/component.js';
import type { Event } from '../core/event.js';
import type { Batch, Metric } from '../core/metric.js';

export class CollectorSink implements Sink {
  readonly batches: Batch[] = [];
  readonly events: Event[] = [];
  readonly carriesEvents = true;
  started = false;
  stopped = false;
  async start(): Promise<void> {
    this.started = true;
  }
  write(batch: Batch): void {
    this.batches.push(batch);
  }
  writeEvents(events: readonly Event[]): void {
    this.events.push(...events);
  }
  async stop(): Promise<void> {
    this.stopped = true;
  }
  metrics(): Metric[] {
    return this.batches.flat();
  }
}
