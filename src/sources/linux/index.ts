/**
 * The `linux` source: CPU, kernel activity, load, memory, filesystem, disk, network interface and
 * protocol statistics of the host, read from /proc and statfs(2) at every interval, as Bucky3's
 * linux_stats and Telegraf's system inputs do. It is polled rather than listening because the kernel keeps the running totals:
 * reading them costs a few small files, and sampling on the agent's schedule lines every
 * series up on the same timestamps.
 *
 * Reading /proc is not really I/O (it never blocks on a device), so it is read synchronously;
 * statfs() on a network mount can hang forever, so that call is asynchronous, with a deadline. Everything reads under a `root`
 * directory, which is how the agent watches its host from a container and how the tests point
 * it at saved snapshots (testdata/).
 */
import { defineSource } from '../../core/definition.js';
import { sample, schema } from './schema.js';
import { LinuxSource } from './source.js';

export const linuxSource = defineSource({
  type: 'linux',
  description:
    'Linux system statistics (CPU, kernel, load, memory, filesystems, disks, network, protocols) from /proc.',
  schema,
  sample,
  create: (config, ctx) => new LinuxSource(config, ctx),
});
