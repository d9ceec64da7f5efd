/**
 * A stand-in Docker daemon for tests: an HTTP/1.1 server on a Unix socket that replays Engine
 * API responses saved under src/sources/docker/testdata/<daemon>/. No Docker engine runs on
 * the machines this project is built on, so the replay is what both sluice and the real Docker
 * CLI talk to; the CLI rendering the same figures as sluice is what shows the replay faithful.
 *
 * A fixture directory holds `version.json` (GET /version), `containers.json` (GET
 * /containers/json) and `stats-<n>.json`, the stats response of every container at the n-th
 * sample, each exactly as a daemon sends it for `stream=false` (precpu_stats = the sample
 * before). The server behaves as moby's does where clients can tell:
 *
 * - paths with and without a `/v<version>` prefix; a version above the daemon's is a 400;
 * - `HEAD|GET /_ping` with the `Api-Version` and `Ostype` headers that clients negotiate with;
 * - containers found by full ID, name, or unique ID prefix; otherwise a 404 with a `message`;
 * - `one-shot=true` (with `stream=false`) answers at once with empty precpu_stats and a zero
 *   `preread`, as the daemon does; `stream=false` alone returns the sample with the previous
 *   one as precpu_stats; the default `stream=true` sends the current sample every second
 *   until the client goes away;
 * - GET /events stays open, sending nothing (no container starts or dies during a test).
 *
 * Integers above 2^53 (uint64 limits such as 18446744073709551615) are passed through as
 * written, not rounded to a double.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

type Json = Record<string, unknown>;

/**
 * src/sources/docker/testdata/<name>: tsc does not copy fixtures, so they are found from the
 * build (dist/testing/ → the repository) or from the working directory.
 */
export function dockerFixtureDir(name: string): string {
  const rel = path.join('src', 'sources', 'docker', 'testdata', name);
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '..', '..', rel), path.resolve(rel)];
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined) throw new Error(`${rel} not found; tried ${candidates.join(', ')}`);
  return found;
}

const BIG = /([:[,]\s*)(\d{16,})(?=\s*[,}\]])/g;

/** JSON.parse that keeps unsafe integers as marked strings, so that `stringify` writes them back. */
function parseKeepingBigInts(text: string): unknown {
  return JSON.parse(
    text.replace(BIG, (all, before: string, digits: string) =>
      BigInt(digits) > BigInt(Number.MAX_SAFE_INTEGER) ? `${before}"@@uint64:${digits}"` : all,
    ),
  );
}

export function stringifyKeepingBigInts(value: unknown): string {
  return JSON.stringify(value).replace(/"@@uint64:(\d+)"/g, '$1');
}

function readJson(file: string): unknown {
  return parseKeepingBigInts(readFileSync(file, 'utf8'));
}

/** What precpu_stats holds on a one-shot answer: the zero value of the CPUStats type. */
const EMPTY_CPU_STATS: Json = {
  cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
  throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
};

export interface ReplayFixture {
  readonly version: Json;
  readonly containers: readonly Json[];
  /** samples[n][id]: the stats response of container `id` at sample n (0-based). */
  readonly samples: readonly ReadonlyMap<string, Json>[];
}

export function loadReplayFixture(dir: string): ReplayFixture {
  const version = readJson(path.join(dir, 'version.json')) as Json;
  const containers = readJson(path.join(dir, 'containers.json')) as Json[];
  const files = readdirSync(dir)
    .map((f) => /^stats-(\d+)\.json$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]));
  const samples = files.map((m) => {
    const list = readJson(path.join(dir, m[0])) as Json[];
    return new Map(list.map((s) => [String(s.id), s]));
  });
  return { version, containers, samples };
}

function compareVersions(a: string, b: string): number {
  const [a1 = 0, a2 = 0] = a.split('.').map(Number);
  const [b1 = 0, b2 = 0] = b.split('.').map(Number);
  return a1 - b1 || a2 - b2;
}

function flag(v: string | null, dflt: boolean): boolean {
  if (v === null) return dflt;
  return v === '1' || v.toLowerCase() === 'true';
}

export class DockerReplay {
  readonly fixture: ReplayFixture;
  /** Every request, as "METHOD /path?query", in order. */
  readonly requests: string[] = [];
  /** Container IDs whose stats answer 404 although the list still shows them (removed meanwhile). */
  readonly gone = new Set<string>();
  /** Milliseconds to wait before answering a stats request (slow daemon). */
  statsDelayMs = 0;
  /** The API version announced and enforced: the fixture's, unless a test plays an older daemon. */
  apiVersion: string;
  private index = 0;
  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private tempDir: string | undefined;

  private constructor(
    fixtureDir: string,
    readonly socketPath: string,
  ) {
    this.fixture = loadReplayFixture(fixtureDir);
    this.apiVersion = String(this.fixture.version.ApiVersion);
  }

  /** Starts a replay of `fixtureDir` on `socketPath`, or on a socket in a new temp dir. */
  static async start(fixtureDir: string, socketPath?: string): Promise<DockerReplay> {
    let temp: string | undefined;
    if (socketPath === undefined) {
      temp = mkdtempSync(path.join(os.tmpdir(), 'sluice-docker-'));
      socketPath = path.join(temp, 'docker.sock');
    }
    const replay = new DockerReplay(fixtureDir, socketPath);
    replay.tempDir = temp;
    await replay.listen();
    return replay;
  }

  /** The sample served now (0-based). */
  get sample(): number {
    return this.index;
  }

  set sample(n: number) {
    if (n < 0 || n >= this.fixture.samples.length) throw new Error(`no sample ${n}`);
    this.index = n;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** Listens again on the same path after `stop` (a daemon restart). */
  async listen(): Promise<void> {
    if (this.server !== undefined) return;
    rmSync(this.socketPath, { force: true });
    const server = http.createServer((req, res) => this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => resolve());
    });
    this.server = server;
  }

  /** Stops as a dying daemon would: open connections are cut, the socket file disappears. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    for (const t of this.timers) clearInterval(t);
    this.timers.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
  }

  /** Stops and removes the temp dir, if start made one. */
  async close(): Promise<void> {
    await this.stop();
    if (this.tempDir !== undefined) rmSync(this.tempDir, { recursive: true, force: true });
  }

  /** The stats response of container `id` at the current sample, as the daemon would send it. */
  statsBody(id: string, oneShot: boolean): Json | undefined {
    const s = this.fixture.samples[this.index]?.get(id);
    if (s === undefined) return undefined;
    if (!oneShot) return s;
    return { ...s, preread: '0001-01-01T00:00:00Z', precpu_stats: EMPTY_CPU_STATS };
  }

  private headers(extra: Record<string, string | number> = {}): Record<string, string | number> {
    const v = this.fixture.version;
    return {
      'Api-Version': this.apiVersion,
      'Docker-Experimental': 'false',
      Ostype: String(v.Os ?? 'linux'),
      Server: `Docker/${String(v.Version)} (${String(v.Os ?? 'linux')})`,
      ...extra,
    };
  }

  private send(res: http.ServerResponse, status: number, body: unknown): void {
    const text = stringifyKeepingBigInts(body) + '\n';
    res.writeHead(
      status,
      this.headers({ 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }),
    );
    res.end(text);
  }

  private error(res: http.ServerResponse, status: number, message: string): void {
    this.send(res, status, { message });
  }

  private findContainer(ref: string): Json | undefined {
    const all = this.fixture.containers;
    const byId = all.find((c) => c.Id === ref);
    if (byId !== undefined) return byId;
    const name = ref.startsWith('/') ? ref : `/${ref}`;
    const byName = all.find((c) => Array.isArray(c.Names) && c.Names.includes(name));
    if (byName !== undefined) return byName;
    const prefixed = all.filter((c) => String(c.Id).startsWith(ref));
    return prefixed.length === 1 ? prefixed[0] : undefined;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://docker');
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    let route = url.pathname;
    const versioned = /^\/v(\d+\.\d+)(\/.*)$/.exec(route);
    if (versioned !== null) {
      const asked = versioned[1] as string;
      if (compareVersions(asked, this.apiVersion) > 0) {
        this.error(
          res,
          400,
          `client version ${asked} is too new. Maximum supported API version is ${this.apiVersion}`,
        );
        return;
      }
      route = versioned[2] as string;
    }
    if (route === '/_ping' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(
        200,
        this.headers({
          'Content-Type': 'text/plain; charset=utf-8',
          'Content-Length': 2,
          'Cache-Control': 'no-cache, no-store, must-revalidate',
          Pragma: 'no-cache',
        }),
      );
      res.end(req.method === 'HEAD' ? undefined : 'OK');
      return;
    }
    if (req.method !== 'GET') {
      this.error(res, 404, 'page not found');
      return;
    }
    if (route === '/version') {
      this.send(res, 200, { ...this.fixture.version, ApiVersion: this.apiVersion });
      return;
    }
    if (route === '/containers/json') {
      this.send(res, 200, this.fixture.containers);
      return;
    }
    if (route === '/events') {
      res.writeHead(200, this.headers({ 'Content-Type': 'application/json' }));
      res.flushHeaders();
      return; // open until the client leaves or the server stops
    }
    const stats = /^\/containers\/([^/]+)\/stats$/.exec(route);
    if (stats !== null) {
      this.stats(decodeURIComponent(stats[1] as string), url.searchParams, res);
      return;
    }
    this.error(res, 404, 'page not found');
  }

  private stats(ref: string, query: URLSearchParams, res: http.ServerResponse): void {
    const c = this.findContainer(ref);
    const id = c === undefined ? undefined : String(c.Id);
    if (id === undefined || this.gone.has(id)) {
      this.error(res, 404, `No such container: ${ref}`);
      return;
    }
    const stream = flag(query.get('stream'), true);
    const oneShot = !stream && flag(query.get('one-shot'), false);
    const answer = (): void => {
      const body = this.statsBody(id, oneShot);
      if (body === undefined) {
        this.error(res, 500, `the replay has no sample ${this.index} for ${id}`);
        return;
      }
      if (!stream) {
        this.send(res, 200, body);
        return;
      }
      res.writeHead(200, this.headers({ 'Content-Type': 'application/json' }));
      res.write(stringifyKeepingBigInts(body) + '\n');
      const timer = setInterval(() => {
        const next = this.statsBody(id, false);
        if (next !== undefined) res.write(stringifyKeepingBigInts(next) + '\n');
      }, 1000);
      this.timers.add(timer);
      res.on('close', () => {
        clearInterval(timer);
        this.timers.delete(timer);
      });
    };
    if (this.statsDelayMs > 0) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (!res.destroyed) answer();
      }, this.statsDelayMs);
      this.timers.add(t);
    } else {
      answer();
    }
  }
}
