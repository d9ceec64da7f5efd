/**
 * The fleet, end to end on real servers: 3 agents take StatsD traffic whose every value the test
 * knows and publish their interval state to a real Apache Kafka (kafka sink, format: state);
 * 2 aggregators (kafka source) share the topic's partitions in one consumer group, merge, and
 * remote-write global series to the real Prometheus. Mid-run one aggregator is SIGKILLed: its
 * partitions move to the other, which reads their open windows again.
 *
 * Checked in Prometheus: the counter total is exact; the histogram's bins are exact; the
 * distribution's p50, p99 and p99.9 over every value sent are within the sketch's stated error
 * (one bucket of schema 6, 2^(1/64) − 1); a set below the exact limit reads its exact union,
 * and one above it is within three HyperLogLog standard errors.
 *
 * Needs Java, kcat and the Kafka jars (scripts/kafka/install.sh) and prometheus; skipped
 * without them, except under CI=true.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HLL_STANDARD_ERROR } from '../../core/hll.js';
import { KafkaBroker, kafkaRequirements } from '../../testing/kafka-broker.js';
import {
  freePort,
  listeningOn,
  serverPrograms,
  startSluice,
  waitFor,
  type RunningProcess,
  type SluiceProcess,
} from '../../testing/processes.js';
import { promQuery, promValue, startScraper } from '../../testing/prometheus-scraper.js';
import { lognormal } from '../../testing/random.js';
import { sendStatsd } from '../../testing/udp.js';

const kafka = kafkaRequirements();
const prom = serverPrograms(['prometheus'], 'apt-get install prometheus');
const skip = kafka.skip !== false ? kafka.skip : prom.skip;

const STATED_ERROR = Math.pow(2, 1 / 64) - 1;
const ROUNDS = 16;
const ROUND_MS = 500;
const HITS_PER_ROUND = 60;
const ROUTES = 12;
const SMALL_SET = 300;
const BIG_SET = 5000;
const SIZE_VALUES = [3, 30, 300, 3000];

describe('a fleet: 3 agents, Kafka, 2 aggregators, Prometheus', { skip, timeout: 420_000 }, () => {
  let tmp = '';
  let broker: KafkaBroker | undefined;
  let prometheus: RunningProcess | undefined;
  let promBase = '';
  const agents: SluiceProcess[] = [];
  const aggregators: SluiceProcess[] = [];
  const statsdPorts: number[] = [];
  const topic = 'sluice-state';
  // Every round sends a share of these to each agent; the union of a window is known.
  const latency = lognormal(7, ROUNDS * 3 * 127, Math.log(0.08), 1);
  const one = (promql: string) => promValue(promBase, promql);

  before(async () => {
    kafka.assertInstalled();
    prom.assertInstalled();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-fleet-'));
    broker = await KafkaBroker.create(kafka, { partitions: 6 });
    await broker.createTopic(topic, 6);
    const scraper = await startScraper(
      prom.paths.prometheus as string,
      tmp,
      [],
      ['--enable-feature=native-histograms', '--web.enable-remote-write-receiver'],
    );
    prometheus = scraper.process;
    promBase = scraper.base;

    for (let i = 0; i < 2; i++) {
      const sluice = startSluice({
        config: `agent:
  hostname: agg-${i}
sources:
  global:
    type: kafka
    brokers: ['${broker.bootstrap}']
    topic: ${topic}
    group: fleet-test
    window: 2s
    allowed_lateness: 1s
    session_timeout: 6s
    percentiles: [50, 99]
  internal:
    type: internal
    interval: 1s
sinks:
  rw:
    type: prometheus_remote_write
    urls: ['${promBase}/api/v1/write']
    native_histograms: true
    flush_interval: 200ms
`,
      });
      aggregators.push(sluice);
    }
    for (const a of aggregators) await a.waitForLog((l) => l.msg === 'Partitions assigned.', 60_000);

    for (let i = 0; i < 3; i++) {
      const port = await freePort('udp');
      const sluice = startSluice({
        config: `agent:
  hostname: agent-${i}
sources:
  statsd:
    type: statsd
    listen: ['udp://127.0.0.1:${port}']
    flush_interval: 1s
    histogram_bins:
      default: [10, 100, 1000]
sinks:
  kafka:
    type: kafka
    brokers: ['${broker.bootstrap}']
    topic: ${topic}
    format: state
    compression: lz4
    flush_interval: 100ms
    state:
      metrics: [{ name: 'fleet.*' }]
`,
      });
      agents.push(sluice);
      statsdPorts.push(port);
      await sluice.waitForLog(listeningOn(port), 20_000);
    }
  });

  after(async () => {
    await Promise.all([...agents, ...aggregators].map((s) => s.kill()));
    await prometheus?.kill();
    await broker?.destroy();
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  });

  it('merges exactly, within the stated errors, and loses no window when an aggregator is killed', async (t) => {
    let killedAt = -1;
    for (let round = 0; round < ROUNDS; round++) {
      const started = Date.now();
      await Promise.all(
        statsdPorts.map((port, agent) => {
          const lines: string[] = [];
          // Over 12 routes: series on every partition, so each aggregator owns some.
          for (let k = 0; k < HITS_PER_ROUND; k++) lines.push(`fleet.hits:1|c|#route:/r${k % ROUTES}`);
          for (let m = agent; m < SMALL_SET; m += 3) lines.push(`fleet.users:u${m}|s`);
          for (let m = agent; m < BIG_SET; m += 3) lines.push(`fleet.sessions:s${m}|s`);
          for (const v of SIZE_VALUES) lines.push(`fleet.size:${v}|h`);
          const base = (round * 3 + agent) * 127;
          for (let k = 0; k < 127; k++) lines.push(`fleet.latency_seconds:${latency[base + k]}|d`);
          return sendStatsd(port, lines, { perDatagram: 25, linesPerSecond: 200_000 });
        }),
      );
      if (round === ROUNDS / 2) {
        // Once agg-0 has delivered windows of its own, it dies without a word.
        await waitFor(
          async () => ((await one('count(fleet_hits_total{host="agg-0"})')) ?? 0) > 0 || undefined,
          {
            timeoutMs: 30_000,
            what: 'agg-0 to have delivered a window',
          },
        );
        (aggregators[0] as SluiceProcess).killNow();
        killedAt = round;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, ROUND_MS - (Date.now() - started))));
    }
    assert.equal(killedAt, ROUNDS / 2);

    const totalHits = ROUNDS * 3 * HITS_PER_ROUND;
    let lastHits: number | undefined;
    await waitFor(
      async () => {
        lastHits = await one('sum(max_over_time(fleet_hits_total[15m]))');
        return lastHits === totalHits ? true : undefined;
      },
      {
        timeoutMs: 90_000,
        intervalMs: 1000,
        what: `the global counter to reach ${totalHits}`,
        describe: () => `${lastHits}; agg-1 log: ${aggregators[1]?.stderr().slice(-2000)}`,
      },
    );
    // Nothing more arrives: the total stays exact (no window delivered twice), and so does each route's.
    await new Promise((r) => setTimeout(r, 5000));
    assert.equal(await one('sum(max_over_time(fleet_hits_total[15m]))'), totalHits);
    for (let r = 0; r < ROUTES; r++)
      assert.equal(
        await one(`sum(max_over_time(fleet_hits_total{route="/r${r}"}[15m]))`),
        totalHits / ROUTES,
        `route /r${r}`,
      );
    const owners = await promQuery(promBase, 'count by (host) (max_over_time(fleet_hits_total[15m]))');
    t.diagnostic(
      `counter: ${totalHits} sent, ${totalHits} in Prometheus; series per aggregator: ${owners
        .map((o) => `${o.metric.host} ${o.value}`)
        .join(', ')}`,
    );

    // Histogram bins: every value in its bin, exactly.
    for (const [le, perRound] of [
      ['10', 1],
      ['100', 2],
      ['1000', 3],
      ['+Inf', 4],
    ] as const) {
      const got = await one(`sum(max_over_time(fleet_size_bucket{le="${le}"}[15m]))`);
      assert.equal(got, ROUNDS * 3 * perRound, `bucket le=${le}`);
    }

    // The distribution over every value sent: quantiles within one bucket of schema 6.
    const all = [...latency].sort((a, b) => a - b);
    // Each aggregator's series is cumulative: their last samples (within the 5 min lookback) hold everything.
    const selector = 'sum(fleet_latency_seconds)';
    assert.equal(await one(`histogram_count(${selector})`), all.length);
    const report: string[] = [];
    for (const q of [0.5, 0.99, 0.999]) {
      const got = (await one(`histogram_quantile(${q}, ${selector})`)) as number;
      const exact = all[Math.ceil(q * all.length) - 1] as number;
      const error = Math.abs(got - exact) / exact;
      assert.ok(
        error <= STATED_ERROR,
        `p${q * 100}: ${got} vs exact ${exact} (${(error * 100).toFixed(3)} %)`,
      );
      report.push(`p${q * 100} ${(error * 100).toFixed(3)} %`);
    }
    t.diagnostic(`distribution (${all.length} values): ${report.join(', ')}`);

    // Sets: a window holding every agent's interval reads the whole union.
    assert.equal(await one('max(max_over_time(fleet_users[15m]))'), SMALL_SET);
    const big = (await one('max(max_over_time(fleet_sessions[15m]))')) as number;
    const bigError = Math.abs(big - BIG_SET) / BIG_SET;
    assert.ok(bigError <= 3 * HLL_STANDARD_ERROR, `big set read ${big} of ${BIG_SET}`);
    t.diagnostic(`sets: ${SMALL_SET} exact; ${big} of ${BIG_SET} (${(bigError * 100).toFixed(2)} %)`);

    const duplicates = await one('sum(sluice_duplicate_state_total)');
    t.diagnostic(`duplicate state skipped by the surviving aggregator: ${duplicates ?? 0} series`);
  });
});
