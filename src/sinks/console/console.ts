/**
 * The console sink: formats each batch into one string and writes it to a stream (stdout by
 * default). `stop` waits for the stream to take everything written, so the last flush at
 * shutdown is printed before the process exits.
 */
import type { Writable } from 'node:stream';
import type { ComponentContext, Sink } from '../../core/component.js';
import type { Event } from '../../core/event.js';
import type { Batch } from '../../core/metric.js';
import type { StatCounter } from '../../core/stats.js';
import { encodeBatch } from '../../protocols/influx/line.js';
import { formatEvents, formatJson, formatText } from './format.js';
import type { ConsoleConfig } from './schema.js';

/**
 * Above this many bytes waiting in the stream (a pipe nobody reads), batches are dropped and
 * counted rather than buffered without bound.
 */
export const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

const LOG_INTERVAL_MS = 60_000;

export class ConsoleSink implements Sink {
  private readonly format: (batch: Batch) => string;
  private readonly json: boolean;
  private pending = 0;
  private waiters: (() => void)[] = [];
  private readonly droppedBackpressure: StatCounter;
  private readonly droppedUnencodable: StatCounter;
  private readonly droppedWriteError: StatCounter;
  private lastErrorLog = -Infinity;
  private lastBackpressureLog = -Infinity;
  private listening = false;

  constructor(
    config: ConsoleConfig,
    private readonly ctx: ComponentContext,
    private readonly stream: Writable = process.stdout,
  ) {
    const help = 'Metrics dropped before reaching the sink.';
    this.droppedBackpressure = ctx.stats.counter('dropped_metrics', help, { reason: 'backpressure' });
    this.droppedUnencodable = ctx.stats.counter('dropped_metrics', help, { reason: 'unencodable' });
    this.droppedWriteError = ctx.stats.counter('dropped_metrics', help, { reason: 'write_error' });
    this.json = config.format === 'json';
    // The formatter is chosen once, not per batch.
    this.format =
      config.format === 'json' ? formatJson : config.format === 'influx' ? (b) => this.influx(b) : formatText;
  }

  async start(): Promise<void> {
    // An 'error' event without a listener would crash the agent (EPIPE when stdout's reader goes away).
    if (!this.listening) this.stream.on('error', this.onStreamError);
    this.listening = true;
  }

  write(batch: Batch): void {
    if (batch.length === 0 || this.backpressured(batch.length)) return;
    this.print(this.format(batch), batch.length);
  }

  /**
   * Events and service checks, one per line: JSON in the json format, the readable line
   * otherwise (line protocol has no natural shape for them, and the console is for people).
   */
  writeEvents(events: readonly Event[]): void {
    if (events.length === 0 || this.backpressured(events.length)) return;
    this.print(formatEvents(events, this.json), events.length);
  }

  private backpressured(count: number): boolean {
    if (this.stream.writableLength <= MAX_BUFFERED_BYTES) return false;
    this.droppedBackpressure.inc(count);
    this.logRateLimited(
      'backpressure',
      'The console output is not being read; batches are dropped until it is.',
    );
    return true;
  }

  private print(text: string, count: number): void {
    if (text === '') return;
    this.pending++;
    this.stream.write(text, (error) => {
      if (error !== null && error !== undefined) {
        this.droppedWriteError.inc(count);
        this.logRateLimited('error', 'Writing to the console failed.', error);
      }
      this.pending--;
      if (this.pending === 0) this.wake();
    });
  }

  /** Resolves once the stream has taken every write (their callbacks have run). */
  async stop(): Promise<void> {
    if (this.pending > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.listening) {
      this.listening = false;
      // A failed write emits 'error' just after its callback: keep listening until then.
      setImmediate(() => this.stream.off('error', this.onStreamError));
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private influx(batch: Batch): string {
    const out = encodeBatch(batch);
    if (out.skipped > 0) this.droppedUnencodable.inc(out.skipped);
    return out.text;
  }

  private readonly onStreamError = (error: Error): void => {
    this.logRateLimited('error', 'The console output failed.', error);
  };

  private logRateLimited(kind: 'error' | 'backpressure', msg: string, error?: Error): void {
    const now = this.ctx.clock.now();
    const last = kind === 'error' ? this.lastErrorLog : this.lastBackpressureLog;
    if (now - last < LOG_INTERVAL_MS) return;
    if (kind === 'error') this.lastErrorLog = now;
    else this.lastBackpressureLog = now;
    this.ctx.log.warn(msg, error === undefined ? undefined : { error });
  }
}
