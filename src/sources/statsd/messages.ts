/** The messages between the statsd source's main thread (workers.ts) and its ingest workers (worker.ts). */
import type { Event } from '../../core/event.js';
import type { LogFields, LogLevel } from '../../core/logger.js';
import type { StatSnapshot } from '../../core/stats.js';
import type { PartialChunk } from '../../aggregation/partial.js';
import type { BoundListener } from '../transport/index.js';
import type { StatsdConfig } from './schema.js';

export interface WorkerInit {
  readonly id: string;
  readonly index: number;
  /** The source's config, with `listen` narrowed to this worker's share (ports chosen). */
  readonly config: StatsdConfig;
  readonly reusePort: boolean;
  /** A sink relays raw lines: post them. */
  readonly raw: boolean;
  readonly debug: boolean;
  /** One float64: lines the worker holds that a crash would lose (worker.ts keeps it current). */
  readonly held: SharedArrayBuffer;
}

export type MainToWorker = { t: 'drain'; seq: number; now: number } | { t: 'stop'; seq: number };

export type WorkerToMain =
  | { t: 'ready'; bound: BoundListener[] }
  | { t: 'startError'; message: string }
  | { t: 'chunk'; seq: number; chunk: PartialChunk; stats?: StatSnapshot[] }
  | { t: 'stats'; stats: StatSnapshot[] }
  | { t: 'log'; level: Exclude<LogLevel, 'silent'>; msg: string; fields: LogFields | undefined }
  | { t: 'events'; events: Event[] }
  | { t: 'raw'; lines: string[] }
  | { t: 'fail'; message: string }
  | { t: 'stopped' };
