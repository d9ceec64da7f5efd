import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../../core/clock.js';
import type { Issue } from '../../config/schema.js';
import type { Metric } from '../../core/metric.js';
import { findMetric, recordingLogger, testSourceContext } from '../../testing/context.js';
import type { FsUsage } from './metrics.js';
import { schema, type LinuxConfig } from './schema.js';
import { LinuxSource, type StatfsFn } from './source.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** A file of the repository; tests run compiled, from dist/ or another outDir. */
function repoPath(rel: string): string {
  const candidates = [path.resolve(here, '../../..', rel), path.resolve(rel)];
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined) throw new Error(`${rel} not found; tried ${candidates.join(', ')}`);
  return found;
}

const testdata = (name: string): string => path.join(repoPath('src/sources/linux/testdata'), name);

function config(overrides: Record<string, unknown> = {}): LinuxConfig {
  const issues: Issue[] = [];
  const parsed = schema.parse(overrides, [], issues);
  assert.deepEqual(issues, []);
  return parsed as LinuxConfig;
}

function usage(blocks: number, bfree: number, bavail: number, bsize = 4096): FsUsage {
  return { bsize, blocks, bfree, bavail };
}

function errno(code: string): Error {
  return Object.assign(new Error(`${code}: statfs failed`), { code });
}

/** A statfs that answers from a table keyed by path under `root`, and records what it was asked. */
function fakeStatfs(root: string, table: Record<string, FsUsage | Error>): StatfsFn & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (p: string): Promise<FsUsage> => {
    const rel = root === '/' ? p : '/' + path.relative(root, p);
    calls.push(rel);
    const r = table[rel];
    if (r === undefined) throw errno('ENOENT');
    if (r instanceof Error) throw r;
    return r;
  };
  return Object.assign(fn, { calls });
}

/** The metric without its help text, which is checked separately (present on every metric). */
function whole(
  metrics: readonly Metric[],
  name: string,
  tags: Record<string, string> = {},
): Omit<Metric, 'help'> {
  const { help, ...rest } = findMetric(metrics, name, tags);
  assert.ok(typeof help === 'string' && help.length > 0, `${name} has help`);
  return rest;
}

function valueOf(metrics: readonly Metric[], name: string, tags: Record<string, string> = {}): number {
  const m = findMetric(metrics, name, tags);
  assert.ok(m.kind === 'counter' || m.kind === 'gauge');
  return m.value;
}

function names(metrics: readonly Metric[], name: string, tag: string): string[] {
  return metrics.filter((m) => m.name === name).map((m) => m.tags.find((t) => t[0] === tag)?.[1] ?? '');
}

/** What every metric of this source must satisfy, whatever the input. */
function assertWellFormed(metrics: readonly Metric[], timestamp: number): void {
  for (const m of metrics) {
    const where = `${m.name}${JSON.stringify(m.tags)}`;
    assert.ok(m.name.startsWith('system_'), where);
    assert.equal(m.timestamp, timestamp, where);
    assert.ok(typeof m.help === 'string' && m.help.length > 0, where);
    assert.ok(m.kind === 'counter' || m.kind === 'gauge', where);
    assert.ok(Number.isFinite(m.value) && m.value >= 0, where);
    if (m.kind === 'counter') assert.deepEqual([m.temporality, m.intervalMs], ['cumulative', 0], where);
    for (let i = 1; i < m.tags.length; i++) {
      assert.ok(
        (m.tags[i - 1] as readonly string[])[0]! < (m.tags[i] as readonly string[])[0]!,
        `sorted: ${where}`,
      );
    }
    assert.ok(!m.tags.some((t) => t[0] === 'host'), `no host tag: ${where}`);
  }
  const keys = metrics.map((m) => `${m.name}${JSON.stringify(m.tags)}`);
  assert.equal(new Set(keys).size, keys.length, 'no duplicate series');
}

const T = 1_700_000_000_000;

describe("linux source on this machine's saved /proc (kernel 6.18)", async () => {
  const root = testdata('vm-6.18');
  const statfs = fakeStatfs(root, {
    '/': usage(1000, 600, 500),
    '/dev/shm': usage(200, 200, 200),
    '/sys/fs/cgroup': usage(0, 0, 0),
  });
  const ctx = testSourceContext({ clock: new ManualClock(T), type: 'linux' });
  const source = new LinuxSource(config({ root }), ctx, { statfs });
  const metrics = await source.collect();

  it('reports every group, well formed', () => {
    assertWellFormed(metrics, T);
    // 3 cpu lines x 8 states, 5 load, 9 memory, 2 filesystems x 4, 2 disks x 7, 4 interfaces x 8.
    assert.equal(metrics.length, 24 + 5 + 9 + 8 + 14 + 32);
    assert.equal(ctx.stats.total('read_errors') + ctx.stats.total('malformed_lines'), 0);
  });

  it('reports CPU time in seconds, per CPU and in total', () => {
    assert.deepEqual(whole(metrics, 'system_cpu_seconds', { cpu: 'total', state: 'user' }), {
      kind: 'counter',
      temporality: 'cumulative',
      name: 'system_cpu_seconds',
      tags: [
        ['cpu', 'total'],
        ['state', 'user'],
      ],
      value: 145.02,
      intervalMs: 0,
      timestamp: T,
    });
    assert.equal(valueOf(metrics, 'system_cpu_seconds', { cpu: '1', state: 'steal' }), 1.99);
    assert.deepEqual(names(metrics, 'system_cpu_seconds', 'state').slice(0, 8), [
      'user',
      'nice',
      'system',
      'idle',
      'iowait',
      'irq',
      'softirq',
      'steal',
    ]);
  });

  it('reports load and threads', () => {
    assert.deepEqual(whole(metrics, 'system_load1'), {
      kind: 'gauge',
      name: 'system_load1',
      tags: [],
      value: 1.62,
      timestamp: T,
    });
    assert.equal(valueOf(metrics, 'system_load15'), 0.29);
    assert.equal(valueOf(metrics, 'system_threads'), 150);
    assert.equal(valueOf(metrics, 'system_threads_runnable'), 3);
  });

  it('reports memory in bytes, the states adding up to the total', () => {
    const KiB = 1024;
    assert.deepEqual(whole(metrics, 'system_memory_bytes', { state: 'used' }), {
      kind: 'gauge',
      name: 'system_memory_bytes',
      tags: [['state', 'used']],
      value: (24731708 - 22422844 - 55324 - 1795336 - 100488) * KiB,
      timestamp: T,
    });
    const total = valueOf(metrics, 'system_memory_total_bytes');
    assert.equal(total, 24731708 * KiB);
    const sum = metrics
      .filter((m) => m.name === 'system_memory_bytes')
      .reduce((a, m) => a + (m.kind === 'counter' || m.kind === 'gauge' ? m.value : NaN), 0);
    assert.equal(sum, total);
    assert.equal(valueOf(metrics, 'system_memory_available_bytes'), 24104116 * KiB);
    assert.equal(valueOf(metrics, 'system_swap_bytes', { state: 'used' }), 0);
  });

  it('statfs()es each real mount point once, under root', () => {
    // /dev/shm and /dev/pts are listed twice; proc, sysfs, devtmpfs, devpts, cgroup are excluded.
    assert.deepEqual(statfs.calls, ['/dev/shm', '/', '/sys/fs/cgroup']);
    assert.deepEqual(names(metrics, 'system_filesystem_size_bytes', 'mountpoint'), ['/dev/shm', '/']);
  });

  it('reports filesystem space in bytes, the states adding up to the size', () => {
    const tags = { device: '/dev/vda', fstype: 'ext4', mountpoint: '/' };
    assert.deepEqual(whole(metrics, 'system_filesystem_bytes', { ...tags, state: 'reserved' }), {
      kind: 'gauge',
      name: 'system_filesystem_bytes',
      tags: [
        ['device', '/dev/vda'],
        ['fstype', 'ext4'],
        ['mountpoint', '/'],
        ['state', 'reserved'],
      ],
      value: 100 * 4096,
      timestamp: T,
    });
    assert.equal(valueOf(metrics, 'system_filesystem_size_bytes', tags), 1000 * 4096);
    assert.equal(valueOf(metrics, 'system_filesystem_bytes', { ...tags, state: 'used' }), 400 * 4096);
    assert.equal(valueOf(metrics, 'system_filesystem_bytes', { ...tags, state: 'free' }), 500 * 4096);
  });

  it('reports disk I/O in operations, bytes and seconds, without loop devices', () => {
    assert.deepEqual([...new Set(names(metrics, 'system_disk_operations', 'device'))], ['vda', 'zram0']);
    assert.deepEqual(whole(metrics, 'system_disk_bytes', { device: 'vda', direction: 'read' }), {
      kind: 'counter',
      temporality: 'cumulative',
      name: 'system_disk_bytes',
      tags: [
        ['device', 'vda'],
        ['direction', 'read'],
      ],
      value: 1657442 * 512,
      intervalMs: 0,
      timestamp: T,
    });
    assert.equal(valueOf(metrics, 'system_disk_bytes', { device: 'vda', direction: 'write' }), 2174552 * 512);
    assert.equal(valueOf(metrics, 'system_disk_operations', { device: 'vda', direction: 'write' }), 9231);
    assert.equal(
      valueOf(metrics, 'system_disk_operation_seconds', { device: 'vda', direction: 'read' }),
      5.567,
    );
    assert.equal(valueOf(metrics, 'system_disk_io_seconds', { device: 'vda' }), 4.268);
  });

  it('reports network interface counters', () => {
    assert.deepEqual(whole(metrics, 'system_network_bytes', { interface: 'eth0', direction: 'receive' }), {
      kind: 'counter',
      temporality: 'cumulative',
      name: 'system_network_bytes',
      tags: [
        ['direction', 'receive'],
        ['interface', 'eth0'],
      ],
      value: 345005511,
      intervalMs: 0,
      timestamp: T,
    });
    assert.equal(
      valueOf(metrics, 'system_network_packets', { interface: 'eth0', direction: 'transmit' }),
      7041,
    );
    assert.equal(valueOf(metrics, 'system_network_dropped', { interface: 'lo', direction: 'receive' }), 0);
    assert.deepEqual(
      [...new Set(names(metrics, 'system_network_errors', 'interface'))],
      ['lo', 'ifb0', 'ifb1', 'eth0'],
    );
  });
});

describe('linux source on an old kernel (2.6.18)', async () => {
  const root = testdata('kernel-2.6.18');
  const statfs = fakeStatfs(root, {
    '/': usage(10_000, 4000, 3500, 1024),
    '/dev': usage(100, 100, 100),
    '/dev/shm': usage(100, 90, 90),
    '/proc/bus/usb': usage(0, 0, 0),
    '/boot': usage(100, 50, 45),
    '/home': errno('ESTALE'),
    '/srv/my data': usage(10, 5, 5),
  });
  const { log, lines } = recordingLogger();
  const ctx = testSourceContext({ clock: new ManualClock(T), type: 'linux', log });
  const source = new LinuxSource(config({ root }), ctx, { statfs });
  const metrics = await source.collect();

  it('reports what the old formats hold, well formed', () => {
    assertWellFormed(metrics, T);
    assert.equal(ctx.stats.total('read_errors') + ctx.stats.total('malformed_lines'), 0);
  });

  it('has no steal time where /proc/stat has no steal column', () => {
    assert.equal(metrics.filter((m) => m.name === 'system_cpu_seconds').length, 3 * 7);
    assert.equal(names(metrics, 'system_cpu_seconds', 'state').indexOf('steal'), -1);
    assert.equal(valueOf(metrics, 'system_cpu_seconds', { cpu: '0', state: 'softirq' }), 4.38);
  });

  it('has no available memory without MemAvailable, and cached without SReclaimable', () => {
    assert.equal(metrics.filter((m) => m.name === 'system_memory_available_bytes').length, 0);
    assert.equal(valueOf(metrics, 'system_memory_bytes', { state: 'cached' }), 2998912 * 1024);
    assert.equal(valueOf(metrics, 'system_swap_bytes', { state: 'used' }), 272 * 1024);
    assert.equal(valueOf(metrics, 'system_swap_total_bytes'), 2096472 * 1024);
  });

  it('reads /proc/mounts when there is no proc/1 or proc/self, keeping the top mount of "/"', () => {
    assert.deepEqual(whole(metrics, 'system_filesystem_size_bytes', { mountpoint: '/' }), {
      kind: 'gauge',
      name: 'system_filesystem_size_bytes',
      tags: [
        ['device', '/dev/root'],
        ['fstype', 'ext3'],
        ['mountpoint', '/'],
      ],
      value: 10_000 * 1024,
      timestamp: T,
    });
    assert.deepEqual(names(metrics, 'system_filesystem_size_bytes', 'mountpoint'), [
      '/',
      '/dev',
      '/boot',
      '/dev/shm',
      '/srv/my data',
    ]);
  });

  it('skips and counts a mount whose statfs fails, and one with no blocks silently', () => {
    assert.equal(
      metrics.filter((m) => m.tags.some((t) => t[1] === '/home' || t[1] === '/proc/bus/usb')).length,
      0,
    );
    assert.equal(ctx.stats.counter('filesystems_skipped', '', { reason: 'ESTALE' }).value, 1);
    assert.equal(ctx.stats.total('filesystems_skipped'), 1);
    const warn = lines.find((l) => l.level === 'warn');
    assert.equal(warn?.mountpoint, '/home');
    assert.equal(warn?.reason, 'ESTALE');
  });

  it('reads partitions in the pre-2.6.25 four-column format', () => {
    assert.deepEqual(
      [...new Set(names(metrics, 'system_disk_operations', 'device'))],
      ['sda', 'sda1', 'sda2', 'dm-0'],
    );
    assert.equal(valueOf(metrics, 'system_disk_bytes', { device: 'sda1', direction: 'read' }), 2080 * 512);
    assert.equal(
      metrics.filter((m) => m.tags.some((t) => t[1] === 'sda1') && m.name.endsWith('_seconds')).length,
      0,
    );
    assert.equal(valueOf(metrics, 'system_disk_io_seconds', { device: 'sda' }), 13187.009);
  });

  it('reads interfaces whose counters touch the colon', () => {
    assert.equal(
      valueOf(metrics, 'system_network_bytes', { interface: 'eth0', direction: 'receive' }),
      1735437436,
    );
    assert.equal(valueOf(metrics, 'system_network_errors', { interface: 'eth0', direction: 'receive' }), 3);
    assert.equal(valueOf(metrics, 'system_network_dropped', { interface: 'eth0', direction: 'transmit' }), 2);
  });
});

describe('linux source with missing files', () => {
  it('reports what it can, counts each missing file, and warns once per file', async () => {
    const { log, lines } = recordingLogger();
    const ctx = testSourceContext({ clock: new ManualClock(T), type: 'linux', log });
    const source = new LinuxSource(config({ root: testdata('missing-files') }), ctx, {
      statfs: fakeStatfs('/', {}),
    });
    const first = await source.collect();
    const second = await source.collect();
    assertWellFormed(first, T);
    assert.deepEqual(first, second);
    assert.deepEqual(
      [...new Set(first.map((m) => m.name))],
      [
        'system_load1',
        'system_load5',
        'system_load15',
        'system_threads',
        'system_threads_runnable',
        'system_memory_total_bytes',
        'system_memory_available_bytes',
        'system_memory_bytes',
        'system_swap_total_bytes',
        'system_swap_bytes',
      ],
    );
    for (const file of ['proc/stat', 'proc/diskstats', 'proc/1/net/dev', 'proc/1/mounts']) {
      assert.equal(ctx.stats.counter('read_errors', '', { file }).value, 2, file);
    }
    assert.equal(ctx.stats.total('read_errors'), 8);
    assert.equal(lines.filter((l) => l.level === 'warn').length, 4);
    assert.equal(lines.filter((l) => l.level === 'debug').length, 4);
  });

  it('returns an empty batch, not a rejection, when root holds nothing', async () => {
    const ctx = testSourceContext({ type: 'linux' });
    const source = new LinuxSource(config({ root: path.join(here, 'no-such-dir') }), ctx);
    assert.deepEqual(await source.collect(), []);
    assert.equal(ctx.stats.total('read_errors'), 6);
  });

  it('counts malformed lines per file and reports the good ones', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'sluice-linux-'));
    try {
      await mkdir(path.join(root, 'proc'));
      await writeFile(path.join(root, 'proc', 'stat'), 'cpu 100 0 50 900\ncpuX 1 2\ncpu0 1 two 3\n');
      await writeFile(path.join(root, 'proc', 'loadavg'), 'busy\n');
      const { log, lines } = recordingLogger();
      const ctx = testSourceContext({ clock: new ManualClock(T), type: 'linux', log });
      const source = new LinuxSource(config({ root, collectors: ['cpu', 'load'] }), ctx);
      const metrics = await source.collect();
      await source.collect();
      assertWellFormed(metrics, T);
      assert.equal(ctx.stats.counter('malformed_lines', '', { file: 'proc/stat' }).value, 4);
      assert.equal(ctx.stats.counter('malformed_lines', '', { file: 'proc/loadavg' }).value, 2);
      assert.equal(valueOf(metrics, 'system_cpu_seconds', { cpu: 'total', state: 'idle' }), 9);
      assert.equal(valueOf(metrics, 'system_cpu_seconds', { cpu: '0', state: 'system' }), 0.03);
      assert.equal(metrics.filter((m) => m.name.startsWith('system_load')).length, 0);
      assert.deepEqual(
        lines.filter((l) => l.level === 'warn').map((l) => l.file),
        ['proc/stat', 'proc/loadavg'],
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('linux source options', () => {
  it('reads only the enabled collectors', async () => {
    const statfs = fakeStatfs('/', {});
    const ctx = testSourceContext({ clock: new ManualClock(T), type: 'linux' });
    const source = new LinuxSource(config({ root: testdata('vm-6.18'), collectors: ['load'] }), ctx, {
      statfs,
    });
    const metrics = await source.collect();
    assert.deepEqual(
      metrics.map((m) => m.name),
      ['system_load1', 'system_load5', 'system_load15', 'system_threads', 'system_threads_runnable'],
    );
    assert.deepEqual(statfs.calls, []);
  });

  it('applies include and exclude filters', async () => {
    const root = testdata('vm-6.18');
    const statfs = fakeStatfs(root, { '/': usage(10, 5, 5), '/dev/shm': usage(10, 5, 5) });
    const ctx = testSourceContext({ type: 'linux' });
    const source = new LinuxSource(
      config({
        root,
        exclude_filesystem_types: [],
        include_mount_points: '^/(dev/shm)?$',
        exclude_mount_points: 'shm',
        exclude_disks: '',
        include_disks: '^loop[0-2]$',
        include_interfaces: '^(eth|ifb)',
        exclude_interfaces: 'ifb1',
      }),
      ctx,
      { statfs },
    );
    const metrics = await source.collect();
    assert.deepEqual(statfs.calls, ['/']);
    assert.deepEqual(
      [...new Set(names(metrics, 'system_disk_operations', 'device'))],
      ['loop0', 'loop1', 'loop2'],
    );
    assert.deepEqual([...new Set(names(metrics, 'system_network_bytes', 'interface'))], ['ifb0', 'eth0']);
  });

  it('gives up on a statfs that hangs, and does not ask that mount again until it returns', async () => {
    const root = testdata('vm-6.18');
    let release: (u: FsUsage) => void = () => {};
    let hangs = true;
    const calls: string[] = [];
    const statfs: StatfsFn = (p) => {
      calls.push(p);
      if (p === path.join(root, '/') && hangs) {
        hangs = false;
        return new Promise((resolve) => {
          release = resolve;
        });
      }
      return Promise.resolve(usage(10, 5, 5));
    };
    const ctx = testSourceContext({ type: 'linux' });
    const source = new LinuxSource(
      config({ root, collectors: ['filesystem'], statfs_timeout: '1ms', include_mount_points: '^/$' }),
      ctx,
      { statfs },
    );
    assert.deepEqual(await source.collect(), []);
    assert.equal(ctx.stats.counter('filesystems_skipped', '', { reason: 'timeout' }).value, 1);
    assert.deepEqual(await source.collect(), []);
    assert.equal(ctx.stats.counter('filesystems_skipped', '', { reason: 'stuck' }).value, 1);
    assert.equal(calls.length, 1);
    release(usage(10, 5, 5));
    await new Promise((resolve) => setImmediate(resolve));
    const metrics = await source.collect();
    assert.equal(calls.length, 2);
    assert.deepEqual(names(metrics, 'system_filesystem_size_bytes', 'mountpoint'), ['/']);
  });

  it("under another root, reads the host's mounts and interfaces through PID 1", async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'sluice-linux-'));
    try {
      const header = 'Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n';
      const files: Record<string, string> = {
        'proc/1/mounts': '/dev/sdb1 /data ext4 rw 0 0\n',
        'proc/self/mounts': '/dev/sda1 / ext4 rw 0 0\n',
        'proc/1/net/dev': header + '  eth9: 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0\n',
        'proc/net/dev': header + '  eth0: 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0\n',
      };
      for (const [file, text] of Object.entries(files)) {
        await mkdir(path.dirname(path.join(root, file)), { recursive: true });
        await writeFile(path.join(root, file), text);
      }
      const statfs = fakeStatfs(root, { '/data': usage(10, 5, 5) });
      const ctx = testSourceContext({ type: 'linux' });
      const source = new LinuxSource(config({ root, collectors: ['filesystem', 'network'] }), ctx, {
        statfs,
      });
      const metrics = await source.collect();
      assert.deepEqual(statfs.calls, ['/data']);
      assert.deepEqual([...new Set(names(metrics, 'system_network_bytes', 'interface'))], ['eth9']);
      assert.equal(valueOf(metrics, 'system_network_bytes', { direction: 'transmit' }), 3);
      assert.equal(ctx.stats.total('read_errors'), 0);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('survives a statfs that throws instead of rejecting', async () => {
    const ctx = testSourceContext({ type: 'linux' });
    const statfs: StatfsFn = () => {
      throw errno('EPERM');
    };
    const source = new LinuxSource(config({ root: testdata('vm-6.18'), collectors: ['filesystem'] }), ctx, {
      statfs,
    });
    assert.deepEqual(await source.collect(), []);
    assert.equal(ctx.stats.counter('filesystems_skipped', '', { reason: 'EPERM' }).value, 3);
  });
});

describe("linux source on this machine's live /proc", () => {
  it('reports CPU time and memory', async () => {
    const clock = new ManualClock(T);
    const ctx = testSourceContext({ clock, type: 'linux' });
    const source = new LinuxSource(config(), ctx);
    const metrics = await source.collect();
    assertWellFormed(metrics, T);
    const total = metrics.filter(
      (m) => m.name === 'system_cpu_seconds' && m.tags.some((t) => t[0] === 'cpu' && t[1] === 'total'),
    );
    assert.ok(total.length >= 4, 'at least user, nice, system, idle');
    assert.ok(
      total.reduce((a, m) => a + (m.kind === 'counter' || m.kind === 'gauge' ? m.value : NaN), 0) > 0,
    );
    assert.ok(valueOf(metrics, 'system_memory_total_bytes') > 0);
    assert.equal(ctx.stats.total('read_errors'), 0);
  });
});

describe('linux docs', () => {
  it('document every metric the source emits, and embed the sample config', async () => {
    const emitted = new Set<string>();
    for (const name of ['vm-6.18', 'kernel-2.6.18']) {
      const root = testdata(name);
      const statfs = fakeStatfs(root, { '/': usage(10, 5, 5) });
      const source = new LinuxSource(config({ root }), testSourceContext({ type: 'linux' }), { statfs });
      for (const m of await source.collect()) emitted.add(m.name);
    }
    assert.equal(emitted.size, 21);
    const { sample } = await import('./schema.js');
    for (const doc of ['src/sources/linux/README.md', 'docs/sources/linux.md']) {
      const text = readFileSync(repoPath(doc), 'utf8');
      for (const name of emitted) assert.ok(text.includes(`\`${name}\``), `${doc} documents ${name}`);
      if (doc.endsWith('README.md')) assert.ok(text.includes(sample), `${doc} embeds the sample`);
    }
  });
});
