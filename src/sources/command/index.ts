/**
 * The `command` source: runs a program at every interval and reads metrics from what it prints,
 * as Spoon's `cmd` agent and Telegraf's `exec` input do. It is how a host reports what no
 * built-in source knows (a queue length, a RAID state, a licence count) with a script in any
 * language, without a daemon of its own.
 *
 * The program is exec'd directly from an argument list; a shell only runs when `shell:` is
 * configured. Each run is bounded (a timeout that kills the command's whole process group, a
 * cap on its output) and a run that fails in any way is counted and logged, never fatal: the
 * next tick runs the command again. The output is parsed as StatsD, Influx line protocol,
 * Graphite plaintext, Prometheus text, JSON or a single number.
 */
import { defineSource } from '../../core/definition.js';
import { sample, schema } from './schema.js';
import { CommandSource } from './source.js';

export const commandSource = defineSource({
  type: 'command',
  description:
    'Runs a program at an interval and parses its output (StatsD, Influx, Graphite, Prometheus, JSON or a number).',
  schema,
  sample,
  create: (config, ctx) => new CommandSource(config, ctx),
});
