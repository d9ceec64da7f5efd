import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { systemClock } from './clock.js';
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

test('start jitter delays the first collection by up to half the interval; ticks then keep their phase', async () => {
  const at: number[] = [];
  const interval = 40;
  const runner = new SourceRunner(
    'poll',
    'fake',
    () => ({
      mode: 'polled',
      intervalMs: interval,
      startJitter: true,
      collect: () => {
        at.push(Date.now());
        return Promise.resolve([gauge(at.length)]);
      },
    }),
    () => {},
    { log: recordingLogger().log, clock: systemClock, policy: fast, random: () => 0.999 },
  );
  const started = Date.now();
  await runner.start();
  assert.equal(at.length, 0, 'nothing is collected at once');
  await until(() => at.length >= 8, 'eight collections');
  await runner.stop();
  const first = (at[0] as number) - started;
  // random() = 0.999 puts the first tick just before half the interval.
  assert.ok(first >= interval / 2 - 2, `first collection after ${first} ms`);
  // Every tick is due at first + k * interval: timer lateness does not accumulate, and a tick
  // missed under load is skipped, so the last tick still falls early in one of its slots.
  const last = at.length - 1;
  const offset = ((at[last] as number) - (at[0] as number)) % interval;
  assert.ok(offset < interval / 2, `tick ${last} is ${offset} ms into its slot`);
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
