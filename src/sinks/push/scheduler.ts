/**
 * Timers, injected so that flush intervals, backoff and shutdown deadlines can be driven by a
 * test without sleeping. Time itself comes from the component's clock (`ctx.clock`); a fake
 * scheduler moves that clock as it fires its timers (see `FakeScheduler` in ./testing.ts).
 */
export type TimerHandle = unknown;

export interface Scheduler {
  /** Runs `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /**
   * Lets the process exit while this timer is pending (a periodic flush must not keep a
   * stopping agent alive; the shutdown deadline must).
   */
  unref(handle: TimerHandle): void;
}

export const systemScheduler: Scheduler = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  unref: (handle) => {
    (handle as NodeJS.Timeout).unref();
  },
};
