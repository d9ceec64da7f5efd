import assert from 'node:assert/strict';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { test } from 'node:test';
import { loadConfig, type Registry } from '../../config/load.js';
import { Agent } from '../../core/agent.js';
import { systemClock } from '../../core/clock.js';
import type { Metric } from '../../core/metric.js';
import { consoleSink } from '../../sinks/console/index.js';
import { CollectorSink } from '../../testing/collector.js';
import { recordingLogger, testSourceContext } from '../../testing/context.js';
import { defineSink } from '../../core/definition.js';
import { s, type Issue } from '../../config/schema.js';
import { statsdSource } from '../statsd/index.js';
import { internalSource } from './index.js';
import { schema, type InternalConfig } from './schema.js';
import { InternalSource } from './source.js';
import { sendStatsd } from '../../testing/udp.js';
import { freePort, waitFor } from '../../testing/processes.js';

function config(options: Record<string, unknown> = {}): InternalConfig {
  const issues: Issue[] = [];
  const parsed = schema.parse(options, [], issues);
  assert.deepEqual(issues, []);
  return parsed as InternalConfig;
}

function byName(metrics: readonly Metric[]): Map<string, Metric> {
  return new Map(metrics.map((m) => [m.name, m]));
}

test('process metrics are plausible for this very process', async () => {
  const ctx = testSourceContext();
  const source = new InternalSource(config({ components: false }), ctx);
  // Let the loop-delay timer (100 ms) start, then block the loop (and burn CPU) past two of its
  // periods, so that one of its wakeups is late whatever the phase.
  await new Promise((r) => setTimeout(r, 120));
  const until = Date.now() + 250;
  while (Date.now() < until);
  await new Promise((r) => setTimeout(r, 150));
  const metrics = byName(await source.collect());
  await source.stop();
  const value = (name: string): number => {
    const m = metrics.get(name);
    assert.ok(m !== undefined && (m.kind === 'gauge' || m.kind === 'counter'), `${name} is reported`);
    return m.value;
  };
  const cpu = process.cpuUsage();
  assert.ok(value('sluice_process_cpu_seconds') >= 0.05);
  assert.ok(value('sluice_process_cpu_seconds') <= (cpu.user + cpu.system) / 1e6);
  assert.equal(metrics.get('sluice_process_cpu_seconds')?.kind, 'counter');
  const rss = value('sluice_process_resident_memory_bytes');
  assert.ok(rss > 10e6 && rss < 2e9, `rss ${rss}`);
  assert.ok(value('sluice_process_heap_used_bytes') <= value('sluice_process_heap_total_bytes'));
  assert.ok(value('sluice_uptime_seconds') > 0 && value('sluice_uptime_seconds') < process.uptime() + 1);
  const started = value('sluice_process_start_time_seconds');
  assert.ok(Math.abs(started + value('sluice_uptime_seconds') - Date.now() / 1000) < 2);
  const elu = value('sluice_event_loop_utilization');
  assert.ok(elu > 0 && elu <= 1, `utilisation ${elu}`);
  // The 250 ms busy loop blocked the loop-delay timer for a good part of that.
  const maxDelay = value('sluice_event_loop_delay_seconds_max');
  assert.ok(maxDelay >= 0.03 && maxDelay < 5, `max delay ${maxDelay}`);
  assert.equal(
    [...metrics.keys()].some((n) => !n.startsWith('sluice_')),
    false,
  );
});

test('the loop-delay timer runs every 100 ms after a busy interval and every second after an idle one', async () => {
  // The loop's utilisation is the test's to set: this machine's load must not decide it.
  let utilization = 0.5;
  const elu = (): EventLoopUtilization => ({ idle: 0, active: 0, utilization });
  const source = new InternalSource(config({ components: false }), testSourceContext(), elu);
  try {
    assert.equal(source.delayResolution, 100, 'starts at 100 ms');
    // Busy: the loop ran for half of the interval.
    const busy = byName(await source.collect());
    assert.ok(metricValue(busy, 'sluice_event_loop_utilization') >= 0.01);
    assert.equal(source.delayResolution, 100);
    // Idle, through ten ticks of the 100 ms timer (so the delay is reported).
    utilization = 0.001;
    await new Promise((r) => setTimeout(r, 1100));
    const idle = byName(await source.collect());
    assert.ok(metricValue(idle, 'sluice_event_loop_utilization') < 0.01);
    assert.equal(metricValue(idle, 'sluice_event_loop_delay_resolution_seconds'), 0.1, 'measured at 100 ms');
    assert.equal(source.delayResolution, 1000, 'then every second');
    // Busy again: back to 100 ms.
    utilization = 0.5;
    await source.collect();
    assert.equal(source.delayResolution, 100);
  } finally {
    await source.stop();
  }
});

function metricValue(metrics: Map<string, Metric>, name: string): number {
  const m = metrics.get(name);
  assert.ok(m !== undefined && (m.kind === 'gauge' || m.kind === 'counter'), `${name} is reported`);
  return m.value;
}

test("with process: false only the components' counters are reported", async () => {
  const ctx = {
    ...testSourceContext(),
    telemetry: {
      metrics: (ts: number): Metric[] => [
        { kind: 'gauge', name: 'sluice_x', tags: [], value: 1, timestamp: ts },
      ],
    },
  };
  const source = new InternalSource(config({ process: false }), ctx);
  assert.deepEqual(
    (await source.collect()).map((m) => m.name),
    ['sluice_x'],
  );
});

test("through a running agent: the statsd source's counters and the sinks' appear", async () => {
  const collectors: CollectorSink[] = [];
  const collector = defineSink({
    type: 'collector',
    description: '',
    schema: s.object({}),
    sample: '',
    create: () => {
      const c = new CollectorSink();
      collectors.push(c);
      return c;
    },
  });
  const registry = {
    sources: [statsdSource, internalSource],
    sinks: [collector, consoleSink],
  } as unknown as Registry;
  const port = await freePort('udp');
  const yaml = `
sources:
  statsd: { type: statsd, listen: "127.0.0.1:${port}", flush_interval: 100ms }
  self: { type: internal, interval: 100ms, start_jitter: false }
sinks:
  out: { type: collector }
`;
  const loaded = loadConfig(yaml, { file: 't', env: {}, registry, defaultHostname: 'box' });
  const agent = new Agent(loaded, recordingLogger().log, systemClock);
  await agent.start();
  try {
    await sendStatsd(port, ['a:1|c', 'b:2|c', 'not a line']);
    const sink = collectors[0] as CollectorSink;
    const find = (name: string, tag: [string, string]): Metric | undefined =>
      sink
        .metrics()
        .filter((m) => m.name === name && m.tags.some((t) => t[0] === tag[0] && t[1] === tag[1]))
        .at(-1);
    await waitFor(
      () => {
        const received = find('sluice_lines_received', ['component', 'statsd']);
        return received?.kind === 'counter' && received.value >= 3 ? true : undefined;
      },
      { timeoutMs: 10_000, what: 'the statsd source counters in the internal metrics' },
    );
    // One counter per rejection reason; the latest collection's sum is the total.
    const rejected = sink.metrics().filter((m) => m.name === 'sluice_lines_rejected');
    const latest = Math.max(...rejected.map((m) => m.timestamp));
    const total = rejected
      .filter((m) => m.timestamp === latest)
      .reduce((sum, m) => sum + (m.kind === 'counter' ? m.value : 0), 0);
    assert.equal(total, 1);
    assert.ok(
      rejected.every((m) => m.tags.some((t) => t[0] === 'host' && t[1] === 'box')),
      'metadata tags are added',
    );
    assert.ok(find('sluice_pipeline_metrics_received', ['host', 'box']) !== undefined);
    assert.ok(find('sluice_process_resident_memory_bytes', ['host', 'box']) !== undefined);
  } finally {
    await agent.stop();
  }
});
