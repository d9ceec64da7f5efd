import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../../core/clock.js';
import type { Issue } from '../../config/schema.js';
import type { Metric } from '../../core/metric.js';
import { findMetric, recordingLogger, testSourceContext } from '../../testing/context.js';
import { PROTOCOL_FIELDS, type FsUsage } from './metrics.js';
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

function usage(blocks: number, bfree: number, bavail: number, bsize = 4096, files = 0, ffree = 0): FsUsage {
  return { bsize, blocks, bfree, bavail, files, ffree };
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
    '/': usage(1000, 600, 500, 4096, 640, 600),
    '/dev/shm': usage(200, 200, 200),
    '/sys/fs/cgroup': usage(0, 0, 0),
  });
  const ctx = testSourceContext({ clock: new ManualClock(T), type: 'linux' });
  const source = new LinuxSource(config({ root }), ctx, { statfs });
  const metrics = await source.collect();

  it('reports every group, well formed', () => {
    assertWellFormed(metrics, T);
    // 3 cpu lines x 8 states, 7 kernel, 5 load, 9 + 16 from meminfo and 5 from vmstat,
    // 2 filesystems x 4 and inodes of one, 2 disks x 17, 4 interfaces x 8, and every protocol
    // counter this kernel prints.
    assert.equal(metrics.length, 24 + 7 + 5 + 30 + 8 + 3 + 34 + 32 + PROTOCOL_FIELDS.length);
    assert.equal(ctx.stats.total('read_errors') + ctx.stats.total('malformed_lines'), 0);
  });

  it('reports context switches, forks, interrupts, blocked threads, boot time and uptime', () => {
    assert.deepEqual(whole(metrics, 'system_context_switches'), {
      kind: 'counter',
      temporality: 'cumulative',
      name: 'system_context_switches',
      tags: [],
      value: 923850,
      intervalMs: 0,
      timestamp: T,
    });
    assert.equal(valueOf(metrics, 'system_forks'), 8129);
    assert.equal(valueOf(metrics, 'system_interrupts'), 506400);
    assert.equal(valueOf(metrics, 'system_softirqs'), 9498022);
    assert.equal(findMetric(metrics, 'system_threads_blocked').kind, 'gauge');
    assert.equal(valueOf(metrics, 'system_threads_blocked'), 0);
    assert.equal(valueOf(metrics, 'system_boot_time_seconds'), 1795304983);
    assert.equal(valueOf(metrics, 'system_uptime_seconds'), 9128.26);
  });

  it('reports memory detail from meminfo and paging from vmstat', () => {
    const KiB = 1024;
    assert.equal(valueOf(metrics, 'system_memory_shared_bytes'), 8856 * KiB);
    assert.equal(valueOf(metrics, 'system_memory_slab_bytes', { state: 'unreclaimable' }), 27076 * KiB);
    assert.equal(valueOf(metrics, 'system_memory_dirty_bytes'), 10516 * KiB);
    assert.equal(valueOf(metrics, 'system_memory_committed_bytes'), 439428 * KiB);
    assert.equal(valueOf(metrics, 'system_memory_hugepage_size_bytes'), 2048 * KiB);
    assert.equal(valueOf(metrics, 'system_memory_hugepages', { state: 'used' }), 0);
    assert.deepEqual(whole(metrics, 'system_page_faults'), {
      kind: 'counter',
      temporality: 'cumulative',
      name: 'system_page_faults',
      tags: [],
      value: 110512102,
      intervalMs: 0,
      timestamp: T,
    });
    assert.equal(valueOf(metrics, 'system_page_faults_major'), 827);
    assert.equal(valueOf(metrics, 'system_swap_pages', { direction: 'out' }), 0);
    assert.equal(valueOf(metrics, 'system_oom_kills'), 0);
  });

  it('reports inodes where the filesystem has an inode table', () => {
    const tags = { device: '/dev/vda', fstype: 'ext4', mountpoint: '/' };
    assert.equal(valueOf(metrics, 'system_filesystem_inodes_size', tags), 640);
    assert.equal(valueOf(metrics, 'system_filesystem_inodes', { ...tags, state: 'used' }), 40);
    assert.equal(valueOf(metrics, 'system_filesystem_inodes', { ...tags, state: 'free' }), 600);
    assert.deepEqual(names(metrics, 'system_filesystem_inodes_size', 'mountpoint'), ['/']);
  });

  it('reports every iostats field of a 20-field line', () => {
    const vda = { device: 'vda' };
    assert.equal(valueOf(metrics, 'system_disk_merged_operations', { ...vda, direction: 'write' }), 17262);
    assert.equal(valueOf(metrics, 'system_disk_io_weighted_seconds', vda), 10.928);
    assert.equal(findMetric(metrics, 'system_disk_io_in_progress', vda).kind, 'gauge');
    assert.equal(valueOf(metrics, 'system_disk_discard_operations', vda), 3910);
    assert.equal(valueOf(metrics, 'system_disk_discard_merged_operations', vda), 9);
    assert.equal(valueOf(metrics, 'system_disk_discard_bytes', vda), 213096 * 512);
    assert.equal(valueOf(metrics, 'system_disk_discard_operation_seconds', vda), 0.259);
    assert.equal(valueOf(metrics, 'system_disk_flush_operations', vda), 564);
    assert.equal(valueOf(metrics, 'system_disk_flush_operation_seconds', vda), 0.012);
  });

  it('reports IP, ICMP, TCP and UDP counters, UDP receive buffer errors included', () => {
    assert.deepEqual(whole(metrics, 'system_udp_buffer_errors', { direction: 'receive' }), {
      kind: 'counter',
      temporality: 'cumulative',
      name: 'system_udp_buffer_errors',
      tags: [['direction', 'receive']],
      value: 48221974,
      intervalMs: 0,
      timestamp: T,
    });
    assert.equal(valueOf(metrics, 'system_udp_receive_errors'), 48221974);
    assert.equal(valueOf(metrics, 'system_udp_no_port_datagrams'), 1);
    assert.equal(valueOf(metrics, 'system_ip_packets', { direction: 'receive' }), 105500193);
    assert.equal(valueOf(metrics, 'system_ip_bytes', { direction: 'receive' }), 42621100620);
    assert.equal(valueOf(metrics, 'system_ip_forwarding'), 0);
    assert.equal(valueOf(metrics, 'system_icmp_destination_unreachable', { direction: 'transmit' }), 1);
    assert.equal(valueOf(metrics, 'system_tcp_retransmitted_segments'), 78);
    assert.equal(valueOf(metrics, 'system_tcp_keepalives'), 2687);
    assert.deepEqual(whole(metrics, 'system_tcp_established'), {
      kind: 'gauge',
      name: 'system_tcp_established',
      tags: [],
      value: 6,
      timestamp: T,
    });
    assert.equal(valueOf(metrics, 'system_tcp_aborts', { reason: 'close' }), 0);
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
  // No saved /proc/net/snmp or netstat from this kernel: the protocols collector is left out.
  const collectors = ['cpu', 'kernel', 'load', 'memory', 'filesystem', 'disk', 'network'];
  const source = new LinuxSource(config({ root, collectors }), ctx, { statfs });
  const metrics = await source.collect();

  it('reports what the old formats hold, well formed', () => {
    assertWellFormed(metrics, T);
    assert.equal(ctx.stats.total('read_errors') + ctx.stats.total('malformed_lines'), 0);
  });

  it('has no softirq total, OOM kill count or slab split on a kernel that lacks them', () => {
    assert.equal(valueOf(metrics, 'system_context_switches'), 1990473);
    assert.equal(valueOf(metrics, 'system_boot_time_seconds'), 1062191376);
    assert.equal(valueOf(metrics, 'system_uptime_seconds'), 113185.08);
    assert.equal(valueOf(metrics, 'system_swap_pages', { direction: 'in' }), 12);
    for (const name of ['system_softirqs', 'system_oom_kills', 'system_memory_slab_bytes']) {
      assert.equal(metrics.filter((m) => m.name === name).length, 0, name);
    }
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

describe('linux source on kernel 3.10 (fields that came later are missing)', async () => {
  const root = testdata('kernel-3.10');
  const statfs = fakeStatfs(root, {
    '/': usage(13_100_000, 9_000_000, 9_000_000, 4096, 26_214_400, 26_000_000),
    '/boot': usage(127_000, 80_000, 80_000, 4096, 512_000, 511_600),
    '/home': usage(50_000_000, 20_000_000, 20_000_000, 4096, 0, 0),
    '/dev/shm': usage(2_033_420, 2_033_420, 2_033_420, 4096, 2_033_420, 2_033_419),
    '/run': usage(2_033_420, 2_031_000, 2_031_000, 4096, 2_033_420, 2_032_900),
    '/sys/fs/cgroup': usage(2_033_420, 2_033_420, 2_033_420, 4096, 2_033_420, 2_033_407),
    '/var/lib/docker/overlay2': usage(13_100_000, 9_000_000, 9_000_000, 4096, 26_214_400, 26_000_000),
  });
  const ctx = testSourceContext({ clock: new ManualClock(T), type: 'linux' });
  const source = new LinuxSource(config({ root }), ctx, { statfs });
  const metrics = await source.collect();
  const absent = (name: string, tags: Record<string, string> = {}): boolean =>
    !metrics.some(
      (m) =>
        m.name === name &&
        Object.entries(tags).every(([k, v]) => m.tags.some((t) => t[0] === k && t[1] === v)),
    );

  it('reads every file, well formed', () => {
    assertWellFormed(metrics, T);
    assert.equal(ctx.stats.total('read_errors') + ctx.stats.total('malformed_lines'), 0);
  });

  it('reports the protocol counters this kernel has, and not the others', () => {
    assert.equal(valueOf(metrics, 'system_udp_buffer_errors', { direction: 'receive' }), 77118);
    assert.equal(valueOf(metrics, 'system_udp_checksum_errors'), 2);
    assert.equal(valueOf(metrics, 'system_ip_forwarding'), 1);
    assert.equal(valueOf(metrics, 'system_ip_forwarded_packets'), 41002301);
    assert.equal(valueOf(metrics, 'system_ip_bytes', { direction: 'transmit' }), 880120339012);
    assert.equal(valueOf(metrics, 'system_tcp_listen_overflows'), 5120);
    assert.equal(valueOf(metrics, 'system_tcp_syncookies_failed'), 13);
    assert.equal(valueOf(metrics, 'system_icmp_echo_replies', { direction: 'transmit' }), 2902);
    assert.equal(valueOf(metrics, 'system_tcp_established'), 213);
    for (const name of [
      'system_udp_ignored_multicast_datagrams',
      'system_udp_memory_errors',
      'system_tcp_keepalives',
      'system_tcp_receive_queue_drops',
    ]) {
      assert.ok(absent(name), name);
    }
    const reported = new Set(metrics.map((m) => `${m.name}${JSON.stringify(m.tags)}`));
    const expected = PROTOCOL_FIELDS.filter(
      (f) => !['IgnoredMulti', 'MemErrors', 'TCPKeepAlive', 'TCPRcvQDrop'].includes(f.field),
    );
    for (const f of expected) assert.ok(reported.has(`${f.name}${JSON.stringify(f.tags)}`), f.field);
  });

  it('has no MemAvailable, OOM kill count, discards or flushes before the kernels that added them', () => {
    for (const name of [
      'system_memory_available_bytes',
      'system_oom_kills',
      'system_disk_discard_operations',
      'system_disk_flush_operations',
    ]) {
      assert.ok(absent(name), name);
    }
    assert.equal(valueOf(metrics, 'system_disk_io_weighted_seconds', { device: 'sda' }), 971390.221);
    assert.equal(
      valueOf(metrics, 'system_disk_merged_operations', { device: 'sda', direction: 'read' }),
      102331,
    );
    assert.equal(valueOf(metrics, 'system_disk_io_in_progress', { device: 'dm-1' }), 0);
  });

  it('reports huge pages, swap traffic and the kernel counters', () => {
    assert.equal(valueOf(metrics, 'system_memory_hugepages', { state: 'used' }), 128);
    assert.equal(valueOf(metrics, 'system_memory_hugepages', { state: 'free' }), 384);
    assert.equal(valueOf(metrics, 'system_swap_pages', { direction: 'out' }), 57274);
    assert.equal(valueOf(metrics, 'system_page_faults'), 38811028830);
    assert.equal(valueOf(metrics, 'system_swap_cached_bytes'), 10244 * 1024);
    assert.equal(valueOf(metrics, 'system_context_switches'), 4190228731);
    assert.equal(valueOf(metrics, 'system_threads_blocked'), 1);
    assert.equal(valueOf(metrics, 'system_softirqs'), 216107702);
  });

  it('reports inodes except where the filesystem has no inode table (btrfs)', () => {
    // In mount table order; "/" comes first, from the rootfs line it was mounted over.
    assert.deepEqual(names(metrics, 'system_filesystem_inodes_size', 'mountpoint'), [
      '/',
      '/dev/shm',
      '/run',
      '/sys/fs/cgroup',
      '/boot',
      '/var/lib/docker/overlay2',
    ]);
    assert.equal(valueOf(metrics, 'system_filesystem_inodes', { mountpoint: '/boot', state: 'used' }), 400);
    assert.equal(
      valueOf(metrics, 'system_filesystem_size_bytes', { mountpoint: '/home' }),
      50_000_000 * 4096,
    );
  });

  it('reports only the included filesystem types, and applies Bucky3-style lists to all three', async () => {
    const filtered = new LinuxSource(
      config({
        root,
        collectors: ['filesystem', 'disk', 'network'],
        include_filesystem_types: ['xfs', 'overlay'],
        exclude_mount_points: '^/var/lib/docker/',
        include_disks: '^(sd[a-z]+|dm-\\d+)$',
        exclude_disks: '^dm-1$',
        exclude_interfaces: '^(lo|veth.*|docker\\d+)$',
      }),
      testSourceContext({ type: 'linux' }),
      { statfs: fakeStatfs(root, { '/': usage(10, 5, 5), '/boot': usage(10, 5, 5) }) },
    );
    const m = await filtered.collect();
    assert.deepEqual(names(m, 'system_filesystem_size_bytes', 'mountpoint'), ['/', '/boot']);
    assert.deepEqual([...new Set(names(m, 'system_disk_operations', 'device'))], ['sda', 'dm-0']);
    assert.deepEqual([...new Set(names(m, 'system_network_bytes', 'interface'))], ['eth0']);
  });
});

describe('linux source on kernel 5.4 (18-field diskstats)', () => {
  it('reports discards but no flushes, and leaves loop devices out by default', async () => {
    const ctx = testSourceContext({ clock: new ManualClock(T), type: 'linux' });
    const source = new LinuxSource(config({ root: testdata('kernel-5.4'), collectors: ['disk'] }), ctx);
    const metrics = await source.collect();
    assertWellFormed(metrics, T);
    assert.equal(ctx.stats.total('read_errors') + ctx.stats.total('malformed_lines'), 0);
    assert.deepEqual(
      [...new Set(metrics.map((m) => m.tags[0]?.[1]))],
      ['nvme0n1', 'nvme0n1p1', 'nvme0n1p2', 'dm-0'],
    );
    assert.equal(valueOf(metrics, 'system_disk_discard_bytes', { device: 'nvme0n1' }), 120334112 * 512);
    assert.equal(valueOf(metrics, 'system_disk_discard_operation_seconds', { device: 'dm-0' }), 1.401);
    assert.equal(metrics.filter((m) => m.name.startsWith('system_disk_flush')).length, 0);
    // 15 of the 17 metrics per device: everything but the two flush ones.
    assert.equal(metrics.length, 4 * 15);
  });
});

describe('linux source counters option', () => {
  async function twoCollections(
    counters: string,
    before: string,
    after: string,
  ): Promise<{ first: readonly Metric[]; second: readonly Metric[] }> {
    const root = await mkdtemp(path.join(tmpdir(), 'sluice-linux-'));
    try {
      await mkdir(path.join(root, 'proc'));
      const clock = new ManualClock(T);
      const ctx = testSourceContext({ clock, type: 'linux' });
      const source = new LinuxSource(config({ root, collectors: ['cpu', 'kernel'], counters }), ctx);
      await writeFile(path.join(root, 'proc', 'stat'), before);
      await writeFile(path.join(root, 'proc', 'uptime'), '100.00 150.00\n');
      const first = await source.collect();
      clock.advance(10_000);
      await writeFile(path.join(root, 'proc', 'stat'), after);
      await writeFile(path.join(root, 'proc', 'uptime'), '110.00 165.00\n');
      const second = await source.collect();
      return { first, second };
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }
  const before = 'cpu 1000 0 500 9000\nctxt 5000\nprocesses 70\nprocs_blocked 2\nbtime 1700000000\n';
  const after = 'cpu 1800 0 600 9100\nctxt 4000\nprocesses 90\nprocs_blocked 1\nbtime 1700000000\n';

  it('cumulative (the default) reports the running totals', async () => {
    const { first, second } = await twoCollections('cumulative', before, after);
    assert.equal(valueOf(first, 'system_forks'), 70);
    assert.equal(valueOf(second, 'system_forks'), 90);
  });

  it('delta reports the change from the second collection on, and skips a counter that went down', async () => {
    const { first, second } = await twoCollections('delta', before, after);
    assert.deepEqual(
      first.map((m) => m.name),
      ['system_threads_blocked', 'system_boot_time_seconds', 'system_uptime_seconds'],
    );
    assertWellFormedDelta(second);
    const forks = findMetric(second, 'system_forks');
    assert.deepEqual(forks.kind === 'counter' && [forks.temporality, forks.value, forks.intervalMs], [
      'delta',
      20,
      10_000,
    ]);
    assert.equal(valueOf(second, 'system_cpu_seconds', { state: 'user' }), 8);
    assert.equal(valueOf(second, 'system_cpu_seconds', { state: 'nice' }), 0);
    // ctxt went from 5000 to 4000: a reset (a reboot) is no change of -1000.
    assert.equal(second.filter((m) => m.name === 'system_context_switches').length, 0);
    assert.equal(valueOf(second, 'system_threads_blocked'), 1);
  });

  it('rate reports the change per second as a gauge named <name>_per_second', async () => {
    const { second } = await twoCollections('rate', before, after);
    const forks = findMetric(second, 'system_forks_per_second');
    assert.equal(forks.kind, 'gauge');
    assert.equal(valueOf(second, 'system_forks_per_second'), 2);
    // CPU seconds per second: the number of CPUs busy in that state.
    assert.ok(Math.abs(valueOf(second, 'system_cpu_seconds_per_second', { state: 'user' }) - 0.8) < 1e-9);
    assert.ok(findMetric(second, 'system_forks_per_second').help?.includes('Per second'));
    assert.equal(second.filter((m) => m.name.startsWith('system_context_switches')).length, 0);
    assert.equal(second.filter((m) => m.kind === 'counter').length, 0);
  });
});

function assertWellFormedDelta(metrics: readonly Metric[]): void {
  for (const m of metrics) {
    if (m.kind === 'counter') {
      assert.equal(m.temporality, 'delta');
      assert.ok(m.value >= 0 && m.intervalMs > 0);
    }
  }
}

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
        'system_memory_slab_bytes',
      ],
    );
    const missing = [
      'proc/stat',
      'proc/uptime',
      'proc/vmstat',
      'proc/diskstats',
      'proc/1/net/dev',
      'proc/1/net/snmp',
      'proc/1/net/netstat',
      'proc/1/mounts',
    ];
    for (const file of missing) {
      assert.equal(ctx.stats.counter('read_errors', '', { file }).value, 2, file);
    }
    assert.equal(ctx.stats.total('read_errors'), 2 * missing.length);
    assert.equal(lines.filter((l) => l.level === 'warn').length, missing.length);
    assert.equal(lines.filter((l) => l.level === 'debug').length, missing.length);
  });

  it('returns an empty batch, not a rejection, when root holds nothing', async () => {
    const ctx = testSourceContext({ type: 'linux' });
    const source = new LinuxSource(config({ root: path.join(here, 'no-such-dir') }), ctx);
    assert.deepEqual(await source.collect(), []);
    assert.equal(ctx.stats.total('read_errors'), 10);
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

describe("linux source on this machine's live /proc and /sys", () => {
  const counterValues = (metrics: readonly Metric[]): Map<string, number> =>
    new Map(
      metrics.flatMap((m) =>
        m.kind === 'counter' ? [[`${m.name}${JSON.stringify(m.tags)}`, m.value] as const] : [],
      ),
    );

  it('reads every file without error, with real statfs', async () => {
    const ctx = testSourceContext({ clock: new ManualClock(T), type: 'linux' });
    const metrics = await new LinuxSource(config(), ctx).collect();
    assertWellFormed(metrics, T);
    assert.equal(ctx.stats.total('read_errors'), 0);
    assert.equal(ctx.stats.total('malformed_lines'), 0);
    for (const name of [
      'system_cpu_seconds',
      'system_context_switches',
      'system_forks',
      'system_interrupts',
      'system_uptime_seconds',
      'system_memory_total_bytes',
      'system_page_faults',
      'system_filesystem_size_bytes',
      'system_disk_io_seconds',
      'system_network_bytes',
      'system_tcp_segments',
      'system_udp_datagrams',
      'system_ip_packets',
    ]) {
      assert.ok(
        metrics.some((m) => m.name === name),
        name,
      );
    }
    const total = metrics.filter(
      (m) => m.name === 'system_cpu_seconds' && m.tags.some((t) => t[0] === 'cpu' && t[1] === 'total'),
    );
    assert.ok(total.length >= 4, 'at least user, nice, system, idle');
    // The root filesystem's usage adds up, as df shows it.
    const root = metrics.filter(
      (m) => m.name === 'system_filesystem_bytes' && m.tags.some((t) => t[1] === '/'),
    );
    if (root.length === 3) {
      const sum = root.reduce((a, m) => a + (m.kind === 'gauge' ? m.value : NaN), 0);
      assert.equal(sum, valueOf(metrics, 'system_filesystem_size_bytes', { mountpoint: '/' }));
    }
  });

  it('has a boot time consistent with the uptime and the clock', async () => {
    const metrics = await new LinuxSource(config({ collectors: ['kernel'] }), testSourceContext()).collect();
    const booted = valueOf(metrics, 'system_boot_time_seconds') + valueOf(metrics, 'system_uptime_seconds');
    // btime is whole seconds; the rest is clock adjustments since boot.
    assert.ok(
      Math.abs(booted - Date.now() / 1000) < 5,
      `btime + uptime = ${booted}, now ${Date.now() / 1000}`,
    );
  });

  it('has counters that never go down between two collections', async () => {
    const source = new LinuxSource(config(), testSourceContext());
    const first = counterValues(await source.collect());
    // Some work in between, so that counters move: a fork, file reads, a context switch.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = counterValues(await source.collect());
    let compared = 0;
    let moved = 0;
    for (const [key, before] of first) {
      const after = second.get(key);
      if (after === undefined) continue;
      compared++;
      if (after > before) moved++;
      assert.ok(after >= before, `${key} went from ${before} to ${after}`);
    }
    assert.ok(compared > 50, `${compared} counters compared`);
    assert.ok(moved > 0, 'some counters moved');
  });

  it('reports the block devices of /sys/block and the interfaces of /sys/class/net', async (t) => {
    if (!existsSync('/sys/block') || !existsSync('/sys/class/net')) {
      t.skip('no /sys/block or /sys/class/net here');
      return;
    }
    const metrics = await new LinuxSource(
      config({ collectors: ['disk', 'network'], exclude_disks: '' }),
      testSourceContext(),
    ).collect();
    const disks = new Set(names(metrics, 'system_disk_operations', 'device'));
    // /sys/block names use '!' where the device name has '/' (cciss!c0d0 for cciss/c0d0).
    for (const dev of readdirSync('/sys/block')) assert.ok(disks.has(dev.replaceAll('!', '/')), dev);
    const interfaces = new Set(names(metrics, 'system_network_bytes', 'interface'));
    for (const nic of readdirSync('/sys/class/net')) {
      if (nic !== 'bonding_masters') assert.ok(interfaces.has(nic), nic);
    }
  });
});

describe('linux docs', () => {
  it('document every metric the source emits, and embed the sample config', async () => {
    const emitted = new Set<string>();
    for (const name of ['vm-6.18', 'kernel-2.6.18', 'kernel-3.10', 'kernel-5.4', 'missing-files']) {
      const root = testdata(name);
      const statfs = fakeStatfs(root, { '/': usage(10, 5, 5, 4096, 10, 5) });
      for (const counters of ['cumulative', 'rate']) {
        const source = new LinuxSource(config({ root, counters }), testSourceContext({ type: 'linux' }), {
          statfs,
        });
        await source.collect();
        for (const m of await source.collect()) emitted.add(m.name.replace(/_per_second$/, ''));
      }
    }
    for (const f of PROTOCOL_FIELDS) assert.ok(emitted.has(f.name), `${f.name} is emitted by a fixture`);
    assert.equal(emitted.size, 107);
    const { sample } = await import('./schema.js');
    for (const doc of ['src/sources/linux/README.md', 'docs/sources/linux.md']) {
      const text = readFileSync(repoPath(doc), 'utf8');
      for (const name of emitted) assert.ok(text.includes(`\`${name}\``), `${doc} documents ${name}`);
      if (doc.endsWith('README.md')) assert.ok(text.includes(sample), `${doc} embeds the sample`);
    }
    // Each protocol counter's kernel field is named in the reference.
    const reference = readFileSync(repoPath('docs/sources/linux.md'), 'utf8');
    for (const f of PROTOCOL_FIELDS)
      assert.ok(reference.includes(f.field), `docs name ${f.group} ${f.field}`);
  });
});
