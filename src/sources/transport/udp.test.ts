import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { describe, it } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import { listen, until, zlibBomb } from './test-util.js';

async function send(port: number, host: string, datagrams: (string | Buffer)[]): Promise<void> {
  const client = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  try {
    for (const d of datagrams) {
      await new Promise<void>((resolve, reject) =>
        client.send(typeof d === 'string' ? Buffer.from(d) : d, port, host, (e) =>
          e ? reject(e) : resolve(),
        ),
      );
    }
  } finally {
    client.close();
  }
}

/** Whether this machine can bind ::1 (containers often have no IPv6). */
async function hasIPv6Loopback(): Promise<boolean> {
  const socket = dgram.createSocket('udp6');
  return new Promise<boolean>((resolve) => {
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ address: '::1', port: 0 }, () => {
      socket.close();
      resolve(true);
    });
  });
}

describe('udp listener', () => {
  it('delivers each datagram as received and logs one line with the bound port', async () => {
    const h = await listen('udp://127.0.0.1:0');
    try {
      const [b] = h.listeners.bound();
      assert.ok(b?.port !== undefined && b.port > 0);
      assert.deepEqual(b, {
        transport: 'udp',
        url: `udp://127.0.0.1:${b.port}`,
        address: '127.0.0.1',
        port: b.port,
      });
      const info = h.logs.filter((l) => l.level === 'info');
      assert.equal(info.length, 1);
      assert.equal(info[0]?.port, b.port);
      assert.equal(info[0]?.address, '127.0.0.1');
      assert.equal(info[0]?.transport, 'udp');
      assert.equal(typeof info[0]?.receive_buffer_bytes, 'number');

      const datagrams = ['a:1|c', 'b:2|g\nc:3|ms', 'x\ny\n'];
      await send(b.port, '127.0.0.1', datagrams);
      await until(() => h.deliveries.length === 3, 'three datagrams');
      assert.deepEqual(h.deliveries, datagrams);
      assert.equal(h.counter('transport_datagrams_received'), 3);
      assert.equal(h.counter('transport_bytes_received'), datagrams.join('').length);
      assert.deepEqual(h.ctx.failures, []);
    } finally {
      await h.listeners.stop();
    }
    assert.deepEqual(h.listeners.bound(), []);
  });

  it('listens on IPv6 loopback', async (t) => {
    if (!(await hasIPv6Loopback())) {
      // CI machines have ::1; elsewhere a host without IPv6 may skip, and says so.
      if (process.env.CI === 'true') assert.fail('this machine has no ::1');
      t.skip('this machine has no ::1');
      return;
    }
    const h = await listen('udp://[::1]:0');
    try {
      const [b] = h.listeners.bound();
      assert.equal(b?.url, `udp://[::1]:${b?.port}`);
      assert.equal(h.logs.find((l) => l.level === 'info')?.address, '::1');
      await send(b?.port as number, '::1', ['v6:1|c']);
      await until(() => h.deliveries.length === 1, 'a datagram over IPv6');
      assert.deepEqual(h.deliveries, ['v6:1|c']);
    } finally {
      await h.listeners.stop();
    }
  });

  it('reports a socket error raised by onDatagram to ctx.fail and keeps receiving', async () => {
    const h = await listen('udp://127.0.0.1:0', {}, {}, (buf) => {
      if (buf.toString() === 'boom') throw new Error('parser bug');
    });
    try {
      const port = h.listeners.bound()[0]?.port as number;
      await send(port, '127.0.0.1', ['boom', 'ok']);
      await until(() => h.deliveries.length === 2, 'two datagrams');
      assert.equal(h.ctx.failures.length, 1);
      assert.match((h.ctx.failures[0] as Error).message, /parser bug/);
    } finally {
      await h.listeners.stop();
    }
  });

  it('fails start with the address when it cannot bind, closing what it had bound', async () => {
    const busy = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => busy.bind({ address: '127.0.0.1', port: 0 }, resolve));
    const port = busy.address().port;
    try {
      await assert.rejects(
        listen(['tcp://127.0.0.1:0', `udp://127.0.0.1:${port}`]),
        new RegExp(`Could not listen on udp://127.0.0.1:${port}: .*EADDRINUSE`),
      );
    } finally {
      busy.close();
    }
  });

  it('serves several addresses at once, in the order given', async () => {
    const h = await listen(['udp://127.0.0.1:0', 'tcp://127.0.0.1:0']);
    try {
      const [u, t] = h.listeners.bound();
      assert.equal(u?.transport, 'udp');
      assert.equal(t?.transport, 'tcp');
      await send(u?.port as number, '127.0.0.1', ['from:1|c']);
      const client = net.connect(t?.port as number, '127.0.0.1');
      client.end('over:1|c\n');
      await until(() => h.lines().length === 2, 'a line from each transport');
      assert.deepEqual(h.lines().sort(), ['from:1|c', 'over:1|c']);
      assert.equal(h.logs.filter((l) => l.level === 'info').length, 2);
    } finally {
      await h.listeners.stop();
    }
  });
});

describe('compressed datagrams', () => {
  it('inflates zlib and gzip, passes plain text, drops a bomb and counts every outcome', async () => {
    const h = await listen('udp://127.0.0.1:0', { decompress: 'auto', max_decompressed_bytes: 1024 * 1024 });
    try {
      const port = h.listeners.bound()[0]?.port as number;
      // 60 MiB of zeros deflate to ~60 KB: as big a bomb as one UDP datagram can carry.
      const bomb = await zlibBomb(60 * 1024 * 1024);
      assert.ok(bomb.length < 65_000, `bomb is ${bomb.length} bytes`);
      const garbage = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe]);
      await send(port, '127.0.0.1', [
        deflateSync('z:1|c\nz:2|c'),
        gzipSync('g:1|c'),
        'plain:1|c',
        bomb,
        garbage,
        'x^odd:1|c',
        'last:1|c',
      ]);
      await until(() => h.counter('transport_datagrams_received') === 7, 'seven datagrams');
      assert.deepEqual(h.deliveries, [
        'z:1|c\nz:2|c',
        'g:1|c',
        'plain:1|c',
        // bad_compression is handed on as is: the parser rejects (and counts) its lines...
        garbage.toString('latin1'),
        // ...or, like this text that only looks like zlib, accepts them.
        'x^odd:1|c',
        'last:1|c',
      ]);
      const m = h.ctx.stats.toMetrics(0);
      const value = (name: string, label: string, v: string): unknown =>
        (
          m.find((x) => x.name === `sluice_${name}` && x.tags.some((t) => t[0] === label && t[1] === v)) as {
            value: number;
          }
        )?.value;
      assert.equal(value('transport_datagrams_decompressed', 'format', 'zlib'), 1);
      assert.equal(value('transport_datagrams_decompressed', 'format', 'gzip'), 1);
      assert.equal(value('transport_decompress_failures', 'reason', 'decompressed_too_large'), 1);
      assert.equal(value('transport_decompress_failures', 'reason', 'bad_compression'), 2);
      const warn = h.logs.filter(
        (l) => l.level === 'warn' && String(l.msg).includes('max_decompressed_bytes'),
      );
      assert.equal(warn.length, 1);
      assert.equal(warn[0]?.count, 1);
      assert.deepEqual(h.ctx.failures, []);
    } finally {
      await h.listeners.stop();
    }
  });

  it('leaves compressed datagrams alone with decompress: none', async () => {
    const h = await listen('udp://127.0.0.1:0');
    try {
      const packed = deflateSync('z:1|c');
      await send(h.listeners.bound()[0]?.port as number, '127.0.0.1', [packed]);
      await until(() => h.deliveries.length === 1, 'one datagram');
      assert.equal(h.deliveries[0], packed.toString('latin1'));
      assert.equal(h.counter('transport_datagrams_decompressed'), 0);
    } finally {
      await h.listeners.stop();
    }
  });
});
