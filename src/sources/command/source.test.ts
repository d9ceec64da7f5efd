/**
 * The command source against real programs: scripts that print each format, and programs that
 * fail, hang, ignore SIGTERM, fork children that hang, print without end and print garbage.
 * Timeouts are short and every wait is bounded.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { ManualClock, systemClock } from '../../core/clock.js';
import type { CounterMetric, GaugeMetric, Metric, SummaryMetric } from '../../core/metric.js';
import { SourceRunner } from '../../core/supervisor.js';
import { formatPath, type Issue } from '../../config/schema.js';
import { processGone, scriptDir } from '../../testing/command-scripts.js';
import {
  findMetric,
  recordingLogger,
  testSourceContext,
  type TestSourceContext,
} from '../../testing/context.js';
import { waitFor } from '../../testing/processes.js';
import { sample, schema, type CommandConfig } from './schema.js';
import { CommandSource } from './source.js';

const NOW = 1_700_000_000_000;

function config(options: Record<string, unknown>): CommandConfig {
  const issues: Issue[] = [];
  const parsed = schema.parse({ start_jitter: false, ...options }, [], issues);
  assert.deepEqual(
    issues.map((i) => `${formatPath(i.path)}: ${i.message}`),
    [],
  );
  return parsed as CommandConfig;
}

interface Harness {
  source: CommandSource;
  ctx: TestSourceContext;
  clock: ManualClock;
  lines: Record<string, unknown>[];
  stat(name: string, labels?: Record<string, string>): number;
}

function harness(options: Record<string, unknown>): Harness {
  const clock = new ManualClock(NOW);
  const { log, lines } = recordingLogger();
  const ctx = testSourceContext({ id: 'script', type: 'command', clock, log });
  const source = new CommandSource(config(options), ctx);
  const stat = (name: string, labels: Record<string, string> = {}): number => {
    const found = ctx.stats
      .toMetrics(0)
      .find(
        (m) =>
          m.name === `sluice_${name}` &&
          Object.entries(labels).every(([k, v]) => m.tags.some((t) => t[0] === k && t[1] === v)),
      );
    return found === undefined ? NaN : (found as CounterMetric | GaugeMetric).value;
  };
  return { source, ctx, clock, lines, stat };
}

function failures(h: Harness): Record<string, number> {
  const out: Record<string, number> = {};
  for (const reason of ['spawn', 'exit', 'timeout', 'too_large', 'parse']) {
    const n = h.stat('command_failures', { reason });
    if (n > 0) out[reason] = n;
  }
  return out;
}

function rejectedTotal(h: Harness): number {
  return h.ctx.stats
    .toMetrics(0)
    .filter((m) => m.name === 'sluice_lines_rejected')
    .reduce((sum, m) => sum + (m as CounterMetric).value, 0);
}

function warnings(h: Harness): Record<string, unknown>[] {
  return h.lines.filter((l) => l.level === 'warn');
}

describe('command source: each data format, from a real program', () => {
  it('statsd: the run is aggregated once, counters as deltas over the interval, timers as summaries', async (t) => {
    const dir = scriptDir(t);
    const prog = dir.script(
      'statsd.sh',
      "printf 'jobs.done:3|c\\njobs.done:2|c\\nqueue.depth:7|g|#queue:mail\\nbackup.ms:100|ms\\nbackup.ms:300|ms\\n'",
    );
    const h = harness({ command: [prog], data_format: 'statsd', interval: '10s' });
    const batch = await h.source.collect();
    const done = findMetric(batch, 'jobs.done') as CounterMetric;
    assert.equal(done.kind, 'counter');
    assert.equal(done.temporality, 'delta');
    assert.equal(done.value, 5);
    assert.equal(done.intervalMs, 10_000);
    assert.equal(done.timestamp, NOW);
    const depth = findMetric(batch, 'queue.depth', { queue: 'mail' }) as GaugeMetric;
    assert.equal(depth.value, 7);
    const timer = findMetric(batch, 'backup.ms') as SummaryMetric;
    assert.equal(timer.kind, 'summary');
    assert.equal(timer.summary.count, 2);
    assert.equal(timer.summary.min, 100);
    assert.equal(timer.summary.max, 300);
    assert.deepEqual(failures(h), {});
    assert.equal(h.stat('command_runs'), 1);
  });

  it('influx: every numeric field is a gauge, with its tags and its own timestamp', async (t) => {
    const dir = scriptDir(t);
    const prog = dir.script(
      'influx.sh',
      `echo '# a comment'\necho 'disk,dev=sda used=10i,free=5.5,ok=true,label="root fs" 1700000123000000000'\necho 'uptime value=42'`,
    );
    const h = harness({ command: [prog], data_format: 'influx' });
    const batch = await h.source.collect();
    assert.deepEqual(
      batch.map((m) => [m.name, m.tags, (m as GaugeMetric).value, m.timestamp]),
      [
        ['disk.used', [['dev', 'sda']], 10, 1_700_000_123_000],
        ['disk.free', [['dev', 'sda']], 5.5, 1_700_000_123_000],
        ['disk.ok', [['dev', 'sda']], 1, 1_700_000_123_000],
        ['uptime', [], 42, NOW],
      ],
    );
    assert.deepEqual(failures(h), {});
  });

  it('graphite: the sample block reads /proc/loadavg with awk, without a shell', async () => {
    const doc = parseYaml(sample) as Record<string, { command: string[] }>;
    const command = (doc.loadavg as { command: string[] }).command;
    const h = harness({ command, data_format: 'graphite' });
    const batch = await h.source.collect();
    const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ');
    assert.deepEqual(
      batch.map((m) => m.name),
      ['load.1m', 'load.5m', 'load.15m'],
    );
    for (const m of batch) {
      assert.equal(m.kind, 'gauge');
      assert.ok(Number.isFinite(m.value) && m.value >= 0, String(m.value));
    }
    // The 15-minute average barely moves between the two reads.
    assert.ok(Math.abs((batch[2] as GaugeMetric).value - Number(loadavg[2])) < 0.5);
    assert.deepEqual(failures(h), {});
  });

  it('graphite: tagged paths and timestamps in seconds', async (t) => {
    const dir = scriptDir(t);
    const prog = dir.script(
      'graphite.sh',
      "echo 'backup.age;db=main;site=eu 3600 1700000100'\necho 'backup.size 12.5'",
    );
    const h = harness({ command: [prog], data_format: 'graphite' });
    const batch = await h.source.collect();
    assert.deepEqual(batch, [
      {
        kind: 'gauge',
        name: 'backup.age',
        tags: [
          ['db', 'main'],
          ['site', 'eu'],
        ],
        value: 3600,
        timestamp: 1_700_000_100_000,
      },
      { kind: 'gauge', name: 'backup.size', tags: [], value: 12.5, timestamp: NOW },
    ]);
  });

  it('prometheus: counters, gauges and histogram buckets, with help', async (t) => {
    const dir = scriptDir(t);
    const text = [
      '# HELP mails_sent_total Mails sent.',
      '# TYPE mails_sent_total counter',
      'mails_sent_total{queue="out"} 1027',
      '# TYPE queue_length gauge',
      'queue_length 3',
      '# TYPE wait_seconds histogram',
      'wait_seconds_bucket{le="1"} 2',
      'wait_seconds_bucket{le="+Inf"} 3',
      'wait_seconds_sum 4.5',
      'wait_seconds_count 3',
    ].join('\n');
    const prog = dir.script('prom.sh', `cat <<'EOF'\n${text}\nEOF`);
    const h = harness({ command: [prog], data_format: 'prometheus' });
    const batch = await h.source.collect();
    const sent = findMetric(batch, 'mails_sent_total', { queue: 'out' }) as CounterMetric;
    assert.equal(sent.kind, 'counter');
    assert.equal(sent.temporality, 'cumulative');
    assert.equal(sent.value, 1027);
    assert.equal(sent.help, 'Mails sent.');
    assert.equal(findMetric(batch, 'queue_length').kind, 'gauge');
    const inf = findMetric(batch, 'wait_seconds_bucket', { le: '+Inf' }) as CounterMetric;
    assert.equal(inf.value, 3);
    assert.equal((findMetric(batch, 'wait_seconds_sum') as CounterMetric).value, 4.5);
    assert.equal(batch.length, 6);
    assert.deepEqual(failures(h), {});
  });

  it('json: a pretty-printed document with nested objects, and typed records', async (t) => {
    const dir = scriptDir(t);
    const doc = dir.script(
      'doc.sh',
      `cat <<'EOF'\n{\n  "metric_name": "queue",\n  "region": "eu",\n  "depth": 3,\n  "workers": { "busy": 2, "idle": 1 }\n}\nEOF`,
    );
    const h = harness({ command: [doc], data_format: 'json' });
    const batch = await h.source.collect();
    assert.deepEqual(
      batch.map((m) => [m.name, m.tags, (m as GaugeMetric).value, m.point]),
      [
        ['queue.depth', [['region', 'eu']], 3, { measurement: 'queue', field: 'depth' }],
        ['queue.workers.busy', [['region', 'eu']], 2, { measurement: 'queue', field: 'workers.busy' }],
        ['queue.workers.idle', [['region', 'eu']], 1, { measurement: 'queue', field: 'workers.idle' }],
      ],
    );

    const typed = dir.script(
      'typed.sh',
      `echo '{"metric_name": "jobs", "metric_type": "counter", "value": 2}'\necho '{"metric_name": "jobs", "metric_type": "counter", "value": 3}'\necho '{"free": 9}'`,
    );
    const h2 = harness({ command: [typed], data_format: 'json', name: 'disk' });
    const batch2 = await h2.source.collect();
    assert.equal((findMetric(batch2, 'jobs') as CounterMetric).value, 5);
    assert.equal((findMetric(batch2, 'disk.free') as GaugeMetric).value, 9);
    assert.deepEqual(failures(h2), {});
  });

  it('number: the whole output is one gauge', async () => {
    const h = harness({ command: ['printf', '  42.5\\n'], data_format: 'number', name: 'answer' });
    assert.deepEqual(await h.source.collect(), [
      { kind: 'gauge', name: 'answer', tags: [], value: 42.5, timestamp: NOW },
    ]);
  });

  it('name_prefix and tags apply to every metric; the command’s own tags win', async () => {
    const h = harness({
      command: ['printf', 'disk,team=dba used=1,free=2\\n'],
      data_format: 'influx',
      name_prefix: 'scripts.',
      tags: { team: 'ops', site: 'eu' },
    });
    const batch = await h.source.collect();
    assert.deepEqual(
      batch.map((m) => [m.name, m.tags, m.point]),
      [
        [
          'scripts.disk.used',
          [
            ['site', 'eu'],
            ['team', 'dba'],
          ],
          { measurement: 'scripts.disk', field: 'used' },
        ],
        [
          'scripts.disk.free',
          [
            ['site', 'eu'],
            ['team', 'dba'],
          ],
          { measurement: 'scripts.disk', field: 'free' },
        ],
      ],
    );
  });
});

describe('command source: how the command runs', () => {
  it('runs a shell only when shell is set', async () => {
    const h = harness({ shell: 'echo 7 | tr 7 8', data_format: 'number', name: 'n' });
    assert.equal(((await h.source.collect())[0] as GaugeMetric).value, 8);
    // The same text as a command is one program name, which does not exist.
    const h2 = harness({ command: ['echo 7 | tr 7 8'], data_format: 'number', name: 'n' });
    assert.deepEqual(await h2.source.collect(), []);
    assert.deepEqual(failures(h2), { spawn: 1 });
  });

  it('passes the agent’s environment plus env, or with inherit_env: false only PATH and env', async (t) => {
    process.env.SLUICE_COMMAND_TEST_SECRET = 'hunter2';
    t.after(() => delete process.env.SLUICE_COMMAND_TEST_SECRET);
    const script = 'echo $(( ${#SLUICE_COMMAND_TEST_SECRET} * 100 + EXTRA ))';
    const inherit = harness({ shell: script, env: { EXTRA: '5' }, data_format: 'number', name: 'n' });
    assert.equal(((await inherit.source.collect())[0] as GaugeMetric).value, 705);
    // stdout of a failed run is discarded, so the variables go to stderr, which is logged.
    const envDump = harness({
      shell: 'env | grep -v -e ^PWD= -e ^SHLVL= -e ^_= | sort | tr "\\n" " " >&2; exit 1',
      env: { EXTRA: '5' },
      inherit_env: false,
      data_format: 'number',
      name: 'n',
    });
    await envDump.source.collect();
    assert.equal(
      warnings(envDump)[0]?.stderr,
      'EXTRA=5 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    );
  });

  it('runs in cwd', async (t) => {
    const dir = scriptDir(t);
    dir.file('a', '');
    dir.file('b', '');
    dir.file('c', '');
    const h = harness({ shell: 'ls | wc -l', cwd: dir.dir, data_format: 'number', name: 'files' });
    assert.equal(((await h.source.collect())[0] as GaugeMetric).value, 3);
  });

  it('never starts a second copy while a run is still going: the supervisor skips the tick', async (t) => {
    const dir = scriptDir(t);
    const log = dir.file('runs.log', '');
    const prog = dir.script('slow.sh', `echo start >> ${log}\nsleep 0.35\necho end >> ${log}\necho 1`);
    const { log: logger } = recordingLogger();
    const runner = new SourceRunner(
      'slow',
      'command',
      (ctx) =>
        new CommandSource(
          config({ command: [prog], data_format: 'number', name: 'n', interval: '100ms' }),
          ctx,
        ),
      () => {},
      {
        log: logger,
        clock: systemClock,
        policy: { minBackoffMs: 10, maxBackoffMs: 40, maxFailures: 3, windowMs: 60_000, startTimeoutMs: 500 },
      },
    );
    await runner.start();
    await sleep(1500);
    await runner.stop();
    const skipped = runner.stats
      .toMetrics(0)
      .find((m) => m.name === 'sluice_collection_skipped') as CounterMetric;
    assert.ok(skipped.value >= 2, `skipped ${skipped.value}`);
    const events = readFileSync(log, 'utf8').trim().split('\n');
    // Runs never overlap: every start is followed by its end before the next start.
    for (let i = 0; i + 1 < events.length; i += 2) assert.deepEqual(events.slice(i, i + 2), ['start', 'end']);
    assert.ok(events.length >= 4, events.join(','));
  });

  it('stop() ends a run in progress at once and counts no failure', async (t) => {
    const dir = scriptDir(t);
    const pidFile = `${dir.dir}/pid`;
    const h = harness({
      shell: `echo $$ > ${pidFile}; sleep 30`,
      data_format: 'number',
      name: 'n',
      timeout: '60s',
    });
    const started = Date.now();
    const pending = h.source.collect();
    const pid = await waitFor(() => readPid(pidFile), {
      timeoutMs: 5000,
      intervalMs: 20,
      what: 'the pid file',
    });
    await h.source.stop();
    assert.deepEqual(await pending, []);
    assert.ok(Date.now() - started < 10_000);
    assert.ok(processGone(pid));
    assert.deepEqual(failures(h), {});
  });
});

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

describe('command source: failures are counted and logged, never fatal', () => {
  it('a command that exits non-zero: its output is discarded and its stderr logged', async (t) => {
    const dir = scriptDir(t);
    const prog = dir.script('fail.sh', "echo 12\necho 'cannot reach the database' >&2\nexit 3");
    const h = harness({ command: [prog], data_format: 'number', name: 'n' });
    assert.deepEqual(await h.source.collect(), []);
    assert.deepEqual(failures(h), { exit: 1 });
    const [w] = warnings(h);
    assert.equal(w?.exit_code, 3);
    assert.equal(w?.stderr, 'cannot reach the database');
    assert.deepEqual(h.ctx.failures, []);
  });

  it('/bin/false, again and again: counted every time, logged once a minute', async () => {
    const h = harness({ command: ['/bin/false'], data_format: 'number', name: 'n' });
    for (let i = 0; i < 3; i++) assert.deepEqual(await h.source.collect(), []);
    assert.deepEqual(failures(h), { exit: 3 });
    assert.equal(warnings(h).length, 1);
    h.clock.advance(60_000);
    await h.source.collect();
    assert.equal(warnings(h).length, 2);
    assert.equal(warnings(h)[1]?.not_logged_since_last, 2);
  });

  it('logs once when the command succeeds again', async (t) => {
    const dir = scriptDir(t);
    const flag = `${dir.dir}/ok`;
    const h = harness({ shell: `test -e ${flag} && echo 1`, data_format: 'number', name: 'n' });
    await h.source.collect();
    dir.file('ok', '');
    assert.equal((await h.source.collect()).length, 1);
    assert.ok(h.lines.some((l) => l.level === 'info' && l.failed_runs_before === 1));
  });

  it('a program that does not exist, is not executable, or a cwd that does not exist: spawn failures', async (t) => {
    const dir = scriptDir(t);
    const notExecutable = dir.file('plain.sh', '#!/bin/sh\necho 1\n');
    const missing = harness({ command: [`${dir.dir}/nope`], data_format: 'number', name: 'n' });
    assert.deepEqual(await missing.source.collect(), []);
    assert.deepEqual(failures(missing), { spawn: 1 });
    assert.equal((warnings(missing)[0]?.error as { code?: string }).code, 'ENOENT');

    const denied = harness({ command: [notExecutable], data_format: 'number', name: 'n' });
    assert.deepEqual(await denied.source.collect(), []);
    assert.deepEqual(failures(denied), { spawn: 1 });
    assert.equal((warnings(denied)[0]?.error as { code?: string }).code, 'EACCES');

    const badCwd = harness({ command: ['true'], cwd: `${dir.dir}/gone`, data_format: 'number', name: 'n' });
    assert.deepEqual(await badCwd.source.collect(), []);
    assert.deepEqual(failures(badCwd), { spawn: 1 });
  });

  it('a command that hangs is killed at the timeout', async () => {
    const h = harness({ command: ['sleep', '30'], data_format: 'number', name: 'n', timeout: '200ms' });
    const started = Date.now();
    assert.deepEqual(await h.source.collect(), []);
    assert.ok(Date.now() - started < 10_000);
    assert.deepEqual(failures(h), { timeout: 1 });
    assert.equal(warnings(h)[0]?.timeout_ms, 200);
  });

  it('a command that ignores SIGTERM gets SIGKILL after kill_grace', async (t) => {
    const dir = scriptDir(t);
    const pidFile = `${dir.dir}/pid`;
    // An ignored signal stays ignored across exec, so sleep ignores SIGTERM too.
    const prog = dir.script('stubborn.sh', `trap '' TERM\necho $$ > ${pidFile}\nsleep 30`);
    const h = harness({
      command: [prog],
      data_format: 'number',
      name: 'n',
      timeout: '200ms',
      kill_grace: '200ms',
    });
    const started = Date.now();
    assert.deepEqual(await h.source.collect(), []);
    assert.ok(Date.now() - started < 10_000);
    assert.deepEqual(failures(h), { timeout: 1 });
    const pid = readPid(pidFile);
    assert.ok(pid !== undefined && processGone(pid));
  });

  it('the children of a command that times out are killed with it (its whole process group)', async (t) => {
    const dir = scriptDir(t);
    const pidFile = `${dir.dir}/child`;
    const prog = dir.script('forks.sh', `sleep 300 &\necho $! > ${pidFile}\nwait`);
    const h = harness({ command: [prog], data_format: 'number', name: 'n', timeout: '300ms' });
    assert.deepEqual(await h.source.collect(), []);
    assert.deepEqual(failures(h), { timeout: 1 });
    const child = readPid(pidFile);
    assert.ok(child !== undefined);
    await waitFor(() => (processGone(child) ? true : undefined), {
      timeoutMs: 5000,
      intervalMs: 20,
      what: `child ${child} to be gone`,
    });
  });

  it('background jobs left by a command that succeeded are ended', async (t) => {
    const dir = scriptDir(t);
    const pidFile = `${dir.dir}/child`;
    const prog = dir.script('leaves.sh', `sleep 300 > /dev/null 2>&1 &\necho $! > ${pidFile}\necho 5`);
    const h = harness({ command: [prog], data_format: 'number', name: 'n' });
    assert.equal(((await h.source.collect())[0] as GaugeMetric).value, 5);
    const child = readPid(pidFile);
    assert.ok(child !== undefined);
    await waitFor(() => (processGone(child) ? true : undefined), {
      timeoutMs: 5000,
      intervalMs: 20,
      what: `child ${child} to be gone`,
    });
  });

  it('a background job that keeps stdout open holds the run until the timeout', async (t) => {
    const dir = scriptDir(t);
    const prog = dir.script('holds.sh', 'sleep 300 &\necho 5');
    const h = harness({ command: [prog], data_format: 'number', name: 'n', timeout: '300ms' });
    assert.deepEqual(await h.source.collect(), []);
    assert.deepEqual(failures(h), { timeout: 1 });
  });

  it('a process that left the group and keeps stdout open holds the run only until timeout and grace', async (t) => {
    const dir = scriptDir(t);
    const pidFile = `${dir.dir}/escaped`;
    const prog = dir.script('escapes.sh', `setsid sleep 30 &\necho $! > ${pidFile}\necho 5`);
    const h = harness({
      command: [prog],
      data_format: 'number',
      name: 'n',
      timeout: '200ms',
      kill_grace: '200ms',
    });
    const started = Date.now();
    const batch = await h.source.collect();
    // The escaped process is out of sluice's reach by design: end it here.
    const escaped = readPid(pidFile);
    if (escaped !== undefined && !processGone(escaped)) process.kill(escaped, 'SIGKILL');
    assert.deepEqual(batch, []);
    assert.ok(Date.now() - started < 10_000);
    assert.deepEqual(failures(h), { timeout: 1 });
  });

  it('a command that prints without end is killed past max_output', async () => {
    const h = harness({ command: ['yes'], data_format: 'statsd', max_output: 10_000, timeout: '10s' });
    const started = Date.now();
    assert.deepEqual(await h.source.collect(), []);
    assert.ok(Date.now() - started < 10_000);
    assert.deepEqual(failures(h), { too_large: 1 });
  });

  for (const format of ['statsd', 'influx', 'graphite', 'prometheus', 'json', 'number'] as const) {
    it(`random bytes as ${format}: rejected lines counted, the run a parse failure`, async () => {
      const h = harness({
        command: ['head', '-c', '4096', '/dev/urandom'],
        data_format: format,
        ...(format === 'number' ? { name: 'n' } : {}),
      });
      const batch: readonly Metric[] = await h.source.collect();
      assert.ok(Array.isArray(batch));
      assert.ok(rejectedTotal(h) > 0);
      assert.deepEqual(failures(h), { parse: 1 });
      const w = warnings(h)[0];
      assert.equal(w?.data_format, format);
      assert.ok(w?.last !== undefined);
      assert.deepEqual(h.ctx.failures, []);
    });
  }

  it('garbage around valid lines: the valid lines are kept', async (t) => {
    const dir = scriptDir(t);
    const prog = dir.script(
      'mixed.sh',
      "echo 'a.b 1'\necho 'not graphite at all'\necho 'c.d 2 nope'\necho 'e.f 3'",
    );
    const h = harness({ command: [prog], data_format: 'graphite' });
    const batch = await h.source.collect();
    assert.deepEqual(
      batch.map((m) => m.name),
      ['a.b', 'e.f'],
    );
    assert.equal(h.stat('lines_rejected', { reason: 'bad_line' }), 1);
    assert.equal(h.stat('lines_rejected', { reason: 'bad_timestamp' }), 1);
    assert.deepEqual(failures(h), { parse: 1 });
  });
});
