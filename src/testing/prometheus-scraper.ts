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
