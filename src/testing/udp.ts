/** UDP helpers for end-to-end tests: paced senders and the kernel's per-socket counters. */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface UdpSocketStats {
  /** Bytes queued in the receive buffer, not yet read by the process. */
  readonly rxQueue: number;
  /** Datagrams the kernel dropped because the receive buffer was full. */
  readonly drops: number;
}

/**
 * The kernel's view of the socket bound to `port` (see proc(5), /proc/net/udp): the receive
 * queue and the drop counter. Every datagram lost to a full buffer shows up in `drops`.
 */
export function udpSocketStats(port: number, file = '/proc/net/udp'): UdpSocketStats | undefined {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols[1]?.endsWith(hexPort) !== true) continue;
    const [, rx] = (cols[4] ?? '0:0').split(':');
    return { rxQueue: parseInt(rx ?? '0', 16), drops: Number(cols[12] ?? 0) };
  }
  return undefined;
}

/** Resolves once the receiver has read everything queued on its socket (bounded). */
export async function waitForUdpDrain(port: number, timeoutMs = 10_000): Promise<UdpSocketStats> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const stats = udpSocketStats(port);
    if (stats !== undefined && stats.rxQueue === 0) return stats;
    if (Date.now() > end) throw new Error(`UDP port ${port} still has queued data: ${JSON.stringify(stats)}`);
    await sleep(10);
  }
}

/**
 * Sends `lines` to 127.0.0.1:`port`, `perDatagram` lines per datagram, at about `linesPerSecond`
 * (paced in 10 ms slices so the receiver is never flooded beyond the requested rate).
 */
export async function sendStatsd(
  port: number,
  lines: readonly string[],
  options: { perDatagram?: number; linesPerSecond?: number } = {},
): Promise<void> {
  const perDatagram = options.perDatagram ?? 1;
  const rate = options.linesPerSecond ?? 20_000;
  const socket = dgram.createSocket('udp4');
  try {
    const datagrams: Buffer[] = [];
    for (let i = 0; i < lines.length; i += perDatagram) {
      datagrams.push(Buffer.from(lines.slice(i, i + perDatagram).join('\n')));
    }
    const perSlice = Math.max(1, Math.round(rate / 100 / perDatagram));
    const start = Date.now();
    for (let i = 0; i < datagrams.length; i += perSlice) {
      await Promise.all(
        datagrams
          .slice(i, i + perSlice)
          .map(
            (d) =>
              new Promise<void>((resolve, reject) =>
                socket.send(d, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
              ),
          ),
      );
      const due = start + ((i + perSlice) / perSlice) * 10;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
    }
  } finally {
    socket.close();
  }
}
