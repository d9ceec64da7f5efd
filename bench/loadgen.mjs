// Fallback load generator for machines without a C compiler: same arguments and JSON output as
// bench/loadgen.c, but one dgram send per datagram, so it saturates near the rate a Node
// receiver handles and the figures it yields measure the generator as much as the receiver.
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';

const opts = { port: -1, rate: 0, lines: 1, total: 100000, maxSeconds: 30, name: '', tags: '' };
const argv = process.argv.slice(2);
for (let i = 0; i + 1 < argv.length; i += 2) {
  const key = argv[i].replace(/^--/, '').replace(/-(\w)/g, (_m, c) => c.toUpperCase());
  if (!(key in opts)) throw new Error(`loadgen.mjs: unknown option ${argv[i]}`);
  opts[key] = typeof opts[key] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
}
if (opts.port < 1 || opts.name === '') throw new Error('loadgen.mjs: --port (>0) and --name are required');

const line = opts.tags ? `${opts.name}:1|c|#${opts.tags}` : `${opts.name}:1|c`;
const payload = Buffer.from(Array(opts.lines).fill(line).join('\n'));
const totalDgrams = Math.ceil(opts.total / opts.lines);
const dgramRate = opts.rate / opts.lines;
const socket = dgram.createSocket('udp4');
socket.connect(opts.port, '127.0.0.1', () => {
  const start = performance.now();
  let sent = 0;
  let errors = 0;
  let inFlight = 0;
  const onSent = (err) => {
    inFlight--;
    if (err) errors++;
  };
  const tick = () => {
    const elapsed = (performance.now() - start) / 1000;
    if (sent >= totalDgrams || elapsed > opts.maxSeconds) {
      if (inFlight > 0) return void setImmediate(tick);
      const good = sent - errors;
      process.stdout.write(
        JSON.stringify({
          generator: 'node-dgram',
          port: opts.port,
          lines_per_datagram: opts.lines,
          line_bytes: line.length,
          datagram_bytes: payload.length,
          target_rate: opts.rate,
          datagrams: good,
          lines: good * opts.lines,
          send_errors: errors,
          elapsed_s: elapsed,
          lines_per_s: (good * opts.lines) / elapsed,
          datagrams_per_s: good / elapsed,
        }) + '\n',
      );
      socket.close();
      return;
    }
    const due = opts.rate > 0 ? Math.min(totalDgrams, Math.floor(elapsed * dgramRate)) : totalDgrams;
    // Bound what is queued in libuv so memory stays flat when the sender cannot keep up.
    while (sent < due && inFlight < 256) {
      inFlight++;
      sent++;
      socket.send(payload, onSent);
    }
    setImmediate(tick);
  };
  tick();
});
