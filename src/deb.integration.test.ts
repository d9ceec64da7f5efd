/**
 * The Debian package (scripts/deb/build.sh), installed as an operator would, with dpkg -i, into
 * a Debian bookworm container made by mmdebstrap (minbase, systemd, procps) and run by podman:
 * - systemd-analyze verify accepts its unit, which is hardened (unprivileged user, no new
 *   privileges, no capabilities, a read-only system);
 * - the installed `sluice validate` and `sluice test` work on the installed config;
 * - the agent, started from the installed files as the `sluice` user the postinst created,
 *   answers a scrape.
 * The package is built here unless SLUICE_DEB names one (.ci/run builds it once). Needs podman,
 * runc and mmdebstrap, as root; skipped without them, except under CI=true.
 */
import assert from 'node:assert/strict';
import { execFileSync, execSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, httpGet, repoRoot, serverPrograms, waitFor } from './testing/processes.js';

const servers = serverPrograms(
  ['podman', 'runc', 'mmdebstrap', 'dpkg-deb'],
  'apt-get install podman runc uidmap mmdebstrap',
);
const IMAGE = 'localhost/sluice-deb-test:bookworm';

describe('the Debian package, installed with dpkg -i', { skip: servers.skip, timeout: 600_000 }, () => {
  let tmp = '';
  let env: NodeJS.ProcessEnv = process.env;
  let deb = '';
  let container = '';
  let httpPort = 0;

  function podman(args: string[], check = true): { out: string; code: number } {
    const r = spawnSync('podman', ['--runtime', 'runc', ...args], { env, encoding: 'utf8' });
    if (check) assert.equal(r.status, 0, `podman ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return { out: `${r.stdout}${r.stderr}`.trim(), code: r.status ?? -1 };
  }

  before(async () => {
    servers.assertInstalled();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-deb-'));
    const conf = path.join(tmp, 'containers.conf');
    writeFileSync(conf, '[containers]\ndefault_ulimits = []\n');
    env = { ...process.env, CONTAINERS_CONF: conf };
    deb = process.env.SLUICE_DEB ?? '';
    if (deb === '' || !existsSync(deb)) {
      deb = path.join(tmp, 'sluice.deb');
      execFileSync(path.join(repoRoot, 'scripts', 'deb', 'build.sh'), [deb], {
        stdio: ['ignore', 'inherit', 'inherit'],
      });
    }
    // A plain Debian system to install it into.
    execSync(
      `mmdebstrap --quiet --variant=minbase --include=systemd,procps bookworm - | podman import - ${IMAGE}`,
      { env, stdio: ['ignore', 'ignore', 'inherit'], shell: '/bin/bash' },
    );
    httpPort = await freePort('tcp');
    container = podman([
      'run',
      '-d',
      '-p',
      `127.0.0.1:${httpPort}:9103`,
      '-v',
      `${deb}:/tmp/sluice.deb:ro`,
      IMAGE,
      'sleep',
      'infinity',
    ])
      .out.split('\n')
      .pop() as string;
    podman(['exec', container, 'dpkg', '-i', '/tmp/sluice.deb']);
  });

  after(() => {
    if (container !== '') podman(['rm', '-f', container], false);
    podman(['rmi', '-f', IMAGE], false);
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  });

  it('has a hardened unit that systemd-analyze verify accepts', () => {
    const r = podman(
      ['exec', container, 'systemd-analyze', 'verify', '/lib/systemd/system/sluice.service'],
      false,
    );
    assert.equal(r.code, 0, r.out);
    assert.ok(!r.out.includes('sluice.service'), r.out);
    const unit = podman(['exec', container, 'cat', '/lib/systemd/system/sluice.service']).out;
    for (const line of [
      'User=sluice',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'CapabilityBoundingSet=\n',
      'StandardError=journal',
    ])
      assert.ok(`${unit}\n`.includes(line), `the unit has ${line.trim()}`);
    assert.match(podman(['exec', container, 'id', 'sluice']).out, /^uid=\d+\(sluice\)/);
  });

  it('installs sluice validate and sluice test, which work on the installed config', () => {
    assert.equal(
      podman(['exec', container, 'sluice', 'validate', '/etc/sluice/sluice.yaml']).out,
      '/etc/sluice/sluice.yaml: valid',
    );
    const test = podman(['exec', container, 'sluice', 'test', '/etc/sluice/sluice.yaml']).out;
    assert.match(test, /system_cpu_seconds\{/);
    assert.match(test, /# linux \(linux\): \d+ metrics/);
  });

  it('runs from the installed files as the sluice user and answers a scrape', async () => {
    podman([
      'exec',
      '-d',
      container,
      'setpriv',
      '--reuid=sluice',
      '--regid=sluice',
      '--init-groups',
      'sluice',
      '--config',
      '/etc/sluice/sluice.yaml',
    ]);
    await waitFor(
      async () => {
        const r = await httpGet(`http://127.0.0.1:${httpPort}/metrics`).catch(() => undefined);
        return r !== undefined && /^system_cpu_seconds_total\{/m.test(r.body.toString('utf8'))
          ? true
          : undefined;
      },
      { timeoutMs: 60_000, what: 'a scrape of the installed agent' },
    );
    const size = readFileSync(deb).length;
    console.log(`# ${path.basename(deb)}: ${(size / 1e6).toFixed(0)} MB`);
  });
});
