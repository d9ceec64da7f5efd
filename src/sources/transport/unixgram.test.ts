import assert from 'node:assert/strict';
import { existsSync, lstatSync } from 'node:fs';
import { describe, it } from 'node:test';
import { deflateSync } from 'node:zlib';
import { loadNodeUnixSocket, type UnixSocketModule } from './listeners.js';
import { listen, tempDir, until } from './test-util.js';

let unixSocket: UnixSocketModule | undefined;
try {
  unixSocket = loadNodeUnixSocket();
} catch {
  // The optional package is missing on this platform: the end-to-end tests skip.
}
// In CI the package is installed (.ci/run), so these tests must run there.
if (unixSocket === undefined && process.env.CI === 'true') {
  throw new Error('node-unix-socket is not installed: .ci/run installs it for the unixgram:// tests');
}
const skip =
  unixSocket === undefined ? 'node-unix-socket is not installed (npm install node-unix-socket)' : false;

/** Sends each datagram from a fresh unbound client socket, as a DogStatsD client would. */
async function send(path: string, datagrams: (string | Buffer)[]): Promise<void> {
  const client = new (unixSocket as UnixSocketModule).DgramSocket();
  try {
    for (const d of datagrams) {
      const buf = typeof d === 'string' ? Buffer.from(d) : d;
      await new Promise<void>((resolve, reject) =>
        client.sendTo(buf, 0, buf.length, path, (e) => (e ? reject(e) : resolve())),
      );
    }
  } finally {
    client.close();
  }
}

describe('unixgram listener', () => {
  it('delivers datagrams, sets the socket mode, removes the file on stop', { skip }, async () => {
    const tmp = tempDir();
    const path = tmp.path('statsd.sock');
    try {
      const h = await listen(`unixgram://${path}`);
      try {
        assert.deepEqual(h.listeners.bound(), [{ transport: 'unixgram', url: `unixgram://${path}`, path }]);
        const info = h.logs.filter((l) => l.level === 'info');
        assert.equal(info.length, 1);
        assert.equal(info[0]?.path, path);
        assert.equal(info[0]?.mode, '0660');
        assert.equal(typeof info[0]?.receive_buffer_bytes, 'number');
        assert.equal(lstatSync(path).mode & 0o777, 0o660);
        await send(path, ['a:1|c', 'b:2|g\nc:3|ms']);
        await until(() => h.deliveries.length === 2, 'two datagrams');
        assert.deepEqual(h.deliveries, ['a:1|c', 'b:2|g\nc:3|ms']);
        assert.equal(h.counter('transport_datagrams_received'), 2);
      } finally {
        await h.listeners.stop();
      }
      assert.equal(existsSync(path), false);
    } finally {
      tmp.cleanup();
    }
  });

  it('inflates compressed datagrams with decompress: auto', { skip }, async () => {
    const tmp = tempDir();
    const path = tmp.path('z.sock');
    const h = await listen(`unixgram://${path}`, { decompress: 'auto' });
    try {
      await send(path, [deflateSync('z:1|c\nz:2|c')]);
      await until(() => h.deliveries.length === 1, 'one datagram');
      assert.deepEqual(h.lines(), ['z:1|c', 'z:2|c']);
    } finally {
      await h.listeners.stop();
      tmp.cleanup();
    }
  });

  it('keeps the complete lines of a datagram cut at 64 KiB and counts it', { skip }, async () => {
    const tmp = tempDir();
    const path = tmp.path('big.sock');
    const h = await listen(`unixgram://${path}`);
    try {
      const lines = Array.from({ length: 10_000 }, (_, i) => `metric.${i}:1|c`);
      const big = lines.join('\n');
      assert.ok(big.length > 65_535);
      await send(path, [big, 'after:1|c']);
      await until(() => h.deliveries.length === 2, 'two datagrams');
      const got = h.deliveries[0]?.split('\n') ?? [];
      assert.deepEqual(got, lines.slice(0, got.length));
      assert.ok(got.length > 1000);
      assert.equal(h.counter('transport_datagrams_truncated'), 1);
      assert.equal(h.deliveries[1], 'after:1|c');
    } finally {
      await h.listeners.stop();
      tmp.cleanup();
    }
  });

  it('replaces a stale socket file and refuses a live one', { skip }, async () => {
    const tmp = tempDir();
    const path = tmp.path('stale.sock');
    try {
      // node-unix-socket leaves its file behind on close: a stale socket, as after a crash.
      const old = new (unixSocket as UnixSocketModule).DgramSocket();
      old.bind(path);
      old.close();
      assert.ok(lstatSync(path).isSocket());
      const h = await listen(`unixgram://${path}`);
      try {
        await assert.rejects(listen(`unixgram://${path}`), /is in use: another process is listening on it/);
        await send(path, ['still:1|c']);
        // The liveness probe is an empty datagram: not delivered.
        await until(() => h.deliveries.length === 1, 'a datagram to the first listener');
        assert.deepEqual(h.deliveries, ['still:1|c']);
      } finally {
        await h.listeners.stop();
      }
    } finally {
      tmp.cleanup();
    }
  });

  it('fails start with a message naming node-unix-socket when it cannot be loaded', async () => {
    const tmp = tempDir();
    try {
      await assert.rejects(
        listen(
          `unixgram://${tmp.path('x.sock')}`,
          {},
          { loadUnixSocket: () => loadNodeUnixSocket('sluice-absent-module') },
        ),
        /unixgram:\/\/ listeners need the optional package "node-unix-socket".*npm install --no-save --ignore-scripts node-unix-socket/,
      );
      assert.equal(existsSync(tmp.path('x.sock')), false);
    } finally {
      tmp.cleanup();
    }
  });
});
