/**
 * Socket listeners shared by the listening sources. Whatever the transport, the source sees one
 * callback, `onDatagram(buf, from)`, with one or more complete newline-separated lines: a UDP or
 * Unix datagram as received (inflated if compressed), or the complete lines a stream read brought,
 * and who sent them.
 *
 * Nothing here waits on the consumer: `onDatagram` runs synchronously on the receive path and
 * must only parse into memory. Every per-connection buffer is bounded (`max_line_bytes` each,
 * `max_connections` of them), and every byte that is dropped is counted with a reason.
 */
import dgram from 'node:dgram';
import { watch as watchDirectory, type FSWatcher } from 'node:fs';
import { chmod, lstat, unlink } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import net from 'node:net';
import type { ComponentContext } from '../../core/component.js';
import type { LogFields } from '../../core/logger.js';
import type { StatCounter, StatGauge } from '../../core/stats.js';
import type { ListenEndpoint, NetworkEndpoint, Transport, UnixEndpoint } from './address.js';
import {
  DECOMPRESS_FAILURES,
  GZIP,
  inflateCapped,
  NOT_COMPRESSED,
  sniffCompression,
  type DecompressFailure,
} from './decompress.js';
import { LineFramer, type Count } from './framing.js';
import { loadNodeUnixSocket, type UnixDgramSocket, type UnixSocketModule } from './unix-socket.js';

export { loadNodeUnixSocket, type UnixDgramSocket, type UnixSocketModule };
import { TRANSPORT_DEFAULTS, type TransportConfig } from './schema.js';
import { watchUdpDrops, type UdpDropWatch } from './udp-drops.js';
import tls from 'node:tls';
import { serverTlsOptions } from '../../config/tls.js';

/**
 * Who sent a buffer: a UDP datagram's source (the object Node made for it anyway), or a string
 * made once per stream connection or per Unix socket. Formatted (senderText) only when a
 * rejected line keeps it, so the receive path pays a pointer per datagram.
 */
export type Sender = dgram.RemoteInfo | string;

/** `udp://[::1]:5000`, `udp://10.0.0.1:5000`, or the string as given. */
export function senderText(from: Sender): string {
  if (typeof from === 'string') return from;
  return from.family === 'IPv6'
    ? `udp://[${from.address}]:${from.port}`
    : `udp://${from.address}:${from.port}`;
}

/** Receives one buffer of complete lines. Runs on the receive path: parse, never block. */
export type OnDatagram = (buf: Buffer, from: Sender) => void;

/** A listener as bound: with the port the system chose when port 0 was asked. */
export interface BoundListener {
  readonly transport: Transport;
  /** Canonical address with the real port, e.g. `tcp://127.0.0.1:40123` or `unix:///run/x.sock`. */
  readonly url: string;
  /** IP address bound (udp, tcp). */
  readonly address?: string;
  readonly port?: number;
  /** Socket file (unixgram, unix). */
  readonly path?: string;
}

export interface ListenerDeps {
  /** Loads `node-unix-socket` (injected by tests to simulate its absence). */
  loadUnixSocket?: () => UnixSocketModule;
  /**
   * Bind udp:// sockets with SO_REUSEPORT, so that several ingest workers share an address and
   * the kernel spreads datagrams over them by a hash of the sender's address and port.
   */
  reusePort?: boolean;
}

/**
 * Datagrams longer than the receive buffer of node-unix-socket (64 KiB - 1) arrive cut to that
 * size, with no flag saying so; one of exactly this length is taken as cut.
 */
const UNIXGRAM_MAX_DATAGRAM = 65_535;
/** How long `stop` lets stream clients finish sending after being asked to close. */
const STOP_DRAIN_MS = 500;
/** At most one warning per kind of drop per this period; counters hold the totals. */
const WARN_INTERVAL_MS = 60_000;

/** A warning logged at most once per `WARN_INTERVAL_MS`, with how many occurrences it covers. */
class RateLimitedWarning {
  private lastAt = -Infinity;
  private since = 0;
  constructor(
    private readonly ctx: ComponentContext,
    private readonly message: string,
    private readonly fields: LogFields,
  ) {}
  hit(occurrences = 1): void {
    this.since += occurrences;
    const now = this.ctx.clock.now();
    if (now - this.lastAt < WARN_INTERVAL_MS) return;
    this.ctx.log.warn(this.message, { ...this.fields, count: this.since });
    this.lastAt = now;
    this.since = 0;
  }
}

interface Listener {
  start(): Promise<void>;
  stop(): Promise<void>;
  bound(): BoundListener | undefined;
}

/** Counts a datagram, inflates it if asked, and hands it on: the receive path of udp and unixgram. */
class DatagramIngest {
  private readonly datagrams: StatCounter;
  private readonly bytes: StatCounter;
  private readonly inflated: StatCounter[];
  private readonly failures: Record<DecompressFailure, StatCounter>;
  private readonly truncated: StatCounter | undefined;
  private readonly tooLargeWarning: RateLimitedWarning;
  private readonly inflate: boolean;
  private readonly maxInflated: number;

  constructor(
    transport: 'udp' | 'unixgram',
    options: TransportConfig,
    private readonly ctx: ComponentContext,
    private readonly onDatagram: OnDatagram,
    /** Length at which a datagram is taken as cut short by the receive buffer; 0 = never. */
    private readonly cutAt: number,
  ) {
    const st = ctx.stats;
    const t = { transport };
    this.datagrams = st.counter('transport_datagrams_received', 'Datagrams received, by transport.', t);
    this.bytes = st.counter('transport_bytes_received', 'Bytes read from sockets, by transport.', t);
    this.inflate = options.decompress === 'auto';
    this.maxInflated = options.max_decompressed_bytes;
    const inflatedHelp = 'Compressed datagrams inflated, by transport and format.';
    this.inflated = this.inflate
      ? [
          st.counter('transport_datagrams_decompressed', inflatedHelp, { ...t, format: 'zlib' }),
          st.counter('transport_datagrams_decompressed', inflatedHelp, { ...t, format: 'gzip' }),
        ]
      : [];
    this.failures = {} as Record<DecompressFailure, StatCounter>;
    if (this.inflate) {
      for (const reason of DECOMPRESS_FAILURES) {
        this.failures[reason] = st.counter(
          'transport_decompress_failures',
          'Datagrams with a compression header that did not inflate: decompressed_too_large (dropped), bad_compression (handed on as plain text).',
          { ...t, reason },
        );
      }
    }
    this.truncated =
      cutAt > 0
        ? st.counter(
            'transport_datagrams_truncated',
            'Datagrams cut by the receive buffer; their unfinished last line is dropped.',
            t,
          )
        : undefined;
    this.tooLargeWarning = new RateLimitedWarning(
      ctx,
      'Dropped compressed datagrams that inflate past max_decompressed_bytes (counted in transport_decompress_failures).',
      { transport, max_decompressed_bytes: options.max_decompressed_bytes },
    );
  }

  receive(raw: Buffer, from: Sender): void {
    this.datagrams.inc();
    this.bytes.inc(raw.length);
    let data = raw;
    if (this.inflate) {
      const kind = sniffCompression(raw);
      if (kind !== NOT_COMPRESSED) {
        const r = inflateCapped(raw, kind, this.maxInflated);
        if (typeof r !== 'string') {
          (this.inflated[kind === GZIP ? 1 : 0] as StatCounter).inc();
          data = r;
        } else {
          this.failures[r].inc();
          if (r === 'decompressed_too_large') {
            this.tooLargeWarning.hit();
            return;
          }
          // bad_compression: maybe a text datagram that starts with "x^"; the parser decides.
        }
      }
    }
    if (data === raw && this.truncated !== undefined && raw.length >= this.cutAt) {
      this.truncated.inc();
      data = raw.subarray(0, Math.max(0, raw.lastIndexOf(0x0a)));
    }
    if (data.length === 0) return;
    try {
      this.onDatagram(data, from);
    } catch (error) {
      this.ctx.fail(error);
    }
  }
}

/** Requests SO_RCVBUF and returns what the kernel granted, warning when it is less. */
function sizeReceiveBuffer(
  socket: { setRecvBufferSize(n: number): void; getRecvBufferSize(): number },
  requested: number,
  ctx: ComponentContext,
  url: string,
): number {
  if (requested > 0) {
    try {
      socket.setRecvBufferSize(requested);
    } catch (error) {
      ctx.log.warn('Could not set the socket receive buffer size.', { address: url, requested, error });
    }
  }
  const effective = socket.getRecvBufferSize();
  // Linux reports twice the size set (the rest is bookkeeping), capped by net.core.rmem_max.
  const expected = process.platform === 'linux' ? 2 * requested : requested;
  if (effective < expected) {
    ctx.log.warn(
      'The socket receive buffer is smaller than receive_buffer_bytes; raise sysctl net.core.rmem_max to get it.',
      // What the kernel gave, in the same unit as what was asked for (not its doubled figure).
      { address: url, requested, granted: effective / (expected / requested) },
    );
  }
  return effective;
}

class UdpListener implements Listener {
  private socket: dgram.Socket | undefined;
  private dropWatch: UdpDropWatch | undefined;

  constructor(
    private readonly endpoint: NetworkEndpoint,
    private readonly options: TransportConfig,
    private readonly ctx: ComponentContext,
    private readonly ingest: DatagramIngest,
    private readonly reusePort = false,
  ) {}

  async start(): Promise<void> {
    const { host, port, family } = this.endpoint;
    // `reusePort` is Node >= 22.12 (older versions ignore the key; callers check the version).
    const options = {
      type: family === 6 ? 'udp6' : 'udp4',
      reusePort: this.reusePort,
    } as dgram.SocketOptions;
    const socket = dgram.createSocket(options);
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => {
        try {
          socket.close();
        } catch {
          // already closed by the failed bind
        }
        reject(new Error(`Could not listen on ${this.endpoint.url}: ${error.message}`, { cause: error }));
      };
      socket.once('error', onError);
      socket.bind({ port, address: host }, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    socket.on('error', (error) => this.ctx.fail(error));
    socket.on('message', (msg, rinfo) => {
      this.ingest.receive(msg, rinfo);
      this.dropWatch?.arrived();
    });
    this.socket = socket;
    const bound = this.bound() as BoundListener;
    const receiveBuffer = sizeReceiveBuffer(socket, this.options.receive_buffer_bytes, this.ctx, bound.url);
    const dropWarning = new RateLimitedWarning(
      this.ctx,
      'The kernel dropped UDP datagrams because the socket receive buffer was full (counted in udp_socket_drops): ' +
        "raise receive_buffer_bytes (Linux caps it at sysctl net.core.rmem_max), or the source's workers option.",
      {
        address: bound.url,
        receive_buffer_bytes: this.options.receive_buffer_bytes,
        // In the unit of receive_buffer_bytes: Linux reports double what it grants for data.
        granted: process.platform === 'linux' ? receiveBuffer / 2 : receiveBuffer,
      },
    );
    const dropWatch = await watchUdpDrops(socket, family, bound.url, this.ctx, {
      onDrops: (dropped) => dropWarning.hit(dropped),
    });
    // A stop that came while the watch was starting has closed the socket already.
    if (this.socket === socket) this.dropWatch = dropWatch;
    else await dropWatch?.stop();
    this.ctx.log.info('Listening.', {
      transport: 'udp',
      address: bound.address,
      port: bound.port,
      receive_buffer_bytes: receiveBuffer,
      decompress: this.options.decompress,
    });
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    if (socket === undefined) return;
    this.socket = undefined;
    // Before the close: the socket's counters go with it.
    await this.dropWatch?.stop();
    this.dropWatch = undefined;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  bound(): BoundListener | undefined {
    if (this.socket === undefined) return undefined;
    const a = this.socket.address();
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return { transport: 'udp', url: `udp://${host}:${a.port}`, address: a.address, port: a.port };
  }
}

/** The filesystem side of a Unix socket listener: stale files, permissions, cleanup. */
class SocketFile {
  /** Inode of the file this listener bound, so `remove` never deletes someone else's. */
  private ino = -1;
  private watcher: FSWatcher | undefined;
  private readonly recreated: StatCounter;
  private rebinding = false;

  constructor(
    private readonly url: string,
    readonly path: string,
    private readonly ctx: ComponentContext,
    private readonly isLive: () => Promise<boolean>,
  ) {
    this.recreated = ctx.stats.counter(
      'unix_socket_recreated',
      'Times a Unix socket file was found deleted or replaced and the listener bound a new one.',
      { listener: url },
    );
  }

  /**
   * Clears the way for bind: removes a socket file no process listens on (left by a crash),
   * refuses to touch a live socket or a file that is not a socket.
   */
  async prepare(): Promise<void> {
    let st;
    try {
      st = await lstat(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    if (!st.isSocket()) throw new Error(`${this.path} exists and is not a socket; not replacing it.`);
    if (await this.isLive()) throw new Error(`${this.path} is in use: another process is listening on it.`);
    await unlink(this.path);
    this.ctx.log.debug('Removed a stale socket file.', { path: this.path });
  }

  /** After bind: sets the file's mode and remembers which file is ours. */
  async claim(mode: number): Promise<void> {
    await chmod(this.path, mode);
    this.ino = (await lstat(this.path)).ino;
  }

  /**
   * Calls `rebind` when the bound file is deleted or replaced (a cleanup script, a tmpfiles
   * rule, a second process that unlinked it): the socket then still works, but no client can
   * reach it by its path, so the listener binds a new one there (logged and counted; a failure
   * fails the source). Watches the directory with inotify, so an idle agent pays nothing.
   */
  watch(rebind: () => Promise<void>): void {
    this.unwatch();
    const name = basename(this.path);
    try {
      const watcher = watchDirectory(dirname(this.path), (_event, file) => {
        if (file !== null && file !== name) return;
        void this.stillOurs().then((ours) => {
          if (!ours && this.watcher === watcher) void this.recreate(rebind);
        });
      });
      watcher.on('error', (error) => {
        this.ctx.log.debug('Stopped watching the socket file.', { path: this.path, error });
        if (this.watcher === watcher) this.unwatch();
      });
      watcher.unref();
      this.watcher = watcher;
    } catch (error) {
      this.ctx.log.debug('Cannot watch the socket file; its removal would go unnoticed.', {
        path: this.path,
        error,
      });
    }
  }

  unwatch(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  private async recreate(rebind: () => Promise<void>): Promise<void> {
    if (this.rebinding) return;
    this.rebinding = true;
    this.recreated.inc();
    this.ctx.log.warn(
      'The socket file was removed or replaced; listening on a new one (counted in unix_socket_recreated).',
      { address: this.url },
    );
    try {
      await rebind();
    } catch (error) {
      this.ctx.fail(error);
    } finally {
      this.rebinding = false;
    }
  }

  private async stillOurs(): Promise<boolean> {
    if (this.ino < 0) return true;
    try {
      return (await lstat(this.path)).ino === this.ino;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code !== 'ENOENT';
    }
  }

  /** Deletes the socket file if it is still the one this listener created. */
  async remove(): Promise<void> {
    this.unwatch();
    if (this.ino < 0) return;
    const ino = this.ino;
    this.ino = -1;
    try {
      if ((await lstat(this.path)).ino === ino) await unlink(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        this.ctx.log.warn('Could not remove the socket file.', { path: this.path, error });
    }
  }
}

class UnixDgramListener implements Listener {
  private socket: UnixDgramSocket | undefined;
  private readonly file: SocketFile;
  private module: UnixSocketModule | undefined;

  constructor(
    private readonly endpoint: UnixEndpoint,
    private readonly options: TransportConfig,
    private readonly ctx: ComponentContext,
    private readonly ingest: DatagramIngest,
    private readonly load: () => UnixSocketModule,
  ) {
    this.file = new SocketFile(endpoint.url, endpoint.path, ctx, () => this.probe());
  }

  async start(): Promise<void> {
    this.module = this.load();
    await this.file.prepare();
    const socket = new this.module.DgramSocket();
    try {
      socket.bind(this.endpoint.path);
    } catch (error) {
      socket.close();
      throw new Error(`Could not listen on ${this.endpoint.url}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    try {
      await this.file.claim(this.options.socket_mode);
    } catch (error) {
      socket.close();
      await this.file.remove();
      throw error;
    }
    // Unix datagram peers are mostly unbound (no address): the socket names them.
    const from = this.endpoint.url;
    socket.on('data', (buf) => this.ingest.receive(buf, from));
    socket.on('error', (error) => this.ctx.fail(error));
    this.socket = socket;
    const receiveBuffer = sizeReceiveBuffer(
      socket,
      this.options.receive_buffer_bytes,
      this.ctx,
      this.endpoint.url,
    );
    this.ctx.log.info('Listening.', {
      transport: 'unixgram',
      address: this.endpoint.url,
      path: this.endpoint.path,
      mode: this.options.socket_mode.toString(8).padStart(4, '0'),
      receive_buffer_bytes: receiveBuffer,
      decompress: this.options.decompress,
    });
    this.file.watch(async () => {
      // The socket file was deleted or replaced: a new socket at the same path.
      this.socket?.close();
      this.socket = undefined;
      await this.start();
    });
  }

  async stop(): Promise<void> {
    this.file.unwatch();
    const socket = this.socket;
    if (socket === undefined) return;
    this.socket = undefined;
    socket.close();
    await this.file.remove();
  }

  bound(): BoundListener | undefined {
    if (this.socket === undefined) return undefined;
    return { transport: 'unixgram', url: this.endpoint.url, path: this.endpoint.path };
  }

  /** A datagram socket is live if an empty datagram to it is accepted (ECONNREFUSED if not). */
  private probe(): Promise<boolean> {
    const client = new (this.module as UnixSocketModule).DgramSocket();
    return new Promise<boolean>((resolve) => {
      const done = (live: boolean): void => {
        client.close();
        resolve(live);
      };
      try {
        client.sendTo(Buffer.alloc(0), 0, 0, this.endpoint.path, (error) =>
          done(error === undefined || error === null || !/refused/i.test(error.message)),
        );
      } catch (error) {
        done(!/refused/i.test((error as Error).message));
      }
    });
  }
}

/** A stream socket is live if a connection to it succeeds. */
function probeStream(path: string): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = net.connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.destroy();
      resolve(error.code !== 'ECONNREFUSED' && error.code !== 'ENOENT');
    });
  });
}

/**
 * How long a connection must have been silent before it may be shed to make room for a new one.
 * Long enough that a client between two writes of a steady stream is not taken for idle (StatsD
 * clients flush at least every second or so when they have data), short enough that a flood of
 * silent connections cannot hold the slots against a newcomer for long.
 */
const SHED_GRACE_MS = 1000;

class StreamStats {
  readonly bytes: StatCounter;
  readonly accepted: StatCounter;
  readonly refused: StatCounter;
  readonly shed: StatCounter;
  readonly open: StatGauge;
  readonly idleClosed: StatCounter;
  readonly errors: StatCounter;
  readonly tlsFailures: StatCounter;
  readonly partialDropped: StatCounter;
  readonly oversized: Count;

  constructor(transport: 'tcp' | 'unix', options: TransportConfig, ctx: ComponentContext) {
    const st = ctx.stats;
    const t = { transport };
    this.bytes = st.counter('transport_bytes_received', 'Bytes read from sockets, by transport.', t);
    this.accepted = st.counter('transport_connections_accepted', 'Stream connections accepted.', t);
    this.refused = st.counter(
      'transport_connections_refused',
      'Stream connections closed at once because max_connections were open and every open one had received data within the last second.',
      t,
    );
    this.shed = st.counter(
      'transport_connections_shed',
      'Stream connections closed to make room for a new one because every slot (max_connections) was taken; the idlest was closed.',
      t,
    );
    this.open = st.gauge('transport_connections_open', 'Stream connections open now.', t);
    this.idleClosed = st.counter(
      'transport_connections_idle_closed',
      'Stream connections closed after idle_timeout without data.',
      t,
    );
    this.errors = st.counter('transport_connection_errors', 'Stream connections ended by a socket error.', t);
    this.tlsFailures = st.counter(
      'transport_tls_handshake_failures',
      'TLS connections to a tcp:// listener closed because their handshake failed (no or an unaccepted client certificate, not TLS at all).',
      t,
    );
    this.partialDropped = st.counter(
      'transport_partial_lines_dropped',
      'Unfinished lines dropped because their connection was cut (error, idle timeout, shed, shutdown).',
      t,
    );
    const oversized = st.counter(
      'transport_lines_oversized',
      'Stream lines longer than max_line_bytes, dropped.',
      t,
    );
    const warning = new RateLimitedWarning(
      ctx,
      'Dropped lines longer than max_line_bytes (counted in transport_lines_oversized).',
      { transport, max_line_bytes: options.max_line_bytes },
    );
    this.oversized = {
      inc: () => {
        oversized.inc();
        warning.hit();
      },
    };
  }
}

/**
 * A read this small that ends no line is a trickle (a client writing a few bytes at a time).
 * Each read costs Node tens of microseconds whatever it brings (libuv, the stream machinery, a
 * callback), so a 1 MiB line written a byte at a time cost one read per few bytes. A trickling
 * socket therefore stops reading for a while so the kernel gathers the next bytes into one read:
 * TRICKLE_PAUSE_MS after the first trickle read of a line, doubling with each further one up to
 * TRICKLE_PAUSE_MAX_MS, back to none when a line ends. A line written a byte at a time then
 * costs a few hundred reads however long it is, and a client that sends whole lines, or writes
 * big pieces, never waits. The pause throttles only the trickler: while it waits its bytes fill
 * its own socket buffer and TCP's window holds it back.
 */
const TRICKLE_BYTES = 512;
const TRICKLE_PAUSE_MS = 2;
const TRICKLE_PAUSE_MAX_MS = 64;
/**
 * The accepted sockets' readable high-water mark. Node's `pause()` alone only stops emitting:
 * libuv keeps reading into the stream's buffer until that buffer holds highWaterMark bytes
 * (16-64 KiB), one small read at a time. With a mark of one byte the first read while paused
 * fills it and Node stops reading the socket until `resume()`; a flowing socket is unaffected,
 * since its buffer is empty after each 'data'.
 */
const READ_HIGH_WATER_MARK = 1;

class Connection {
  readonly framer: LineFramer;
  /** Paused after a trickle read (see TRICKLE_BYTES), resumed by this timer. */
  resumeTimer: ReturnType<typeof setTimeout> | undefined;
  /** The next trickle pause; TRICKLE_PAUSE_MS again once a line ends. */
  tricklePauseMs = TRICKLE_PAUSE_MS;
  constructor(
    readonly socket: net.Socket,
    /** `tcp://peer:port`, or the listener's `unix://` address (Unix peers have none). */
    readonly from: string,
    maxLineBytes: number,
    oversized: Count,
    /** When its last bytes arrived (or it was accepted): the idlest is shed first when full. */
    public lastDataAt: number,
  ) {
    this.framer = new LineFramer(maxLineBytes, oversized);
  }
}

/**
 * tcp:// and unix://: newline-delimited streams, framed into buffers of complete lines.
 *
 * When all `max_connections` slots are taken, a newcomer sheds the connection that has been
 * silent longest, if that one has been silent for SHED_GRACE_MS at least; otherwise the newcomer
 * is refused. Refusing newcomers alone (what Node's `server.maxConnections` does) let a client
 * holding idle connections lock everyone else out for up to `idle_timeout`. A per-address cap
 * does not help when every client comes through one NAT or from localhost (the usual case for a
 * local agent), and a shorter idle timeout when full still locks newcomers out until it fires
 * and closes connections that would have sent again. Shedding the idlest costs a silent client
 * its connection, which StatsD clients re-open when they next write; a busy one keeps its slot.
 */
class StreamListener implements Listener {
  private server: net.Server | undefined;
  /** Ordered by last data received, idlest first: a connection moves to the back on each read. */
  private readonly connections = new Set<Connection>();
  private readonly file: SocketFile | undefined;
  private readonly stats: StreamStats;
  private readonly refusedWarning: RateLimitedWarning;
  private readonly shedWarning: RateLimitedWarning;
  private onAllClosed: (() => void) | undefined;

  constructor(
    private readonly endpoint: NetworkEndpoint | UnixEndpoint,
    private readonly options: TransportConfig,
    private readonly ctx: ComponentContext,
    private readonly onDatagram: OnDatagram,
  ) {
    const transport = endpoint.transport === 'unix' ? 'unix' : 'tcp';
    this.stats = new StreamStats(transport, options, ctx);
    this.file =
      endpoint.transport === 'unix'
        ? new SocketFile(endpoint.url, endpoint.path, ctx, () => probeStream(endpoint.path))
        : undefined;
    this.refusedWarning = new RateLimitedWarning(
      ctx,
      'Refused connections beyond max_connections: every open one had received data within the last second (counted in transport_connections_refused).',
      { transport, max_connections: options.max_connections },
    );
    this.shedWarning = new RateLimitedWarning(
      ctx,
      'Closed the idlest connections to make room for new ones: all max_connections were open (counted in transport_connections_shed). Raise max_connections, or lower idle_timeout if idle clients hold the slots.',
      { transport, max_connections: options.max_connections, idle_timeout: options.idle_timeout },
    );
  }

  async start(): Promise<void> {
    // No server.maxConnections: Node would refuse a newcomer before sluice could shed an idle one.
    const tlsOptions = this.endpoint.transport === 'tcp' ? serverTlsOptions(this.options.tls) : undefined;
    let server: net.Server;
    if (tlsOptions === undefined) {
      server = net.createServer({ highWaterMark: READ_HIGH_WATER_MARK });
      server.on('connection', (socket) => this.accept(socket));
    } else {
      // Only connections that finish the handshake (a client certificate of client_ca_file,
      // when asked for) count as connections; the others are counted and closed.
      server = tls.createServer({ ...tlsOptions, highWaterMark: READ_HIGH_WATER_MARK });
      server.on('secureConnection', (socket: tls.TLSSocket) => this.accept(socket));
      server.on('tlsClientError', (_error, socket) => {
        this.stats.tlsFailures.inc();
        socket.destroy();
      });
    }
    await this.file?.prepare();
    const e = this.endpoint;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void =>
        reject(new Error(`Could not listen on ${e.url}: ${error.message}`, { cause: error }));
      server.once('error', onError);
      const done = (): void => {
        server.off('error', onError);
        resolve();
      };
      if ('path' in e) server.listen(e.path, done);
      else server.listen({ host: e.host, port: e.port }, done);
    });
    if (this.file !== undefined) {
      try {
        await this.file.claim(this.options.socket_mode);
      } catch (error) {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        throw error;
      }
    }
    server.on('error', (error) => this.ctx.fail(error));
    this.server = server;
    const b = this.bound() as BoundListener;
    const fields: LogFields =
      b.path !== undefined
        ? {
            transport: b.transport,
            address: b.url,
            path: b.path,
            mode: this.options.socket_mode.toString(8).padStart(4, '0'),
          }
        : { transport: b.transport, address: b.address, port: b.port };
    fields.max_connections = this.options.max_connections;
    fields.max_line_bytes = this.options.max_line_bytes;
    this.ctx.log.info('Listening.', fields);
    // The socket file was deleted or replaced: listen on a new one at the same path.
    // Connections already open keep working (they do not need the path); the old server stops
    // accepting.
    this.file?.watch(async () => {
      this.server?.close();
      this.server = undefined;
      await this.start();
    });
  }

  /**
   * Stops accepting, asks each client to finish (a FIN; a client that closes in turn has its
   * last line delivered), waits up to STOP_DRAIN_MS for data still in flight, then cuts what is
   * left. Unfinished lines of cut connections are counted in transport_partial_lines_dropped.
   */
  async stop(): Promise<void> {
    this.file?.unwatch();
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.connections.size > 0) {
      // Resolved by the last connection's 'close' handler, so every count is final after it.
      const allClosed = new Promise<void>((resolve) => {
        this.onAllClosed = resolve;
      });
      for (const c of this.connections) c.socket.end();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        allClosed,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, STOP_DRAIN_MS);
        }),
      ]);
      clearTimeout(timer);
      for (const c of this.connections) c.socket.destroy();
      await allClosed;
      this.onAllClosed = undefined;
    }
    await closed;
    await this.file?.remove();
  }

  bound(): BoundListener | undefined {
    if (this.server === undefined) return undefined;
    if (this.endpoint.transport === 'unix')
      return { transport: 'unix', url: this.endpoint.url, path: this.endpoint.path };
    const a = this.server.address() as net.AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return { transport: 'tcp', url: `tcp://${host}:${a.port}`, address: a.address, port: a.port };
  }

  private accept(socket: net.Socket): void {
    const now = this.ctx.clock.now();
    if (this.connections.size >= this.options.max_connections && !this.shedIdlest(now)) {
      this.stats.refused.inc();
      this.refusedWarning.hit();
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    const from =
      socket.remoteAddress === undefined
        ? this.endpoint.url
        : net.isIPv6(socket.remoteAddress)
          ? `tcp://[${socket.remoteAddress}]:${socket.remotePort}`
          : `tcp://${socket.remoteAddress}:${socket.remotePort}`;
    const conn = new Connection(socket, from, this.options.max_line_bytes, this.stats.oversized, now);
    this.connections.add(conn);
    this.stats.accepted.inc();
    this.stats.open.set(this.connections.size);
    if (this.options.idle_timeout > 0) socket.setTimeout(this.options.idle_timeout);
    socket.on('data', (chunk: Buffer) => {
      this.stats.bytes.inc(chunk.length);
      // Back of the line: delete + add keeps the set in order of last data at O(1) a read.
      if (this.connections.delete(conn)) this.connections.add(conn);
      conn.lastDataAt = this.ctx.clock.now();
      const lines = conn.framer.push(chunk);
      if (lines !== undefined) {
        conn.tricklePauseMs = TRICKLE_PAUSE_MS;
        this.deliver(lines, conn.from);
      } else if (chunk.length < TRICKLE_BYTES && conn.resumeTimer === undefined) {
        socket.pause();
        conn.resumeTimer = setTimeout(() => {
          conn.resumeTimer = undefined;
          socket.resume();
        }, conn.tricklePauseMs);
        conn.tricklePauseMs = Math.min(conn.tricklePauseMs * 2, TRICKLE_PAUSE_MAX_MS);
      }
    });
    socket.on('end', () => {
      const last = conn.framer.end();
      if (last !== undefined) this.deliver(last, conn.from);
    });
    socket.on('timeout', () => {
      this.stats.idleClosed.inc();
      socket.destroy();
    });
    socket.on('error', (error) => {
      this.stats.errors.inc();
      this.ctx.log.debug('Connection error.', {
        transport: this.endpoint.transport,
        remote: socket.remoteAddress,
        remote_port: socket.remotePort,
        error,
      });
    });
    socket.on('close', () => {
      clearTimeout(conn.resumeTimer);
      if (conn.framer.drop() > 0) this.stats.partialDropped.inc();
      this.connections.delete(conn);
      this.stats.open.set(this.connections.size);
      if (this.connections.size === 0) this.onAllClosed?.();
    });
  }

  /**
   * Closes the idlest connection to free a slot, if it has been silent for SHED_GRACE_MS;
   * returns whether it did. It leaves the set at once, so the slot is free before its 'close'.
   */
  private shedIdlest(now: number): boolean {
    const idlest = this.connections.values().next().value;
    if (idlest === undefined || now - idlest.lastDataAt < SHED_GRACE_MS) return false;
    this.connections.delete(idlest);
    if (idlest.framer.drop() > 0) this.stats.partialDropped.inc();
    this.stats.shed.inc();
    this.shedWarning.hit();
    idlest.socket.destroy();
    return true;
  }

  private deliver(lines: Buffer, from: string): void {
    try {
      this.onDatagram(lines, from);
    } catch (error) {
      this.ctx.fail(error);
    }
  }
}

/** A set of listeners started and stopped together, all feeding one `onDatagram`. */
export class Listeners {
  private readonly listeners: Listener[];
  private started: Listener[] = [];

  constructor(
    endpoints: readonly ListenEndpoint[],
    options: Partial<TransportConfig>,
    ctx: ComponentContext,
    onDatagram: OnDatagram,
    deps: ListenerDeps = {},
  ) {
    const opts: TransportConfig = { ...TRANSPORT_DEFAULTS, ...options };
    const load = deps.loadUnixSocket ?? loadNodeUnixSocket;
    let udp: DatagramIngest | undefined;
    let unixgram: DatagramIngest | undefined;
    this.listeners = endpoints.map((e): Listener => {
      switch (e.transport) {
        case 'udp':
          udp ??= new DatagramIngest('udp', opts, ctx, onDatagram, 0);
          return new UdpListener(e, opts, ctx, udp, deps.reusePort === true);
        case 'unixgram':
          unixgram ??= new DatagramIngest('unixgram', opts, ctx, onDatagram, UNIXGRAM_MAX_DATAGRAM);
          return new UnixDgramListener(e, opts, ctx, unixgram, load);
        case 'tcp':
        case 'unix':
          return new StreamListener(e, opts, ctx, onDatagram);
      }
    });
  }

  /** Binds every address, in order. If one fails, those already bound are closed and it rejects. */
  async start(): Promise<void> {
    if (this.started.length > 0) return;
    const started: Listener[] = [];
    try {
      for (const l of this.listeners) {
        await l.start();
        started.push(l);
      }
    } catch (error) {
      await Promise.allSettled(started.map((l) => l.stop()));
      throw error;
    }
    this.started = started;
  }

  /** Closes every listener; stream clients get STOP_DRAIN_MS to finish what they were sending. */
  async stop(): Promise<void> {
    const started = this.started;
    this.started = [];
    const results = await Promise.allSettled(started.map((l) => l.stop()));
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }

  /** The bound listeners, in the order of the addresses (empty before `start`). */
  bound(): BoundListener[] {
    const out: BoundListener[] = [];
    for (const l of this.started) {
      const b = l.bound();
      if (b !== undefined) out.push(b);
    }
    return out;
  }
}

export function createListeners(
  endpoints: readonly ListenEndpoint[],
  options: Partial<TransportConfig>,
  ctx: ComponentContext,
  onDatagram: OnDatagram,
  deps: ListenerDeps = {},
): Listeners {
  return new Listeners(endpoints, options, ctx, onDatagram, deps);
}
