/** Config of the `linux` source, and the sample block `sluice generate` prints for it. */
import { s, type InferFields, type Schema } from '../../config/schema.js';
import { pollingFields, pollingSample } from '../polling/index.js';
import { COUNTER_MODES } from './rates.js';

/** Groups of metrics that can be switched on and off; each reads one or two /proc files or statfs. */
export const COLLECTORS = [
  'cpu',
  'kernel',
  'load',
  'memory',
  'filesystem',
  'disk',
  'network',
  'protocols',
] as const;
export type Collector = (typeof COLLECTORS)[number];

/**
 * Pseudo and read-only image filesystems: their sizes are zero, constant or not disk space
 * (squashfs snaps are always full). overlay and aufs are container root filesystems: on a
 * host, each one repeats the usage of the disk holding /var/lib/docker, once per container.
 */
export const DEFAULT_EXCLUDED_FILESYSTEM_TYPES: readonly string[] = [
  'autofs',
  'aufs',
  'binfmt_misc',
  'bpf',
  'cgroup',
  'cgroup2',
  'configfs',
  'debugfs',
  'devpts',
  'devtmpfs',
  'efivarfs',
  'fusectl',
  'hugetlbfs',
  'mqueue',
  'nsfs',
  'overlay',
  'proc',
  'pstore',
  'rpc_pipefs',
  'securityfs',
  'selinuxfs',
  'squashfs',
  'sysfs',
  'tracefs',
];

export const DEFAULT_EXCLUDED_DISKS = '^(ram|loop|fd)\\d+$';

/** A regular expression, compiled once when the config loads; "" means no filter. */
function regex(doc: string, defaultSource: string): Schema<RegExp | undefined> {
  return s.custom<RegExp | undefined>(
    'a regular expression (a string)',
    (value) => {
      if (typeof value !== 'string') return { ok: false };
      if (value === '') return { ok: true, value: undefined };
      try {
        return { ok: true, value: new RegExp(value) };
      } catch (e) {
        return {
          ok: false,
          message: `invalid regular expression ${JSON.stringify(value)}: ${(e as Error).message}`,
        };
      }
    },
    { doc, optional: true, default: defaultSource === '' ? undefined : new RegExp(defaultSource) },
  );
}

export const schema = s.object(
  {
    ...pollingFields(10_000),
    root: s.string({
      doc:
        'Directory under which proc/ is read and mount points are found: "/" normally, or where the ' +
        "host's root is mounted when the agent runs in a container (for example /hostfs).",
      default: '/',
      pattern: /^\//,
      patternHint: 'an absolute path such as "/" or "/hostfs"',
    }),
    collectors: s.array(s.oneOf(COLLECTORS), {
      doc: 'Which groups of metrics to collect.',
      default: [...COLLECTORS],
      minLength: 1,
    }),
    counters: s.oneOf(COUNTER_MODES, {
      doc:
        "How counters are reported: the kernel's running totals (cumulative), the change since the " +
        'previous collection (delta), or that change per second as a gauge named <name>_per_second (rate).',
      default: 'cumulative',
    }),
    statfs_timeout: s.duration({
      doc:
        'How long to wait for the usage of one filesystem. A mount that does not answer (a dead NFS ' +
        'server) is skipped, and not asked again until its pending call returns.',
      default: 5_000,
      minMs: 1,
    }),
    exclude_filesystem_types: s.array(s.string({ nonEmpty: true }), {
      doc: 'Filesystem types (the third column of /proc/mounts) whose usage is not reported.',
      default: [...DEFAULT_EXCLUDED_FILESYSTEM_TYPES],
    }),
    include_filesystem_types: s.array(s.string({ nonEmpty: true }), {
      doc: 'If not empty, only filesystems of these types are reported (before exclude_filesystem_types).',
      default: [],
    }),
    include_mount_points: regex(
      'Only mount points matching this regular expression are reported ("" = all).',
      '',
    ),
    exclude_mount_points: regex(
      'Mount points matching this regular expression are not reported ("" = none).',
      '',
    ),
    include_disks: regex('Only block devices matching this regular expression are reported ("" = all).', ''),
    exclude_disks: regex(
      'Block devices matching this regular expression are not reported ("" = none).',
      DEFAULT_EXCLUDED_DISKS,
    ),
    include_interfaces: regex(
      'Only network interfaces matching this regular expression are reported ("" = all).',
      '',
    ),
    exclude_interfaces: regex(
      'Network interfaces matching this regular expression are not reported ("" = none).',
      '',
    ),
  },
  { allowKeys: ['type'] },
);

export type LinuxConfig = InferFields<typeof schema.fields>;

export const sample = `  linux:
    type: linux
${pollingSample('10s', 'read /proc')}
    # Where proc/ is read and mount points are found: "/" on a host. In a container, where
    # the host's / is mounted (docker run -v /:/hostfs:ro ... and root: /hostfs).
    root: /
    # Groups of metrics to collect: cpu (/proc/stat), kernel (context switches, forks,
    # interrupts, blocked threads, boot time: /proc/stat, /proc/uptime), load (/proc/loadavg),
    # memory (/proc/meminfo, /proc/vmstat), filesystem (statfs of each mount), disk
    # (/proc/diskstats), network (/proc/net/dev) and protocols (IP, ICMP, TCP and UDP
    # counters: /proc/net/snmp, /proc/net/netstat).
    collectors: [cpu, kernel, load, memory, filesystem, disk, network, protocols]
    # How counters are reported: cumulative (the kernel's running totals; let the backend
    # compute rates), delta (the change since the previous collection) or rate (that change
    # per second, as a gauge named <name>_per_second). delta and rate start at the second
    # collection and skip a sample where a counter went down (a reboot, a wrap).
    counters: cumulative
    # How long to wait for one filesystem's usage; a mount that does not answer (a dead NFS
    # server) is skipped and counted, and not asked again until its pending call returns.
    statfs_timeout: 5s
    # Filesystem types to report ([] = all), and types not to report: pseudo filesystems,
    # read-only images, and container root filesystems (overlay, aufs) that repeat the disk
    # they live on.
    include_filesystem_types: []
    exclude_filesystem_types: [autofs, aufs, binfmt_misc, bpf, cgroup, cgroup2, configfs,
      debugfs, devpts, devtmpfs, efivarfs, fusectl, hugetlbfs, mqueue, nsfs, overlay, proc,
      pstore, rpc_pipefs, securityfs, selinuxfs, squashfs, sysfs, tracefs]
    # Regular expressions (JavaScript syntax, matched anywhere unless anchored with ^ and $);
    # "" means no filter. A name is reported when it matches include and does not match exclude.
    # Mount points, as in /proc/mounts (e.g. '^/(var/lib/kubelet|run)/').
    include_mount_points: ''
    exclude_mount_points: ''
    # Block device names, as in /proc/diskstats. The default leaves out RAM disks, loop devices
    # and floppies. Partitions are reported too, so a sum over devices counts their I/O twice:
    # '^(ram|loop|fd|(s|v|xv)d[a-z]+|nvme\\d+n\\d+p)\\d+$' leaves them out.
    include_disks: ''
    exclude_disks: '^(ram|loop|fd)\\d+$'
    # Network interface names, as in /proc/net/dev (e.g. '^(lo|veth.*|docker\\d+)$').
    include_interfaces: ''
    exclude_interfaces: ''
`;
