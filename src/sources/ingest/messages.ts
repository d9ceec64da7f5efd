/** The messages between a listening source's main thread (workers.ts) and its ingest workers (runtime.ts). */
import type { Event } from '../../core/event.js';
import type { LogFields, LogLevel } from '../../core/logger.js';
import type { StatSnapshot } from '../../core/stats.js';
import type { PartialChunk } from '../../aggregation/partial.js';
import type { RejectedLine } from '../../protocols/rejections.js';
import type { BoundListener, ListenEndpoint, TransportConfig } from '../transport/index.js';

/** What every ingest worker's config has; each source adds its own options. */
export interface IngestWorkerConfig extends Partial<TransportConfig> {
  readonly listen: readonly ListenEndpoint[];
  readonly flush_interval: number;
  readonly workers?: unknown;
}

export interface WorkerInit<C extends IngestWorkerConfig = IngestWorkerConfig> {
  readonly id: string;
  readonly type: string;
  readonly index: number;
  /** The source's config, with `listen` narrowed to this worker's share (ports chosen). */
  readonly config: C;
  readonly reusePort: boolean;
  /** Raw lines are wanted (by a relaying sink or a tap) while [0] of this is nonzero: post them. */
  readonly raw: SharedArrayBuffer | undefined;
  readonly debug: boolean;
  /**
   * Two float64s the worker keeps current (runtime.ts): the lines it holds that a crash would
   * lose, and the series it holds.
   */
  readonly held: SharedArrayBuffer;
  /** One int32: the series all the source's workers hold, against `max_series` (Atomics). */
  readonly seriesCount: SharedArrayBuffer;
}

export type MainToWorker =
  | { t: 'drain'; seq: number; now: number }
  /** A drain, and from its start on the source's receive path built from `config` (a reload). */
  | { t: 'reconfigure'; seq: number; now: number; config: unknown }
  | { t: 'stop'; seq: number };

export type WorkerToMain =
  | { t: 'ready'; bound: BoundListener[] }
  | { t: 'startError'; message: string }
  | {
      t: 'chunk';
      seq: number;
      chunk: PartialChunk;
      /** On the interval's last chunk: the worker's stats, and what its source adds to an interval. */
      stats?: StatSnapshot[];
      extras?: unknown;
      /** The worker's last rejected lines, when lines were rejected since it last sent them. */
      rejected?: RejectedLine[];
    }
  | { t: 'stats'; stats: StatSnapshot[]; rejected?: RejectedLine[] }
  | { t: 'log'; level: Exclude<LogLevel, 'silent'>; msg: string; fields: LogFields | undefined }
  | { t: 'events'; events: Event[] }
  | { t: 'raw'; lines: string[] }
  | { t: 'fail'; message: string }
  | { t: 'stopped' };
