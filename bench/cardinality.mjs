// Cardinality floods against the built agent: what a sender of ever-new series costs the whole
// process (RSS of all threads), what the series budget (`max_series`) refuses and counts, whether
// the series already held keep aggregating exactly, and whether /metrics stays served.
//
//   npm run build && node bench/cardinality.mjs [--scenario flood2m|flood9m|bytes1m|all]
//     [--node PATH] [--json FILE] [--lines-per-datagram N]
//
// The agent (bin/sluice.js, run by --node, default this Node) gets statsd on two loopback UDP
// ports with default options otherwise (default max_series and workers; flush_interval 10s),
// the internal source every 5 s and a prometheus_exporter on loopback; nothing else.
// Traffic comes from bench/loadgen.c (compiled when missing or older than its source):
//
// - flood2m: 2,000,000 distinct series (`bench_flood:1|c|#env:bench,id:<i>`) over 60 s
//   (33,334 lines/s) to port A, and two canaries at 1,000 lines/s for as long, a known number of
//   `bench_canary_shared:1|c` to port A (same socket as the flood) and `bench_canary_own:1|c` to
//   port B (a socket of its own, so its count is exact unless that socket drops).
// - flood9m: 9,000,000 distinct series at 60,000 lines/s (150 s), same canaries.
//   Every second: RSS (/proc/PID/status VmRSS; workers are threads of the one process) and a
//   scrape of /metrics (plain text, 10 s timeout) with its latency and size. After the senders
//   end and a final flush has reached the exporter (its values stop changing), one scrape gives
//   lines received, rejected by reason, kernel drops per listener (sluice_udp_socket_drops_total,
//   also read from /proc/net/udp), series held, the canaries' totals and the sum and count of
//   the flood's exported counters (the lines that were aggregated). Checked: sent == received +
//   kernel drops; received == aggregated (sum of exported counters) + rejected + lost;
//   series_limit refusals == flood lines received - flood series held; canaries exact.
// - bytes1m: max_series 1,100,000. 1,000 known series (`bench_steady`) are created first, the
//   agent idles (RSS baseline), then 1,000,000 distinct series with 3 tags
//   (`env:bench,host:h1,route:/api/x,id:<i>`) arrive at --bytes-rate lines/s (20,000); then 50,000
//   lines/s of the known series flow for 25 s, across the flushes that now carry 1M series, and
//   the kernel drops over that window are read from /proc/net/udp. RSS after that (two flushes
//   or more, before any scrape of the big page) minus the baseline, per series, is the whole
//   process' cost of a series; then one scrape checks the counts.
//
// The machine's other load shifts the CPU-bound figures (drops, scrape latency); run it alone.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { loadgenBin, runJson } from './loadgen-bin.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: opts } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'all' },
    node: { type: 'string', default: process.execPath },
    json: { type: 'string' },
    'lines-per-datagram': { type: 'string', default: '1' },
    // Shrinks the series counts (not the rates) for a quick trial of the script itself.
    scale: { type: 'string', default: '1' },
    // bytes1m: lines/s of the 1M new series (50,000 dropped 6 % with one worker on 2 CPUs).
    'bytes-rate': { type: 'string', default: '20000' },
    // The statsd source's `workers` (default: its own default); 0 runs ingest on the main thread.
    workers: { type: 'string' },
  },
});
const LINES = Number(opts['lines-per-datagram']);
const SCALE = Number(opts.scale);
const FLUSH_S = 10;
const INTERNAL_S = 5;
const SCRAPE_TIMEOUT_MS = 10_000;
const CANARY_RATE = 1000;

const { freePort } = await import(path.join(root, 'dist/testing/processes.js'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

const LOADGEN = loadgenBin();

/** Runs the load generator to completion; resolves with its JSON line. */
const loadgen = (args) => runJson(LOADGEN, args);

function procStatus(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text);
      return m === null ? NaN : Number(m[1]) * 1024;
    };
    const threads = /^Threads:\s+(\d+)$/m.exec(text);
    return { rss: kb('VmRSS'), hwm: kb('VmHWM'), threads: threads === null ? NaN : Number(threads[1]) };
  } catch {
    return { rss: NaN, hwm: NaN, threads: NaN };
  }
}

/** Kernel drop counters and queued bytes of every UDP socket bound to 127.0.0.1:port (SO_REUSEPORT: several). */
function udpKernel(port) {
  const want = port.toString(16).toUpperCase().padStart(4, '0');
  let drops = 0;
  let sockets = 0;
  let rxQueue = 0;
  const rows = readFileSync('/proc/net/udp', 'utf8').split('\n');
  for (let i = 1; i < rows.length; i++) {
    const cols = rows[i].trim().split(/\s+/);
    if (cols.length < 13) continue;
    const [addr, hexPort] = cols[1].split(':');
    if (hexPort !== want || (addr !== '0100007F' && addr !== '00000000')) continue;
    sockets++;
    drops += Number(cols[12]);
    rxQueue += parseInt(cols[4].split(':')[1], 16);
  }
  return { drops, sockets, rxQueue };
}

/** GET /metrics, plain text; resolves with latency, size and (if keep) the body, or the failure. */
function scrape(url, keep = false, timeoutMs = SCRAPE_TIMEOUT_MS) {
  const t0 = now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      resolve({ ms: now() - t0, ...r });
    };
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      let bytes = 0;
      const chunks = [];
      res.on('data', (d) => {
        bytes += d.length;
        if (keep) chunks.push(d);
      });
      res.on('end', () =>
        finish({
          ok: res.statusCode === 200,
          status: res.statusCode,
          bytes,
          body: keep ? Buffer.concat(chunks).toString('utf8') : undefined,
        }),
      );
      res.on('error', (e) => finish({ ok: false, error: String(e), bytes }));
    });
    req.on('timeout', () => {
      req.destroy(new Error(`timeout after ${timeoutMs} ms`));
    });
    req.on('error', (e) => finish({ ok: false, error: String(e.message ?? e), bytes: 0 }));
  });
}

/** The sluice_* samples, and sum/count of the bench's own counters, from a page. */
function parsePage(text) {
  const sluice = [];
  const bench = {};
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const c = text.charCodeAt(start);
    if (c !== 35 /* # */ && end > start) {
      const line = text.slice(start, end);
      const sp = line.lastIndexOf(' ');
      const value = Number(line.slice(sp + 1));
      const brace = line.indexOf('{');
      const name = brace >= 0 && brace < sp ? line.slice(0, brace) : line.slice(0, sp);
      if (name.startsWith('bench_')) {
        const b = (bench[name] ??= { series: 0, sum: 0, notOne: 0 });
        b.series++;
        b.sum += value;
        if (value !== 1) b.notOne++;
      } else if (name.startsWith('sluice_')) {
        const labels = {};
        if (brace >= 0 && brace < sp) {
          for (const m of line
            .slice(brace + 1, line.lastIndexOf('}', sp))
            .matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
            labels[m[1]] = m[2];
        }
        sluice.push({ name, labels, value });
      }
    }
    start = end + 1;
  }
  const sum = (name, pred = () => true) =>
    sluice.filter((s) => s.name === name && pred(s.labels)).reduce((a, s) => a + s.value, 0);
  const statsd = (l) => l.component === 'statsd';
  const rejected = {};
  for (const s of sluice)
    if (s.name === 'sluice_lines_rejected_total' && statsd(s.labels) && s.value !== 0)
      rejected[s.labels.reason] = (rejected[s.labels.reason] ?? 0) + s.value;
  const dropsByListener = {};
  for (const s of sluice)
    if (s.name === 'sluice_udp_socket_drops_total' && statsd(s.labels))
      dropsByListener[s.labels.listener] = s.value;
  return {
    bench,
    received: sum('sluice_lines_received_total', statsd),
    rejected,
    rejectedTotal: Object.values(rejected).reduce((a, b) => a + b, 0),
    lost: sum('sluice_lines_lost_total', statsd),
    dropsByListener,
    dropsMetricPresent: sluice.some((s) => s.name === 'sluice_udp_socket_drops_total'),
    series: sum('sluice_series', statsd),
    seriesLimit: sum('sluice_series_limit', statsd),
    workers: sum('sluice_workers', statsd),
    workerRestarts: sum('sluice_worker_restarts_total', statsd),
    mergeConflicts: sum('sluice_merge_conflicts_total', statsd),
    exportedSeries: sum('sluice_exported_series'),
    heapUsed: sum('sluice_process_heap_used_bytes'),
  };
}

/** Starts the agent with `statsdExtra` lines under the statsd source; resolves once /metrics answers. */
async function startAgent(dir, statsdExtra = '') {
  const portA = await freePort('udp');
  const portB = await freePort('udp');
  const exporterPort = await freePort('tcp');
  const file = path.join(dir, `agent-${portA}.yaml`);
  writeFileSync(
    file,
    `agent:
  log_level: info
sources:
  statsd:
    type: statsd
    listen: [udp://127.0.0.1:${portA}, udp://127.0.0.1:${portB}]
    flush_interval: ${FLUSH_S}s
${opts.workers !== undefined ? `    workers: ${opts.workers}\n` : ''}${statsdExtra}  internal:
    type: internal
    interval: ${INTERNAL_S}s
sinks:
  prometheus:
    type: prometheus_exporter
    listen: 127.0.0.1:${exporterPort}
`,
  );
  const child = spawn(opts.node, [path.join(root, 'bin/sluice.js'), '--config', file], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const agent = {
    child,
    pid: child.pid,
    portA,
    portB,
    url: `http://127.0.0.1:${exporterPort}/metrics`,
    t0: now(),
    exit: undefined,
    log: { lines: 0, warn: 0, error: 0, firstWarnings: [], tail: [] },
  };
  let partial = '';
  child.stderr.on('data', (d) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop();
    for (const l of parts) {
      agent.log.lines++;
      agent.log.tail.push(l);
      if (agent.log.tail.length > 20) agent.log.tail.shift();
      const level = /"level":"(\w+)"/.exec(l)?.[1];
      if (level === 'warn' || level === 'error' || level === 'fatal' || level === undefined) {
        if (level === 'warn') agent.log.warn++;
        else agent.log.error++;
        const msg = /"msg":"((?:[^"\\]|\\.)*)"/.exec(l)?.[1] ?? l.slice(0, 300);
        if (agent.log.firstWarnings.length < 12 && !agent.log.firstWarnings.some((w) => w.msg === msg))
          agent.log.firstWarnings.push({
            at_s: Math.round((now() - agent.t0) / 1000),
            msg,
            line: l.slice(0, 600),
          });
      }
    }
  });
  agent.exited = new Promise((r) =>
    child.on('exit', (code, signal) => {
      agent.exit = { code, signal, at_s: (now() - agent.t0) / 1000 };
      r();
    }),
  );
  for (let i = 0; i < 100; i++) {
    if (agent.exit !== undefined) throw new Error(`agent exited at start: ${agent.log.tail.join('\n')}`);
    const r = await scrape(agent.url, false, 1000);
    if (r.ok) return agent;
    await sleep(200);
  }
  throw new Error('agent: /metrics did not answer within 20 s');
}

async function stopAgent(agent) {
  if (agent.exit === undefined) {
    agent.child.kill('SIGTERM');
    await Promise.race([agent.exited, sleep(15_000)]);
    if (agent.exit === undefined) agent.child.kill('SIGKILL');
  }
  await agent.exited;
}

/** Samples RSS every second and scrapes /metrics back to back, at most once a second, until stopped. */
function startSampler(agent) {
  const s = { rss: [], scrapes: [], stop: false };
  const rssTimer = setInterval(() => {
    const st = procStatus(agent.pid);
    s.rss.push({ t: (now() - agent.t0) / 1000, rss: st.rss, threads: st.threads });
  }, 1000);
  s.done = (async () => {
    while (!s.stop) {
      const t = now();
      const r = await scrape(agent.url);
      s.scrapes.push({ t: (t - agent.t0) / 1000, ms: r.ms, bytes: r.bytes, ok: r.ok, error: r.error });
      const wait = 1000 - (now() - t);
      if (wait > 0) await sleep(wait);
    }
    clearInterval(rssTimer);
  })();
  return s;
}

/** Waits until a flush has reached the exporter and its values stop changing; returns the last page. */
async function settle(agent, expectReceived) {
  await sleep((FLUSH_S + INTERNAL_S + 2) * 1000);
  let prev;
  const deadline = now() + 90_000;
  for (;;) {
    const r = await scrape(agent.url, true, 30_000);
    if (r.ok) {
      const p = parsePage(r.body);
      p.scrapeMs = r.ms;
      p.pageBytes = r.bytes;
      const key = JSON.stringify([p.received, p.rejected, p.series, p.bench, p.dropsByListener]);
      if (prev !== undefined && key === prev.key && (expectReceived === undefined || p.received > 0))
        return p;
      prev = { key, p };
    }
    if (now() > deadline) return prev?.p;
    await sleep((INTERNAL_S + 1) * 1000);
  }
}

const fmt = (n) =>
  typeof n === 'number' && Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : String(n);
const mib = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;

async function flood(name, dir, distinct, rate) {
  const seconds = distinct / rate;
  const agent = await startAgent(dir);
  const hwm0 = procStatus(agent.pid);
  await sleep(3000);
  const sampler = startSampler(agent);
  const maxSeconds = String(seconds + 60);
  const canaryTotal = Math.round(CANARY_RATE * seconds);
  const t0 = now();
  const [fl, cs, co] = await Promise.all([
    loadgen([
      '--port',
      String(agent.portA),
      '--name',
      'bench_flood',
      '--tags',
      'env:bench',
      '--distinct',
      String(distinct),
      '--rate',
      String(rate),
      '--total',
      String(distinct),
      '--lines',
      String(LINES),
      '--max-seconds',
      maxSeconds,
    ]),
    loadgen([
      '--port',
      String(agent.portA),
      '--name',
      'bench_canary_shared',
      '--rate',
      String(CANARY_RATE),
      '--total',
      String(canaryTotal),
      '--lines',
      String(LINES),
      '--max-seconds',
      maxSeconds,
    ]),
    loadgen([
      '--port',
      String(agent.portB),
      '--name',
      'bench_canary_own',
      '--rate',
      String(CANARY_RATE),
      '--total',
      String(canaryTotal),
      '--lines',
      String(LINES),
      '--max-seconds',
      maxSeconds,
    ]),
  ]);
  const sendSeconds = (now() - t0) / 1000;
  const final = agent.exit === undefined ? await settle(agent, true) : undefined;
  sampler.stop = true;
  await sampler.done;
  const kernelA = udpKernel(agent.portA);
  const kernelB = udpKernel(agent.portB);
  const st = procStatus(agent.pid);
  const alive = agent.exit === undefined;
  await stopAgent(agent);

  const sent = fl.lines + cs.lines + co.lines;
  const r = {
    scenario: name,
    node: opts.node,
    lines_per_datagram: LINES,
    distinct_sent: distinct,
    target_rate: rate,
    send_seconds: sendSeconds,
    flood_sent: fl.lines,
    flood_send_rate: fl.lines_per_s,
    canary_shared_sent: cs.lines,
    canary_own_sent: co.lines,
    lines_sent: sent,
    send_errors: fl.send_errors + cs.send_errors + co.send_errors,
    alive,
    exit: agent.exit,
    rss_start: hwm0.rss,
    rss_peak_sampled: Math.max(...sampler.rss.map((x) => x.rss).filter(Number.isFinite)),
    rss_hwm: st.hwm,
    rss_end: st.rss,
    threads: st.threads,
    rss_timeline: sampler.rss.filter((_, i) => i % 5 === 0).map((x) => [Math.round(x.t), x.rss]),
    scrapes: sampler.scrapes.length,
    scrape_failures: sampler.scrapes.filter((x) => !x.ok).length,
    scrape_failure_samples: sampler.scrapes.filter((x) => !x.ok).slice(0, 5),
    scrape_ms_max: Math.max(...sampler.scrapes.map((x) => x.ms)),
    scrape_ms_p50: quantile(
      sampler.scrapes.map((x) => x.ms),
      0.5,
    ),
    scrape_bytes_max: Math.max(...sampler.scrapes.map((x) => x.bytes)),
    scrape_longest_gap_s: longestGap(sampler.scrapes, agent),
    kernel_drops_proc: { A: kernelA.drops, B: kernelB.drops, socketsA: kernelA.sockets },
    log: agent.log,
    final,
  };
  if (final !== undefined) {
    const dropsA = final.dropsByListener[`udp://127.0.0.1:${agent.portA}`] ?? 0;
    const dropsB = final.dropsByListener[`udp://127.0.0.1:${agent.portB}`] ?? 0;
    const floodHeld = final.bench.bench_flood_total?.series ?? 0;
    const floodAggregated = final.bench.bench_flood_total?.sum ?? 0;
    const canaryShared = final.bench.bench_canary_shared_total?.sum ?? 0;
    const canaryOwn = final.bench.bench_canary_own_total?.sum ?? 0;
    const aggregated = floodAggregated + canaryShared + canaryOwn;
    const floodReceived = final.received - canaryShared - canaryOwn; // canaries are never refused (held series)
    r.checks = {
      kernel_drops_metric: { A: dropsA, B: dropsB, present: final.dropsMetricPresent },
      'sent == received + kernel drops': {
        ok: sent === final.received + (dropsA + dropsB) * LINES,
        sent,
        received: final.received,
        kernel_drop_lines: (dropsA + dropsB) * LINES,
        diff: sent - final.received - (dropsA + dropsB) * LINES,
      },
      'kernel drops: metric == /proc/net/udp': { ok: dropsA === kernelA.drops && dropsB === kernelB.drops },
      'received == aggregated + rejected + lost': {
        ok: final.received === aggregated + final.rejectedTotal + final.lost,
        aggregated,
        rejected: final.rejected,
        lost: final.lost,
        diff: final.received - aggregated - final.rejectedTotal - final.lost,
      },
      'series_limit refusals == flood lines received - flood series held': {
        ok: (final.rejected.series_limit ?? 0) === floodReceived - floodHeld,
        refused: final.rejected.series_limit ?? 0,
        flood_received: floodReceived,
        flood_held: floodHeld,
        flood_series_not_1: final.bench.bench_flood_total?.notOne ?? 0,
      },
      'sluice_series == series exported from the source': {
        ok: final.series === floodHeld + (canaryShared > 0 ? 1 : 0) + (canaryOwn > 0 ? 1 : 0),
        sluice_series: final.series,
        max_series: final.seriesLimit,
        workers: final.workers,
      },
      'canary (own socket) exact': {
        ok: canaryOwn === co.lines - dropsB * LINES,
        sent: co.lines,
        counted: canaryOwn,
      },
      'canary (shared socket) exact': {
        ok: canaryShared === cs.lines,
        sent: cs.lines,
        counted: canaryShared,
        note: dropsA > 0 ? 'its socket dropped datagrams: some may have been canary lines' : '',
      },
    };
  }
  return r;
}

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** Longest time between the ends of two successful scrapes (how long /metrics went unserved). */
function longestGap(scrapes) {
  let last;
  let gap = 0;
  for (const x of scrapes) {
    if (!x.ok) continue;
    const end = x.t + x.ms / 1000;
    if (last !== undefined) gap = Math.max(gap, end - last);
    last = end;
  }
  return gap;
}

async function bytes1m(dir) {
  const N = Math.round(1_000_000 * SCALE);
  const RATE = Number(opts['bytes-rate']);
  const STEADY_RATE = 50_000;
  const agent = await startAgent(dir, `    max_series: ${Math.round(1_100_000 * SCALE)}\n`);
  const steady = (total, rate) =>
    loadgen([
      '--port',
      String(agent.portA),
      '--name',
      'bench_steady',
      '--tags',
      'env:bench',
      '--distinct',
      '1000',
      '--rate',
      String(rate),
      '--total',
      String(total),
      '--lines',
      String(LINES),
      '--max-seconds',
      '120',
    ]);
  const steadyWarm = await steady(10_000, 10_000);
  // Idle baseline: after the known series have gone through a flush, 10 s of samples.
  await sleep((FLUSH_S + 5) * 1000);
  const idle = [];
  for (let i = 0; i < 10; i++) {
    idle.push(procStatus(agent.pid).rss);
    await sleep(1000);
  }
  const rssIdle = idle.reduce((a, b) => a + b, 0) / idle.length;
  const k0 = udpKernel(agent.portA);
  const t0 = now();
  const gen = await loadgen([
    '--port',
    String(agent.portA),
    '--name',
    'bench_series',
    '--tags',
    'env:bench,host:h1,route:/api/x',
    '--distinct',
    String(N),
    '--rate',
    String(RATE),
    '--total',
    String(N),
    '--lines',
    String(LINES),
    '--max-seconds',
    '120',
  ]);
  const sendSeconds = (now() - t0) / 1000;
  const k1 = udpKernel(agent.portA);
  // Known series at 50k lines/s for 25 s: the flushes in that window carry all 1M series.
  const WINDOW_S = 25;
  const rssDuring = [];
  const rssTimer = setInterval(() => rssDuring.push(procStatus(agent.pid).rss), 1000);
  const steadyRun = await steady(STEADY_RATE * WINDOW_S, STEADY_RATE);
  clearInterval(rssTimer);
  const k2 = udpKernel(agent.portA);
  await sleep(3000);
  const after = [];
  for (let i = 0; i < 10; i++) {
    after.push(procStatus(agent.pid).rss);
    await sleep(1000);
  }
  const rssAfter = after.reduce((a, b) => a + b, 0) / after.length;
  const st = procStatus(agent.pid);
  const final = agent.exit === undefined ? await settle(agent) : undefined;
  const rssAfterScrape = procStatus(agent.pid).rss;
  const k3 = udpKernel(agent.portA);
  const alive = agent.exit === undefined;
  await stopAgent(agent);
  const sent = steadyWarm.lines + gen.lines + steadyRun.lines;
  return {
    scenario: 'bytes1m',
    node: opts.node,
    lines_per_datagram: LINES,
    series_sent: gen.lines,
    send_rate: gen.lines_per_s,
    send_seconds: sendSeconds,
    rss_idle: rssIdle,
    rss_after: rssAfter,
    rss_hwm: st.hwm,
    rss_during_window_max: Math.max(...rssDuring),
    rss_after_scrape: rssAfterScrape,
    // Per series held (the exported count, read after the RSS), not per series sent.
    bytes_per_series: (rssAfter - rssIdle) / (final?.bench.bench_series_total?.series ?? N),
    series: final?.bench.bench_series_total?.series,
    threads: st.threads,
    kernel_drops_while_sending_1m: k1.drops - k0.drops,
    flush_window_s: WINDOW_S,
    flush_window_steady_sent: steadyRun.lines,
    flush_window_steady_rate: steadyRun.lines_per_s,
    kernel_drops_flush_window: k2.drops - k1.drops,
    kernel_drops_total: k3.drops,
    alive,
    exit: agent.exit,
    log: agent.log,
    final,
    checks:
      final === undefined
        ? undefined
        : {
            'series held': {
              ok: final.bench.bench_series_total?.series === gen.lines - (k1.drops - k0.drops) * LINES,
              sent: gen.lines,
              exported: final.bench.bench_series_total?.series,
              sluice_series: final.series,
            },
            'sent == received + kernel drops': {
              ok: sent === final.received + k3.drops * LINES,
              sent,
              received: final.received,
              kernel_drops: k3.drops,
            },
            'steady series exact': {
              ok:
                final.bench.bench_steady_total?.sum ===
                steadyWarm.lines +
                  steadyRun.lines -
                  (k0.drops + k2.drops - k1.drops + k3.drops - k2.drops) * LINES,
              sent: steadyWarm.lines + steadyRun.lines,
              counted: final.bench.bench_steady_total?.sum,
            },
            rejected: final.rejected,
            page_bytes: final.pageBytes,
            scrape_ms: final.scrapeMs,
          },
  };
}

function printFlood(r) {
  console.log(
    `\n## ${r.scenario}: ${fmt(r.distinct_sent)} distinct series at ${fmt(r.target_rate)} lines/s\n`,
  );
  const f = r.final;
  const c = r.checks ?? {};
  const ok = (k) => checkCell(c, k);
  const rows = [
    ['Node / workers', `${nodeVersion()} / ${f?.workers ?? '?'}`],
    ['lines per datagram', r.lines_per_datagram],
    [
      'flood lines sent (rate achieved)',
      `${fmt(r.flood_sent)} (${fmt(r.flood_send_rate)}/s, ${r.send_seconds.toFixed(1)} s)`,
    ],
    [
      'canary lines sent (shared socket / own socket)',
      `${fmt(r.canary_shared_sent)} / ${fmt(r.canary_own_sent)}`,
    ],
    ['all lines sent', fmt(r.lines_sent)],
    ['sluice_lines_received', fmt(f?.received)],
    [
      'kernel drops (sluice_udp_socket_drops_total, flood socket / canary socket)',
      c.kernel_drops_metric
        ? `${fmt(c.kernel_drops_metric.A)} / ${fmt(c.kernel_drops_metric.B)}${c.kernel_drops_metric.present ? '' : ' (metric absent from /metrics)'}`
        : 'n/a',
    ],
    [
      'kernel drops (/proc/net/udp, flood / canary)',
      `${fmt(r.kernel_drops_proc.A)} / ${fmt(r.kernel_drops_proc.B)}`,
    ],
    [
      'lines lost (kernel drops, % of sent)',
      f
        ? `${fmt(r.lines_sent - f.received)} (${(((r.lines_sent - f.received) / r.lines_sent) * 100).toFixed(2)} %)`
        : 'n/a',
    ],
    ['lines_rejected by reason', f ? JSON.stringify(f.rejected) : 'n/a'],
    ['lines_lost (worker_exit)', fmt(f?.lost)],
    ['sluice_series (limit)', f ? `${fmt(f.series)} (${fmt(f.seriesLimit)})` : 'n/a'],
    [
      'flood series exported (each = 1)',
      f
        ? `${fmt(f.bench.bench_flood_total?.series)} (${fmt(f.bench.bench_flood_total?.notOne)} not 1)`
        : 'n/a',
    ],
    [
      'canary counted, shared socket',
      f ? `${fmt(f.bench.bench_canary_shared_total?.sum)} of ${fmt(r.canary_shared_sent)}` : 'n/a',
    ],
    [
      'canary counted, own socket',
      f ? `${fmt(f.bench.bench_canary_own_total?.sum)} of ${fmt(r.canary_own_sent)}` : 'n/a',
    ],
    ['RSS at start / peak (VmHWM) / end', `${mib(r.rss_start)} / ${mib(r.rss_hwm)} / ${mib(r.rss_end)}`],
    ['threads', r.threads],
    ['/metrics scrapes (failed)', `${r.scrapes} (${r.scrape_failures})`],
    ['/metrics latency median / max', `${r.scrape_ms_p50.toFixed(0)} ms / ${r.scrape_ms_max.toFixed(0)} ms`],
    ['/metrics longest gap between served pages', `${r.scrape_longest_gap_s.toFixed(1)} s`],
    ['/metrics largest page', `${(r.scrape_bytes_max / 1e6).toFixed(1)} MB`],
    [
      'final page (after the last flush)',
      f ? `${(f.pageBytes / 1e6).toFixed(1)} MB in ${f.scrapeMs.toFixed(0)} ms` : 'n/a',
    ],
    ['alive at the end', r.alive ? 'yes' : `**NO**: ${JSON.stringify(r.exit)}`],
    ['agent warnings / errors logged', `${r.log.warn} / ${r.log.error}`],
    ['check: sent == received + kernel drops', ok('sent == received + kernel drops')],
    ['check: kernel drops metric == /proc/net/udp', ok('kernel drops: metric == /proc/net/udp')],
    ['check: received == aggregated + rejected + lost', ok('received == aggregated + rejected + lost')],
    [
      'check: every refused line counted (series_limit == flood received - flood held)',
      ok('series_limit refusals == flood lines received - flood series held'),
    ],
    ['check: sluice_series == series exported', ok('sluice_series == series exported from the source')],
    ['check: canary exact (own socket)', ok('canary (own socket) exact')],
    ['check: canary exact (shared socket)', ok('canary (shared socket) exact')],
  ];
  printTable(rows, r.log);
}

function printBytes(r) {
  const f = r.final;
  const c = r.checks ?? {};
  const ok = (k) => checkCell(c, k);
  console.log(`\n## bytes1m: 1,000,000 tagged series (3 tags + id), max_series 1,100,000\n`);
  const rows = [
    ['Node / workers', `${nodeVersion()} / ${f?.workers ?? '?'}`],
    [
      'series sent (rate achieved)',
      `${fmt(r.series_sent)} (${fmt(r.send_rate)}/s, ${r.send_seconds.toFixed(1)} s)`,
    ],
    ['RSS idle (1,000 known series)', mib(r.rss_idle)],
    ['RSS after 1M series and ≥ 2 flushes, before any scrape', mib(r.rss_after)],
    ['**bytes per series held, whole process (RSS delta / series held)**', fmt(r.bytes_per_series)],
    ['RSS peak (VmHWM) / after one scrape of the page', `${mib(r.rss_hwm)} / ${mib(r.rss_after_scrape)}`],
    ['threads', r.threads],
    ['kernel drops while sending the 1M series', fmt(r.kernel_drops_while_sending_1m)],
    [
      `kernel drops over ${r.flush_window_s} s of flushes of 1M series, under known-series load`,
      `${fmt(r.kernel_drops_flush_window)} of ${fmt(r.flush_window_steady_sent)} lines sent (${fmt(r.flush_window_steady_rate)} lines/s)`,
    ],
    [
      'sluice_series / series exported',
      f ? `${fmt(f.series)} / ${fmt(f.bench.bench_series_total?.series)}` : 'n/a',
    ],
    ['lines_rejected', f ? JSON.stringify(f.rejected) : 'n/a'],
    [
      'page after the flush',
      f ? `${(f.pageBytes / 1e6).toFixed(1)} MB in ${f.scrapeMs.toFixed(0)} ms` : 'n/a',
    ],
    ['alive at the end', r.alive ? 'yes' : `**NO**: ${JSON.stringify(r.exit)}`],
    ['check: series held == series lines received', ok('series held')],
    ['check: sent == received + kernel drops', ok('sent == received + kernel drops')],
    ['check: known series exact', ok('steady series exact')],
  ];
  printTable(rows, r.log);
}

/** A check's cell: yes, **NO** with what was found, or n/a when it did not run. */
function checkCell(checks, key) {
  const c = checks[key];
  return c === undefined ? 'n/a' : c.ok ? 'yes' : `**NO** (${JSON.stringify(c)})`;
}

/** A scenario's rows as a Markdown table, then the agent's first warning of each kind. */
function printTable(rows, log) {
  console.log('| measure | value |\n| --- | ---: |');
  for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
  if (log.firstWarnings.length > 0) {
    console.log('\nAgent warnings (first of each kind):');
    for (const w of log.firstWarnings) console.log(`- at ${w.at_s} s: ${w.line}`);
  }
}

let nodeVersionCache;
function nodeVersion() {
  nodeVersionCache ??= spawnSync(opts.node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  return nodeVersionCache;
}

const scenarios = opts.scenario === 'all' ? ['flood2m', 'flood9m', 'bytes1m'] : opts.scenario.split(',');
const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-card-'));
const results = [];
console.log(
  `# ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), agent on Node ${nodeVersion()}, ${LINES} line(s) per datagram, ` +
    `net.core.rmem_max ${readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim()}`,
);
try {
  for (const s of scenarios) {
    let r;
    if (s === 'flood2m') r = await flood(s, dir, Math.round(2_000_000 * SCALE), 33_334);
    else if (s === 'flood9m') r = await flood(s, dir, Math.round(9_000_000 * SCALE), 60_000);
    else if (s === 'bytes1m') r = await bytes1m(dir);
    else throw new Error(`unknown scenario ${s}`);
    results.push(r);
    if (s === 'bytes1m') printBytes(r);
    else printFlood(r);
    if (opts.json !== undefined) writeFileSync(opts.json, JSON.stringify(results, null, 2));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
