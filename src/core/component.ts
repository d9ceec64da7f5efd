/**
 * The contracts between the agent and its components. They are split by how a component runs:
 *
 * - a listening source (StatsD) is started and stopped, and emits batches whenever it has them;
 * - a polled source (Linux) is asked to `collect` on the agent's schedule;
 * - a sink takes batches through `write` and must never block the caller: it buffers, and on
 *   `stop` delivers what it holds.
 *
 * Everything a component needs from the agent (logger, clock, stats, the way to emit or to
 * report a failure) arrives in its context, so any number of instances can coexist.
 */
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import type { Event } from './event.js';
import type { Batch } from './metric.js';
import type { ComponentStats } from './stats.js';

export interface ComponentContext {
  /** The component's name in the config (`sources.<id>` or `sinks.<id>`). */
  readonly id: string;
  readonly log: Logger;
  readonly clock: Clock;
  readonly stats: ComponentStats;
  /**
   * Reports an error the component cannot recover from, raised outside a call the supervisor
   * made (in a socket callback, say). The supervisor stops the component and restarts it with
   * backoff; the rest of the agent keeps running.
   */
  fail(error: unknown): void;
}

export interface SourceContext extends ComponentContext {
  /** Hands a batch to the pipeline. Never blocks and never throws. */
  emit(batch: Batch): void;
  /** Hands events and service checks to the sinks that carry them. Never blocks or throws. */
  emitEvents(events: readonly Event[]): void;
}

/** A source that runs by itself once started (a socket listener, a file tail). */
export interface ListeningSource {
  readonly mode: 'listening';
  /** Binds sockets and starts work. Rejects if it cannot (the supervisor retries). */
  start(): Promise<void>;
  /**
   * Stops accepting input, emits what it still holds (aggregates not yet flushed), and
   * releases its resources. Called at shutdown and before a restart.
   */
  stop(): Promise<void>;
}

/** A source the agent polls at a fixed interval. */
export interface PolledSource {
  readonly mode: 'polled';
  /** How often to collect, in milliseconds. */
  readonly intervalMs: number;
  /** One collection. A rejection is logged and counted; the next tick runs as usual. */
  collect(): Promise<Batch>;
  /** Releases resources (optional). */
  stop?(): Promise<void>;
}

export type Source = ListeningSource | PolledSource;

export interface Sink {
  /** Opens listeners or connections. Rejects if it cannot (the supervisor retries). */
  start(): Promise<void>;
  /** Accepts a batch without blocking the caller. */
  write(batch: Batch): void;
  /** Sinks that can carry events implement this; the others never see events. */
  writeEvents?(events: readonly Event[]): void;
  /** Delivers or persists what it holds, then releases resources. The agent bounds the wait. */
  stop(): Promise<void>;
}
