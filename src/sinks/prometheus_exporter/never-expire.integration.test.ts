/**
 * `expiry: 0` against the real Prometheus: a StatsD counter that stops, is forgotten by its
 * source (a 2 s `expiry`) and comes back continues from its total in the exporter, so Prometheus
 * sees no counter reset; with the exporter's own expiry as short, the same traffic is a reset.
 * Needs `prometheus` (Debian: apt-get install prometheus); skipped without it, except under
 * CI=true.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  freePort,
  httpGet,
  listeningOn,
  serverPrograms,
  startSluice,
  waitFor,
  type RunningProcess,
  type SluiceProcess,
} from '../../testing/processes.js';
import { startScraper } from '../../testing/prometheus-scraper.js';

const servers = serverPrograms(['prometheus'], 'apt-get install prometheus');

describe(
  'an exporter expiry of 0 keeps counters through gaps: no reset in the real Prometheus',
  {
    skip: servers.skip,
    timeout: 120_000,
  },
  () => {
    let tmp = '';
    const sluices: SluiceProcess[] = [];
    const statsdPorts: number[] = [];
    let prometheus: RunningProcess | undefined;
    let promBase = '';
    let setupError: unknown;

    async function value(promql: string): Promise<number | undefined> {
      const res = await httpGet(`${promBase}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const data = (JSON.parse(res.body.toString()) as { data: { result: { value: [number, string] }[] } })
        .data;
      const v = data.result[0]?.value[1];
      return v === undefined ? undefined : Number(v);
    }

    /** Every series of the counter over the last minute, for a failure's message. */
    async function seen(): Promise<string> {
      const q = encodeURIComponent('max_over_time(jobs_done_total[1m])');
      return (await httpGet(`${promBase}/api/v1/query?query=${q}`)).body.toString();
    }

    async function send(port: number, text: string): Promise<void> {
      const socket = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) =>
        socket.send(text, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
      );
      socket.close();
    }

    before(async () => {
      try {
        servers.assertInstalled();
        tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-never-'));
        const targets: string[] = [];
        // The same source (forgets a series after 2 s), two exporter expiries: never, and 2 s.
        for (const [job, expiry] of [
          ['never', '0'],
          ['short', '2s'],
        ]) {
          const statsdPort = await freePort('udp');
          const exporterPort = await freePort('tcp');
          const sluice = startSluice({
            config: `agent:
  host_tag: ''
  tags: { exporter_expiry: ${job} }
sources:
  statsd:
    type: statsd
    listen: udp://127.0.0.1:${statsdPort}
    flush_interval: 500ms
    expiry: 2s
sinks:
  prometheus:
    type: prometheus_exporter
    listen: 127.0.0.1:${exporterPort}
    expiry: ${expiry}
`,
          });
          sluices.push(sluice);
          statsdPorts.push(statsdPort);
          await sluice.waitForLog(listeningOn(statsdPort), 20_000);
          await sluice.waitForLog(listeningOn(exporterPort), 20_000);
          targets.push(`127.0.0.1:${exporterPort}`);
        }
        const scraper = await startScraper(servers.paths.prometheus as string, tmp, targets);
        prometheus = scraper.process;
        promBase = scraper.base;
        // Scraping starts a while after ready: a series living 2 s must not come before it.
        await waitFor(async () => ((await value('count(up == 1)')) === 2 ? true : undefined), {
          timeoutMs: 30_000,
          what: 'Prometheus to have scraped both exporters',
        });
      } catch (e) {
        setupError = e;
      }
    });

    after(async () => {
      await prometheus?.kill();
      await Promise.all(sluices.map((s) => s.kill()));
      if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
    });

    it('continues the total after a gap longer than every expiry, where a 2 s expiry resets it', async () => {
      if (setupError !== undefined) throw setupError;
      let lastSeen = '';
      for (const port of statsdPorts) await send(port, 'jobs_done:5|c');
      for (const job of ['never', 'short'])
        await waitFor(
          async () => {
            lastSeen = await seen();
            return (await value(`max_over_time(jobs_done_total{exporter_expiry="${job}"}[1m])`)) === 5
              ? true
              : undefined;
          },
          {
            timeoutMs: 20_000,
            what: `jobs_done_total = 5 (${job}), seen in the last minute (the short one lives 2 s)`,
            describe: () => lastSeen,
          },
        );
      // Longer than the source's expiry and the short exporter's: both forget the series.
      await waitFor(
        async () =>
          (await value('jobs_done_total{exporter_expiry="short"}')) === undefined ? true : undefined,
        { timeoutMs: 20_000, what: 'the short-expiry exporter to drop jobs_done' },
      );
      await new Promise((r) => setTimeout(r, 3000));
      for (const port of statsdPorts) await send(port, 'jobs_done:2|c');
      await waitFor(
        async () => ((await value('jobs_done_total{exporter_expiry="never"}')) === 7 ? true : undefined),
        {
          timeoutMs: 20_000,
          what: 'jobs_done_total = 7 with expiry 0 (the total continued)',
        },
      );
      await waitFor(
        async () => ((await value('jobs_done_total{exporter_expiry="short"}')) === 2 ? true : undefined),
        {
          timeoutMs: 20_000,
          what: 'jobs_done_total = 2 with a 2 s expiry (started again from zero)',
        },
      );
      assert.equal(
        await value('resets(jobs_done_total{exporter_expiry="never"}[5m])'),
        0,
        'no reset with expiry 0',
      );
      // Prometheus sees the short one end and begin again; increase() counts it from zero.
      assert.equal(
        await value('max_over_time(jobs_done_total{exporter_expiry="never"}[5m])'),
        7,
        'the never-expiring total only grew',
      );
    });
  },
);
