// json_udp on ingest worker threads: real threads, real UDP on 127.0.0.1.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { describe, it } from 'node:test';
import type { Issue } from '../../config/schema.js';
import { systemClock } from '../../core/clock.js';
import type { GaugeMetric, Metric } from '../../core/metric.js';
import { testSourceContext } from '../../testing/context.js';
import { dgramReusePort, IngestWorkerSource } from '../ingest/workers.js';
import { jsonUdpSource, type JsonUdpConfig } from './index.js';

function config(overrides: Record<string, unknown> = {}): JsonUdpConfig {
  const issues: Issue[] = [];
  const c = jsonUdpSource.schema.parse(
    { listen: '127.0.0.1:0', flush_interval: '1h', workers: 2, ...overrides },
    [],
    issues,
  );
  assert.deepEqual(issues, []);
  return c as JsonUdpConfig;
}

const counterTotal = (metrics: readonly Metric[], name: string): number =>
  metrics.reduce((sum, m) => sum + (m.kind === 'counter' && m.name === name ? m.value : 0), 0);

describe(`json_udp source on ${dgramReusePort() ? 2 : 1} ingest worker thread(s)`, () => {
  it('counts typed records from many senders exactly and keeps untyped objects as points', async () => {
    const ctx = testSourceContext({ clock: systemClock, type: 'json_udp' });
    const source = jsonUdpSource.create(config(), ctx) as IngestWorkerSource<JsonUdpConfig>;
    assert.ok(source instanceof IngestWorkerSource);
    await source.start();
    try {
      const port = source.port as number;
      const senders = 12;
      const perSender = 100;
      await Promise.all(
        Array.from({ length: senders }, async (_, s) => {
          const client = dgram.createSocket('udp4');
          try {
            for (let j = 0; j < perSender; j++) {
              const lines = [
                `{"metric_name":"req","metric_type":"counter","value":1,"code":${200 + (j % 3)}}`,
                `{"metric_name":"lat","metric_type":"timer","value":${(s * 31 + j) % 400}}`,
              ];
              if (j === 0) lines.push(`{"disk":${s},"ok":1,"host":"h${s}"}`);
              await new Promise<void>((resolve, reject) =>
                client.send(Buffer.from(lines.join('\n')), port, '127.0.0.1', (e) =>
                  e ? reject(e) : resolve(),
                ),
              );
            }
          } finally {
            client.close();
          }
        }),
      );
      const deadline = Date.now() + 15_000;
      while (counterTotal(ctx.metrics(), 'req') < senders * perSender) {
        if (Date.now() > deadline) assert.fail('timed out waiting for every record');
        await source.flush();
        await new Promise((r) => setTimeout(r, 20));
      }
      await source.stop();
      const all = ctx.metrics();
      assert.equal(counterTotal(all, 'req'), senders * perSender);
      const timerCount = all.reduce(
        (n, m) => n + (m.kind === 'summary' && m.name === 'lat' ? m.summary.count : 0),
        0,
      );
      assert.equal(timerCount, senders * perSender);
      const disks = all.filter((m): m is GaugeMetric => m.kind === 'gauge' && m.name === 'json.disk');
      assert.equal(disks.length, senders);
      for (const d of disks) assert.deepEqual(d.point, { measurement: 'json', field: 'disk' });
    } finally {
      await source.stop();
    }
  });
});
