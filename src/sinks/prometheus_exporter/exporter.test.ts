import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { ManualClock } from '../../core/clock.js';
import { HistogramAccumulator } from '../../aggregation/histogram.js';
import type { GaugeMetric, HistogramMetric, Metric } from '../../core/metric.js';
import { makeTags } from '../../core/tags.js';
import { recordingLogger, testContext } from '../../testing/context.js';
import { acceptsGzip, CONTENT_TYPE, PrometheusExporter } from './exporter.js';
import type { PrometheusExporterConfig } from './schema.js';
import { prometheusExporterSink } from './index.js';
import type { Issue } from '../../config/schema.js';
import { DDSketch } from '../../aggregation/sketch.js';
import { decodeExposition, PROTO_TYPES, PROTOBUF_CONTENT_TYPE } from '../../protocols/prometheus/protobuf.js';

const CONFIG: PrometheusExporterConfig = {
  listen: { host: '127.0.0.1', port: 0 },
  path: '/metrics',
  expiry: 300_000,
  counter_suffix: true,
  native_histograms: true,
  native_histogram_max_buckets: 0,
  web_config_file: undefined,
};

function gauge(name: string, value: number, tags: Record<string, string> = {}): GaugeMetric {
  return { kind: 'gauge', name, tags: makeTags(tags), value, timestamp: 0 };
}

function setup(config: Partial<PrometheusExporterConfig> = {}) {
  const clock = new ManualClock();
  const { log, lines } = recordingLogger();
  const ctx = testContext({ clock, log, type: 'prometheus_exporter' });
  const exporter = new PrometheusExporter({ ...CONFIG, ...config }, ctx);
  return { clock, ctx, exporter, lines };
}

describe('acceptsGzip', () => {
  const cases: [string | undefined, boolean][] = [
    [undefined, false],
    ['', false],
    ['gzip', true],
    ['GZIP', true],
    ['identity', false],
    ['deflate, gzip;q=0.5', true],
    ['gzip;q=0', false],
    ['gzip; q=0.0, br', false],
    ['x-gzip', false],
    ['br,gzip', true],
  ];
  for (const [header, want] of cases) {
    it(`${JSON.stringify(header)} → ${want}`, () => assert.equal(acceptsGzip(header), want));
  }
});

describe('PrometheusExporter.handle', () => {
  it('serves the page with the exposition content type', async () => {
    const { exporter } = setup();
    exporter.write([gauge('temp', 21, { room: 'a' })]);
    const reply = await exporter.handle('GET', '/metrics', undefined);
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['Content-Type'], CONTENT_TYPE);
    assert.equal(reply.headers['Vary'], 'Accept, Accept-Encoding');
    assert.equal(reply.headers['Content-Encoding'], undefined);
    assert.equal(reply.body.toString(), '# HELP temp Gauge temp.\n# TYPE temp gauge\ntemp{room="a"} 21\n');
    assert.equal(reply.headers['Content-Length'], String(reply.body.length));
  });

  it('gzips when the scraper accepts it', async () => {
    const { exporter } = setup();
    exporter.write([gauge('temp', 21)]);
    const plain = (await exporter.handle('GET', '/metrics', undefined)).body.toString();
    const reply = await exporter.handle('GET', '/metrics?x=1', 'gzip, deflate');
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['Content-Encoding'], 'gzip');
    assert.equal(reply.headers['Vary'], 'Accept, Accept-Encoding');
    assert.equal(reply.headers['Content-Length'], String(reply.body.length));
    assert.equal(gunzipSync(reply.body).toString(), plain);
  });

  it('renders again after a write, and reuses the page until then', async () => {
    const { exporter } = setup();
    exporter.write([gauge('g', 1)]);
    const a = await exporter.handle('GET', '/metrics', 'gzip');
    const b = await exporter.handle('GET', '/metrics', 'gzip');
    assert.equal(a.body, b.body);
    exporter.write([gauge('g', 2)]);
    const c = await exporter.handle('GET', '/metrics', 'gzip');
    assert.match(gunzipSync(c.body).toString(), /^g 2$/m);
  });

  it('answers HEAD with the headers and no body', async () => {
    const { exporter } = setup();
    exporter.write([gauge('g', 1)]);
    const get = await exporter.handle('GET', '/metrics', undefined);
    const head = await exporter.handle('HEAD', '/metrics', undefined);
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['Content-Length'], String(get.body.length));
    assert.equal((await exporter.handle('HEAD', '/', undefined)).body.length, 0);
  });

  it('points at the metrics path from /', async () => {
    const { exporter } = setup({ path: '/stats' });
    const reply = await exporter.handle('GET', '/', undefined);
    assert.equal(reply.status, 200);
    assert.match(reply.body.toString(), /\/stats/);
  });

  it('answers 404 elsewhere and 405 to other methods', async () => {
    const { exporter } = setup();
    assert.equal((await exporter.handle('GET', '/metric', undefined)).status, 404);
    assert.equal((await exporter.handle('GET', '/metrics/x', undefined)).status, 404);
    const post = await exporter.handle('POST', '/metrics', undefined);
    assert.equal(post.status, 405);
    assert.equal(post.headers['Allow'], 'GET, HEAD');
    assert.equal((await exporter.handle('DELETE', '/', undefined)).status, 405);
  });

  it('drops expired series at scrape time, using the context clock', async () => {
    const { exporter, clock } = setup({ expiry: 60_000 });
    exporter.write([gauge('old', 1)]);
    clock.advance(30_000);
    exporter.write([gauge('new', 1)]);
    clock.advance(30_000);
    const page = (await exporter.handle('GET', '/metrics', undefined)).body.toString();
    assert.doesNotMatch(page, /old/);
    assert.match(page, /^new 1$/m);
  });

  it('with expiry 0 keeps a counter for good: one that comes back after a day continues its total', async () => {
    const { exporter, clock } = setup({ expiry: 0 });
    const requests = (value: number): Metric => ({
      kind: 'counter',
      temporality: 'delta',
      name: 'requests',
      tags: makeTags({}),
      value,
      intervalMs: 10_000,
      timestamp: clock.now(),
    });
    exporter.write([requests(5)]);
    clock.advance(86_400_000);
    const idle = (await exporter.handle('GET', '/metrics', undefined)).body.toString();
    assert.match(idle, /^requests_total 5$/m, 'still there after a day without writes');
    exporter.write([requests(2)]);
    const back = (await exporter.handle('GET', '/metrics', undefined)).body.toString();
    assert.match(back, /^requests_total 7$/m, 'no reset: Prometheus sees 5 then 7');
  });

  it('exports a sampled timer so that _sum / _count is its mean (x:20|ms|@0.5 twice)', async () => {
    const { exporter } = setup();
    exporter.write([
      {
        kind: 'summary',
        name: 'x',
        tags: makeTags({}),
        timestamp: 0,
        intervalMs: 10_000,
        summary: {
          count: 4,
          samples: 2,
          sum: 40,
          weightedSum: 80,
          sumSquares: 800,
          min: 20,
          max: 20,
          mean: 20,
          median: 20,
          stdev: 0,
          quantiles: [{ quantile: 0.5, value: 20 }],
        },
      },
    ]);
    const page = (await exporter.handle('GET', '/metrics', undefined)).body.toString();
    assert.match(page, /^x_sum 80$/m);
    assert.match(page, /^x_count 4$/m);
  });

  it('answers OpenMetrics when the scraper asks for it: _total samples, _created, UNIT, # EOF', async () => {
    const { exporter, clock } = setup();
    exporter.write([
      {
        kind: 'counter',
        temporality: 'delta',
        name: 'jobs.done',
        tags: makeTags({ queue: 'mail' }),
        value: 3,
        intervalMs: 10_000,
        timestamp: 0,
      },
      { ...gauge('queue_bytes', 5), help: 'Queue "size"' },
    ]);
    const prometheus =
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
    const om = await exporter.handle('GET', '/metrics', undefined, prometheus);
    assert.equal(om.headers['Content-Type'], 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    assert.equal(
      om.body.toString(),
      [
        '# HELP jobs_done Counter jobs.done.',
        '# TYPE jobs_done counter',
        'jobs_done_total{queue="mail"} 3',
        `jobs_done_created{queue="mail"} ${clock.now() / 1000}`,
        '# HELP queue_bytes Queue \\"size\\"',
        '# TYPE queue_bytes gauge',
        '# UNIT queue_bytes bytes',
        'queue_bytes 5',
        '# EOF',
        '',
      ].join('\n'),
    );
    const plain = await exporter.handle('GET', '/metrics', undefined, 'text/plain;version=0.0.4');
    assert.equal(plain.headers['Content-Type'], CONTENT_TYPE);
    assert.match(plain.body.toString(), /^jobs_done_total\{queue="mail"\} 3$/m);
  });

  it('answers protobuf when Prometheus asks for it (native histograms on): distributions as native histograms', async () => {
    const { exporter } = setup();
    const sketch = new DDSketch();
    for (const v of [0, 1, 1.2, 1.4, 1.8, 2]) sketch.add(v);
    const nativeAccept =
      'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
    // Native buckets are kept from the first protobuf scrape on (text-only scrapers never pay).
    const before = decodeExposition((await exporter.handle('GET', '/metrics', undefined, nativeAccept)).body);
    assert.deepEqual(before, []);
    exporter.write([
      gauge('queue_bytes', 5, { q: 'a"b' }),
      {
        kind: 'distribution',
        name: 'lat',
        tags: makeTags({ host: 'h' }),
        timestamp: 0,
        intervalMs: 10_000,
        distribution: sketch.snapshot([99]),
      },
    ]);
    const reply = await exporter.handle('GET', '/metrics', undefined, nativeAccept);
    assert.equal(reply.headers['Content-Type'], PROTOBUF_CONTENT_TYPE);
    const families = decodeExposition(reply.body);
    assert.ok(Array.isArray(families));
    assert.deepEqual(
      families.map((f) => [f.name, f.type]),
      [
        ['lat', PROTO_TYPES.histogram],
        ['queue_bytes', PROTO_TYPES.gauge],
      ],
    );
    const lat = families[0]!.metrics[0]!;
    assert.deepEqual(lat.labels, [['host', 'h']]);
    assert.equal(lat.histogram?.sampleCount, 6);
    assert.equal(lat.histogram?.schema, 6);
    assert.equal(lat.histogram?.zeroCount, 1);
    assert.deepEqual(families[1]!.metrics[0]!.labels, [['q', 'a"b']]);
    // The text formats keep the summary; native_histograms: false never serves protobuf.
    const text = await exporter.handle('GET', '/metrics', undefined, 'text/plain');
    assert.match(text.body.toString(), /^lat\{host="h",quantile="0.99"\} /m);
    const off = setup({ native_histograms: false }).exporter;
    const om = await off.handle('GET', '/metrics', undefined, nativeAccept);
    assert.match(om.headers['Content-Type'] ?? '', /^application\/openmetrics-text/);
  });

  it('keeps no native buckets while only text is scraped (they cost memory per bucket)', async () => {
    const { exporter } = setup();
    const sketch = new DDSketch();
    sketch.add(1);
    await exporter.handle('GET', '/metrics', undefined, 'text/plain');
    const d = {
      kind: 'distribution' as const,
      name: 'lat',
      tags: [],
      timestamp: 0,
      intervalMs: 10_000,
      distribution: sketch.snapshot([99]),
    };
    exporter.write([d]);
    assert.equal(exporter.state.listFamilies()[0]?.series[0]?.native, null);
  });

  it('serves text to an OpenMetrics scraper when a counter and a gauge share a name there', async () => {
    const { exporter, ctx } = setup();
    exporter.write([
      { kind: 'counter', temporality: 'delta', name: 'x', tags: [], value: 1, intervalMs: 0, timestamp: 0 },
      gauge('x', 2),
    ]);
    const reply = await exporter.handle('GET', '/metrics', undefined, 'application/openmetrics-text');
    assert.equal(reply.headers['Content-Type'], CONTENT_TYPE);
    assert.equal(ctx.stats.total('openmetrics_fallbacks'), 1);
  });

  it('refuses an expiry under a second other than 0, and says 0 means never', () => {
    const issues: Issue[] = [];
    prometheusExporterSink.schema.parse({ type: 'prometheus_exporter', expiry: '500ms' }, [], issues);
    assert.match(issues[0]?.message ?? '', /at least 1000 ms \(or 0: never\)/);
  });

  it('counts rejected metrics by reason and logs each reason at most once a minute', () => {
    const { exporter, ctx, clock, lines } = setup();
    const conflicting: Metric[] = [
      {
        kind: 'counter',
        temporality: 'delta',
        name: 'x',
        tags: makeTags({}),
        value: 1,
        intervalMs: 0,
        timestamp: 0,
      },
      gauge('x_total', 1),
      gauge('x_total', 2),
    ];
    exporter.write(conflicting);
    exporter.write([gauge('x_total', 3)]);
    const dropped = (reason: string): number =>
      ctx.stats
        .toMetrics(0)
        .filter(
          (m) =>
            m.name === 'sluice_dropped_metrics' && m.tags.some((t) => t[0] === 'reason' && t[1] === reason),
        )
        .reduce((sum, m) => sum + (m.kind === 'counter' ? m.value : 0), 0);
    assert.equal(dropped('type_conflict'), 3);
    assert.equal(dropped('name_conflict'), 0);
    assert.equal(lines.filter((l) => l.level === 'warn').length, 1);
    clock.advance(60_000);
    exporter.write([gauge('x_total', 4)]);
    assert.equal(lines.filter((l) => l.level === 'warn').length, 2);
    assert.equal(lines[0]?.reason, 'type_conflict');
  });

  it('counts histogram series that restart because their bins changed, logging once a minute', () => {
    const { exporter, ctx, clock, lines } = setup();
    const histogram = (bounds: number[]): HistogramMetric => {
      const acc = new HistogramAccumulator(bounds);
      acc.add(1);
      return {
        kind: 'histogram',
        name: 'h',
        tags: makeTags({}),
        timestamp: 0,
        intervalMs: 0,
        histogram: acc.snapshot(),
      };
    };
    exporter.write([histogram([1, 2])]);
    exporter.write([histogram([1, 3])]);
    exporter.write([histogram([1, 2])]);
    const resets = ctx.stats.toMetrics(0).find((m) => m.name === 'sluice_bucket_layout_resets');
    assert.equal(resets?.kind === 'counter' ? resets.value : undefined, 2);
    assert.equal(lines.filter((l) => l.level === 'warn').length, 1);
    assert.equal(lines[0]?.metric, 'h');
    clock.advance(60_000);
    exporter.write([histogram([5])]);
    assert.equal(lines.filter((l) => l.level === 'warn').length, 2);
  });
});

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  agent?: Agent,
  method = 'GET',
) {
  return new Promise<RawResponse>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('PrometheusExporter over HTTP', () => {
  it('listens on port 0, serves scrapes, and stops with a keep-alive connection open', async () => {
    const { exporter, lines } = setup();
    await exporter.start();
    const agent = new Agent({ keepAlive: true });
    try {
      assert.ok(exporter.port > 0);
      const info = lines.find((l) => l.level === 'info');
      assert.equal(info?.url, `http://127.0.0.1:${exporter.port}/metrics`);
      assert.equal(info?.port, exporter.port);
      assert.equal(lines.filter((l) => l.level === 'info').length, 1);
      exporter.write([gauge('temp', 21)]);
      const plain = await get(exporter.port, '/metrics', {}, agent);
      assert.equal(plain.status, 200);
      assert.equal(plain.headers['content-type'], CONTENT_TYPE);
      assert.equal(plain.body.toString(), '# HELP temp Gauge temp.\n# TYPE temp gauge\ntemp 21\n');
      const gz = await get(exporter.port, '/metrics', { 'Accept-Encoding': 'gzip' }, agent);
      assert.equal(gz.headers['content-encoding'], 'gzip');
      assert.equal(gunzipSync(gz.body).toString(), plain.body.toString());
      const head = await get(exporter.port, '/metrics', {}, agent, 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      assert.equal((await get(exporter.port, '/nope', {}, agent)).status, 404);
      assert.equal((await get(exporter.port, '/metrics', {}, agent, 'POST')).status, 405);
    } finally {
      // The agent still holds an idle connection: stop() must not wait for it to time out.
      await exporter.stop();
      agent.destroy();
    }
  });

  it('rejects start when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const { exporter } = setup({ listen: { host: '127.0.0.1', port } });
      await assert.rejects(exporter.start(), /EADDRINUSE/);
      await exporter.stop();
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('stops cleanly when it never started', async () => {
    const { exporter } = setup();
    await exporter.stop();
  });
});
