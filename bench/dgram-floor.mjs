// The floor for any Node StatsD receiver: a bare dgram socket that only counts lines (one name per
// datagram, as the load generator sends them) and prints the counts once per flush interval, in
// the console sink's JSON shape. What sluice costs above this is parsing and aggregation.
// Usage: node bench/dgram-floor.mjs PORT FLUSH_MS RCVBUF_BYTES
import dgram from 'node:dgram';

const [port, flushMs, rcvbuf] = process.argv.slice(2).map(Number);
let counts = new Map();
const socket = dgram.createSocket('udp4');
socket.on('message', (msg) => {
  let lines = 1;
  for (let i = msg.indexOf(0x0a); i >= 0; i = msg.indexOf(0x0a, i + 1)) lines++;
  const name = msg.toString('latin1', 0, msg.indexOf(0x3a));
  counts.set(name, (counts.get(name) ?? 0) + lines);
});
socket.bind(port, '127.0.0.1', () => {
  if (rcvbuf > 0) socket.setRecvBufferSize(rcvbuf);
  setInterval(() => {
    const out = counts;
    counts = new Map();
    for (const [name, value] of out)
      process.stdout.write(JSON.stringify({ name, kind: 'counter', value }) + '\n');
  }, flushMs);
});
process.on('SIGTERM', () => process.exit(0));
