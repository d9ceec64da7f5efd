/**
 * The server(s) the tests of one describe block share, for integration tests: started in
 * `before`; after each test the sinks it made are stopped (a sink left retrying into a later
 * test's outage would make that test's noise), and in `after` the servers.
 */
import { after, afterEach, before } from 'node:test';

export interface SharedServer<T> {
  /**
   * The server, or the setup's error: a failing `before` only cancels the tests, so each test
   * rethrows it to fail (the first in full, the others pointing to it).
   */
  ready(): T;
  /** Sinks to stop when the test that made them ends, whatever it did. */
  readonly sinks: { stop(): Promise<void> }[];
}

/** Registers `before`/`after` in the calling describe block; `stop` also runs after a failed `start`. */
export function sharedServer<T>(start: () => Promise<T>, stop: () => Promise<unknown>): SharedServer<T> {
  let server: T | undefined;
  let setupError: unknown;
  let setupReported = false;
  const sinks: { stop(): Promise<void> }[] = [];
  before(async () => {
    try {
      server = await start();
    } catch (e) {
      setupError = e;
    }
  });
  const stopSinks = async (): Promise<void> => {
    for (const s of sinks.splice(0)) await s.stop();
  };
  afterEach(stopSinks);
  after(async () => {
    await stopSinks();
    await stop();
  });
  return {
    sinks,
    ready(): T {
      if (setupError !== undefined) {
        if (setupReported) throw new Error('Setup failed; see the first test of this suite.');
        setupReported = true;
        throw setupError;
      }
      return server as T;
    },
  };
}
