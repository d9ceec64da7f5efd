// Tests of the bench's own readers and of the load generator's honesty (what it says it sent is
// what arrives). Run with `node --test bench/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRcvbuf, parseStatCpu, parseUdpTable } from './procfs.mjs';
import { CollectdReceiver } from './receivers.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

const UDP = [
  '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            ',
  '13758: 0100007F:4E1F 00000000:0000 07 00000000:00000A00 00:00000000 00000000     0        0 82094 2 00000000dd8a42c9 1726101   ',
  '  812: 00000000:1FBD 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 11111 2 0000000000000000 7 ',
  '  813: 0200007F:1FBE 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 22222 2 0000000000000000 9 ',
  '',
].join('\n');

test('parseUdpTable finds the row of a port on 127.0.0.1 or 0.0.0.0', () => {
  const cases = [
    { port: 0x4e1f, want: { drops: 1726101, rxQueueBytes: 0xa00, inode: 82094, sockets: 1 } },
    { port: 0x1fbd, want: { drops: 7, rxQueueBytes: 0, inode: 11111, sockets: 1 } },
    { port: 0x1fbe, want: undefined }, // bound to 127.0.0.2, not ours
    { port: 9999, want: undefined },
  ];
  for (const { port, want } of cases) assert.deepEqual(parseUdpTable(UDP, port), want, `port ${port}`);
});

test('parseUdpTable sums every socket sharing a port (SO_REUSEPORT: one per worker)', () => {
  const shared = [
    UDP.split('\n')[0],
    '   10: 0100007F:2000 00000000:0000 07 00000000:00000100 00:00000000 00000000     0        0 501 2 0000000000000000 3 ',
    '   11: 0100007F:2000 00000000:0000 07 00000000:00000200 00:00000000 00000000     0        0 502 2 0000000000000000 40 ',
    '   12: 0100007F:2001 00000000:0000 07 00000000:00000400 00:00000000 00000000     0        0 503 2 0000000000000000 500 ',
    '',
  ].join('\n');
  assert.deepEqual(parseUdpTable(shared, 0x2000), {
    drops: 43,
    rxQueueBytes: 0x300,
    inode: 501,
    sockets: 2,
  });
});

test("CollectdReceiver reads a counter's running total from the last row of its csv file", async (t) => {
  const r = new CollectdReceiver(dirname(HERE));
  t.after(() => r.stop());
  assert.equal(r.received('bench_x'), 0); // no file yet
  const dir = join(r.csvDir, 'bench', 'statsd');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'derive-bench_xy-2026-01-01'), 'epoch,value\n1.0,99\n');
  writeFileSync(join(dir, 'derive-bench_x-2026-01-01'), 'epoch,value\n1.0,2000\n2.0,2500\n');
  assert.equal(r.received('bench_x'), 2500);
  assert.equal(r.received('bench_xy'), 99);
});

test('parseStatCpu adds utime and stime after a command name with spaces and parentheses', () => {
  const stat = '4242 (node (bench) x) S 1 4242 4242 0 -1 4194304 10 0 0 0 250 75 0 0 20 0 7 0 1 2 3';
  assert.equal(parseStatCpu(stat, 100), 3.25);
});

test('parseRcvbuf reads the rb field of ss -m', () => {
  const line = 'UNCONN 0 0 127.0.0.1:8125 0.0.0.0:* skmem:(r0,rb8388608,t0,tb212992,f0,w0,o0,bl0,d12)';
  assert.equal(parseRcvbuf(line), 8388608);
  assert.equal(parseRcvbuf('no such socket'), undefined);
  const two = `${line}\n${line.replace('rb8388608', 'rb212992')}`;
  assert.equal(parseRcvbuf(two), 8388608 + 212992);
});

/**
 * Compiles bench/loadgen.c into a temporary folder removed after the test; undefined (the test
 * skipped) only outside CI on a machine without cc: the benchmark then falls back to a Node
 * generator, and CI machines have one.
 */
function compileLoadgen(t) {
  const dir = mkdtempSync(join(tmpdir(), 'loadgen-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'loadgen');
  const cc = spawnSync('cc', ['-O2', '-o', bin, join(HERE, 'loadgen.c')], { encoding: 'utf8' });
  if (cc.error !== undefined) {
    if (process.env.CI === 'true') assert.fail(`cc is missing: ${cc.error.message}`);
    t.skip('no C compiler (cc) on this machine');
    return undefined;
  }
  assert.equal(cc.status, 0, cc.stderr);
  return bin;
}

test('the C load generator sends exactly the lines it reports, in the StatsD shape', async (t) => {
  const bin = compileLoadgen(t);
  if (bin === undefined) return;

  const socket = dgram.createSocket('udp4');
  t.after(() => socket.close());
  let lines = 0;
  let first = '';
  socket.on('message', (msg) => {
    const text = msg.toString('latin1');
    if (first === '') first = text.split('\n')[0];
    lines += text.split('\n').length;
  });
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();

  const args = ['--port', String(port), '--rate', '50000', '--lines', '20', '--total', '2000'];
  const run = spawnSync(bin, [...args, '--name', 'bench_t', '--tags', 'a:1,b:2'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  assert.equal(report.lines, 2000);
  assert.equal(report.datagrams, 100);
  assert.equal(report.send_errors, 0);
  // 2000 lines at 50k lines/s take 40 ms: pacing must show.
  assert.ok(report.elapsed_s >= 0.03, `elapsed ${report.elapsed_s}`);

  for (let i = 0; i < 100 && lines < 2000; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(lines, 2000);
  assert.equal(first, 'bench_t:1|c|#a:1,b:2');
});

test('the C load generator with --sockets N sends from N source ports, the lines still exact', async (t) => {
  const bin = compileLoadgen(t);
  if (bin === undefined) return;

  const socket = dgram.createSocket('udp4');
  t.after(() => socket.close());
  let lines = 0;
  const ports = new Set();
  socket.on('message', (msg, rinfo) => {
    ports.add(rinfo.port);
    lines += msg.toString('latin1').split('\n').length;
  });
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();

  // spawnSync blocks this thread: what is sent must fit in the socket's buffer (100 datagrams).
  const args = ['--port', String(port), '--rate', '50000', '--lines', '20', '--total', '2000'];
  const run = spawnSync(bin, [...args, '--sockets', '4', '--name', 'bench_s'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  assert.equal(report.lines, 2000);
  assert.equal(report.sockets, 4);
  for (let i = 0; i < 100 && lines < 2000; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(lines, 2000);
  assert.equal(ports.size, 4);
});
