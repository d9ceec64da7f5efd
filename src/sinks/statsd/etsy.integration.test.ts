/**
 * The statsd sink's etsy dialect against the real Etsy statsd (node_modules/statsd, a dev
 * dependency, run as a child process with a backend that prints each flush as JSON): tags reach
 * it as `;key=value` in the name, timers' statistics as counters and gauges, and a negative gauge
 * is set, not added (Etsy reads `-3|g` as a change, so the sink sends `0|g` first).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Issue } from '../../config/schema.js';
import { systemClock } from '../../core/clock.js';
import type { Metric } from '../../core/metric.js';
import { makeTags } from '../../core/tags.js';
import { testContext } from '../../testing/context.js';
import { freePort, startProcess, waitFor } from '../../testing/processes.js';
import { createStatsdSink } from './relay.js';
import { schema, type StatsdSinkConfig } from './schema.js';

const BACKEND = `'use strict';
exports.init = function (startup, config, events) {
  events.on('flush', function (ts, m) {
    process.stdout.write('FLUSH ' + JSON.stringify({ counters: m.counters, gauges: m.gauges }) + '\\n');
  });
  return true;
};
`;

interface Flush {
  counters: Record<string, number>;
  gauges: Record<string, number>;
}

function flushes(stdout: string): Flush[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('FLUSH '))
    .map((l) => JSON.parse(l.slice(6)) as Flush);
}

test('dialect etsy: a real Etsy statsd reads tags, statistics and negative gauges', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-etsy-relay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'backend.cjs'), BACKEND);
  // Etsy statsd logs with util.log, which Node 23 removed.
  writeFileSync(
    join(dir, 'shim.cjs'),
    "const util = require('util');\n" +
      "if (typeof util.log !== 'function') util.log = (m) => console.log(new Date().toISOString() + ' - ' + m);\n",
  );
  const port = await freePort('udp');
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      port,
      address: '127.0.0.1',
      mgmt_address: '127.0.0.1',
      mgmt_port: await freePort('tcp'),
      flushInterval: 300,
      backends: [join(dir, 'backend.cjs')],
    }),
  );
  const statsJs = createRequire(import.meta.url).resolve('statsd/stats.js');
  const etsy = startProcess(
    process.execPath,
    ['--require', join(dir, 'shim.cjs'), statsJs, join(dir, 'config.json')],
    {
      owner: t,
    },
  );
  await etsy.waitForStdout((out) => out.includes('FLUSH '), 10_000);

  const issues: Issue[] = [];
  const config = schema.parse(
    { dialect: 'etsy', endpoints: [`127.0.0.1:${port}`], flush_interval: '20ms' },
    [],
    issues,
  ) as StatsdSinkConfig;
  assert.deepEqual(issues, []);
  const sink = createStatsdSink(config, testContext({ clock: systemClock, type: 'statsd' }));
  await sink.start();
  t.after(() => sink.stop());

  const now = Date.now();
  const tags = makeTags({ env: 'prod', route: 'a' });
  const gauge = (value: number): Metric => ({ kind: 'gauge', name: 'temp', tags: [], value, timestamp: now });
  sink.write([
    { kind: 'counter', temporality: 'delta', name: 'hits', tags, value: 5, intervalMs: 1000, timestamp: now },
    {
      kind: 'summary',
      name: 'lat',
      tags: [],
      intervalMs: 1000,
      timestamp: now,
      summary: {
        count: 2,
        samples: 2,
        sum: 30,
        sumSquares: 500,
        weightedSum: 30,
        min: 10,
        max: 20,
        mean: 15,
        median: 15,
        stdev: 5,
        quantiles: [],
      },
    },
    gauge(5),
  ]);
  const counted = (name: string): number =>
    flushes(etsy.stdout()).reduce((sum, f) => sum + (f.counters[name] ?? 0), 0);
  const lastGauge = (name: string): number | undefined => flushes(etsy.stdout()).at(-1)?.gauges[name];
  await waitFor(
    () => (counted('hits;env=prod;route=a') === 5 && lastGauge('temp') === 5 ? true : undefined),
    {
      timeoutMs: 10_000,
      what: 'Etsy statsd to count the relayed counter',
      describe: () => etsy.stdout().slice(-2000),
    },
  );
  assert.equal(counted('lat.count'), 2);
  assert.equal(counted('lat.sum'), 30);
  assert.equal(lastGauge('lat.upper'), 20);

  // From 5 to -3: a plain "temp:-3|g" would leave Etsy at 2.
  sink.write([gauge(-3)]);
  await waitFor(() => (lastGauge('temp') === -3 ? true : undefined), {
    timeoutMs: 10_000,
    what: 'Etsy statsd to hold the negative gauge',
    describe: () => etsy.stdout().slice(-2000),
  });
  assert.equal(counted('statsd.bad_lines_seen'), 0, 'Etsy rejected no line');
});
