import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { ManualClock, systemClock } from './clock.js';
import type { ComponentContext, ListeningSource, Sink, SourceContext } from './component.js';
import type { Batch, Metric } from './metric.js';
import { SinkRunner, SourceRunner, type RestartPolicy } from './supervisor.js';
import { recordingLogger } from '../testing/context.js';
import { CollectorSink } from '../testing/collector.js';

const fast: RestartPolicy = {
  minBackoffMs: 10,
  maxBackoffMs: 40,
  maxFailures: 3,
  windowMs: 60_000,
  startTimeoutMs: 500,
};

const gauge = (value: number): Metric => ({ kind: 'gauge', name: 'g', tags: [], value, timestamp: 0 });

async function until(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

test('a source that fails is restarted with backoff from a fresh instance; its held data is kept', async () => {
  const { log, lines } = recordingLogger();
  const emitted: Batch[] = [];
  const contexts: SourceContext[] = [];
  let created = 0;
  const runner = new SourceRunner(
    'flaky',
    'fake',
    (ctx): ListeningSource => {
      created++;
      contexts.push(ctx);
      return {
        mode: 'listening',
        start: async () => {},
        // Like the StatsD source: stopping flushes what it holds.
        stop: async () => ctx.emit([gauge(created)]),
      };
    },
    (b) => emitted.push(b),
    { log, clock: systemClock, policy: fast },
  );
  await runner.start();
  assert.equal(runner.state, 'running');
  contexts[0]?.fail(new Error('socket exploded'));
  await until(() => created === 2 && runner.state === 'running', 'restart');
  assert.equal(emitted.length, 1, 'the failed instance flushed on its way out');
  assert.equal(runner.stats.total('component_restarts'), 1);
  assert.ok(
    lines.some(
      (l) =>
        l.msg === 'The component failed; restarting it.' &&
        (l.error as { message: string }).message === 'socket exploded',
    ),
  );
  // A late failure report from the replaced instance is ignored.
  contexts[0]?.fail(new Error('stale'));
  await sleep(30);
  assert.equal(created, 2);
  await runner.stop();
  assert.equal(runner.state, 'stopped');
});

test('a component that keeps failing is given up on after maxFailures within the window', async () => {
  const { log, lines } = recordingLogger();
  let attempts = 0;
  const runner = new SourceRunner(
    'broken',
    'fake',
    () => ({
      mode: 'listening',
      start: async () => {
        attempts++;
        throw new Error('EADDRINUSE');
      },
      stop: async () => {},
    }),
    () => {},
    { log, clock: systemClock, policy: fast },
  );
  await runner.start();
  await until(() => runner.state === 'gave_up', 'give up');
  assert.equal(attempts, fast.maxFailures + 1);
  assert.ok(lines.some((l) => l.level === 'error' && String(l.msg).includes('giving up')));
  await runner.stop();
});

test('backoff doubles up to the cap', async () => {
  const starts: number[] = [];
  const runner = new SourceRunner(
    'b',
    'fake',
    () => ({
      mode: 'listening',
      start: async () => {
        starts.push(Date.now());
        throw new Error('nope');
      },
      stop: async () => {},
    }),
    () => {},
    {
      log: recordingLogger().log,
      clock: systemClock,
      policy: { ...fast, minBackoffMs: 20, maxBackoffMs: 80, maxFailures: 5 },
    },
  );
  await runner.start();
  await until(() => runner.state === 'gave_up', 'give up');
  const gaps = starts.slice(1).map((t, i) => t - (starts[i] as number));
  // 20, 40, 80, 80, 80 ms (timers may fire late, never early).
  [20, 40, 80, 80, 80].forEach((want, i) =>
    assert.ok((gaps[i] as number) >= want - 2, `gap ${i}: ${gaps[i]} < ${want}`),
  );
  assert.ok((gaps[4] as number) < 80 * 4, 'capped');
});

test('a source that fails after starting backs off like one that fails to start, and is given up by the same rule', async (t) => {
  // The schedule is read from the supervisor's own log (restart_in_ms), and time is a manual
  // clock with mocked timers: nothing here sleeps.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const clock = new ManualClock(1_000_000);
  const { log, lines } = recordingLogger();
  let ctx: SourceContext | undefined;
  const policy: RestartPolicy = {
    ...fast,
    minBackoffMs: 1000,
    maxBackoffMs: 8000,
    maxFailures: 5,
    windowMs: 600_000,
  };
  /** A source that starts fine; `ctx` is its latest context, to fail it at run time. */
  const runnerFor = (id: string): SourceRunner =>
    new SourceRunner(
      id,
      'fake',
      (c) => {
        ctx = c;
        return { mode: 'listening', start: async () => {}, stop: async () => {} };
      },
      () => {},
      { log, clock, policy },
    );
  const runner = runnerFor('flaky');
  const schedule = (): number[] =>
    lines
      .filter((l) => l.msg === 'The component failed; restarting it.')
      .map((l) => l.restart_in_ms as number);
  const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  await runner.start();
  // Each time: up and running for 2 s, then a failure at run time.
  for (let i = 0; i < 6 && runner.state === 'running'; i++) {
    clock.advance(2000);
    ctx?.fail(new Error('the command exited'));
    await settle();
    if ((runner.state as string) !== 'backoff') break;
    const wait = schedule().at(-1) as number;
    clock.advance(wait);
    t.mock.timers.tick(wait);
    await settle();
  }
  assert.deepEqual(schedule(), [1000, 2000, 4000, 8000, 8000], 'doubling up to restart_backoff_max');
  assert.equal(runner.state, 'gave_up', 'the sixth failure within the window gives it up');
  await runner.stop();

  // A component that then runs a whole window without failing starts over from the minimum.
  const second = runnerFor('recovers');
  lines.length = 0;
  await second.start();
  for (const upFor of [2000, 2000, 600_000, 2000]) {
    clock.advance(upFor);
    ctx?.fail(new Error('the command exited'));
    await settle();
    const wait = schedule().at(-1) as number;
    clock.advance(wait);
    t.mock.timers.tick(wait);
    await settle();
    assert.equal(second.state, 'running');
  }
  assert.deepEqual(schedule(), [1000, 2000, 1000, 2000]);
  await second.stop();
});

test('a sink whose write throws is restarted; batches while it is down are counted as dropped', async () => {
  let instances = 0;
  let ctxs: ComponentContext[] = [];
  const good = new CollectorSink();
  const runner = new SinkRunner(
    'out',
    'fake',
    (ctx): Sink => {
      instances++;
      ctxs = [...ctxs, ctx];
      if (instances === 1) {
        return {
          start: async () => {},
          write: () => {
            throw new Error('write failed');
          },
          stop: async () => {},
        };
      }
      return good;
    },
    { log: recordingLogger().log, clock: systemClock, policy: fast },
  );
  await runner.start();
  runner.write([gauge(1)]);
  runner.write([gauge(2), gauge(3)]);
  assert.equal(runner.stats.total('dropped_metrics'), 3);
  await until(() => runner.state === 'running' && instances === 2, 'sink restart');
  runner.write([gauge(4)]);
  assert.deepEqual(
    good.metrics().map((m) => (m.kind === 'gauge' ? m.value : -1)),
    [4],
  );
  await runner.stop();
  assert.equal(good.stopped, true);
});

test('polled sources are collected on the interval; an overrunning collection is skipped, not stacked', async () => {
  const emitted: Batch[] = [];
  let calls = 0;
  let release: (() => void) | undefined;
  const runner = new SourceRunner(
    'poll',
    'fake',
    () => ({
      mode: 'polled',
      intervalMs: 20,
      collect: () => {
        calls++;
        if (calls === 2) return new Promise<Batch>((resolve) => (release = () => resolve([gauge(2)])));
        if (calls === 3) return Promise.reject(new Error('read failed'));
        return Promise.resolve([gauge(calls)]);
      },
    }),
    (b) => emitted.push(b),
    { log: recordingLogger().log, clock: systemClock, policy: fast },
  );
  await runner.start();
  await until(() => calls === 2, 'second collection');
  await until(() => runner.stats.total('collection_skipped') >= 2, 'skips while the second collection hangs');
  assert.equal(calls, 2);
  release?.();
  await until(() => calls >= 4, 'collections resume');
  assert.equal(runner.stats.total('collection_errors'), 1);
  await runner.stop();
  assert.deepEqual(
    emitted.slice(0, 2).map((b) => (b[0]?.kind === 'gauge' ? b[0].value : -1)),
    [1, 2],
  );
});

test('start jitter delays the first collection by up to half the interval; late timers do not make ticks drift', async (t) => {
  // Timers are mocked and the clock is manual, so lateness is exact and the load of the machine
  // running the tests cannot blur it: every timer below fires 7 ms after it was due.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const clock = new ManualClock(1_000_000);
  const interval = 40;
  const at: number[] = [];
  const runner = new SourceRunner(
    'poll',
    'fake',
    () => ({
      mode: 'polled',
      intervalMs: interval,
      startJitter: true,
      collect: () => {
        at.push(clock.now());
        return Promise.resolve([]);
      },
    }),
    () => {},
    { log: recordingLogger().log, clock, policy: fast, random: () => 0.999 },
  );
  await runner.start();
  assert.equal(at.length, 0, 'nothing is collected at once');
  const LATE = 7;
  // random() = 0.999 puts the first tick 19 ms after the start: just under half the interval.
  let due = 1_000_000 + 19;
  for (let k = 0; k < 10; k++) {
    const wait = due + LATE - clock.now();
    clock.advance(wait);
    t.mock.timers.tick(wait);
    // Let the collection's promise settle, as the event loop would between two ticks.
    await new Promise((resolve) => setImmediate(resolve));
    due += interval;
  }
  // A drifting schedule (each timer armed `interval` after the previous one fired) would put
  // tick k at 19 + k * (interval + 7); this one keeps every tick 7 ms after its slot.
  assert.deepEqual(
    at.map((ms) => ms - 1_000_000),
    Array.from({ length: 10 }, (_, k) => 19 + k * interval + LATE),
  );
  // A stall of two intervals and more: the overdue tick runs late, the one after it would be
  // overdue too and is skipped (counted), and the schedule keeps its phase.
  const stall = 2 * interval + 15;
  clock.advance(stall);
  t.mock.timers.tick(stall);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(runner.stats.total('collection_skipped'), 1);
  assert.equal(at.length, 11);
  await runner.stop();
  assert.equal(((at.at(-1) as number) - 1_000_000 - 19) % interval, (LATE + stall) % interval);
});

test('without start jitter the first collection runs at once', async () => {
  let calls = 0;
  const runner = new SourceRunner(
    'poll',
    'fake',
    () => ({
      mode: 'polled',
      intervalMs: 60_000,
      startJitter: false,
      collect: () => {
        calls++;
        return Promise.resolve([]);
      },
    }),
    () => {},
    { log: recordingLogger().log, clock: systemClock, policy: fast, random: () => 0.999 },
  );
  await runner.start();
  assert.equal(calls, 1);
  await runner.stop();
});
