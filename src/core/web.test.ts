import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { makeTestPki, type TestPki } from '../testing/tls.js';
import { BasicAuth, createWebServer, parseWebConfig, WebConfigError, type WebConfig } from './web.js';

function problems(text: string, file = '/etc/sluice/web.yml'): string[] {
  try {
    parseWebConfig(text, file);
  } catch (e) {
    assert.ok(e instanceof WebConfigError);
    return e.problems.map((p) => String(p));
  }
  return assert.fail('expected a WebConfigError');
}

describe('web configuration files (the exporter toolkit format)', () => {
  let dir = '';
  let pki: TestPki;
  const hash = bcrypt.hashSync('s3cret', 4).replace('$2b$', '$2y$');

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-web-'));
    pki = makeTestPki(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads TLS, client auth, headers and users; relative paths are the file’s', () => {
    const file = path.join(dir, 'web.yml');
    const config = parseWebConfig(
      `tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  client_allowed_sans: [scraper.test]
  min_version: TLS13
http_server_config:
  http2: false
  headers: { X-Frame-Options: deny }
basic_auth_users:
  prometheus: '${hash}'
`,
      file,
    );
    assert.equal(config.tls?.clientAuth, 'RequireAndVerifyClientCert');
    assert.equal(config.tls?.minVersion, 'TLSv1.3');
    assert.deepEqual(config.tls?.allowedSans, ['scraper.test']);
    assert.deepEqual(config.tls?.cert, readFileSync(pki.serverCert));
    assert.deepEqual(config.headers, { 'X-Frame-Options': 'deny' });
    assert.deepEqual([...config.users.keys()], ['prometheus']);
  });

  it('names the file, line and key of every problem', () => {
    assert.deepEqual(
      problems(`tls_server_config:
  cert_file: /nonexistent/server.crt
  key_file: /nonexistent/server.key
  client_auth_type: Sometimes
  cipher_suites: [TLS_AES_128_GCM_SHA256]
basic_auth_users:
  alice: plaintext
tls_config: {}
`),
      [
        '/etc/sluice/web.yml:8:1: tls_config: unknown or unsupported key; known keys: tls_server_config, http_server_config, basic_auth_users',
        "/etc/sluice/web.yml:5:3: tls_server_config.cipher_suites: names Go's constants, which Node cannot use: remove it (Node's defaults apply)",
        '/etc/sluice/web.yml:2:14: tls_server_config.cert_file: cannot read /nonexistent/server.crt: ENOENT',
        '/etc/sluice/web.yml:3:13: tls_server_config.key_file: cannot read /nonexistent/server.key: ENOENT',
        '/etc/sluice/web.yml:1:1: tls_server_config: needs cert_file (or cert) and key_file (or key)',
        '/etc/sluice/web.yml:4:21: tls_server_config.client_auth_type: expected one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert',
        '/etc/sluice/web.yml:7:10: basic_auth_users.alice: expected a bcrypt hash ($2y$10$… as htpasswd -B makes)',
      ],
    );
  });

  it('checks basic auth with bcrypt, caching successes, refusing the rest', async () => {
    const auth = new BasicAuth(new Map([['prometheus', hash]]));
    const header = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
    assert.equal(await auth.check(header('prometheus', 's3cret')), true);
    assert.equal(await auth.check(header('prometheus', 's3cret')), true);
    assert.equal(await auth.check(header('prometheus', 'wrong')), false);
    assert.equal(await auth.check(header('nobody', 's3cret')), false);
    assert.equal(await auth.check(undefined), false);
    assert.equal(await auth.check('Bearer x'), false);
    assert.equal(await new BasicAuth(new Map()).check(undefined), true);
  });

  describe('a server under it', () => {
    async function serve(config: WebConfig): Promise<{ port: number; close: () => Promise<void> }> {
      const server = createWebServer(config, (_req, res) => res.end('ok\n'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as { port: number }).port;
      return {
        port,
        close: () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      };
    }

    function get(
      port: number,
      options: { cert?: string; key?: string; auth?: string } = {},
    ): Promise<number | string> {
      return new Promise((resolve) => {
        const req = https.get(
          {
            host: '127.0.0.1',
            port,
            path: '/metrics',
            ca: readFileSync(pki.caCert),
            cert: options.cert === undefined ? undefined : readFileSync(options.cert),
            key: options.key === undefined ? undefined : readFileSync(options.key),
            auth: options.auth,
            agent: false,
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
    }

    const web = (clientAuth: string, extra = ''): WebConfig => {
      const file = path.join(dir, `web-${clientAuth}.yml`);
      writeFileSync(
        file,
        `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: ${clientAuth}\n  client_ca_file: ca.crt\n${extra}`,
      );
      return parseWebConfig(readFileSync(file, 'utf8'), file);
    };

    it('NoClientCert with users: 401 without credentials or with wrong ones, 200 with them', async () => {
      const s = await serve(web('NoClientCert', `basic_auth_users:\n  prometheus: '${hash}'\n`));
      try {
        assert.equal(await get(s.port), 401);
        assert.equal(await get(s.port, { auth: 'prometheus:wrong' }), 401);
        assert.equal(await get(s.port, { auth: 'prometheus:s3cret' }), 200);
      } finally {
        await s.close();
      }
    });

    it('RequireAndVerifyClientCert: only a certificate of the client CA gets through', async () => {
      const s = await serve(web('RequireAndVerifyClientCert'));
      try {
        assert.equal(await get(s.port, { cert: pki.clientCert, key: pki.clientKey }), 200);
        assert.notEqual(await get(s.port), 200);
        assert.notEqual(await get(s.port, { cert: pki.strangerCert, key: pki.strangerKey }), 200);
      } finally {
        await s.close();
      }
    });

    it('VerifyClientCertIfGiven and RequireAnyClientCert, and client_allowed_sans', async () => {
      const ifGiven = await serve(web('VerifyClientCertIfGiven'));
      const any = await serve(web('RequireAnyClientCert'));
      const sans = await serve(web('RequireAndVerifyClientCert', '  client_allowed_sans: [other.test]\n'));
      try {
        assert.equal(await get(ifGiven.port), 200);
        assert.equal(await get(ifGiven.port, { cert: pki.clientCert, key: pki.clientKey }), 200);
        assert.equal(await get(ifGiven.port, { cert: pki.strangerCert, key: pki.strangerKey }), 403);
        assert.equal(await get(any.port), 403);
        assert.equal(await get(any.port, { cert: pki.strangerCert, key: pki.strangerKey }), 200);
        assert.equal(await get(sans.port, { cert: pki.clientCert, key: pki.clientKey }), 403);
      } finally {
        await ifGiven.close();
        await any.close();
        await sans.close();
      }
    });
  });
});
