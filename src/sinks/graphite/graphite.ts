/**
 * The Graphite sink: the shared push machinery with carbon's plaintext encoder and a TCP
 * transport. Everything else (batching, buffering, retries, endpoints) is PushSink's.
 */
import type { ComponentContext } from '../../core/component.js';
import { CarbonEncoder } from '../../protocols/carbon/plaintext.js';
import { PushSink, type PushDeps } from '../push/push.js';
import { TcpTransport } from '../push/tcp.js';
import type { GraphiteConfig } from './schema.js';

export function createGraphiteSink(
  config: GraphiteConfig,
  ctx: ComponentContext,
  deps: PushDeps = {},
): PushSink {
  const encoder = new CarbonEncoder(config.template, config.naming);
  const options = { reconnectIntervalMs: config.reconnect_interval, clock: ctx.clock };
  return new PushSink(config, encoder, (target) => new TcpTransport(target, options), ctx, deps);
}
