// The two receivers under test, each started as its own process on a free UDP port of 127.0.0.1,
// and the counting of what each one flushed: sluice through its console sink (`format: json`,
// one metric per line), Etsy's statsd through bench/etsy-backend.cjs (one flush per line).
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createInterface } from 'node:readline';
import { udpSocket } from './procfs.mjs';

export const FLUSH_MS = 1000;

export async function freeUdpPort() {
  const s = dgram.createSocket('udp4');
  await new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', resolve);
  });
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

export async function freeTcpPort() {
  const srv = net.createServer();
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/**
 * The command line that runs `cmd` on one CPU (taskset) and at a scheduling priority (nice),
 * when asked: `placement` is { cpu?: number, nice?: number }.
 */
export function placed(cmd, args, placement = {}) {
  let argv = [cmd, ...args];
  if (placement.nice !== undefined) argv = ['nice', '-n', String(placement.nice), ...argv];
  if (placement.cpu !== undefined) argv = ['taskset', '-c', String(placement.cpu), ...argv];
  return [argv[0], argv.slice(1)];
}

/** A receiver process and the per-name totals of the counters it has flushed so far. */
class Receiver {
  constructor(kind, root) {
    this.kind = kind;
    this.root = root;
    this.port = 0;
    this.child = undefined;
    this.counts = new Map();
    this.flushes = 0;
    this.tail = [];
    this.dir = mkdtempSync(join(tmpdir(), `sluice-bench-${kind}-`));
    this.exited = false;
  }

  get pid() {
    return this.child.pid;
  }

  received(name) {
    return this.counts.get(name) ?? 0;
  }

  add(name, value) {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
  }

  remember(line) {
    this.tail.push(line);
    if (this.tail.length > 20) this.tail.shift();
  }

  spawn(cmd, args, placement) {
    const [file, argv] = placed(cmd, args, placement);
    this.child = spawn(file, argv, { cwd: this.root, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.on('exit', () => {
      this.exited = true;
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => this.onLine(line));
    createInterface({ input: this.child.stderr }).on('line', (line) => this.remember(line));
  }

  /** Resolves once the UDP socket shows up in /proc/net/udp; rejects if the process dies first. */
  async ready(timeoutMs = 20000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`${this.kind} exited during start:\n${this.tail.join('\n')}`);
      if (udpSocket(this.port) !== undefined) return;
      await sleep(50);
    }
    throw new Error(`${this.kind} did not bind 127.0.0.1:${this.port} within ${timeoutMs} ms`);
  }

  async stop() {
    if (this.child && !this.exited) {
      const gone = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * sluice with its console sink. `opts.workers` (auto, 0, N) goes into the statsd source's config
 * when set; `opts.node` is the Node binary to run it under (default: this one).
 */
export class SluiceReceiver extends Receiver {
  constructor(root, bin, opts = {}) {
    super('sluice', root);
    this.bin = bin ?? join(root, 'bin', 'sluice.js');
    this.workers = opts.workers;
    this.node = opts.node ?? process.execPath;
    if (this.workers !== undefined) this.kind = `sluice(w=${this.workers})`;
  }

  async start(placement) {
    this.port = await freeUdpPort();
    const config = join(this.dir, 'sluice.yaml');
    writeFileSync(
      config,
      [
        'agent:',
        '  hostname: bench',
        '  log_level: warn',
        'sources:',
        '  statsd:',
        '    type: statsd',
        `    listen: 127.0.0.1:${this.port}`,
        `    flush_interval: ${FLUSH_MS}ms`,
        ...(this.workers === undefined ? [] : [`    workers: ${this.workers}`]),
        'sinks:',
        '  console:',
        '    type: console',
        '    format: json',
        '',
      ].join('\n'),
    );
    this.spawn(this.node, [this.bin, '--config', config], placement);
    await this.ready();
  }

  onLine(line) {
    if (line.charCodeAt(0) !== 0x7b /* { */) return this.remember(line);
    let m;
    try {
      m = JSON.parse(line);
    } catch {
      return this.remember(line);
    }
    if (m.kind === 'counter' && typeof m.name === 'string' && m.name.startsWith('bench')) {
      this.add(m.name, m.value);
    } else if (m.name === undefined) {
      this.remember(line);
    }
  }
}

export class EtsyReceiver extends Receiver {
  constructor(root) {
    super('etsy-statsd', root);
  }

  async start(placement) {
    this.port = await freeUdpPort();
    const mgmtPort = await freeTcpPort();
    const config = join(this.dir, 'config.js');
    // Etsy's statsd eval()s this file; JSON is a valid JS object literal.
    const conf = {
      port: this.port,
      address: '127.0.0.1',
      mgmt_address: '127.0.0.1',
      mgmt_port: mgmtPort,
      flushInterval: FLUSH_MS,
      backends: [join(this.root, 'bench', 'etsy-backend.cjs')],
      title: false,
      automaticConfigReload: false,
    };
    writeFileSync(config, JSON.stringify(conf, null, 2) + '\n');
    this.spawn(process.execPath, ['node_modules/statsd/stats.js', config], placement);
    await this.ready();
  }

  onLine(line) {
    if (!line.startsWith('{"etsy_flush"')) return this.remember(line);
    const { counters } = JSON.parse(line);
    this.flushes++;
    for (const key in counters) {
      // Etsy folds DogStatsD tags into the key: `name;k=v;k=v`.
      const semi = key.indexOf(';');
      const name = semi < 0 ? key : key.slice(0, semi);
      if (name.startsWith('bench')) this.add(name, counters[key]);
    }
  }
}

/** A bare Node dgram socket that only counts lines (bench/dgram-floor.mjs), with sluice's buffer request. */
export class DgramFloorReceiver extends SluiceReceiver {
  constructor(root) {
    super(root);
    this.kind = 'dgram-floor';
  }

  async start(placement) {
    this.port = await freeUdpPort();
    const script = join(this.root, 'bench', 'dgram-floor.mjs');
    this.spawn(
      process.execPath,
      [script, String(this.port), String(FLUSH_MS), String(8 * 1024 * 1024)],
      placement,
    );
    await this.ready();
  }
}

/**
 * collectd (collectd-core, `collectd -f -C conf`) with its statsd plugin and the csv writer:
 * every Interval (the flush) collectd writes each counter's running total (`DeleteCounters
 * false`, type `derive`) to DataDir/bench/statsd/derive-NAME-DATE as `epoch,value` lines, so what
 * came through a flush is the last value of that file. collectd's statsd parser rejects the
 * DogStatsD `|#tags` suffix, so run.mjs runs it without tags only.
 */
export class CollectdReceiver extends Receiver {
  constructor(root, bin = 'collectd') {
    super('collectd', root);
    this.bin = bin;
    this.csvDir = join(this.dir, 'csv');
    this.files = new Map();
  }

  async start(placement) {
    this.port = await freeUdpPort();
    const config = join(this.dir, 'collectd.conf');
    writeFileSync(
      config,
      [
        'Hostname "bench"',
        'FQDNLookup false',
        `BaseDir "${this.dir}"`,
        `PIDFile "${join(this.dir, 'collectd.pid')}"`,
        `Interval ${FLUSH_MS / 1000}`,
        'LoadPlugin logfile',
        '<Plugin logfile>',
        '  LogLevel warning',
        '  File STDERR',
        '</Plugin>',
        'LoadPlugin statsd',
        '<Plugin statsd>',
        '  Host "127.0.0.1"',
        `  Port "${this.port}"`,
        '  DeleteCounters false',
        '  DeleteTimers false',
        '  DeleteGauges false',
        '  DeleteSets false',
        '</Plugin>',
        'LoadPlugin csv',
        '<Plugin csv>',
        `  DataDir "${this.csvDir}"`,
        '  StoreRates false',
        '</Plugin>',
        '',
      ].join('\n'),
    );
    this.spawn(this.bin, ['-f', '-C', config], placement);
    await this.ready();
  }

  onLine(line) {
    this.remember(line);
  }

  /** The last value collectd wrote for the counter `name` (0 before its first flush). */
  received(name) {
    const dir = join(this.csvDir, 'bench', 'statsd');
    let file = this.files.get(name);
    if (file === undefined) {
      let entries;
      try {
        entries = readdirSync(dir);
      } catch {
        return 0;
      }
      const found = entries.find((f) => f.startsWith(`derive-${name}-`));
      if (found === undefined) return 0;
      file = join(dir, found);
      this.files.set(name, file);
    }
    const rows = readFileSync(file, 'utf8').trimEnd().split('\n');
    for (let i = rows.length - 1; i > 0; i--) {
      const value = Number(rows[i].split(',')[1]);
      if (Number.isFinite(value)) return value;
    }
    return 0;
  }
}
