/**
 * The proof that the replayed daemon is faithful and that sluice's formulas are Docker's: the
 * real Docker CLI, pointed at the replay (DOCKER_HOST=unix://...), must list the same
 * containers as sluice and print, for each, the same CPU %, memory usage / limit, memory %,
 * network I/O, block I/O and PIDs that sluice's metrics give when formatted the CLI's way.
 *
 * The two sides do not even take the same route: `docker stats --no-stream` asks for
 * `stream=0` and gets the daemon's precpu_stats (the sample before), while sluice asks for
 * one-shot samples and uses its own previous collection. The fixtures hold rounding ties
 * (0.625 %, 3.0625 MiB, 1.125 MB) that Go and JavaScript round differently.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Issue } from '../../config/schema.js';
import { ManualClock } from '../../core/clock.js';
import type { Metric } from '../../core/metric.js';
import { testSourceContext } from '../../testing/context.js';
import { bytesSize, humanSize, percentage } from '../../testing/docker-format.js';
import { DockerReplay, dockerFixtureDir } from '../../testing/docker-replay.js';
import { serverPrograms } from '../../testing/processes.js';
import { schema, type DockerConfig } from './schema.js';
import { DockerSource } from './source.js';

const programs = serverPrograms(['docker'], 'the Docker CLI: apt-get install docker.io, or docker-ce-cli');

function docker(replay: DockerReplay, configDir: string, args: readonly string[]): Promise<string> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    DOCKER_HOST: `unix://${replay.socketPath}`,
    // An empty config dir: no stats format or context of the machine's user applies.
    DOCKER_CONFIG: configDir,
    DOCKER_CONTEXT: undefined,
    DOCKER_CLI_HINTS: 'false',
  };
  return new Promise((resolve, reject) => {
    execFile(
      programs.paths.docker ?? 'docker',
      args,
      { env, timeout: 20_000, maxBuffer: 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`docker ${args.join(' ')} failed: ${error.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

function jsonLines(text: string): Record<string, string>[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, string>);
}

function tag(m: Metric, key: string): string {
  return m.tags.find((t) => t[0] === key)?.[1] ?? '';
}

/** Sums the values of one metric of one container, over the other tags, where `where` holds. */
function sum(
  metrics: readonly Metric[],
  name: string,
  container: string,
  where: (m: Metric) => boolean = () => true,
): number {
  let total = 0;
  for (const m of metrics) {
    if (m.name !== name || tag(m, 'container_name') !== container || !where(m)) continue;
    if (m.kind === 'counter' || m.kind === 'gauge') total += m.value;
  }
  return total;
}

function only(metrics: readonly Metric[], name: string, container: string): number {
  const found = metrics.filter((m) => m.name === name && tag(m, 'container_name') === container);
  assert.equal(found.length, 1, `${name} of ${container}`);
  const m = found[0] as Metric;
  assert.ok(m.kind === 'counter' || m.kind === 'gauge');
  return m.value;
}

const direction = (d: string) => (m: Metric) => tag(m, 'direction') === d;

for (const fixture of ['cgroup-v1', 'cgroup-v2']) {
  describe(`docker CLI and sluice agree on a replayed ${fixture} daemon`, { skip: programs.skip }, () => {
    let replay: DockerReplay;
    let configDir: string;
    let metrics: readonly Metric[];

    before(async () => {
      programs.assertInstalled();
      replay = await DockerReplay.start(dockerFixtureDir(fixture));
      configDir = mkdtempSync(path.join(os.tmpdir(), 'sluice-docker-cli-'));
      const issues: Issue[] = [];
      const config = schema.parse({ socket: replay.socketPath }, [], issues) as DockerConfig;
      assert.deepEqual(issues, []);
      const source = new DockerSource(
        config,
        testSourceContext({ clock: new ManualClock(), type: 'docker' }),
      );
      replay.sample = 0;
      await source.collect();
      replay.sample = 1;
      metrics = await source.collect();
      await source.stop();
    });

    after(async () => {
      await replay?.close();
      if (configDir !== undefined) rmSync(configDir, { recursive: true, force: true });
    });

    it('docker ps lists the containers sluice reports, with the same IDs, names and images', async () => {
      const rows = jsonLines(await docker(replay, configDir, ['ps', '--no-trunc', '--format', '{{json .}}']));
      const cli = rows.map((r) => `${r.ID?.slice(0, 12)} ${r.Names} ${r.Image}`).sort();
      const ours = [
        ...new Set(
          metrics.map(
            (m) => `${tag(m, 'container_id')} ${tag(m, 'container_name')} ${tag(m, 'container_image')}`,
          ),
        ),
      ].sort();
      assert.equal(rows.length, replay.fixture.containers.length);
      assert.deepEqual(ours, cli);
    });

    it('docker stats --no-stream shows the figures sluice computed', async () => {
      const from = replay.requests.length;
      const rows = jsonLines(
        await docker(replay, configDir, ['stats', '--no-stream', '--format', '{{json .}}']),
      );
      // The CLI took the daemon's precpu route, not sluice's one-shot one.
      const cliStats = replay.requests.slice(from).filter((r) => r.includes('/stats'));
      assert.equal(cliStats.length, rows.length);
      for (const r of cliStats) assert.match(r, /\/stats\?stream=0$/);

      assert.equal(rows.length, replay.fixture.containers.length);
      for (const row of rows) {
        const name = row.Name as string;
        const ws = only(metrics, 'docker_memory_working_set_bytes', name);
        const limit = only(metrics, 'docker_memory_limit_bytes', name);
        const expected = {
          ID: [
            ...new Set(
              metrics.filter((m) => tag(m, 'container_name') === name).map((m) => tag(m, 'container_id')),
            ),
          ][0],
          CPUPerc: percentage(only(metrics, 'docker_cpu_percent', name)),
          MemUsage: `${bytesSize(ws)} / ${bytesSize(limit)}`,
          MemPerc: percentage((ws / limit) * 100),
          NetIO: `${humanSize(sum(metrics, 'docker_network_bytes', name, direction('receive')))} / ${humanSize(
            sum(metrics, 'docker_network_bytes', name, direction('transmit')),
          )}`,
          BlockIO: `${humanSize(sum(metrics, 'docker_blkio_bytes', name, direction('read')))} / ${humanSize(
            sum(metrics, 'docker_blkio_bytes', name, direction('write')),
          )}`,
          PIDs: String(only(metrics, 'docker_pids', name)),
        };
        const shown = {
          ID: row.ID,
          CPUPerc: row.CPUPerc,
          MemUsage: row.MemUsage,
          MemPerc: row.MemPerc,
          NetIO: row.NetIO,
          BlockIO: row.BlockIO,
          PIDs: row.PIDs,
        };
        assert.deepEqual(expected, shown, `container ${name}`);
      }
    });
  });
}
