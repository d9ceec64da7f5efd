/**
 * Test doubles for push sinks: a scheduler whose timers fire when the test advances a manual
 * clock, and an in-memory network of endpoints that accept, refuse, reject or ignore sends on
 * command. Sinks built on PushSink use them to test batching and retries without sockets or
 * sleeping; their own transports are tested against real servers.
 */
import type { ManualClock } from '../../core/clock.js';
import { PushRejected, type PushTransport, type Target, type TransportFactory } from './push.js';
import type { Payload, PushRecord } from './queue.js';
import type { Scheduler, TimerHandle } from './scheduler.js';

/** Lets pending promise callbacks (and what they start) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

interface FakeTimer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

export class FakeScheduler implements Scheduler {
  private readonly timers = new Map<number, FakeTimer>();
  private lastId = 0;

  constructor(readonly clock: ManualClock) {}

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.lastId;
    this.timers.set(id, { id, at: this.clock.now() + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  unref(): void {}

  /** Timers not yet fired or cleared. */
  get pending(): number {
    return this.timers.size;
  }

  /** Milliseconds until the next timer fires, or undefined when none is pending. */
  nextIn(): number | undefined {
    let at: number | undefined;
    for (const t of this.timers.values()) if (at === undefined || t.at < at) at = t.at;
    return at === undefined ? undefined : at - this.clock.now();
  }

  /**
   * Moves the clock forward by `ms`, firing every timer that falls due on the way, in time order
   * (ties in creation order), and letting promises settle after each.
   */
  async advance(ms: number): Promise<void> {
    const end = this.clock.now() + ms;
    for (;;) {
      await settle();
      let due: FakeTimer | undefined;
      for (const t of this.timers.values()) {
        if (t.at <= end && (due === undefined || t.at < due.at || (t.at === due.at && t.id < due.id)))
          due = t;
      }
      if (due === undefined) break;
      this.timers.delete(due.id);
      if (due.at > this.clock.now()) this.clock.set(due.at);
      due.fn();
    }
    this.clock.set(end);
    await settle();
  }
}

/** How a fake endpoint answers a send. */
export type FakeBehaviour = 'accept' | 'refuse' | 'reject' | 'hang';

/** One endpoint of a FakeNetwork: what it received, and how it answers. */
export class FakeEndpoint {
  behaviour: FakeBehaviour = 'accept';
  /** Records accepted, in the order received. */
  readonly received: PushRecord[] = [];
  readonly payloads: Payload[] = [];
  /** Every send, whatever the answer. */
  sends = 0;
  readonly targets: Target[] = [];
  closes = 0;
  private readonly hanging = new Set<(e: Error) => void>();

  constructor(readonly label: string) {}

  /** Received records as strings (for string encoders). */
  text(): string[] {
    return this.received.map((r) => (typeof r === 'string' ? r : Buffer.from(r).toString()));
  }

  /** Fails every send still hanging (as a reset connection would). */
  abortHanging(): void {
    for (const reject of this.hanging) reject(new Error('connection reset'));
    this.hanging.clear();
  }

  send(payload: Payload): Promise<void> {
    this.sends++;
    switch (this.behaviour) {
      case 'accept':
        this.received.push(...payload.records);
        this.payloads.push(payload);
        return Promise.resolve();
      case 'refuse':
        return Promise.reject(new Error(`connect ECONNREFUSED ${this.label}`));
      case 'reject':
        return Promise.reject(new PushRejected('400 bad request'));
      case 'hang':
        return new Promise((_resolve, reject) => {
          this.hanging.add(reject);
        });
    }
  }
}

export class FakeNetwork {
  private readonly endpoints = new Map<string, FakeEndpoint>();

  /** The endpoint with this label (`host:port`), created on first use. */
  endpoint(label: string): FakeEndpoint {
    let e = this.endpoints.get(label);
    if (e === undefined) {
      e = new FakeEndpoint(label);
      this.endpoints.set(label, e);
    }
    return e;
  }

  readonly factory: TransportFactory = (target) => {
    const endpoint = this.endpoint(target.label);
    endpoint.targets.push(target);
    let closed = false;
    const transport: PushTransport = {
      send: (payload) => (closed ? Promise.reject(new Error('transport closed')) : endpoint.send(payload)),
      close: async () => {
        if (closed) return;
        closed = true;
        endpoint.closes++;
        endpoint.abortHanging();
      },
    };
    return transport;
  };
}
