/**
 * The shared machinery of push sinks (Graphite, InfluxDB, Kafka, remote write, StatsD relay).
 * Not a component: a sink is built from a PushSink given its protocol's encoder and transport,
 * and spreads `pushOptionsSchema` into its config schema. Why one wrapper owns buffering, retries
 * and self-stats (as Telegraf's RunningOutput does): every sink then drops, retries and reports
 * the same way, and a sink's own code is only its protocol.
 */
export { backoffCeiling, backoffDelay } from './backoff.js';
export { formatEndpoint, parseEndpoint, systemLookup, type Endpoint, type Lookup } from './endpoints.js';
export {
  PushRejected,
  PushSink,
  type PushDeps,
  type PushEncoder,
  type PushTransport,
  type Target,
  type TransportFactory,
} from './push.js';
export { RecordQueue, recordSize, type Payload, type PushRecord } from './queue.js';
export { systemScheduler, type Scheduler, type TimerHandle } from './scheduler.js';
export {
  formatDuration,
  pushDefaults,
  pushOptionsSample,
  pushOptionsSchema,
  PUSH_MODES,
  type PushConfig,
  type PushDefaults,
  type PushMode,
} from './schema.js';
export { TcpTransport, type TcpOptions } from './tcp.js';
