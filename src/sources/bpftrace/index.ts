/**
 * The `bpftrace` source: the histograms a bpftrace script prints (`hist()`, `lhist()`), read
 * from the log it writes or from the bpftrace process itself, one gauge per bucket. It replaces
 * the bpftrace-to-Graphite client that tailed `/var/log/cpu-lat.log` and sent
 * `<hostname>.cpu-lat.<bucket>`: with a graphite sink whose template is
 * `{host}.cpu-lat.{bucket}`, the paths are the same.
 *
 * Listening rather than polled: bpftrace decides when a block is printed (every interval of its
 * script), and each block is emitted as soon as it is complete, so its timestamp is within a
 * poll of the print rather than up to an agent interval late.
 */
import { defineSource } from '../../core/definition.js';
import { sample, schema } from './schema.js';
import { BpftraceSource } from './source.js';

export { BpftraceSource } from './source.js';
export type { BpftraceConfig } from './schema.js';

export const bpftraceSource = defineSource({
  type: 'bpftrace',
  description:
    'Histograms printed by bpftrace (hist, lhist), from its log file or its own output: one gauge per bucket.',
  schema,
  sample,
  create: (config, ctx) => new BpftraceSource(config, ctx),
});
