// Bytes per series and in-process parse+aggregate throughput, for sluice's StatsD parser and
// aggregator (loaded from dist/) and for Etsy's statsd (its own packet handler, reached in-process
// by emitting 'message' on its UDP server socket, so no datagram crosses the kernel).
//
// Run with `node --expose-gc bench/series-memory.mjs [--quick] [--dist DIR]`: it runs each
// implementation in its own child process (separate heaps) and prints one table.
// Memory: V8 heap in use plus ArrayBuffer memory (typed arrays live outside the heap) after a
// full GC, before and after creating N unique counter series; the
// aggregates are kept alive while measured. Throughput: CPU time (process.cpuUsage) to ingest a
// fixed number of lines over 1000 known series, after a warm-up pass, best of three.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freeTcpPort, freeUdpPort } from './receivers.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const distArg = args.indexOf('--dist');
const DIST = resolve(distArg >= 0 ? args[distArg + 1] : join(ROOT, 'dist'));
const targetArg = args.indexOf('--target');
const TARGET = targetArg >= 0 ? args[targetArg + 1] : undefined;

const SERIES = quick ? 20_000 : 100_000;
const LINES = quick ? 200_000 : 1_000_000;
const POOL = 1000; // distinct series in the throughput runs
const REPEATS = 3; // throughput: best of, against noise from other work on the machine

/** Counter line of series i: 100 names x 100 hosts x unique routes, 3 tags (or none). */
function line(i, tags) {
  const name = `app.metric_${i % 100}`;
  return tags
    ? `${name}:1|c|#env:prod,host:web-${Math.floor(i / 100) % 100},route:/api/v1/items/${i}`
    : `${name}.${i}:1|c`;
}

/** Datagrams of `perDgram` lines cycling over POOL series. */
function datagrams(tags, perDgram) {
  const out = [];
  for (let i = 0; i < POOL; i += perDgram) {
    const lines = [];
    for (let j = i; j < i + perDgram; j++) lines.push(line(j % POOL, tags));
    out.push(Buffer.from(lines.join('\n')));
  }
  return out;
}

function heap() {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** CPU and wall seconds to push `total` lines through `ingest(buf)`: the best of REPEATS runs. */
function timeIngest(bufs, perDgram, total, ingest) {
  const rounds = Math.ceil(total / perDgram);
  const warm = Math.min(rounds, 50_000);
  for (let r = 0; r < warm; r++) ingest(bufs[r % bufs.length]);
  let best;
  for (let k = 0; k < REPEATS; k++) {
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < rounds; r++) ingest(bufs[r % bufs.length]);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    if (best === undefined || cpuSeconds < best.cpuSeconds) best = { cpuSeconds, wall };
  }
  const lines = rounds * perDgram;
  return { lines, cpuSeconds: best.cpuSeconds, wall: best.wall, perCpuSecond: lines / best.cpuSeconds };
}

async function loadSluice() {
  const { StatsdParser } = await import(pathToFileURL(join(DIST, 'protocols/statsd/parser.js')).href);
  const { StatsdAggregator } = await import(pathToFileURL(join(DIST, 'aggregation/aggregator.js')).href);
  return { StatsdParser, StatsdAggregator };
}

const SLUICE_OPTIONS = { flushIntervalMs: 10_000, percentiles: [50, 90, 95, 99], expiryMs: 300_000 };

async function sluiceMemory(tags) {
  const { StatsdParser, StatsdAggregator } = await loadSluice();
  const parser = new StatsdParser();
  const h0 = heap();
  const agg = new StatsdAggregator(SLUICE_OPTIONS, () => 0);
  const sink = {
    point: (l) => agg.add(l),
    reject: () => {
      throw new Error('bench: sluice rejected a line');
    },
  };
  for (let i = 0; i < SERIES; i++) parser.parse(Buffer.from(line(i, tags)), sink);
  const h1 = heap();
  if (agg.size !== SERIES) throw new Error(`bench: expected ${SERIES} series, got ${agg.size}`);
  let batch = agg.flush(1000);
  if (batch.length !== SERIES) throw new Error('bench: flush lost series');
  batch = undefined;
  const h2 = heap();
  // Keeps the aggregator reachable through the measurement above.
  if (agg.size !== SERIES) throw new Error('bench: series vanished');
  return { afterIngest: (h1 - h0) / SERIES, afterFlush: (h2 - h0) / SERIES };
}

/**
 * The same series as sluice holds them with ingest workers (`workers` >= 1): the worker's
 * tables (role partial) after a drain, plus the main thread's merge tables, in one heap here
 * (in the agent they are two threads' heaps; their sum is the same).
 */
async function sluiceWorkerMemory(tags) {
  const { StatsdParser, StatsdAggregator } = await loadSluice();
  const parser = new StatsdParser();
  const h0 = heap();
  const worker = new StatsdAggregator({ ...SLUICE_OPTIONS, role: 'partial' }, () => 0);
  const main = new StatsdAggregator({ ...SLUICE_OPTIONS, role: 'merging' }, () => 0);
  const sink = {
    point: (l) => worker.add(l),
    reject: () => {
      throw new Error('bench: sluice rejected a line');
    },
  };
  for (let i = 0; i < SERIES; i++) parser.parse(Buffer.from(line(i, tags)), sink);
  worker.beginDrain(1000);
  for (;;) {
    const chunk = structuredClone(worker.drainSome(4096));
    main.mergeChunk(0, chunk);
    if (chunk.last) break;
  }
  let batch = main.flush(1000);
  if (batch.length !== SERIES) throw new Error('bench: merge lost series');
  batch = undefined;
  const h1 = heap();
  if (worker.size !== SERIES || main.size !== SERIES) throw new Error('bench: series vanished');
  return { afterIngest: NaN, afterFlush: (h1 - h0) / SERIES };
}

async function sluiceSpeed() {
  const { StatsdParser, StatsdAggregator } = await loadSluice();
  const result = {};
  for (const tags of [false, true]) {
    for (const perDgram of [1, 20]) {
      const bufs = datagrams(tags, perDgram);
      const parser = new StatsdParser();
      const agg = new StatsdAggregator(SLUICE_OPTIONS, () => 0);
      let n = 0;
      const count = {
        point: () => {
          n++;
        },
        reject: () => {},
      };
      const sink = { point: (l) => agg.add(l), reject: () => {} };
      const parseOnly = timeIngest(bufs, perDgram, LINES, (b) => parser.parse(b, count));
      const full = timeIngest(bufs, perDgram, LINES, (b) => parser.parse(b, sink));
      if (n === 0 || agg.size !== POOL) throw new Error('bench: throughput run ingested nothing');
      result[`${tags ? 'tags' : 'plain'}_${perDgram}`] = { parseOnly, full };
    }
  }
  return result;
}

async function startEtsy() {
  const require = createRequire(import.meta.url);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-etsy-mem-'));
  const config = join(dir, 'config.js');
  writeFileSync(
    config,
    JSON.stringify({
      port: await freeUdpPort(),
      address: '127.0.0.1',
      mgmt_address: '127.0.0.1',
      mgmt_port: await freeTcpPort(),
      flushInterval: 3_600_000, // no flush during the measurement
      backends: [],
      title: false,
      automaticConfigReload: false,
    }),
  );
  const origLog = console.log;
  console.log = () => {}; // Etsy logs its startup to stdout, which carries this child's JSON
  process.argv[2] = config;
  require('statsd/stats.js');
  const udp = require('statsd/servers/udp.js');
  // stats.js reads its config asynchronously, then creates and binds the socket.
  for (let i = 0; i < 400 && udp.server === undefined; i++) await sleep(25);
  if (udp.server !== undefined) {
    try {
      udp.server.address();
    } catch {
      await new Promise((resolve) => udp.server.once('listening', resolve));
    }
  }
  if (!udp.server) throw new Error('bench: Etsy statsd did not start');
  console.log = origLog;
  rmSync(dir, { recursive: true, force: true });
  return udp.server;
}

const RINFO = { address: '127.0.0.1', family: 'IPv4', port: 9, size: 0 };

async function etsyMemory(tags) {
  const server = await startEtsy();
  const h0 = heap();
  for (let i = 0; i < SERIES; i++) server.emit('message', Buffer.from(line(i, tags)), RINFO);
  const h1 = heap();
  return { afterIngest: (h1 - h0) / SERIES };
}

async function etsySpeed() {
  const server = await startEtsy();
  const result = {};
  for (const tags of [false, true]) {
    for (const perDgram of [1, 20]) {
      const bufs = datagrams(tags, perDgram);
      const full = timeIngest(bufs, perDgram, LINES, (b) => server.emit('message', b, RINFO));
      result[`${tags ? 'tags' : 'plain'}_${perDgram}`] = { full };
    }
  }
  return result;
}

/**
 * Where a tagged series' bytes go on the way to the built-in Prometheus exporter, in one heap:
 * the aggregator (with a wall-clock time, as in the agent: its timestamps no longer fit V8's
 * small integers), the batch of metrics one flush builds (alive while sinks take it), and the
 * exporter's state for the series once the batch is gone.
 */
async function sluicePipelineMemory() {
  const { StatsdParser, StatsdAggregator } = await loadSluice();
  const { ExporterState } = await import(
    pathToFileURL(join(DIST, 'sinks/prometheus_exporter/state.js')).href
  );
  const NOW = 1_765_000_000_000;
  const parser = new StatsdParser();
  const h0 = heap();
  const agg = new StatsdAggregator(SLUICE_OPTIONS, () => NOW);
  const sink = {
    point: (l) => agg.add(l),
    reject: () => {
      throw new Error('bench: sluice rejected a line');
    },
  };
  for (let i = 0; i < SERIES; i++) parser.parse(Buffer.from(line(i, true)), sink);
  // A flush leaves the aggregator's own memory as it was (the rows above, "after a flush").
  const hAgg = heap();
  let batch = agg.flush(NOW + 10_000);
  if (batch.length !== SERIES) throw new Error('bench: flush lost series');
  const hBatch = heap();
  const state = new ExporterState(300_000);
  state.write(batch, NOW + 10_000);
  if (state.seriesCount !== SERIES) throw new Error('bench: the exporter lost series');
  batch = undefined;
  const hState = heap();
  if (agg.size !== SERIES || state.seriesCount !== SERIES) throw new Error('bench: series vanished');
  return {
    aggregator: (hAgg - h0) / SERIES,
    batch: (hBatch - hAgg) / SERIES,
    exporter: (hState - hAgg) / SERIES,
  };
}

const TARGETS = {
  'sluice-pipeline-memory': sluicePipelineMemory,
  'sluice-memory-tags': () => sluiceMemory(true),
  'sluice-memory-plain': () => sluiceMemory(false),
  'sluice-speed': sluiceSpeed,
  'etsy-memory-tags': () => etsyMemory(true),
  'etsy-memory-plain': () => etsyMemory(false),
  'etsy-speed': etsySpeed,
  'sluice-workers-memory-tags': () => sluiceWorkerMemory(true),
  'sluice-workers-memory-plain': () => sluiceWorkerMemory(false),
};

function fmt(n) {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-';
}

function ratio(a, b) {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '-';
}

async function main() {
  if (TARGET !== undefined) {
    if (!(TARGET in TARGETS)) throw new Error(`bench: unknown target ${TARGET}`);
    const r = await TARGETS[TARGET]();
    process.stdout.write(JSON.stringify(r) + '\n');
    process.exit(0); // Etsy's statsd keeps timers and a file watcher running
  }
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  // One process per measurement: a heap that held an earlier run skews the next one's baseline.
  const run = (target) => {
    const r = spawnSync(
      process.execPath,
      [
        '--expose-gc',
        fileURLToPath(import.meta.url),
        '--target',
        target,
        '--dist',
        DIST,
        ...(quick ? ['--quick'] : []),
      ],
      { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 300_000 },
    );
    if (r.status !== 0) throw new Error(`bench: ${target} in-process run failed (${r.status ?? r.signal})`);
    return JSON.parse(r.stdout.trim().split('\n').at(-1));
  };
  const sluice = {
    memory: { tags3: run('sluice-memory-tags'), tags0: run('sluice-memory-plain') },
    workers: { tags3: run('sluice-workers-memory-tags'), tags0: run('sluice-workers-memory-plain') },
    throughput: run('sluice-speed'),
    pipeline: run('sluice-pipeline-memory'),
  };
  const etsy = {
    memory: { tags3: run('etsy-memory-tags'), tags0: run('etsy-memory-plain') },
    throughput: run('etsy-speed'),
  };

  console.log(
    `## In-process: bytes per series (${fmt(SERIES)} unique counters) and parse+aggregate throughput\n`,
  );
  console.log(
    `${fmt(LINES)} lines over ${POOL} known series per throughput row, best of ${REPEATS}; node ${process.version}\n`,
  );
  console.log('| measure | sluice | etsy statsd | sluice/etsy |');
  console.log('|---|--:|--:|--:|');
  for (const [k, label] of [
    ['tags3', 'bytes per series (heap + ArrayBuffers), 3 tags (lower is better)'],
    ['tags0', 'bytes per series (heap + ArrayBuffers), no tags (lower is better)'],
  ]) {
    const s = sluice.memory[k];
    const e = etsy.memory[k];
    console.log(
      `| ${label} | ${fmt(s.afterIngest)} | ${fmt(e.afterIngest)} | ${ratio(s.afterIngest, e.afterIngest)} |`,
    );
    console.log(`| ${label}, after a flush | ${fmt(s.afterFlush)} | - | - |`);
    const w = sluice.workers[k];
    console.log(
      `| ${label}, ingest worker + main-thread merge, after a flush | ${fmt(w.afterFlush)} | ${fmt(e.afterIngest)} | ${ratio(w.afterFlush, e.afterIngest)} |`,
    );
  }
  const p = sluice.pipeline;
  console.log(
    `| bytes per series, 3 tags, aggregator with a wall-clock time | ${fmt(p.aggregator)} | - | - |`,
  );
  console.log(
    `| bytes per series, 3 tags, the batch a flush builds (while sinks hold it) | ${fmt(p.batch)} | - | - |`,
  );
  console.log(`| bytes per series, 3 tags, prometheus_exporter state | ${fmt(p.exporter)} | - | - |`);
  for (const tags of ['plain', 'tags']) {
    for (const perDgram of [1, 20]) {
      const k = `${tags}_${perDgram}`;
      const s = sluice.throughput[k];
      const e = etsy.throughput[k];
      const what = `${tags === 'tags' ? '3 tags' : 'no tags'}, ${perDgram} line${perDgram > 1 ? 's' : ''}/datagram`;
      console.log(`| parse only, lines per CPU-s, ${what} | ${fmt(s.parseOnly.perCpuSecond)} | - | - |`);
      console.log(
        `| parse+aggregate, lines per CPU-s, ${what} | ${fmt(s.full.perCpuSecond)} | ${fmt(e.full.perCpuSecond)} | ` +
          `${ratio(s.full.perCpuSecond, e.full.perCpuSecond)} |`,
      );
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
