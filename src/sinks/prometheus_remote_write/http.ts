/**
 * The remote-write transport: one HTTP(S) POST per batch, the batch's entries joined into one
 * WriteRequest and snappy-compressed, with the headers remote write 1.0 requires. The status
 * decides what PushSink does with the batch (spec, "Retries & Backoff"): 2xx delivered; 5xx and
 * 429 retried with backoff; any other 4xx (a malformed or refused batch) dropped and counted,
 * since sending it again would fail again.
 *
 * One transport per URL (PushSink's endpoint, which carries it). The connection goes to the
 * addresses PushSink resolved (so it follows DNS changes) while the Host header, and TLS's server
 * name, stay the URL's host. One keep-alive socket per endpoint, as PushSink sends one batch at a
 * time; `close` destroys it, and with it a request in flight.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { joinEntries } from '../../protocols/remote_write/protobuf.js';
import { snappyCompress } from '../../protocols/remote_write/snappy.js';
import { PushRejected, type PushTransport, type Target } from '../push/push.js';
import type { Payload } from '../push/queue.js';
import type { RemoteWriteUrl } from './schema.js';

export interface HttpTransportOptions {
  /** Every header of the request, the protocol's and the user's, authorization included. */
  readonly headers: Readonly<Record<string, string>>;
  /** For https:// URLs: CAs, client certificate, expected server name (config/tls.ts). */
  readonly tls?: ConnectionOptions | undefined;
}

/** Bytes of an error response's body kept for the log line. */
const ERROR_BODY_BYTES = 512;

/** A failure the server reported, with its status (retried or not, as the status says). */
export class HttpStatusError extends Error {
  override readonly name = 'HttpStatusError';
  constructor(
    readonly status: number,
    body: string,
  ) {
    super(`HTTP ${status}${body === '' ? '' : `: ${body}`}`);
  }
}

function toBuffer(record: string | Uint8Array): Uint8Array {
  return typeof record === 'string' ? Buffer.from(record, 'utf8') : record;
}

export class HttpTransport implements PushTransport {
  private readonly agent: http.Agent;
  private readonly module: typeof http | typeof https;
  private request: http.ClientRequest | undefined = undefined;
  /** Which of the target's addresses to connect to; moves on after a connection error. */
  private address = 0;
  private closed = false;
  private readonly servername: string | undefined;
  private readonly url: URL;

  /** `target.endpoint` is the RemoteWriteUrl it was made from. */
  constructor(
    private readonly target: Target,
    private readonly options: HttpTransportOptions,
  ) {
    this.url = new URL((target.endpoint as RemoteWriteUrl).href);
    const tls = this.url.protocol === 'https:';
    this.module = tls ? https : http;
    const agentOptions = { keepAlive: true, maxSockets: 1 };
    this.agent = tls ? new https.Agent({ ...agentOptions, ...options.tls }) : new http.Agent(agentOptions);
    const host = this.url.hostname;
    // SNI takes names only; an IP URL is checked against the address itself, unless the
    // config names the server.
    this.servername =
      options.tls?.servername ?? (net.isIP(host.replace(/^\[|\]$/g, '')) === 0 ? host : undefined);
  }

  send(payload: Payload): Promise<void> {
    if (this.closed) return Promise.reject(new Error('The transport is closed.'));
    const records = payload.records;
    const parts: Uint8Array[] = new Array<Uint8Array>(records.length);
    for (let i = 0; i < records.length; i++) parts[i] = toBuffer(records[i] as string | Uint8Array);
    const body = snappyCompress(joinEntries(parts));
    const url = this.url;
    const address = this.target.addresses[this.address % this.target.addresses.length] as string;
    return new Promise<void>((resolve, reject) => {
      const req = this.module.request(
        {
          protocol: url.protocol,
          // The resolved address; the URL's host name stays in Host, and in TLS's server name
          // (which the certificate is checked against).
          host: address,
          port: this.target.endpoint.port,
          servername: this.servername,
          path: url.pathname + url.search,
          method: 'POST',
          agent: this.agent,
          headers: { ...this.options.headers, Host: url.host, 'Content-Length': String(body.length) },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const chunks: Buffer[] = [];
          let kept = 0;
          res.on('data', (chunk: Buffer) => {
            if (status >= 200 && status < 300) return; // read and discard, to reuse the socket
            if (kept < ERROR_BODY_BYTES) {
              chunks.push(chunk);
              kept += chunk.length;
            }
          });
          res.on('error', reject);
          res.on('end', () => {
            if (this.request === req) this.request = undefined;
            if (status >= 200 && status < 300) return resolve();
            const text = Buffer.concat(chunks).toString('utf8', 0, ERROR_BODY_BYTES).trim();
            const error = new HttpStatusError(status, text);
            // 429 is back pressure, not a bad batch; 408 (request timeout) is the server's
            // impatience, not the batch's fault either.
            if (status >= 400 && status < 500 && status !== 429 && status !== 408)
              reject(new PushRejected(error.message));
            else reject(error);
          });
        },
      );
      this.request = req;
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (this.request === req) this.request = undefined;
        // A refused or unreachable address: the next attempt tries the next one.
        if (e.code === 'ECONNREFUSED' || e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH')
          this.address++;
        reject(e);
      });
      req.end(body);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.request?.destroy(new Error('The transport was closed.'));
    this.request = undefined;
    this.agent.destroy();
  }
}
