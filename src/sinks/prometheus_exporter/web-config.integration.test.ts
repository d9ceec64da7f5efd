/**
 * The exporter behind a web configuration file (the Prometheus exporter toolkit's format),
 * scraped by the real Prometheus with the scrape configs it would use for any exporter:
 * - TLS with basic auth: the job with the CA and the credentials scrapes (up 1, the agent's
 *   counter read back); the same job without credentials is refused (up 0, 401);
 * - mutual TLS (RequireAndVerifyClientCert): the job presenting a certificate of the client CA
 *   scrapes; the job without one is refused.
 * Needs `prometheus` and `openssl` (Debian: apt-get install prometheus openssl); skipped without
 * them, except under CI=true.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
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
import { promValue, startScraper } from '../../testing/prometheus-scraper.js';
import { makeTestPki } from '../../testing/tls.js';
import { sendStatsd } from '../../testing/udp.js';

const servers = serverPrograms(['prometheus', 'openssl'], 'apt-get install prometheus openssl');

describe(
  'the exporter over TLS with basic auth and client certificates, scraped by the real Prometheus',
  { skip: servers.skip, timeout: 120_000 },
  () => {
    let tmp = '';
    const sluices: SluiceProcess[] = [];
    let prometheus: RunningProcess | undefined;
    let promBase = '';
    let setupError: unknown;

    const up = (job: string) => promValue(promBase, `up{job="${job}"}`);

    before(async () => {
      try {
        servers.assertInstalled();
        tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-webcfg-'));
        const pki = makeTestPki(tmp);
        const hash = bcrypt.hashSync('scrape-pass', 10);
        writeFileSync(
          path.join(tmp, 'web-auth.yml'),
          `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: '${hash}'\n`,
        );
        writeFileSync(
          path.join(tmp, 'web-mtls.yml'),
          `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n`,
        );
        const ports: Record<string, number> = {};
        for (const name of ['auth', 'mtls']) {
          const statsdPort = await freePort('udp');
          const exporterPort = await freePort('tcp');
          const sluice = startSluice({
            config: `agent:
  host_tag: ''
sources:
  statsd:
    type: statsd
    listen: udp://127.0.0.1:${statsdPort}
    flush_interval: 500ms
sinks:
  prometheus:
    type: prometheus_exporter
    listen: 127.0.0.1:${exporterPort}
    web_config_file: ${path.join(tmp, `web-${name}.yml`)}
`,
          });
          sluices.push(sluice);
          await sluice.waitForLog(listeningOn(statsdPort), 20_000);
          await sluice.waitForLog(listeningOn(exporterPort), 20_000);
          await sendStatsd(statsdPort, [`webcfg_hits:3|c|#via:${name}`]);
          ports[name] = exporterPort;
        }
        const tls = (extra: string) =>
          `    scheme: https\n    tls_config:\n      ca_file: ${pki.caCert}\n${extra}`;
        const job = (name: string, port: number, extra: string) =>
          `  - job_name: ${name}\n${extra}    static_configs:\n      - targets: ['127.0.0.1:${port}']\n`;
        const scraper = await startScraper(
          servers.paths.prometheus as string,
          tmp,
          [],
          [],
          undefined,
          job(
            'tls_auth',
            ports.auth as number,
            `${tls('')}    basic_auth:\n      username: prometheus\n      password: scrape-pass\n`,
          ) +
            job('tls_no_auth', ports.auth as number, tls('')) +
            job(
              'tls_wrong_auth',
              ports.auth as number,
              `${tls('')}    basic_auth:\n      username: prometheus\n      password: guess\n`,
            ) +
            job(
              'mtls',
              ports.mtls as number,
              tls(`      cert_file: ${pki.clientCert}\n      key_file: ${pki.clientKey}\n`),
            ) +
            job('mtls_no_cert', ports.mtls as number, tls('')),
        );
        prometheus = scraper.process;
        promBase = scraper.base;
      } catch (e) {
        setupError = e;
      }
    });

    after(async () => {
      await prometheus?.kill();
      await Promise.all(sluices.map((s) => s.kill()));
      if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
    });

    it('scrapes over TLS with the right credentials, and is refused without them or with wrong ones', async () => {
      if (setupError !== undefined) throw setupError;
      await waitFor(async () => ((await up('tls_auth')) === 1 ? true : undefined), {
        timeoutMs: 30_000,
        what: 'up{job="tls_auth"} = 1',
      });
      await waitFor(
        async () => {
          return (await promValue(promBase, 'webcfg_hits_total{job="tls_auth"}')) === 3 ? true : undefined;
        },
        { timeoutMs: 30_000, what: 'the counter scraped over TLS with basic auth' },
      );
      for (const job of ['tls_no_auth', 'tls_wrong_auth'])
        await waitFor(async () => ((await up(job)) === 0 ? true : undefined), {
          timeoutMs: 30_000,
          what: `up{job="${job}"} = 0`,
        });
      // Prometheus says why: the exporter answered 401.
      const targets = JSON.parse((await httpGet(`${promBase}/api/v1/targets`)).body.toString()) as {
        data: { activeTargets: { labels: { job: string }; lastError: string }[] };
      };
      const refused = targets.data.activeTargets.find((t) => t.labels.job === 'tls_no_auth');
      assert.match(refused?.lastError ?? '', /401/);
    });

    it('with client_auth_type RequireAndVerifyClientCert, scrapes only with a certificate of the client CA', async () => {
      if (setupError !== undefined) throw setupError;
      await waitFor(async () => ((await up('mtls')) === 1 ? true : undefined), {
        timeoutMs: 30_000,
        what: 'up{job="mtls"} = 1',
      });
      await waitFor(async () => ((await up('mtls_no_cert')) === 0 ? true : undefined), {
        timeoutMs: 30_000,
        what: 'up{job="mtls_no_cert"} = 0',
      });
    });
  },
);
