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
import type { Batch, Metric } from './metric.js';
import type { ComponentStats } from './stats.js';
import type { RejectedLine } from './rejection.js';

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

/** The agent as its own-metrics source sees it: every component's stats, read on demand. */
export interface AgentTelemetry {
  /** Every source's and sink's stats, and the pipeline's, as `sluice_*` metrics. */
  metrics(timestamp: number): Metric[];
}

export interface SourceContext extends ComponentContext {
  /** Hands a batch to the pipeline. Never blocks and never throws. */
  emit(batch: Batch): void;
  /** Hands events and service checks to the sinks that carry them. Never blocks or throws. */
  emitEvents(events: readonly Event[]): void;
  /** The agent's own telemetry, for the source that reports it (absent in tests that need none). */
  readonly telemetry?: AgentTelemetry;
  /**
   * Where to hand `protocol`'s lines as received, before parsing (see RawProtocol): to the sinks
   * that relay them and to `sluice tap --raw`. A source asks once, when it is built; it decodes
   * a datagram's lines only while `wanted[0]` is nonzero, so raw lines cost nothing per datagram
   * unless a sink or a tap takes them. Absent in tests that need none.
   */
  rawOutlet?(protocol: RawProtocol): RawOutlet;
  /**
   * `wanted` is true while a sink publishes mergeable state (SinkDefinition.publishesState):
   * aggregating sources read it at each flush and attach that state to their metrics then.
   */
  readonly mergeableState?: MergeableStateWanted;
  /**
   * Resolves once every sink has delivered (or dropped and counted) what it was handed before
   * the call (Sink.delivered): a source that acknowledges its input upstream (a Kafka consumer
   * committing offsets) waits for it. Absent in tests that need none.
   */
  delivered?(): Promise<void>;
}

/** What the sinks ask of aggregating sources' metrics (SourceContext.mergeableState). */
export interface MergeableStateWanted {
  /** A sink publishes mergeable state: attach it (a gauge's time, a set's members, a timer's samples). */
  readonly wanted: boolean;
  /** A sink sends timers as sketches: attach a DDSketch of each timer's samples too. */
  readonly timerSketches: boolean;
}

/** A source's way out for raw lines (SourceContext.rawOutlet). */
export interface RawOutlet {
  /** Hands lines on. Never blocks or throws. */
  readonly write: RawLinesHandler;
  /**
   * Nonzero at [0] while anyone takes the lines: always when a sink relays them, otherwise
   * while a raw tap listens. Shared memory, so an ingest worker reads it without messages.
   */
  readonly wanted: Int32Array;
}

/**
 * Protocols whose lines a source can hand on verbatim, for sinks that relay them unparsed (a
 * StatsD repeater, as Etsy statsd's `packet` event feeds its repeater backend). Raw lines go
 * straight from the sources to the sinks that declared them (SinkDefinition.rawProtocols): the
 * pipeline's filters and metadata tags do not apply to them.
 */
export type RawProtocol = 'statsd';

/** Takes the non-empty lines of one datagram (or stream read), without their line breaks. */
export type RawLinesHandler = (lines: readonly string[]) => void;

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
  /**
   * Applies new options of the same type in place, keeping sockets and connections (a config
   * reload); resolves false when these options need a fresh instance (other addresses, say).
   * Optional: without it a changed source is stopped (flushing) and started again.
   */
  reconfigure?(options: unknown): Promise<boolean>;
  /**
   * The last lines it rejected, oldest first, with why and (when known) who sent them: what
   * the status page shows. Optional: sources that parse no client input have none.
   */
  recentRejections?(): readonly RejectedLine[];
}

/** A source the agent polls at a fixed interval. */
export interface PolledSource {
  readonly mode: 'polled';
  /** How often to collect, in milliseconds. */
  readonly intervalMs: number;
  /**
   * Wait a random delay of up to half the interval before the first collection (Spoon's start
   * jitter; `start_jitter` in pollingFields). Without it, the first collection runs at once.
   */
  readonly startJitter?: boolean;
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
  /** Raw lines of a protocol the sink's definition declared in `rawProtocols`. Never blocks. */
  writeRaw?(protocol: RawProtocol, lines: readonly string[]): void;
  /** Delivers or persists what it holds, then releases resources. The agent bounds the wait. */
  stop(): Promise<void>;
  /**
   * Resolves once everything written before the call has left the sink (delivered, or dropped
   * and counted). Absent: at once (a sink that serves what it holds, or writes synchronously).
   */
  delivered?(): Promise<void>;
}
