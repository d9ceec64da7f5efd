/**
 * Line protocol over HTTP: POST /write (v1) or /api/v2/write (v2), one batch per request, on a
 * keep-alive connection per endpoint. What the status says decides the batch's fate:
 * - 2xx: delivered;
 * - 400 with "partial write": InfluxDB stored the batch except the points it names (a field
 *   type conflict, a line it could not parse); the batch counts as delivered and the refused
 *   points are reported to `onPartialWrite`, since sending it again would be refused the same;
 * - 408, 429 and 5xx: the server may take it later: the send fails and is retried;
 * - any other status (400, 401, 403, 404 "database not found", 413): retrying cannot help:
 *   PushRejected, the batch is dropped and counted.
 * Network errors move on to the endpoint's next address within the same send, then fail.
 * Credentials travel in headers only, and no error message quotes a header or a URL query.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Precision } from '../../protocols/influx/line.js';
import { formatEndpoint } from '../push/endpoints.js';
import { PushRejected, type PushTransport, type Target } from '../push/push.js';
import type { Payload } from '../push/queue.js';
import { joinPayload } from '../push/tcp.js';
import type { InfluxUrl } from './schema.js';
import { registerSecret } from '../../core/secrets.js';
import type { ConnectionOptions } from 'node:tls';

const gzip = promisify(zlib.gzip);

/** How much of an error response is kept for the log. */
const MAX_ERROR_BODY = 64 * 1024;
const MAX_ERROR_MESSAGE = 500;

/** v1 spells the precisions its own way. */
const V1_PRECISION: Record<Precision, string> = { ns: 'n', us: 'u', ms: 'ms', s: 's' };

export interface HttpOptions {
  readonly api: 'v1' | 'v2';
  readonly database: string;
  readonly retentionPolicy: string;
  readonly username: string;
  readonly password: string;
  readonly organization: string;
  readonly bucket: string;
  readonly token: string;
  readonly precision: Precision;
  readonly gzip: boolean;
  /** For https:// URLs: CAs, client certificate, expected server name (config/tls.ts). */
  readonly tls?: ConnectionOptions | undefined;
  /** Points of a batch the server refused in a partial write, with its message. */
  readonly onPartialWrite: (target: Target, points: number, message: string) => void;
}

/** The request path and query for these options (no secrets in it). */
export function writePath(url: InfluxUrl, o: HttpOptions): string {
  const q = new URLSearchParams();
  if (o.api === 'v1') {
    q.set('db', o.database);
    if (o.retentionPolicy !== '') q.set('rp', o.retentionPolicy);
    q.set('precision', V1_PRECISION[o.precision]);
    return `${url.path}/write?${q.toString()}`;
  }
  q.set('org', o.organization);
  q.set('bucket', o.bucket);
  q.set('precision', o.precision);
  return `${url.path}/api/v2/write?${q.toString()}`;
}

/** The server's error, from a v1 (`{"error": …}`) or v2 (`{"message": …}`) body, or the text itself. */
export function serverMessage(body: string): string {
  let message = body.trim();
  try {
    const json = JSON.parse(message) as { error?: unknown; message?: unknown };
    if (typeof json.error === 'string') message = json.error;
    else if (typeof json.message === 'string') message = json.message;
  } catch {
    // Not JSON (a proxy's page, say): the text as it is.
  }
  return message.length > MAX_ERROR_MESSAGE ? message.slice(0, MAX_ERROR_MESSAGE) + '…' : message;
}

/**
 * Points refused in a partial write, from 1.x's message: `dropped=N` counts points refused
 * after parsing, and each line it could not parse is named with "unable to parse". At least
 * one, at most the batch.
 */
export function partialWriteCount(message: string, batchPoints: number): number {
  let n = 0;
  for (const m of message.matchAll(/dropped=(\d+)/g)) n += Number(m[1]);
  n += message.split('unable to parse').length - 1;
  return Math.min(batchPoints, Math.max(1, n));
}

class StatusError extends Error {}

export class HttpTransport implements PushTransport {
  private readonly agent: http.Agent;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  private readonly url: InfluxUrl;
  private request: http.ClientRequest | undefined = undefined;
  /** The address that worked last is tried first. */
  private preferred = 0;
  private closed = false;

  constructor(
    private readonly target: Target,
    private readonly options: HttpOptions,
  ) {
    this.url = target.endpoint as InfluxUrl;
    const tls = this.url.scheme === 'https';
    // One batch is in flight per endpoint at a time: one connection, kept open between batches.
    const agentOptions = { keepAlive: true, maxSockets: 1, keepAliveMsecs: 30_000 };
    this.agent = tls ? new https.Agent({ ...agentOptions, ...options.tls }) : new http.Agent(agentOptions);
    this.path = writePath(this.url, options);
    this.headers = {
      // The name, not the address connected to: virtual hosts and proxies route on it.
      Host: formatEndpoint(this.url),
      'Content-Type': 'text/plain; charset=utf-8',
      'User-Agent': 'sluice',
    };
    if (options.gzip) this.headers['Content-Encoding'] = 'gzip';
    if (options.api === 'v1' && options.username !== '') {
      const basic = Buffer.from(`${options.username}:${options.password}`, 'utf8').toString('base64');
      registerSecret(basic);
      this.headers.Authorization = `Basic ${basic}`;
    } else if (options.api === 'v2' && options.token !== '') {
      this.headers.Authorization = `Token ${options.token}`;
    }
  }

  async send(payload: Payload): Promise<void> {
    if (this.closed) throw new Error('The transport is closed.');
    const text = joinPayload(payload);
    const body = this.options.gzip ? await gzip(text) : Buffer.from(text);
    const addresses = this.target.addresses;
    let lastError: unknown = new Error(`${this.target.label} has no address`);
    for (let k = 0; k < addresses.length && !this.closed; k++) {
      const index = (this.preferred + k) % addresses.length;
      try {
        await this.post(addresses[index] as string, body, payload.points);
        this.preferred = index;
        return;
      } catch (e) {
        // The server answered: another address of the same name would answer the same.
        if (e instanceof PushRejected || e instanceof StatusError) throw e;
        lastError = e;
      }
    }
    throw lastError;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.request?.destroy(new Error('The transport is closed.'));
    this.agent.destroy();
  }

  private post(address: string, body: Buffer, points: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const request = (this.url.scheme === 'https' ? https : http).request({
        host: address,
        port: this.url.port,
        // Certificates are checked against the name, not the address.
        servername:
          this.url.scheme !== 'https'
            ? undefined
            : (this.options.tls?.servername ?? (net.isIP(this.url.host) === 0 ? this.url.host : undefined)),
        method: 'POST',
        path: this.path,
        agent: this.agent,
        headers: { ...this.headers, 'Content-Length': String(body.length) },
      });
      this.request = request;
      request.on('error', (e) => {
        if (this.request === request) this.request = undefined;
        reject(e);
      });
      request.on('response', (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (chunk: Buffer) => {
          if (kept < MAX_ERROR_BODY) {
            chunks.push(chunk);
            kept += chunk.length;
          }
        });
        res.on('error', reject);
        res.on('end', () => {
          if (this.request === request) this.request = undefined;
          if (status >= 200 && status < 300) {
            resolve();
            return;
          }
          const message = serverMessage(Buffer.concat(chunks).toString('utf8'));
          if (status === 400 && message.includes('partial write')) {
            this.options.onPartialWrite(this.target, partialWriteCount(message, points), message);
            resolve();
            return;
          }
          const text = `${this.target.label} answered HTTP ${status}: ${message === '' ? res.statusMessage : message}`;
          if (status === 408 || status === 429 || status >= 500) reject(new StatusError(text));
          else reject(new PushRejected(hint(status, text)));
        });
      });
      request.end(body);
    });
  }
}

/** Names the setting to check for the rejections a setting can cause. */
function hint(status: number, text: string): string {
  if (status === 401 || status === 403) return `${text} (check username/password or token)`;
  if (status === 404) return `${text} (check database or bucket, api, and the URL's path)`;
  if (status === 413) return `${text} (lower batch_bytes, or raise the server's max-body-size)`;
  return text;
}
