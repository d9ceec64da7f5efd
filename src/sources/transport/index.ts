/**
 * The transport layer of the listening sources (StatsD, JSON over UDP): where they listen and
 * how bytes become buffers of complete lines. Not a component: a library the sources share, so
 * every listening source accepts the same addresses (UDP v4/v6, TCP, Unix datagram and stream
 * sockets, as DogStatsD offers), with the same limits, counters and compressed datagrams.
 *
 * A source adds `listen: listenSchema({ default: '127.0.0.1:<port>' })` and
 * `...transportOptionsSchema` to its config schema, then calls
 * `createListeners(config.listen, config, ctx, (buf) => parser.parse(buf, sink))`.
 */
export {
  listenSchema,
  parseListenAddress,
  parseListenAddresses,
  LISTEN_EXPECTED,
  MAX_UNIX_PATH_BYTES,
  TRANSPORTS,
  type AddressResult,
  type ListenEndpoint,
  type NetworkEndpoint,
  type Transport,
  type UnixEndpoint,
} from './address.js';
export { inflateCapped, sniffCompression, type Compression, type DecompressFailure } from './decompress.js';
export { LineFramer, type Count } from './framing.js';
export {
  createListeners,
  Listeners,
  loadNodeUnixSocket,
  type BoundListener,
  type ListenerDeps,
  senderText,
  type OnDatagram,
  type Sender,
  type UnixDgramSocket,
  type UnixSocketModule,
} from './listeners.js';
export {
  DECOMPRESS_MODES,
  parseSocketMode,
  TRANSPORT_DEFAULTS,
  transportOptionsSchema,
  transportSample,
  type DecompressMode,
  type TransportConfig,
} from './schema.js';
export { AggregatingListener, sameSockets } from './aggregating.js';
