import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Issue } from '../../config/schema.js';
import { ManualClock } from '../../core/clock.js';
import type { Metric } from '../../core/metric.js';
import { findMetric, recordingLogger, testSourceContext } from '../../testing/context.js';
import { DockerReplay, dockerFixtureDir } from '../../testing/docker-replay.js';
import { MAX_API_VERSION, compareApiVersions, parseApiVersion } from './client.js';
import { schema, sample, type DockerConfig } from './schema.js';
import { DockerSource, UNAVAILABLE_WARN_EVERY_MS } from './source.js';
import { parse } from 'yaml';

function config(overrides: Record<string, unknown> = {}): DockerConfig {
  const issues: Issue[] = [];
  const parsed = schema.parse(overrides, [], issues);
  assert.deepEqual(issues, []);
  return parsed as DockerConfig;
}

function value(metrics: readonly Metric[], name: string, tags: Record<string, string> = {}): number {
  const m = findMetric(metrics, name, tags);
  assert.ok(m.kind === 'counter' || m.kind === 'gauge');
  return m.value;
}

function names(metrics: readonly Metric[]): string[] {
  return [...new Set(metrics.map((m) => m.tags.find((t) => t[0] === 'container_name')?.[1] ?? '?'))].sort();
}

function setup(replay: DockerReplay | string, overrides: Record<string, unknown> = {}) {
  const clock = new ManualClock();
  const { log, lines } = recordingLogger();
  const ctx = testSourceContext({ clock, log, type: 'docker' });
  const socket = typeof replay === 'string' ? replay : replay.socketPath;
  const source = new DockerSource(config({ socket, ...overrides }), ctx);
  after(() => source.stop());
  return { clock, lines, ctx, source };
}

async function replayOf(fixture: string): Promise<DockerReplay> {
  const replay = await DockerReplay.start(dockerFixtureDir(fixture));
  after(() => replay.close());
  return replay;
}

type RawCpu = {
  cpu_usage: { total_usage: number };
  system_cpu_usage: number;
  online_cpus: number;
};

for (const [fixture, api] of [
  ['cgroup-v1', '1.41'],
  ['cgroup-v2', '1.47'],
] as const) {
  describe(`docker source against a replayed ${fixture} daemon (API ${api})`, async () => {
    const replay = await replayOf(fixture);
    const { source, lines, ctx } = setup(replay);
    replay.sample = 0;
    const first = await source.collect();
    replay.sample = 1;
    const second = await source.collect();

    it('negotiates the API version and asks for one-shot statistics', () => {
      assert.equal(replay.requests[0], 'GET /_ping');
      assert.ok(replay.requests.includes(`GET /v${api}/containers/json`));
      const stats = replay.requests.filter((r) => r.includes('/stats'));
      assert.equal(stats.length, 2 * replay.fixture.containers.length);
      for (const r of stats)
        assert.match(
          r,
          new RegExp(`^GET /v${api}/containers/[0-9a-f]{64}/stats\\?stream=false&one-shot=true$`),
        );
      assert.equal(replay.requests.filter((r) => r.includes('_ping')).length, 1, 'pinged once');
      assert.ok(lines.some((l) => l.level === 'info' && l.apiVersion === api));
    });

    it('reports every running container, with name, image and short ID', () => {
      const expected = replay.fixture.containers.map((c) => String((c.Names as string[])[0]).slice(1)).sort();
      assert.deepEqual(names(first), expected);
      assert.deepEqual(names(second), expected);
      for (const c of replay.fixture.containers) {
        const m = findMetric(second, 'docker_pids', { container_id: String(c.Id).slice(0, 12) });
        assert.ok(m.tags.some((t) => t[0] === 'container_image' && t[1] === c.Image));
      }
      assert.equal(ctx.stats.total('docker_request_errors'), 0);
    });

    it('computes CPU % from the previous collection exactly as the daemon’s precpu_stats would', () => {
      assert.ok(!first.some((m) => m.name === 'docker_cpu_percent'));
      for (const raw of replay.fixture.samples[1]!.values()) {
        const cpu = raw.cpu_stats as RawCpu;
        const pre = raw.precpu_stats as RawCpu;
        const want =
          ((cpu.cpu_usage.total_usage - pre.cpu_usage.total_usage) /
            (cpu.system_cpu_usage - pre.system_cpu_usage)) *
          cpu.online_cpus *
          100;
        const name = String(raw.name).slice(1);
        assert.equal(value(second, 'docker_cpu_percent', { container_name: name }), want, name);
      }
    });
  });
}

describe('docker source: API versions', () => {
  it('compares versions as numbers and accepts only version-shaped headers', () => {
    assert.ok(compareApiVersions('1.9', '1.41') < 0);
    assert.ok(compareApiVersions('1.50', '1.5') > 0);
    assert.equal(compareApiVersions('1.41', '1.41'), 0);
    assert.equal(parseApiVersion(' 1.47 '), '1.47');
    assert.equal(parseApiVersion('1.47/../../x'), undefined);
    assert.equal(parseApiVersion(undefined), undefined);
  });

  it('asks a daemon older than 1.41 without one-shot (it does not know it)', async () => {
    const replay = await replayOf('cgroup-v2');
    replay.apiVersion = '1.40';
    const { source } = setup(replay);
    const metrics = await source.collect();
    assert.equal(names(metrics).length, 3);
    const stats = replay.requests.filter((r) => r.includes('/stats'));
    for (const r of stats) assert.match(r, /^GET \/v1\.40\/containers\/[0-9a-f]{64}\/stats\?stream=false$/);
  });

  it(`caps a newer daemon's version at ${MAX_API_VERSION}`, async () => {
    const replay = await replayOf('cgroup-v2');
    replay.apiVersion = '1.99';
    const { source } = setup(replay);
    assert.equal(names(await source.collect()).length, 3);
    assert.ok(replay.requests.includes(`GET /v${MAX_API_VERSION}/containers/json`));
  });
});

describe('docker source: tolerance', () => {
  it('an absent socket: empty collections, counted, warned at most every 5 minutes', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-docker-none-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const { source, lines, ctx, clock } = setup(path.join(dir, 'docker.sock'));
    const warnings = (): number => lines.filter((l) => l.level === 'warn').length;
    assert.deepEqual(await source.collect(), []);
    clock.advance(10_000);
    assert.deepEqual(await source.collect(), []);
    assert.equal(warnings(), 1);
    assert.equal(lines.find((l) => l.level === 'warn')?.reason, 'ENOENT');
    clock.advance(UNAVAILABLE_WARN_EVERY_MS);
    await source.collect();
    assert.equal(warnings(), 2);
    assert.equal(ctx.stats.total('docker_unavailable'), 3);
  });

  it('a daemon restart: empty while it is gone, metrics again once it is back', async () => {
    const replay = await replayOf('cgroup-v1');
    const { source, lines, ctx } = setup(replay);
    assert.equal(names(await source.collect()).length, 2);
    await replay.stop();
    assert.deepEqual(await source.collect(), []);
    assert.equal(ctx.stats.total('docker_unavailable'), 1);
    await replay.listen();
    replay.sample = 1;
    const back = await source.collect();
    assert.equal(names(back).length, 2);
    // Negotiated again, and CPU % still computed across the outage (same containers).
    assert.equal(replay.requests.filter((r) => r.includes('_ping')).length, 2);
    assert.ok(back.some((m) => m.name === 'docker_cpu_percent'));
    assert.equal(lines.filter((l) => l.msg === 'Connected to the Docker daemon.').length, 2);
  });

  it('a container gone between the list and its statistics is skipped and counted', async () => {
    const replay = await replayOf('cgroup-v2');
    const { source, ctx, lines } = setup(replay);
    replay.gone.add('aa86eacfb3b3ed4cd362c1e88fc89a53908ad05fb3a4103bca3f9b28292d14bf');
    assert.deepEqual(names(await source.collect()), ['api', 'nightly-batch']);
    assert.equal(ctx.stats.total('docker_containers_vanished'), 1);
    assert.equal(ctx.stats.total('docker_request_errors'), 0);
    assert.ok(!lines.some((l) => l.level === 'warn'));
  });

  it('a slow answer past the timeout skips that container, counted by reason', async () => {
    const replay = await replayOf('cgroup-v2');
    replay.statsDelayMs = 300;
    const { source, ctx } = setup(replay, { timeout: '50ms' });
    assert.deepEqual(await source.collect(), []);
    assert.equal(ctx.stats.total('docker_request_errors'), 3);
    replay.statsDelayMs = 0;
    assert.equal(names(await source.collect()).length, 3);
  });
});

describe('docker source: selection', () => {
  it('include and exclude names, and labels copied as tags', async () => {
    const replay = await replayOf('cgroup-v2');
    const { source } = setup(replay, {
      include_names: ['a*', '/^cache$/', 'nightly-*'],
      exclude_names: ['nightly-*'],
      labels: ['team', 'org.opencontainers.*'],
    });
    const metrics = await source.collect();
    assert.deepEqual(names(metrics), ['api', 'cache']);
    const api = findMetric(metrics, 'docker_pids', { container_name: 'api' });
    assert.deepEqual(api.tags, [
      ['container_id', 'ede54ee1afda'],
      ['container_image', 'ghcr.io/example/api:2.3.1'],
      ['container_name', 'api'],
      ['org.opencontainers.image.version', '2.3.1'],
      ['team', 'payments'],
    ]);
  });
});

describe('docker source: config', () => {
  it('the sample is valid and shows the defaults', () => {
    const doc = parse(sample) as { docker: Record<string, unknown> };
    const { type, ...options } = doc.docker;
    assert.equal(type, 'docker');
    const issues: Issue[] = [];
    assert.deepEqual(schema.parse(options, [], issues), schema.parse({}, [], []));
    assert.deepEqual(issues, []);
    for (const key of Object.keys(schema.fields)) assert.ok(key in options, key);
  });

  it('rejects a relative socket, a bad pattern and unknown keys', () => {
    const issues: Issue[] = [];
    schema.parse({ socket: 'docker.sock', labels: ['/(/'], sockett: 'x' }, [], issues);
    assert.deepEqual(
      issues.map((i) => i.path.join('.')),
      ['sockett', 'socket', 'labels.0'],
    );
  });
});
