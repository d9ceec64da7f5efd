/**
 * Pure parsers for the /proc files the Linux source reads. Each takes the file's text and returns
 * what it could read plus a count of lines it had to skip; none throws, whatever the input.
 *
 * Kernels add columns over time (and old ones lack them), so parsers read by position (by name
 * where the file names its fields: meminfo, vmstat, snmp) and mark a value they could not find
 * or read as NaN; callers emit only finite values. Formats are
 * from proc(5), the kernel's Documentation/admin-guide/iostats.rst and net/ipv4/proc.c.
 */

/** Splits a line on runs of spaces and tabs, the only separators /proc uses. No regex: cheap. */
export function splitFields(line: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0d) {
      if (start >= 0) {
        out.push(line.slice(start, i));
        start = -1;
      }
    } else if (start < 0) {
      start = i;
    }
  }
  if (start >= 0) out.push(line.slice(start));
  return out;
}

/**
 * A non-negative decimal (digits, at most one dot), or NaN. Stricter than Number(), which takes
 * "", "0x1f", "1e3" and "Infinity".
 */
export function parseDecimal(token: string | undefined): number {
  if (token === undefined || token.length === 0) return NaN;
  let dots = 0;
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (c === 0x2e) {
      if (++dots > 1 || token.length === 1) return NaN;
    } else if (c < 0x30 || c > 0x39) {
      return NaN;
    }
  }
  return Number(token);
}

function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

// ---- /proc/stat ----------------------------------------------------------------------------

/**
 * The /proc/stat CPU columns we report, in file order. Kernels before 2.6 stop after `idle`,
 * before 2.6.11 after `softirq`. The next two columns, guest and guest_nice (2.6.24, 2.6.33), are
 * left out on purpose: the kernel already adds guest time into user and guest_nice into nice
 * (kernel/sched/cputime.c, account_guest_time), so reporting them would count it twice.
 */
export const CPU_STATES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;
export type CpuState = (typeof CPU_STATES)[number];

export interface CpuTimes {
  /** "total" for the aggregate `cpu` line, else the CPU number ("0", "1", ...). */
  readonly cpu: string;
  /** Ticks of USER_HZ per state, in CPU_STATES order; NaN where the column is missing or bad. */
  readonly ticks: readonly number[];
}

/**
 * The single-number lines of /proc/stat after the CPU lines (proc(5)). Each is NaN when the
 * kernel does not print it: `procs_running`/`procs_blocked` appeared in 2.5.45, `softirq` in
 * 2.6.31; the others are older than any kernel Node.js runs on.
 */
export interface KernelCounters {
  /** `intr`: interrupts serviced since boot, all sources (the first number of the line). */
  readonly interrupts: number;
  /** `softirq`: softirqs serviced since boot, all kinds (the first number of the line). */
  readonly softirqs: number;
  /** `ctxt`: context switches since boot. */
  readonly contextSwitches: number;
  /** `processes`: processes and threads created (forks and clones) since boot. */
  readonly forks: number;
  /** `procs_running`: threads runnable now. */
  readonly running: number;
  /** `procs_blocked`: threads blocked waiting for I/O now. */
  readonly blocked: number;
  /** `btime`: boot time, seconds since the Unix epoch. */
  readonly bootTime: number;
}

type MutableKernelCounters = { -readonly [K in keyof KernelCounters]: number };

/** What is known without /proc/stat: nothing. */
export const UNKNOWN_KERNEL_COUNTERS: KernelCounters = Object.freeze({
  interrupts: NaN,
  softirqs: NaN,
  contextSwitches: NaN,
  forks: NaN,
  running: NaN,
  blocked: NaN,
  bootTime: NaN,
});

/** /proc/stat line keys, mapped to the field each fills. */
const STAT_KEYS: ReadonlyMap<string, keyof KernelCounters> = new Map([
  ['intr', 'interrupts'],
  ['softirq', 'softirqs'],
  ['ctxt', 'contextSwitches'],
  ['processes', 'forks'],
  ['procs_running', 'running'],
  ['procs_blocked', 'blocked'],
  ['btime', 'bootTime'],
]);

export interface StatFile {
  readonly cpus: CpuTimes[];
  readonly kernel: KernelCounters;
  readonly malformed: number;
}

/** Where a line's key ends: at its first space or tab, or -1. */
function keyEnd(line: string): number {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 0x20 || c === 0x09) return i;
  }
  return -1;
}

/**
 * The first value after a line's key, without splitting the rest: the `intr` line holds one
 * number per interrupt source, thousands on a large machine, and only its total is reported.
 */
function firstValue(line: string, from: number): string {
  let start = from;
  while (start < line.length && (line.charCodeAt(start) === 0x20 || line.charCodeAt(start) === 0x09)) start++;
  let end = start;
  while (end < line.length) {
    const c = line.charCodeAt(end);
    if (c === 0x20 || c === 0x09 || c === 0x0d) break;
    end++;
  }
  return line.slice(start, end);
}

export function parseStat(text: string): StatFile {
  const cpus: CpuTimes[] = [];
  const kernel: MutableKernelCounters = { ...UNKNOWN_KERNEL_COUNTERS };
  let malformed = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) {
      const space = keyEnd(line);
      const field = STAT_KEYS.get(space > 0 ? line.slice(0, space) : line);
      if (field === undefined) continue; // page, swap (2.4), blank lines: not reported
      const v = parseDecimal(space > 0 ? firstValue(line, space) : undefined);
      if (Number.isNaN(v)) malformed++;
      else kernel[field] = v;
      continue;
    }
    const f = splitFields(line);
    const name = f[0] as string;
    let cpu: string;
    if (name === 'cpu') cpu = 'total';
    else if (isDigits(name.slice(3))) cpu = name.slice(3);
    else {
      malformed++;
      continue;
    }
    const ticks: number[] = [];
    let read = 0;
    let bad = false;
    for (let i = 0; i < CPU_STATES.length; i++) {
      const token = f[i + 1];
      const v = parseDecimal(token);
      if (token !== undefined && Number.isNaN(v)) bad = true;
      if (!Number.isNaN(v)) read++;
      ticks.push(v);
    }
    if (bad || read === 0) malformed++;
    if (read > 0) cpus.push({ cpu, ticks });
  }
  return { cpus, kernel, malformed };
}

// ---- /proc/uptime --------------------------------------------------------------------------

export interface UptimeFile {
  /** Seconds since boot (including time suspended, CLOCK_BOOTTIME). */
  readonly uptime: number;
  /** Seconds the CPUs spent idle, summed over the CPUs. */
  readonly idle: number;
  readonly malformed: number;
}

/** "8738.39 7457.50": uptime and idle time in seconds (proc(5)). */
export function parseUptime(text: string): UptimeFile {
  const newline = text.indexOf('\n');
  const f = splitFields(newline < 0 ? text : text.slice(0, newline));
  const uptime = parseDecimal(f[0]);
  const idle = parseDecimal(f[1]);
  return { uptime, idle, malformed: Number.isNaN(uptime + idle) || f.length !== 2 ? 1 : 0 };
}

// ---- /proc/loadavg -------------------------------------------------------------------------

export interface LoadAvg {
  readonly load1: number;
  readonly load5: number;
  readonly load15: number;
  /** Kernel scheduling entities (threads) that are runnable now. */
  readonly runnable: number;
  /** Kernel scheduling entities (threads) that exist. */
  readonly threads: number;
}

export interface LoadAvgFile {
  readonly load: LoadAvg;
  readonly malformed: number;
}

/** "0.11 0.17 0.08 1/86 4205": three load averages, runnable/existing threads, last PID. */
export function parseLoadAvg(text: string): LoadAvgFile {
  const newline = text.indexOf('\n');
  const f = splitFields(newline < 0 ? text : text.slice(0, newline));
  const load1 = parseDecimal(f[0]);
  const load5 = parseDecimal(f[1]);
  const load15 = parseDecimal(f[2]);
  const tasks = f[3] ?? '';
  const slash = tasks.indexOf('/');
  const runnable = slash > 0 && isDigits(tasks.slice(0, slash)) ? Number(tasks.slice(0, slash)) : NaN;
  const threads = slash > 0 && isDigits(tasks.slice(slash + 1)) ? Number(tasks.slice(slash + 1)) : NaN;
  const complete = !Number.isNaN(load1 + load5 + load15 + runnable + threads);
  return { load: { load1, load5, load15, runnable, threads }, malformed: complete ? 0 : 1 };
}

// ---- /proc/meminfo -------------------------------------------------------------------------

export interface MeminfoFile {
  /** Values by key; "kB" values are converted to bytes, unitless ones (HugePages_*) kept. */
  readonly values: Map<string, number>;
  readonly malformed: number;
}

/** "MemTotal:       24731708 kB". The kernel's "kB" is KiB (fs/proc/meminfo.c shifts by 10). */
export function parseMeminfo(text: string): MeminfoFile {
  const values = new Map<string, number>();
  let malformed = 0;
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      malformed++;
      continue;
    }
    const f = splitFields(line.slice(colon + 1));
    const v = parseDecimal(f[0]);
    if (Number.isNaN(v) || f.length > 2 || (f.length === 2 && f[1] !== 'kB')) {
      malformed++;
      continue;
    }
    values.set(line.slice(0, colon), f.length === 2 ? v * 1024 : v);
  }
  return { values, malformed };
}

export interface MemoryUsage {
  readonly total: number;
  readonly free: number;
  readonly available: number;
  readonly buffers: number;
  /** Page cache plus reclaimable slab, as `free` shows under buff/cache. */
  readonly cached: number;
  readonly used: number;
  readonly swapTotal: number;
  readonly swapFree: number;
  readonly swapUsed: number;
}

/**
 * Derives the reported memory figures the way procps-ng `free` (3.3.10 to 4.0.0) does:
 * cached = Cached + SReclaimable, used = MemTotal - MemFree - Buffers - cached, so that
 * used + free + buffers + cached = MemTotal. MemAvailable (kernel 3.14+) stays NaN when absent
 * rather than being guessed. SReclaimable (2.6.19+) and Buffers count as 0 when absent.
 */
export function memoryUsage(values: ReadonlyMap<string, number>): MemoryUsage {
  const get = (key: string): number => values.get(key) ?? NaN;
  const total = get('MemTotal');
  const free = get('MemFree');
  const buffers = values.get('Buffers') ?? 0;
  const cached = get('Cached') + (values.get('SReclaimable') ?? 0);
  // Container views of meminfo (LXCFS) can make this negative; a negative size means nothing.
  const used = Math.max(0, total - free - buffers - cached);
  const swapTotal = get('SwapTotal');
  const swapFree = get('SwapFree');
  return {
    total,
    free,
    available: get('MemAvailable'),
    buffers: values.has('Buffers') ? buffers : NaN,
    cached,
    used,
    swapTotal,
    swapFree,
    swapUsed: Math.max(0, swapTotal - swapFree),
  };
}

// ---- /proc/vmstat --------------------------------------------------------------------------

export interface VmstatFile {
  readonly values: Map<string, number>;
  readonly malformed: number;
}

/**
 * "pswpin 0": one name and one count per line (mm/vmstat.c, vmstat_text). Only the names in
 * `wanted` are kept: the file has 150 to 250 lines and the source reports a handful.
 */
export function parseVmstat(text: string, wanted: ReadonlySet<string>): VmstatFile {
  const values = new Map<string, number>();
  let malformed = 0;
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    const space = keyEnd(line);
    if (space <= 0) {
      malformed++;
      continue;
    }
    const name = line.slice(0, space);
    if (!wanted.has(name)) continue;
    const v = parseDecimal(firstValue(line, space));
    if (Number.isNaN(v)) malformed++;
    else values.set(name, v);
  }
  return { values, malformed };
}

// ---- /proc/net/snmp and /proc/net/netstat --------------------------------------------------

/** Counters by group ("Tcp", "TcpExt", ...) and then by field name ("RetransSegs"). */
export type SnmpCounters = Map<string, Map<string, number>>;

export interface SnmpFile {
  readonly groups: SnmpCounters;
  readonly malformed: number;
}

/** An integer, possibly negative (Tcp MaxConn is -1, printed with %ld), or NaN. */
function parseSigned(token: string | undefined): number {
  if (token !== undefined && token.length > 1 && token.charCodeAt(0) === 0x2d) {
    return isDigits(token.slice(1)) ? -Number(token.slice(1)) : NaN;
  }
  return token !== undefined && isDigits(token) ? Number(token) : NaN;
}

/**
 * Both files print each group as two lines with the same "Group:" prefix, the field names and
 * then their values (net/ipv4/proc.c, snmp_seq_show and netstat_seq_show). Fields come and go
 * between kernels, so values are read by name, never by position. A values line whose length
 * differs from its header's cannot be matched up and is skipped whole, as is a header without
 * values. Results are added to `into`, so both files can fill one map.
 */
export function parseSnmp(text: string, into: SnmpCounters = new Map()): SnmpFile {
  let malformed = 0;
  let header: { group: string; names: string[] } | undefined;
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      malformed++;
      continue;
    }
    const group = line.slice(0, colon);
    const fields = splitFields(line.slice(colon + 1));
    if (header === undefined || header.group !== group) {
      if (header !== undefined) malformed++; // a header not followed by its values
      header = { group, names: fields };
      continue;
    }
    const names = header.names;
    header = undefined;
    if (names.length !== fields.length) {
      malformed++;
      continue;
    }
    let counters = into.get(group);
    if (counters === undefined) {
      counters = new Map();
      into.set(group, counters);
    }
    let bad = false;
    for (let i = 0; i < names.length; i++) {
      const v = parseSigned(fields[i]);
      if (Number.isNaN(v)) bad = true;
      else counters.set(names[i] as string, v);
    }
    if (bad) malformed++;
  }
  if (header !== undefined) malformed++;
  return { groups: into, malformed };
}

// ---- /proc/self/mounts ---------------------------------------------------------------------

export interface Mount {
  readonly device: string;
  readonly mountPoint: string;
  readonly fstype: string;
}

export interface MountsFile {
  readonly mounts: Mount[];
  readonly malformed: number;
}

/**
 * Undoes the kernel's octal escapes in mounts fields (fs/proc_namespace.c, mangle(): space, tab,
 * newline and backslash become \040, \011, \012, \134).
 */
export function unescapeMountField(s: string): string {
  if (s.indexOf('\\') < 0) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c && isOctal(s, i + 1)) {
      out += String.fromCharCode(parseInt(s.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

function isOctal(s: string, at: number): boolean {
  if (at + 3 > s.length) return false;
  for (let i = at; i < at + 3; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x37) return false;
  }
  return true;
}

/** fstab(5) format: "device mountpoint fstype options dump pass". */
export function parseMounts(text: string): MountsFile {
  const mounts: Mount[] = [];
  let malformed = 0;
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    const f = splitFields(line);
    if (f.length < 3) {
      malformed++;
      continue;
    }
    mounts.push({
      device: unescapeMountField(f[0] as string),
      mountPoint: unescapeMountField(f[1] as string),
      fstype: unescapeMountField(f[2] as string),
    });
  }
  return { mounts, malformed };
}

// ---- /proc/diskstats -----------------------------------------------------------------------

/**
 * The per-device columns after "major minor name", in file order (iostats.rst). Kernels before
 * 4.18 stop after weightedIoTimeMs (14 fields per line), before 5.5 after discardTimeMs (18).
 */
export const DISK_FIELDS = [
  'readsCompleted',
  'readsMerged',
  'sectorsRead',
  'readTimeMs',
  'writesCompleted',
  'writesMerged',
  'sectorsWritten',
  'writeTimeMs',
  'ioInProgress',
  'ioTimeMs',
  'weightedIoTimeMs',
  'discardsCompleted',
  'discardsMerged',
  'sectorsDiscarded',
  'discardTimeMs',
  'flushesCompleted',
  'flushTimeMs',
] as const;
export type DiskField = (typeof DISK_FIELDS)[number];

/** Before 2.6.25, partition lines carried only these four columns (7 fields per line). */
const OLD_PARTITION_FIELDS: readonly DiskField[] = [
  'readsCompleted',
  'sectorsRead',
  'writesCompleted',
  'sectorsWritten',
];

export type DiskStats = { readonly device: string } & { [K in DiskField]: number };

export interface DiskstatsFile {
  readonly disks: DiskStats[];
  readonly malformed: number;
}

function emptyDisk(device: string): DiskStats {
  return {
    device,
    readsCompleted: NaN,
    readsMerged: NaN,
    sectorsRead: NaN,
    readTimeMs: NaN,
    writesCompleted: NaN,
    writesMerged: NaN,
    sectorsWritten: NaN,
    writeTimeMs: NaN,
    ioInProgress: NaN,
    ioTimeMs: NaN,
    weightedIoTimeMs: NaN,
    discardsCompleted: NaN,
    discardsMerged: NaN,
    sectorsDiscarded: NaN,
    discardTimeMs: NaN,
    flushesCompleted: NaN,
    flushTimeMs: NaN,
  };
}

export function parseDiskstats(text: string): DiskstatsFile {
  const disks: DiskStats[] = [];
  let malformed = 0;
  for (const line of text.split('\n')) {
    const f = splitFields(line);
    if (f.length === 0) continue;
    if (f.length < 4 || !isDigits(f[0] as string) || !isDigits(f[1] as string)) {
      malformed++;
      continue;
    }
    const disk = emptyDisk(f[2] as string);
    const names = f.length === 7 ? OLD_PARTITION_FIELDS : DISK_FIELDS;
    const n = Math.min(names.length, f.length - 3);
    let bad = false;
    for (let i = 0; i < n; i++) {
      const v = parseDecimal(f[i + 3]);
      if (Number.isNaN(v)) bad = true;
      disk[names[i] as DiskField] = v;
    }
    if (bad) malformed++;
    disks.push(disk);
  }
  return { disks, malformed };
}

// ---- /proc/net/dev -------------------------------------------------------------------------

/** The columns after "interface:", in file order (net/core/net-procfs.c, dev_seq_printf_stats). */
export const NET_FIELDS = [
  'rxBytes',
  'rxPackets',
  'rxErrors',
  'rxDropped',
  'rxFifo',
  'rxFrame',
  'rxCompressed',
  'rxMulticast',
  'txBytes',
  'txPackets',
  'txErrors',
  'txDropped',
  'txFifo',
  'txCollisions',
  'txCarrier',
  'txCompressed',
] as const;
export type NetField = (typeof NET_FIELDS)[number];

export type NetDevStats = { readonly interface: string } & { [K in NetField]: number };

export interface NetDevFile {
  readonly interfaces: NetDevStats[];
  readonly malformed: number;
}

function emptyInterface(name: string): NetDevStats {
  return {
    interface: name,
    rxBytes: NaN,
    rxPackets: NaN,
    rxErrors: NaN,
    rxDropped: NaN,
    rxFifo: NaN,
    rxFrame: NaN,
    rxCompressed: NaN,
    rxMulticast: NaN,
    txBytes: NaN,
    txPackets: NaN,
    txErrors: NaN,
    txDropped: NaN,
    txFifo: NaN,
    txCollisions: NaN,
    txCarrier: NaN,
    txCompressed: NaN,
  };
}

export function parseNetDev(text: string): NetDevFile {
  const interfaces: NetDevStats[] = [];
  let malformed = 0;
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.indexOf('|') >= 0) continue; // the two header lines
    // Interface names cannot contain ':' (net/core/dev.c, dev_valid_name), and old kernels print
    // "eth0:123" with no space once the byte count is wide, so split at the colon, not on spaces.
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    if (name === '') {
      if (line.trim() !== '') malformed++;
      continue;
    }
    const f = splitFields(line.slice(colon + 1));
    const stats = emptyInterface(name);
    const n = Math.min(NET_FIELDS.length, f.length);
    let bad = n === 0;
    for (let i = 0; i < n; i++) {
      const v = parseDecimal(f[i]);
      if (Number.isNaN(v)) bad = true;
      stats[NET_FIELDS[i] as NetField] = v;
    }
    if (bad) malformed++;
    interfaces.push(stats);
  }
  return { interfaces, malformed };
}
