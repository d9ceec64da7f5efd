/**
 * The bpftrace source against a real bpftrace (Debian package `bpftrace`; it must run as root),
 * in both modes and both output formats: the counts the source emits must add up to the number
 * of events the script itself counted and printed.
 *
 * The scripts record exactly EVENTS events from an interval probe, with values that reach every
 * kind of row (negative ones, 0 and 1, K bounds, lhist's overflow), and do not clear their maps,
 * so the maps bpftrace prints at its exit (after the probes are detached) are one consistent
 * snapshot: every histogram's buckets add up to @n. The prints every 150 ms on the way make the
 * source read blocks while bpftrace is still writing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Issue } from '../../config/schema.js';
import type { GaugeMetric } from '../../core/metric.js';
import { getTag } from '../../core/tags.js';
import { testSourceContext, type TestSourceContext } from '../../testing/context.js';
import { serverPrograms, startProcess, waitFor } from '../../testing/processes.js';
import { schema, type BpftraceConfig } from './schema.js';
import { BpftraceSource } from './source.js';

const EVENTS = 60;

function script(limited: boolean): string {
  const record = `
    @h = hist(@i * 50 - 10);
    @l = lhist(@i * 5 - 20, 0, 250, 50);
    @k[@i % 3, "a b"] = hist(@i % 7 - 1);
    @n = count();
    @i++;`;
  const body = limited ? `if (@i < ${EVENTS}) {${record}\n  } else { exit(); }` : record;
  return `interval:ms:10 {\n  ${body}\n}\ninterval:ms:150 { print(@h); print(@l); print(@k); }\n`;
}

const programs = serverPrograms(['bpftrace'], 'apt-get install bpftrace');
const notRoot = process.getuid?.() !== 0;
const skip =
  programs.skip !== false
    ? programs.skip
    : notRoot && process.env.CI !== 'true'
      ? 'bpftrace needs root; CI=true makes this a failure'
      : false;

let dir: string;
before(() => {
  if (skip !== false) return;
  programs.assertInstalled();
  if (notRoot) throw new Error('bpftrace needs root, and CI=true requires this test to run.');
  dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-bpftrace-it-'));
  writeFileSync(path.join(dir, 'limited.bt'), script(true));
  writeFileSync(path.join(dir, 'endless.bt'), script(false));
});
after(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

function start(options: Record<string, unknown>): { source: BpftraceSource; ctx: TestSourceContext } {
  const ctx = testSourceContext({ type: 'bpftrace' });
  const issues: Issue[] = [];
  const config = schema.parse({ fill_zeros: false, ...options }, [], issues);
  assert.deepEqual(issues, []);
  return { source: new BpftraceSource(config as BpftraceConfig, ctx), ctx };
}

/**
 * The last block of each map (and key) the source emitted, as the sum of its buckets. Blocks
 * of one print share a timestamp and come in one batch: the last batch holding a series wins.
 */
function lastSums(ctx: TestSourceContext): Map<string, number> {
  const sums = new Map<string, number>();
  for (const batch of ctx.batches) {
    const inBatch = new Map<string, number>();
    for (const m of batch as readonly GaugeMetric[]) {
      // Text prints a composite key `0, a b`, JSON `0,a b`.
      const id = `${m.name}[${(getTag(m.tags, 'key') ?? '').replace(', ', ',')}]`;
      inBatch.set(id, (inBatch.get(id) ?? 0) + m.value);
    }
    for (const [id, sum] of inBatch) sums.set(id, sum);
  }
  return sums;
}

/** @h and @l, and @k over its keys, each add up to `events`. */
function assertCounts(ctx: TestSourceContext, events: number, allRows = true): void {
  const sums = lastSums(ctx);
  assert.equal(sums.get('h[]'), events, `@h: ${JSON.stringify([...sums])}`);
  assert.equal(sums.get('l[]'), events, `@l: ${JSON.stringify([...sums])}`);
  const k = [...sums].filter(([id]) => id.startsWith('k['));
  assert.deepEqual(k.map(([id]) => id).sort(), ['k[0,a b]', 'k[1,a b]', 'k[2,a b]']);
  assert.equal(
    k.reduce((n, [, s]) => n + s, 0),
    events,
  );
  assert.equal(ctx.stats.total('blocks_rejected'), 0);
  if (!allRows) return;
  // Every kind of row came through: open buckets, single values, suffixed bounds.
  const buckets = new Set(ctx.metrics().map((m) => `${m.name}:${getTag(m.tags, 'bucket')}`));
  for (const b of [
    'h:-inf',
    'h:1024',
    'h:2048',
    'l:-inf',
    'l:0',
    'l:250',
    'k:-inf',
    'k:0',
    'k:1',
    'k:2',
    'k:4',
  ]) {
    assert.ok(buckets.has(b), `${b} in ${[...buckets].join(' ')}`);
  }
}

describe('bpftrace source with a live bpftrace', { skip, timeout: 120_000 }, () => {
  it('file mode: follows bpftrace -o FILE through a truncation, to the count it printed', async () => {
    const file = path.join(dir, 'cpu-lat.log');
    const { source, ctx } = start({ file, poll_interval: '20ms' });
    await source.start();
    try {
      const bt = startProcess('bpftrace', ['-o', file, path.join(dir, 'limited.bt')], { cwd: dir });
      // A copytruncate while bpftrace writes: the maps are cumulative, so the final print
      // still holds every event.
      await waitFor(() => (ctx.metrics().length > 0 ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 20,
        what: 'a first block',
        failIf: () => bt.diedReason(),
      });
      truncateSync(file, 0);
      const exit = await bt.wait(30_000);
      assert.equal(exit.code, 0, exit.stderr);
      const printed = /^@n: (\d+)$/m.exec(readFileSync(file, 'utf8'));
      assert.ok(printed !== null, 'bpftrace printed @n');
      const n = Number(printed[1]);
      assert.equal(n, EVENTS);
      await waitFor(
        () => (lastSums(ctx).get('h[]') === n && lastSums(ctx).get('l[]') === n ? true : undefined),
        {
          timeoutMs: 10_000,
          intervalMs: 20,
          what: 'the blocks printed at exit',
          describe: () => JSON.stringify([...lastSums(ctx)]),
        },
      );
      await new Promise((r) => setTimeout(r, 100));
      assertCounts(ctx, n);
    } finally {
      await source.stop();
    }
  });

  for (const format of ['text', 'json'] as const) {
    it(`command mode (${format}): reads bpftrace's stdout to its exit, and reports the exit`, async () => {
      const args = format === 'json' ? ['-f', 'json'] : [];
      const { source, ctx } = start({
        mode: 'command',
        format,
        command: ['bpftrace', ...args, path.join(dir, 'limited.bt')],
      });
      await source.start();
      try {
        await waitFor(() => (ctx.failures.length > 0 ? true : undefined), {
          timeoutMs: 30_000,
          intervalMs: 20,
          what: 'bpftrace to exit',
        });
        assert.match(String(ctx.failures[0]), /bpftrace exited with code 0/);
        assertCounts(ctx, EVENTS);
        // Several prints were read on the way, not only the one at exit.
        assert.ok(ctx.batches.length >= 3, `${ctx.batches.length} batches`);
      } finally {
        await source.stop();
      }
    });
  }

  it('command mode: stop sends SIGINT, and the maps bpftrace prints then are emitted', async () => {
    const { source, ctx } = start({ mode: 'command', command: ['bpftrace', path.join(dir, 'endless.bt')] });
    await source.start();
    try {
      await waitFor(() => (ctx.batches.length >= 2 ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 20,
        what: 'two prints',
      });
    } finally {
      await source.stop();
    }
    assert.deepEqual(ctx.failures, []);
    // The exit print is one snapshot: the three maps count the same events.
    const sums = lastSums(ctx);
    const n = sums.get('h[]') ?? 0;
    assert.ok(n > 0);
    assertCounts(ctx, n, false);
  });
});
