import assert from 'node:assert/strict';
import { existsSync, linkSync, lstatSync, unlinkSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { describe, it } from 'node:test';
import type { ManualClock } from '../../core/clock.js';
import { LineFramer } from './framing.js';
import { listen, tempDir, until, type Harness } from './test-util.js';

function connect(target: number | string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = typeof target === 'number' ? net.connect(target, '127.0.0.1') : net.connect(target);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      // The listener may close it (over the cap, idle, stop): a reset is expected here.
      socket.on('error', () => {});
      resolve(socket);
    });
  });
}

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.closed) resolve();
    else socket.once('close', () => resolve());
  });
}

function write(socket: net.Socket, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => socket.write(data, (e) => (e ? reject(e) : resolve())));
}

/** Writes argv[2]'s line and a newline to 127.0.0.1:argv[1] one byte per write, then ends. */
const TRICKLE_WRITER = `
const socket = require('node:net').connect({ port: Number(process.argv[1]), host: '127.0.0.1', noDelay: true });
socket.once('connect', async () => {
  const bytes = Buffer.from(process.argv[2] + '\\n');
  for (let i = 0; i < bytes.length; i++)
    if (!socket.write(bytes.subarray(i, i + 1))) await new Promise((r) => socket.once('drain', r));
  socket.end();
});`;

const tcpPort = (h: Harness): number => h.listeners.bound()[0]?.port as number;

/** Past the grace after which a silent connection may be shed (SHED_GRACE_MS in listeners.ts). */
const PAST_SHED_GRACE_MS = 1001;

/** The listener's clock: the test context's manual one, so idleness needs no sleeping. */
const clockOf = (h: Harness): ManualClock => h.ctx.clock as ManualClock;

/** When every slot is taken, a newcomer sheds the idlest connection, on tcp:// and unix:// alike. */
function describeShedding(
  transport: string,
  address: () => { url: string; target(h: Harness): number | string; done(): void },
) {
  describe(`${transport} listener when max_connections are open`, () => {
    it('sheds the connection silent longest to let a newcomer in, and counts it', async () => {
      const a = address();
      const h = await listen(a.url, { max_connections: 8 });
      const target = a.target(h);
      const idle: net.Socket[] = [];
      try {
        // The first one sends half a line, then nothing: it is the idlest, and its half line is lost.
        idle.push(await connect(target));
        await write(idle[0] as net.Socket, 'half');
        await until(() => h.counter('transport_bytes_received') === 4, 'the half line');
        for (let i = 1; i < 8; i++) idle.push(await connect(target));
        await until(() => h.gauge('transport_connections_open') === 8, 'eight open connections');
        clockOf(h).advance(PAST_SHED_GRACE_MS);
        const newcomer = await connect(target);
        const lines = Array.from({ length: 20 }, (_, i) => `new${i}:1|c`);
        for (const line of lines) await write(newcomer, line + '\n');
        await until(() => h.lines().length === lines.length, 'every line of the newcomer');
        assert.deepEqual(h.lines(), lines);
        await until(() => idle[0]?.closed === true, 'the idlest connection to close');
        assert.equal(h.counter('transport_connections_shed'), 1);
        assert.equal(h.counter('transport_connections_refused'), 0);
        assert.equal(h.counter('transport_partial_lines_dropped'), 1);
        assert.equal(idle.filter((c) => c.closed).length, 1, 'only the idlest was closed');
        await until(() => h.gauge('transport_connections_open') === 8, 'eight open connections again');
        const warn = h.logs.filter((l) => l.level === 'warn');
        assert.equal(warn.length, 1);
        assert.equal(warn[0]?.max_connections, 8);
        assert.ok('idle_timeout' in (warn[0] as object));
        newcomer.destroy();
      } finally {
        for (const c of idle) c.destroy();
        await h.listeners.stop();
        a.done();
      }
    });

    it('refuses a newcomer when every open connection sent data within the grace', async () => {
      const a = address();
      const h = await listen(a.url, { max_connections: 8 });
      const target = a.target(h);
      const busy: net.Socket[] = [];
      try {
        for (let i = 0; i < 8; i++) busy.push(await connect(target));
        clockOf(h).advance(PAST_SHED_GRACE_MS);
        for (const [i, c] of busy.entries()) await write(c, `busy${i}:1|c\n`);
        await until(() => h.lines().length === 8, 'a line from each connection');
        // Their data arrived after the clock moved: none has been silent for the grace.
        clockOf(h).advance(PAST_SHED_GRACE_MS - 2);
        const newcomer = await connect(target);
        await until(() => newcomer.closed, 'the newcomer to be closed');
        assert.equal(h.counter('transport_connections_refused'), 1);
        assert.equal(h.counter('transport_connections_shed'), 0);
        assert.equal(h.counter('transport_connections_accepted'), 8);
        assert.equal(busy.filter((c) => c.closed).length, 0);
        for (const [i, c] of busy.entries()) await write(c, `still${i}:1|c\n`);
        await until(() => h.lines().length === 16, 'a second line from each connection');
      } finally {
        for (const c of busy) c.destroy();
        await h.listeners.stop();
        a.done();
      }
    });
  });
}

describe('tcp listener', () => {
  it('delivers a line trickled a byte at a time whole, once (the socket pauses between trickle reads)', async () => {
    const h = await listen('tcp://127.0.0.1:0');
    try {
      const client = await connect(tcpPort(h));
      client.setNoDelay(true);
      const line = `trickle:${'x'.repeat(3000)}|c`;
      // Bounded: one write per byte, each waited for, so the segments go out one by one.
      for (const byte of Buffer.from(line + '\n')) await write(client, Buffer.of(byte));
      await until(() => h.lines().length === 1, 'the trickled line');
      assert.deepEqual(h.lines(), [line]);
      assert.equal(h.deliveries.length, 1);
      assert.equal(h.counter('transport_bytes_received'), line.length + 1);
      client.destroy();
    } finally {
      await h.listeners.stop();
    }
  });

  it('reads a line trickled a byte at a time in a few reads, not one per byte (the socket stops reading while it waits)', async () => {
    // Counts the reads the listener framed, as bench/stream-trickle.mjs does.
    let reads = 0;
    const push = LineFramer.prototype.push;
    LineFramer.prototype.push = function (this: LineFramer, chunk: Buffer) {
      reads++;
      return push.call(this, chunk);
    };
    const h = await listen('tcp://127.0.0.1:0');
    try {
      const line = `trickle:${'x'.repeat(20_000)}|c`;
      // Another process writes, so that the listener reads while the bytes still trickle in.
      // Bounded: one write per byte, then it exits.
      const writer = spawn(process.execPath, ['-e', TRICKLE_WRITER, String(tcpPort(h)), line], {
        stdio: 'inherit',
      });
      const exited = new Promise((resolve) => writer.once('exit', resolve));
      await until(() => h.lines().length === 1, 'the trickled line');
      assert.deepEqual(h.lines(), [line]);
      // Reading whenever a byte arrives took one read per byte or few; pausing without
      // stopping the socket's reads took thousands. Stopped for a growing pause: a handful.
      assert.ok(reads < (line.length + 1) / 50, `${reads} reads for ${line.length + 1} bytes`);
      assert.equal(await exited, 0);
    } finally {
      LineFramer.prototype.push = push;
      await h.listeners.stop();
    }
  });

  it('frames lines split across writes and delivers only complete lines', async () => {
    const h = await listen('tcp://127.0.0.1:0');
    try {
      const b = h.listeners.bound()[0];
      const info = h.logs.filter((l) => l.level === 'info');
      assert.equal(info.length, 1);
      assert.equal(info[0]?.port, b?.port);
      assert.equal(info[0]?.transport, 'tcp');
      const client = await connect(tcpPort(h));
      await write(client, 'a:1|c\nb:');
      await until(() => h.lines().length === 1, 'the first line');
      await write(client, '2|c\nc:3');
      await until(() => h.lines().length === 2, 'the second line');
      await write(client, '|c\n');
      await until(() => h.lines().length === 3, 'the third line');
      assert.deepEqual(h.deliveries, ['a:1|c', 'b:2|c', 'c:3|c']);
      client.end('last:1|c');
      await closed(client);
      await until(() => h.lines().length === 4, 'the unterminated last line');
      assert.equal(h.lines()[3], 'last:1|c');
      assert.equal(h.counter('transport_connections_accepted'), 1);
      assert.equal(h.counter('transport_bytes_received'), 'a:1|c\nb:2|c\nc:3|c\nlast:1|c'.length);
      await until(() => h.gauge('transport_connections_open') === 0, 'the connection to close');
    } finally {
      await h.listeners.stop();
    }
  });

  it('batches the lines of one read into one delivery', async () => {
    const h = await listen('tcp://127.0.0.1:0');
    try {
      const client = await connect(tcpPort(h));
      const lines = Array.from({ length: 500 }, (_, i) => `m${i}:1|c`);
      client.end(lines.join('\n') + '\n');
      await until(() => h.lines().length === 500, '500 lines');
      assert.deepEqual(h.lines(), lines);
      assert.ok(h.deliveries.length < 50, `${h.deliveries.length} deliveries`);
    } finally {
      await h.listeners.stop();
    }
  });

  it('drops a line longer than max_line_bytes, counts it, and keeps the connection', async () => {
    const h = await listen('tcp://127.0.0.1:0', { max_line_bytes: 64 });
    try {
      const client = await connect(tcpPort(h));
      await write(client, `ok1\n${'x'.repeat(200)}\nok2\n`);
      await write(client, 'y'.repeat(100));
      await write(client, 'y'.repeat(100) + '\nok3\n');
      await until(() => h.lines().length === 3, 'three lines');
      assert.deepEqual(h.lines(), ['ok1', 'ok2', 'ok3']);
      assert.equal(h.counter('transport_lines_oversized'), 2);
      assert.equal(h.gauge('transport_connections_open'), 1);
      const warn = h.logs.filter((l) => l.level === 'warn');
      assert.equal(warn.length, 1, 'one rate-limited warning');
      assert.equal(warn[0]?.max_line_bytes, 64);
      client.destroy();
    } finally {
      await h.listeners.stop();
    }
  });

  it('refuses connections beyond max_connections and counts them', async () => {
    const h = await listen('tcp://127.0.0.1:0', { max_connections: 3 });
    const clients: net.Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) clients.push(await connect(tcpPort(h)));
      await until(() => h.gauge('transport_connections_open') === 3, 'three open connections');
      const extra = await Promise.all(Array.from({ length: 5 }, () => connect(tcpPort(h))));
      await Promise.all(extra.map(closed));
      assert.equal(h.counter('transport_connections_refused'), 5);
      assert.equal(h.counter('transport_connections_accepted'), 3);
      for (const [i, c] of clients.entries()) await write(c, `kept${i}:1|c\n`);
      await until(() => h.lines().length === 3, 'a line from each kept connection');
      assert.deepEqual(h.lines().sort(), ['kept0:1|c', 'kept1:1|c', 'kept2:1|c']);
      // A freed slot is reused.
      clients.pop()?.destroy();
      await until(() => h.gauge('transport_connections_open') === 2, 'a slot to free up');
      clients.push(await connect(tcpPort(h)));
      await until(() => h.counter('transport_connections_accepted') === 4, 'the new connection');
    } finally {
      for (const c of clients) c.destroy();
      await h.listeners.stop();
    }
  });

  it('closes an idle connection, delivering its complete lines and counting its unfinished one', async () => {
    const h = await listen('tcp://127.0.0.1:0', { idle_timeout: 100 });
    try {
      const client = await connect(tcpPort(h));
      const start = Date.now();
      await write(client, 'a:1|c\nhalf');
      await closed(client);
      assert.ok(Date.now() - start >= 90, 'not before the idle timeout');
      assert.deepEqual(h.lines(), ['a:1|c']);
      await until(() => h.counter('transport_connections_idle_closed') === 1, 'the idle close to count');
      await until(() => h.counter('transport_partial_lines_dropped') === 1, 'the unfinished line to count');
    } finally {
      await h.listeners.stop();
    }
  });

  it('counts a reset connection without failing the listener', async () => {
    const h = await listen('tcp://127.0.0.1:0');
    try {
      const client = await connect(tcpPort(h));
      await write(client, 'a:1|c\n');
      await until(() => h.lines().length === 1, 'a line');
      client.resetAndDestroy();
      await until(() => h.gauge('transport_connections_open') === 0, 'the connection to close');
      assert.deepEqual(h.ctx.failures, []);
      const again = await connect(tcpPort(h));
      again.end('b:1|c\n');
      await until(() => h.lines().length === 2, 'a line after the reset');
    } finally {
      await h.listeners.stop();
    }
  });

  it('on stop, stops accepting and delivers what clients had sent', async () => {
    const h = await listen('tcp://127.0.0.1:0');
    const port = tcpPort(h);
    const client = await connect(port);
    await until(() => h.gauge('transport_connections_open') === 1, 'the connection');
    // Written, then stop at once: the bytes are in flight while the listener closes.
    client.write('a:1|c\nb:2|c\nlast:3|c');
    await h.listeners.stop();
    assert.deepEqual(h.lines(), ['a:1|c', 'b:2|c', 'last:3|c']);
    await closed(client);
    await assert.rejects(connect(port), { code: 'ECONNREFUSED' });
    assert.equal(h.gauge('transport_connections_open'), 0);
  });

  it('on stop, cuts a client that keeps its side open after the drain time', async () => {
    const h = await listen('tcp://127.0.0.1:0');
    const client = net.connect({ port: tcpPort(h), host: '127.0.0.1', allowHalfOpen: true });
    await new Promise((r) => client.once('connect', r));
    await write(client, 'a:1|c\nhalf');
    await until(() => h.lines().length === 1, 'the complete line');
    const start = Date.now();
    await h.listeners.stop();
    const ms = Date.now() - start;
    assert.ok(ms >= 400 && ms < 3000, `stop took ${ms} ms`);
    assert.equal(h.counter('transport_partial_lines_dropped'), 1);
    client.destroy();
  });
});

describe('unix stream listener', () => {
  it('frames lines, sets the socket mode and removes the file on stop', async () => {
    const tmp = tempDir();
    const path = tmp.path('s.sock');
    try {
      const h = await listen(`unix://${path}`, { socket_mode: 0o620 });
      try {
        assert.deepEqual(h.listeners.bound(), [{ transport: 'unix', url: `unix://${path}`, path }]);
        const info = h.logs.find((l) => l.level === 'info');
        assert.equal(info?.path, path);
        assert.equal(info?.mode, '0620');
        assert.ok(lstatSync(path).isSocket());
        assert.equal(lstatSync(path).mode & 0o777, 0o620);
        const client = await connect(path);
        await write(client, 'u:1|c\nu:');
        client.end('2|c\n');
        await until(() => h.lines().length === 2, 'two lines');
        assert.deepEqual(h.lines(), ['u:1|c', 'u:2|c']);
        assert.equal(h.counter('transport_connections_accepted'), 1);
      } finally {
        await h.listeners.stop();
      }
      assert.equal(existsSync(path), false);
    } finally {
      tmp.cleanup();
    }
  });

  it('notices its socket file deleted, counts it, listens on a new one, and keeps open connections', async () => {
    const tmp = tempDir();
    const path = tmp.path('gone.sock');
    try {
      const h = await listen(`unix://${path}`);
      try {
        const early = await connect(path);
        await write(early, 'early:1|c\n');
        await until(() => h.lines().length === 1, 'the first line');
        unlinkSync(path);
        await until(() => h.counter('unix_socket_recreated') === 1 && existsSync(path), 'a new socket file');
        assert.ok(lstatSync(path).isSocket());
        assert.ok(
          h.logs.some((l) => l.level === 'warn' && String(l.msg).includes('unix_socket_recreated')),
          'logged',
        );
        const late = await connect(path);
        await write(late, 'late:1|c\n');
        await write(early, 'early:2|c\n');
        await until(() => h.lines().length === 3, 'lines on the new file and on the old connection');
        assert.deepEqual([...h.lines()].sort(), ['early:1|c', 'early:2|c', 'late:1|c']);
        // Its own new file does not set it off again.
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(h.counter('unix_socket_recreated'), 1);
        early.destroy();
        late.destroy();
      } finally {
        await h.listeners.stop();
      }
      assert.equal(existsSync(path), false, 'removed on stop, without being recreated');
    } finally {
      tmp.cleanup();
    }
  });

  it('replaces a stale socket file but not a live socket or another file', async () => {
    const tmp = tempDir();
    try {
      // A socket file nobody listens on: a hard link outliving the server that made it.
      const stale = tmp.path('stale.sock');
      const server = net.createServer();
      await new Promise<void>((r) => server.listen(tmp.path('orig.sock'), r));
      linkSync(tmp.path('orig.sock'), stale);
      await new Promise<void>((r) => server.close(() => r()));
      const h = await listen(`unix://${stale}`);
      const client = await connect(stale);
      client.end('s:1|c\n');
      await until(() => h.lines().length === 1, 'a line');

      await assert.rejects(listen(`unix://${stale}`), /is in use: another process is listening on it/);
      assert.ok(lstatSync(stale).isSocket(), 'the live socket is left alone');
      await h.listeners.stop();

      const file = tmp.path('file');
      writeFileSync(file, 'precious');
      await assert.rejects(listen(`unix://${file}`), /exists and is not a socket/);
      assert.ok(lstatSync(file).isFile());

      await assert.rejects(
        listen(`unix://${tmp.path('no/such/dir.sock')}`),
        /Could not listen on unix:\/\/.*(ENOENT|EACCES)/,
      );
    } finally {
      tmp.cleanup();
    }
  });
});

describeShedding('tcp', () => ({ url: 'tcp://127.0.0.1:0', target: tcpPort, done: () => {} }));
describeShedding('unix stream', () => {
  const tmp = tempDir();
  const path = tmp.path('s.sock');
  return { url: `unix://${path}`, target: () => path, done: () => tmp.cleanup() };
});
