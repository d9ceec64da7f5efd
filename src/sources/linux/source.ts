/**
 * The I/O shell of the Linux source: reads the /proc files under `root`, statfs()es the mounts,
 * and hands the text to the pure parsers and metric builders. Nothing here throws out of
 * collect(): a file that cannot be read or a line that cannot be parsed is counted in the
 * component's stats, logged (warn the first time, debug after), and the rest is still reported.
 */
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import type { PolledSource, SourceContext } from '../../core/component.js';
import type { Batch, Metric } from '../../core/metric.js';
import {
  cpuMetrics,
  diskMetrics,
  filesystemMetrics,
  kernelMetrics,
  loadMetrics,
  meminfoDetailMetrics,
  memoryMetrics,
  networkMetrics,
  protocolMetrics,
  VMSTAT_KEYS,
  vmstatMetrics,
} from './metrics.js';
import { NameFilter, selectMounts, type FsUsage } from './metrics.js';
import {
  memoryUsage,
  parseDiskstats,
  parseLoadAvg,
  parseMeminfo,
  parseMounts,
  parseNetDev,
  parseSnmp,
  parseStat,
  parseUptime,
  parseVmstat,
  type Mount,
  type SnmpCounters,
  UNKNOWN_KERNEL_COUNTERS,
} from './parse.js';
import { CounterConverter } from './rates.js';
import type { Collector, LinuxConfig } from './schema.js';

export type StatfsFn = (path: string) => Promise<FsUsage>;

export interface LinuxSourceDeps {
  /** statfs(2); injectable so fixture tests need no real mounts. */
  readonly statfs?: StatfsFn;
}

/** Past this many distinct problems, forget which were already warned about (mounts churn). */
const MAX_WARNED = 1000;

type ReadResult = { ok: true; text: string } | { ok: false; error: unknown };

/**
 * Reads a /proc file synchronously. Reading /proc is not really I/O: the kernel formats the text
 * from memory and never waits on a device, so a synchronous read blocks for microseconds. On a
 * 2-CPU VM the six original files took about 0.3 ms of CPU, against 1 ms with
 * fs.promises.readFile (a file handle, a promise chain and a 64 KiB buffer per file); the ten
 * files read now take about 0.7 ms.
 */
function readText(file: string): ReadResult {
  try {
    return { ok: true, text: readFileSync(file, 'utf8') };
  } catch (error) {
    return { ok: false, error };
  }
}

function errorCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'error';
}

class TimeoutError extends Error {}

export class LinuxSource implements PolledSource {
  readonly mode = 'polled';
  readonly intervalMs: number;
  readonly startJitter: boolean;
  private readonly root: string;
  private readonly enabled: ReadonlySet<Collector>;
  private readonly statfsTimeoutMs: number;
  private readonly excludedTypes: ReadonlySet<string>;
  private readonly includedTypes: ReadonlySet<string>;
  private readonly mountPoints: NameFilter;
  private readonly disks: NameFilter;
  private readonly interfaces: NameFilter;
  private readonly statfs: StatfsFn;
  /** Files tried in order for the mount table and the network counters. */
  private readonly mountsFiles: readonly string[];
  private readonly netDevFiles: readonly string[];
  private readonly snmpFiles: readonly string[];
  private readonly netstatFiles: readonly string[];
  private readonly counters: CounterConverter;
  /** Mount points whose statfs timed out and has not returned yet: not asked again meanwhile. */
  private readonly stuck = new Set<string>();
  private readonly warned = new Set<string>();

  constructor(
    config: LinuxConfig,
    private readonly ctx: SourceContext,
    deps: LinuxSourceDeps = {},
  ) {
    this.intervalMs = config.interval;
    this.startJitter = config.start_jitter;
    this.counters = new CounterConverter(config.counters);
    this.root = config.root;
    this.enabled = new Set(config.collectors);
    this.statfsTimeoutMs = config.statfs_timeout;
    this.excludedTypes = new Set(config.exclude_filesystem_types);
    this.includedTypes = new Set(config.include_filesystem_types);
    this.mountPoints = new NameFilter(config.include_mount_points, config.exclude_mount_points);
    this.disks = new NameFilter(config.include_disks, config.exclude_disks);
    this.interfaces = new NameFilter(config.include_interfaces, config.exclude_interfaces);
    this.statfs = deps.statfs ?? ((p) => fsp.statfs(p));
    // Mounts and network devices belong to namespaces, and proc/self (which proc/mounts and
    // proc/net link to) is the reading process. Under another root (the host's /proc seen from
    // a container) that would list the container's mounts and interfaces; PID 1's are the host's.
    const host = config.root !== '/';
    this.mountsFiles = host
      ? ['proc/1/mounts', 'proc/self/mounts', 'proc/mounts']
      : ['proc/self/mounts', 'proc/mounts'];
    this.netDevFiles = host ? ['proc/1/net/dev', 'proc/net/dev'] : ['proc/net/dev'];
    this.snmpFiles = host ? ['proc/1/net/snmp', 'proc/net/snmp'] : ['proc/net/snmp'];
    this.netstatFiles = host ? ['proc/1/net/netstat', 'proc/net/netstat'] : ['proc/net/netstat'];
  }

  async collect(): Promise<Batch> {
    const timestamp = this.ctx.clock.now();
    const on = this.enabled;
    // statfs can block (network filesystems), so it runs in the thread pool meanwhile.
    const filesystems = on.has('filesystem') ? this.filesystems(timestamp) : undefined;
    const out: Metric[] = [];
    const stat = on.has('cpu') || on.has('kernel') ? this.read('proc/stat') : undefined;
    const parsedStat = stat === undefined ? undefined : parseStat(stat);
    if (parsedStat !== undefined) {
      this.malformed('proc/stat', parsedStat.malformed);
      if (on.has('cpu')) cpuMetrics(out, parsedStat.cpus, timestamp);
    }
    if (on.has('kernel')) {
      const uptime = this.read('proc/uptime');
      const up = uptime === undefined ? undefined : parseUptime(uptime);
      if (up !== undefined) this.malformed('proc/uptime', up.malformed);
      kernelMetrics(out, parsedStat?.kernel ?? UNKNOWN_KERNEL_COUNTERS, up?.uptime ?? NaN, timestamp);
    }
    const loadavg = on.has('load') ? this.read('proc/loadavg') : undefined;
    if (loadavg !== undefined) {
      const parsed = parseLoadAvg(loadavg);
      this.malformed('proc/loadavg', parsed.malformed);
      loadMetrics(out, parsed.load, timestamp);
    }
    const meminfo = on.has('memory') ? this.read('proc/meminfo') : undefined;
    if (meminfo !== undefined) {
      const parsed = parseMeminfo(meminfo);
      this.malformed('proc/meminfo', parsed.malformed);
      memoryMetrics(out, memoryUsage(parsed.values), timestamp);
      meminfoDetailMetrics(out, parsed.values, timestamp);
    }
    const vmstat = on.has('memory') ? this.read('proc/vmstat') : undefined;
    if (vmstat !== undefined) {
      const parsed = parseVmstat(vmstat, VMSTAT_KEYS);
      this.malformed('proc/vmstat', parsed.malformed);
      vmstatMetrics(out, parsed.values, timestamp);
    }
    const diskstats = on.has('disk') ? this.read('proc/diskstats') : undefined;
    if (diskstats !== undefined) {
      const parsed = parseDiskstats(diskstats);
      this.malformed('proc/diskstats', parsed.malformed);
      diskMetrics(out, parsed.disks, this.disks, timestamp);
    }
    const netdev = on.has('network') ? this.readFirst(this.netDevFiles) : undefined;
    if (netdev !== undefined) {
      const parsed = parseNetDev(netdev.text);
      this.malformed(netdev.file, parsed.malformed);
      networkMetrics(out, parsed.interfaces, this.interfaces, timestamp);
    }
    if (on.has('protocols')) {
      const groups: SnmpCounters = new Map();
      for (const files of [this.snmpFiles, this.netstatFiles]) {
        const r = this.readFirst(files);
        if (r !== undefined) this.malformed(r.file, parseSnmp(r.text, groups).malformed);
      }
      protocolMetrics(out, groups, timestamp);
    }
    if (filesystems !== undefined) for (const m of await filesystems) out.push(m);
    return this.counters.convert(out);
  }

  async stop(): Promise<void> {
    this.stuck.clear();
    this.counters.reset();
  }

  /** Reads `<root>/<file>`, or counts and reports why not. */
  private read(file: string): string | undefined {
    const r = readText(path.join(this.root, file));
    if (r.ok) return r.text;
    this.readFailed(file, r.error);
    return undefined;
  }

  private readFailed(file: string, error: unknown): void {
    this.ctx.stats.counter('read_errors', 'Files under /proc that could not be read.', { file }).inc();
    this.problem(`read:${file}`, 'Could not read a file; its metrics are missing.', {
      file: path.join(this.root, file),
      error,
    });
  }

  private malformed(file: string, lines: number): void {
    if (lines === 0) return;
    this.ctx.stats
      .counter('malformed_lines', 'Lines of /proc files that could not be parsed.', { file })
      .inc(lines);
    this.problem(`parse:${file}`, 'Skipped lines that could not be parsed.', { file, lines });
  }

  /** Warns once per key, then logs at debug: a missing file would otherwise warn every interval. */
  private problem(key: string, msg: string, fields: Record<string, unknown>): void {
    if (this.warned.has(key)) {
      this.ctx.log.debug(msg, fields);
      return;
    }
    if (this.warned.size >= MAX_WARNED) this.warned.clear();
    this.warned.add(key);
    this.ctx.log.warn(msg, fields);
  }

  /** Reads the first of `files` that can be read; a failure is reported under the first name. */
  private readFirst(files: readonly string[]): { file: string; text: string } | undefined {
    let firstError: unknown;
    for (const file of files) {
      const r = readText(path.join(this.root, file));
      if (r.ok) return { file, text: r.text };
      firstError ??= r.error;
    }
    this.readFailed(files[0] as string, firstError);
    return undefined;
  }

  private mounts(): Mount[] | undefined {
    const r = this.readFirst(this.mountsFiles);
    if (r === undefined) return undefined;
    const parsed = parseMounts(r.text);
    this.malformed(r.file, parsed.malformed);
    return parsed.mounts;
  }

  private async filesystems(timestamp: number): Promise<Metric[]> {
    const mounts = this.mounts();
    if (mounts === undefined) return [];
    const selected = selectMounts(mounts, this.excludedTypes, this.mountPoints, this.includedTypes);
    const usages = await Promise.all(selected.map((m) => this.usage(m)));
    const out: Metric[] = [];
    for (let i = 0; i < selected.length; i++) {
      const usage = usages[i];
      if (usage !== undefined) filesystemMetrics(out, selected[i] as Mount, usage, timestamp);
    }
    return out;
  }

  /** statfs with a deadline; a failure skips this mount only. */
  private async usage(mount: Mount): Promise<FsUsage | undefined> {
    const point = mount.mountPoint;
    if (this.stuck.has(point)) {
      this.skipped(mount, 'stuck', undefined);
      return undefined;
    }
    const target = this.root === '/' ? point : path.join(this.root, point);
    let timer: NodeJS.Timeout | undefined;
    let call: Promise<FsUsage>;
    try {
      call = this.statfs(target);
    } catch (e) {
      call = Promise.reject(e);
    }
    // Not unref'd: it is cleared as soon as statfs answers, so it never outlives the deadline.
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError()), this.statfsTimeoutMs);
    });
    try {
      return await Promise.race([call, deadline]);
    } catch (e) {
      if (e instanceof TimeoutError) {
        this.stuck.add(point);
        const release = (): void => {
          this.stuck.delete(point);
        };
        call.then(release, release);
        this.skipped(mount, 'timeout', undefined);
      } else {
        this.skipped(mount, errorCode(e), e);
      }
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  private skipped(mount: Mount, reason: string, error: unknown): void {
    this.ctx.stats
      .counter('filesystems_skipped', 'Mounted filesystems whose usage could not be read.', { reason })
      .inc();
    this.problem(
      `statfs:${mount.mountPoint}:${reason}`,
      'Could not read the usage of a filesystem; skipped it.',
      {
        mountpoint: mount.mountPoint,
        fstype: mount.fstype,
        reason,
        error,
      },
    );
  }
}
