import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import http from 'node:http';
import { after, describe, it } from 'node:test';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { parse } from 'yaml';
import { systemClock } from '../../core/clock.js';
import type { Metric } from '../../core/metric.js';
import { makeTags } from '../../core/tags.js';
import { assertSampleDocumented, componentReadme, configIssues, parseConfig } from '../../testing/config.js';
import { testContext } from '../../testing/context.js';
import { parseInfluxLines } from '../../testing/influxdb-line.js';
import { stat } from '../../testing/push.js';
import { PushRejected, type Target } from '../push/push.js';
import type { Payload } from '../push/queue.js';
import { partialWriteCount, HttpTransport, type HttpOptions } from './http.js';
import { createInfluxdbSink } from './influxdb.js';
import { influxdbSink } from './index.js';
import { parseInfluxUrl, schema, type InfluxUrl } from './schema.js';
import { packDatagrams, UdpTransport } from './udp.js';

const TS = Date.UTC(2026, 10, 21, 12, 0, 0);

function gauge(name: string, value: number, tags: Record<string, string> = {}): Metric {
  return { kind: 'gauge', name, tags: makeTags(tags), value, timestamp: TS };
}

function payload(records: string[]): Payload {
  const sizes = records.map((r) => Buffer.byteLength(r));
  return { records, sizes, points: records.length, bytes: sizes.reduce((a, b) => a + b, 0) };
}

describe('influxdb sink config', () => {
  const doc = parse(influxdbSink.sample) as Record<string, Record<string, unknown>>;
  const { type, ...options } = doc.influxdb ?? {};

  it('has a sample that parses, passes its schema and shows the defaults', () => {
    assert.equal(type, 'influxdb');
    assert.ok(influxdbSink.sample.startsWith('  influxdb:\n    type: influxdb\n'));
    const { config: c, issues } = configIssues(schema, options);
    assert.deepEqual(issues, []);
    assert.deepEqual(c, configIssues(schema, {}).config);
    assert.ok(!('endpoints' in options), 'urls replaces endpoints');
  });

  it('documents every option, in the schema and in the sample', () => {
    assertSampleDocumented(influxdbSink.sample, schema.fields, options);
  });

  it('has a README that embeds the sample verbatim', () => {
    const text = componentReadme('sinks', 'influxdb');
    assert.ok(text.includes(`<!-- prettier-ignore -->\n\`\`\`yaml\nsinks:\n${influxdbSink.sample}\`\`\``));
  });

  it('parses URLs as Telegraf writes them', () => {
    const cases: [string, InfluxUrl | string][] = [
      ['udp://127.0.0.1:8089', { scheme: 'udp', host: '127.0.0.1', port: 8089, path: '' }],
      ['udp://influx.example.com', { scheme: 'udp', host: 'influx.example.com', port: 8089, path: '' }],
      ['http://[::1]:9999', { scheme: 'http', host: '::1', port: 9999, path: '' }],
      ['HTTPS://influx:443/proxy/', { scheme: 'https', host: 'influx', port: 443, path: '/proxy' }],
      ['http://localhost', { scheme: 'http', host: 'localhost', port: 8086, path: '' }],
    ];
    for (const [text, want] of cases) assert.deepEqual(parseInfluxUrl(text), want, text);
    for (const bad of [
      'tcp://x:1',
      'x:8086',
      'http://u:p@x:8086',
      'udp://x:1/path',
      'http://x:8086/?db=a',
      'http://x:0',
    ])
      assert.equal(typeof parseInfluxUrl(bad), 'string', bad);
  });

  it('refuses what cannot work, naming the option', () => {
    assert.deepEqual(configIssues(schema, { urls: ['udp://a:1', 'http://b:2'] }).issues, [
      'urls: mixes udp:// and http(s):// URLs; use one influxdb sink for each',
    ]);
    assert.deepEqual(configIssues(schema, { api: 'v2' }).issues, [
      'organization: is required with api: v2',
      'bucket: is required with api: v2',
    ]);
    assert.match(
      configIssues(schema, { api: 'v2', urls: ['udp://a'], organization: 'o', bucket: 'b' }).issues[0] ?? '',
      /^api: /,
    );
    assert.match(
      configIssues(schema, { urls: ['http://a:1', 'https://a:1'] }).issues[0] ?? '',
      /^urls\[1\]: names a:1 twice/,
    );
    assert.match(configIssues(schema, { urls: ['http://u:secret@a'] }).issues[0] ?? '', /holds credentials/);
    assert.match(configIssues(schema, { udp_payload: 70_000 }).issues[0] ?? '', /^udp_payload: /);
  });
});

describe('packDatagrams', () => {
  const line = fc
    .tuple(fc.string({ unit: fc.constantFrom('a', 'é', '水', ' ', ','), minLength: 1, maxLength: 80 }))
    .map(([s]) => s.replace(/\n/g, '') + '\n');
  // A record is one line, or several (a point split into lines).
  const record = fc.array(line, { minLength: 1, maxLength: 4 }).map((ls) => ls.join(''));

  it('never exceeds the payload but for a lone long line, keeps every line whole, loses nothing', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 60 }), fc.integer({ min: 1, max: 600 }), (records, max) => {
        const datagrams = packDatagrams(records, max);
        assert.equal(Buffer.concat(datagrams).toString('utf8'), records.join(''));
        for (const d of datagrams) {
          assert.ok(d.length > 0);
          assert.equal(d[d.length - 1], 0x0a, 'ends with a whole line');
          const lines = d.toString('utf8').split('\n').length - 1;
          if (d.length > max) assert.equal(lines, 1, 'only a single line may exceed the payload');
        }
        // Greedy: two neighbours could not have shared a datagram.
        for (let i = 1; i < datagrams.length; i++) {
          const prev = datagrams[i - 1] as Buffer;
          const first = (datagrams[i] as Buffer).indexOf(0x0a) + 1;
          assert.ok(prev.length + first > max);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

/** A UDP socket on 127.0.0.1 that keeps the datagrams it receives. */
async function udpReceiver(): Promise<{ socket: dgram.Socket; port: number; got: Buffer[] }> {
  const socket = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  socket.on('message', (m) => got.push(m));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { socket, port: socket.address().port, got };
}

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function udpTarget(port: number): Target {
  return {
    endpoint: { host: '127.0.0.1', port, scheme: 'udp', path: '' } as InfluxUrl,
    label: `127.0.0.1:${port}`,
    addresses: ['127.0.0.1'],
  };
}

describe('UDP transport', () => {
  it('sends a batch as datagrams of whole lines within the payload size', async () => {
    const r = await udpReceiver();
    const t = new UdpTransport(udpTarget(r.port), 100);
    const records = Array.from({ length: 30 }, (_, i) => `m,host=h${i} value=${i} ${TS}000000\n`);
    await t.send(payload(records));
    await until(() => Buffer.concat(r.got).length === Buffer.byteLength(records.join('')), 'every byte');
    assert.ok(r.got.length > 1);
    for (const d of r.got) assert.ok(d.length <= 100, `a datagram of ${d.length} bytes`);
    assert.equal(parseInfluxLines(Buffer.concat(r.got).toString()).length, 30);
    await t.close();
    r.socket.close();
  });

  it('reports a closed port (ICMP port unreachable) on a later send', async () => {
    const r = await udpReceiver();
    const port = r.port;
    await new Promise<void>((resolve) => r.socket.close(resolve));
    const t = new UdpTransport(udpTarget(port), 512);
    let failed: unknown;
    // The first datagram goes out; the kernel reports the refusal on the socket afterwards.
    for (let i = 0; i < 20 && failed === undefined; i++) {
      try {
        await t.send(payload([`m value=${i}\n`]));
      } catch (e) {
        failed = e;
      }
      await new Promise((res) => setTimeout(res, 10));
    }
    assert.match(String(failed), /ECONNREFUSED/);
    await t.close();
  });
});

/** An HTTP server on 127.0.0.1 that records requests and answers as told. */
class Recorder {
  readonly requests: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  answer: (body: string) => { status: number; body?: string } = () => ({ status: 204 });
  private server: http.Server | undefined;
  port = 0;

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let raw = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') raw = zlib.gunzipSync(raw);
        const body = raw.toString('utf8');
        this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        const a = this.answer(body);
        res.writeHead(a.status, { 'Content-Type': 'application/json' });
        res.end(a.body ?? '');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

const recorders: Recorder[] = [];
after(async () => {
  for (const r of recorders) await r.stop();
});

async function recorder(): Promise<Recorder> {
  const r = new Recorder();
  recorders.push(r);
  await r.start();
  return r;
}

function httpOptions(over: Partial<HttpOptions> = {}): HttpOptions {
  return {
    api: 'v1',
    database: 'db 1',
    retentionPolicy: '',
    username: '',
    password: '',
    organization: '',
    bucket: '',
    token: '',
    precision: 'ns',
    gzip: false,
    onPartialWrite: () => {},
    ...over,
  };
}

function httpTarget(port: number, addresses = ['127.0.0.1'], pathPrefix = ''): Target {
  return {
    endpoint: { host: 'influx.test', port, scheme: 'http', path: pathPrefix } as InfluxUrl,
    label: `influx.test:${port}`,
    addresses,
  };
}

describe('HTTP transport', () => {
  it('v1: POST /write with db, rp, precision, basic auth and gzip', async () => {
    const r = await recorder();
    const t = new HttpTransport(
      httpTarget(r.port, ['127.0.0.1'], '/influx'),
      httpOptions({
        retentionPolicy: 'week',
        precision: 'ms',
        username: 'writer',
        password: 'p@ss:w',
        gzip: true,
      }),
    );
    await t.send(payload(['a value=1 1\n', 'b value=2 2\n']));
    const req = r.requests[0];
    assert.equal(req?.method, 'POST');
    assert.equal(req?.url, '/influx/write?db=db+1&rp=week&precision=ms');
    assert.equal(req?.headers.authorization, `Basic ${Buffer.from('writer:p@ss:w').toString('base64')}`);
    assert.equal(req?.headers['content-encoding'], 'gzip');
    assert.equal(req?.headers.host, `influx.test:${r.port}`);
    assert.equal(req?.body, 'a value=1 1\nb value=2 2\n');
    await t.close();
  });

  it('v2: POST /api/v2/write with org, bucket, precision and a token', async () => {
    const r = await recorder();
    const t = new HttpTransport(
      httpTarget(r.port),
      httpOptions({
        api: 'v2',
        organization: 'acme',
        bucket: 'metrics/autogen',
        token: 's3cr3t',
        precision: 'us',
      }),
    );
    await t.send(payload(['a value=1 1\n']));
    assert.equal(r.requests[0]?.url, '/api/v2/write?org=acme&bucket=metrics%2Fautogen&precision=us');
    assert.equal(r.requests[0]?.headers.authorization, 'Token s3cr3t');
    assert.equal(r.requests[0]?.headers['content-encoding'], undefined);
    await t.close();
  });

  it('sorts answers: retried, rejected, or delivered with a partial write counted', async () => {
    const r = await recorder();
    const partial: number[] = [];
    const t = new HttpTransport(
      httpTarget(r.port),
      httpOptions({ password: 'never-shown', username: 'u', onPartialWrite: (_t, n) => partial.push(n) }),
    );
    const send = async (status: number, body = ''): Promise<unknown> => {
      r.answer = () => ({ status, body });
      try {
        await t.send(payload(['a value=1\n', 'b value=2\n', 'c value=3\n']));
        return 'ok';
      } catch (e) {
        return e;
      }
    };
    assert.equal(await send(204), 'ok');
    for (const status of [500, 503, 429, 408]) {
      const e = await send(status, '{"error":"busy"}');
      assert.ok(e instanceof Error && !(e instanceof PushRejected), `${status} is retried`);
      assert.match(e.message, new RegExp(`HTTP ${status}: busy`));
    }
    for (const status of [400, 401, 403, 404, 413]) {
      const e = await send(status, '{"error":"database not found: \\"x\\""}');
      assert.ok(e instanceof PushRejected, `${status} is rejected`);
      assert.ok(!e.message.includes('never-shown'));
    }
    const body =
      '{"error":"partial write: field type conflict: input field \\"value\\" on measurement \\"a\\" is type float, already exists as type integer dropped=2"}';
    assert.equal(await send(400, body), 'ok');
    assert.deepEqual(partial, [2]);
    await t.close();
  });

  it('counts the points of a 1.x partial write', () => {
    assert.equal(partialWriteCount('partial write: field type conflict: … dropped=1', 10), 1);
    assert.equal(
      partialWriteCount(
        "partial write: unable to parse 'x': invalid\nunable to parse 'y': bad dropped=0",
        10,
      ),
      2,
    );
    assert.equal(partialWriteCount('partial write: dropped=99', 5), 5);
    assert.equal(partialWriteCount('partial write', 5), 1);
  });

  it('moves on to the next address when one refuses the connection', async () => {
    const r = await recorder();
    // 127.0.0.2 is loopback too, but nothing listens there on this port.
    const t = new HttpTransport(httpTarget(r.port, ['127.0.0.2', '127.0.0.1']), httpOptions());
    await t.send(payload(['a value=1\n']));
    assert.equal(r.requests.length, 1);
    await t.close();
  });
});

describe('influxdb sink over HTTP', () => {
  it('delivers points, counts them, and flushes at shutdown', async () => {
    const r = await recorder();
    const ctx = testContext({ clock: systemClock, type: 'influxdb' });
    const sink = createInfluxdbSink(
      parseConfig(schema, { urls: [`http://127.0.0.1:${r.port}`], flush_interval: '10s', precision: 's' }),
      ctx,
    );
    await sink.start();
    sink.write([gauge('cpu load', 0.5, { host: 'web 1' }), gauge('mem', 3, { host: 'a' })]);
    await sink.stop();
    assert.equal(r.requests.length, 1, 'the stop flushed the batch');
    assert.equal(
      r.requests[0]?.body,
      `cpu\\ load,host=web\\ 1 value=0.5 ${TS / 1000}\nmem,host=a value=3 ${TS / 1000}\n`,
    );
    assert.equal(stat(ctx, 'points_sent'), 2);
  });

  it('counts a partial write, and drops a rejected batch without retrying it', async () => {
    const r = await recorder();
    const ctx = testContext({ clock: systemClock, type: 'influxdb' });
    const sink = createInfluxdbSink(
      parseConfig(schema, {
        urls: [`http://127.0.0.1:${r.port}`],
        flush_interval: '10ms',
        retry_initial: '10ms',
      }),
      ctx,
    );
    await sink.start();
    r.answer = () => ({ status: 400, body: '{"error":"partial write: field type conflict dropped=1"}' });
    sink.write([gauge('a', 1), gauge('b', 2)]);
    await until(() => stat(ctx, 'points_sent') === 2, 'the partial write');
    assert.equal(stat(ctx, 'server_rejected_points'), 1);
    r.answer = () => ({ status: 401, body: '{"error":"authorization failed"}' });
    sink.write([gauge('c', 3)]);
    await until(() => stat(ctx, 'dropped_metrics', { reason: 'rejected' }) === 1, 'the rejection');
    assert.equal(stat(ctx, 'retries'), 0);
    await sink.stop();
  });
});
