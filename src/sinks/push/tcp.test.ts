import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { ManualClock, systemClock } from '../../core/clock.js';
import { NO_TAGS } from '../../core/tags.js';
import { testContext } from '../../testing/context.js';
import { PushSink } from './push.js';
import type { Payload } from './queue.js';
import { pushDefaults, pushOptionsSchema, type PushConfig } from './schema.js';
import { s } from '../../config/schema.js';
import { TcpTransport } from './tcp.js';

/** A line server on 127.0.0.1:0 that records what each connection sent. */
class LineServer {
  readonly server = net.createServer((socket) => this.accept(socket));
  readonly connections: { data: string; socket: net.Socket }[] = [];
  port = 0;

  async listen(port = 0): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  private accept(socket: net.Socket): void {
    const conn = { data: '', socket };
    this.connections.push(conn);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      conn.data += chunk;
    });
    socket.on('error', () => {});
  }

  get text(): string {
    return this.connections.map((c) => c.data).join('');
  }

  /** Closes the listener and every connection, as a server that goes away does. */
  async close(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async waitFor(predicate: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 200 && !predicate(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(predicate(), `timed out waiting for ${what}; got ${JSON.stringify(this.text)}`);
  }
}

function payload(...records: string[]): Payload {
  const sizes = records.map((r) => Buffer.byteLength(r));
  return { records, sizes, points: records.length, bytes: sizes.reduce((a, b) => a + b, 0) };
}

const servers: LineServer[] = [];
async function server(): Promise<LineServer> {
  const srv = new LineServer();
  await srv.listen();
  servers.push(srv);
  return srv;
}
after(async () => {
  for (const srv of servers) if (srv.server.listening) await srv.close();
});

function transport(port: number, addresses = ['127.0.0.1'], reconnectIntervalMs = 0, clock = systemClock) {
  return new TcpTransport(
    { endpoint: { host: 'test', port }, label: `test:${port}`, addresses },
    { reconnectIntervalMs, clock },
  );
}

describe('TcpTransport', () => {
  it('writes batches in order over one connection', async () => {
    const srv = await server();
    const t = transport(srv.port);
    await t.send(payload('a 1 1\n', 'b 2 1\n'));
    await t.send(payload('c 3 1\n'));
    await t.close();
    await srv.waitFor(() => srv.text === 'a 1 1\nb 2 1\nc 3 1\n', 'three lines');
    assert.equal(srv.connections.length, 1);
  });

  it('writes binary records too', async () => {
    const srv = await server();
    const t = transport(srv.port);
    await t.send({ records: ['x', new Uint8Array([0x79, 0x0a])], sizes: [1, 2], points: 2, bytes: 3 });
    await t.close();
    await srv.waitFor(() => srv.text === 'xy\n', 'xy');
  });

  it('rejects when nothing listens, and connects once something does', async () => {
    const srv = await server();
    const port = srv.port;
    await srv.close();
    const t = transport(port);
    await assert.rejects(t.send(payload('lost\n')), /ECONNREFUSED/);
    const back = new LineServer();
    await back.listen(port);
    servers.push(back);
    await t.send(payload('kept\n'));
    await t.close();
    await back.waitFor(() => back.text === 'kept\n', 'the line after the server came back');
  });

  it('notices that the server closed the connection, and reconnects instead of writing into it', async () => {
    const srv = await server();
    const t = transport(srv.port);
    await t.send(payload('one\n'));
    await srv.waitFor(() => srv.text === 'one\n', 'the first line');
    (srv.connections[0] as { socket: net.Socket }).socket.end();
    await new Promise((r) => setTimeout(r, 50)); // the FIN arrives
    await t.send(payload('two\n'));
    await srv.waitFor(() => srv.text === 'one\ntwo\n', 'the second line on a new connection');
    assert.equal(srv.connections.length, 2);
    await t.close();
  });

  it('tries the next address when one refuses, and keeps to the one that worked', async () => {
    const srv = await server();
    // 127.0.0.2 is loopback too, but nothing listens there on this port.
    const t = transport(srv.port, ['127.0.0.2', '127.0.0.1']);
    await t.send(payload('x\n'));
    await t.close();
    await srv.waitFor(() => srv.text === 'x\n', 'the line');
  });

  it('reconnects after reconnect_interval, to spread load behind balancers', async () => {
    const srv = await server();
    const clock = new ManualClock();
    const t = transport(srv.port, ['127.0.0.1'], 10_000, clock);
    await t.send(payload('a\n'));
    clock.advance(9_999);
    await t.send(payload('b\n'));
    clock.advance(1);
    await t.send(payload('c\n'));
    await t.close();
    await srv.waitFor(() => srv.text === 'a\nb\nc\n', 'three lines');
    assert.equal(srv.connections.length, 2);
    assert.equal(srv.connections[0]?.data, 'a\nb\n');
  });

  it('refuses to send once closed', async () => {
    const srv = await server();
    const t = transport(srv.port);
    await t.close();
    await assert.rejects(t.send(payload('x\n')), /closed/);
  });
});

describe('PushSink over TCP', () => {
  it('delivers to localhost, whichever address family localhost resolves to first', async () => {
    const srv = await server();
    const schema = s.object(pushOptionsSchema(pushDefaults({ port: 2003 })));
    const config = schema.parse(
      { endpoints: [`localhost:${srv.port}`], flush_interval: '20ms' },
      [],
      [],
    ) as PushConfig;
    const ctx = testContext({ clock: systemClock });
    const sink = new PushSink(
      config,
      { encode: (m) => `${m.name} ${m.kind === 'gauge' ? m.value : 0} 1\n` },
      (target) => new TcpTransport(target, { reconnectIntervalMs: 0, clock: systemClock }),
      ctx,
    );
    await sink.start();
    sink.write([{ kind: 'gauge', name: 'g', tags: NO_TAGS, value: 7, timestamp: 0 }]);
    await srv.waitFor(() => srv.text === 'g 7 1\n', 'the line');
    await sink.stop();
    assert.equal(ctx.stats.total('points_sent'), 1);
  });
});
