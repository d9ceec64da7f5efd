// What a line costs the stream listener when it arrives in many small reads: the CPU time of the
// receiving process (process.cpuUsage()) to deliver one long line sent in one write, against the
// same line sent one byte per write. The sender runs in a child process so its own cost (a
// million writes) is not counted. With framing that copies the unfinished line on every read the
// trickle costs grow with the square of the line's length; with linear framing they should stay
// a small multiple of the one-write cost (the rest is the per-read overhead of Node and libuv).
//
//   npm run build && node bench/stream-trickle.mjs
//
// The kernel may coalesce tiny writes into one read when the receiver falls behind, so the
// table also shows how many reads (framer pushes) the listener actually saw, and the CPU per
// read: constant when framing is linear, growing with the line when it is not. Because that
// coalescing varies from run to run (a slower receiver gets bigger reads), a second table feeds
// the framer alone one byte per push, in this process: the framing cost without the kernel's
// help. A case whose projected time (if the cost per byte grows with the line) passes 60 s is
// skipped, so the old quadratic framing stays bounded.
import { fork } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(import.meta.url);

if (process.argv[2] === '--send') await send(Number(process.argv[3]), Number(process.argv[4]));
else await main();

/**
 * Child: connects, says so, waits for "go", then writes a `bytes`-long line (newline last)
 * `writeSize` bytes per write, waiting for 'drain' whenever the socket asks it to.
 */
async function send(port, bytes, writeSize = Number(process.argv[5])) {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.setNoDelay(true);
  const line = Buffer.alloc(bytes, 0x78);
  line[bytes - 1] = 0x0a;
  process.send('connected');
  await new Promise((resolve) => process.once('message', resolve));
  for (let at = 0; at < bytes; at += writeSize) {
    if (!socket.write(line.subarray(at, Math.min(bytes, at + writeSize))))
      await new Promise((resolve) => socket.once('drain', resolve));
  }
  await new Promise((resolve) => socket.end(resolve));
  process.disconnect();
}

async function main() {
  const root = path.join(path.dirname(HERE), '..', 'dist');
  const { parseListenAddresses } = await import(path.join(root, 'sources/transport/address.js'));
  const { createListeners } = await import(path.join(root, 'sources/transport/listeners.js'));
  const { LineFramer } = await import(path.join(root, 'sources/transport/framing.js'));
  const { testContext } = await import(path.join(root, 'testing/context.js'));

  // Counts the reads the listener framed; one increment per read is noise next to a read.
  let reads = 0;
  const push = LineFramer.prototype.push;
  LineFramer.prototype.push = function (chunk) {
    reads++;
    return push.call(this, chunk);
  };

  const MiB = 1024 * 1024;
  const cases = [
    { bytes: MiB, writeSize: MiB },
    { bytes: 64 * 1024, writeSize: 1 },
    { bytes: MiB, writeSize: 1 },
  ];
  const rows = [];
  for (const c of cases) {
    const parsed = parseListenAddresses('tcp://127.0.0.1:0');
    let delivered = 0;
    let onLine;
    const lineArrived = new Promise((resolve) => (onLine = resolve));
    const listeners = createListeners(parsed.value, { max_line_bytes: 2 * MiB }, testContext(), (buf) => {
      delivered += buf.length;
      if (delivered >= c.bytes - 1) onLine();
    });
    await listeners.start();
    const port = listeners.bound()[0].port;
    const child = fork(HERE, ['--send', String(port), String(c.bytes), String(c.writeSize)]);
    await new Promise((resolve) => child.once('message', resolve));
    // Let the accept settle so only the line's own reads are measured.
    await new Promise((resolve) => setTimeout(resolve, 100));
    reads = 0;
    const cpu0 = process.cpuUsage();
    const wall0 = process.hrtime.bigint();
    child.send('go');
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no line after 300 s: ${JSON.stringify(c)}`)), 300_000);
    });
    await Promise.race([lineArrived, timeout]);
    clearTimeout(timer);
    const cpu = process.cpuUsage(cpu0);
    const wallMs = Number(process.hrtime.bigint() - wall0) / 1e6;
    const cpuMs = (cpu.user + cpu.system) / 1000;
    rows.push({
      bytes: c.bytes,
      writes: Math.ceil(c.bytes / c.writeSize),
      reads,
      'CPU ms': Number(cpuMs.toFixed(1)),
      'CPU ns/byte': Number(((cpuMs * 1e6) / c.bytes).toFixed(1)),
      'CPU us/read': Number(((cpuMs * 1e3) / reads).toFixed(2)),
      'wall ms': Math.round(wallMs),
    });
    await new Promise((resolve) => child.once('exit', resolve));
    await listeners.stop();
  }
  console.table(rows);
  const oneWrite = rows[0]['CPU ms'];
  const trickle = rows[2]['CPU ms'];
  console.log(`1 MiB line, one byte per write / one write: ${(trickle / oneWrite).toFixed(1)}x the CPU`);

  LineFramer.prototype.push = push;
  const framerRows = [];
  let previous;
  for (const bytes of [16 * 1024, 128 * 1024, MiB]) {
    if (previous !== undefined) {
      const projectedMs = (previous.ms * (bytes / previous.bytes) ** 2) | 0;
      if (projectedMs > 60_000) {
        framerRows.push({ bytes, pushes: bytes, 'CPU ms': `skipped: ~${projectedMs} projected` });
        continue;
      }
    }
    const line = Buffer.alloc(bytes, 0x78);
    line[bytes - 1] = 0x0a;
    const framer = new LineFramer(2 * MiB, { inc() {} });
    let got = 0;
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < bytes; i++) got += framer.push(line.subarray(i, i + 1))?.length ?? 0;
    const cpu = process.cpuUsage(cpu0);
    if (got !== bytes - 1) throw new Error(`framer delivered ${got} bytes of ${bytes - 1}`);
    const ms = (cpu.user + cpu.system) / 1000;
    previous = { bytes, ms };
    framerRows.push({
      bytes,
      pushes: bytes,
      'CPU ms': Number(ms.toFixed(1)),
      'CPU ns/byte': Number(((ms * 1e6) / bytes).toFixed(1)),
    });
  }
  console.log('LineFramer alone, one byte per push:');
  console.table(framerRows);
}
