/**
 * A Prometheus server of a test's own, with its remote-write receiver enabled and no scrape jobs:
 * a temp TSDB directory, a free loopback port, stop and restart on the same port and directory,
 * and the query API read back as plain values; `startPrometheusServers` runs several side by side.
 * Needs `prometheus` (Debian: apt-get install
 * prometheus; 2.33 or later for --web.enable-remote-write-receiver).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, httpGet, startProcess, waitFor, type RunningProcess } from './processes.js';

/** One series of a range query: its labels, and its samples as [ms, value text]. */
export interface PromSeries {
  readonly labels: Record<string, string>;
  readonly samples: [number, string][];
}

export class PrometheusRw {
  process: RunningProcess | undefined;
  starts = 0;

  constructor(
    readonly bin: string,
    readonly dir: string,
    readonly port: number,
  ) {
    writeFileSync(path.join(dir, 'prometheus.yml'), 'global:\n  evaluation_interval: 1m\n');
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get writeUrl(): string {
    return `${this.base}/api/v1/write`;
  }

  async start(): Promise<void> {
    const p = startProcess(
      this.bin,
      [
        '--web.enable-remote-write-receiver',
        `--config.file=${path.join(this.dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(this.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${this.port}`,
        '--log.level=warn',
      ],
      { cwd: this.dir },
    );
    this.process = p;
    this.starts++;
    // Ready only once the WAL is replayed; until then the API (remote write included) answers 503.
    await waitFor(
      async () => ((await httpGet(`${this.base}/-/ready`, {}, 2000)).status === 200 ? true : undefined),
      {
        timeoutMs: 60_000,
        intervalMs: 100,
        what: 'Prometheus to be ready',
        failIf: () => p.diedReason(),
        describe: () => p.stderr().slice(-2000),
      },
    );
  }

  /** SIGTERM: Prometheus closes its WAL cleanly, so every sample it acknowledged survives. */
  async stop(): Promise<void> {
    const p = this.process;
    this.process = undefined;
    if (p !== undefined) await p.stop('SIGTERM', 30_000);
  }

  /** Every raw sample of the series `selector` selects, over the last `window` before `atMs`. */
  async range(selector: string, atMs: number, window = '1h'): Promise<PromSeries[]> {
    const q = encodeURIComponent(`${selector}[${window}]`);
    const res = await httpGet(`${this.base}/api/v1/query?query=${q}&time=${(atMs / 1000).toFixed(3)}`);
    if (res.status !== 200) throw new Error(`query ${selector}: HTTP ${res.status} ${res.body.toString()}`);
    const json = JSON.parse(res.body.toString()) as {
      data: { resultType: string; result: { metric: Record<string, string>; values: [number, string][] }[] };
    };
    return json.data.result.map((r) => ({
      labels: r.metric,
      samples: r.values.map(([t, v]) => [Math.round(t * 1000), v]),
    }));
  }

  /** An instant query's vector, as labels → value text. */
  async instant(promql: string, atMs: number): Promise<{ labels: Record<string, string>; value: string }[]> {
    const q = encodeURIComponent(promql);
    const res = await httpGet(`${this.base}/api/v1/query?query=${q}&time=${(atMs / 1000).toFixed(3)}`);
    if (res.status !== 200) throw new Error(`query ${promql}: HTTP ${res.status} ${res.body.toString()}`);
    const json = JSON.parse(res.body.toString()) as {
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    return json.data.result.map((r) => ({ labels: r.metric, value: r.value[1] }));
  }
}

/**
 * `count` servers, each in its own subdirectory of `dir` and on a port of its own, started in
 * parallel (each replays an empty WAL in a second or two).
 */
export async function startPrometheusServers(
  bin: string,
  dir: string,
  count: number,
): Promise<PrometheusRw[]> {
  const ports = new Set<number>();
  // freePort closes its socket before answering, so two calls may, rarely, name the same port.
  for (let tries = 0; ports.size < count && tries < 20 * count; tries++) ports.add(await freePort('tcp'));
  if (ports.size < count) throw new Error(`could not find ${count} distinct free ports`);
  const servers = [...ports].map((port, i) => {
    const sub = path.join(dir, `prometheus-${i}`);
    mkdirSync(sub, { recursive: true });
    return new PrometheusRw(bin, sub, port);
  });
  const started = await Promise.allSettled(servers.map((p) => p.start()));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(servers.map((p) => p.stop()));
    throw (failed as PromiseRejectedResult).reason;
  }
  return servers;
}
