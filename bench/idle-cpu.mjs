// The agent's own cost on an idle machine: CPU (from /proc/PID/stat) and resident memory of the
// built CLI over a window, with the built-in config plus the Docker source (against the Engine
// API replay, since no Docker daemon runs here) and a command source at a 1 s interval, next to
// what the Node.js runtime alone and sluice without polled sources cost, so what dominates shows.
//
//   npm run build && node bench/idle-cpu.mjs [--seconds 60] [--only TEXT]
//
// Nothing is sent to the agent and nobody scrapes it: this is the floor an idle host pays.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { cpuSeconds } from './procfs.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    // Only the configurations whose name contains this (the bare-Node row always runs).
    only: { type: 'string', default: '' },
  },
});
const seconds = Number(values.seconds);
const WARMUP_MS = 5000;

const { DockerReplay, dockerFixtureDir } = await import(path.join(root, 'dist/testing/docker-replay.js'));
const { freePort } = await import(path.join(root, 'dist/testing/processes.js'));

function rssBytes(pid) {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? NaN : Number(m[1]) * 1024;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs `argv`, waits out the warm-up, then measures CPU and peak RSS over the window. */
async function measure(name, argv) {
  const child = spawn(argv[0], argv.slice(1), { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((r) => child.on('exit', r));
  try {
    await sleep(WARMUP_MS);
    if (child.exitCode !== null) throw new Error(`${name} exited: ${stderr}`);
    const cpu0 = cpuSeconds(child.pid);
    const t0 = performance.now();
    let peak = 0;
    let sum = 0;
    let n = 0;
    while (performance.now() - t0 < seconds * 1000) {
      await sleep(1000);
      const rss = rssBytes(child.pid);
      peak = Math.max(peak, rss);
      sum += rss;
      n++;
    }
    const cpu = cpuSeconds(child.pid) - cpu0;
    const wall = (performance.now() - t0) / 1000;
    const warnings = stderr
      .split('\n')
      .filter((l) => l.includes('"level":"warn"') || l.includes('"level":"error"'));
    return {
      name,
      cpuPercent: (cpu / wall) * 100,
      cpuSeconds: cpu,
      wall,
      rssMean: sum / n,
      rssPeak: peak,
      warnings,
    };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-idle-'));
const replay = await DockerReplay.start(dockerFixtureDir('cgroup-v2'));
try {
  const exporterPort = await freePort('tcp');
  const statsdPort = await freePort('udp');
  const head = `agent:
  log_level: warn
sources:
  statsd:
    type: statsd
    listen: 127.0.0.1:${statsdPort}
    flush_interval: 10s
`;
  const sinks = `sinks:
  prometheus:
    type: prometheus_exporter
    listen: 127.0.0.1:${exporterPort}
`;
  const linux = (interval) => `  linux:\n    type: linux\n    interval: ${interval}\n`;
  const internal = (interval) => `  internal:\n    type: internal\n    interval: ${interval}\n`;
  const docker = `  docker:
    type: docker
    socket: ${replay.socketPath}
    interval: 1s
`;
  const command = `  loadavg:
    type: command
    command: [awk, '{ print "load.1m", $1; print "load.5m", $2; print "load.15m", $3 }', /proc/loadavg]
    data_format: graphite
    interval: 1s
`;
  const headMain = head + '    workers: 0\n';
  // The first ones attribute the cost; the last two are the configurations the docs quote.
  const configs = {
    'built-in (statsd, linux and internal at 10 s, exporter)': head + linux('10s') + internal('10s') + sinks,
    'built-in, statsd on the main thread (workers: 0)': headMain + linux('10s') + internal('10s') + sinks,
    'no polled sources': head + sinks,
    'docker alone at 1 s': head + docker + sinks,
    'command alone at 1 s': head + command + sinks,
    'default + docker + command at 1 s': head + linux('10s') + internal('10s') + docker + command + sinks,
    'every polled source at 1 s': head + linux('1s') + internal('1s') + docker + command + sinks,
  };
  const runs = [];
  runs.push(
    await measure('node, an idle setInterval', [process.execPath, '-e', 'setInterval(() => {}, 1000)']),
  );
  for (const [name, text] of Object.entries(configs)) {
    if (!name.includes(values.only)) continue;
    const file = path.join(dir, `${runs.length}.yaml`);
    writeFileSync(file, text);
    runs.push(await measure(`sluice, ${name}`, [process.execPath, 'bin/sluice.js', '--config', file]));
  }
  console.log(
    `# ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), Node ${process.version}, ${seconds} s window after ${WARMUP_MS / 1000} s warm-up`,
  );
  console.log('| process | CPU | CPU seconds | RSS mean | RSS peak |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const r of runs) {
    console.log(
      `| ${r.name} | ${r.cpuPercent.toFixed(3)} % | ${r.cpuSeconds.toFixed(2)} | ${(r.rssMean / 2 ** 20).toFixed(1)} MiB | ${(r.rssPeak / 2 ** 20).toFixed(1)} MiB |`,
    );
  }
  for (const r of runs)
    if (r.warnings.length > 0) console.log(`\n${r.name} warned:\n${r.warnings.slice(0, 5).join('\n')}`);
} finally {
  await replay.stop();
  rmSync(dir, { recursive: true, force: true });
}
