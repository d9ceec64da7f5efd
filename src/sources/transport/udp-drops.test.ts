import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { findMetric, recordingLogger, testContext } from '../../testing/context.js';
import { listen, until } from './test-util.js';
import { dgramSocketFd, socketInode, watchUdpDrops, type UdpDropWatchOptions } from './udp-drops.js';

/**
 * Sends `count` datagrams of `size` bytes to 127.0.0.1:`port` from another thread, so the burst
 * arrives while this thread is busy: the first one alone, then, once the receiver has set
 * `busy[0]` (or after 5 s), the rest as fast as the kernel takes them. Resolves with how many
 * were sent without error.
 */
function sendBurst(port: number, count: number, size: number, busy: Int32Array): Promise<number> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const dgram = require('node:dgram');
    const { port, count, size, busy } = workerData;
    const line = Buffer.from('burst.line:1|c\\n');
    const payload = Buffer.alloc(size, line);
    const socket = dgram.createSocket('udp4');
    let done = 0;
    let sent = 0;
    const send = () =>
      new Promise((resolve) =>
        socket.send(payload, (error) => {
          if (!error) sent++;
          if (++done === count) {
            socket.close();
            parentPort.postMessage(sent);
          }
          resolve();
        }),
      );
    // Connected, a send goes out at once: no address lookup on a later tick.
    socket.connect(port, '127.0.0.1', async () => {
      await send();
      const wait = Atomics.waitAsync(busy, 0, 0, 5000);
      if (wait.async) await wait.value;
      for (let i = 1; i < count; i++) void send();
    });
  `;
  const worker = new Worker(code, { eval: true, workerData: { port, count, size, busy } });
  return new Promise<number>((resolve, reject) => {
    worker.once('message', (sent: number) => {
      resolve(sent);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

/** A busy loop: the receiving thread stops reading its socket for this long. */
function blockEventLoop(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // a receiver too slow for the burst
  }
}

describe('udp drops: the kernel count of lost datagrams', () => {
  it('counts exactly the datagrams lost: received + udp_socket_drops == sent', async (t) => {
    if (process.platform !== 'linux') {
      // CI runs on Linux: there the test must run, never skip.
      if (process.env.CI === 'true')
        assert.fail(
          'the kernel reports drops per socket in /proc/net/udp, which only Linux has: CI must run on Linux',
        );
      t.skip('the kernel reports drops per socket in /proc/net/udp, which only Linux has');
      return;
    }
    const deprecations: string[] = [];
    const onWarning = (w: Error & { code?: string }): void => {
      if (w.name === 'DeprecationWarning') deprecations.push(`${w.code}: ${w.message}`);
    };
    process.on('warning', onWarning);

    const SENT = 2000;
    const busy = new Int32Array(new SharedArrayBuffer(4));
    let first = true;
    const h = await listen('udp://127.0.0.1:0', { receive_buffer_bytes: 4096 }, {}, () => {
      if (!first) return;
      first = false;
      Atomics.store(busy, 0, 1);
      Atomics.notify(busy, 0);
      blockEventLoop(200);
    });
    let url = '';
    try {
      const b = h.listeners.bound()[0];
      url = b?.url as string;
      const sent = await sendBurst(b?.port as number, SENT, 200, busy);
      assert.equal(sent, SENT, 'the sender had errors');
      const seen = (): number => h.counter('transport_datagrams_received') + h.counter('udp_socket_drops');
      // The kernel counter is read once a second; this waits for the read after the burst.
      await until(() => seen() >= sent, 'received + dropped to reach the number sent', 15_000);
      const received = h.counter('transport_datagrams_received');
      const dropped = h.counter('udp_socket_drops');
      t.diagnostic(`sent ${sent}: received ${received}, dropped by the kernel ${dropped}`);
      assert.ok(dropped > 0, `nothing was dropped (${received} received), so nothing was proved`);
      assert.equal(received + dropped, sent);
      assert.equal(h.deliveries.length, received);

      const metrics = h.ctx.stats.toMetrics(0);
      const drops = findMetric(metrics, 'sluice_udp_socket_drops', { listener: url });
      assert.equal(drops.kind, 'counter');
      assert.deepEqual(
        drops.tags.map((tag) => tag[0]),
        ['component', 'component_type', 'listener'],
      );
      assert.equal((drops as { value: number }).value, dropped);
      const queue = findMetric(metrics, 'sluice_udp_receive_queue_bytes', { listener: url });
      assert.equal(queue.kind, 'gauge');

      const warnings = h.logs.filter((l) => l.level === 'warn' && String(l.msg).includes('udp_socket_drops'));
      assert.equal(warnings.length, 1, 'one warning, however many reads saw drops');
      const w = warnings[0] as Record<string, unknown>;
      assert.equal(w.address, url);
      assert.ok(typeof w.count === 'number' && w.count > 0 && w.count <= dropped);
      assert.equal(w.receive_buffer_bytes, 4096);
      assert.equal(w.granted, 4096);
      for (const setting of ['receive_buffer_bytes', 'net.core.rmem_max', 'workers']) {
        assert.ok(String(w.msg).includes(setting), `the warning names ${setting}`);
      }
      assert.deepEqual(h.ctx.failures, []);
    } finally {
      await h.listeners.stop();
      process.off('warning', onWarning);
    }
    const queue = findMetric(h.ctx.stats.toMetrics(0), 'sluice_udp_receive_queue_bytes', { listener: url });
    assert.equal((queue as { value: number }).value, 0, 'no socket, no queue');
    // Warnings are emitted on a later tick.
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(deprecations, []);
  });

  it('finds the inode of a bound socket without a deprecation warning', async (t) => {
    if (process.platform !== 'linux') {
      // CI runs on Linux: there the test must run, never skip.
      if (process.env.CI === 'true')
        assert.fail('socket inodes are read from /proc/self/fd, which only Linux has: CI must run on Linux');
      t.skip('socket inodes are read from /proc/self/fd, which only Linux has');
      return;
    }
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.message);
    };
    process.on('warning', onWarning);
    const socket = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve) => socket.bind({ address: '127.0.0.1', port: 0 }, resolve));
      const fd = dgramSocketFd(socket);
      assert.ok(typeof fd === 'number' && fd > 2, `fd ${fd}`);
      const inode = await socketInode(socket);
      assert.ok(Number.isSafeInteger(inode) && inode > 0, `inode ${inode}`);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(warnings, []);
    } finally {
      socket.close();
      process.off('warning', onWarning);
    }
  });

  it('has no file descriptor before bind, and no inode to report', async () => {
    const socket = dgram.createSocket('udp4');
    try {
      assert.equal(dgramSocketFd(socket), undefined);
      await assert.rejects(socketInode(socket), /file descriptor/);
    } finally {
      socket.close();
    }
  });
});

const HEADER =
  '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n';
const row = (inode: number, rxQueue: number, drops: number): string =>
  ` 5260: 0100007F:1FBD 00000000:0000 07 00000000:${rxQueue.toString(16).padStart(8, '0')} 00:00000000 ` +
  `00000000     0        0 ${inode} 2 0000000046d445b1 ${drops}\n`;

/** A watch on a fake table: `table.text` is what the next read returns (or throws, if an Error). */
function fakeWatch(options: Partial<UdpDropWatchOptions> = {}) {
  const { log, lines: logs } = recordingLogger();
  const ctx = testContext({ log, type: 'statsd' });
  const table: { text: string | Error; paths: string[] } = { text: HEADER + row(42, 0, 0), paths: [] };
  const dropped: number[] = [];
  const start = (family: 4 | 6 = 4) =>
    watchUdpDrops({} as dgram.Socket, family, 'udp://127.0.0.1:8125', ctx, {
      onDrops: (n) => dropped.push(n),
      platform: 'linux',
      inodeOf: () => Promise.resolve(42),
      readTable: (path) => {
        table.paths.push(path);
        return table.text instanceof Error ? Promise.reject(table.text) : Promise.resolve(table.text);
      },
      pollMs: 60_000,
      ...options,
    });
  const value = (name: string): number | undefined =>
    (ctx.stats.toMetrics(0).find((m) => m.name === `sluice_${name}`) as { value?: number } | undefined)
      ?.value;
  return { ctx, logs, table, dropped, start, value };
}

describe('watchUdpDrops', () => {
  it('counts what was dropped before the first read, then each increase, across the 32-bit wrap', async () => {
    const f = fakeWatch();
    f.table.text = HEADER + row(7, 0, 0) + row(42, 0x300, 5);
    const watch = await f.start();
    assert.ok(watch !== undefined);
    assert.equal(f.value('udp_socket_drops'), 5);
    assert.equal(f.value('udp_receive_queue_bytes'), 0x300);
    f.table.text = HEADER + row(42, 0x100, 2 ** 32 - 1);
    await watch.stop();
    assert.equal(f.value('udp_socket_drops'), 2 ** 32 - 1);
    assert.deepEqual(f.dropped, [5, 2 ** 32 - 1 - 5]);
    assert.equal(f.value('udp_receive_queue_bytes'), 0);

    const g = fakeWatch();
    g.table.text = HEADER + row(42, 0, 2 ** 32 - 2);
    const wrapping = await g.start();
    g.table.text = HEADER + row(42, 0, 3);
    await wrapping?.stop();
    assert.deepEqual(g.dropped, [2 ** 32 - 2, 5]);
  });

  it('reads /proc/net/udp for IPv4 and /proc/net/udp6 for IPv6', async () => {
    const v4 = fakeWatch();
    await (await v4.start(4))?.stop();
    assert.deepEqual(v4.table.paths, ['/proc/net/udp', '/proc/net/udp']);
    const v6 = fakeWatch();
    await (await v6.start(6))?.stop();
    assert.deepEqual(v6.table.paths, ['/proc/net/udp6', '/proc/net/udp6']);
  });

  it('reads within pollMs of datagrams arriving, and sets no timer while none arrive', async () => {
    const f = fakeWatch({ pollMs: 5 });
    const watch = await f.start();
    assert.ok(watch !== undefined);
    f.table.text = HEADER + row(42, 0, 9);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(f.table.paths.length, 1, 'only the first read: nothing arrived');
    for (let i = 0; i < 100; i++) watch.arrived();
    await until(() => f.value('udp_socket_drops') === 9, 'a poll to count the drops');
    assert.equal(f.table.paths.length, 2, 'one read for a burst of datagrams');
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(f.table.paths.length, 2, 'no read once they stop');
    watch.arrived();
    await watch.stop();
    const reads = f.table.paths.length;
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(f.table.paths.length, reads, 'no reads after stop');
  });

  const disabled: { name: string; options: Partial<UdpDropWatchOptions>; text?: string; log: RegExp }[] = [
    { name: 'off Linux', options: { platform: 'darwin' }, log: /Linux/ },
    {
      name: 'when the inode cannot be found',
      options: { inodeOf: () => Promise.reject(new Error('no fd')) },
      log: /no fd/,
    },
    { name: 'when the socket has no row', options: {}, text: HEADER + row(7, 0, 0), log: /inode 42/ },
    {
      name: 'when the table cannot be read',
      options: { readTable: () => Promise.reject(new Error('EACCES')) },
      log: /EACCES/,
    },
  ];
  for (const c of disabled) {
    it(`turns itself off quietly ${c.name}: a debug line, no stats`, async () => {
      const f = fakeWatch(c.options);
      if (c.text !== undefined) f.table.text = c.text;
      assert.equal(await f.start(), undefined);
      assert.deepEqual(f.ctx.stats.toMetrics(0), []);
      assert.deepEqual(
        f.logs.map((l) => l.level),
        ['debug'],
      );
      assert.match(JSON.stringify(f.logs[0]), c.log);
    });
  }

  it('stops reading, with a debug line, when a later read fails', async () => {
    const f = fakeWatch({ pollMs: 5 });
    const watch = await f.start();
    f.table.text = new Error('gone');
    watch?.arrived();
    await until(() => f.logs.length > 0, 'the failed read to be logged');
    const reads = f.table.paths.length;
    watch?.arrived();
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(f.table.paths.length, reads, 'no reads after a failure');
    await watch?.stop();
    assert.equal(f.table.paths.length, reads, 'no final read either');
    assert.deepEqual(
      f.logs.map((l) => [l.level, l.msg]),
      [['debug', 'Stopped counting UDP datagrams dropped by the kernel.']],
    );
  });
});
