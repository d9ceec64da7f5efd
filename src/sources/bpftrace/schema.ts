/** Config of the `bpftrace` source, and the sample block `sluice generate` prints for it. */
import { INVALID, s, type InferFields, type ObjectSchema } from '../../config/schema.js';

export const MODES = ['file', 'command'] as const;
export const FORMATS = ['text', 'json'] as const;
export const TIMESTAMPS = ['read', 'time_line'] as const;

const fields = {
  mode: s.oneOf(MODES, {
    default: 'file',
    doc:
      'file: follow a log that a bpftrace script writes (`bpftrace -o FILE script.bt`, or a redirect), ' +
      'as `tail -F` does. command: run bpftrace itself (no shell) and read its standard output; ' +
      'bpftrace needs root (or CAP_BPF and CAP_PERFMON), so sluice then runs as root.',
  }),
  file: s.string({
    default: '/var/log/cpu-lat.log',
    nonEmpty: true,
    doc: 'mode: file: the log to follow. It may not exist yet; it is opened when it appears.',
  }),
  from_beginning: s.boolean({
    default: false,
    doc:
      'mode: file: read the file from its start when the source starts, rather than only what is ' +
      'appended from then on. Files that replace it after a rotation are always read from their start.',
  }),
  poll_interval: s.duration({
    default: 500,
    minMs: 10,
    maxMs: 60_000,
    doc: 'mode: file: how often the file is checked for new bytes, truncation and rotation.',
  }),
  command: s.array(s.string({ nonEmpty: true }), {
    default: [],
    doc:
      'mode: command: the program and its arguments, e.g. [bpftrace, /etc/sluice/cpu-lat.bt]. It is ' +
      'restarted with backoff when it exits, and stopped with SIGINT (then SIGKILL) when sluice stops.',
  }),
  stop_timeout: s.duration({
    default: 5_000,
    maxMs: 60_000,
    doc:
      'mode: command: how long bpftrace gets after SIGINT to print its maps (those are read and ' +
      'emitted) and exit, before SIGKILL.',
  }),
  format: s.oneOf(FORMATS, {
    default: 'text',
    doc: 'How bpftrace prints: text (its default) or json (`bpftrace -f json`).',
  }),
  maps: s.array(s.string({ nonEmpty: true }), {
    default: [],
    doc: 'Maps to read, by name with or without "@" (usecs, @usecs); empty: every hist() and lhist() map.',
  }),
  names: s.record(s.string({ nonEmpty: true }), {
    default: {},
    doc: 'Metric name per map (usecs: cpu_lat); a map not listed is named as the map, without "@".',
  }),
  fill_zeros: s.boolean({
    default: true,
    doc:
      'bpftrace prints the buckets from the lowest to the highest non-empty one: report 0 for the ' +
      'buckets of a map and key that were printed before and are missing now, so every series gets ' +
      'a value at every print.',
  }),
  timestamp: s.oneOf(TIMESTAMPS, {
    default: 'read',
    doc:
      'read: each block is timestamped when sluice reads it. time_line: with the time of the last line ' +
      'the script printed with time("%H:%M:%S\\n") (or "%Y-%m-%d %H:%M:%S"), in local time; blocks ' +
      'before any such line are timestamped when read.',
  }),
};

const base = s.object(fields, { allowKeys: ['type'] });

/** The object schema, plus the rule that spans two fields. */
export const schema: ObjectSchema<typeof fields> = {
  ...base,
  parse(value, path, issues) {
    const parsed = base.parse(value, path, issues);
    if (parsed !== INVALID && parsed.mode === 'command' && parsed.command.length === 0) {
      issues.push({
        path: [...path, 'command'],
        message: 'is required with mode: command (the program and its arguments, e.g. [bpftrace, script.bt])',
      });
      return INVALID;
    }
    return parsed;
  },
};

export type BpftraceConfig = InferFields<typeof fields>;

export const sample = `  bpftrace:
    type: bpftrace
    # file: follow a log that a bpftrace script writes (bpftrace -o FILE script.bt), like
    # tail -F, through truncation and rotation. command: run bpftrace and read its stdout
    # (bpftrace needs root, so sluice then runs as root).
    mode: file
    # mode: file: the log to follow (opened when it appears), whether to read what it already
    # holds at start, and how often to look for new bytes, truncation and rotation.
    file: /var/log/cpu-lat.log
    from_beginning: false
    poll_interval: 500ms
    # mode: command: program and arguments, run without a shell and restarted with backoff
    # when it exits, e.g. [bpftrace, /etc/sluice/cpu-lat.bt]; at stop it gets SIGINT and
    # stop_timeout to print its maps (which are emitted) before SIGKILL.
    command: []
    stop_timeout: 5s
    # How bpftrace prints: text (its default) or json (bpftrace -f json).
    format: text
    # Maps to read ([usecs] or ["@usecs"]); empty: every hist() and lhist() map.
    maps: []
    # Metric name per map, e.g. { usecs: cpu_lat }; others are named as the map, without "@".
    # Each bucket is one gauge, tagged bucket=<lower bound> (and key=<map key>).
    names: {}
    # Report 0 for buckets of a map and key printed before and missing from this print.
    fill_zeros: true
    # read: timestamp blocks when read. time_line: with the last time("%H:%M:%S\\n") line.
    timestamp: read
`;
