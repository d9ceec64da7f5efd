/**
 * The Docker Engine API's JSON, read defensively, and turned into metrics: pure functions, so
 * every name, unit and formula is tested against saved API responses without a socket.
 *
 * The shapes are the Engine API reference's (`ContainerSummary` of GET /containers/json and
 * `ContainerStatsResponse` of GET /containers/{id}/stats; moby api/types/container/stats.go).
 * A daemon on a cgroup v1 host and one on a cgroup v2 host fill them differently: v1 has
 * `percpu_usage`, `max_usage`, `failcnt`, memory.stat keys such as `total_inactive_file` and
 * `total_rss`, and block I/O ops spelled "Read"/"Write" (plus "Sync", "Async", "Discard",
 * "Total"); v2 has none of those, memory.stat keys such as `inactive_file` and `anon`, and ops
 * "read"/"write". Both are handled field by field: a missing or non-numeric field drops the
 * metric it feeds, never the container.
 *
 * The formulas that `docker stats` shows are the Docker CLI's (cli/command/container/
 * stats_helpers.go): CPU % = Δ container CPU time / Δ host CPU time × online CPUs × 100;
 * memory "usage" = usage − total_inactive_file (v1) or − inactive_file (v2), when smaller;
 * network = Σ rx_bytes, Σ tx_bytes over interfaces; block I/O = Σ values of
 * io_service_bytes_recursive entries whose op starts with r/R, resp. w/W.
 */
import type { Metric } from '../../core/metric.js';
import { makeTags, type Tag, type Tags } from '../../core/tags.js';

type Json = Record<string, unknown>;

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

/** A non-negative finite number, or undefined (uint64 fields; JSON `null` means absent). */
function num(o: Json | undefined, key: string): number | undefined {
  const v = o?.[key];
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

function str(o: Json | undefined, key: string): string | undefined {
  const v = o?.[key];
  return typeof v === 'string' ? v : undefined;
}

// ---- GET /containers/json --------------------------------------------------------------------

export interface ContainerSummary {
  /** The full 64-hex-digit ID. */
  readonly id: string;
  /** The first name, without Docker's leading slash. */
  readonly name: string;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ParsedList {
  readonly containers: ContainerSummary[];
  /** Entries that were not objects with an `Id` (skipped). */
  readonly malformed: number;
}

/** The container list; entries without an ID are counted and skipped, never thrown on. */
export function parseContainerList(body: unknown): ParsedList | undefined {
  if (!Array.isArray(body)) return undefined;
  const containers: ContainerSummary[] = [];
  let malformed = 0;
  for (const entry of body) {
    const o = obj(entry);
    const id = str(o, 'Id');
    if (o === undefined || id === undefined || id === '') {
      malformed++;
      continue;
    }
    const names = Array.isArray(o.Names) ? o.Names.filter((n): n is string => typeof n === 'string') : [];
    // Legacy links add names like /other/alias; the container's own name has no inner slash.
    const own = names.find((n) => n.lastIndexOf('/') === 0) ?? names[0] ?? '';
    const labels: Record<string, string> = {};
    const rawLabels = obj(o.Labels);
    if (rawLabels !== undefined) {
      for (const [k, v] of Object.entries(rawLabels)) if (typeof v === 'string') labels[k] = v;
    }
    containers.push({
      id,
      name: own.startsWith('/') ? own.slice(1) : own,
      image: str(o, 'Image') ?? '',
      labels,
    });
  }
  return { containers, malformed };
}

// ---- GET /containers/{id}/stats --------------------------------------------------------------

export interface CpuSample {
  /** cpu_usage.total_usage, nanoseconds. */
  readonly total?: number | undefined;
  readonly user?: number | undefined;
  readonly kernel?: number | undefined;
  /** system_cpu_usage: the host's CPU time (all CPUs), nanoseconds. */
  readonly system?: number | undefined;
  /** online_cpus, or the length of percpu_usage as the CLI falls back to (cgroup v1). */
  readonly onlineCpus?: number | undefined;
  readonly throttlingPeriods?: number | undefined;
  readonly throttledPeriods?: number | undefined;
  /** Nanoseconds. */
  readonly throttledTime?: number | undefined;
}

export interface NetworkSample {
  readonly interface: string;
  readonly rxBytes?: number | undefined;
  readonly rxPackets?: number | undefined;
  readonly rxErrors?: number | undefined;
  readonly rxDropped?: number | undefined;
  readonly txBytes?: number | undefined;
  readonly txPackets?: number | undefined;
  readonly txErrors?: number | undefined;
  readonly txDropped?: number | undefined;
}

export interface BlkioDevice {
  /** "major:minor", as in /proc/self/mountinfo and lsblk. */
  readonly device: string;
  readonly read: number;
  readonly write: number;
}

export interface MemorySample {
  readonly usage?: number | undefined;
  readonly limit?: number | undefined;
  readonly maxUsage?: number | undefined;
  readonly failcnt?: number | undefined;
  /** The `docker stats` figure: usage without inactive page cache. */
  readonly workingSet?: number | undefined;
  /** Page cache: total_cache/cache (v1), file (v2). */
  readonly cache?: number | undefined;
  /** Anonymous memory: total_rss/rss (v1), anon (v2). */
  readonly rss?: number | undefined;
  readonly cgroup: 'v1' | 'v2' | 'unknown';
}

export interface ContainerStats {
  readonly id?: string | undefined;
  /** With Docker's leading slash, as the API sends it. */
  readonly name?: string | undefined;
  readonly cpu: CpuSample;
  readonly memory: MemorySample;
  /** undefined when the container has no network (network mode none, host). */
  readonly networks: NetworkSample[] | undefined;
  readonly blkio: BlkioDevice[];
  readonly pids?: number | undefined;
}

function cpuSample(o: Json | undefined): CpuSample {
  const usage = obj(o?.cpu_usage);
  const throttling = obj(o?.throttling_data);
  const percpu = usage?.percpu_usage;
  const online = num(o, 'online_cpus');
  return {
    total: num(usage, 'total_usage'),
    user: num(usage, 'usage_in_usermode'),
    kernel: num(usage, 'usage_in_kernelmode'),
    system: num(o, 'system_cpu_usage'),
    onlineCpus:
      online !== undefined && online > 0 ? online : Array.isArray(percpu) ? percpu.length : undefined,
    throttlingPeriods: num(throttling, 'periods'),
    throttledPeriods: num(throttling, 'throttled_periods'),
    throttledTime: num(throttling, 'throttled_time'),
  };
}

function memorySample(o: Json | undefined): MemorySample {
  const stats = obj(o?.stats);
  const usage = num(o, 'usage');
  // The CLI's calculateMemUsageUnixNoCache: v1 first (total_inactive_file), then v2.
  const v1Inactive = num(stats, 'total_inactive_file');
  const v2Inactive = num(stats, 'inactive_file');
  const cgroup: MemorySample['cgroup'] =
    stats === undefined
      ? 'unknown'
      : 'total_inactive_file' in stats || 'total_rss' in stats || 'cache' in stats
        ? 'v1'
        : 'anon' in stats || 'file' in stats
          ? 'v2'
          : 'unknown';
  let workingSet = usage;
  if (usage !== undefined) {
    if (v1Inactive !== undefined && v1Inactive < usage) workingSet = usage - v1Inactive;
    else if ((v2Inactive ?? 0) < usage) workingSet = usage - (v2Inactive ?? 0);
  }
  return {
    usage,
    limit: num(o, 'limit'),
    maxUsage: num(o, 'max_usage'),
    failcnt: num(o, 'failcnt'),
    workingSet,
    cache: cgroup === 'v2' ? num(stats, 'file') : (num(stats, 'total_cache') ?? num(stats, 'cache')),
    rss: cgroup === 'v2' ? num(stats, 'anon') : (num(stats, 'total_rss') ?? num(stats, 'rss')),
    cgroup,
  };
}

function networkSamples(v: unknown): NetworkSample[] | undefined {
  const o = obj(v);
  if (o === undefined) return undefined;
  const out: NetworkSample[] = [];
  for (const [name, raw] of Object.entries(o)) {
    const n = obj(raw);
    if (n === undefined) continue;
    out.push({
      interface: name,
      rxBytes: num(n, 'rx_bytes'),
      rxPackets: num(n, 'rx_packets'),
      rxErrors: num(n, 'rx_errors'),
      rxDropped: num(n, 'rx_dropped'),
      txBytes: num(n, 'tx_bytes'),
      txPackets: num(n, 'tx_packets'),
      txErrors: num(n, 'tx_errors'),
      txDropped: num(n, 'tx_dropped'),
    });
  }
  return out.sort((a, b) => (a.interface < b.interface ? -1 : a.interface > b.interface ? 1 : 0));
}

/**
 * Bytes read and written per device, from io_service_bytes_recursive. Only ops whose first
 * letter is r/R or w/W count, as in the CLI: v1's "Sync", "Async", "Discard" and "Total" are
 * other views of the same bytes.
 */
function blkioDevices(o: Json | undefined): BlkioDevice[] {
  const entries = o?.io_service_bytes_recursive;
  if (!Array.isArray(entries)) return [];
  const byDevice = new Map<string, { read: number; write: number }>();
  for (const raw of entries) {
    const e = obj(raw);
    const op = str(e, 'op');
    const value = num(e, 'value');
    const major = num(e, 'major');
    const minor = num(e, 'minor');
    if (op === undefined || value === undefined || major === undefined || minor === undefined) continue;
    const first = op[0];
    const isRead = first === 'r' || first === 'R';
    const isWrite = first === 'w' || first === 'W';
    if (!isRead && !isWrite) continue;
    const device = `${major}:${minor}`;
    let d = byDevice.get(device);
    if (d === undefined) byDevice.set(device, (d = { read: 0, write: 0 }));
    if (isRead) d.read += value;
    else d.write += value;
  }
  return [...byDevice.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([device, d]) => ({ device, read: d.read, write: d.write }));
}

/**
 * One stats response. undefined for a body that is not an object, or for the zeroed sample
 * the daemon sends for a container that is no longer running (`read` at year 1, no CPU time).
 */
export function parseStats(body: unknown): ContainerStats | undefined {
  const o = obj(body);
  if (o === undefined) return undefined;
  const cpu = cpuSample(obj(o.cpu_stats));
  const read = str(o, 'read');
  if (cpu.total === undefined || (read !== undefined && read.startsWith('0001-'))) return undefined;
  const pids = obj(o.pids_stats);
  return {
    id: str(o, 'id'),
    name: str(o, 'name'),
    cpu,
    memory: memorySample(obj(o.memory_stats)),
    networks: networkSamples(o.networks),
    blkio: blkioDevices(obj(o.blkio_stats)),
    pids: num(pids, 'current'),
  };
}

// ---- the CLI's figures -----------------------------------------------------------------------

/**
 * `docker stats`' CPU %: 100 is one CPU fully used. The CLI's calculateCPUPercentUnix, with the
 * same operations in the same order so that the float64 result is identical; it gives 0 when
 * either delta is not positive. Here a host CPU delta that is not positive (no time passed, a
 * daemon restart) gives undefined instead: there is no rate to report.
 */
export function cpuPercent(previous: CpuSample, current: CpuSample): number | undefined {
  if (previous.total === undefined || current.total === undefined) return undefined;
  if (previous.system === undefined || current.system === undefined) return undefined;
  const cpuDelta = current.total - previous.total;
  const systemDelta = current.system - previous.system;
  const online = current.onlineCpus ?? 0;
  if (!(systemDelta > 0)) return undefined;
  if (cpuDelta < 0) return undefined; // the container restarted: its counter began again
  return cpuDelta > 0 ? (cpuDelta / systemDelta) * online * 100.0 : 0;
}

/** `docker stats`' MEM %: the working set over the limit. */
export function memoryPercent(m: MemorySample): number | undefined {
  if (m.workingSet === undefined || m.limit === undefined || m.limit === 0) return undefined;
  return (m.workingSet / m.limit) * 100.0;
}

/** `docker stats`' NET I/O: received and sent bytes over every interface. */
export function networkTotals(networks: readonly NetworkSample[] | undefined): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const n of networks ?? []) {
    rx += n.rxBytes ?? 0;
    tx += n.txBytes ?? 0;
  }
  return { rx, tx };
}

/** `docker stats`' BLOCK I/O: bytes read and written over every device. */
export function blkioTotals(devices: readonly BlkioDevice[]): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const d of devices) {
    read += d.read;
    write += d.write;
  }
  return { read, write };
}

// ---- metrics ---------------------------------------------------------------------------------

/** The 12-digit short ID that `docker ps` shows. */
export function shortId(id: string): string {
  return id.slice(0, 12);
}

/**
 * The tags every metric of a container carries: the chosen labels first, so that a label
 * named like one of ours (container_name, say) cannot override it.
 */
export function containerTags(c: ContainerSummary, labelPatterns: readonly RegExp[]): Tags {
  const pairs: Tag[] = [];
  if (labelPatterns.length > 0) {
    for (const [k, v] of Object.entries(c.labels)) {
      if (labelPatterns.some((p) => p.test(k))) pairs.push([k, v]);
    }
  }
  pairs.push(['container_id', shortId(c.id)], ['container_image', c.image], ['container_name', c.name]);
  return makeTags(pairs);
}

const NS = 1e9;

class Out {
  constructor(
    readonly metrics: Metric[],
    readonly base: Tags,
    readonly timestamp: number,
  ) {}

  counter(name: string, help: string, value: number | undefined, extra?: readonly Tag[]): void {
    if (value === undefined || !Number.isFinite(value)) return;
    const tags = extra === undefined ? this.base : makeTags([...this.base, ...extra]);
    this.metrics.push({
      kind: 'counter',
      temporality: 'cumulative',
      name,
      tags,
      value,
      intervalMs: 0,
      timestamp: this.timestamp,
      help,
    });
  }

  gauge(name: string, help: string, value: number | undefined, extra?: readonly Tag[]): void {
    if (value === undefined || !Number.isFinite(value)) return;
    const tags = extra === undefined ? this.base : makeTags([...this.base, ...extra]);
    this.metrics.push({ kind: 'gauge', name, tags, value, timestamp: this.timestamp, help });
  }
}

const div = (v: number | undefined, by: number): number | undefined => (v === undefined ? undefined : v / by);

const NET_BYTES = 'Bytes received and sent by the container, per interface.';
const NET_PACKETS = 'Packets received and sent by the container, per interface.';
const NET_ERRORS = 'Receive and transmit errors, per interface.';
const NET_DROPPED = 'Packets dropped on receive and transmit, per interface.';
const BLKIO_BYTES = 'Bytes read from and written to each block device by the container (io_service_bytes).';

/**
 * Every metric of one container. `cpuPercentValue` is computed by the caller from its previous
 * sample (or left undefined on the first one).
 */
export function containerMetrics(
  out: Metric[],
  tags: Tags,
  s: ContainerStats,
  cpuPercentValue: number | undefined,
  timestamp: number,
): void {
  const o = new Out(out, tags, timestamp);
  const c = s.cpu;
  o.counter(
    'docker_cpu_usage_seconds',
    'CPU time used by the container, all CPUs together.',
    div(c.total, NS),
  );
  o.counter('docker_cpu_user_seconds', 'CPU time the container spent in user mode.', div(c.user, NS));
  o.counter('docker_cpu_kernel_seconds', 'CPU time the container spent in kernel mode.', div(c.kernel, NS));
  o.gauge(
    'docker_cpu_percent',
    'CPU use since the previous collection as docker stats shows it: 100 is one CPU fully used.',
    cpuPercentValue,
  );
  o.gauge('docker_cpu_online', 'CPUs online on the host, as the daemon reports them.', c.onlineCpus);
  o.counter(
    'docker_cpu_throttling_periods',
    'Enforcement periods of the CFS quota that elapsed while the container ran.',
    c.throttlingPeriods,
  );
  o.counter(
    'docker_cpu_throttled_periods',
    'Periods in which the container used up its CPU quota and was throttled.',
    c.throttledPeriods,
  );
  o.counter(
    'docker_cpu_throttled_seconds',
    'Time the container was throttled for.',
    div(c.throttledTime, NS),
  );

  const m = s.memory;
  o.gauge(
    'docker_memory_usage_bytes',
    "Memory charged to the container's cgroup, page cache included.",
    m.usage,
  );
  o.gauge(
    'docker_memory_working_set_bytes',
    'Memory use as docker stats shows it: usage less inactive page cache.',
    m.workingSet,
  );
  o.gauge(
    'docker_memory_limit_bytes',
    "The container's memory limit (the host's memory when it has none).",
    m.limit,
  );
  o.gauge('docker_memory_cache_bytes', 'Page cache charged to the container.', m.cache);
  o.gauge('docker_memory_rss_bytes', 'Anonymous memory (heap, stacks) of the container.', m.rss);
  o.gauge('docker_memory_max_usage_bytes', 'Highest memory usage recorded (cgroup v1 only).', m.maxUsage);
  o.counter('docker_memory_failcnt', 'Times memory usage hit the limit (cgroup v1 only).', m.failcnt);

  for (const n of s.networks ?? []) {
    const rx: Tag[] = [
      ['direction', 'receive'],
      ['interface', n.interface],
    ];
    const tx: Tag[] = [
      ['direction', 'transmit'],
      ['interface', n.interface],
    ];
    o.counter('docker_network_bytes', NET_BYTES, n.rxBytes, rx);
    o.counter('docker_network_bytes', NET_BYTES, n.txBytes, tx);
    o.counter('docker_network_packets', NET_PACKETS, n.rxPackets, rx);
    o.counter('docker_network_packets', NET_PACKETS, n.txPackets, tx);
    o.counter('docker_network_errors', NET_ERRORS, n.rxErrors, rx);
    o.counter('docker_network_errors', NET_ERRORS, n.txErrors, tx);
    o.counter('docker_network_dropped', NET_DROPPED, n.rxDropped, rx);
    o.counter('docker_network_dropped', NET_DROPPED, n.txDropped, tx);
  }

  for (const d of s.blkio) {
    o.counter('docker_blkio_bytes', BLKIO_BYTES, d.read, [
      ['device', d.device],
      ['direction', 'read'],
    ]);
    o.counter('docker_blkio_bytes', BLKIO_BYTES, d.write, [
      ['device', d.device],
      ['direction', 'write'],
    ]);
  }

  o.gauge('docker_pids', 'Processes and threads in the container.', s.pids);
}
