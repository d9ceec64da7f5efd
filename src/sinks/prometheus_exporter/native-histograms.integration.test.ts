/**
 * Native histograms against the real Prometheus, started with --enable-feature=native-histograms
 * (and its remote-write receiver): two sluice agents receive StatsD distributions whose every
 * value the test knows. Prometheus scrapes both exporters, negotiating the protobuf format, and
 * agent B also pushes the same series by remote write with `native_histograms: true`. Then:
 * - histogram_count is the exact number of values sent (so the scrape was protobuf: the text
 *   formats have no native histograms, and histogram_count ignores classic ones);
 * - histogram_quantile of each agent's series, of the remote-written series, and of sum() over
 *   both agents is within the stated relative error (2^(1/64) − 1 ≈ 1.09 %, one bucket of
 *   schema 6) of the exact quantile of the values sent, or of their union;
 * - a third agent maps a StatsD timer with a statsd_exporter mapping file whose rule asks for
 *   `native_histogram_bucket_factor: 1.1` beside classic buckets: Prometheus stores the native
 *   histogram, in seconds, within one bucket of schema 3 (2^(1/8) − 1 ≈ 9.05 %).
 * Needs `prometheus` (Debian: apt-get install prometheus); skipped without it, except under
 * CI=true.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  freePort,
  listeningOn,
  serverPrograms,
  startSluice,
  waitFor,
  type RunningProcess,
  type SluiceProcess,
} from '../../testing/processes.js';
import { promQuery, promValue, startScraper } from '../../testing/prometheus-scraper.js';
import { lognormal as latencies } from '../../testing/random.js';

const servers = serverPrograms(['prometheus'], 'apt-get install prometheus');

/** One bucket of schema 6: the farthest Prometheus' estimate can be from the exact value. */
const STATED_ERROR = Math.pow(2, 1 / 64) - 1;
const QUANTILES = [0.01, 0.25, 0.5, 0.9, 0.99, 0.999];

/**
 * The exact q-quantile as Prometheus ranks it: the value of rank ⌈q·n⌉ (1-based). The counts
 * are chosen so that q·n is never an integer, where "first bucket reaching the rank" and "the
 * bucket of that value" could differ by one.
 */
function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.ceil(q * sorted.length) - 1] as number;
}

describe(
  'native histograms in the real Prometheus: scraped as protobuf, remote-written, summed',
  { skip: servers.skip, timeout: 180_000 },
  () => {
    let tmp = '';
    const sluices: SluiceProcess[] = [];
    const statsdPorts: number[] = [];
    let prometheus: RunningProcess | undefined;
    let promBase = '';
    let setupError: unknown;
    // 3001 and 2002 values: no q·n below is an integer, for either agent or their union.
    const sent = [latencies(1, 3001, Math.log(0.05), 1), latencies(2, 2002, Math.log(0.2), 0.7)];
    // Agent c's timer, in milliseconds (1001 values), exported in seconds.
    const timerMs = latencies(3, 1001, Math.log(40), 1.2);

    const query = (promql: string) => promQuery(promBase, promql);
    const one = (promql: string) => promValue(promBase, promql);

    async function send(
      port: number,
      values: readonly number[],
      name = 'request_latency_seconds',
      type = 'd',
    ): Promise<void> {
      const socket = dgram.createSocket('udp4');
      try {
        // 40 values a datagram, as a DogStatsD client packs them; paced so none is dropped.
        for (let i = 0; i < values.length; i += 40) {
          const line = `${name}:${values.slice(i, i + 40).join(':')}|${type}`;
          await new Promise<void>((resolve, reject) =>
            socket.send(line, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
          );
          if ((i / 40) % 10 === 9) await new Promise((r) => setTimeout(r, 5));
        }
      } finally {
        socket.close();
      }
    }

    before(async () => {
      try {
        servers.assertInstalled();
        tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-native-'));
        const promPort = await freePort('tcp');
        const targets: string[] = [];
        const mappingFile = path.join(tmp, 'mapping.yml');
        writeFileSync(
          mappingFile,
          `mappings:
- match: api.request.duration
  name: request_duration_seconds
  observer_type: histogram
  histogram_options:
    buckets: [0.01, 0.1, 1]
    native_histogram_bucket_factor: 1.1
`,
        );
        for (const agent of ['a', 'b', 'c']) {
          const statsdPort = await freePort('udp');
          const exporterPort = await freePort('tcp');
          // Agent b also pushes by remote write: those series have no job label.
          const remoteWrite =
            agent === 'b'
              ? `  remote_write:
    type: prometheus_remote_write
    urls: ['http://127.0.0.1:${promPort}/api/v1/write']
    native_histograms: true
    flush_interval: 500ms
`
              : '';
          const sluice = startSluice({
            config: `agent:
  host_tag: ''
  tags: { agent: ${agent} }
sources:
  statsd:
    type: statsd
    listen: udp://127.0.0.1:${statsdPort}
    flush_interval: 500ms
${agent === 'c' ? `    mapping_config: ${mappingFile}\n` : ''}sinks:
  prometheus:
    type: prometheus_exporter
    listen: 127.0.0.1:${exporterPort}
${remoteWrite}`,
          });
          sluices.push(sluice);
          statsdPorts.push(statsdPort);
          await sluice.waitForLog(listeningOn(statsdPort), 20_000);
          await sluice.waitForLog(listeningOn(exporterPort), 20_000);
          targets.push(`127.0.0.1:${exporterPort}`);
        }
        const scraper = await startScraper(
          servers.paths.prometheus as string,
          tmp,
          targets,
          ['--enable-feature=native-histograms', '--web.enable-remote-write-receiver'],
          promPort,
        );
        prometheus = scraper.process;
        promBase = scraper.base;
        await waitFor(async () => ((await one('count(up == 1)')) === 3 ? true : undefined), {
          timeoutMs: 30_000,
          what: 'Prometheus to have scraped the three exporters',
        });
        await Promise.all([
          send(statsdPorts[0] as number, sent[0] as number[]),
          send(statsdPorts[1] as number, sent[1] as number[]),
          send(statsdPorts[2] as number, timerMs, 'api.request.duration', 'ms'),
        ]);
      } catch (e) {
        setupError = e;
      }
    });

    after(async () => {
      await prometheus?.kill();
      await Promise.all(sluices.map((s) => s.kill()));
      if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
    });

    /** Waits until `selector` holds every value sent, then checks each quantile against `values`. */
    async function check(
      t: { diagnostic(message: string): void },
      selector: string,
      values: readonly number[],
      statedError = STATED_ERROR,
    ): Promise<void> {
      let last: unknown;
      await waitFor(
        async () => {
          last = await query(`histogram_count(${selector})`);
          return (await one(`histogram_count(${selector})`)) === values.length ? true : undefined;
        },
        {
          timeoutMs: 30_000,
          what: `histogram_count(${selector}) = ${values.length}`,
          describe: () => JSON.stringify(last),
        },
      );
      const sum = values.reduce((a, b) => a + b, 0);
      const gotSum = (await one(`histogram_sum(${selector})`)) as number;
      assert.ok(Math.abs(gotSum - sum) <= 1e-9 * sum, `histogram_sum ${gotSum} vs ${sum}`);
      const sorted = [...values].sort((a, b) => a - b);
      const errors: string[] = [];
      for (const q of QUANTILES) {
        const got = (await one(`histogram_quantile(${q}, ${selector})`)) as number;
        const exact = exactQuantile(sorted, q);
        const error = Math.abs(got - exact) / exact;
        assert.ok(
          error <= statedError,
          `${selector} q=${q}: ${got} vs exact ${exact}: error ${(error * 100).toFixed(3)} % > ${(statedError * 100).toFixed(3)} %`,
        );
        errors.push(`p${q * 100} ${(error * 100).toFixed(3)} %`);
      }
      t.diagnostic(`${selector}: ${errors.join(', ')}`);
    }

    it("each agent's scraped native histogram holds its values, quantiles within one bucket", async (t) => {
      if (setupError !== undefined) throw setupError;
      await check(t, 'request_latency_seconds{job="sluice",agent="a"}', sent[0] as number[]);
      await check(t, 'request_latency_seconds{job="sluice",agent="b"}', sent[1] as number[]);
    });

    it('sum() over both agents gives the quantiles of the union, within the same error', async (t) => {
      if (setupError !== undefined) throw setupError;
      await check(t, 'sum(request_latency_seconds{job="sluice"})', [
        ...(sent[0] as number[]),
        ...(sent[1] as number[]),
      ]);
    });

    it('the remote-written native histogram holds the same', async (t) => {
      if (setupError !== undefined) throw setupError;
      await check(t, 'request_latency_seconds{job="",agent="b"}', sent[1] as number[]);
    });

    it('a timer mapped with native_histogram_bucket_factor (statsd_exporter) is a native histogram in seconds', async (t) => {
      if (setupError !== undefined) throw setupError;
      await check(
        t,
        'request_duration_seconds{job="sluice",agent="c"}',
        timerMs.map((ms) => ms * 0.001),
        Math.pow(2, 1 / 8) - 1,
      );
    });
  },
);
