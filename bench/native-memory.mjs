// Memory of native histograms in the Prometheus exporter: bytes per distribution series held,
// with native buckets kept (after a protobuf scrape) and without (text scrapes only). 10,000
// series, each one interval of 200 seeded lognormal latencies (median 50 ms, σ 1.5), which span
// about 940 buckets of schema 6. Heap plus ArrayBuffer memory, after a full GC.
//
//   npm run build && node --expose-gc bench/native-memory.mjs
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const dist = new URL('../dist/', import.meta.url).pathname;
const load = (p) => import(pathToFileURL(dist + p).href);
const { PrometheusExporter } = await load('sinks/prometheus_exporter/exporter.js');
const { DDSketch } = await load('aggregation/sketch.js');
const { makeTags } = await load('core/tags.js');
const { testContext } = await load('testing/context.js');
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');

const N = 10_000;
let seed = 1;
const random = () => {
  seed = (seed * 16807) % 2147483647;
  return seed / 2147483647;
};
const batch = [];
let span = 0;
for (let i = 0; i < N; i++) {
  const s = new DDSketch();
  for (let k = 0; k < 200; k++) {
    const g = Math.sqrt(-2 * Math.log(random())) * Math.cos(2 * Math.PI * random());
    s.add(Math.exp(Math.log(0.05) + 1.5 * g));
  }
  const distribution = s.snapshot([50, 99]);
  span += distribution.exponential().positive.counts.length;
  batch.push({
    kind: 'distribution',
    name: 'lat_seconds',
    tags: makeTags({ route: `/r/${i}` }),
    timestamp: 0,
    intervalMs: 10_000,
    distribution,
  });
}
const NATIVE_ACCEPT =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited';
const used = () => {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
console.log(
  `node ${process.version}, ${N.toLocaleString('en-US')} distribution series, ${(span / N).toFixed(0)} buckets spanned each`,
);
console.log('| scraped as | bytes per series | write ms |');
console.log('|---|--:|--:|');
const keep = [];
for (const protobuf of [false, true]) {
  const before = used();
  const exporter = new PrometheusExporter(
    {
      listen: { host: '127.0.0.1', port: 0 },
      path: '/metrics',
      expiry: 3_600_000,
      counter_suffix: true,
      native_histograms: true,
      native_histogram_max_buckets: 0,
    },
    testContext({ type: 'prometheus_exporter' }),
  );
  await exporter.handle('GET', '/metrics', undefined, protobuf ? NATIVE_ACCEPT : 'text/plain');
  const t0 = performance.now();
  exporter.write(batch);
  const ms = performance.now() - t0;
  await exporter.handle('GET', '/metrics', undefined, protobuf ? NATIVE_ACCEPT : 'text/plain');
  keep.push(exporter);
  const bytes = (used() - before) / N;
  console.log(
    `| ${protobuf ? 'protobuf (native kept)' : 'text only'} | ${bytes.toFixed(0)} | ${ms.toFixed(1)} |`,
  );
}
