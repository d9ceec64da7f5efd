/**
 * The admin endpoint of the built `sluice` as a process: liveness, readiness, the components as
 * JSON, and POST /-/reload with an invalid and a valid file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { test } from 'node:test';
import {
  freePort,
  httpGet,
  listeningOn,
  serverPrograms,
  sluiceCommand,
  startProcess,
  startSluice,
} from '../testing/processes.js';
import { makeTestPki } from '../testing/tls.js';
import { sendStatsd, waitForUdpDrain } from '../testing/udp.js';

async function post(url: string): Promise<{ status: number; body: unknown }> {
  const r = await fetch(url, { method: 'POST' });
  return { status: r.status, body: await r.json() };
}

test('the admin endpoint reports health, readiness and components, and reloads like SIGHUP', async (t) => {
  const statsdPort = await freePort('udp');
  const adminPort = await freePort('tcp');
  const config = (extra: string): string => `agent:
  admin_listen: 127.0.0.1:${adminPort}
sources:
  statsd:
    type: statsd
    listen: 127.0.0.1:${statsdPort}
    workers: 0
sinks:
  console:
    type: console
    format: json
${extra}`;
  const sluice = startSluice({ owner: t, config: config('') });
  const logged = await sluice.waitForLog((l) => l.msg === 'Admin endpoint listening.');
  assert.equal(logged.url, `http://127.0.0.1:${adminPort}/`);
  await sluice.waitForLog((l) => l.msg === 'sluice started.');
  await sluice.waitForLog(listeningOn(statsdPort));
  const base = `http://127.0.0.1:${adminPort}`;

  assert.equal((await httpGet(`${base}/-/healthy`)).status, 200);
  assert.equal((await httpGet(`${base}/-/ready`)).status, 200);
  await sendStatsd(statsdPort, ['a:1|c', 'b:2|g', 'not a line']);
  await waitForUdpDrain(statsdPort);
  const components = JSON.parse((await httpGet(`${base}/api/v1/components`)).body.toString('utf8')) as {
    id: string;
    kind: string;
    state: string;
    stats: Record<string, number>;
  }[];
  const statsd = components.find((c) => c.id === 'statsd');
  assert.equal(statsd?.kind, 'source');
  assert.equal(statsd?.state, 'running');
  assert.equal(statsd?.stats.lines_received, 3);
  const rejected = Object.entries(statsd?.stats ?? {}).filter(([k]) => k.startsWith('lines_rejected{'));
  assert.equal(
    rejected.reduce((sum, [, v]) => sum + v, 0),
    1,
    JSON.stringify(rejected),
  );
  assert.equal(components.find((c) => c.id === 'console')?.kind, 'sink');

  // GET does not reload.
  const get = await httpGet(`${base}/-/reload`);
  assert.equal(get.status, 405);
  assert.equal(get.headers.allow, 'POST');

  writeFileSync(sluice.configPath, config('filters:\n  - action: nope\n'));
  const refused = await post(`${base}/-/reload`);
  assert.equal(refused.status, 400);
  assert.match(JSON.stringify(refused.body), /sluice\.yaml:\d+:\d+: filters\[0\]\.action/);

  writeFileSync(sluice.configPath, config('filters:\n  - { action: drop, name: "x.*" }\n'));
  const applied = await post(`${base}/-/reload`);
  assert.equal(applied.status, 200);
  assert.deepEqual((applied.body as { result: { unchanged: string[] } }).result.unchanged, [
    'console',
    'statsd',
  ]);
  assert.equal((await httpGet(`${base}/nope`)).status, 404);
  assert.equal((await sluice.stop('SIGTERM')).code, 0);
});

test('sluice tap prints what the sinks get, filtered, as it flows, until interrupted', async (t) => {
  const statsdPort = await freePort('udp');
  const adminPort = await freePort('tcp');
  const sluice = startSluice({
    owner: t,
    config: `agent:
  admin_listen: 127.0.0.1:${adminPort}
  hostname: tap-host
sources:
  statsd:
    type: statsd
    listen: 127.0.0.1:${statsdPort}
    flush_interval: 100ms
sinks:
  console:
    type: console
    format: json
`,
  });
  await sluice.waitForLog((l) => l.msg === 'sluice started.');
  const tap = startProcess(
    ...sluiceCommand([
      'tap',
      '--admin',
      `http://127.0.0.1:${adminPort}`,
      '--name',
      'tapped.*',
      '--format',
      'json',
    ]),
    { owner: t },
  );
  // The tap connects at some point: send until it has printed something (bounded).
  for (let i = 0; i < 100 && !tap.stdout().includes('tapped.x'); i++) {
    await sendStatsd(statsdPort, ['tapped.x:1|c|#route:/a', 'other.y:5|g']);
    await new Promise((r) => setTimeout(r, 100));
  }
  const exit = await tap.stop('SIGINT');
  assert.equal(exit.code, 0, exit.stderr);
  const lines = exit.stdout
    .trim()
    .split('\n')
    .map(
      (l) => JSON.parse(l) as { source: string; name: string; tags: Record<string, string>; value: number },
    );
  assert.ok(lines.length > 0, 'tapped something');
  for (const l of lines) {
    assert.equal(l.source, 'statsd');
    assert.equal(l.name, 'tapped.x', 'the name filter applies');
    assert.deepEqual(l.tags, { host: 'tap-host', route: '/a' }, 'after the agent adds its tags');
    assert.ok(l.value >= 1);
  }
  assert.equal((await sluice.stop('SIGTERM')).code, 0);
});

test('sluice tap --raw prints the lines an ingest worker received, valid or not, before parsing', async (t) => {
  const statsdPort = await freePort('udp');
  const adminPort = await freePort('tcp');
  const sluice = startSluice({
    owner: t,
    config: `agent:
  admin_listen: 127.0.0.1:${adminPort}
sources:
  statsd:
    type: statsd
    listen: 127.0.0.1:${statsdPort}
    workers: 1
sinks:
  console:
    type: console
    format: json
`,
  });
  await sluice.waitForLog((l) => l.msg === 'sluice started.');
  const tap = startProcess(
    ...sluiceCommand(['tap', '--admin', `http://127.0.0.1:${adminPort}`, '--raw', '--component', 'statsd']),
    { owner: t },
  );
  for (let i = 0; i < 100 && !tap.stdout().includes('not a line'); i++) {
    await sendStatsd(statsdPort, ['raw.a:1|c|#k:v\nnot a line']);
    await new Promise((r) => setTimeout(r, 100));
  }
  const exit = await tap.stop('SIGINT');
  assert.equal(exit.code, 0, exit.stderr);
  const lines = new Set(exit.stdout.trim().split('\n'));
  assert.deepEqual([...lines].sort(), ['statsd not a line', 'statsd raw.a:1|c|#k:v']);
  const tagged = startProcess(
    ...sluiceCommand(['tap', '--admin', `http://127.0.0.1:${adminPort}`, '--raw', '--tag', 'k:v']),
    { owner: t },
  );
  const refused = await tagged.wait(10_000);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /tag filters apply to metrics, not to raw lines/);
  assert.equal((await sluice.stop('SIGTERM')).code, 0);
});

test('sluice tap says what to do when there is no admin endpoint', async (t) => {
  const port = await freePort('tcp');
  const tap = startProcess(...sluiceCommand(['tap', '--admin', `http://127.0.0.1:${port}`]), {
    owner: t,
  });
  const exit = await tap.wait(10_000);
  assert.equal(exit.code, 1);
  assert.match(
    exit.stderr,
    /cannot reach the admin endpoint at http:\/\/127\.0\.0\.1:\d+ .*is agent\.admin_listen set\?/,
  );
});

const openssl = serverPrograms(['openssl'], 'apt-get install openssl');

test(
  'behind admin_web_config_file (TLS, basic auth), sluice tap connects with https://user:password@ and is refused without',
  { skip: openssl.skip },
  async (t) => {
    openssl.assertInstalled();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-admin-tls-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const pki = makeTestPki(dir);
    writeFileSync(
      path.join(dir, 'web.yml'),
      `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  ops: '${bcrypt.hashSync('admin-pass', 4)}'\n`,
    );
    const statsdPort = await freePort('udp');
    const adminPort = await freePort('tcp');
    const sluice = startSluice({
      owner: t,
      config: `agent:
  admin_listen: 127.0.0.1:${adminPort}
  admin_web_config_file: ${path.join(dir, 'web.yml')}
sources:
  statsd:
    type: statsd
    listen: 127.0.0.1:${statsdPort}
    flush_interval: 100ms
sinks:
  console:
    type: console
`,
    });
    await sluice.waitForLog(
      (l) => l.msg === 'Admin endpoint listening.' && String(l.url).startsWith('https://'),
    );
    const env = { NODE_EXTRA_CA_CERTS: pki.caCert };
    const refused = startProcess(...sluiceCommand(['tap', '--admin', `https://127.0.0.1:${adminPort}`]), {
      owner: t,
      env,
    });
    const r = await refused.wait(20_000);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /answered 401/);
    const tap = startProcess(
      ...sluiceCommand([
        'tap',
        '--admin',
        `https://ops:admin-pass@127.0.0.1:${adminPort}`,
        '--format',
        'json',
      ]),
      { owner: t, env },
    );
    for (let i = 0; i < 100 && !tap.stdout().includes('secured.x'); i++) {
      await sendStatsd(statsdPort, ['secured.x:1|c']);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const exit = await tap.stop('SIGINT');
    assert.equal(exit.code, 0, exit.stderr);
    assert.match(exit.stdout, /"name":"secured\.x"/);
    assert.equal((await sluice.stop('SIGTERM')).code, 0);
  },
);
