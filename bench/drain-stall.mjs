// How long an ingest worker's receive loop is held by the flush and the expiry of a large table:
// 1M tagged counter series in a worker-side aggregator (role `partial`, loaded from dist/), then
// the drain of the interval in 4,096-series chunks (each chunk structured-cloned, as postMessage
// does), a drain where half the series expire, and the step-wise rebuild of the tables without
// them (1,024 series per step, as src/sources/ingest/runtime.ts runs it). Prints the longest
// chunk or step: the longest time the thread could not read its socket.
//
//   npm run build && node bench/drain-stall.mjs [--series N]
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const load = (p) => import(pathToFileURL(path.join(root, 'dist', p)).href);
const { StatsdParser } = await load('protocols/statsd/parser.js');
const { StatsdAggregator } = await load('aggregation/aggregator.js');
const { values } = parseArgs({ options: { series: { type: 'string', default: '1000000' } } });
const N = Number(values.series);

let now = 0;
const worker = new StatsdAggregator(
  { flushIntervalMs: 10_000, percentiles: [50], expiryMs: 300_000, maxSeries: 0, role: 'partial' },
  () => now,
);
const parser = new StatsdParser();
const sink = { point: (l) => worker.add(l), reject: () => {} };
const send = (step) => {
  for (let i = 0; i < N; i += step)
    parser.parse(Buffer.from(`app.req.${i % 1000}:1|c|#env:prod,host:web-${i % 50},route:/x/${i}`), sink);
};

function drain(what) {
  worker.beginDrain(now);
  let longest = 0;
  let total = 0;
  let chunks = 0;
  for (;;) {
    const t0 = performance.now();
    const chunk = structuredClone(worker.drainSome(4096));
    const ms = performance.now() - t0;
    longest = Math.max(longest, ms);
    total += ms;
    chunks++;
    if (chunk.last) break;
  }
  console.log(`| ${what} | ${chunks} chunks | ${longest.toFixed(1)} ms | ${total.toFixed(0)} ms |`);
}

console.log(`${N.toLocaleString('en-US')} tagged series, node ${process.version}\n`);
console.log('| step | pieces | longest piece | total |');
console.log('| --- | --: | --: | --: |');
send(1);
drain('first drain (every series new)');
now = 200_000;
send(2);
drain('drain, half the series updated');
now = 400_000;
drain('drain, the other half expired (marked dead)');
let longest = 0;
let total = 0;
let steps = 0;
for (;;) {
  const t0 = performance.now();
  const more = worker.compactSome(1024);
  const ms = performance.now() - t0;
  longest = Math.max(longest, ms);
  total += ms;
  steps++;
  if (!more) break;
}
console.log(
  `| rebuild without the expired series | ${steps} steps | ${longest.toFixed(1)} ms | ${total.toFixed(0)} ms |`,
);
console.log(`\nseries held after: ${worker.size.toLocaleString('en-US')}`);
