/**
 * The lifecycle shared by sources that listen and aggregate (statsd, json_udp): listeners that
 * hand over buffers of whole lines, a flush every interval, and a last flush on stop so a
 * shutdown or restart loses no counts. Subclasses parse in `receive` and emit in `flushInterval`.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ListeningSource, SourceContext } from '../../core/component.js';
import { createListeners, type BoundListener, type Listeners, type Sender } from './listeners.js';
import type { ListenEndpoint } from './address.js';
import { TRANSPORT_DEFAULTS, type TransportConfig } from './schema.js';

/** What a listening source's sockets are built from. */
type SocketOptions = {
  readonly listen: readonly ListenEndpoint[];
  readonly workers?: unknown;
} & Partial<TransportConfig>;

/**
 * Whether a listening source's reloaded options leave its sockets as they are: the same
 * addresses and the same transport options (and `workers`, where it has them). Only then can
 * it keep its sockets and take the rest of the new options in place.
 */
export function sameSockets(a: SocketOptions, b: SocketOptions): boolean {
  if (!isDeepStrictEqual(a.listen, b.listen) || a.workers !== b.workers) return false;
  for (const key of Object.keys(TRANSPORT_DEFAULTS) as (keyof TransportConfig)[])
    if (!isDeepStrictEqual(a[key], b[key])) return false;
  return true;
}

export abstract class AggregatingListener implements ListeningSource {
  readonly mode = 'listening';
  private readonly listeners: Listeners;
  private listening = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** When the current interval began, to report the true length of a short last interval. */
  private intervalStart = 0;

  constructor(
    protected readonly ctx: SourceContext,
    /** What the sockets were built from: a reload may keep them only if this is unchanged. */
    private sockets: SocketOptions,
    private flushIntervalMs: number,
  ) {
    // Every transport hands over whole lines, so parsers see what a UDP datagram carries.
    this.listeners = createListeners(sockets.listen, sockets, ctx, (buf, from) => this.receive(buf, from));
  }

  /**
   * A reload with the same sockets: flushes what the interval holds (aggregated under the old
   * options), then `apply` switches the receive path to the new ones; both happen in one turn
   * of the event loop, so no line falls between them. Flushing rather than carrying the
   * aggregates over keeps every emitted interval under one set of options (one percentile list,
   * one histogram layout, one mapping); the price is one short interval, reported with its true
   * length. False (nothing done) when the sockets would change.
   */
  protected reconfigureInPlace(
    next: SocketOptions & { readonly flush_interval: number },
    apply: () => void,
  ): boolean {
    if (!sameSockets(this.sockets, next)) return false;
    this.flush();
    this.sockets = next;
    apply();
    this.flushIntervalMs = next.flush_interval;
    if (this.timer !== undefined) {
      clearInterval(this.timer);
      this.armFlushTimer();
    }
    return true;
  }

  /** Parses one buffer of complete lines into the aggregates. */
  abstract receive(buf: Buffer, from?: Sender): void;

  /** Emits what the interval that lasted `intervalMs` and ended at `now` aggregated. */
  protected abstract flushInterval(now: number, intervalMs: number): void;

  /** The first bound port (useful with port 0), or undefined when not listening. */
  get port(): number | undefined {
    return this.listening ? this.listeners.bound()[0]?.port : undefined;
  }

  /** The bound listeners, with the ports chosen for port 0, in the order of `listen`. */
  bound(): BoundListener[] {
    return this.listeners.bound();
  }

  /** Closes the current interval now. */
  flush(): void {
    const now = this.ctx.clock.now();
    const elapsed = now - this.intervalStart;
    this.intervalStart = now;
    this.flushInterval(now, elapsed > 0 && elapsed < this.flushIntervalMs ? elapsed : this.flushIntervalMs);
  }

  async start(): Promise<void> {
    if (this.listening) return;
    // Errors after start reach ctx.fail through the listeners.
    await this.listeners.start();
    this.listening = true;
    this.intervalStart = this.ctx.clock.now();
    this.armFlushTimer();
  }

  private armFlushTimer(): void {
    // Not unref'd: the flush timer is the source's heartbeat and must keep running.
    this.timer = setInterval(() => {
      try {
        this.flush();
      } catch (error) {
        this.ctx.fail(error);
      }
    }, this.flushIntervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.listening) return;
    this.listening = false;
    // Stream listeners deliver the lines still in flight before they close.
    await this.listeners.stop();
    // What the interval holds so far, so a shutdown loses no counts.
    this.flush();
  }
}
