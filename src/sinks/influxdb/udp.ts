/**
 * Line protocol over UDP, to InfluxDB 1.x's `[[udp]]` listener (as Bucky3's influxdb_client and
 * Telegraf's `udp://` URLs do): each batch is packed into datagrams of at most `udp_payload`
 * bytes, whole lines only, since the listener parses every datagram on its own.
 *
 * The socket is connected to the endpoint's first address, as Telegraf's (Go's net.Dial) is:
 * the kernel then reports an ICMP "port unreachable" from a host whose listener is down, and
 * the next send fails (and is retried) instead of vanishing. A dead host, a firewall or a
 * full receive buffer on the server stay invisible: UDP loss is counted by the receiver, not
 * the sender.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { PushTransport, Target } from '../push/push.js';
import type { Payload, PushRecord } from '../push/queue.js';

const NEWLINE = 0x0a;

/**
 * Packs newline-terminated lines into datagrams of at most `maxBytes` bytes each, in order,
 * never splitting a line; a line longer than `maxBytes` goes in a datagram of its own. The
 * datagrams, joined, are exactly the records, joined.
 */
export function packDatagrams(records: readonly PushRecord[], maxBytes: number): Buffer[] {
  const out: Buffer[] = [];
  let parts: Buffer[] = [];
  let size = 0;
  const add = (line: Buffer): void => {
    if (size > 0 && size + line.length > maxBytes) {
      out.push(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size));
      parts = [];
      size = 0;
    }
    parts.push(line);
    size += line.length;
  };
  for (const record of records) {
    const buf = typeof record === 'string' ? Buffer.from(record, 'utf8') : Buffer.from(record);
    // Most records are one line: no need to look for more unless it is too long as a whole.
    if (buf.length <= maxBytes) {
      if (size > 0 && size + buf.length <= maxBytes) {
        parts.push(buf);
        size += buf.length;
        continue;
      }
      const first = buf.indexOf(NEWLINE);
      if (first === -1 || first === buf.length - 1) {
        add(buf);
        continue;
      }
    }
    let start = 0;
    while (start < buf.length) {
      const nl = buf.indexOf(NEWLINE, start);
      const end = nl === -1 ? buf.length : nl + 1;
      add(buf.subarray(start, end));
      start = end;
    }
  }
  if (size > 0) out.push(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size));
  return out;
}

export class UdpTransport implements PushTransport {
  private socket: dgram.Socket | undefined = undefined;
  private opening: Promise<dgram.Socket> | undefined = undefined;
  /** An error the socket reported between sends (an ICMP port unreachable, say). */
  private pending: Error | undefined = undefined;
  private closed = false;

  constructor(
    private readonly target: Target,
    private readonly maxPayload: number,
  ) {}

  async send(payload: Payload): Promise<void> {
    if (this.closed) throw new Error('The socket is closed.');
    const socket = await this.open();
    const reported = this.pending;
    if (reported !== undefined) {
      // The socket said the endpoint refused an earlier datagram: report it, start afresh.
      this.pending = undefined;
      this.drop(socket);
      throw reported;
    }
    for (const datagram of packDatagrams(payload.records, this.maxPayload)) {
      await new Promise<void>((resolve, reject) => {
        socket.send(datagram, (error) => {
          if (error === null || error === undefined) resolve();
          else {
            this.drop(socket);
            reject(error);
          }
        });
      });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const socket = this.socket ?? (await this.opening?.catch(() => undefined));
    if (socket !== undefined) this.drop(socket);
  }

  private drop(socket: dgram.Socket): void {
    if (this.socket === socket) this.socket = undefined;
    try {
      socket.close();
    } catch {
      // Already closed.
    }
  }

  private open(): Promise<dgram.Socket> {
    if (this.socket !== undefined) return Promise.resolve(this.socket);
    this.opening ??= new Promise<dgram.Socket>((resolve, reject) => {
      // UDP cannot tell which address answers: the first one, as connect() would pick.
      const address = this.target.addresses[0] as string;
      const socket = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
      const onError = (e: Error): void => {
        socket.close();
        reject(e);
      };
      socket.once('error', onError);
      socket.connect(this.target.endpoint.port, address, () => {
        socket.off('error', onError);
        // Without a listener an asynchronous error would crash the agent.
        socket.on('error', (e) => {
          this.pending = e;
        });
        resolve(socket);
      });
    }).finally(() => {
      this.opening = undefined;
    });
    return this.opening.then((socket) => {
      if (this.closed) {
        socket.close();
        throw new Error('The socket is closed.');
      }
      this.socket = socket;
      return socket;
    });
  }
}
