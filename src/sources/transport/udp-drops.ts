/**
 * Makes the datagrams the kernel drops for a UDP listener visible. When a socket's receive buffer
 * is full, Linux discards the next datagram before any process sees it, and only counts it: in
 * the socket's row of /proc/net/udp (or udp6), found by the socket's inode. This reads that row
 * and turns it into stats, within a second of datagrams arriving (drops only happen while they
 * do: a socket drops when its buffer is full, and a full buffer is read afterwards) and once
 * more at stop. An idle listener reads nothing and sets no timer: each wakeup of an idle agent
 * costs CPU. Linux only; anywhere else, or if any step fails, it
 * turns itself off with a debug line, because losing visibility must never cost the listener.
 */
import type dgram from 'node:dgram';
import { readFile, readlink } from 'node:fs/promises';
import type { ComponentContext } from '../../core/component.js';
import type { StatCounter, StatGauge } from '../../core/stats.js';
import { findUdpSocket, type UdpSocketQueue } from './proc-net-udp.js';

/** How long after a datagram arrives the kernel's counters are read (at most once per period). */
export const UDP_DROPS_POLL_MS = 1000;
/** The kernel prints its drop counter as an unsigned 32-bit integer, which wraps. */
const DROPS_MODULUS = 2 ** 32;

export interface UdpDropWatchOptions {
  /** Called with the number of datagrams newly dropped, after they are counted. */
  onDrops(dropped: number): void;
  /** Test seams. */
  platform?: NodeJS.Platform;
  readTable?: (path: string) => Promise<string>;
  inodeOf?: (socket: dgram.Socket) => Promise<number>;
  pollMs?: number;
}

/**
 * Starts watching a bound socket's drops, counting any it already had. Returns undefined (after a
 * debug line saying why) when they cannot be watched; never throws.
 */
export async function watchUdpDrops(
  socket: dgram.Socket,
  family: 4 | 6,
  url: string,
  ctx: ComponentContext,
  options: UdpDropWatchOptions,
): Promise<UdpDropWatch | undefined> {
  const platform = options.platform ?? process.platform;
  if (platform !== 'linux') {
    ctx.log.debug('Not counting UDP datagrams dropped by the kernel: that needs /proc/net/udp (Linux).', {
      address: url,
      platform,
    });
    return undefined;
  }
  const table = family === 6 ? '/proc/net/udp6' : '/proc/net/udp';
  const readTable = options.readTable ?? ((path: string) => readFile(path, 'latin1'));
  let inode: number;
  let first: UdpSocketQueue | undefined;
  try {
    inode = await (options.inodeOf ?? socketInode)(socket);
    first = findUdpSocket(await readTable(table), inode);
    if (first === undefined) throw new Error(`socket inode ${inode} is not in ${table}`);
  } catch (error) {
    ctx.log.debug('Not counting UDP datagrams dropped by the kernel.', { address: url, error });
    return undefined;
  }
  const labels = { listener: url };
  const drops = ctx.stats.counter(
    'udp_socket_drops',
    'Datagrams the kernel dropped because the socket receive buffer was full, per UDP listener (Linux).',
    labels,
  );
  const queue = ctx.stats.gauge(
    'udp_receive_queue_bytes',
    'Bytes waiting in the socket receive buffer now, as the kernel counts them (with its per-datagram overhead), per UDP listener (Linux).',
    labels,
  );
  const watch = new UdpDropWatch(
    table,
    inode,
    url,
    ctx,
    drops,
    queue,
    readTable,
    options.onDrops,
    options.pollMs ?? UDP_DROPS_POLL_MS,
  );
  watch.record(first);
  return watch;
}

export class UdpDropWatch {
  /** The kernel's counter at the last read; a new socket's starts at 0. */
  private lastDrops = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private reading: Promise<void> | undefined;
  private off = false;
  private readonly poll = (): void => {
    this.timer = undefined;
    this.tick();
  };

  constructor(
    private readonly table: string,
    private readonly inode: number,
    private readonly url: string,
    private readonly ctx: ComponentContext,
    private readonly drops: StatCounter,
    private readonly queue: StatGauge,
    private readonly readTable: (path: string) => Promise<string>,
    private readonly onDrops: (dropped: number) => void,
    private readonly pollMs: number,
  ) {}

  /** Datagrams arrived: read the counters within pollMs. Called for every datagram; cheap. */
  arrived(): void {
    if (this.timer !== undefined || this.off) return;
    this.timer = setTimeout(this.poll, this.pollMs);
    // Watching must never be what keeps the process alive.
    this.timer.unref();
  }

  /**
   * Stops polling after one last read, so drops up to now are counted. Call it before closing
   * the socket: its row leaves the table with it.
   */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.reading;
    if (!this.off) await this.read();
    this.off = true;
    this.queue.set(0);
  }

  record(now: UdpSocketQueue): void {
    this.queue.set(now.rxQueueBytes);
    const dropped = (now.drops - this.lastDrops + DROPS_MODULUS) % DROPS_MODULUS;
    this.lastDrops = now.drops;
    if (dropped > 0) {
      this.drops.inc(dropped);
      this.onDrops(dropped);
    }
  }

  private tick(): void {
    // A slow read (a huge table on a busy host) is not stacked on by the next tick.
    if (this.reading !== undefined || this.off) return;
    this.reading = this.read().finally(() => {
      this.reading = undefined;
    });
  }

  private async read(): Promise<void> {
    try {
      const now = findUdpSocket(await this.readTable(this.table), this.inode);
      if (now === undefined) throw new Error(`socket inode ${this.inode} is no longer in ${this.table}`);
      this.record(now);
    } catch (error) {
      this.off = true;
      clearTimeout(this.timer);
      this.ctx.log.debug('Stopped counting UDP datagrams dropped by the kernel.', {
        address: this.url,
        error,
      });
    }
  }
}

/** The inode of a socket's file descriptor, from /proc/self/fd (Linux). */
export async function socketInode(socket: dgram.Socket): Promise<number> {
  const fd = dgramSocketFd(socket);
  if (fd === undefined) throw new Error("this Node version does not expose a UDP socket's file descriptor");
  const link = await readlink(`/proc/self/fd/${fd}`);
  const match = /^socket:\[(\d+)\]$/.exec(link);
  if (match === null) throw new Error(`file descriptor ${fd} is ${link}, not a socket`);
  return Number(match[1]);
}

/**
 * The file descriptor of a bound dgram socket, or undefined. `socket._handle.fd` has it, but the
 * `_handle` getter prints a DEP0112 deprecation warning (Node 20, 22 and 24). The same handle sits
 * in the socket's internal state, under a symbol whose getter warns about nothing.
 */
export function dgramSocketFd(socket: dgram.Socket): number | undefined {
  for (const key of Object.getOwnPropertySymbols(socket)) {
    if (key.description !== 'state symbol') continue;
    const handle = property(property(socket, key), 'handle');
    const fd = property(handle, 'fd');
    if (typeof fd === 'number' && fd >= 0) return fd;
  }
  return undefined;
}

function property(target: unknown, key: string | symbol): unknown {
  return typeof target === 'object' && target !== null ? Reflect.get(target, key) : undefined;
}
