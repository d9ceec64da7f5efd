/**
 * StatsD over UDP: the lines of a batch packed into as few datagrams as fit `maxPacketSize`,
 * never splitting a line, lines separated by `\n` (DogStatsD clients' buffering; Etsy statsd and
 * the Datadog agent both split a datagram at every `\n`).
 *
 * UDP has no acknowledgement and the socket is not connected, so a send succeeds as soon as the
 * kernel takes the datagram, whether or not anything listens upstream: an upstream outage is
 * invisible here, nothing is retried, and what was sent meanwhile is lost. Only local failures
 * (no route, no buffer space) reject, and the batch is then retried like any failed send.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { PushTransport, Target } from '../push/push.js';
import type { Payload, PushRecord } from '../push/queue.js';

/**
 * The datagrams for these records (each one or more lines ending in `\n`): lines in order, as
 * many per datagram as fit in `maxPacketSize` bytes, joined by `\n`. A line longer than that
 * goes alone (the encoder leaves such lines out; raw lines are checked before they are queued).
 */
export function packDatagrams(records: readonly PushRecord[], maxPacketSize: number): Buffer[] {
  const out: Buffer[] = [];
  let parts: string[] = [];
  let bytes = 0;
  const flush = (): void => {
    if (parts.length === 0) return;
    out.push(Buffer.from(parts.join('\n'), 'utf8'));
    parts = [];
    bytes = 0;
  };
  for (const record of records) {
    const text = typeof record === 'string' ? record : Buffer.from(record).toString('utf8');
    let pos = 0;
    while (pos < text.length) {
      let eol = text.indexOf('\n', pos);
      if (eol < 0) eol = text.length;
      if (eol > pos) {
        const line = text.slice(pos, eol);
        const size = Buffer.byteLength(line, 'utf8');
        // +1 for the `\n` before it, when the datagram already holds a line.
        if (parts.length > 0 && bytes + 1 + size > maxPacketSize) flush();
        bytes += (parts.length > 0 ? 1 : 0) + size;
        parts.push(line);
      }
      pos = eol + 1;
    }
  }
  flush();
  return out;
}

export class UdpTransport implements PushTransport {
  private socket: dgram.Socket | undefined = undefined;
  private closed = false;

  constructor(
    private readonly target: Target,
    private readonly maxPacketSize: number,
  ) {}

  async send(payload: Payload): Promise<void> {
    if (this.closed) throw new Error('The socket is closed.');
    // The first address only: with no answer from the upstream, nothing says another would be better.
    const address = this.target.addresses[0] as string;
    const socket = (this.socket ??= this.open(net.isIPv6(address) ? 'udp6' : 'udp4'));
    const port = this.target.endpoint.port;
    const datagrams = packDatagrams(payload.records, this.maxPacketSize);
    await Promise.all(
      datagrams.map(
        (d) =>
          new Promise<void>((resolve, reject) => {
            socket.send(d, port, address, (error) => (error === null ? resolve() : reject(error)));
          }),
      ),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    const socket = this.socket;
    this.socket = undefined;
    if (socket === undefined) return;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  private open(type: 'udp4' | 'udp6'): dgram.Socket {
    const socket = dgram.createSocket(type);
    // Errors of a send reach its callback; without a listener an asynchronous one would crash the agent.
    socket.on('error', () => {});
    socket.unref();
    return socket;
  }
}
