// What a new series costs the StatsD aggregator, against a line of a known series: the new-series
// path (decode, canonical key, mapping, tables) runs once per series, so a burst of distinct
// series (a tag with a request id in it, random names) is paid there.
//
// Run with `node --expose-gc bench/new-series.mjs [--series N] [--max-series N] [--dist DIR]`
// after `npx tsc -p tsconfig.json`. Loads the compiled parser and aggregator from dist/, and
// prints lines per CPU-second (best of 3) for
//   new:     N lines, each creating a distinct tagged series (fresh aggregator each run);
//   known:   N lines cycling over 1000 series already held;
//   refused: N lines of distinct series past a full budget (with --max-series; default N / 2),
// and heap + ArrayBuffer bytes per series held after the `new` run (needs --expose-gc).
// `--only new` runs just the first part, for `node --cpu-prof` of the new-series path alone.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const DIST = resolve(option('--dist', join(ROOT, 'dist')));
const SERIES = Number(option('--series', 1_000_000));
const BUDGET = Number(option('--max-series', SERIES / 2));
const ONLY_NEW = option('--only', '') === 'new';
const KNOWN = 1000;
const PER_DATAGRAM = 20;
const REPEATS = 3;

const { StatsdParser } = await import(pathToFileURL(join(DIST, 'protocols/statsd/parser.js')).href);
const { StatsdAggregator } = await import(pathToFileURL(join(DIST, 'aggregation/aggregator.js')).href);

/** Counter line of series i: 100 names × 100 hosts × a unique route, 3 tags (as series-memory.mjs). */
function line(i, offset = 0) {
  return `app.metric_${i % 100}:1|c|#env:prod,host:web-${Math.floor(i / 100) % 100},route:/api/v1/items/${i + offset}`;
}

/** Datagrams of PER_DATAGRAM lines: series i for i in [0, count), or cycling over `pool` series. */
function datagrams(count, pool = count, offset = 0) {
  const out = [];
  for (let i = 0; i < count; i += PER_DATAGRAM) {
    const lines = [];
    for (let j = i; j < Math.min(count, i + PER_DATAGRAM); j++) lines.push(line(j % pool, offset));
    out.push(Buffer.from(lines.join('\n')));
  }
  return out;
}

function heap() {
  if (globalThis.gc === undefined) return NaN;
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const OPTIONS = { flushIntervalMs: 10_000, percentiles: [50, 90, 95, 99], expiryMs: 300_000 };

function ingest(agg, bufs) {
  const parser = new StatsdParser();
  const outcome = { accepted: 0, refused: 0 };
  const sink = {
    point: (l) => {
      if (agg.add(l) === undefined) outcome.accepted++;
      else outcome.refused++;
    },
    reject: () => {
      throw new Error('bench: the parser rejected a line');
    },
  };
  const cpu0 = process.cpuUsage();
  for (const b of bufs) parser.parse(b, sink);
  const cpu = process.cpuUsage(cpu0);
  return { ...outcome, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

function best(runs) {
  return runs.reduce((a, b) => (b.cpuSeconds < a.cpuSeconds ? b : a));
}

const fresh = datagrams(SERIES);
const rate = (r) => Math.round((r.accepted + r.refused) / r.cpuSeconds).toLocaleString('en-US');

// New series: a fresh aggregator per run, so every line creates one.
const newRuns = [];
let bytesPerSeries = NaN;
for (let k = 0; k < REPEATS; k++) {
  const h0 = heap();
  const agg = new StatsdAggregator(OPTIONS, () => 0);
  const r = ingest(agg, fresh);
  if (agg.size !== SERIES) throw new Error(`bench: expected ${SERIES} series, got ${agg.size}`);
  // Only the first run: V8 may keep the previous run's aggregator alive past its iteration.
  if (k === 0) bytesPerSeries = (heap() - h0) / agg.size;
  newRuns.push(r);
}

if (ONLY_NEW) {
  console.log(`new series (distinct, 3 tags)   ${rate(best(newRuns)).padStart(12)} lines per CPU-s`);
  process.exit(0);
}

// Known series: warmed up once, then every line finds its series by its raw bytes.
const knownAgg = new StatsdAggregator(OPTIONS, () => 0);
const known = datagrams(SERIES, KNOWN);
ingest(knownAgg, known);
const knownRuns = [];
for (let k = 0; k < REPEATS; k++) knownRuns.push(ingest(knownAgg, known));

// Refused: a full budget, then distinct series past it.
let refused;
if (BUDGET > 0) {
  const probe = new StatsdAggregator({ ...OPTIONS, maxSeries: BUDGET }, () => 0);
  if ('maxSeries' in probe || ingest(probe, datagrams(BUDGET + 1)).refused === 1) {
    const runs = [];
    const past = datagrams(SERIES, SERIES, BUDGET);
    for (let k = 0; k < REPEATS; k++) {
      const agg = new StatsdAggregator({ ...OPTIONS, maxSeries: BUDGET }, () => 0);
      ingest(agg, datagrams(BUDGET));
      runs.push(ingest(agg, past));
    }
    refused = best(runs);
  }
}

console.log(`node ${process.version}, ${SERIES.toLocaleString('en-US')} lines, ${PER_DATAGRAM} per datagram`);
console.log(`new series (distinct, 3 tags)   ${rate(best(newRuns)).padStart(12)} lines per CPU-s`);
console.log(`known series (${KNOWN} held)       ${rate(best(knownRuns)).padStart(12)} lines per CPU-s`);
if (refused !== undefined)
  console.log(`refused (past max_series ${BUDGET})  ${rate(refused).padStart(12)} lines per CPU-s`);
else console.log('refused: this build has no max_series');
console.log(`bytes per series (heap + ArrayBuffers) ${Math.round(bytesPerSeries)}`);
