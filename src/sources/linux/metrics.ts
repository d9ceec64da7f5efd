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
  type KernelCounters,
  type LoadAvg,
  type MemoryUsage,
  type Mount,
  type NetDevStats,
  type SnmpCounters,
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
  /** Inodes: total and free (f_files, f_ffree). 0 on filesystems without a fixed table (btrfs). */
  readonly files: number;
  readonly ffree: number;
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

// ---- kernel --------------------------------------------------------------------------------

/**
 * The /proc/stat activity counters and /proc/uptime. procs_running is not repeated here: it is
 * the same kernel value (nr_running()) as system_threads_runnable from /proc/loadavg.
 */
export function kernelMetrics(out: Metric[], k: KernelCounters, uptime: number, timestamp: number): void {
  counter(
    out,
    'system_context_switches',
    'Context switches since boot (ctxt).',
    [],
    k.contextSwitches,
    timestamp,
  );
  counter(
    out,
    'system_forks',
    'Processes and threads created since boot (processes).',
    [],
    k.forks,
    timestamp,
  );
  counter(
    out,
    'system_interrupts',
    'Interrupts serviced since boot, all sources (intr).',
    [],
    k.interrupts,
    timestamp,
  );
  counter(
    out,
    'system_softirqs',
    'Softirqs serviced since boot, all kinds (softirq).',
    [],
    k.softirqs,
    timestamp,
  );
  gauge(
    out,
    'system_threads_blocked',
    'Threads waiting for I/O to complete (procs_blocked).',
    [],
    k.blocked,
    timestamp,
  );
  gauge(
    out,
    'system_boot_time_seconds',
    'When the system booted, in seconds since the Unix epoch (btime).',
    [],
    k.bootTime,
    timestamp,
  );
  gauge(
    out,
    'system_uptime_seconds',
    'Time since boot, including time suspended (/proc/uptime).',
    [],
    uptime,
    timestamp,
  );
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

/** /proc/meminfo lines reported as they are, each under its own name; all in bytes. */
const MEMINFO_GAUGES: readonly (readonly [name: string, key: string, tags: Tags, help: string])[] = [
  [
    'system_memory_shared_bytes',
    'Shmem',
    [],
    'Shared memory and tmpfs contents (Shmem, kernel 2.6.32+); part of cached.',
  ],
  [
    'system_memory_slab_bytes',
    'SReclaimable',
    [['state', 'reclaimable']],
    'Kernel slab caches (SReclaimable, SUnreclaim, kernel 2.6.19+).',
  ],
  [
    'system_memory_slab_bytes',
    'SUnreclaim',
    [['state', 'unreclaimable']],
    'Kernel slab caches (SReclaimable, SUnreclaim, kernel 2.6.19+).',
  ],
  ['system_memory_mapped_bytes', 'Mapped', [], 'Files mapped into processes, such as libraries (Mapped).'],
  [
    'system_memory_anonymous_bytes',
    'AnonPages',
    [],
    'Anonymous memory of processes: heaps and stacks (AnonPages, kernel 2.6.18+).',
  ],
  ['system_memory_active_bytes', 'Active', [], 'Memory used recently, not reclaimed unless needed (Active).'],
  ['system_memory_inactive_bytes', 'Inactive', [], 'Memory not used recently, reclaimed first (Inactive).'],
  [
    'system_memory_dirty_bytes',
    'Dirty',
    [],
    'Modified file pages waiting to be written back to disk (Dirty).',
  ],
  ['system_memory_writeback_bytes', 'Writeback', [], 'Pages being written back to disk now (Writeback).'],
  ['system_memory_page_tables_bytes', 'PageTables', [], 'Memory used by page tables (PageTables).'],
  [
    'system_memory_committed_bytes',
    'Committed_AS',
    [],
    'Memory the processes have allocated, whether used yet or not (Committed_AS).',
  ],
  [
    'system_memory_commit_limit_bytes',
    'CommitLimit',
    [],
    'How much can be committed under strict overcommit (vm.overcommit_memory=2) (CommitLimit).',
  ],
  [
    'system_swap_cached_bytes',
    'SwapCached',
    [],
    'Swapped-out memory that is also in RAM again (SwapCached).',
  ],
];

const HUGEPAGES_HELP = 'Huge pages in the pool by use; the states add up to HugePages_Total.';

/** The rest of /proc/meminfo worth watching, as the kernel reports it. */
export function meminfoDetailMetrics(
  out: Metric[],
  values: ReadonlyMap<string, number>,
  timestamp: number,
): void {
  for (const [name, key, tags, help] of MEMINFO_GAUGES) {
    gauge(out, name, help, tags, values.get(key) ?? NaN, timestamp);
  }
  const total = values.get('HugePages_Total') ?? NaN;
  const free = values.get('HugePages_Free') ?? NaN;
  gauge(
    out,
    'system_memory_hugepages',
    HUGEPAGES_HELP,
    [['state', 'used']],
    Math.max(0, total - free),
    timestamp,
  );
  gauge(out, 'system_memory_hugepages', HUGEPAGES_HELP, [['state', 'free']], free, timestamp);
  gauge(
    out,
    'system_memory_hugepage_size_bytes',
    'Size of one huge page of the pool (Hugepagesize).',
    [],
    values.get('Hugepagesize') ?? NaN,
    timestamp,
  );
}

/** The /proc/vmstat counters the source reads; the file has some 200. */
export const VMSTAT_KEYS: ReadonlySet<string> = new Set([
  'pswpin',
  'pswpout',
  'pgfault',
  'pgmajfault',
  'oom_kill',
]);

const SWAP_PAGES_HELP = 'Pages swapped in from and out to swap space since boot (pswpin, pswpout).';

export function vmstatMetrics(out: Metric[], values: ReadonlyMap<string, number>, timestamp: number): void {
  const get = (key: string): number => values.get(key) ?? NaN;
  counter(out, 'system_swap_pages', SWAP_PAGES_HELP, [['direction', 'in']], get('pswpin'), timestamp);
  counter(out, 'system_swap_pages', SWAP_PAGES_HELP, [['direction', 'out']], get('pswpout'), timestamp);
  counter(
    out,
    'system_page_faults',
    'Page faults since boot, minor and major (pgfault).',
    [],
    get('pgfault'),
    timestamp,
  );
  counter(
    out,
    'system_page_faults_major',
    'Page faults that needed a read from disk or swap, since boot (pgmajfault).',
    [],
    get('pgmajfault'),
    timestamp,
  );
  counter(
    out,
    'system_oom_kills',
    'Processes killed by the out-of-memory killer since boot (oom_kill, kernel 4.13+).',
    [],
    get('oom_kill'),
    timestamp,
  );
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
 * the one statfs sees), of the included types (all if none) minus excluded types and mount
 * points, in first-seen order.
 */
export function selectMounts(
  mounts: readonly Mount[],
  excludedTypes: ReadonlySet<string>,
  mountPoints: NameFilter,
  includedTypes: ReadonlySet<string> = new Set(),
): Mount[] {
  const byPoint = new Map<string, Mount>();
  for (const m of mounts) byPoint.set(m.mountPoint, m);
  const out: Mount[] = [];
  for (const m of byPoint.values()) {
    if (includedTypes.size > 0 && !includedTypes.has(m.fstype)) continue;
    if (!excludedTypes.has(m.fstype) && mountPoints.accepts(m.mountPoint)) out.push(m);
  }
  return out;
}

const INODES_HELP = 'Filesystem inodes by use; the states add up to system_filesystem_inodes_size.';
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
  // btrfs, vfat and some network filesystems have no inode table and report 0, as df -i shows "-".
  if (!(usage.files > 0)) return;
  gauge(
    out,
    'system_filesystem_inodes_size',
    'Inodes the filesystem has (f_files).',
    base,
    usage.files,
    timestamp,
  );
  gauge(
    out,
    'system_filesystem_inodes',
    INODES_HELP,
    [...base, ['state', 'used']],
    Math.max(0, usage.files - usage.ffree),
    timestamp,
  );
  gauge(out, 'system_filesystem_inodes', INODES_HELP, [...base, ['state', 'free']], usage.ffree, timestamp);
}

// ---- disk ----------------------------------------------------------------------------------

const DISK_OPS_HELP = 'Reads and writes completed by the block device.';
const DISK_BYTES_HELP = 'Bytes read from and written to the block device.';
const DISK_MERGED_HELP = 'Reads and writes merged with adjacent ones before being issued to the device.';
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
    counter(out, 'system_disk_merged_operations', DISK_MERGED_HELP, read, d.readsMerged, timestamp);
    counter(out, 'system_disk_merged_operations', DISK_MERGED_HELP, write, d.writesMerged, timestamp);
    const device: Tags = [['device', d.device]];
    counter(
      out,
      'system_disk_io_seconds',
      'Time the device had I/O in flight (busy time; its rate is the utilisation).',
      device,
      d.ioTimeMs / 1000,
      timestamp,
    );
    counter(
      out,
      'system_disk_io_weighted_seconds',
      'Time the device had I/O in flight, weighted by the requests in flight (its rate is the average queue length).',
      device,
      d.weightedIoTimeMs / 1000,
      timestamp,
    );
    gauge(
      out,
      'system_disk_io_in_progress',
      'Requests issued to the device and not yet completed.',
      device,
      d.ioInProgress,
      timestamp,
    );
    // Discards (4.18+) and flushes (5.5+): absent from older kernels' lines, so NaN and skipped.
    counter(
      out,
      'system_disk_discard_operations',
      'Discards completed (kernel 4.18+).',
      device,
      d.discardsCompleted,
      timestamp,
    );
    counter(
      out,
      'system_disk_discard_merged_operations',
      'Discards merged with adjacent ones before being issued (kernel 4.18+).',
      device,
      d.discardsMerged,
      timestamp,
    );
    counter(
      out,
      'system_disk_discard_bytes',
      'Bytes discarded (TRIM/UNMAP) (kernel 4.18+).',
      device,
      d.sectorsDiscarded * SECTOR_BYTES,
      timestamp,
    );
    counter(
      out,
      'system_disk_discard_operation_seconds',
      'Time spent on completed discards, summed over requests (kernel 4.18+).',
      device,
      d.discardTimeMs / 1000,
      timestamp,
    );
    counter(
      out,
      'system_disk_flush_operations',
      'Cache flush requests completed (kernel 5.5+).',
      device,
      d.flushesCompleted,
      timestamp,
    );
    counter(
      out,
      'system_disk_flush_operation_seconds',
      'Time spent on completed flush requests, summed over requests (kernel 5.5+).',
      device,
      d.flushTimeMs / 1000,
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

// ---- protocols -----------------------------------------------------------------------------

/**
 * One reported counter of /proc/net/snmp or /proc/net/netstat: the kernel's group and field
 * (net/ipv4/proc.c), and the name and tags it is reported under. Bucky3's selection, plus the
 * error and overflow counters node_exporter's netstat collector keeps by default. A field the
 * running kernel does not print is not emitted.
 */
export interface ProtocolField {
  readonly group: string;
  readonly field: string;
  readonly name: string;
  readonly tags: Tags;
  readonly kind: 'counter' | 'gauge';
  readonly help: string;
}

const RX: Tags = [['direction', 'receive']];
const TX: Tags = [['direction', 'transmit']];

function field(
  group: string,
  name: string,
  kernelField: string,
  help: string,
  tags: Tags = [],
  kind: 'counter' | 'gauge' = 'counter',
): ProtocolField {
  return { group, field: kernelField, name, tags, kind, help };
}

const IP_PACKETS =
  'IP packets received from the interfaces (InReceives) and handed down by local protocols to send (OutRequests, forwarded ones not included).';
const IP_DROPPED =
  'IP packets dropped for lack of resources, not for an error in them (InDiscards, OutDiscards).';
const IP_ERRORS =
  'Received IP packets discarded for an error: bad header, address, unknown protocol, checksum, truncated.';
const IP_NO_ROUTE = 'IP packets dropped because no route could be found (IpExt InNoRoutes, OutNoRoutes).';
const IP_BYTES =
  'Bytes of IP packets received and sent, headers included (IpExt InOctets, OutOctets; not in the oldest kernels).';
const ICMP_MESSAGES = 'ICMP messages received and sent, errors included (InMsgs, OutMsgs).';
const ICMP_ERRORS =
  'ICMP messages received with errors, and not sent because of errors (InErrors, OutErrors).';
const ICMP_UNREACH =
  'ICMP destination unreachable messages received and sent (InDestUnreachs, OutDestUnreachs).';
const ICMP_TIME = 'ICMP time exceeded messages received and sent (InTimeExcds, OutTimeExcds).';
const ICMP_ECHO = 'ICMP echo requests (pings) received and sent (InEchos, OutEchos).';
const ICMP_ECHO_REPLY = 'ICMP echo replies received and sent (InEchoReps, OutEchoReps).';
const TCP_SEGMENTS =
  'TCP segments received (errors included) and sent (retransmissions excluded) (InSegs, OutSegs).';
const TCP_ABORTS = 'TCP connections reset by this host, by reason (TcpExt TCPAbortOn*).';
const UDP_DATAGRAMS = 'UDP datagrams delivered to sockets and sent (InDatagrams, OutDatagrams).';
const UDP_BUFFER =
  'UDP datagrams dropped because a socket buffer was full (RcvbufErrors) or sending ran out of buffer (SndbufErrors).';

export const PROTOCOL_FIELDS: readonly ProtocolField[] = [
  field(
    'Ip',
    'system_ip_forwarding',
    'Forwarding',
    'Whether the host forwards IPv4 packets: 1 or 0 (net.ipv4.ip_forward).',
    [],
    'gauge',
  ),
  field('Ip', 'system_ip_packets', 'InReceives', IP_PACKETS, RX),
  field('Ip', 'system_ip_packets', 'OutRequests', IP_PACKETS, TX),
  field(
    'Ip',
    'system_ip_delivered_packets',
    'InDelivers',
    'IP packets delivered to local protocols (InDelivers).',
  ),
  field(
    'Ip',
    'system_ip_forwarded_packets',
    'ForwDatagrams',
    'IP packets forwarded to another host (ForwDatagrams).',
  ),
  field('Ip', 'system_ip_dropped_packets', 'InDiscards', IP_DROPPED, RX),
  field('Ip', 'system_ip_dropped_packets', 'OutDiscards', IP_DROPPED, TX),
  field('Ip', 'system_ip_receive_errors', 'InHdrErrors', IP_ERRORS, [['reason', 'header']]),
  field('Ip', 'system_ip_receive_errors', 'InAddrErrors', IP_ERRORS, [['reason', 'address']]),
  field('Ip', 'system_ip_receive_errors', 'InUnknownProtos', IP_ERRORS, [['reason', 'unknown_protocol']]),
  field('IpExt', 'system_ip_receive_errors', 'InCsumErrors', IP_ERRORS, [['reason', 'checksum']]),
  field('IpExt', 'system_ip_receive_errors', 'InTruncatedPkts', IP_ERRORS, [['reason', 'truncated']]),
  field('IpExt', 'system_ip_no_route_packets', 'InNoRoutes', IP_NO_ROUTE, RX),
  field('Ip', 'system_ip_no_route_packets', 'OutNoRoutes', IP_NO_ROUTE, TX),
  field(
    'Ip',
    'system_ip_reassembly_failures',
    'ReasmFails',
    'Failures to reassemble fragmented IP packets (ReasmFails).',
  ),
  field(
    'Ip',
    'system_ip_fragmentation_failures',
    'FragFails',
    'IP packets dropped because they needed fragmenting and could not be (FragFails).',
  ),
  field('IpExt', 'system_ip_bytes', 'InOctets', IP_BYTES, RX),
  field('IpExt', 'system_ip_bytes', 'OutOctets', IP_BYTES, TX),
  field('Icmp', 'system_icmp_messages', 'InMsgs', ICMP_MESSAGES, RX),
  field('Icmp', 'system_icmp_messages', 'OutMsgs', ICMP_MESSAGES, TX),
  field('Icmp', 'system_icmp_errors', 'InErrors', ICMP_ERRORS, RX),
  field('Icmp', 'system_icmp_errors', 'OutErrors', ICMP_ERRORS, TX),
  field(
    'Icmp',
    'system_icmp_checksum_errors',
    'InCsumErrors',
    'ICMP messages received with a bad checksum (InCsumErrors, kernel 3.10+).',
  ),
  field('Icmp', 'system_icmp_destination_unreachable', 'InDestUnreachs', ICMP_UNREACH, RX),
  field('Icmp', 'system_icmp_destination_unreachable', 'OutDestUnreachs', ICMP_UNREACH, TX),
  field('Icmp', 'system_icmp_time_exceeded', 'InTimeExcds', ICMP_TIME, RX),
  field('Icmp', 'system_icmp_time_exceeded', 'OutTimeExcds', ICMP_TIME, TX),
  field('Icmp', 'system_icmp_echo_requests', 'InEchos', ICMP_ECHO, RX),
  field('Icmp', 'system_icmp_echo_requests', 'OutEchos', ICMP_ECHO, TX),
  field('Icmp', 'system_icmp_echo_replies', 'InEchoReps', ICMP_ECHO_REPLY, RX),
  field('Icmp', 'system_icmp_echo_replies', 'OutEchoReps', ICMP_ECHO_REPLY, TX),
  field(
    'Tcp',
    'system_tcp_active_opens',
    'ActiveOpens',
    'TCP connections opened by this host (connect(); ActiveOpens).',
  ),
  field(
    'Tcp',
    'system_tcp_passive_opens',
    'PassiveOpens',
    'TCP connections accepted by this host (PassiveOpens).',
  ),
  field(
    'Tcp',
    'system_tcp_failed_attempts',
    'AttemptFails',
    'TCP connection attempts that failed before being established (AttemptFails).',
  ),
  field(
    'Tcp',
    'system_tcp_established_resets',
    'EstabResets',
    'Established TCP connections reset (EstabResets).',
  ),
  field(
    'Tcp',
    'system_tcp_established',
    'CurrEstab',
    'TCP connections established or closing by the peer now (CurrEstab).',
    [],
    'gauge',
  ),
  field('Tcp', 'system_tcp_segments', 'InSegs', TCP_SEGMENTS, RX),
  field('Tcp', 'system_tcp_segments', 'OutSegs', TCP_SEGMENTS, TX),
  field(
    'Tcp',
    'system_tcp_retransmitted_segments',
    'RetransSegs',
    'TCP segments retransmitted (RetransSegs).',
  ),
  field(
    'Tcp',
    'system_tcp_receive_errors',
    'InErrs',
    'TCP segments received with errors, such as a bad checksum (InErrs).',
  ),
  field(
    'Tcp',
    'system_tcp_checksum_errors',
    'InCsumErrors',
    'TCP segments received with a bad checksum (InCsumErrors, kernel 3.10+).',
  ),
  field('Tcp', 'system_tcp_resets_sent', 'OutRsts', 'TCP segments sent with the RST flag (OutRsts).'),
  field(
    'TcpExt',
    'system_tcp_listen_overflows',
    'ListenOverflows',
    "Connections dropped because a listening socket's accept queue was full (ListenOverflows).",
  ),
  field(
    'TcpExt',
    'system_tcp_listen_drops',
    'ListenDrops',
    'Incoming connections dropped by a listening socket, for any reason, overflows included (ListenDrops).',
  ),
  field(
    'TcpExt',
    'system_tcp_syncookies_sent',
    'SyncookiesSent',
    'SYN cookies sent because a SYN queue was full (SyncookiesSent).',
  ),
  field(
    'TcpExt',
    'system_tcp_syncookies_received',
    'SyncookiesRecv',
    'Valid SYN cookies received back (SyncookiesRecv).',
  ),
  field(
    'TcpExt',
    'system_tcp_syncookies_failed',
    'SyncookiesFailed',
    'Invalid SYN cookies received (SyncookiesFailed).',
  ),
  field('TcpExt', 'system_tcp_timeouts', 'TCPTimeouts', 'TCP retransmission timeouts (TCPTimeouts).'),
  field(
    'TcpExt',
    'system_tcp_syn_retransmits',
    'TCPSynRetrans',
    'TCP SYN and SYN-ACK retransmissions (TCPSynRetrans).',
  ),
  field(
    'TcpExt',
    'system_tcp_fast_retransmits',
    'TCPFastRetrans',
    'TCP fast retransmissions (TCPFastRetrans).',
  ),
  field(
    'TcpExt',
    'system_tcp_out_of_order_queued',
    'TCPOFOQueue',
    'TCP segments received out of order and queued (TCPOFOQueue).',
  ),
  field(
    'TcpExt',
    'system_tcp_out_of_order_dropped',
    'TCPOFODrop',
    'TCP segments received out of order and dropped for lack of memory (TCPOFODrop).',
  ),
  field(
    'TcpExt',
    'system_tcp_receive_queue_prunes',
    'PruneCalled',
    'Times a TCP receive queue was pruned because the socket was over its memory limit (PruneCalled).',
  ),
  field(
    'TcpExt',
    'system_tcp_receive_queue_drops',
    'TCPRcvQDrop',
    'TCP segments dropped because the receive queue was full (TCPRcvQDrop, recent kernels).',
  ),
  field(
    'TcpExt',
    'system_tcp_backlog_drops',
    'TCPBacklogDrop',
    'TCP segments dropped because the socket backlog was full (TCPBacklogDrop).',
  ),
  field('TcpExt', 'system_tcp_aborts', 'TCPAbortOnData', TCP_ABORTS, [['reason', 'data']]),
  field('TcpExt', 'system_tcp_aborts', 'TCPAbortOnClose', TCP_ABORTS, [['reason', 'close']]),
  field('TcpExt', 'system_tcp_aborts', 'TCPAbortOnMemory', TCP_ABORTS, [['reason', 'memory']]),
  field('TcpExt', 'system_tcp_aborts', 'TCPAbortOnTimeout', TCP_ABORTS, [['reason', 'timeout']]),
  field('TcpExt', 'system_tcp_aborts', 'TCPAbortOnLinger', TCP_ABORTS, [['reason', 'linger']]),
  field(
    'TcpExt',
    'system_tcp_memory_pressures',
    'TCPMemoryPressures',
    'Times TCP entered memory pressure (net.ipv4.tcp_mem) (TCPMemoryPressures).',
  ),
  field(
    'TcpExt',
    'system_tcp_keepalives',
    'TCPKeepAlive',
    'TCP keepalive probes sent (TCPKeepAlive, recent kernels).',
  ),
  field('Udp', 'system_udp_datagrams', 'InDatagrams', UDP_DATAGRAMS, RX),
  field('Udp', 'system_udp_datagrams', 'OutDatagrams', UDP_DATAGRAMS, TX),
  field(
    'Udp',
    'system_udp_no_port_datagrams',
    'NoPorts',
    'UDP datagrams received for a port nobody listens on (NoPorts).',
  ),
  field(
    'Udp',
    'system_udp_receive_errors',
    'InErrors',
    'UDP datagrams received and not delivered, buffer errors included (InErrors).',
  ),
  field('Udp', 'system_udp_buffer_errors', 'RcvbufErrors', UDP_BUFFER, RX),
  field('Udp', 'system_udp_buffer_errors', 'SndbufErrors', UDP_BUFFER, TX),
  field(
    'Udp',
    'system_udp_checksum_errors',
    'InCsumErrors',
    'UDP datagrams received with a bad checksum (InCsumErrors, kernel 3.10+).',
  ),
  field(
    'Udp',
    'system_udp_ignored_multicast_datagrams',
    'IgnoredMulti',
    'Multicast and broadcast UDP datagrams no socket wanted (IgnoredMulti, kernel 3.19+).',
  ),
  field(
    'Udp',
    'system_udp_memory_errors',
    'MemErrors',
    'UDP datagrams dropped because UDP memory (net.ipv4.udp_mem) was exhausted (MemErrors, recent kernels).',
  ),
];

export function protocolMetrics(out: Metric[], groups: SnmpCounters, timestamp: number): void {
  for (const f of PROTOCOL_FIELDS) {
    const v = groups.get(f.group)?.get(f.field);
    if (v === undefined) continue;
    if (f.kind === 'gauge') {
      // Forwarding is printed SNMP style, 1 for yes and 2 for no (RFC 1213, ipForwarding).
      const value = f.field === 'Forwarding' ? (v === 1 ? 1 : 0) : v;
      gauge(out, f.name, f.help, f.tags, value, timestamp);
    } else if (v >= 0) {
      counter(out, f.name, f.help, f.tags, v, timestamp);
    }
  }
}
