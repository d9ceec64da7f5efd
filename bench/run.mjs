// `npm run bench`: sluice against Etsy's statsd, end to end over real UDP on 127.0.0.1.
//
// For each receiver, mode (lines per datagram) and with/without DogStatsD tags, a C load generator
// (bench/loadgen.c, sendmmsg) sends counter increments at rising rates for a fixed time per step,
// each step under a fresh metric name; the receiver flushes every second, and the step counts what
// came out of the flush. Beside it: the kernel's drop counter for the receiver's socket
// (/proc/net/udp) and the receiver's CPU time (/proc/PID/stat). Receivers run one at a time, the
// receiver pinned to CPU 0 and the generator to CPU 1. Then bench/series-memory.mjs measures bytes
// per series and in-process parse+aggregate throughput.
//
// Options: --quick (short run), --raise-rmem (root: net.core.rmem_max and rmem_default to 16 MiB
// for the run, restored afterwards), --receivers sluice,etsy[,dgram] (dgram: a bare Node socket
// that only counts lines, the floor under any Node receiver; collectd: collectd's statsd plugin,
// needs collectd-core, runs without tags only as it rejects them), --step-seconds N, --no-tags,
// --no-memory, --no-fleet (skip bench/fleet.mjs, the aggregator tier on Kafka), --no-pin, --nice N (run generator and receivers at this priority; negative needs
// root: keeps other work on a shared machine from stalling them), --json FILE (raw results),
// --sluice-bin PATH (another build's bin/sluice.js), --sluice-node PATH (run sluice under this
// Node binary; SO_REUSEPORT for several workers needs Node >= 22.12), --workers LIST (e.g.
// 0,1,auto: one sluice receiver per value, named sluice(w=V), with `workers: V` in its statsd
// source; without it the config leaves `workers` at its default), --senders N (the C generator
// sends from N sockets, so the kernel spreads datagrams over a receiver's SO_REUSEPORT sockets;
// with one, every datagram goes to the same socket and worker). BENCH_QUICK=1 is the same as
// --quick.
import { spawnSync } from 'node:child_process';
import { loadgenBinIfCompiler, runJson } from './loadgen-bin.mjs';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuSeconds, readRmem, socketRcvbuf, udpSocket, writeRmem } from './procfs.mjs';
import {
  CollectdReceiver,
  DgramFloorReceiver,
  EtsyReceiver,
  FLUSH_MS,
  placed,
  SluiceReceiver,
} from './receivers.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TAGS = 'env:bench,host:h1,route:/api/x';
const LOSS_FREE = 0.001; // "loss-free": under 0.1 % of lines lost
const BIG_RMEM = 16 * 1024 * 1024;
const RETRY_BELOW = 0.05; // steps losing less than this are run a second time

const RECEIVERS = {
  sluice: (ctx) => new SluiceReceiver(ROOT, ctx.opts.sluiceBin, { node: ctx.opts.sluiceNode }),
  etsy: () => new EtsyReceiver(ROOT),
  // Not run by default: a bare dgram socket that counts lines, the floor under any Node receiver.
  dgram: () => new DgramFloorReceiver(ROOT),
  // Not run by default: collectd's statsd plugin (needs collectd-core), counted from its csv files.
  collectd: () => new CollectdReceiver(ROOT),
};
/** Receivers whose parser rejects DogStatsD tags: run without tags only. */
const NO_TAGS = new Set(['collectd']);
/** `sluice(w=V)`: sluice with `workers: V` (--workers). */
const SLUICE_WORKERS = /^sluice\(w=(auto|\d+)\)$/;

function makeReceiver(ctx, name) {
  const w = SLUICE_WORKERS.exec(name);
  if (w) return new SluiceReceiver(ROOT, ctx.opts.sluiceBin, { node: ctx.opts.sluiceNode, workers: w[1] });
  return RECEIVERS[name](ctx);
}

function parseArgs(argv) {
  const o = {
    quick: false,
    raiseRmem: false,
    receivers: ['sluice', 'etsy'],
    stepSeconds: undefined,
    tags: true,
    memory: true,
    fleet: true,
    pin: true,
    json: undefined,
    sluiceBin: undefined,
    sluiceNode: undefined,
    workers: undefined,
    senders: 1,
    nice: undefined,
    // Lines per datagram of each series (1 and 20 by default; the issue's 25 with --lines 1,25).
    lines: [1, 20],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--raise-rmem') o.raiseRmem = true;
    else if (a === '--no-tags') o.tags = false;
    else if (a === '--no-memory') o.memory = false;
    else if (a === '--no-fleet') o.fleet = false;
    else if (a === '--no-pin') o.pin = false;
    else if (a === '--receivers') o.receivers = argv[++i].split(',');
    else if (a === '--step-seconds') o.stepSeconds = Number(argv[++i]);
    else if (a === '--json') o.json = argv[++i];
    else if (a === '--sluice-bin') o.sluiceBin = argv[++i];
    else if (a === '--sluice-node') o.sluiceNode = argv[++i];
    else if (a === '--workers') o.workers = argv[++i].split(',');
    else if (a === '--senders') o.senders = Number(argv[++i]);
    else if (a === '--nice') o.nice = Number(argv[++i]);
    else if (a === '--lines') o.lines = argv[++i].split(',').map(Number);
    else throw new Error(`bench: unknown option ${a}`);
  }
  if (process.env.BENCH_QUICK === '1') o.quick = true;
  for (const n of o.lines)
    if (!(Number.isInteger(n) && n >= 1 && n <= 100))
      throw new Error('bench: --lines takes counts in [1, 100]');
  o.stepSeconds ??= o.quick ? 1 : 2;
  if (!(o.stepSeconds > 0 && o.stepSeconds <= 10))
    throw new Error('bench: --step-seconds must be in (0, 10]');
  if (o.nice !== undefined && !(Number.isInteger(o.nice) && o.nice >= -20 && o.nice <= 19))
    throw new Error('bench: --nice takes an integer in [-20, 19]');
  for (const r of o.receivers) if (!(r in RECEIVERS)) throw new Error(`bench: no receiver ${r}`);
  if (o.workers !== undefined) {
    for (const w of o.workers)
      if (!/^(auto|\d+)$/.test(w)) throw new Error(`bench: --workers takes auto or counts, not ${w}`);
    if (!o.receivers.includes('sluice')) throw new Error('bench: --workers needs the sluice receiver');
    o.receivers = o.receivers.flatMap((r) => (r === 'sluice' ? o.workers.map((w) => `sluice(w=${w})`) : [r]));
  }
  if (!(Number.isInteger(o.senders) && o.senders >= 1 && o.senders <= 64))
    throw new Error('bench: --senders takes an integer in [1, 64]');
  if (o.sluiceNode !== undefined && !existsSync(o.sluiceNode))
    throw new Error(`bench: --sluice-node ${o.sluiceNode} does not exist`);
  return o;
}

const RATES = {
  full: {
    // The top rungs are past what the receivers can take on a quiet 2-core machine, so that
    // every run finds both the sustained and the flooded rate.
    1: [10_000, 25_000, 50_000, 100_000, 200_000, 400_000, 800_000],
    20: [50_000, 100_000, 200_000, 400_000, 800_000, 1_600_000, 3_200_000, 6_400_000],
  },
  quick: { 1: [25_000, 100_000, 400_000], 20: [100_000, 400_000, 1_600_000] },
};

/** The ladder for each lines-per-datagram count: 1's for one line, 20's for any batch. */
function ratesFor(ladders, lines) {
  return Object.fromEntries(lines.map((n) => [n, ladders[n] ?? ladders[n === 1 ? 1 : 20]]));
}

/** The C load generator (compiled when needed); the Node one when there is no C compiler. */
function prepareGenerator() {
  const bin = loadgenBinIfCompiler();
  if (bin !== undefined) return { kind: 'c', bin };
  console.log(
    'WARNING: no C compiler found; using the Node load generator (bench/loadgen.mjs), which cannot ' +
      'outrun a Node receiver: the figures below measure the generator too.',
  );
  return { kind: 'node', bin: join(ROOT, 'bench', 'loadgen.mjs') };
}

function runGenerator(gen, placement, args) {
  const flat = Object.entries(args).flatMap(([k, v]) => [`--${k}`, String(v)]);
  const [cmd, argv] =
    gen.kind === 'c'
      ? placed(gen.bin, flat, placement)
      : placed(process.execPath, [gen.bin, ...flat], placement);
  return runJson(cmd, argv);
}

/**
 * Waits until the step's lines have come out of a flush: all of them, or no change for a flush
 * interval once two intervals have passed since the sender stopped. Bounded.
 */
async function waitForCount(receiver, name, sent, sendEnd) {
  const hardDeadline = sendEnd + 2 * FLUSH_MS + 8000;
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    await sleep(100);
    if (receiver.exited) throw new Error(`${receiver.kind} exited:\n${receiver.tail.join('\n')}`);
    const got = receiver.received(name);
    const now = Date.now();
    if (got >= sent) return got;
    if (got !== last) {
      last = got;
      lastChange = now;
    }
    if (now >= sendEnd + 2 * FLUSH_MS + 300 && now - lastChange > FLUSH_MS + 300) return got;
    if (now > hardDeadline) return got;
  }
}

async function runStep(ctx, receiver, cfg, lines, rate, seconds = ctx.opts.stepSeconds, label = '') {
  const name = `bench_${cfg.receiver.replace(/\W+/g, '_')}_${cfg.tags ? 'tags' : 'plain'}_${lines}l_${rate}${label}_${ctx.nonce}`;
  const total = Math.max(lines, Math.round((rate * seconds) / lines) * lines);
  const before = udpSocket(receiver.port);
  const cpu0 = cpuSeconds(receiver.pid);
  const gen = await runGenerator(ctx.gen, ctx.genAt, {
    port: receiver.port,
    rate,
    lines,
    total,
    'max-seconds': seconds * 3 + 2,
    name,
    ...(cfg.tags ? { tags: TAGS } : {}),
    ...(ctx.opts.senders > 1 ? { sockets: ctx.opts.senders } : {}),
  });
  const received = await waitForCount(receiver, name, gen.lines, Date.now());
  const after = udpSocket(receiver.port);
  const cpu = cpuSeconds(receiver.pid) - cpu0;
  const dropDatagrams = after && before ? after.drops - before.drops : NaN;
  return {
    receiver: cfg.receiver,
    tags: cfg.tags,
    lines_per_datagram: lines,
    target_rate: rate,
    sent: gen.lines,
    send_rate: gen.lines_per_s,
    send_seconds: gen.elapsed_s,
    send_errors: gen.send_errors,
    received,
    loss: gen.lines > 0 ? (gen.lines - received) / gen.lines : 0,
    kernel_drops_datagrams: dropDatagrams,
    kernel_drops_lines: dropDatagrams * lines,
    sockets: after?.sockets,
    handled_rate: received / gen.elapsed_s,
    cpu_seconds: cpu,
    lines_per_cpu_second: cpu > 0 ? received / cpu : NaN,
    generator_kept_up: gen.lines_per_s >= 0.95 * rate,
  };
}

function fmtInt(n) {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-';
}

function printRow(r) {
  const cols = [
    r.receiver,
    r.tags ? 'yes' : 'no',
    r.lines_per_datagram,
    fmtInt(r.target_rate) + (r.note ? ` (${r.note})` : ''),
    fmtInt(r.sent) + (r.generator_kept_up ? '' : ' (gen slow)'),
    fmtInt(r.received),
    (r.loss * 100).toFixed(2),
    fmtInt(r.kernel_drops_lines),
    fmtInt(r.handled_rate),
    r.cpu_seconds.toFixed(2),
    fmtInt(r.lines_per_cpu_second),
  ];
  console.log(`| ${cols.join(' | ')} |`);
}

const HEADER =
  '| receiver | tags | lines/dgram | target lines/s | sent | received | loss % | kernel drops (lines) | handled lines/s | receiver CPU s | lines per CPU-s |\n' +
  '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|';

/** Probes between the last clean step and the first lossy one: 4 halve the gap to 1/16 (log scale). */
const BISECT_PROBES = 4;

/** Steps the rate up until a step loses lines, then bisects between the last clean step and it. */
async function runSeries(ctx, cfg, lines) {
  const receiver = makeReceiver(ctx, cfg.receiver);
  ctx.live.add(receiver);
  const rows = [];
  try {
    await receiver.start(ctx.recvAt);
    // Warm-up: lets V8 compile the receive path before the first measured step.
    await runStep(ctx, receiver, cfg, lines, ctx.rates[lines][0], 0.5, '_warmup');
    // Read after the warm-up: receivers size their buffer just after binding.
    const rcvbuf = socketRcvbuf(receiver.port);
    ctx.rcvbuf[cfg.receiver] = rcvbuf;
    ctx.sockets[cfg.receiver] = udpSocket(receiver.port)?.sockets;
    // A step with a little loss is run once more: on a shared 2-core machine a stray process
    // can stall the receiver for a few ms, which overflows its buffer. Both rows are printed.
    const measure = async (rate, note) => {
      let row = await runStep(ctx, receiver, cfg, lines, rate);
      Object.assign(row, { rcvbuf, note });
      rows.push(row);
      printRow(row);
      if (row.loss >= LOSS_FREE && row.loss < RETRY_BELOW) {
        const again = await runStep(ctx, receiver, cfg, lines, rate, ctx.opts.stepSeconds, '_retry');
        Object.assign(again, { rcvbuf, note: note ? `${note}, retry` : 'retry' });
        rows.push(again);
        printRow(again);
        if (again.loss < row.loss) row = again;
      }
      return row;
    };
    for (const rate of ctx.rates[lines]) {
      const row = await measure(rate, '');
      if (row.loss >= LOSS_FREE) break;
    }
    // Bisects (geometrically) between the last clean step and the first lossy one, so the
    // sustained rate is found within a few percent of the ladder's doubling.
    let ok = rows.filter((r) => r.loss < LOSS_FREE).at(-1)?.target_rate;
    let bad = rows.find((r) => r.loss >= LOSS_FREE && (ok === undefined || r.target_rate > ok))?.target_rate;
    for (
      let probe = 0;
      !ctx.opts.quick && ok !== undefined && bad !== undefined && probe < BISECT_PROBES;
      probe++
    ) {
      const rate = Number(Math.sqrt(ok * bad).toPrecision(2));
      if (rate <= ok || rate >= bad) break;
      const row = await measure(rate, 'between');
      if (row.loss < LOSS_FREE) ok = rate;
      else bad = rate;
    }
  } finally {
    await receiver.stop();
    ctx.live.delete(receiver);
  }
  return rows;
}

function headline(results, receivers) {
  const both = receivers.includes('sluice') && receivers.includes('etsy');
  const groups = new Map();
  for (const r of results) {
    const key = `${r.tags ? 'tags' : 'plain'}|${r.lines_per_datagram}`;
    if (!groups.has(key)) groups.set(key, {});
    const g = groups.get(key);
    g[r.receiver] ??= { best: 0, lossFreeAtTop: true, peakPerCpu: 0, lowestSent: Infinity, flooded: 0 };
    const s = g[r.receiver];
    s.lowestSent = Math.min(s.lowestSent, r.send_rate);
    if (r.loss >= LOSS_FREE) s.lossFreeAtTop = false;
    // Flooded: the lines a receiver still handles per second while it loses some.
    if (r.loss >= LOSS_FREE && r.handled_rate > s.flooded) s.flooded = r.handled_rate;
    // The rate actually sent, not the target: a generator slowed by a busy machine still counts.
    if (r.loss < LOSS_FREE && r.send_rate > s.best) s.best = r.send_rate;
    if (r.lines_per_cpu_second > s.peakPerCpu) s.peakPerCpu = r.lines_per_cpu_second;
  }
  console.log(
    '\n## Headline: sustained (highest rate sent with < 0.1 % lost), flooded (most lines handled per ' +
      'second in a step that lost ≥ 0.1 %), and peak lines per receiver CPU-second\n',
  );
  console.log(
    '| tags | lines/dgram | ' +
      receivers
        .map((r) => `${r} sustained lines/s | ${r} flooded lines/s | ${r} lines per CPU-s`)
        .join(' | ') +
      (both ? ' | sluice/etsy loss-free | sluice/etsy per CPU-s' : '') +
      ' |',
  );
  console.log(`|---|--:|${receivers.map(() => '--:|--:|--:|').join('')}${both ? '--:|--:|' : ''}`);
  const out = [];
  for (const [key, g] of groups) {
    const [tags, lines] = key.split('|');
    const cells = [tags === 'tags' ? 'yes' : 'no', lines];
    for (const r of receivers) {
      const s = g[r];
      if (!s) cells.push('-', '-', '-');
      else
        cells.push(
          s.best === 0
            ? `< ${fmtInt(s.lowestSent)}` // lossy from the first step
            : (s.lossFreeAtTop ? '≥ ' : '') + fmtInt(s.best), // ≥: clean at every rate tried
          s.flooded > 0 ? fmtInt(s.flooded) : '-', // '-': never lost at the rates tried
          fmtInt(s.peakPerCpu),
        );
    }
    if (both && g.sluice && g.etsy) {
      const ratio = g.etsy.best > 0 ? g.sluice.best / g.etsy.best : NaN;
      cells.push(
        Number.isFinite(ratio) ? `${ratio.toFixed(1)}×` : '-',
        `${(g.sluice.peakPerCpu / g.etsy.peakPerCpu).toFixed(1)}×`,
      );
    }
    console.log(`| ${cells.join(' | ')} |`);
    out.push({ tags: tags === 'tags', lines_per_datagram: Number(lines), ...g });
  }
  return out;
}

async function measureGenerator(ctx) {
  // A socket nobody reads: how fast the generator alone goes (the C one binds it itself).
  if (ctx.gen.kind !== 'c') return [];
  const res = [];
  for (const lines of ctx.opts.lines) {
    const g = await runGenerator(ctx.gen, ctx.genAt, {
      port: 0,
      rate: 0,
      lines,
      total: 20_000_000,
      'max-seconds': 1,
      name: 'bench_probe',
      tags: TAGS,
    });
    res.push(g);
    console.log(
      `generator alone, ${lines} line(s)/datagram (${g.datagram_bytes} B): ${fmtInt(g.datagrams_per_s)} datagrams/s, ` +
        `${fmtInt(g.lines_per_s)} lines/s`,
    );
  }
  return res;
}

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
  return { cpus: availableParallelism(), model, node: process.version, kernel: release() };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const ctx = {
    opts,
    rates: ratesFor(opts.quick ? RATES.quick : RATES.full, opts.lines),
    nonce: Date.now().toString(36),
    gen: prepareGenerator(),
    live: new Set(),
    rcvbuf: {},
    sockets: {},
    recvAt: { nice: opts.nice },
    genAt: { nice: opts.nice },
  };
  if (opts.senders > 1 && ctx.gen.kind !== 'c')
    throw new Error('bench: --senders needs the C load generator (a C compiler)');
  const m = machine();
  const tasksetOk = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  // Pinning keeps the receiver on one core and the generator on the other (2-core machines).
  if (opts.pin && tasksetOk && m.cpus >= 2) [ctx.recvAt.cpu, ctx.genAt.cpu] = [0, 1];

  const originalRmem = readRmem();
  let restore = () => {};
  if (opts.raiseRmem) {
    if (process.getuid?.() !== 0) throw new Error('bench: --raise-rmem needs root');
    writeRmem({ max: BIG_RMEM, default: BIG_RMEM });
    restore = () => {
      writeRmem(originalRmem);
      restore = () => {};
    };
  }
  const cleanup = async () => {
    for (const r of ctx.live) await r.stop().catch(() => {});
    restore();
  };
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const rmem = readRmem();
    console.log('# sluice vs Etsy statsd over UDP (127.0.0.1)\n');
    console.log(
      `command: npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
    );
    console.log(`machine: ${m.cpus} CPUs, ${m.model}, Node ${m.node}, Linux ${m.kernel}`);
    if (opts.sluiceNode !== undefined) {
      const v = spawnSync(opts.sluiceNode, ['--version'], { encoding: 'utf8' }).stdout?.trim();
      m.sluiceNode = v;
      console.log(`sluice runs under ${opts.sluiceNode} (${v ?? 'version unknown'})`);
    }
    console.log(
      `net.core.rmem_max=${rmem.max} rmem_default=${rmem.default}` +
        (opts.raiseRmem ? ` (raised for this run from ${originalRmem.max}/${originalRmem.default})` : ''),
    );
    console.log(
      `generator: ${ctx.gen.kind === 'c' ? 'C, sendmmsg' : 'Node dgram (fallback)'}; ` +
        (ctx.recvAt.cpu === undefined
          ? 'not pinned'
          : `receiver on CPU ${ctx.recvAt.cpu}, generator on CPU ${ctx.genAt.cpu}`) +
        (opts.nice === undefined ? '' : `, both at nice ${opts.nice}`) +
        (opts.senders > 1 ? `, sending from ${opts.senders} sockets` : '') +
        `; ${opts.stepSeconds} s per step, flush every ${FLUSH_MS} ms; tags: ${TAGS}`,
    );
    console.log(`load average at start: ${readFileSync('/proc/loadavg', 'utf8').split(' ', 3).join(' ')}`);
    const genProbe = await measureGenerator(ctx);
    console.log('');
    console.log(HEADER);

    const configs = [];
    for (const tags of opts.tags ? [false, true] : [false])
      for (const receiver of opts.receivers)
        if (!(tags && NO_TAGS.has(receiver))) configs.push({ receiver, tags });
    const results = [];
    for (const cfg of configs)
      for (const lines of opts.lines) results.push(...(await runSeries(ctx, cfg, lines)));

    console.log('');
    for (const r of opts.receivers) {
      const rb = ctx.rcvbuf[r];
      const n = ctx.sockets[r] ?? 1;
      console.log(
        `${r}: effective socket receive buffer ${rb === undefined ? 'unknown' : `${rb} bytes`} (ss -m)` +
          (n > 1 ? `, summed over ${n} SO_REUSEPORT sockets on the port` : ''),
      );
    }
    console.log(`load average at end: ${readFileSync('/proc/loadavg', 'utf8').split(' ', 3).join(' ')}`);
    const heads = headline(results, opts.receivers);
    const lossy = results.filter((r) => r.sent - r.received > 0);
    const matched = lossy.filter((r) => r.kernel_drops_lines === r.sent - r.received).length;
    console.log(
      `\nkernel drop counter (/proc/net/udp, summed over every socket on the port) equals the lines lost in ${matched} of ${lossy.length} lossy steps`,
    );
    for (const r of opts.receivers) {
      const mine = lossy.filter((x) => x.receiver === r);
      if (mine.length === 0) continue;
      const ok = mine.filter((x) => x.kernel_drops_lines === x.sent - x.received).length;
      console.log(`  ${r}: ${ok} of ${mine.length}`);
    }
    for (const x of lossy.filter((y) => y.kernel_drops_lines !== y.sent - y.received))
      console.log(
        `  differs: ${x.receiver} tags=${x.tags ? 'yes' : 'no'} ${x.lines_per_datagram} l/dgram at ` +
          `${fmtInt(x.target_rate)}/s: lost ${fmtInt(x.sent - x.received)}, kernel dropped ${fmtInt(x.kernel_drops_lines)}`,
      );
    if (opts.json)
      writeFileSync(
        opts.json,
        JSON.stringify(
          { machine: m, rmem, generator: genProbe, rcvbuf: ctx.rcvbuf, results, headline: heads },
          null,
          2,
        ),
      );
  } finally {
    await cleanup();
  }

  if (opts.memory) {
    console.log('');
    const dist = opts.sluiceBin ? join(dirname(dirname(opts.sluiceBin)), 'dist') : join(ROOT, 'dist');
    const args = ['--expose-gc', join(ROOT, 'bench', 'series-memory.mjs'), '--dist', dist];
    if (opts.quick) args.push('--quick');
    const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: ROOT });
    if (r.status !== 0) process.exitCode = 1;
  }

  if (opts.fleet) {
    // The aggregator tier on a real Kafka (docs/fleet.md); says why when Kafka is not installed.
    console.log('');
    const args = [join(ROOT, 'bench', 'fleet.mjs')];
    if (opts.quick) args.push('--series', '10000');
    const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: ROOT });
    if (r.status !== 0) process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
