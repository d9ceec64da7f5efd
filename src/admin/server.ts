/**
 * The admin endpoint: an HTTP server of its own (agent.admin_listen, loopback by default, off
 * unless configured) for operators and their tools, as Prometheus' and Vector's management
 * APIs are: liveness, readiness, a reload, and the components' state as JSON. It reads the
 * agent and never writes to it except through `reload`, so that it can later sit behind
 * authentication without touching the agent.
 *
 *   GET  /-/healthy           200 while the process serves
 *   GET  /-/ready             200 once every component has started (503 before, and while stopping)
 *   POST /-/reload            re-reads the config file, as SIGHUP: 200 with what changed, 400 with
 *                             the problems of an invalid file (the running config stays)
 *   GET  /api/v1/components   every source and sink: id, kind, type, state, counters
 *   GET  /api/v1/tap          what the sinks get, as it flows: one JSON metric per line (with
 *                             the source that emitted it), filtered by ?component=, ?name= (glob
 *                             or /regex/) and ?tag=key:pattern (repeatable), until the client goes;
 *                             with ?raw=1, the lines sources receive, before parsing, valid or not
 *                             (?component= and ?name=, the name being the text before the ':')
 *   GET  /api/v1/status       what the status page shows (status.ts), as JSON
 *   GET  /api/v1/history      the last 15 minutes of the status page's charts, as JSON
 *   GET  /                    the status page (page/: plain HTML, CSS and JavaScript, no outside
 *                             resources, relative URLs so that it works behind a proxy's prefix)
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/logger.js';
import { shippedBytes } from '../core/embedded.js';
import { compilePattern } from '../core/filter.js';
import type { Metric } from '../core/metric.js';
import type { RawTap, Tap } from '../core/pipeline.js';
import type { ListenAddress } from '../config/schema.js';
import type { HistoryDocument, StatusDocument } from './status.js';
import { redactSecrets } from '../core/secrets.js';
import { createWebServer, type WebConfig } from '../core/web.js';

/** A component as the admin API shows it. */
export interface ComponentView {
  readonly id: string;
  readonly kind: 'source' | 'sink';
  readonly type: string;
  readonly state: string;
  /** Its counters and gauges by `name{label=value,...}`. */
  readonly stats: Readonly<Record<string, number>>;
}

export type ReloadOutcome =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly problems: readonly string[] };

export interface AdminTarget {
  /** Whether the agent has started and is not stopping. */
  ready(): boolean;
  components(): ComponentView[];
  reload(): Promise<ReloadOutcome>;
  /** Adds a tap on the pipeline; returns its removal. */
  tap(listener: Tap): () => void;
  /** Adds a tap on the raw lines sources receive; returns its removal. */
  tapRaw(listener: RawTap): () => void;
  status(): StatusDocument;
  history(): HistoryDocument;
}

/** The status page's files, served as they are (copied next to this module by the build). */
const PAGE_FILES = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/status.css': ['status.css', 'text/css; charset=utf-8'],
  '/status.js': ['status.js', 'text/javascript; charset=utf-8'],
} as const;

/**
 * The page loads nothing from elsewhere and runs no inline script: a rejected line that holds
 * markup cannot become code even if a future change slipped and inserted it as HTML.
 */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

let pageCache: Map<string, Buffer> | undefined;
function pageFile(name: string): Buffer {
  pageCache ??= new Map();
  let data = pageCache.get(name);
  if (data === undefined) {
    data = shippedBytes({ url: new URL(`./page/${name}`, import.meta.url), key: `admin/page/${name}` });
    pageCache.set(name, data);
  }
  return data;
}

/** Bytes a tap client may have unread before further metrics for it are dropped (and counted). */
const TAP_BUFFER_BYTES = 1024 * 1024;

/** Largest request body read (a reload takes none). */
const MAX_BODY_BYTES = 4096;

export class AdminServer {
  private server: http.Server | undefined;

  constructor(
    private readonly listen: ListenAddress,
    private readonly target: AdminTarget,
    private readonly log: Logger,
    /** TLS and basic authentication (agent.admin_web_config_file); undefined: plain HTTP, open. */
    private readonly web?: WebConfig,
  ) {}

  async start(): Promise<void> {
    const server = createWebServer(this.web, (req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) =>
        reject(
          new Error(
            `Could not listen on ${this.listen.host}:${this.listen.port} (admin endpoint): ${error.message}`,
          ),
        ),
      );
      server.listen(this.listen.port, this.listen.host, () => resolve());
    });
    this.server = server;
    this.log.info('Admin endpoint listening.', { url: this.url() });
  }

  url(): string | undefined {
    const a = this.server?.address() as AddressInfo | null | undefined;
    if (a === undefined || a === null) return undefined;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `${this.web?.tls === undefined ? 'http' : 'https'}://${host}:${a.port}/`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Streams the metrics that match to the client, never waiting for it: when it reads slower
   * than metrics come, what does not fit in TAP_BUFFER_BYTES is dropped, and a line says how many.
   */
  private tap(req: http.IncomingMessage, res: http.ServerResponse): void {
    const query = new URL(req.url ?? '/', 'http://admin').searchParams;
    const component = query.get('component');
    const name = query.get('name');
    const raw = query.get('raw') === '1' || query.get('raw') === 'true';
    let namePattern: RegExp | undefined;
    let tagPatterns: [string, RegExp][];
    try {
      namePattern = name === null ? undefined : compilePattern(name).regex;
      tagPatterns = query.getAll('tag').map((t) => {
        const at = t.indexOf(':');
        if (at <= 0) throw new Error(`tag filter ${JSON.stringify(t)}: expected key:pattern`);
        return [t.slice(0, at), compilePattern(t.slice(at + 1)).regex];
      });
      if (raw && tagPatterns.length > 0) throw new Error('tag filters apply to metrics, not to raw lines');
    } catch (error) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: (error as Error).message }) + '\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.write(''); // headers out now: the client sees the stream open before the first metric
    let dropped = 0;
    const send = (out: string): void => {
      if (out === '') return;
      if (res.writableLength > TAP_BUFFER_BYTES) {
        dropped += out.split('\n').length - 1;
        return;
      }
      if (dropped > 0) {
        res.write(JSON.stringify({ dropped }) + '\n');
        dropped = 0;
      }
      res.write(out);
    };
    if (raw) {
      const remove = this.target.tapRaw((lines, source, protocol) => {
        if (component !== null && source !== component) return;
        let out = '';
        for (const line of lines) {
          if (namePattern !== undefined) {
            const colon = line.indexOf(':');
            if (!namePattern.test(colon < 0 ? line : line.slice(0, colon))) continue;
          }
          out += JSON.stringify({ source, protocol, line }) + '\n';
        }
        send(out);
      });
      res.on('close', remove);
      return;
    }
    const matches = (m: Metric): boolean => {
      if (namePattern !== undefined && !namePattern.test(m.name)) return false;
      for (const [key, pattern] of tagPatterns) {
        const tag = m.tags.find((t) => t[0] === key);
        if (tag === undefined || !pattern.test(tag[1])) return false;
      }
      return true;
    };
    const remove = this.target.tap((batch, source) => {
      if (component !== null && source !== component) return;
      let out = '';
      for (const m of batch)
        if (matches(m)) out += JSON.stringify({ source, ...m, tags: Object.fromEntries(m.tags) }) + '\n';
      send(out);
    });
    res.on('close', remove);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      // Status, history and /metrics carry log-like text (rejections, errors): no secret in them.
      const text = redactSecrets(typeof body === 'string' ? body : JSON.stringify(body, null, 2) + '\n');
      res.writeHead(status, {
        'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
        'cache-control': 'no-store',
        ...headers,
      });
      res.end(text);
    };
    try {
      let size = 0;
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > MAX_BODY_BYTES) return send(413, { error: 'request body too large' });
      }
      const method = req.method ?? 'GET';
      const only = (allowed: string): boolean => {
        if (method === allowed || (allowed === 'GET' && method === 'HEAD')) return true;
        send(405, { error: `use ${allowed}` }, { allow: allowed });
        return false;
      };
      switch (path) {
        case '/-/healthy':
          if (only('GET')) send(200, 'OK\n');
          return;
        case '/-/ready':
          if (only('GET'))
            send(this.target.ready() ? 200 : 503, this.target.ready() ? 'Ready\n' : 'Not ready\n');
          return;
        case '/-/reload': {
          if (!only('POST')) return;
          const outcome = await this.target.reload();
          send(outcome.ok ? 200 : 400, outcome);
          return;
        }
        case '/api/v1/components':
          if (only('GET')) send(200, this.target.components());
          return;
        case '/api/v1/tap':
          if (only('GET')) this.tap(req, res);
          return;
        case '/api/v1/status':
          if (only('GET')) send(200, this.target.status());
          return;
        case '/api/v1/history':
          if (only('GET')) send(200, this.target.history());
          return;
        case '/api/v1':
        case '/api/v1/':
          if (only('GET'))
            send(200, {
              endpoints: [
                '/-/healthy',
                '/-/ready',
                'POST /-/reload',
                '/api/v1/components',
                '/api/v1/status',
                '/api/v1/history',
                '/api/v1/tap',
              ],
            });
          return;
        case '/':
        case '/status.css':
        case '/status.js': {
          if (!only('GET')) return;
          const [name, type] = PAGE_FILES[path];
          const body = pageFile(name);
          res.writeHead(200, {
            'content-type': type,
            'content-length': body.length,
            'cache-control': 'no-cache',
            ...PAGE_HEADERS,
          });
          res.end(method === 'HEAD' ? undefined : body);
          return;
        }
        default:
          send(404, { error: `no such endpoint: ${path}` });
      }
    } catch (error) {
      this.log.warn('Admin request failed.', { path, error });
      if (!res.headersSent) send(500, { error: 'internal error' });
      else res.destroy();
    }
  }
}
