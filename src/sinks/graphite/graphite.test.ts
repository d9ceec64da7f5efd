import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { systemClock } from '../../core/clock.js';
import type { Metric } from '../../core/metric.js';
import { makeTags } from '../../core/tags.js';
import { assertSampleDocumented, componentReadme, configIssues, parseConfig } from '../../testing/config.js';
import { testContext } from '../../testing/context.js';
import { createGraphiteSink } from './graphite.js';
import { graphiteSink } from './index.js';
import { schema } from './schema.js';

describe('graphite sink config', () => {
  const doc = parse(graphiteSink.sample) as Record<string, Record<string, unknown>>;
  const { type, ...options } = doc.graphite ?? {};

  it('has a sample that parses, passes its schema and shows the defaults', () => {
    assert.equal(type, 'graphite');
    assert.ok(graphiteSink.sample.startsWith('  graphite:\n    type: graphite\n'));
    const { config, issues } = configIssues(schema, options);
    assert.deepEqual(issues, []);
    assert.deepEqual(config, configIssues(schema, {}).config);
  });

  it('documents every option, in the schema and in the sample', () => {
    assertSampleDocumented(graphiteSink.sample, schema.fields, options);
  });

  it('has a README that embeds the sample verbatim', () => {
    assert.ok(componentReadme('sinks', 'graphite').includes(graphiteSink.sample));
  });

  it('explains a bad template, and refuses {tags} with tagged series', () => {
    assert.deepEqual(configIssues(schema, { template: '{host}..{name}' }).issues, [
      'template: is not a usable template: it has an empty node (two dots in a row, or a dot at the start or end)',
    ]);
    assert.match(
      configIssues(schema, { template: '{name}.{tags}', naming: 'tagged' }).issues[0] ?? '',
      /^template: uses \{tags\}/,
    );
    assert.deepEqual(configIssues(schema, { template: '{name}.{field}', naming: 'tagged' }).issues, []);
  });
});

/** A carbon stand-in: a TCP server on 127.0.0.1 that keeps what it is sent. */
class LineServer {
  private server: net.Server | undefined;
  private sockets = new Set<net.Socket>();
  received = '';
  port = 0;

  async start(port = 0): Promise<void> {
    const server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (this.received += chunk));
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async waitFor(predicate: (text: string) => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.received) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(
      predicate(this.received),
      `timed out waiting for ${what}; received ${JSON.stringify(this.received)}`,
    );
  }
}

const servers: LineServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

const TS = Date.UTC(2026, 10, 21, 12, 0, 0);

function gauge(name: string, value: number, tags: Record<string, string>): Metric {
  return { kind: 'gauge', name, tags: makeTags(tags), value, timestamp: TS };
}

describe('graphite sink over TCP', () => {
  it('sends templated lines to carbon and counts what it sent', async () => {
    const server = new LineServer();
    servers.push(server);
    await server.start();
    const ctx = testContext({ clock: systemClock, type: 'graphite' });
    const config = parseConfig(schema, {
      endpoints: [`127.0.0.1:${server.port}`],
      template: '{host}.{name}.{bucket}',
      flush_interval: '20ms',
    });
    const sink = graphiteSink.create(config, ctx);
    await sink.start();
    sink.write([
      gauge('cpu-lat', 3, { host: 'web01', bucket: '16' }),
      gauge('cpu-lat', 5, { host: 'web01', bucket: '32' }),
    ]);
    const want = `web01.cpu-lat.16 3 ${TS / 1000}\nweb01.cpu-lat.32 5 ${TS / 1000}\n`;
    await server.waitFor((t) => t === want, 'two lines');
    await sink.stop();
    assert.equal(ctx.stats.total('points_sent'), 2);
    assert.equal(ctx.stats.total('bytes_sent'), want.length);
  });

  it('keeps what it is given while carbon is away and delivers it on its return, in order', async () => {
    const server = new LineServer();
    servers.push(server);
    await server.start();
    const port = server.port;
    const ctx = testContext({ clock: systemClock, type: 'graphite' });
    const config = parseConfig(schema, {
      endpoints: [`127.0.0.1:${port}`],
      template: '{name}',
      flush_interval: '20ms',
      retry_initial: '20ms',
      max_retry_interval: '100ms',
    });
    const sink = createGraphiteSink(config, ctx);
    await sink.start();
    const expected: string[] = [];
    const send = (i: number): void => {
      sink.write([gauge(`m${i}`, i, {})]);
      expected.push(`m${i} ${i} ${TS / 1000}\n`);
    };
    for (let i = 0; i < 5; i++) send(i);
    await server.waitFor((t) => t === expected.join(''), 'the first lines');
    await server.stop();
    for (let i = 5; i < 30; i++) {
      send(i);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(ctx.stats.total('retries') > 0, 'sends failed while carbon was away');
    await server.start(port);
    await server.waitFor((t) => t === expected.join(''), 'every line, once, in order');
    await sink.stop();
    assert.equal(ctx.stats.total('dropped_metrics'), 0);
  });
});
