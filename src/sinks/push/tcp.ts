/**
 * A transport for line protocols over TCP (carbon plaintext, StatsD over TCP): one connection,
 * opened on the first send and reopened on the first send after it broke. Reconnecting needs no
 * timer of its own: the PushSink retries failed sends with backoff, and each retry connects.
 *
 * A send resolves when the socket has handed the bytes to the kernel. Protocols without replies
 * cannot tell more: bytes accepted by the kernel while the server is dying are lost without an
 * error. Checking for the server's FIN before each write (the socket is kept reading for it)
 * keeps that window to the moment of the crash itself.
 */
import net from 'node:net';
import type { Clock } from '../../core/clock.js';
import type { PushTransport, Target } from './push.js';
import type { Payload } from './queue.js';

export interface TcpOptions {
  /**
   * Close a connection once it has been open this long; the next send opens a new one. Spreads
   * load behind a TCP balancer and picks up new addresses (Spoon reconnected every 10 s). 0: never.
   */
  readonly reconnectIntervalMs: number;
  readonly clock: Clock;
}

/** How long close() waits for the FIN handshake before destroying the socket. */
const CLOSE_TIMEOUT_MS = 1000;

class Connection {
  /** The peer closed, or the socket failed: do not write to it again. */
  dead = false;
  constructor(
    readonly socket: net.Socket,
    readonly openedAt: number,
  ) {}
}

export function joinPayload(payload: Payload): string | Buffer {
  let allStrings = true;
  for (const r of payload.records) {
    if (typeof r !== 'string') {
      allStrings = false;
      break;
    }
  }
  if (allStrings) return (payload.records as readonly string[]).join('');
  return Buffer.concat(payload.records.map((r) => (typeof r === 'string' ? Buffer.from(r, 'utf8') : r)));
}

export class TcpTransport implements PushTransport {
  private conn: Connection | undefined = undefined;
  private connecting: net.Socket | undefined = undefined;
  /** The address that worked last is tried first. */
  private preferred = 0;
  private closed = false;

  constructor(
    private readonly target: Target,
    private readonly options: TcpOptions,
  ) {}

  async send(payload: Payload): Promise<void> {
    if (this.closed) throw new Error('The connection is closed.');
    let conn = this.conn;
    if (conn !== undefined) {
      const age = this.options.clock.now() - conn.openedAt;
      if (conn.dead) {
        conn.socket.destroy();
        conn = this.conn = undefined;
      } else if (this.options.reconnectIntervalMs > 0 && age >= this.options.reconnectIntervalMs) {
        conn.socket.end();
        conn = this.conn = undefined;
      }
    }
    conn ??= await this.connect();
    await this.write(conn, joinPayload(payload));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.connecting?.destroy();
    const conn = this.conn;
    this.conn = undefined;
    if (conn === undefined) return;
    const socket = conn.socket;
    if (socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => socket.destroy(), CLOSE_TIMEOUT_MS);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      // end() sends what is queued, then FIN; the peer's FIN completes the close.
      if (conn.dead) socket.destroy();
      else socket.end();
    });
  }

  private async connect(): Promise<Connection> {
    const addresses = this.target.addresses;
    let lastError: unknown = new Error(`${this.target.label} has no address`);
    for (let k = 0; k < addresses.length && !this.closed; k++) {
      const index = (this.preferred + k) % addresses.length;
      try {
        const socket = await this.open(addresses[index] as string);
        this.preferred = index;
        return this.adopt(socket);
      } catch (e) {
        lastError = e;
      }
    }
    throw lastError;
  }

  private open(address: string): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: address, port: this.target.endpoint.port });
      this.connecting = socket;
      const done = (): void => {
        this.connecting = undefined;
        socket.off('connect', onConnect);
        socket.off('error', onError);
        socket.off('close', onClose);
      };
      const onConnect = (): void => {
        done();
        if (this.closed) {
          socket.destroy();
          reject(new Error('The connection is closed.'));
        } else resolve(socket);
      };
      const onError = (e: Error): void => {
        done();
        socket.destroy();
        reject(e);
      };
      const onClose = (): void => {
        done();
        reject(new Error(`The connection to ${address} closed while connecting.`));
      };
      socket.once('connect', onConnect);
      socket.once('error', onError);
      socket.once('close', onClose);
    });
  }

  private adopt(socket: net.Socket): Connection {
    const conn = new Connection(socket, this.options.clock.now());
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const markDead = (): void => {
      conn.dead = true;
    };
    // Without an 'error' listener a reset would crash the agent.
    socket.on('error', markDead);
    socket.on('end', markDead);
    socket.on('close', () => {
      conn.dead = true;
      if (this.conn === conn) this.conn = undefined;
    });
    // Carbon never writes, but reading is what makes its FIN arrive as 'end'.
    socket.resume();
    this.conn = conn;
    return conn;
  }

  private write(conn: Connection, data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = conn.socket;
      let finished = false;
      const onClose = (): void => {
        if (finished) return;
        finished = true;
        reject(new Error(`The connection to ${this.target.label} closed during a send.`));
      };
      socket.once('close', onClose);
      socket.write(data, (error) => {
        socket.off('close', onClose);
        if (finished) return;
        finished = true;
        if (error !== undefined && error !== null) {
          conn.dead = true;
          reject(error);
        } else resolve();
      });
    });
  }
}
