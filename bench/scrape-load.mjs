// StatsD loss while the agent serves heavy scraping: the case the ingest workers are for. With
// `workers: 0` the receive loop shares its thread with the Prometheus exporter, so every scrape
// (rendering and compressing a page) holds it; with workers, receiving runs on a thread that does
// nothing else. For each `workers` value and rate: the agent (pinned to CPU 0) holds 10,000
// series, 50 clients scrape /metrics 10 times a second each, and the C load generator (pinned to
// CPU 1) sends one tagged line per datagram for 10 s; the kernel's drop counter for the port
// (/proc/net/udp, every socket on it) says how many lines were lost.
//
//   npm run build && node bench/scrape-load.mjs [--workers 0,auto] [--rates 100000,150000,200000]
//                                             [--node PATH] [--seconds 10]
//
// Traffic and scrapes go to 127.0.0.1 only; every loop is bounded in time.
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { udpSocket } from './procfs.mjs';
import { freeTcpPort, freeUdpPort } from './receivers.mjs';
import { loadgenBin, runJson } from './loadgen-bin.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '0,auto' },
    rates: { type: 'string', default: '100000,150000,200000' },
    node: { type: 'string', default: process.execPath },
    seconds: { type: 'string', default: '10' },
  },
});
const SECONDS = Number(values.seconds);
const CLIENTS = 50;
const SCRAPE_EVERY_MS = 100;
const SERIES = 10_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const LOADGEN = loadgenBin();

function scrape(port) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', timeout: 10_000 }, (res) => {
      let bytes = 0;
      res.on('data', (d) => (bytes += d.length));
      res.on('end', () => resolve({ ok: res.statusCode === 200, ms: performance.now() - t0, bytes }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ ok: false, ms: performance.now() - t0, bytes: 0 }));
  });
}

/** CLIENTS loops, each scraping every SCRAPE_EVERY_MS until `until` (ms, performance.now). */
async function scrapers(port, until) {
  const results = [];
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        results.push(await scrape(port));
        const wait = SCRAPE_EVERY_MS - (performance.now() - t0);
        if (wait > 0) await sleep(wait);
      }
    }),
  );
  return results;
}

async function measure(workers, rate, dir) {
  const statsdPort = await freeUdpPort();
  const exporterPort = await freeTcpPort();
  const config = path.join(dir, `w${workers}.yaml`);
  writeFileSync(
    config,
    `agent:
  log_level: error
sources:
  statsd:
    type: statsd
    listen: 127.0.0.1:${statsdPort}
    workers: ${workers}
    flush_interval: 2s
sinks:
  prometheus:
    type: prometheus_exporter
    listen: 127.0.0.1:${exporterPort}
`,
  );
  const agent = spawn(
    'taskset',
    ['-c', '0', values.node, path.join(root, 'bin/sluice.js'), '--config', config],
    {
      stdio: 'ignore',
    },
  );
  try {
    for (let i = 0; i < 100 && !(await scrape(exporterPort)).ok; i++) await sleep(100);
    // The series the page shows, then two flushes so that they are on it.
    const tags = 'env:bench,host:h1,route:/api/x';
    await runJson('taskset', [
      '-c',
      '1',
      LOADGEN,
      '--port',
      String(statsdPort),
      '--name',
      'bench.series',
      '--tags',
      tags,
      '--distinct',
      String(SERIES),
      '--total',
      String(SERIES),
      '--rate',
      '50000',
    ]);
    await sleep(4500);
    const before = udpSocket(statsdPort);
    const until = performance.now() + SECONDS * 1000 + 1000;
    const scraping = scrapers(exporterPort, until);
    await sleep(500);
    const sent = await runJson('taskset', [
      '-c',
      '1',
      LOADGEN,
      '--port',
      String(statsdPort),
      '--name',
      'bench.load',
      '--tags',
      tags,
      '--rate',
      String(rate),
      '--total',
      String(rate * SECONDS),
      '--max-seconds',
      String(SECONDS + 5),
    ]);
    const scrapes = await scraping;
    await sleep(500);
    const after = udpSocket(statsdPort);
    const drops = (after?.drops ?? 0) - (before?.drops ?? 0);
    const ms = scrapes
      .filter((s) => s.ok)
      .map((s) => s.ms)
      .sort((a, b) => a - b);
    return {
      workers,
      rate,
      sent: sent.lines,
      drops,
      lossPercent: (100 * drops) / sent.lines,
      scrapes: ms.length,
      scrapeFailures: scrapes.length - ms.length,
      scrapeP50: ms[Math.floor(ms.length / 2)] ?? NaN,
      scrapeMax: ms.at(-1) ?? NaN,
      pageBytes: Math.max(0, ...scrapes.map((s) => s.bytes)),
    };
  } finally {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
  }
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-scrape-load-'));
try {
  const version = spawnSync(values.node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(
    `# ${os.cpus().length} CPUs, agent on Node ${version} (CPU 0), generator on CPU 1; ${CLIENTS} clients scraping /metrics every ${SCRAPE_EVERY_MS} ms; ${SERIES.toLocaleString('en-US')} series; 1 tagged line per datagram for ${SECONDS} s; load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    '| workers | lines/s sent | lines sent | kernel drops | loss | scrapes served (failed) | scrape p50 / max | page |',
  );
  console.log('| --- | --: | --: | --: | --: | --: | --: | --: |');
  for (const rate of values.rates.split(',').map(Number)) {
    for (const workers of values.workers.split(',')) {
      const r = await measure(workers, rate, dir);
      console.log(
        `| ${r.workers} | ${r.rate.toLocaleString('en-US')} | ${r.sent.toLocaleString('en-US')} | ${r.drops.toLocaleString('en-US')} | ${r.lossPercent.toFixed(2)} % | ${r.scrapes} (${r.scrapeFailures}) | ${r.scrapeP50.toFixed(0)} / ${r.scrapeMax.toFixed(0)} ms | ${(r.pageBytes / 1024).toFixed(0)} KiB |`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
