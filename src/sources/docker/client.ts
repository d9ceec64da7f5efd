/**
 * A small HTTP/1.1 client for the Docker Engine API over its Unix socket: node:http with
 * `socketPath`, one keep-alive agent (so a collection reuses a few connections instead of
 * opening one per container), a deadline per request, and a cap on response size.
 *
 * API versions: the daemon answers every request on an unversioned path with its newest API,
 * which may change shapes under us, so requests go to `/v<version>/...`. The version is the
 * daemon's own (the `Api-Version` header of GET /_ping, or `ApiVersion` of GET /version),
 * capped at the newest version this source was checked against, and negotiated again after any
 * connection error (the daemon may have been restarted, or upgraded).
 */
import http from 'node:http';

/** Newest Engine API version whose shapes this source was checked against (Docker 28). */
export const MAX_API_VERSION = '1.50';
/** `one-shot=true` on the stats endpoint exists from this version on (Docker 20.10). */
export const ONE_SHOT_API_VERSION = '1.41';
/** Responses larger than this are refused (a container list of thousands is well below). */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** Compares "1.41" and "1.9" as versions: by major, then minor, as numbers. */
export function compareApiVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number(x));
  const pb = b.split('.').map((x) => Number(x));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** "1.41"-like strings only: the header is untrusted text that ends up in a URL path. */
export function parseApiVersion(v: unknown): string | undefined {
  return typeof v === 'string' && /^\d{1,3}\.\d{1,3}$/.test(v.trim()) ? v.trim() : undefined;
}

/** Why a request failed: the kinds the source counts and reacts to differently. */
export type FailureKind =
  /** No daemon to talk to: socket missing, refused, reset, closed mid-response. */
  | 'unavailable'
  /** The deadline passed. */
  | 'timeout'
  /** The daemon answered with an error status (404 for a container gone, say). */
  | 'status'
  /** The body was not JSON, or too large. */
  | 'body';

export class DockerApiError extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind,
    /** An errno code (ENOENT, ECONNREFUSED, ...), `timeout`, `http_<status>` or `bad_body`. */
    readonly reason: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface Response {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export class DockerClient {
  private readonly agent: http.Agent;
  private version: string | undefined;

  constructor(
    readonly socketPath: string,
    private readonly timeoutMs: number,
    maxSockets: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  /** The API version in use, negotiating it first if needed. */
  async apiVersion(): Promise<string> {
    if (this.version !== undefined) return this.version;
    const ping = await this.request('/_ping');
    let server = parseApiVersion(ping.headers['api-version']);
    if (server === undefined) {
      const version = await this.getJson('/version');
      server = parseApiVersion((version as Record<string, unknown> | null)?.ApiVersion);
    }
    if (server === undefined) {
      throw new DockerApiError('The daemon did not say which API version it speaks.', 'body', 'no_version');
    }
    this.version = compareApiVersions(server, MAX_API_VERSION) > 0 ? MAX_API_VERSION : server;
    return this.version;
  }

  /** Forget the negotiated version and idle connections (after the daemon went away). */
  reset(): void {
    this.version = undefined;
    this.agent.destroy();
  }

  close(): void {
    this.agent.destroy();
  }

  /** GET a versioned path (`/containers/json`) and parse the JSON body. */
  async get(path: string): Promise<unknown> {
    const version = await this.apiVersion();
    return this.getJson(`/v${version}${path}`);
  }

  private async getJson(path: string): Promise<unknown> {
    const res = await this.request(path);
    try {
      return JSON.parse(res.body.toString('utf8')) as unknown;
    } catch {
      throw new DockerApiError(`GET ${path}: the body is not JSON.`, 'body', 'bad_body');
    }
  }

  /** One GET; a status other than 200 rejects with the daemon's `message`. */
  request(path: string): Promise<Response> {
    return new Promise((resolve, reject) => {
      let settled = false;
      // `keep` leaves the connection to the agent for reuse: the response was read to its end.
      const fail = (e: DockerApiError, keep = false): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!keep) req.destroy();
        reject(e);
      };
      const req = http.request(
        {
          socketPath: this.socketPath,
          path,
          method: 'GET',
          agent: this.agent,
          // The daemon ignores Host on its socket; Docker's own client sends this placeholder.
          headers: { host: 'docker', 'user-agent': 'sluice' },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_BODY_BYTES) {
              fail(
                new DockerApiError(
                  `GET ${path}: response over ${MAX_BODY_BYTES} bytes.`,
                  'body',
                  'too_large',
                ),
              );
              return;
            }
            chunks.push(c);
          });
          res.on('error', (e) => fail(connectionError(path, e)));
          res.on('close', () => {
            if (!res.complete) {
              fail(
                new DockerApiError(
                  `GET ${path}: the connection closed mid-response.`,
                  'unavailable',
                  'aborted',
                ),
              );
            }
          });
          res.on('end', () => {
            if (settled) return;
            const body = Buffer.concat(chunks);
            const status = res.statusCode ?? 0;
            if (status !== 200) {
              fail(
                new DockerApiError(
                  `GET ${path}: HTTP ${status}: ${daemonMessage(body)}`,
                  'status',
                  `http_${status}`,
                  status,
                ),
                true,
              );
              return;
            }
            settled = true;
            clearTimeout(timer);
            resolve({ status, headers: res.headers, body });
          });
        },
      );
      const timer = setTimeout(
        () =>
          fail(
            new DockerApiError(`GET ${path}: no answer within ${this.timeoutMs} ms.`, 'timeout', 'timeout'),
          ),
        this.timeoutMs,
      );
      req.on('error', (e) => fail(connectionError(path, e)));
      req.end();
    });
  }
}

function connectionError(path: string, e: Error): DockerApiError {
  const code = (e as NodeJS.ErrnoException).code;
  return new DockerApiError(
    `GET ${path}: ${e.message}`,
    'unavailable',
    typeof code === 'string' ? code : 'error',
  );
}

/** The `message` of the daemon's JSON error body, or the start of the body. */
function daemonMessage(body: Buffer): string {
  const text = body.toString('utf8');
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON: quote it
  }
  return JSON.stringify(text.slice(0, 200));
}
