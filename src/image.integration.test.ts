/**
 * The container image (scripts/image/build.sh), run with podman as an operator would:
 * - on its built-in config: runs as the non-root user, serves a scrape on the published port,
 *   takes a StatsD datagram on the published UDP port, and exits 0 on SIGTERM (podman stop);
 * - with a config mounted over it and the replayed Docker API socket mounted in: the docker
 *   source reports the replayed containers.
 * The image is built here unless SLUICE_IMAGE_ARCHIVE names one (.ci/run builds it once). Needs
 * podman, runc and mmdebstrap (apt-get install podman runc uidmap mmdebstrap), run as root;
 * skipped without them, except under CI=true.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DockerReplay, dockerFixtureDir } from './testing/docker-replay.js';
import { freePort, httpGet, repoRoot, serverPrograms, waitFor } from './testing/processes.js';
import { sendStatsd } from './testing/udp.js';

const servers = serverPrograms(
  ['podman', 'runc', 'mmdebstrap'],
  'apt-get install podman runc uidmap mmdebstrap',
);
const TAG = 'localhost/sluice:image-test';

describe('the container image, run by podman', { skip: servers.skip, timeout: 600_000 }, () => {
  let tmp = '';
  let env: NodeJS.ProcessEnv = process.env;
  const containers: string[] = [];

  function podman(args: string[], check = true): string {
    const r = spawnSync('podman', ['--runtime', 'runc', ...args], { env, encoding: 'utf8' });
    if (check) assert.equal(r.status, 0, `podman ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return r.stdout.trim();
  }

  before(() => {
    servers.assertInstalled();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-image-'));
    // Without this, podman sets rlimits that some hosts (this CI's) refuse.
    const conf = path.join(tmp, 'containers.conf');
    writeFileSync(conf, '[containers]\ndefault_ulimits = []\n');
    env = { ...process.env, CONTAINERS_CONF: conf };
    let archive = process.env.SLUICE_IMAGE_ARCHIVE ?? '';
    if (archive === '' || !existsSync(archive)) {
      archive = path.join(tmp, 'sluice-image.oci.tar');
      execFileSync(path.join(repoRoot, 'scripts', 'image', 'build.sh'), [archive], {
        env: { ...env, SLUICE_IMAGE_TAG: TAG },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
    } else {
      const loaded = podman(['load', '-q', '-i', archive]);
      const id = /sha256:([0-9a-f]+)|Loaded image: (\S+)/.exec(loaded);
      podman(['tag', (id?.[2] ?? id?.[1]) as string, TAG]);
    }
  });

  after(() => {
    for (const c of containers) podman(['rm', '-f', c], false);
    podman(['rmi', '-f', TAG], false);
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  });

  it('on its built-in config: non-root, scrape, a StatsD datagram, SIGTERM exits 0', async () => {
    const http = await freePort('tcp');
    const udp = await freePort('udp');
    const id = podman(['run', '-d', '-p', `127.0.0.1:${http}:9103`, '-p', `127.0.0.1:${udp}:8125/udp`, TAG]);
    containers.push(id);
    assert.equal(podman(['exec', id, 'id', '-u']), '65532');
    await waitFor(
      async () => ((await httpGet(`http://127.0.0.1:${http}/metrics`)).status === 200 ? true : undefined),
      {
        timeoutMs: 60_000,
        what: 'a scrape of the container',
        describe: () => podman(['logs', id], false),
      },
    );
    // Resent until seen: the first datagrams may arrive before the port forward is ready.
    await waitFor(
      async () => {
        await sendStatsd(udp, ['image.hits:5|c|#via:podman']);
        const page = (await httpGet(`http://127.0.0.1:${http}/metrics`)).body.toString('utf8');
        return /^image_hits_total\{[^}]*via="podman"[^}]*\} \d+/m.test(page) ? true : undefined;
      },
      { timeoutMs: 60_000, what: 'the StatsD counter in a scrape (flush every 10 s)' },
    );
    podman(['stop', '-t', '30', id]);
    assert.equal(podman(['inspect', id, '--format', '{{.State.ExitCode}}']), '0');
  });

  it('with a mounted config and the replayed Docker API socket: the docker source reports its containers', async () => {
    const dir = mkdtempSync(path.join(tmp, 'docker-'));
    chmodSync(dir, 0o755);
    const socket = path.join(dir, 'docker.sock');
    const replay = await DockerReplay.start(dockerFixtureDir('cgroup-v2'), socket);
    try {
      chmodSync(socket, 0o666);
      const http = await freePort('tcp');
      const config = path.join(tmp, 'sluice.yaml');
      writeFileSync(
        config,
        `sources:
  docker:
    type: docker
    interval: 1s
sinks:
  prometheus:
    type: prometheus_exporter
    listen: 0.0.0.0:9103
`,
      );
      chmodSync(config, 0o644);
      const id = podman([
        'run',
        '-d',
        '-p',
        `127.0.0.1:${http}:9103`,
        '-v',
        `${config}:/etc/sluice/sluice.yaml:ro`,
        '-v',
        `${socket}:/var/run/docker.sock`,
        TAG,
      ]);
      containers.push(id);
      await waitFor(
        async () => {
          const r = await httpGet(`http://127.0.0.1:${http}/metrics`).catch(() => undefined);
          return r !== undefined &&
            /^docker_cpu_usage_seconds_total\{[^}]*container_image="busybox"/m.test(r.body.toString('utf8'))
            ? true
            : undefined;
        },
        {
          timeoutMs: 60_000,
          what: 'docker_* series from the replayed socket',
          describe: () => podman(['logs', id], false),
        },
      );
      podman(['stop', '-t', '30', id]);
      assert.equal(podman(['inspect', id, '--format', '{{.State.ExitCode}}']), '0');
    } finally {
      await replay.stop();
    }
  });

  it('is small enough to say so: its size is reported', () => {
    const size = Number(podman(['image', 'inspect', TAG, '--format', '{{.Size}}']));
    assert.ok(size > 50e6 && size < 600e6, `image size ${size}`);
    console.log(`# image ${TAG}: ${(size / 1e6).toFixed(0)} MB uncompressed`);
  });
});
