/**
 * The `docker` source: CPU, memory, network, block I/O and process counts of every running
 * container, read from the Docker Engine API over its Unix socket at every interval, as
 * Bucky3's docker module and Telegraf's docker input do. It is polled because the kernel's
 * cgroups keep the running totals and the daemon reads them on demand: one list request and
 * one one-shot stats request per container cost a few milliseconds of the daemon's time.
 *
 * The daemon may be absent (not installed yet, socket not mounted into the agent's container)
 * or restart at any time; neither is a failure of the source, only an empty collection.
 */
import { defineSource } from '../../core/definition.js';
import { sample, schema } from './schema.js';
import { DockerSource } from './source.js';

export const dockerSource = defineSource({
  type: 'docker',
  description: 'Per-container CPU, memory, network and block I/O statistics from the Docker Engine API.',
  schema,
  sample,
  create: (config, ctx) => new DockerSource(config, ctx),
});
