/**
 * The `internal` source: the agent's own metrics (process CPU and memory, heap, event-loop
 * delay, uptime) and every component's counters, so an operator sees drops, rejections, retries
 * and restarts in the same backend as everything else.
 */
import { defineSource } from '../../core/definition.js';
import { sample, schema } from './schema.js';
import { InternalSource } from './source.js';

export const internalSource = defineSource({
  type: 'internal',
  description:
    "The agent's own metrics: process CPU, memory, heap, event-loop delay, and every component's counters.",
  schema,
  sample,
  create: (config, ctx) => new InternalSource(config, ctx),
});
