import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Metric } from '../../core/metric.js';
import { findMetric } from '../../testing/context.js';
import { dockerFixtureDir, loadReplayFixture } from '../../testing/docker-replay.js';
import {
  blkioTotals,
  containerMetrics,
  containerTags,
  cpuPercent,
  memoryPercent,
  networkTotals,
  parseContainerList,
  parseStats,
  shortId,
  type ContainerStats,
} from './stats.js';

const T = 1_700_000_000_000;
const v1 = loadReplayFixture(dockerFixtureDir('cgroup-v1'));
const v2 = loadReplayFixture(dockerFixtureDir('cgroup-v2'));

/** The raw stats response of a container at a sample, looked up by name. */
function raw(f: typeof v1, sample: number, name: string): Record<string, unknown> {
  for (const s of f.samples[sample]?.values() ?? []) if (s.name === `/${name}`) return s;
  throw new Error(`no ${name} in sample ${sample}`);
}

function parsed(f: typeof v1, sample: number, name: string): ContainerStats {
  const s = parseStats(raw(f, sample, name));
  assert.ok(s !== undefined);
  return s;
}

function value(metrics: readonly Metric[], name: string, tags: Record<string, string> = {}): number {
  const m = findMetric(metrics, name, tags);
  assert.ok(m.kind === 'counter' || m.kind === 'gauge');
  return m.value;
}

/** What every metric of this source must satisfy, whatever the input. */
function assertWellFormed(metrics: readonly Metric[]): void {
  for (const m of metrics) {
    const where = `${m.name}${JSON.stringify(m.tags)}`;
    assert.ok(m.name.startsWith('docker_'), where);
    assert.equal(m.timestamp, T, where);
    assert.ok(typeof m.help === 'string' && m.help.length > 0, where);
    assert.ok(m.kind === 'counter' || m.kind === 'gauge', where);
    assert.ok(Number.isFinite(m.value) && m.value >= 0, where);
    if (m.kind === 'counter') assert.deepEqual([m.temporality, m.intervalMs], ['cumulative', 0], where);
    for (let i = 1; i < m.tags.length; i++) {
      assert.ok((m.tags[i - 1] as readonly string[])[0]! < (m.tags[i] as readonly string[])[0]!, where);
    }
  }
  const keys = metrics.map((m) => `${m.name}${JSON.stringify(m.tags)}`);
  assert.equal(new Set(keys).size, keys.length, 'no duplicate series');
}

describe('parseContainerList', () => {
  it('reads ID, first name without the slash, image and labels (cgroup v1 daemon)', () => {
    const list = parseContainerList(v1.containers);
    assert.ok(list !== undefined);
    assert.equal(list.malformed, 0);
    assert.deepEqual(
      list.containers.map((c) => [shortId(c.id), c.name, c.image]),
      [
        ['4c0f4a1f8e3b', 'shop_web_1', 'nginx:1.25'],
        ['9e8d7c6b5a4f', 'shop_db_1', 'postgres:15'],
      ],
    );
    assert.equal(list.containers[0]?.labels['com.docker.compose.service'], 'web');
  });

  it('prefers the own name over legacy link aliases, and skips entries without an ID', () => {
    const list = parseContainerList([
      { Id: 'abc', Names: ['/other/alias', '/mine'], Image: 'x', Labels: null },
      { Names: ['/noid'] },
      'not an object',
    ]);
    assert.deepEqual(list, {
      containers: [{ id: 'abc', name: 'mine', image: 'x', labels: {} }],
      malformed: 2,
    });
    assert.equal(parseContainerList({ message: 'no' }), undefined);
  });
});

describe('parseStats on a cgroup v1 daemon (Docker 20.10)', () => {
  const web = parsed(v1, 1, 'shop_web_1');
  const r = raw(v1, 1, 'shop_web_1') as {
    cpu_stats: { cpu_usage: { total_usage: number; percpu_usage: number[] }; system_cpu_usage: number };
    memory_stats: { usage: number; limit: number; stats: Record<string, number> };
  };

  it('reads CPU time, host CPU time and the CPU count', () => {
    assert.equal(web.cpu.total, r.cpu_stats.cpu_usage.total_usage);
    assert.equal(web.cpu.system, r.cpu_stats.system_cpu_usage);
    assert.equal(web.cpu.onlineCpus, 4);
    assert.equal(web.cpu.throttledPeriods, 38);
  });

  it('takes memory usage less total_inactive_file as the working set, and v1 cache and rss', () => {
    const s = r.memory_stats.stats;
    assert.equal(web.memory.cgroup, 'v1');
    assert.equal(web.memory.workingSet, r.memory_stats.usage - (s.total_inactive_file as number));
    assert.equal(web.memory.cache, s.total_cache);
    assert.equal(web.memory.rss, s.total_rss);
    assert.equal(web.memory.maxUsage, 171966464);
    assert.equal(web.memory.failcnt, 0);
  });

  it('counts only Read and Write ops of io_service_bytes_recursive, per device', () => {
    assert.deepEqual(web.blkio, [
      { device: '253:0', read: 10485760, write: 2621440 },
      { device: '8:0', read: 10485760, write: 2621440 },
    ]);
  });

  it('falls back to the length of percpu_usage when online_cpus is absent, as the CLI does', () => {
    const body = structuredClone(raw(v1, 1, 'shop_web_1')) as { cpu_stats: Record<string, unknown> };
    delete body.cpu_stats.online_cpus;
    assert.equal(parseStats(body)?.cpu.onlineCpus, 4);
  });
});

describe('parseStats on a cgroup v2 daemon (Docker 27)', () => {
  const api = parsed(v2, 1, 'api');
  const r = raw(v2, 1, 'api') as { memory_stats: { usage: number; stats: Record<string, number> } };

  it('takes memory usage less inactive_file as the working set, and file and anon', () => {
    const s = r.memory_stats.stats;
    assert.equal(api.memory.cgroup, 'v2');
    assert.equal(api.memory.workingSet, r.memory_stats.usage - (s.inactive_file as number));
    assert.equal(api.memory.cache, s.file);
    assert.equal(api.memory.rss, s.anon);
    assert.equal(api.memory.maxUsage, undefined);
    assert.equal(api.cpu.onlineCpus, 8);
  });

  it('reads lowercase read/write ops, and no network for a container without one', () => {
    assert.deepEqual(api.blkio, [{ device: '259:0', read: 7593984, write: 1179648 }]);
    assert.deepEqual(
      api.networks?.map((n) => n.interface),
      ['eth0', 'eth5'],
    );
    assert.equal(parsed(v2, 1, 'nightly-batch').networks, undefined);
  });

  it('treats the zeroed sample of a stopped container as no sample', () => {
    assert.equal(
      parseStats({ read: '0001-01-01T00:00:00Z', cpu_stats: { cpu_usage: { total_usage: 0 } } }),
      undefined,
    );
    assert.equal(parseStats({ read: '0001-01-01T00:00:00Z', preread: '0001-01-01T00:00:00Z' }), undefined);
  });
});

describe("the Docker CLI's formulas", () => {
  it('CPU %: container CPU delta over host CPU delta, times online CPUs, times 100', () => {
    const before = parsed(v2, 0, 'cache').cpu;
    const after = parsed(v2, 1, 'cache').cpu;
    const expected =
      (((after.total as number) - (before.total as number)) /
        ((after.system as number) - (before.system as number))) *
      8 *
      100;
    assert.equal(cpuPercent(before, after), expected);
    assert.equal(cpuPercent(after, after), undefined, 'no host time passed: no rate');
    assert.equal(cpuPercent({ ...after, system: 0 }, { ...after, system: 10 }), 0, 'no CPU used: 0');
    assert.equal(
      cpuPercent(after, { ...before, system: (after.system as number) + 1 }),
      undefined,
      'restart',
    );
  });

  it('memory %, network and block I/O totals', () => {
    const web = parsed(v1, 1, 'shop_web_1');
    assert.equal(memoryPercent(web.memory), ((web.memory.workingSet as number) / 536870912) * 100);
    assert.deepEqual(networkTotals(web.networks), { rx: 1334567, tx: 7754321 });
    assert.deepEqual(networkTotals(undefined), { rx: 0, tx: 0 });
    assert.deepEqual(blkioTotals(web.blkio), { read: 2 * 10485760, write: 2 * 2621440 });
  });

  it('working set: v1 key first, then v2, never below zero', () => {
    const ws = (usage: number, stats: Record<string, number>): number | undefined =>
      parseStats({ cpu_stats: { cpu_usage: { total_usage: 1 } }, memory_stats: { usage, stats } })?.memory
        .workingSet;
    assert.equal(ws(100, { total_inactive_file: 30, inactive_file: 10 }), 70);
    assert.equal(ws(100, { total_inactive_file: 300, inactive_file: 10 }), 90);
    assert.equal(ws(100, { inactive_file: 300 }), 100);
    assert.equal(ws(100, {}), 100);
  });
});

describe('containerMetrics', () => {
  const list = parseContainerList(v1.containers)!;
  const web = list.containers[0]!;
  const out: Metric[] = [];
  const tags = containerTags(web, [/^com\.docker\.compose\.service$/]);
  containerMetrics(out, tags, parsed(v1, 1, 'shop_web_1'), 12.5, T);

  it('tags every metric with the container and the chosen labels only', () => {
    assert.deepEqual(tags, [
      ['com.docker.compose.service', 'web'],
      ['container_id', '4c0f4a1f8e3b'],
      ['container_image', 'nginx:1.25'],
      ['container_name', 'shop_web_1'],
    ]);
    assertWellFormed(out);
    for (const m of out) assert.deepEqual(m.tags.slice(0, 1), [['com.docker.compose.service', 'web']]);
  });

  it('a label cannot override the container tags', () => {
    const t = containerTags({ ...web, labels: { container_name: 'spoof' } }, [/.*/]);
    assert.deepEqual(
      t.find((x) => x[0] === 'container_name'),
      ['container_name', 'shop_web_1'],
    );
  });

  it('reports seconds, bytes, per-interface and per-device counters', () => {
    assert.equal(value(out, 'docker_cpu_usage_seconds'), (100215355000 + 1234567890) / 1e9);
    assert.equal(value(out, 'docker_cpu_throttled_seconds'), 2545678901 / 1e9);
    assert.equal(value(out, 'docker_cpu_percent'), 12.5);
    assert.equal(value(out, 'docker_memory_working_set_bytes'), 159383552 - 20971520);
    assert.equal(value(out, 'docker_memory_limit_bytes'), 536870912);
    assert.equal(value(out, 'docker_network_bytes', { interface: 'eth0', direction: 'transmit' }), 7754321);
    assert.equal(value(out, 'docker_network_dropped', { interface: 'eth0', direction: 'receive' }), 3);
    assert.equal(value(out, 'docker_blkio_bytes', { device: '8:0', direction: 'write' }), 2621440);
    assert.equal(value(out, 'docker_pids'), 5);
    const kinds = Object.fromEntries(out.map((m) => [m.name, m.kind]));
    assert.equal(kinds.docker_network_bytes, 'counter');
    assert.equal(kinds.docker_memory_usage_bytes, 'gauge');
  });

  it('leaves out docker_cpu_percent without a previous sample', () => {
    const first: Metric[] = [];
    containerMetrics(first, tags, parsed(v1, 0, 'shop_web_1'), undefined, T);
    assert.ok(!first.some((m) => m.name === 'docker_cpu_percent'));
  });
});

describe('never throws on arbitrary JSON', () => {
  it('parseContainerList and parseStats accept anything, and metrics stay well formed', () => {
    const anyJson = fc.jsonValue({ maxDepth: 4 });
    // Bodies shaped like stats responses, with any value in any field.
    const statsLike = fc.record(
      {
        read: fc.oneof(fc.string(), fc.constant('0001-01-01T00:00:00Z')),
        cpu_stats: fc.record(
          {
            cpu_usage: fc.record({ total_usage: anyJson, percpu_usage: anyJson }, { requiredKeys: [] }),
            system_cpu_usage: anyJson,
            online_cpus: anyJson,
            throttling_data: anyJson,
          },
          { requiredKeys: [] },
        ),
        memory_stats: fc.record({ usage: anyJson, limit: anyJson, stats: anyJson }, { requiredKeys: [] }),
        networks: fc.dictionary(fc.string(), fc.dictionary(fc.string(), anyJson)),
        blkio_stats: fc.record({ io_service_bytes_recursive: fc.array(anyJson) }, { requiredKeys: [] }),
        pids_stats: anyJson,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(anyJson, statsLike), fc.oneof(anyJson, statsLike), (a, b) => {
        parseContainerList(a);
        const sa = parseStats(a);
        const sb = parseStats(b);
        if (sa === undefined) return;
        const out: Metric[] = [];
        const pct = sb === undefined ? undefined : cpuPercent(sb.cpu, sa.cpu);
        if (pct !== undefined) assert.ok(Number.isFinite(pct) && pct >= 0);
        containerMetrics(out, [['container_name', 'x']], sa, pct, T);
        assertWellFormed(out);
      }),
      { numRuns: 500 },
    );
  });
});
