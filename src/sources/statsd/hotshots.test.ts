// End to end with a real DogStatsD client: hot-shots sends over UDP to a StatsdSource on port 0,
// and the test asserts on what was aggregated and emitted.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import type { Issue } from '../../config/schema.js';
import { ManualClock } from '../../core/clock.js';
import type {
  CounterMetric,
  DistributionMetric,
  GaugeMetric,
  HistogramMetric,
  SummaryMetric,
} from '../../core/metric.js';
import { findMetric, testSourceContext } from '../../testing/context.js';
import { statsdSource, type StatsdConfig, type StatsdSource } from './index.js';

interface HotShots {
  increment(
    stat: string,
    value?: number,
    sampleRate?: number,
    tags?: Record<string, string> | string[],
  ): void;
  gauge(stat: string, value: number, sampleRate?: number, tags?: Record<string, string> | string[]): void;
  gaugeDelta(stat: string, value: number, sampleRate?: number, tags?: Record<string, string>): void;
  timing(stat: string, value: number, sampleRate?: number, tags?: Record<string, string> | string[]): void;
  histogram(stat: string, value: number, sampleRate?: number, tags?: Record<string, string>): void;
  distribution(stat: string, value: number, sampleRate?: number, tags?: Record<string, string>): void;
  set(stat: string, value: string | number, sampleRate?: number, tags?: Record<string, string>): void;
  event(title: string, text: string, options?: Record<string, unknown>, tags?: Record<string, string>): void;
  check(name: string, status: number, options?: Record<string, unknown>, tags?: Record<string, string>): void;
  close(callback: (error?: Error) => void): void;
}
type HotShotsClass = new (options: Record<string, unknown>) => HotShots;

const require = createRequire(import.meta.url);
const { StatsD } = require('hot-shots') as { StatsD: HotShotsClass };

/** 2022-06-30T09:30:00Z: timestamps sent by hot-shots must fall inside the window around it. */
const NOW = 1656581400_000;

function config(overrides: Record<string, unknown> = {}): StatsdConfig {
  const issues: Issue[] = [];
  const c = statsdSource.schema.parse({ listen: '127.0.0.1:0', workers: 0, ...overrides }, [], issues);
  assert.deepEqual(issues, []);
  return c as StatsdConfig;
}

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('hot-shots client → statsd source over UDP', () => {
  it('aggregates increments, gauges, timings, histograms, distributions, sets, events and checks', async () => {
    const clock = new ManualClock(NOW);
    const ctx = testSourceContext({ clock, type: 'statsd' });
    const source = statsdSource.create(
      config({ histogram_bins: { default: [10, 100] }, percentiles: [50, 90] }),
      ctx,
    ) as StatsdSource;
    await source.start();
    const errors: unknown[] = [];
    const client = new StatsD({
      host: '127.0.0.1',
      port: source.port,
      protocol: 'udp',
      // Datadog mode with a fixed container id exercises the `|c:` field; no client telemetry.
      datadog: true,
      containerID: 'ctr-1',
      includeDatadogTelemetry: false,
      globalTags: { env: 'test' },
      errorHandler: (e: unknown) => errors.push(e),
    });
    const random = Math.random;
    let lines = 0;
    try {
      client.increment('requests', 1, 1, { route: '/a' });
      client.increment('requests', 2, 1, { route: '/a' });
      // hot-shots samples client-side: force the draw so the sampled line is sent.
      Math.random = () => 0;
      client.increment('requests', 1, 0.25, { route: '/a' });
      Math.random = random;
      client.increment('requests', 1, 1, { route: '/b' });
      client.gauge('temperature', 21.5);
      client.gaugeDelta('temperature', -1.5);
      client.timing('latency', 10, 1, ['endpoint:login']);
      client.timing('latency', 30, 1, ['endpoint:login']);
      client.timing('latency', 20, 1, ['endpoint:login']);
      client.histogram('size', 5);
      client.histogram('size', 50);
      client.histogram('size', 500);
      client.distribution('payload', 100);
      client.distribution('payload', 200);
      client.set('users', 'alice');
      client.set('users', 'bob');
      client.set('users', 'alice');
      client.event(
        'Deploy',
        'Version 1.2\nrolled out',
        { alert_type: 'success', priority: 'low' },
        { team: 'a' },
      );
      client.check('db.up', 2, { hostname: 'db1', message: 'disk full' }, { role: 'primary' });
      lines = 19;
      await until(() => ctx.stats.total('lines_received') === lines, `${lines} lines`);
    } finally {
      Math.random = random;
      await new Promise<void>((resolve) => client.close(() => resolve()));
    }
    try {
      assert.deepEqual(errors, []);
      assert.equal(ctx.stats.total('lines_rejected'), 0, JSON.stringify(source.recentRejections()));
      source.flush();
      const b = ctx.metrics();
      const base = { env: 'test', container_id: 'ctr-1' };

      assert.equal((findMetric(b, 'requests', { ...base, route: '/a' }) as CounterMetric).value, 1 + 2 + 4);
      assert.equal((findMetric(b, 'requests', { route: '/b' }) as CounterMetric).value, 1);
      // DogStatsD (the default dialect) has no gauge deltas: -1.5 is the new value.
      assert.equal((findMetric(b, 'temperature', base) as GaugeMetric).value, -1.5);

      const latency = (findMetric(b, 'latency', { ...base, endpoint: 'login' }) as SummaryMetric).summary;
      assert.equal(latency.count, 3);
      assert.equal(latency.sum, 60);
      assert.equal(latency.median, 20);
      assert.deepEqual(
        latency.quantiles.map((q) => [q.quantile, q.value]),
        [
          [0.5, 20],
          [0.9, 30],
        ],
      );

      const size = (findMetric(b, 'size', base) as HistogramMetric).histogram;
      assert.deepEqual(
        size.bins.map((x) => [x.le, x.count]),
        [
          [10, 1],
          [100, 1],
          [Infinity, 1],
        ],
      );
      const payload = (findMetric(b, 'payload', base) as DistributionMetric).distribution;
      assert.equal(payload.count, 2);
      assert.equal(payload.sum, 300);
      assert.equal((findMetric(b, 'users', base) as GaugeMetric).value, 2);

      assert.equal(ctx.events.length, 2);
      const [event, check] = ctx.events;
      // hot-shots sends the container id on events and service checks too: a tag, as on its metrics.
      assert.equal(event?.kind, 'event');
      if (event?.kind === 'event') {
        assert.equal(event.title, 'Deploy');
        assert.equal(event.text, 'Version 1.2\nrolled out');
        assert.equal(event.alertType, 'success');
        assert.equal(event.priority, 'low');
        assert.deepEqual(event.tags, [
          ['container_id', 'ctr-1'],
          ['env', 'test'],
          ['team', 'a'],
        ]);
      }
      assert.equal(check?.kind, 'service_check');
      if (check?.kind === 'service_check') {
        assert.equal(check.name, 'db.up');
        assert.equal(check.status, 2);
        assert.equal(check.hostname, 'db1');
        assert.equal(check.message, 'disk full');
        assert.deepEqual(check.tags, [
          ['container_id', 'ctr-1'],
          ['env', 'test'],
          ['role', 'primary'],
        ]);
      }
      assert.equal(ctx.stats.total('events_received'), 2);
    } finally {
      await source.stop();
    }
  });

  it('delivers gauge deltas as deltas to a source in the etsy dialect', async () => {
    const ctx = testSourceContext({ clock: new ManualClock(NOW) });
    const source = statsdSource.create(config({ dialect: 'etsy' }), ctx) as StatsdSource;
    await source.start();
    const client = new StatsD({ host: '127.0.0.1', port: source.port, protocol: 'udp' });
    try {
      client.gauge('queue', 10);
      client.gaugeDelta('queue', 5);
      client.gaugeDelta('queue', -3);
      await until(() => ctx.stats.total('lines_received') === 3, 'three lines');
    } finally {
      await new Promise<void>((resolve) => client.close(() => resolve()));
    }
    try {
      source.flush();
      assert.equal((findMetric(ctx.metrics(), 'queue') as GaugeMetric).value, 12);
    } finally {
      await source.stop();
    }
  });
});
