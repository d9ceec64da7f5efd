/**
 * End-to-end: the built `sluice` as a process, real UDP datagrams in, HTTP scrapes and stdout out.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_CONFIG } from '../config/defaults.js';
import {
  freePort,
  httpGet,
  listeningOn,
  repoRoot,
  startProcess,
  sampleValue,
  startSluice,
  waitFor,
} from '../testing/processes.js';
import { sendStatsd, udpSocketStats, waitForUdpDrain } from '../testing/udp.js';

async function scrape(port: number): Promise<string> {
  const r = await httpGet(`http://127.0.0.1:${port}/metrics`);
  assert.equal(r.status, 200);
  return r.body.toString('utf8');
}

test('quick start: the default config serves CPU metrics and a gauge sent with StatsD', async (t) => {
  const statsdPort = await freePort('udp');
  const httpPort = await freePort('tcp');
  // The built-in config, only on free ports and with a short flush so the test is quick.
  const config = DEFAULT_CONFIG.replace('127.0.0.1:8125', `127.0.0.1:${statsdPort}`)
    .replace('0.0.0.0:9103', `127.0.0.1:${httpPort}`)
    .replace('flush_interval: 10s', 'flush_interval: 1s');
  assert.notEqual(config, DEFAULT_CONFIG);
  const sluice = startSluice({ config, owner: t, env: { SLUICE_HOSTNAME: 'e2e-host' } });
  await sluice.waitForLog(listeningOn(statsdPort));
  await sluice.waitForLog(listeningOn(httpPort));

  const cpu = await waitFor(
    async () =>
      sampleValue(
        await scrape(httpPort),
        'system_cpu_seconds_total{cpu="total",host="e2e-host",state="user"}',
      ),
    { timeoutMs: 15_000, what: 'a CPU metric' },
  );
  assert.ok(cpu > 0);

  await sendStatsd(statsdPort, ['foobar:123|g']);
  const foobar = await waitFor(async () => sampleValue(await scrape(httpPort), 'foobar{host="e2e-host"}'), {
    timeoutMs: 10_000,
    what: 'foobar in /metrics',
  });
  assert.equal(foobar, 123);
  const r = await sluice.stop('SIGTERM');
  assert.equal(r.code, 0, r.stderr);
});

const hasPromtool = spawnSync('promtool', ['--version']).error === undefined;

test(
  "the built-in config's scrape passes promtool check metrics, every StatsD type included",
  {
    skip:
      !hasPromtool && process.env.CI !== 'true'
        ? 'promtool is not on PATH (apt-get install --no-install-recommends prometheus)'
        : false,
  },
  async (t) => {
    const statsdPort = await freePort('udp');
    const httpPort = await freePort('tcp');
    const config = DEFAULT_CONFIG.replace('127.0.0.1:8125', `127.0.0.1:${statsdPort}`)
      .replace('0.0.0.0:9103', `127.0.0.1:${httpPort}`)
      .replace('flush_interval: 10s', 'flush_interval: 1s');
    const sluice = startSluice({ config, owner: t });
    await sluice.waitForLog(listeningOn(statsdPort));
    await sluice.waitForLog(listeningOn(httpPort));
    await sendStatsd(statsdPort, [
      'app.requests:1|c|#route:/a',
      'app.queue:5|g',
      'app.latency:12|ms|@0.5',
      'app.size:300|h',
      'app.payload:2048|d',
      'app.users:alice|s',
    ]);
    // Every type and the agent's own series are on the page once the internal source reports.
    const page = await waitFor(
      async () => {
        const text = await scrape(httpPort);
        return [
          'app_latency_count',
          'app_size_bucket',
          'app_payload_count',
          'app_users',
          'sluice_lines_received_total',
        ].every((n) => text.includes(n))
          ? text
          : undefined;
      },
      { timeoutMs: 30_000, what: 'every StatsD type and the internal metrics in /metrics' },
    );
    const check = spawnSync('promtool', ['check', 'metrics'], { input: page, encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
    assert.equal(`${check.stdout}${check.stderr}`.trim(), '', 'no lint warning either');
    const r = await sluice.stop('SIGTERM');
    assert.equal(r.code, 0, r.stderr);
  },
);

test('SIGTERM prints counters that were not flushed yet through the console sink, and exits 0', async (t) => {
  const port = await freePort('udp');
  const sluice = startSluice({
    owner: t,
    config: `agent:
  hostname: term-host
sources:
  statsd:
    type: statsd
    listen: 127.0.0.1:${port}
    flush_interval: 1h
sinks:
  console:
    type: console
    format: json
`,
  });
  await sluice.waitForLog(listeningOn(port));
  await sendStatsd(
    port,
    ['unflushed.count:7|c|#route:/a', 'unflushed.count:3|c|#route:/a', 'unflushed.gauge:42|g'],
    {
      perDatagram: 3,
    },
  );
  // The datagram has been read by sluice once its socket's receive queue is empty.
  await waitForUdpDrain(port);
  assert.equal(sluice.stdout(), '', 'nothing is flushed before the hour is up');
  const r = await sluice.stop('SIGTERM');
  assert.equal(r.code, 0, r.stderr);
  const printed = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { name: string; value: number; tags: Record<string, string> });
  const counter = printed.find((m) => m.name === 'unflushed.count');
  assert.equal(counter?.value, 10);
  assert.deepEqual(counter?.tags, { host: 'term-host', route: '/a' });
  assert.equal(printed.find((m) => m.name === 'unflushed.gauge')?.value, 42);
});

test('SIGTERM while an InfluxDB endpoint is down exits 1 and says what was lost where', async (t) => {
  const port = await freePort('udp');
  // Nothing listens here: every write is refused, and the sink gives up after its own timeout.
  const deadPort = await freePort('tcp');
  const sluice = startSluice({
    owner: t,
    config: `agent:
  shutdown_timeout: 20s
sources:
  statsd:
    type: statsd
    listen: 127.0.0.1:${port}
    flush_interval: 1h
sinks:
  influx:
    type: influxdb
    urls: ['http://127.0.0.1:${deadPort}']
    shutdown_timeout: 1s
    retry_initial: 100ms
`,
  });
  await sluice.waitForLog(listeningOn(port));
  await sendStatsd(port, ['lost.count:1|c', 'lost.gauge:2|g'], { perDatagram: 2 });
  await waitForUdpDrain(port);
  const r = await sluice.stop('SIGTERM', 15_000);
  assert.equal(r.code, 1, `the sink dropped what it held, so the exit code says so\n${r.stderr}`);
  const lost = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; lost?: unknown })
    .find((l) => l.msg.startsWith('Stopped; data was lost'));
  assert.deepEqual(lost?.lost, { influx: { shutdown: 2 } }, r.stderr);
});

test('a second instance on the same ports fails at once, says which and why, and exits 1', async (t) => {
  const statsdPort = await freePort('udp');
  const httpPort = await freePort('tcp');
  const config = `sources:
  statsd:
    type: statsd
    listen: 127.0.0.1:${statsdPort}
sinks:
  prometheus:
    type: prometheus_exporter
    listen: 127.0.0.1:${httpPort}
`;
  const first = startSluice({ owner: t, config });
  await first.waitForLog(listeningOn(statsdPort));
  await first.waitForLog(listeningOn(httpPort));
  const second = startSluice({ owner: t, config });
  const exit = await second.wait(20_000);
  assert.equal(exit.code, 1, exit.stderr);
  assert.match(exit.stderr, /Could not start: .*prometheus \(prometheus_exporter\)/);
  assert.match(
    exit.stderr,
    new RegExp(`statsd \\(statsd\\): Could not listen on udp://127\\.0\\.0\\.1:${statsdPort}`),
  );
  assert.doesNotMatch(exit.stderr, /sluice started/);
  // The first one is untouched and still holds its ports alone.
  assert.equal((await httpGet(`http://127.0.0.1:${httpPort}/metrics`)).status, 200);
  assert.equal((await first.stop('SIGTERM')).code, 0);
});

test('SIGHUP reloads the config file: an invalid one changes nothing and is counted, a valid one applies', async (t) => {
  const statsdPort = await freePort('udp');
  const httpPort = await freePort('tcp');
  const config = (extra: string): string => `agent:
  host_tag: ""
sources:
  statsd:
    type: statsd
    listen: 127.0.0.1:${statsdPort}
    flush_interval: 200ms
  internal:
    type: internal
    interval: 200ms
    start_jitter: false
sinks:
  prometheus:
    type: prometheus_exporter
    listen: 127.0.0.1:${httpPort}
${extra}`;
  const sluice = startSluice({ owner: t, config: config('') });
  await sluice.waitForLog(listeningOn(statsdPort));
  await sluice.waitForLog(listeningOn(httpPort));
  const hup = (): void => void process.kill(sluice.pid as number, 'SIGHUP');

  writeFileSync(sluice.configPath, config('filters:\n  - action: nope\n'));
  hup();
  const refused = await sluice.waitForLog((l) => String(l.msg).startsWith('Reload refused'));
  assert.match(JSON.stringify(refused.problems), /sluice\.yaml:\d+:\d+: filters\[0\]\.action/);
  await waitFor(
    async () =>
      sampleValue(await scrape(httpPort), 'sluice_config_reloads_total{result="failed"}') === 1 || undefined,
    {
      timeoutMs: 10_000,
      what: 'the failed reload counted',
    },
  );

  // Still running on the old config: lines go through unrenamed.
  await sendStatsd(statsdPort, ['before.reload:1|c']);
  await waitFor(async () => sampleValue(await scrape(httpPort), 'before_reload_total ') === 1 || undefined, {
    timeoutMs: 10_000,
    what: 'a counter before the reload',
  });
  writeFileSync(
    sluice.configPath,
    config('filters:\n  - { action: rename, name: "after.*", to: renamed.after }\n'),
  );
  hup();
  const reloaded = await sluice.waitForLog((l) => l.msg === 'Reloaded.');
  assert.deepEqual(reloaded.unchanged, ['prometheus', 'statsd', 'internal']);
  await sendStatsd(statsdPort, ['after.reload:2|c']);
  await waitFor(async () => sampleValue(await scrape(httpPort), 'renamed_after_total ') === 2 || undefined, {
    timeoutMs: 10_000,
    what: 'the new filter applied',
  });
  const page = await scrape(httpPort);
  assert.equal(sampleValue(page, 'before_reload_total '), 1, 'the exporter kept its state');
  assert.equal(sampleValue(page, 'sluice_config_reloads_total{result="applied"}'), 1);
  assert.equal((await sluice.stop('SIGTERM')).code, 0);
});

test('a counter incremented 100,000 times at a loss-free rate reads exactly 100000', async (t) => {
  const statsdPort = await freePort('udp');
  const httpPort = await freePort('tcp');
  const sluice = startSluice({
    owner: t,
    config: `agent:
  host_tag: ""
sources:
  statsd:
    type: statsd
    listen: 127.0.0.1:${statsdPort}
    flush_interval: 1s
sinks:
  prometheus:
    type: prometheus_exporter
    listen: 127.0.0.1:${httpPort}
`,
  });
  await sluice.waitForLog(listeningOn(statsdPort));
  await sluice.waitForLog(listeningOn(httpPort));
  const before = udpSocketStats(statsdPort);
  // 20,000 lines/s in datagrams of 25 lines: far below the loss-free rates in docs/benchmarks.md.
  await sendStatsd(statsdPort, Array<string>(100_000).fill('conserved.hits:1|c'), {
    perDatagram: 25,
    linesPerSecond: 20_000,
  });
  await waitForUdpDrain(statsdPort);
  assert.equal(udpSocketStats(statsdPort)?.drops, before?.drops, 'the kernel dropped nothing');
  const total = await waitFor(
    async () => {
      const v = sampleValue(await scrape(httpPort), 'conserved_hits_total ');
      return v === 100_000 ? v : undefined;
    },
    { timeoutMs: 10_000, what: 'conserved_hits_total to reach 100000' },
  );
  assert.equal(total, 100_000);
  assert.equal((await sluice.stop()).code, 0);
});

test('with startup_error_behavior: retry, a source that cannot start is retried while the other components keep working', async (t) => {
  const blockedPort = await freePort('udp');
  const httpPort = await freePort('tcp');
  const blocker = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => blocker.bind(blockedPort, '127.0.0.1', resolve));
  let blocking = true;
  const unblock = (): Promise<void> =>
    blocking ? new Promise<void>((r) => ((blocking = false), blocker.close(() => r()))) : Promise.resolve();
  t.after(unblock);
  const sluice = startSluice({
    owner: t,
    config: `agent:
  startup_error_behavior: retry
  restart_backoff_min: 100ms
  restart_backoff_max: 200ms
sources:
  statsd:
    type: statsd
    listen: 127.0.0.1:${blockedPort}
    flush_interval: 1s
  linux:
    type: linux
    interval: 1s
sinks:
  prometheus:
    type: prometheus_exporter
    listen: 127.0.0.1:${httpPort}
`,
  });
  await sluice.waitForLog(
    (l) => l.component === 'statsd' && l.msg === 'The component failed; restarting it.',
  );
  await waitFor(async () => sampleValue(await scrape(httpPort), 'system_load1{'), {
    timeoutMs: 10_000,
    what: 'Linux metrics while statsd is down',
  });
  // Free the port: the next restart binds it and StatsD traffic flows.
  await unblock();
  await sluice.waitForLog(listeningOn(blockedPort), 10_000);
  await sendStatsd(blockedPort, ['recovered:1|g']);
  await waitFor(async () => sampleValue(await scrape(httpPort), 'recovered{'), {
    timeoutMs: 10_000,
    what: 'recovered gauge',
  });
  assert.equal((await sluice.stop()).code, 0);
});

test('npm start passes SIGTERM to the agent: it flushes, exits, and leaves no orphan holding its port', async (t) => {
  const port = await freePort('udp');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-npm-start-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'sluice.yaml');
  writeFileSync(
    file,
    `sources:\n  statsd:\n    type: statsd\n    listen: 127.0.0.1:${port}\n    flush_interval: 1h\nsinks:\n  console:\n    type: console\n    format: json\n`,
  );
  const npm = startProcess('npm', ['start', '--silent', '--', '--config', file], { owner: t, cwd: repoRoot });
  await npm.waitForLog(listeningOn(port), 30_000);
  await sendStatsd(port, ['via.npm:3|c']);
  await waitForUdpDrain(port);
  const exit = await npm.stop('SIGTERM', 20_000);
  assert.match(exit.stdout, /"name":"via\.npm"/, 'the agent got the signal and flushed');
  // The agent is gone with npm: its port is free again (bounded wait).
  await waitFor(
    async () => {
      const probe = dgram.createSocket('udp4');
      const free = await new Promise<boolean>((resolve) => {
        probe.once('error', () => resolve(false));
        probe.bind(port, '127.0.0.1', () => resolve(true));
      });
      probe.close();
      return free ? true : undefined;
    },
    { timeoutMs: 5_000, what: `port ${port} to be free (no orphaned agent)` },
  );
});

test('Ctrl-C under npm start (SIGINT to the whole group, then forwarded by npm) flushes and exits 0', async (t) => {
  const port = await freePort('udp');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-ctrl-c-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'sluice.yaml');
  writeFileSync(
    file,
    `sources:\n  statsd:\n    type: statsd\n    listen: 127.0.0.1:${port}\n    flush_interval: 1h\nsinks:\n  console:\n    type: console\n    format: json\n`,
  );
  // Its own process group, as a terminal's foreground job: Ctrl-C signals every process in it.
  const npm = spawn('npm', ['start', '--silent', '--', '--config', file], {
    cwd: repoRoot,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (npm.exitCode === null && npm.signalCode === null) process.kill(-(npm.pid as number), 'SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  npm.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  npm.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => npm.on('exit', (code) => resolve(code)));
  await waitFor(() => (stderr.includes(`"port":${port}`) ? true : undefined), {
    timeoutMs: 30_000,
    what: 'the agent to listen',
    describe: () => stderr.slice(-1000),
  });
  await sendStatsd(port, ['via.ctrl_c:5|c']);
  await waitForUdpDrain(port);
  process.kill(-(npm.pid as number), 'SIGINT');
  assert.equal(await exited, 0, stderr);
  assert.match(stdout, /"name":"via\.ctrl_c".*"value":5/, 'the agent flushed');
  assert.doesNotMatch(stderr, /Second signal/);
  assert.match(stderr, /"msg":"Stopped\.","drained":true/);
});
