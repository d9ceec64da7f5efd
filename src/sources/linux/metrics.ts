/**
 * Turns parsed /proc data into metrics: pure functions, so every name, unit and tag is tested
 * against fixtures without touching the machine. docs/sources/linux.md documents each one.
 *
 * Counters carry the kernel's running totals (cumulative), never rates: a backend computes rates
 * and copes with resets (a reboot, a 32-bit wrap) better than one sample pair can. Tag lists are
 * written here already sorted by key, as the metric model requires.
 */
import type { Metric } from '../../core/metric.js';
import type { Tags } from '../../core/tags.js';
import {
  CPU_STATES,
  type CpuTimes,
  type DiskStats,
  type LoadAvg,
  type MemoryUsage,
  type Mount,
  type NetDevStats,
} from './parse.js';

/**
 * /proc/stat counts in USER_HZ ticks. USER_HZ is 100 in the user-space ABI of every architecture
 * Node.js runs on (include/asm-generic/param.h), whatever the kernel's CONFIG_HZ; only Alpha
 * (and ia64, removed in 6.7) use 1024.
 */
export const USER_HZ = 100;

/**
 * Sectors in /proc/diskstats are always 512 bytes, whatever the device's sector size
 * (Documentation/block/stat.rst: "standard UNIX 512-byte sectors").
 */
export const SECTOR_BYTES = 512;

/** What statfs(2) says about a filesystem; the fields of Node's fs.StatFs that we use. */
export interface FsUsage {
  /** Block size. Node exposes f_bsize only, which equals f_frsize on Linux filesystems. */
  readonly bsize: number;
  readonly blocks: number;
  readonly bfree: number;
  readonly bavail: number;
}

function counter(
  out: Metric[],
  name: string,
  help: string,
  tags: Tags,
  value: number,
  timestamp: number,
): void {
  if (!Number.isFinite(value)) return;
  out.push({ kind: 'counter', temporality: 'cumulative', name, tags, value, intervalMs: 0, timestamp, help });
}

function gauge(
  out: Metric[],
  name: string,
  help: string,
  tags: Tags,
  value: number,
  timestamp: number,
): void {
  if (!Number.isFinite(value)) return;
  out.push({ kind: 'gauge', name, tags, value, timestamp, help });
}

// ---- cpu -----------------------------------------------------------------------------------

const CPU_HELP = 'CPU time spent in each state since boot, per CPU and in total (cpu="total").';

export function cpuMetrics(out: Metric[], cpus: readonly CpuTimes[], timestamp: number): void {
  for (const c of cpus) {
    for (let i = 0; i < CPU_STATES.length; i++) {
      const tags: Tags = [
        ['cpu', c.cpu],
        ['state', CPU_STATES[i] as string],
      ];
      counter(out, 'system_cpu_seconds', CPU_HELP, tags, (c.ticks[i] as number) / USER_HZ, timestamp);
    }
  }
}

// ---- load ----------------------------------------------------------------------------------

export function loadMetrics(out: Metric[], load: LoadAvg, timestamp: number): void {
  gauge(out, 'system_load1', 'Load average over 1 minute.', [], load.load1, timestamp);
  gauge(out, 'system_load5', 'Load average over 5 minutes.', [], load.load5, timestamp);
  gauge(out, 'system_load15', 'Load average over 15 minutes.', [], load.load15, timestamp);
  gauge(
    out,
    'system_threads',
    'Threads (kernel scheduling entities) that exist.',
    [],
    load.threads,
    timestamp,
  );
  gauge(
    out,
    'system_threads_runnable',
    'Threads that are running or ready to run.',
    [],
    load.runnable,
    timestamp,
  );
}

// ---- memory --------------------------------------------------------------------------------

const MEMORY_HELP = 'Physical memory by use; the states add up to system_memory_total_bytes.';
const SWAP_HELP = 'Swap space by use; the states add up to system_swap_total_bytes.';

export function memoryMetrics(out: Metric[], m: MemoryUsage, timestamp: number): void {
  gauge(out, 'system_memory_total_bytes', 'Usable physical memory (MemTotal).', [], m.total, timestamp);
  gauge(
    out,
    'system_memory_available_bytes',
    'Memory available for new work without swapping (MemAvailable, kernel 3.14+).',
    [],
    m.available,
    timestamp,
  );
  gauge(out, 'system_memory_bytes', MEMORY_HELP, [['state', 'used']], m.used, timestamp);
  gauge(out, 'system_memory_bytes', MEMORY_HELP, [['state', 'free']], m.free, timestamp);
  gauge(out, 'system_memory_bytes', MEMORY_HELP, [['state', 'buffers']], m.buffers, timestamp);
  gauge(out, 'system_memory_bytes', MEMORY_HELP, [['state', 'cached']], m.cached, timestamp);
  gauge(out, 'system_swap_total_bytes', 'Swap space (SwapTotal).', [], m.swapTotal, timestamp);
  gauge(out, 'system_swap_bytes', SWAP_HELP, [['state', 'used']], m.swapUsed, timestamp);
  gauge(out, 'system_swap_bytes', SWAP_HELP, [['state', 'free']], m.swapFree, timestamp);
}

// ---- filesystem ----------------------------------------------------------------------------

/** Keeps a name when it matches `include` (if set) and does not match `exclude` (if set). */
export class NameFilter {
  constructor(
    readonly include: RegExp | undefined,
    readonly exclude: RegExp | undefined,
  ) {}

  accepts(name: string): boolean {
    if (this.include !== undefined && !this.include.test(name)) return false;
    return this.exclude === undefined || !this.exclude.test(name);
  }
}

/**
 * The mounts to statfs: one per mount point (the last one listed, which is the one on top and
 * the one statfs sees), minus excluded types and mount points, in first-seen order.
 */
export function selectMounts(
  mounts: readonly Mount[],
  excludedTypes: ReadonlySet<string>,
  mountPoints: NameFilter,
): Mount[] {
  const byPoint = new Map<string, Mount>();
  for (const m of mounts) byPoint.set(m.mountPoint, m);
  const out: Mount[] = [];
  for (const m of byPoint.values()) {
    if (!excludedTypes.has(m.fstype) && mountPoints.accepts(m.mountPoint)) out.push(m);
  }
  return out;
}

const FS_HELP = 'Filesystem space by use; the states add up to system_filesystem_size_bytes.';

/**
 * free is what unprivileged users can still write (f_bavail, df's "Avail"); reserved is kept for
 * root (f_bfree - f_bavail, ext4's 5 % by default). A filesystem with no blocks (a pseudo
 * filesystem not in the exclusion list) is skipped, as df skips it without -a.
 */
export function filesystemMetrics(out: Metric[], mount: Mount, usage: FsUsage, timestamp: number): void {
  if (!(usage.blocks > 0)) return;
  const b = usage.bsize;
  const base: readonly [string, string][] = [
    ['device', mount.device],
    ['fstype', mount.fstype],
    ['mountpoint', mount.mountPoint],
  ];
  gauge(out, 'system_filesystem_size_bytes', 'Filesystem size.', base, usage.blocks * b, timestamp);
  gauge(
    out,
    'system_filesystem_bytes',
    FS_HELP,
    [...base, ['state', 'used']],
    (usage.blocks - usage.bfree) * b,
    timestamp,
  );
  gauge(out, 'system_filesystem_bytes', FS_HELP, [...base, ['state', 'free']], usage.bavail * b, timestamp);
  gauge(
    out,
    'system_filesystem_bytes',
    FS_HELP,
    [...base, ['state', 'reserved']],
    Math.max(0, usage.bfree - usage.bavail) * b,
    timestamp,
  );
}

// ---- disk ----------------------------------------------------------------------------------

const DISK_OPS_HELP = 'Reads and writes completed by the block device.';
const DISK_BYTES_HELP = 'Bytes read from and written to the block device.';
const DISK_TIME_HELP =
  'Time spent on completed reads and writes, summed over requests (can exceed wall time).';

export function diskMetrics(
  out: Metric[],
  disks: readonly DiskStats[],
  filter: NameFilter,
  timestamp: number,
): void {
  for (const d of disks) {
    if (!filter.accepts(d.device)) continue;
    const read: Tags = [
      ['device', d.device],
      ['direction', 'read'],
    ];
    const write: Tags = [
      ['device', d.device],
      ['direction', 'write'],
    ];
    counter(out, 'system_disk_operations', DISK_OPS_HELP, read, d.readsCompleted, timestamp);
    counter(out, 'system_disk_operations', DISK_OPS_HELP, write, d.writesCompleted, timestamp);
    counter(out, 'system_disk_bytes', DISK_BYTES_HELP, read, d.sectorsRead * SECTOR_BYTES, timestamp);
    counter(out, 'system_disk_bytes', DISK_BYTES_HELP, write, d.sectorsWritten * SECTOR_BYTES, timestamp);
    counter(out, 'system_disk_operation_seconds', DISK_TIME_HELP, read, d.readTimeMs / 1000, timestamp);
    counter(out, 'system_disk_operation_seconds', DISK_TIME_HELP, write, d.writeTimeMs / 1000, timestamp);
    counter(
      out,
      'system_disk_io_seconds',
      'Time the device had I/O in flight (busy time; its rate is the utilisation).',
      [['device', d.device]],
      d.ioTimeMs / 1000,
      timestamp,
    );
  }
}

// ---- network -------------------------------------------------------------------------------

const NET_BYTES_HELP = 'Bytes received and transmitted by the network interface.';
const NET_PACKETS_HELP = 'Packets received and transmitted by the network interface.';
const NET_ERRORS_HELP = 'Receive and transmit errors reported by the network interface driver.';
const NET_DROPPED_HELP = 'Packets dropped on receive or transmit (no buffer, filtered, queue full).';

export function networkMetrics(
  out: Metric[],
  interfaces: readonly NetDevStats[],
  filter: NameFilter,
  timestamp: number,
): void {
  for (const n of interfaces) {
    if (!filter.accepts(n.interface)) continue;
    const rx: Tags = [
      ['direction', 'receive'],
      ['interface', n.interface],
    ];
    const tx: Tags = [
      ['direction', 'transmit'],
      ['interface', n.interface],
    ];
    counter(out, 'system_network_bytes', NET_BYTES_HELP, rx, n.rxBytes, timestamp);
    counter(out, 'system_network_bytes', NET_BYTES_HELP, tx, n.txBytes, timestamp);
    counter(out, 'system_network_packets', NET_PACKETS_HELP, rx, n.rxPackets, timestamp);
    counter(out, 'system_network_packets', NET_PACKETS_HELP, tx, n.txPackets, timestamp);
    counter(out, 'system_network_errors', NET_ERRORS_HELP, rx, n.rxErrors, timestamp);
    counter(out, 'system_network_errors', NET_ERRORS_HELP, tx, n.txErrors, timestamp);
    counter(out, 'system_network_dropped', NET_DROPPED_HELP, rx, n.rxDropped, timestamp);
    counter(out, 'system_network_dropped', NET_DROPPED_HELP, tx, n.txDropped, timestamp);
  }
}
