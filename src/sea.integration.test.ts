/**
 * The single executable (scripts/sea/build.mjs), run as an operator would: copied alone into an
 * empty directory, no node_modules anywhere above it, a bare environment.
 * - the README's quick start, on the built-in config's own ports (8125, 9103), inside a network
 *   namespace of its own (`unshare -rn`), so nothing else on the machine can hold those ports;
 * - `--version`, `generate` (the same text as the npm install's), `validate` of a good and a
 *   broken file;
 * - StatsD over UDP into ingest workers (whose scripts travel inside the executable), flushed to
 *   the console, counters exact, and the status page served from the executable's assets;
 * - SIGTERM flushes what is held and exits 0;
 * - the Kafka sink, whose client's compression and CRC run as bundled WASM there, delivers
 *   snappy-compressed batches to a real Apache Kafka broker.
 * The executable is built here unless SLUICE_SEA names one (.ci/run builds it once). The quick
 * start needs unshare and ip (util-linux, iproute2): skipped without them, except under CI=true.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  freePort,
  httpGet,
  listeningOn,
  repoRoot,
  serverPrograms,
  startProcess,
  waitFor,
} from './testing/processes.js';
import { sendStatsd } from './testing/udp.js';
import type { UnixSocketModule } from './sources/transport/unix-socket.js';
import { consumeAll, KafkaBroker, kafkaRequirements } from './testing/kafka-broker.js';

const kafka = kafkaRequirements();
const namespaceTools = serverPrograms(['unshare', 'ip'], 'apt-get install util-linux iproute2');

// Run inside the network namespace: the quick start's commands, as a script (argv: executable,
// directory). Prints one JSON line with what it saw.
const QUICK_START = `
const { spawn } = require('node:child_process');
const dgram = require('node:dgram');
const http = require('node:http');
const [exe, dir] = process.argv.slice(2);
const get = () => new Promise((resolve, reject) => {
  http.get('http://127.0.0.1:9103/metrics', (res) => {
    let body = '';
    res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => resolve(body));
  }).on('error', reject);
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(match, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const line = await get().then((b) => b.split('\\n').find((l) => match.test(l)), () => undefined);
    if (line !== undefined) return line;
    await sleep(250);
  }
  return undefined;
}
(async () => {
  const agent = spawn(exe, [], { cwd: dir, env: { PATH: '/usr/bin:/bin', HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  agent.stderr.on('data', (d) => (stderr += d));
  agent.stdout.resume();
  const exited = new Promise((r) => agent.on('exit', (code, signal) => r({ code, signal })));
  const cpu = await until(/^system_cpu_seconds_total\\{/, 20000);
  const socket = dgram.createSocket('udp4');
  await new Promise((r) => socket.send('foobar:123|g', 8125, '127.0.0.1', r));
  socket.close();
  const foobar = await until(/^foobar[{ ]/, 25000);
  agent.kill('SIGTERM');
  const exit = await exited;
  process.stdout.write(JSON.stringify({ cpu, foobar, exit, stderr: stderr.slice(-2000) }) + '\\n');
})();
`;

describe('the single executable, alone in an empty directory', { timeout: 300_000 }, () => {
  let tmp = '';
  let dir = '';
  let exe = '';
  const bareEnv = (): NodeJS.ProcessEnv => ({ PATH: '/usr/bin:/bin', HOME: dir });

  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-sea-'));
    let built = process.env.SLUICE_SEA ?? '';
    if (built === '' || !existsSync(built)) {
      built = path.join(tmp, 'built', 'sluice');
      execFileSync(process.execPath, [path.join(repoRoot, 'scripts', 'sea', 'build.mjs'), built], {
        stdio: ['ignore', 'inherit', 'inherit'],
      });
    }
    dir = path.join(tmp, 'empty');
    exe = path.join(dir, 'sluice');
    execFileSync('mkdir', [dir]);
    copyFileSync(built, exe);
    execFileSync('chmod', ['755', exe]);
  });

  after(() => {
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  });

  function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(exe, args, { cwd: dir, env: bareEnv(), encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('is one file, and nothing beside it is needed', () => {
    assert.ok(!existsSync(path.join(dir, 'node_modules')));
    for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) {
      assert.ok(!existsSync(path.join(d, 'node_modules')), `${d}/node_modules exists`);
    }
    const version = (
      JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }
    ).version;
    const r = run(['--version']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `sluice ${version}\n`);
  });

  it('generate prints what the npm install prints, and validate accepts it and refuses a broken file', () => {
    const generated = run(['generate']);
    assert.equal(generated.status, 0, generated.stderr);
    const fromPackage = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'sluice.js'), 'generate'], {
      encoding: 'utf8',
    });
    assert.equal(generated.stdout, fromPackage.stdout);
    writeFileSync(path.join(dir, 'sluice.yaml'), generated.stdout);
    const valid = run(['validate', 'sluice.yaml']);
    assert.equal(valid.status, 0, valid.stderr);
    assert.equal(valid.stdout, 'sluice.yaml: valid\n');

    writeFileSync(path.join(dir, 'broken.yaml'), 'sinks:\n  out:\n    type: console\n    fromat: json\n');
    const broken = run(['validate', 'broken.yaml']);
    assert.equal(broken.status, 1);
    assert.match(
      broken.stderr,
      /broken\.yaml:4:5: sinks\.out\.fromat: unknown key \(did you mean "format"\?\)/,
    );
  });

  it(
    'quick start: the built-in config serves CPU metrics and a StatsD gauge, and exits 0 on SIGTERM',
    {
      skip: namespaceTools.skip,
    },
    () => {
      namespaceTools.assertInstalled();
      const script = path.join(tmp, 'quick-start.cjs');
      writeFileSync(script, QUICK_START);
      // A user and network namespace: loopback only, 8125 and 9103 free whatever the host runs.
      const r = spawnSync(
        'unshare',
        ['-rn', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, script, exe, dir],
        { encoding: 'utf8', timeout: 90_000 },
      );
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      const seen = JSON.parse(r.stdout) as {
        cpu?: string;
        foobar?: string;
        exit: { code: number | null; signal: string | null };
        stderr: string;
      };
      assert.match(seen.cpu ?? '', /^system_cpu_seconds_total\{.*cpu="\d+".*\} \d/, seen.stderr);
      assert.match(seen.foobar ?? '', /^foobar\{.*\} 123$/, seen.stderr);
      assert.deepEqual(seen.exit, { code: 0, signal: null }, seen.stderr);
    },
  );

  it('ingest workers aggregate StatsD exactly and flush to the console; the status page is served', async (t) => {
    const statsdPort = await freePort('udp');
    const adminPort = await freePort('tcp');
    writeFileSync(
      path.join(dir, 'console.yaml'),
      `agent:
  hostname: sea-host
  admin_listen: 127.0.0.1:${adminPort}
sources:
  statsd:
    type: statsd
    listen: [udp://127.0.0.1:${statsdPort}]
    flush_interval: 1s
    workers: 2
sinks:
  out:
    type: console
    format: json
`,
    );
    const agent = startProcess(exe, ['--config', 'console.yaml'], { cwd: dir, env: bareEnv(), owner: t });
    await agent.waitForLog((l) => l.msg === 'sluice started.');
    await agent.waitForLog(listeningOn(statsdPort));

    // 40 datagrams of 25 increments each: 1,000 in all, whatever flush they land in.
    const datagrams = Array.from({ length: 40 }, (_, i) =>
      Array.from({ length: 25 }, () => `sea.hits:1|c|#shard:${i % 2}`).join('\n'),
    );
    await sendStatsd(statsdPort, datagrams);
    await sendStatsd(statsdPort, ['sea.temp:21.5|g']);

    const page = await httpGet(`http://127.0.0.1:${adminPort}/`);
    assert.equal(page.status, 200);
    assert.match(page.body.toString('utf8'), /^<!doctype html>/);
    const script = await httpGet(`http://127.0.0.1:${adminPort}/status.js`);
    assert.equal(script.status, 200);
    assert.deepEqual(script.body, readFileSync(path.join(repoRoot, 'src', 'admin', 'page', 'status.js')));

    const counted = (): number => {
      let sum = 0;
      for (const line of agent.stdout().split('\n')) {
        if (!line.startsWith('{')) continue;
        const m = JSON.parse(line) as { name?: string; value?: number };
        if (m.name === 'sea.hits') sum += m.value ?? 0;
      }
      return sum;
    };
    await waitFor(() => (counted() === 1000 && agent.stdout().includes('"sea.temp"') ? true : undefined), {
      timeoutMs: 15_000,
      what: '1,000 sea.hits and the sea.temp gauge on stdout',
      describe: () => `${counted()} counted; stdout ends ${agent.stdout().slice(-500)}`,
    });
    const exit = await agent.stop();
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(counted(), 1000);
  });

  it('delivers to a real Apache Kafka broker with snappy compression', { skip: kafka.skip }, async (t) => {
    const broker = await KafkaBroker.create(kafka);
    t.after(() => broker.destroy());
    const statsdPort = await freePort('udp');
    const topic = 'sea-metrics';
    writeFileSync(
      path.join(dir, 'kafka.yaml'),
      `agent:
  hostname: sea-host
sources:
  statsd:
    type: statsd
    listen: [udp://127.0.0.1:${statsdPort}]
    flush_interval: 1s
sinks:
  kafka:
    type: kafka
    brokers: ['${broker.bootstrap}']
    topic: ${topic}
    compression: snappy
    format: json
`,
    );
    const agent = startProcess(exe, ['--config', 'kafka.yaml'], { cwd: dir, env: bareEnv(), owner: t });
    await agent.waitForLog(listeningOn(statsdPort));
    await sendStatsd(
      statsdPort,
      Array.from({ length: 20 }, () => Array.from({ length: 50 }, () => 'sea.kafka:1|c').join('\n')),
    );
    const sum = async (): Promise<number> => {
      let total = 0;
      for (const m of await consumeAll(kafka, broker.bootstrap, topic)) {
        for (const line of (m.payload ?? '').split('\n')) {
          if (!line.startsWith('{')) continue;
          const metric = JSON.parse(line) as { name?: string; value?: number };
          if (metric.name === 'sea.kafka') total += metric.value ?? 0;
        }
      }
      return total;
    };
    let seen = 0;
    await waitFor(async () => ((seen = await sum()) === 1000 ? true : undefined), {
      timeoutMs: 60_000,
      intervalMs: 1000,
      what: '1,000 sea.kafka increments in the topic',
      describe: () => `${seen}; agent log ${agent.stderr().slice(-1500)}`,
      failIf: () => agent.diedReason() ?? broker.diedReason(),
    });
    const exit = await agent.stop();
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(await sum(), 1000);
  });

  it('unixgram:// says how to add its native package beside the executable, and works once that is done', async (t) => {
    const beside = path.join(tmp, 'with-unixgram');
    execFileSync('mkdir', [beside]);
    const copy = path.join(beside, 'sluice');
    copyFileSync(exe, copy);
    execFileSync('chmod', ['755', copy]);
    const socketPath = path.join(beside, 'statsd.sock');
    writeFileSync(
      path.join(beside, 'unixgram.yaml'),
      `sources:\n  statsd:\n    type: statsd\n    listen: ['unixgram://${socketPath}']\n    flush_interval: 1s\nsinks:\n  out:\n    type: console\n    format: json\n`,
    );
    const refused = spawnSync(copy, ['validate', 'unixgram.yaml'], {
      cwd: beside,
      env: bareEnv(),
      encoding: 'utf8',
    });
    assert.equal(refused.status, 1);
    const command = /Install it beside this executable with "(cd [^"]+)"/.exec(refused.stderr)?.[1];
    assert.ok(command, refused.stderr);
    // The command the message gives, as a person would paste it (npm from this machine's PATH).
    execFileSync(
      'sh',
      ['-c', command.replace(/ npm install /, ' npm install --prefer-offline --no-audit --no-fund ')],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    const valid = spawnSync(copy, ['validate', 'unixgram.yaml'], {
      cwd: beside,
      env: bareEnv(),
      encoding: 'utf8',
    });
    assert.equal(valid.status, 0, valid.stderr);

    const agent = startProcess(copy, ['--config', 'unixgram.yaml'], {
      cwd: beside,
      env: bareEnv(),
      owner: t,
    });
    await agent.waitForLog((l) => l.msg === 'sluice started.');
    // The same package as a client, loaded from where the command put it.
    const { DgramSocket } = createRequire(path.join(beside, 'client.js'))(
      'node-unix-socket',
    ) as UnixSocketModule;
    const client = new DgramSocket();
    await new Promise<void>((resolve) =>
      client.sendTo(Buffer.from('sea.unix:4|c'), 0, 12, socketPath, () => resolve()),
    );
    client.close();
    await agent.waitForStdout((out) => /"name":"sea\.unix".*"value":4/.test(out), 10_000);
    assert.equal((await agent.stop()).code, 0);
  });
});
