/** Config of the `command` source, and the sample block `sluice generate` prints for it. */
import {
  INVALID,
  s,
  type InferFields,
  type Issue,
  type ObjectSchema,
  type Path,
} from '../../config/schema.js';
import { pollingFields, pollingSample } from '../polling/index.js';

export const DATA_FORMATS = ['statsd', 'influx', 'graphite', 'prometheus', 'json', 'number'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];

const fields = {
  command: s.array(s.string(), {
    optional: true,
    minLength: 1,
    doc:
      'The program and its arguments, run directly (execve, no shell: no globs, pipes, redirections or ' +
      '$VARIABLES). A program name without a slash is looked up in PATH. Give either command or shell.',
  }),
  shell: s.string({
    optional: true,
    nonEmpty: true,
    doc:
      "A shell script run as /bin/sh -c SCRIPT, for pipes and redirections. The config's ${VAR} " +
      'interpolation happens first, so never put untrusted values in it. Give either command or shell.',
  }),
  data_format: s.oneOf(DATA_FORMATS, {
    doc:
      'What the command prints on stdout: statsd lines, influx line protocol, graphite plaintext, ' +
      'prometheus text exposition, json objects, or a single number.',
  }),
  name: s.string({
    optional: true,
    nonEmpty: true,
    doc:
      'number: the name of the gauge (required). json: the measurement of objects without ' +
      'metric_name (default: the instance name). Not used by the other formats.',
  }),
  name_prefix: s.string({ default: '', doc: 'Prepended to the name of every metric the command reports.' }),
  tags: s.record(s.string({ nonEmpty: true }), {
    default: {},
    doc: "Tags added to every metric the command reports; the command's own tags win.",
  }),
  ...pollingFields(10_000),
  timeout: s.duration({
    default: 5_000,
    minMs: 1,
    doc:
      "How long a run may take. Then the command's whole process group gets SIGTERM, and SIGKILL " +
      'after kill_grace; the run counts as a failure and its output is discarded.',
  }),
  kill_grace: s.duration({
    default: 2_000,
    doc: 'How long a command has to exit after SIGTERM (timeout, too much output, shutdown) before SIGKILL.',
  }),
  max_output: s.number({
    default: 1_048_576,
    integer: true,
    min: 1,
    doc: 'Bytes of stdout a run may print. A command printing more is killed and its output discarded.',
  }),
  env: s.record(s.string(), {
    default: {},
    doc: "Environment variables set for the command, over the agent's own (or over a bare PATH).",
  }),
  inherit_env: s.boolean({
    default: true,
    doc:
      "Whether the command sees the agent's environment. false: only PATH " +
      '(/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin) and env.',
  }),
  cwd: s.string({
    optional: true,
    pattern: /^\//,
    patternHint: 'an absolute path',
    doc: "The command's working directory (default: the agent's).",
  }),
};

const base = s.object(fields, { allowKeys: ['type'] });

const ENV_NAME = /^[^=\0]+$/;

/** The rules that span fields: one of command and shell, and name where the format needs it. */
function check(c: InferFields<typeof fields>, path: Path, issues: Issue[]): boolean {
  const before = issues.length;
  if (c.command === undefined && c.shell === undefined) {
    issues.push({
      path: [...path, 'command'],
      message: 'is required (a list: [program, args...]), or shell',
    });
  } else if (c.command !== undefined && c.shell !== undefined) {
    issues.push({ path: [...path, 'shell'], message: 'cannot be used with command: give one of the two' });
  } else if (c.command !== undefined && c.command[0] === '') {
    issues.push({ path: [...path, 'command', 0], message: 'expected a program name or path, got ""' });
  }
  if (c.data_format === 'number' && c.name === undefined) {
    issues.push({
      path: [...path, 'name'],
      message: 'is required with data_format: number (the gauge name)',
    });
  } else if (c.name !== undefined && c.data_format !== 'number' && c.data_format !== 'json') {
    issues.push({
      path: [...path, 'name'],
      message: `is not used with data_format: ${c.data_format}: the output names its metrics (use name_prefix)`,
    });
  }
  for (const key of Object.keys(c.env)) {
    if (!ENV_NAME.test(key)) {
      issues.push({ path: [...path, 'env', key], at: 'key', message: 'is not a usable variable name' });
    }
  }
  return issues.length === before;
}

export const schema: ObjectSchema<typeof fields> = {
  ...base,
  parse(value, path, issues) {
    const parsed = base.parse(value, path, issues);
    if (parsed === INVALID) return INVALID;
    return check(parsed, path, issues) ? parsed : INVALID;
  },
};

export type CommandConfig = InferFields<typeof fields>;

export const sample = `  loadavg:
    type: command
    # The program and its arguments, run directly: no shell, so no globs, pipes,
    # redirections or $VARIABLES (a name without a slash is looked up in PATH). This one
    # prints graphite lines from /proc/loadavg.
    command: [awk, '{ print "load.1m", $1; print "load.5m", $2; print "load.15m", $3 }', /proc/loadavg]
    # Or a script for /bin/sh -c, when pipes or redirections are needed (give one of the
    # two). The config's \${VAR} interpolation runs first: write $$ for a literal $, and
    # never let untrusted values into it.
    shell:
    # What the command prints on stdout: statsd (lines aggregated over the run: counters
    # as deltas, timers as summaries), influx (line protocol), graphite (path value
    # [timestamp]), prometheus (text exposition), json (objects, as the json_udp source
    # reads them) or number (the whole output is one number, a gauge called name).
    data_format: graphite
    # number: the gauge's name (required). json: the measurement of objects without
    # metric_name (default: the instance name). Not allowed with the other formats.
    name:
    # Prepended to every metric name, e.g. "scripts.".
    name_prefix: ''
    # Tags added to every metric, e.g. { team: storage }; the command's own tags win.
    tags: {}
${pollingSample('10s', 'run the command')}
    # A run taking longer is a failure: the command's whole process group (children too)
    # gets SIGTERM, then SIGKILL after kill_grace, and its output is discarded. A run still
    # going at the next tick makes that tick be skipped, never a second copy started.
    timeout: 5s
    kill_grace: 2s
    # Bytes of stdout one run may print; a command printing more is killed and failed.
    max_output: 1048576
    # Environment variables for the command, e.g. { LC_ALL: C }. With inherit_env: true
    # they are set over the agent's environment (which may hold secrets); false gives the
    # command only a standard PATH and these.
    env: {}
    inherit_env: true
    # Working directory of the command (an absolute path); unset: the agent's.
    cwd:
`;
