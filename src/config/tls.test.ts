/**
 * The HTTPS sinks' `tls` block against a local TLS server that requires a client certificate of
 * its CA (mutual TLS), with a certificate for 127.0.0.1 and localhost from a private CA: the
 * remote-write and InfluxDB transports deliver with `ca_file`, `cert_file` and `key_file`; without
 * the client certificate, without the CA, or expecting another `server_name`, they fail.
 * Needs `openssl` (Debian's package) to make the certificates; skipped without it, except under
 * CI=true.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { Issue } from './schema.js';
import { clientTlsOptions, clientTlsSchema, type ClientTlsConfig } from './tls.js';
import { HttpTransport as RemoteWriteTransport } from '../sinks/prometheus_remote_write/http.js';
import type { RemoteWriteUrl } from '../sinks/prometheus_remote_write/schema.js';
import { HttpTransport as InfluxTransport } from '../sinks/influxdb/http.js';
import type { InfluxUrl } from '../sinks/influxdb/schema.js';
import { serverPrograms } from '../testing/processes.js';
import { makeTestPki, type TestPki } from '../testing/tls.js';

const servers = serverPrograms(['openssl'], 'apt-get install openssl');

function tlsConfig(value: Record<string, unknown>): ClientTlsConfig {
  const issues: Issue[] = [];
  const parsed = clientTlsSchema.parse(value, ['tls'], issues);
  assert.deepEqual(issues, []);
  return parsed as ClientTlsConfig;
}

const payload = {
  records: ['m value=1 1\n'],
  sizes: [12],
  points: 1,
  bytes: 12,
};

describe(
  'HTTPS sinks with a private CA and a client certificate (mutual TLS)',
  { skip: servers.skip },
  () => {
    let dir = '';
    let pki: TestPki;
    let server: https.Server;
    let port = 0;
    const seen: { url: string; subject: string }[] = [];

    before(async () => {
      servers.assertInstalled();
      dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-mtls-'));
      pki = makeTestPki(dir);
      server = https.createServer(
        {
          cert: readFileSync(pki.serverCert),
          key: readFileSync(pki.serverKey),
          ca: readFileSync(pki.caCert),
          requestCert: true,
          rejectUnauthorized: true,
        },
        (req, res) => {
          const cert = (req.socket as TLSSocket).getPeerCertificate();
          seen.push({ url: req.url ?? '', subject: String(cert.subject?.CN ?? '') });
          req.resume();
          req.on('end', () => {
            res.writeHead(204);
            res.end();
          });
        },
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    });

    after(async () => {
      server?.closeAllConnections();
      await new Promise<void>((resolve) =>
        server === undefined ? resolve() : server.close(() => resolve()),
      );
      if (dir !== '') rmSync(dir, { recursive: true, force: true });
    });

    const remoteWrite = (tls: ClientTlsConfig) =>
      new RemoteWriteTransport(
        {
          endpoint: {
            host: '127.0.0.1',
            port,
            href: `https://127.0.0.1:${port}/api/v1/write`,
          } as RemoteWriteUrl,
          label: `127.0.0.1:${port}`,
          addresses: ['127.0.0.1'],
        },
        { headers: {}, tls: clientTlsOptions(tls) },
      );
    const influx = (tls: ClientTlsConfig) =>
      new InfluxTransport(
        {
          endpoint: { host: 'localhost', port, scheme: 'https', path: '' } as InfluxUrl,
          label: `localhost:${port}`,
          addresses: ['127.0.0.1'],
        },
        {
          api: 'v1',
          database: 'db',
          retentionPolicy: '',
          username: '',
          password: '',
          organization: '',
          bucket: '',
          token: '',
          precision: 'ns',
          gzip: false,
          tls: clientTlsOptions(tls),
          onPartialWrite: () => {},
        },
      );

    async function outcome(t: {
      send(p: typeof payload): Promise<void>;
      close(): Promise<void>;
    }): Promise<string> {
      try {
        await t.send(payload);
        return 'delivered';
      } catch (e) {
        return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      } finally {
        await t.close();
      }
    }

    it('deliver with the CA and a client certificate of the server’s CA', async () => {
      const tls = tlsConfig({ ca_file: pki.caCert, cert_file: pki.clientCert, key_file: pki.clientKey });
      assert.equal(await outcome(remoteWrite(tls)), 'delivered');
      assert.equal(await outcome(influx(tls)), 'delivered');
      assert.deepEqual(
        seen.slice(-2).map((s) => [s.url.split('?')[0], s.subject]),
        [
          ['/api/v1/write', 'client'],
          ['/write', 'client'],
        ],
      );
    });

    it('fail without the client certificate, without the CA, or with another server name', async () => {
      const noCert = tlsConfig({ ca_file: pki.caCert });
      const noCa = tlsConfig({ cert_file: pki.clientCert, key_file: pki.clientKey });
      const otherName = tlsConfig({
        ca_file: pki.caCert,
        cert_file: pki.clientCert,
        key_file: pki.clientKey,
        server_name: 'other.test',
      });
      const stranger = tlsConfig({
        ca_file: pki.caCert,
        cert_file: pki.strangerCert,
        key_file: pki.strangerKey,
      });
      for (const make of [remoteWrite, influx]) {
        for (const [what, tls] of [
          ['no client certificate', noCert],
          ['a client certificate of another CA', stranger],
          ['no CA', noCa],
          ['another server name', otherName],
        ] as const)
          assert.notEqual(await outcome(make(tls)), 'delivered', what);
      }
      // server_name is what the certificate is checked against: localhost is in it.
      const byName = tlsConfig({
        ca_file: pki.caCert,
        cert_file: pki.clientCert,
        key_file: pki.clientKey,
        server_name: 'localhost',
      });
      assert.equal(await outcome(remoteWrite(byName)), 'delivered');
    });

    it('refuses unreadable files and a certificate without its key when the config is read', () => {
      const issues: Issue[] = [];
      clientTlsSchema.parse({ ca_file: '/nonexistent/ca.crt', cert_file: pki.clientCert }, ['tls'], issues);
      assert.deepEqual(
        issues.map((i) => `${i.path.join('.')}: ${i.message}`),
        [
          'tls.key_file: cert_file and key_file go together',
          'tls.ca_file: cannot read /nonexistent/ca.crt: ENOENT',
        ],
      );
    });
  },
);
