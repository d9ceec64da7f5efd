/**
 * A real Prometheus scraping sluice exporters every second, for the tests that read back what
 * it stored: started in `dir` with its own config and TSDB, resolved once it answers ready.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, httpGet, startProcess, waitFor, type RunningProcess } from './processes.js';

export interface Scraper {
  readonly process: RunningProcess;
  /** `http://127.0.0.1:PORT`, for its HTTP API. */
  readonly base: string;
}

/**
 * Starts `binary` scraping `targets` (`host:port`) every second, as job `sluice`, with `flags`
 * added (`--enable-feature=native-histograms`, `--web.enable-remote-write-receiver`), on `port`
 * when the caller had to know it beforehand (a remote-write URL), else on a free one.
 */
export async function startScraper(
  binary: string,
  dir: string,
  targets: readonly string[],
  flags: readonly string[] = [],
  port?: number,
  /** The `scrape_configs` entries to use instead of one job `sluice` over `targets` (YAML, indented 2). */
  jobs?: string,
): Promise<Scraper> {
  port ??= await freePort('tcp');
  const base = `http://127.0.0.1:${port}`;
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n${
      jobs ??
      `  - job_name: sluice\n    static_configs:\n      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]\n`
    }`,
  );
  const process = startProcess(
    binary,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      ...flags,
    ],
    { cwd: dir },
  );
  await waitFor(async () => ((await httpGet(`${base}/-/ready`)).status === 200 ? true : undefined), {
    timeoutMs: 30_000,
    what: 'Prometheus to be ready',
    failIf: () => process.diedReason(),
  });
  return { process, base };
}

export interface Sample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

/** An instant query's vector, each sample's value a number; a failed query throws with its error. */
export async function promQuery(base: string, promql: string): Promise<Sample[]> {
  const res = await httpGet(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = JSON.parse(res.body.toString()) as {
    status: string;
    error?: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/** The value of a query that yields one sample, or undefined when it yields none or several. */
export async function promValue(base: string, promql: string): Promise<number | undefined> {
  const r = await promQuery(base, promql);
  return r.length === 1 ? r[0]?.value : undefined;
}
