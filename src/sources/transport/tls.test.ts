/**
 * TLS on tcp:// listeners (the StatsD and JSON sources' streams): with a certificate, clients
 * connect with TLS and their lines arrive as on plain TCP; with RequireAndVerifyClientCert only
 * clients holding a certificate of client_ca_file get in. A refused or plain-TCP client never
 * delivers a line, and its failed handshake is counted. Needs `openssl` to make certificates;
 * skipped without it, except under CI=true.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { serverPrograms } from '../../testing/processes.js';
import { makeTestPki, type TestPki } from '../../testing/tls.js';
import { listen, until } from './test-util.js';

const servers = serverPrograms(['openssl'], 'apt-get install openssl');

/** Sends `text` over TLS and ends; resolves with 'sent' or the error's code. */
function sendTls(port: number, text: string, options: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...options }, () => {
      socket.end(text, () => resolve('sent'));
    });
    socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

describe('tcp:// listeners with TLS', { skip: servers.skip }, () => {
  let dir = '';
  let pki: TestPki;
  before(() => {
    servers.assertInstalled();
    dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-stream-tls-'));
    pki = makeTestPki(dir);
  });
  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('takes lines over TLS; a plain-TCP client delivers nothing and is counted', async () => {
    const h = await listen('tcp://127.0.0.1:0', {
      tls: {
        cert_file: pki.serverCert,
        key_file: pki.serverKey,
        client_auth_type: 'NoClientCert',
        client_ca_file: '',
      },
    });
    try {
      const port = h.listeners.bound()[0]?.port as number;
      assert.equal(await sendTls(port, 'a:1|c\nb:2|g\n', { ca: readFileSync(pki.caCert) }), 'sent');
      await until(() => h.lines().length === 2, 'two lines over TLS');
      assert.deepEqual(h.lines(), ['a:1|c', 'b:2|g']);
      const plain = net.connect(port, '127.0.0.1', () => plain.end('c:3|c\n'));
      plain.on('error', () => {});
      await until(() => h.counter('transport_tls_handshake_failures') === 1, 'the plain client counted');
      assert.deepEqual(h.lines(), ['a:1|c', 'b:2|g']);
    } finally {
      await h.listeners.stop();
    }
  });

  it('with RequireAndVerifyClientCert, only a client with a certificate of client_ca_file gets in', async () => {
    const h = await listen('tcp://127.0.0.1:0', {
      tls: {
        cert_file: pki.serverCert,
        key_file: pki.serverKey,
        client_auth_type: 'RequireAndVerifyClientCert',
        client_ca_file: pki.caCert,
      },
    });
    try {
      const port = h.listeners.bound()[0]?.port as number;
      const ca = readFileSync(pki.caCert);
      const client = { ca, cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) };
      const stranger = { ca, cert: readFileSync(pki.strangerCert), key: readFileSync(pki.strangerKey) };
      assert.equal(await sendTls(port, 'ok:1|c\n', client), 'sent');
      await until(() => h.lines().length === 1, 'the client with a certificate');
      await sendTls(port, 'nocert:1|c\n', { ca });
      await sendTls(port, 'stranger:1|c\n', stranger);
      await until(() => h.counter('transport_tls_handshake_failures') === 2, 'both refused clients counted');
      assert.deepEqual(h.lines(), ['ok:1|c']);
    } finally {
      await h.listeners.stop();
    }
  });
});
