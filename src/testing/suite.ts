/**
 * The server(s) the tests of one describe block share, for integration tests: started in
 * `before`, and in `after` the sinks the tests made are stopped, then the servers.
 */
import { after, before } from 'node:test';

export interface SharedServer<T> {
  /**
   * The server, or the setup's error: a failing `before` only cancels the tests, so each test
   * rethrows it to fail (the first in full, the others pointing to it).
   */
  ready(): T;
  /** Sinks to stop before the servers, whatever the tests did. */
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
  after(async () => {
    for (const s of sinks) await s.stop();
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
