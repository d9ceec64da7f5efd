import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../core/clock.js';
import type { Metric } from '../core/metric.js';
import type { Tap } from '../core/pipeline.js';
import { makeTags } from '../core/tags.js';
import { HISTORY_SAMPLES, SAMPLE_MS, StatusCollector, type StatusTarget } from './status.js';

function counter(name: string, tags: Record<string, string>, value: number): Metric {
  return {
    kind: 'counter',
    temporality: 'cumulative',
    name,
    tags: makeTags(tags),
    value,
    intervalMs: 0,
    timestamp: 0,
  };
}

function fakeAgent(clock: ManualClock) {
  const state = { received: 0, sent: 0, rejected: 0, withRelay: true, taps: new Set<Tap>() };
  const target: StatusTarget = {
    version: '9.9.9',
    startedAt: clock.now() - 3000,
    ready: () => true,
    lastReload: () => undefined,
    components: () => [{ id: 'statsd', kind: 'source', type: 'statsd', state: 'running', rejections: [] }],
    telemetry: () => [
      counter('sluice_lines_received', { component: 'statsd', component_type: 'statsd' }, state.received),
      counter(
        'sluice_lines_rejected',
        { component: 'statsd', component_type: 'statsd', reason: 'bad_value' },
        state.rejected,
      ),
      counter(
        'sluice_lines_rejected',
        { component: 'statsd', component_type: 'statsd', reason: 'missing_value' },
        state.rejected,
      ),
      ...(state.withRelay
        ? [counter('sluice_lines_sent', { component: 'relay', component_type: 'statsd_relay' }, state.sent)]
        : []),
      {
        kind: 'gauge',
        name: 'sluice_series',
        tags: makeTags({ component: 'statsd' }),
        value: 42,
        timestamp: 0,
      },
    ],
    tap: (listener) => {
      state.taps.add(listener);
      return () => state.taps.delete(listener);
    },
  };
  return { state, target };
}

test('the history keeps 15 minutes of 5 s samples: totals per component, a removed one fading out', (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const clock = new ManualClock();
  const { state, target } = fakeAgent(clock);
  const status = new StatusCollector(target, clock);
  status.start();
  try {
    for (let i = 1; i <= 3; i++) {
      state.received = 100 * i;
      state.rejected = i;
      state.sent = 10 * i;
      clock.advance(SAMPLE_MS);
      t.mock.timers.tick(SAMPLE_MS);
    }
    let h = status.history();
    assert.equal(h.interval_ms, 5000);
    assert.equal(h.t.length, 4, 'one sample at start, one per period');
    assert.deepEqual(h.series['in:statsd'], [0, 100, 200, 300]);
    assert.deepEqual(h.series['rejected:statsd'], [0, 2, 4, 6], 'reasons summed');
    assert.deepEqual(h.series['out:relay'], [0, 10, 20, 30]);
    assert.deepEqual(h.series['series:statsd'], [42, 42, 42, 42]);
    assert.ok((h.series.rss_bytes?.[0] ?? 0) > 0);

    state.withRelay = false;
    for (let i = 0; i < HISTORY_SAMPLES + 5; i++) {
      clock.advance(SAMPLE_MS);
      t.mock.timers.tick(SAMPLE_MS);
      h = status.history();
      assert.equal(h.t.length, Math.min(HISTORY_SAMPLES, 5 + i));
      for (const [key, column] of Object.entries(h.series))
        assert.equal(column.length, h.t.length, `${key} stays aligned with the times`);
    }
    assert.equal(h.series['out:relay'], undefined, 'a component gone for 15 minutes leaves the history');
    assert.equal(h.t[0], clock.now() - (HISTORY_SAMPLES - 1) * SAMPLE_MS);
  } finally {
    status.stop();
  }
});

test('busiest names are counted only while someone looks at the status, and the tap goes after', (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const clock = new ManualClock();
  const { state, target } = fakeAgent(clock);
  const status = new StatusCollector(target, clock);
  status.start();
  try {
    assert.equal(state.taps.size, 0, 'no tap until the status is asked for');
    const first = status.status();
    assert.equal(first.version, '9.9.9');
    assert.equal(first.uptime_seconds, 3);
    assert.equal(first.busiest_names, undefined, 'nothing counted yet');
    assert.deepEqual(first.figures.find((f) => f.name === 'sluice_series')?.labels, { component: 'statsd' });
    assert.equal(state.taps.size, 1);
    const batch = (name: string, n: number): Metric[] =>
      Array.from({ length: n }, () => counter(name, {}, 1));
    for (const tap of state.taps) {
      tap(batch('a', 50), 'statsd');
      tap(batch('b', 10), 'statsd');
      tap(batch('a', 50), 'statsd');
    }
    clock.advance(SAMPLE_MS);
    t.mock.timers.tick(SAMPLE_MS);
    assert.deepEqual(status.status().busiest_names, [
      { name: 'a', rate: 20 },
      { name: 'b', rate: 2 },
    ]);
    // Averaged over the last minute: a quiet period halves the rates, it does not zero them.
    clock.advance(SAMPLE_MS);
    t.mock.timers.tick(SAMPLE_MS);
    assert.deepEqual(status.status().busiest_names, [
      { name: 'a', rate: 10 },
      { name: 'b', rate: 1 },
    ]);
    // Nobody asks for a minute: the tap is removed and the pipeline pays nothing again.
    for (let i = 0; i < 13; i++) {
      clock.advance(SAMPLE_MS);
      t.mock.timers.tick(SAMPLE_MS);
    }
    assert.equal(state.taps.size, 0);
  } finally {
    status.stop();
  }
});

test('with a sink publishing state, the busiest names say which of their series go global', (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const clock = new ManualClock();
  const { state, target } = fakeAgent(clock);
  const scopes: Record<string, 'all' | 'some' | 'none'> = { 'checkout.rt': 'all', 'api.hits': 'some' };
  const status = new StatusCollector({ ...target, globalScope: (name) => scopes[name] ?? 'none' }, clock);
  status.start();
  try {
    status.status();
    for (const tap of state.taps)
      tap([counter('checkout.rt', {}, 1), counter('api.hits', {}, 1), counter('x', {}, 1)], 'statsd');
    clock.advance(SAMPLE_MS);
    t.mock.timers.tick(SAMPLE_MS);
    assert.deepEqual(
      status.status().busiest_names?.map((n) => [n.name, n.global]),
      [
        ['checkout.rt', 'all'],
        ['api.hits', 'some'],
        ['x', 'none'],
      ],
    );
  } finally {
    status.stop();
  }
});
