/**
 * The exporter against a real Prometheus server: StatsD datagrams go into a running sluice,
 * Prometheus scrapes it, and the values are read back through Prometheus's query API. Then
 * `promtool check metrics` lints a real scrape, which is what catches exposition mistakes a
 * parser of our own would share with the renderer. Needs `prometheus` and `promtool` on PATH
 * (Debian: `apt-get install prometheus`); skipped without them, except under CI=true.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  freePort,
  httpGet,
  listeningOn,
  startProcess,
  startSluice,
  serverPrograms,
  waitFor,
  type RunningProcess,
  type SluiceProcess,
} from '../../testing/processes.js';

const servers = serverPrograms(['prometheus', 'promtool'], 'apt-get install prometheus');
const prometheusBin = servers.paths.prometheus;
const promtoolBin = servers.paths.promtool;
const skip = servers.skip;

const COUNTER_INCREMENTS = 7;
const HOSTNAME = 'integration-host';

interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

describe('prometheus_exporter scraped by a real Prometheus', { skip, timeout: 180_000 }, () => {
  let tmp = '';
  let sluice: SluiceProcess | undefined;
  let prometheus: RunningProcess | undefined;
  let exporterPort = 0;
  let promBase = '';

  async function query(promql: string): Promise<PromSample[]> {
    const res = await httpGet(`${promBase}/api/v1/query?query=${encodeURIComponent(promql)}`);
    assert.equal(res.status, 200, res.body.toString());
    const json = JSON.parse(res.body.toString()) as { status: string; data: { result: PromSample[] } };
    assert.equal(json.status, 'success');
    return json.data.result;
  }

  /** Polls until the query returns exactly one series whose value is `expected`. */
  async function readSeries(promql: string, expected: string): Promise<PromSample> {
    let last: PromSample[] = [];
    return waitFor(
      async () => {
        last = await query(promql);
        return last.length === 1 && last[0]?.value[1] === expected ? last[0] : undefined;
      },
      {
        timeoutMs: 60_000,
        intervalMs: 500,
        what: `${promql} == ${expected} in Prometheus`,
        describe: () => `${JSON.stringify(last)}; sluice stderr:\n${sluice?.stderr().slice(-2000)}`,
        failIf: () => sluice?.diedReason() ?? prometheus?.diedReason(),
      },
    );
  }

  // A failing `before` hook only marks the tests "cancelled" (and `# fail 0`); remembering the
  // error and throwing it from each test makes a broken setup count as failures.
  let setupError: unknown;
  let setupReported = false;
  function ready(): void {
    if (setupError === undefined) return;
    if (setupReported) throw new Error('Setup failed; see the first test of this suite.');
    setupReported = true;
    throw setupError;
  }

  before(async () => {
    try {
      await setup();
    } catch (e) {
      setupError = e;
    }
  });

  async function setup(): Promise<void> {
    servers.assertInstalled();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-prom-'));
    const statsdPort = await freePort('udp');
    exporterPort = await freePort('tcp');
    const promPort = await freePort('tcp');
    promBase = `http://127.0.0.1:${promPort}`;

    sluice = startSluice({
      config: [
        'agent:',
        `  hostname: ${HOSTNAME}`,
        '  log_level: info',
        'sources:',
        '  statsd:',
        '    type: statsd',
        `    listen: 127.0.0.1:${statsdPort}`,
        '    flush_interval: 1s',
        'sinks:',
        '  prometheus:',
        '    type: prometheus_exporter',
        `    listen: 127.0.0.1:${exporterPort}`,
        '    path: /metrics',
        '',
      ].join('\n'),
    });
    await sluice.waitForLog(listeningOn(statsdPort), 20_000);
    await sluice.waitForLog(listeningOn(exporterPort), 20_000);

    writeFileSync(
      path.join(tmp, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        'scrape_configs:',
        '  - job_name: sluice',
        '    metrics_path: /metrics',
        '    static_configs:',
        `      - targets: ['127.0.0.1:${exporterPort}']`,
        '',
      ].join('\n'),
    );
    prometheus = startProcess(
      prometheusBin as string,
      [
        `--config.file=${path.join(tmp, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(tmp, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ],
      { cwd: tmp },
    );
    await waitFor(async () => ((await httpGet(`${promBase}/-/ready`)).status === 200 ? true : undefined), {
      timeoutMs: 30_000,
      what: 'Prometheus to be ready',
      failIf: () => prometheus?.diedReason(),
      describe: () => prometheus?.stderr().slice(-2000) ?? '',
    });

    const socket = dgram.createSocket('udp4');
    const send = (line: string): Promise<void> =>
      new Promise((resolve, reject) =>
        socket.send(line, statsdPort, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
      );
    // promtool rejects names containing a type word ("integration_gauge"), hence these names.
    try {
      await send('integration_temperature:42|g|#env:ci');
      for (let i = 0; i < COUNTER_INCREMENTS; i++) await send('integration_requests:1|c|#env:ci');
      await send('integration_latency:12|ms|#env:ci');
      await send('integration_payload_bytes:2048|g|#env:ci');
    } finally {
      socket.close();
    }
  }

  after(async () => {
    // kill() never rejects and is a no-op for a process that has already exited.
    await prometheus?.kill();
    await sluice?.kill();
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  });

  test('a gauge arrives with its value and its tags as labels', async () => {
    ready();
    const sample = await readSeries('integration_temperature', '42');
    assert.deepEqual(sample.metric, {
      __name__: 'integration_temperature',
      env: 'ci',
      host: HOSTNAME,
      instance: `127.0.0.1:${exporterPort}`,
      job: 'sluice',
    });
  });

  test('a counter is exposed as <name>_total holding the number of increments', async () => {
    ready();
    const sample = await readSeries('integration_requests_total', String(COUNTER_INCREMENTS));
    assert.deepEqual(sample.metric, {
      __name__: 'integration_requests_total',
      env: 'ci',
      host: HOSTNAME,
      instance: `127.0.0.1:${exporterPort}`,
      job: 'sluice',
    });
  });

  test('Prometheus negotiates OpenMetrics: the metadata holds the unit only that format states', async () => {
    ready();
    await readSeries('integration_payload_bytes', '2048');
    const meta = await waitFor(
      async () => {
        const res = await httpGet(`${promBase}/api/v1/metadata?metric=integration_payload_bytes`);
        const json = JSON.parse(res.body.toString()) as {
          data: Record<string, { type: string; unit: string }[]>;
        };
        return json.data.integration_payload_bytes?.[0];
      },
      { timeoutMs: 20_000, what: 'metadata of integration_payload_bytes' },
    );
    assert.deepEqual({ type: meta.type, unit: meta.unit }, { type: 'gauge', unit: 'bytes' });
    // The counter keeps its text-format name: OpenMetrics' family is integration_requests, its sample _total.
    const counter = await httpGet(`${promBase}/api/v1/metadata?metric=integration_requests`);
    assert.match(counter.body.toString(), /"type":"counter"/);
  });

  test('the scrape target is healthy', async () => {
    ready();
    const res = await httpGet(`${promBase}/api/v1/targets`);
    const json = JSON.parse(res.body.toString()) as {
      data: { activeTargets: { health: string; lastError: string; scrapeUrl: string }[] };
    };
    const targets = json.data.activeTargets;
    assert.equal(targets.length, 1);
    assert.equal(targets[0]?.scrapeUrl, `http://127.0.0.1:${exporterPort}/metrics`);
    assert.equal(targets[0]?.lastError, '');
    assert.equal(targets[0]?.health, 'up');
  });

  test('promtool check metrics accepts a real scrape', async () => {
    ready();
    // Wait until every kind sent is in the scrape, so the lint sees gauges, counters and timers.
    const body = await waitFor(
      async () => {
        const res = await httpGet(`http://127.0.0.1:${exporterPort}/metrics`);
        const text = res.body.toString();
        return res.status === 200 &&
          ['integration_temperature', 'integration_requests', 'integration_latency'].every((n) =>
            text.includes(n),
          )
          ? res.body
          : undefined;
      },
      { timeoutMs: 30_000, what: 'all three metrics in the scrape', failIf: () => sluice?.diedReason() },
    );
    const promtool = startProcess(promtoolBin as string, ['check', 'metrics'], { stdin: body, cwd: tmp });
    const result = await promtool.wait(30_000);
    assert.deepEqual(
      { code: result.code, output: result.stdout + result.stderr },
      { code: 0, output: '' },
      `promtool check metrics on:\n${body.toString()}`,
    );
  });

  test('sluice exits 0 on SIGTERM while being scraped', async () => {
    ready();
    assert.ok(sluice);
    const result = await sluice.stop('SIGTERM', 15_000);
    assert.equal(result.code, 0, result.stderr.slice(-4000));
  });
});
