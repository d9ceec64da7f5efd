/**
 * The remote-write sink's config, its HTTP transport against a real HTTP server on 127.0.0.1
 * (what it sends, and what each status makes of the batch), and the whole sink through PushSink.
 * Prometheus itself is in remote_write.integration.test.ts.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { systemClock } from '../../core/clock.js';
import type { Metric } from '../../core/metric.js';
import { makeTags } from '../../core/tags.js';
import {
  DecodeError,
  decodeWriteRequest,
  encodeTimeSeries,
  type RwWriteRequest,
} from '../../protocols/remote_write/protobuf.js';
import { snappyUncompress } from '../../protocols/remote_write/snappy.js';
import { assertSampleDocumented, componentReadme, configIssues } from '../../testing/config.js';
import { recordingLogger, testContext } from '../../testing/context.js';
import { waitFor } from '../../testing/processes.js';
import { stat } from '../../testing/push.js';
import { PushRejected } from '../push/push.js';
import type { Payload } from '../push/queue.js';
import { HttpStatusError, HttpTransport } from './http.js';
import { prometheusRemoteWriteSink } from './index.js';
import { createRemoteWriteSink, pushConfig, requestHeaders } from './remote_write.js';
import { schema, type RemoteWriteUrl } from './schema.js';

describe('prometheus_remote_write config', () => {
  const doc = parse(prometheusRemoteWriteSink.sample) as Record<string, Record<string, unknown>>;
  const { type, ...options } = doc.remote_write ?? {};

  it('has a sample that parses, passes its schema and shows the defaults', () => {
    assert.equal(type, 'prometheus_remote_write');
    const { config, issues } = configIssues(schema, options);
    assert.deepEqual(issues, []);
    assert.deepEqual(config, configIssues(schema, {}).config);
    assert.deepEqual(config.urls, [
      { host: '127.0.0.1', port: 9090, href: 'http://127.0.0.1:9090/api/v1/write' },
    ]);
    assert.equal(config.mode, 'fanout');
  });

  it('documents every option, in the schema and in the sample', () => {
    assertSampleDocumented(prometheusRemoteWriteSink.sample, schema.fields, options);
    assert.ok(!('endpoints' in options), 'urls name the endpoints');
  });

  it('has a README that embeds the sample verbatim', () => {
    const text = componentReadme('sinks', 'prometheus_remote_write');
    assert.ok(text.includes(prometheusRemoteWriteSink.sample));
    assert.ok(text.includes('<!-- prettier-ignore -->'));
  });

  it('explains bad URLs, headers and auth', () => {
    assert.deepEqual(configIssues(schema, { urls: ['ftp://x/y'] }).issues, [
      'urls[0]: "ftp://x/y" is not an http:// or https:// URL',
    ]);
    assert.deepEqual(
      configIssues(schema, { urls: ['http://a:9090/api/v1/write', 'http://u:p@x/y'] }).issues,
      ['urls[1]: has credentials in it; use basic_auth with password_env instead'],
    );
    assert.deepEqual(configIssues(schema, { urls: ['http://x:9090/w#frag'] }).issues, [
      'urls[0]: "http://x:9090/w#frag" has a #fragment',
    ]);
    assert.deepEqual(configIssues(schema, { headers: { Authorization: 'x' } }).issues, [
      'headers: "Authorization" is set by the sink (use bearer_token_env or basic_auth)',
    ]);
    assert.deepEqual(configIssues(schema, { headers: { 'X-A': 'a\r\nInjected: 1' } }).issues, [
      'headers: the value of "X-A" is not a header value (one line of text)',
    ]);
    assert.deepEqual(
      configIssues(schema, { bearer_token_env: 'T', basic_auth: { username: 'u', password_env: 'P' } })
        .issues,
      ['basic_auth: cannot be used with bearer_token_env: a request carries one Authorization header'],
    );
    assert.deepEqual(configIssues(schema, { bearer_token_env: 'not a name' }).issues, [
      'bearer_token_env: expected an environment variable name, got "not a name"',
    ]);
    assert.deepEqual(configIssues(schema, { endpoints: ['x:1'] }).issues.length, 1);
  });

  it('derives one endpoint per URL, default ports included, and keeps the mode', () => {
    const ep = (...urls: string[]) =>
      pushConfig(configIssues(schema, { urls }).config).endpoints.map((e) => ({
        host: e.host,
        port: e.port,
      }));
    assert.deepEqual(ep('http://mimir.example:9009/api/v1/push'), [{ host: 'mimir.example', port: 9009 }]);
    assert.deepEqual(ep('https://vm.example/api/v1/write'), [{ host: 'vm.example', port: 443 }]);
    assert.deepEqual(ep('http://[::1]/api/v1/write'), [{ host: '::1', port: 80 }]);
    assert.deepEqual(ep('http://a:9090/api/v1/write', 'http://b:9090/api/v1/write'), [
      { host: 'a', port: 9090 },
      { host: 'b', port: 9090 },
    ]);
    const { config } = configIssues(schema, { urls: ['http://a/w', 'http://b/w'], mode: 'spread' });
    assert.equal(pushConfig(config).mode, 'spread');
  });

  it('takes several URLs: schemes and paths may differ, but not host:port', () => {
    // A local Prometheus over http and a remote Mimir over https, in fanout: each transport
    // uses its own URL's scheme, path and query.
    const mixed = configIssues(schema, {
      urls: ['http://127.0.0.1:9090/api/v1/write', 'https://mimir.example/api/v1/push?x=1'],
    });
    assert.deepEqual(mixed.issues, []);
    assert.deepEqual(
      mixed.config.urls.map((u) => u.href),
      ['http://127.0.0.1:9090/api/v1/write', 'https://mimir.example/api/v1/push?x=1'],
    );
    assert.deepEqual(
      configIssues(schema, { urls: ['http://a:9090/api/v1/write', 'http://A:9090/other'] }).issues,
      ['urls[1]: names a:9090 again; each URL must have a host:port of its own (use another sink)'],
    );
    // The default port is filled in before comparing.
    assert.deepEqual(
      configIssues(schema, { urls: ['https://vm.example/x', 'https://vm.example:443/y'] }).issues,
      ['urls[1]: names vm.example:443 again; each URL must have a host:port of its own (use another sink)'],
    );
    assert.deepEqual(
      configIssues(schema, { urls: ['http://[::1]:9090/a', 'http://[::1]:9091/a'] }).issues,
      [],
    );
    assert.deepEqual(configIssues(schema, { urls: [] }).issues.length, 1);
    assert.deepEqual(configIssues(schema, { mode: 'roundrobin' }).issues.length, 1);
    // One spelling only: the list.
    assert.deepEqual(configIssues(schema, { url: 'http://a/w' }).issues.length, 1);
  });

  it('reads credentials from the environment, and names a missing variable, never a value', () => {
    const { config } = configIssues(schema, { bearer_token_env: 'RW_TOKEN' });
    assert.equal(requestHeaders(config, { RW_TOKEN: 's3cret' }).Authorization, 'Bearer s3cret');
    assert.throws(() => requestHeaders(config, {}), /RW_TOKEN \(bearer_token_env\) is not set or empty/);
    const basic = configIssues(schema, {
      basic_auth: { username: 'sluice', password_env: 'RW_PASSWORD' },
    }).config;
    assert.equal(
      requestHeaders(basic, { RW_PASSWORD: 'pw' }).Authorization,
      `Basic ${Buffer.from('sluice:pw').toString('base64')}`,
    );
  });
});

/** A remote-write receiver stand-in on 127.0.0.1: records requests, answers as told. */
class Receiver {
  private server: http.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  status = 204;
  body = '';
  hang = false;
  readonly requests: { headers: http.IncomingHttpHeaders; url: string; body: Buffer }[] = [];

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests.push({ headers: req.headers, url: req.url ?? '', body: Buffer.concat(chunks) });
        if (this.hang) return;
        res.writeHead(this.status, { 'Content-Type': 'text/plain' });
        res.end(this.body);
      });
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The WriteRequest of request `i`. */
  request(i: number): RwWriteRequest {
    const r = this.requests[i];
    assert.ok(r !== undefined, `request ${i} arrived`);
    const req = decodeWriteRequest(snappyUncompress(r.body));
    assert.ok(!(req instanceof DecodeError));
    return req;
  }
}

function payloadOf(...records: Uint8Array[]): Payload {
  return {
    records,
    sizes: records.map((r) => r.length),
    points: records.length,
    bytes: records.reduce((a, r) => a + r.length, 0),
  };
}

const series = (name: string, value: number) =>
  encodeTimeSeries({ labels: [['__name__', name]], samples: [{ value, timestamp: 1000 }] });

describe('HttpTransport against an HTTP server on 127.0.0.1', () => {
  const rx = new Receiver();
  before(() => rx.start());
  after(() => rx.stop());

  function transport(addresses = ['127.0.0.1'], extra: Record<string, string> = {}): HttpTransport {
    const { config } = configIssues(schema, {
      urls: [`http://localhost:${rx.port}/api/v1/write?tenant=a`],
      headers: { 'X-Scope-OrgID': 'team-a' },
    });
    const endpoint = config.urls[0] as RemoteWriteUrl;
    return new HttpTransport(
      { endpoint, label: `localhost:${rx.port}`, addresses },
      { headers: { ...requestHeaders(config), ...extra } },
    );
  }

  it('POSTs one snappy WriteRequest per batch with the headers remote write 1.0 requires', async () => {
    rx.status = 204;
    const t = transport();
    const before = rx.requests.length;
    await t.send(payloadOf(series('a', 1), series('b', 2)));
    await t.close();
    const r = rx.requests[before];
    assert.ok(r !== undefined);
    assert.equal(r.url, '/api/v1/write?tenant=a');
    assert.equal(r.headers['content-encoding'], 'snappy');
    assert.equal(r.headers['content-type'], 'application/x-protobuf');
    assert.equal(r.headers['x-prometheus-remote-write-version'], '0.1.0');
    // The version, read from package.json beside the build ("unknown" in a build elsewhere).
    assert.match(r.headers['user-agent'] ?? '', /^sluice\/(\d+\.\d+\.\d+|unknown)$/);
    assert.equal(r.headers['x-scope-orgid'], 'team-a');
    // Connected to 127.0.0.1, the URL's host name kept for the server.
    assert.equal(r.headers.host, `localhost:${rx.port}`);
    assert.deepEqual(
      rx.request(before).timeseries.map((ts) => [ts.labels[0]?.[1], ts.samples[0]?.value]),
      [
        ['a', 1],
        ['b', 2],
      ],
    );
  });

  it('rejects 4xx as PushRejected, with the server’s reason, but retries 5xx, 429 and 408', async () => {
    const t = transport();
    rx.status = 400;
    rx.body = 'out of order sample';
    await assert.rejects(t.send(payloadOf(series('a', 1))), (e: unknown) => {
      assert.ok(e instanceof PushRejected);
      assert.equal(e.message, 'HTTP 400: out of order sample');
      return true;
    });
    for (const status of [500, 503, 429, 408]) {
      rx.status = status;
      rx.body = '';
      await assert.rejects(t.send(payloadOf(series('a', 1))), (e: unknown) => {
        assert.ok(e instanceof HttpStatusError && !(e instanceof PushRejected), String(status));
        assert.equal(e.status, status);
        return true;
      });
    }
    rx.status = 200;
    await t.send(payloadOf(series('a', 1)));
    await t.close();
  });

  it('moves on to the next address after a refused connection', async () => {
    rx.status = 204;
    // 127.0.0.2 is loopback too, but nothing listens on it at this port.
    const t = transport(['127.0.0.2', '127.0.0.1']);
    await assert.rejects(t.send(payloadOf(series('a', 1))), /ECONNREFUSED/);
    await t.send(payloadOf(series('a', 1)));
    await t.close();
  });

  it('close() ends a request the server never answers', async () => {
    rx.hang = true;
    const t = transport();
    const sent = t.send(payloadOf(series('a', 1)));
    await waitFor(() => (rx.requests.at(-1)?.body.length ? true : undefined), {
      timeoutMs: 5000,
      intervalMs: 5,
      what: 'the request to arrive',
    });
    const started = Date.now();
    await t.close();
    await assert.rejects(sent);
    assert.ok(Date.now() - started < 1000);
    rx.hang = false;
    await assert.rejects(t.send(payloadOf(series('a', 1))), /closed/);
  });
});

describe('prometheus_remote_write sink through PushSink', () => {
  const rx = new Receiver();
  before(() => rx.start());
  after(() => rx.stop());

  const gauge = (name: string, value: number): Metric => ({
    kind: 'gauge',
    name,
    tags: makeTags({ host: 'web01' }),
    value,
    timestamp: 1_700_000_000_000,
  });

  it('delivers, retries a 503 until the server accepts, drops and counts a 400, never logs the token', async () => {
    const { log, lines } = recordingLogger();
    const ctx = testContext({ clock: systemClock, type: 'prometheus_remote_write', log });
    const { config } = configIssues(schema, {
      urls: [`http://127.0.0.1:${rx.port}/api/v1/write`],
      bearer_token_env: 'RW_TEST_TOKEN',
      flush_interval: '20ms',
      retry_initial: '20ms',
      max_retry_interval: '50ms',
    });
    const sink = createRemoteWriteSink(config, ctx, { env: { RW_TEST_TOKEN: 'tok-5ecret' } });
    await sink.start();
    try {
      const first = rx.requests.length;
      rx.status = 204;
      sink.write([gauge('a', 1), gauge('b', 2)]);
      await waitFor(() => (stat(ctx, 'points_sent') === 2 ? true : undefined), {
        timeoutMs: 5000,
        what: 'delivery',
      });
      assert.equal(rx.requests[first]?.headers.authorization, 'Bearer tok-5ecret');

      rx.status = 503;
      rx.body = 'overloaded';
      sink.write([gauge('c', 3)]);
      await waitFor(() => (stat(ctx, 'retries') >= 2 ? true : undefined), {
        timeoutMs: 5000,
        what: 'retries',
      });
      rx.status = 204;
      await waitFor(() => (stat(ctx, 'points_sent') === 3 ? true : undefined), {
        timeoutMs: 5000,
        what: 'recovery',
      });

      rx.status = 400;
      rx.body = 'bad';
      sink.write([gauge('d', 4)]);
      await waitFor(() => (stat(ctx, 'dropped_metrics', { reason: 'rejected' }) === 1 ? true : undefined), {
        timeoutMs: 5000,
        what: 'the rejection',
      });
      assert.equal(stat(ctx, 'points_sent'), 3);
    } finally {
      rx.status = 204;
      rx.body = '';
      await sink.stop();
    }
    const logged = JSON.stringify(lines);
    assert.match(logged, /HTTP 503: overloaded/, 'the failure was logged');
    assert.ok(!logged.includes('tok-5ecret'), 'the token never is');
  });
});

describe('prometheus_remote_write sink with two receivers', () => {
  const rxs = [new Receiver(), new Receiver()];
  before(async () => {
    for (const rx of rxs) await rx.start();
  });
  after(async () => {
    for (const rx of rxs) await rx.stop();
  });

  const counter = (name: string, value: number, timestamp: number): Metric => ({
    kind: 'counter',
    temporality: 'delta',
    name,
    tags: makeTags({ host: 'web01' }),
    value,
    intervalMs: 1000,
    timestamp,
  });

  /** Every request each receiver got since `from`, decoded. */
  function received(from: number[]): RwWriteRequest[][] {
    return rxs.map((rx, k) => rx.requests.slice(from[k]).map((_, i) => rx.request((from[k] as number) + i)));
  }

  async function run(
    mode: 'fanout' | 'spread',
    batches: Metric[][],
  ): Promise<{ got: RwWriteRequest[][]; bodies: Buffer[][] }> {
    const ctx = testContext({ clock: systemClock, type: 'prometheus_remote_write' });
    const { config, issues } = configIssues(schema, {
      urls: rxs.map((rx) => `http://127.0.0.1:${rx.port}/api/v1/write`),
      mode,
      batch_size: 1,
      flush_interval: '10ms',
    });
    assert.deepEqual(issues, []);
    const from = rxs.map((rx) => rx.requests.length);
    const sink = createRemoteWriteSink(config, ctx);
    await sink.start();
    const points = batches.reduce((a, b) => a + b.length, 0);
    const copies = mode === 'fanout' ? rxs.length : 1;
    try {
      for (const b of batches) sink.write(b);
      await waitFor(() => (stat(ctx, 'points_sent') === points * copies ? true : undefined), {
        timeoutMs: 5000,
        what: 'delivery',
        describe: () => `sent ${stat(ctx, 'points_sent')} of ${points * copies}`,
      });
    } finally {
      await sink.stop();
    }
    assert.equal(stat(ctx, 'dropped_metrics'), 0);
    return {
      got: received(from),
      bodies: rxs.map((rx, k) => rx.requests.slice(from[k]).map((r) => r.body)),
    };
  }

  it('fanout: each receiver gets the same requests, cumulative values and metadata included', async () => {
    const t = 1_700_000_000_000;
    const { got, bodies } = await run('fanout', [
      [counter('hits', 3, t)],
      [counter('hits', 4, t + 1000)],
      [counter('misses', 1, t + 1000)],
    ]);
    // The encoder ran once per metric: both got the very same bytes, in the same order.
    assert.deepEqual(bodies[0], bodies[1]);
    const samples = (reqs: RwWriteRequest[]) =>
      reqs.flatMap((r) => r.timeseries.map((ts) => [ts.labels[0]?.[1], ts.samples[0]?.value]));
    for (const reqs of got) {
      assert.deepEqual(samples(reqs), [
        ['hits_total', 3],
        ['hits_total', 7],
        ['misses_total', 1],
      ]);
      // metadata_interval (1m) holds for each receiver: each family's metadata with its first sample.
      assert.deepEqual(
        reqs.map((r) => r.metadata.map((m) => m.family)),
        [['hits_total'], [], ['misses_total']],
      );
    }
  });

  it('spread: each metric reaches one receiver, and both take turns', async () => {
    const t = 1_700_000_000_000;
    const batches = Array.from({ length: 20 }, (_, i) => [counter(`c${i}`, i + 1, t)]);
    const { got } = await run('spread', batches);
    const [a = [], b = []] = got.map((reqs) =>
      reqs.flatMap((r) => r.timeseries.map((ts) => ts.labels[0]?.[1])),
    );
    assert.ok(a.length > 0 && b.length > 0, `both took batches: ${JSON.stringify([a, b])}`);
    const all = [...a, ...b].sort();
    assert.deepEqual(all, Array.from({ length: 20 }, (_, i) => `c${i}_total`).sort());
  });
});
