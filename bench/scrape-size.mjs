// The Prometheus exporter's scrape at 100k series: time to render the page (and to gzip it) and
// its size, in text 0.0.4 and, where the build has them, OpenMetrics and protobuf (what
// Prometheus asks for with native histograms on). In process, through the
// exporter's own `handle`, on a state holding 100,000 series: counters, gauges and summaries
// (timers, 4 quantiles) in equal parts, 3 tags each. Each figure is the median of the runs; a
// state change between scrapes (one counter written) forces a fresh render, as a real scrape
// after a flush sees.
//
//   npm run build && node bench/scrape-size.mjs [--dist PATH_TO_DIST] [--series 100000] [--runs 7]
//
// `--dist` points at another build's dist/ (a worktree of an older commit) to compare.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dist: { type: 'string', default: new URL('../dist/', import.meta.url).pathname },
    series: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '7' },
  },
});
const dist = values.dist.endsWith('/') ? values.dist : values.dist + '/';
const load = (p) => import(pathToFileURL(dist + p).href);
const { PrometheusExporter } = await load('sinks/prometheus_exporter/exporter.js');
const { makeTags } = await load('core/tags.js');
const { testContext } = await load('testing/context.js');

const N = Number(values.series);
const RUNS = Number(values.runs);
const summary = (v) => ({
  count: 10,
  samples: 10,
  sum: v * 10,
  weightedSum: v * 10,
  sumSquares: v * v * 10,
  min: v,
  max: v,
  mean: v,
  median: v,
  stdev: 0,
  quantiles: [0.5, 0.9, 0.95, 0.99].map((quantile) => ({ quantile, value: v })),
});
const batch = [];
for (let i = 0; i < N; i++) {
  const tags = makeTags({
    host: `web${i % 50}`,
    route: `/api/v${i % 7}/items/${i % 1000}`,
    code: String(200 + (i % 5)),
  });
  const k = i % 3;
  const name =
    k === 0
      ? `app_requests_${i % 100}`
      : k === 1
        ? `app_queue_depth_${i % 100}`
        : `app_latency_seconds_${i % 100}`;
  batch.push(
    k === 0
      ? { kind: 'counter', temporality: 'delta', name, tags, value: i, intervalMs: 10_000, timestamp: 0 }
      : k === 1
        ? { kind: 'gauge', name, tags, value: i, timestamp: 0 }
        : { kind: 'summary', name, tags, timestamp: 0, intervalMs: 10_000, summary: summary(i / 1000) },
  );
}
// An hour's expiry, not 0: builds before 0 meant "never" expired every series at once with it.
const config = {
  listen: { host: '127.0.0.1', port: 0 },
  path: '/metrics',
  expiry: 3_600_000,
  counter_suffix: true,
  native_histograms: true,
  native_histogram_max_buckets: 0,
};
const exporter = new PrometheusExporter(config, testContext({ type: 'prometheus_exporter' }));
exporter.write(batch);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const OPENMETRICS = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5';
// Prometheus 2.42's Accept header with --enable-feature=native-histograms.
const PROTOBUF =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const rows = [];
for (const [format, accept] of [
  ['text 0.0.4', undefined],
  ['OpenMetrics', OPENMETRICS],
  ['protobuf', PROTOBUF],
]) {
  for (const gzip of [false, true]) {
    const times = [];
    let bytes = 0;
    let type = '';
    for (let r = 0; r < RUNS; r++) {
      exporter.write([batch[r % 3]]); // a new state version: the next scrape renders afresh
      const t0 = performance.now();
      const reply = await exporter.handle('GET', '/metrics', gzip ? 'gzip' : undefined, accept);
      times.push(performance.now() - t0);
      bytes = reply.body.length;
      type = reply.headers['Content-Type'];
    }
    rows.push({ format, served: type.split(';')[0], gzip, ms: median(times), bytes });
  }
}
console.log(`node ${process.version}, ${N.toLocaleString('en-US')} series, dist ${dist}, median of ${RUNS}`);
console.log('| asked for | served | gzip | render (+gzip) ms | bytes |');
console.log('|---|---|---|--:|--:|');
for (const r of rows)
  console.log(
    `| ${r.format} | ${r.served} | ${r.gzip ? 'yes' : 'no'} | ${r.ms.toFixed(1)} | ${r.bytes.toLocaleString('en-US')} |`,
  );
