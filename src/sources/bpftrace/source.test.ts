import assert from 'node:assert/strict';
import {
  appendFileSync,
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { parse } from 'yaml';
import { formatPath, type Issue } from '../../config/schema.js';
import type { GaugeMetric, Metric } from '../../core/metric.js';
import { HistParser } from '../../protocols/bpftrace/hist.js';
import { bpftraceTestdata, referenceLog } from '../../testing/bpftrace.js';
import { testSourceContext, type TestSourceContext } from '../../testing/context.js';
import { waitFor } from '../../testing/processes.js';
import { bpftraceSource } from './index.js';
import { BlockConverter } from './metrics.js';
import { sample, schema, type BpftraceConfig } from './schema.js';
import { BpftraceSource, resolveTime } from './source.js';

function config(options: Record<string, unknown>): BpftraceConfig {
  const issues: Issue[] = [];
  const parsed = schema.parse(options, [], issues);
  assert.deepEqual(issues, []);
  return parsed as BpftraceConfig;
}

/** One line per point: name, tags, value. */
function points(metrics: readonly Metric[]): string[] {
  return metrics.map(
    (m) => `${m.name}{${m.tags.map(([k, v]) => `${k}=${v}`).join(',')}} ${(m as GaugeMetric).value}`,
  );
}

/** The points of a log read whole, in one go: what following it must give, in pieces or not. */
function expectedPoints(log: Buffer, maps: string[] = []): string[] {
  const parser = new HistParser();
  const converter = new BlockConverter({ maps, names: {}, fillZeros: false });
  const out: GaugeMetric[] = [];
  for (const item of [...parser.push(log), ...parser.end()]) {
    if (item.type === 'hist') converter.convert(item.block, 0, out);
  }
  return points(out);
}

let dir: string;
let sources: BpftraceSource[];
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-bpftrace-'));
  sources = [];
});
afterEach(async () => {
  for (const s of sources) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

function start(options: Record<string, unknown>): { source: BpftraceSource; ctx: TestSourceContext } {
  const ctx = testSourceContext({ type: 'bpftrace' });
  const source = new BpftraceSource(config(options), ctx);
  sources.push(source);
  return { source, ctx };
}

async function settle(ctx: TestSourceContext, count: number, what: string): Promise<void> {
  await waitFor(() => (ctx.metrics().length >= count ? true : undefined), {
    timeoutMs: 10_000,
    intervalMs: 10,
    what,
    describe: () => `${ctx.metrics().length} of ${count} points`,
  });
  // Long enough for several more polls: nothing else may come.
  await new Promise((r) => setTimeout(r, 60));
}

const log = referenceLog();

describe('bpftrace source, file mode', () => {
  it('reads the reference log from its beginning: every row of every block, once', async () => {
    const file = path.join(dir, 'cpu-lat.log');
    writeFileSync(file, log);
    const expected = expectedPoints(log);
    const { source, ctx } = start({ file, from_beginning: true, poll_interval: '10ms', fill_zeros: false });
    await source.start();
    await settle(ctx, expected.length, 'the reference log');
    assert.deepEqual(points(ctx.metrics()), expected);
    const rows = log
      .toString()
      .split('\n')
      .filter((l) => /^[[(]/.test(l)).length;
    assert.equal(expected.length, rows);
    assert.equal(ctx.stats.total('blocks_received'), 65);
    assert.equal(ctx.stats.total('blocks_rejected'), 0);
  });

  it('survives truncation and rotation without duplicating or losing a block', async () => {
    const file = path.join(dir, 'cpu-lat.log');
    writeFileSync(file, '');
    const { source, ctx } = start({ file, poll_interval: '10ms', fill_zeros: false, maps: ['usecs', 'lin'] });
    await source.start();
    const one = expectedPoints(log, ['usecs', 'lin']);

    // The whole log, written in pieces cut anywhere (mid-line, mid-block).
    for (let at = 0; at < log.length; at += 997) {
      appendFileSync(file, log.subarray(at, Math.min(at + 997, log.length)));
      await new Promise((r) => setTimeout(r, 5));
    }
    await settle(ctx, one.length, 'the log written in pieces');
    assert.deepEqual(points(ctx.metrics()), one);

    // logrotate's create: the old file is renamed, the writer goes on in a new one.
    renameSync(file, `${file}.1`);
    writeFileSync(file, log);
    await settle(ctx, 2 * one.length, 'the log after a rotation');

    // copytruncate under bpftrace -o, which does not append: the file is emptied, and the
    // writer's next print lands at its old offset, after a hole of NULs.
    const fd = openSync(file, 'r+');
    try {
      const offset = log.length;
      writeFileSync(file, '');
      writeSync(fd, log, 0, log.length, offset);
    } finally {
      closeSync(fd);
    }
    await settle(ctx, 3 * one.length, 'the log after copytruncate');

    assert.deepEqual(points(ctx.metrics()), [...one, ...one, ...one]);
    assert.equal(ctx.stats.total('file_rotations'), 1);
    assert.equal(ctx.stats.total('blocks_rejected'), 0);
  });

  it('starting at the end, emits no block it saw only part of', async () => {
    const file = path.join(dir, 'cpu-lat.log');
    const cut = log.indexOf('[256, 512)'); // inside the first @usecs block
    writeFileSync(file, log.subarray(0, cut + 5));
    const { source, ctx } = start({ file, poll_interval: '10ms', fill_zeros: false });
    await source.start();
    appendFileSync(file, log.subarray(cut + 5));
    const rest = expectedPoints(log.subarray(log.indexOf('\n@usecs_by_comm[bpftrace]') + 1));
    await settle(ctx, rest.length, 'the blocks after the cut');
    assert.deepEqual(points(ctx.metrics()), rest);
  });

  it('timestamps blocks with the time lines when asked', async () => {
    const file = path.join(dir, 'cpu-lat.log');
    writeFileSync(file, log);
    const { source, ctx } = start({
      file,
      from_beginning: true,
      poll_interval: '10ms',
      timestamp: 'time_line',
    });
    await source.start();
    await settle(ctx, expectedPoints(log).length, 'the reference log');
    const now = ctx.clock.now();
    const stamps = [...new Set(ctx.metrics().map((m) => m.timestamp))];
    const at = (h: number, m: number, s: number): number =>
      resolveTime({ seconds: h * 3600 + m * 60 + s }, now);
    // The blocks printed at exit follow the last time line.
    assert.deepEqual(stamps, [at(22, 29, 36), at(22, 29, 39), at(22, 29, 42)]);
  });
});

describe('resolveTime', () => {
  const now = new Date(2024, 2, 10, 12, 0, 0).getTime(); // local time
  it('takes the latest such time of day, not more than a minute ahead', () => {
    assert.equal(resolveTime({ seconds: 11 * 3600 }, now), new Date(2024, 2, 10, 11, 0, 0).getTime());
    assert.equal(resolveTime({ seconds: 12 * 3600 + 30 }, now), new Date(2024, 2, 10, 12, 0, 30).getTime());
    assert.equal(resolveTime({ seconds: 13 * 3600 }, now), new Date(2024, 2, 9, 13, 0, 0).getTime());
  });
  it('uses the date of a dated line', () => {
    assert.equal(
      resolveTime({ seconds: 3661, date: { year: 2023, month: 12, day: 31 } }, now),
      new Date(2023, 11, 31, 1, 1, 1).getTime(),
    );
  });
});

describe('bpftrace source, command mode', () => {
  it('reads the output of the command, and reports its exit so that it is restarted', async () => {
    const file = path.join(dir, 'cpu-lat.log');
    writeFileSync(file, log);
    const { source, ctx } = start({ mode: 'command', command: ['cat', file], fill_zeros: false });
    await source.start();
    await waitFor(() => (ctx.failures.length > 0 ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the exit',
    });
    assert.deepEqual(points(ctx.metrics()), expectedPoints(log));
    assert.match(String(ctx.failures[0]), /cat exited with code 0/);
  });

  it('counts a block cut by the exit as incomplete, and emits none of it', async () => {
    const file = path.join(dir, 'cut.log');
    writeFileSync(file, '@a: \n[0]   1 |@|\n\n@b: \n[0]   1 |@|\n');
    const { source, ctx } = start({ mode: 'command', command: ['cat', file] });
    await source.start();
    await waitFor(() => (ctx.failures.length > 0 ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the exit',
    });
    assert.deepEqual(points(ctx.metrics()), ['a{bucket=0} 1']);
    assert.equal(ctx.stats.total('blocks_rejected'), 1);
  });

  it('stops the command with SIGINT at stop, and does not report that exit', async () => {
    const { source, ctx } = start({ mode: 'command', command: ['sleep', '30'] });
    await source.start();
    const t0 = Date.now();
    await source.stop();
    assert.ok(Date.now() - t0 < 5_000);
    assert.deepEqual(ctx.failures, []);
  });

  it('rejects start when the program cannot be run', async () => {
    const { source, ctx } = start({ mode: 'command', command: [path.join(dir, 'no-such-bpftrace')] });
    await assert.rejects(source.start(), /cannot run .*no-such-bpftrace: .*ENOENT/);
    // Reported once, by start(): not a second time as an exit.
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(ctx.failures, []);
  });
});

describe('bpftrace config', () => {
  it('requires a command in command mode', () => {
    const issues: Issue[] = [];
    schema.parse({ mode: 'command' }, [], issues);
    assert.deepEqual(
      issues.map((i) => formatPath(i.path)),
      ['command'],
    );
  });

  it('rejects unknown keys', () => {
    const issues: Issue[] = [];
    schema.parse({ fil: '/tmp/x' }, [], issues);
    assert.match(issues[0]?.message ?? '', /did you mean "file"/);
  });

  // The registry's conformance checks, run here until the source is registered.
  it('has a sample that passes its schema, shows the defaults and documents every option', () => {
    const doc = parse(sample) as Record<string, Record<string, unknown>>;
    const { type, ...options } = doc.bpftrace ?? {};
    assert.equal(type, 'bpftrace');
    assert.equal(bpftraceSource.sample, sample);
    const issues: Issue[] = [];
    assert.deepEqual(schema.parse(options, [], issues), schema.parse({}, [], []));
    assert.deepEqual(issues, []);
    const lines = sample.split('\n');
    for (const [key, field] of Object.entries(schema.fields)) {
      assert.ok(field.doc, `${key} has no doc`);
      assert.ok(key in options, `the sample lacks ${key}`);
      let above = lines.findIndex((l) => l.startsWith(`    ${key}:`)) - 1;
      while (above > 0 && /^ {4}\w+:/.test(lines[above] as string)) above--;
      assert.ok((lines[above] ?? '').trimStart().startsWith('#'), `${key} has no comment above it`);
    }
  });

  it('has a README that embeds the sample verbatim', () => {
    const readme = readFileSync(path.join(bpftraceTestdata(), '..', 'README.md'), 'utf8');
    assert.ok(readme.includes('<!-- prettier-ignore -->\n```yaml\nsources:\n' + sample));
  });
});
