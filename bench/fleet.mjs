// Fleet aggregation (docs/fleet.md) at 10k and 100k global series, on a real Apache Kafka:
//
// 1. Merge rate. Two sluice agents (statsd → kafka sink, format: state, lz4) publish ROUNDS
//    intervals of S distinct counter series each while no aggregator runs, and stop (flushing).
//    Then one aggregator process (kafka source) starts on that backlog: the time from its
//    assignment until its merged-message count reaches the topic's total gives series merged
//    per second by one aggregator process (consume, decode and merge; its main thread).
// 2. Delay. With the aggregator caught up and the agents running again, S series per agent
//    flush once a window; the aggregator's console sink prints each window. The delay is the
//    time from a window's end (the last agent flush it can hold) to its last line reaching the
//    sink: the allowed lateness (configured: 1 s here) plus closing, emitting and writing.
//
//   node bench/fleet.mjs [--series 10000,100000] [--json FILE]     needs `npm run build` and Kafka
//   (scripts/kafka/install.sh, Java 17); prints a table and exits 0, or says why it was skipped.
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Consumer } from '@platformatic/kafka';
import { KafkaBroker, kafkaRequirements } from '../dist/testing/kafka-broker.js';
import { freePort, httpGet, listeningOn, startSluice } from '../dist/testing/processes.js';
import { sendStatsd } from '../dist/testing/udp.js';

const { values: opts } = parseArgs({
  options: { series: { type: 'string', default: '10000,100000' }, json: { type: 'string' } },
});
const SERIES = opts.series.split(',').map(Number);
const AGENTS = 2;
const ROUNDS = 3;
const WINDOW_MS = 2000;
const LATENESS_MS = 1000;
/** Live phase: each agent flushes S series every window, so the aggregator is offered AGENTS × S per window. */
const LIVE_FLUSH_MS = WINDOW_MS;
const LIVE_ROUNDS = 6;

const req = kafkaRequirements();
try {
  req.assertInstalled();
} catch (e) {
  console.log(`fleet: skipped: ${e.message}`);
  process.exit(0);
}

/** S distinct counter series, 25 lines a datagram, at about 400k lines a second. */
async function sendSeries(port, series) {
  const lines = Array.from({ length: series }, (_, k) => `bench.fleet:1|c|#s:${k}`);
  await sendStatsd(port, lines, { perDatagram: 25, linesPerSecond: 400_000 });
}

function agentConfig(port, topic, adminPort, flushInterval = '1s') {
  return `agent:
  admin_listen: 127.0.0.1:${adminPort}
sources:
  statsd:
    type: statsd
    listen: ['udp://127.0.0.1:${port}']
    flush_interval: ${flushInterval}
    max_series: 0
sinks:
  kafka:
    type: kafka
    brokers: ['${broker.bootstrap}']
    topic: ${topic}
    format: state
    compression: lz4
    batch_size: 5000
    flush_interval: 200ms
    buffer_points: 1000000
    shutdown_timeout: 60s
`;
}

async function stat(adminPort, component, key) {
  const r = await httpGet(`http://127.0.0.1:${adminPort}/api/v1/components`);
  const c = JSON.parse(r.body.toString('utf8')).find((x) => x.id === component);
  return c?.stats?.[key] ?? 0;
}

async function topicTotal(topic) {
  const consumer = new Consumer({
    clientId: 'bench',
    groupId: `bench-count-${Date.now()}`,
    bootstrapBrokers: [broker.bootstrap],
  });
  try {
    const ends = await consumer.listOffsets({ topics: [topic] });
    return (ends.get(topic) ?? []).reduce((a, b) => a + Number(b), 0);
  } finally {
    await consumer.close();
  }
}

const broker = await KafkaBroker.create(req, { partitions: 6 });
const results = [];
try {
  for (const S of SERIES) {
    const topic = `fleet-${S}`;
    await broker.createTopic(topic, 6);
    // 1. The backlog.
    const agents = [];
    for (let a = 0; a < AGENTS; a++) {
      const port = await freePort('udp');
      const adminPort = await freePort('tcp');
      const p = startSluice({ config: agentConfig(port, topic, adminPort) });
      await p.waitForLog(listeningOn(port), 20_000);
      agents.push({ p, port, adminPort });
    }
    for (let round = 0; round < ROUNDS; round++) {
      await Promise.all(agents.map((a) => sendSeries(a.port, S)));
      await sleep(1200); // each round in an interval of its own
    }
    await sleep(1500);
    for (const a of agents) {
      const exit = await a.p.stop('SIGTERM', 90_000);
      if (exit.code !== 0) throw new Error(`agent exited ${exit.code}: ${exit.stderr.slice(-2000)}`);
    }
    const total = await topicTotal(topic);

    const aggAdmin = await freePort('tcp');
    const agg = startSluice({
      config: `agent:
  admin_listen: 127.0.0.1:${aggAdmin}
sources:
  global:
    type: kafka
    brokers: ['${broker.bootstrap}']
    topic: ${topic}
    group: bench-${S}
    window: ${WINDOW_MS}ms
    allowed_lateness: ${LATENESS_MS}ms
    max_series: 0
sinks:
  out:
    type: console
    format: influx
`,
    });
    const assigned = await agg.waitForLog((l) => l.msg === 'Partitions assigned.', 60_000);
    const assignedAt = Date.parse(assigned.time);
    let merged = 0;
    let doneAt = 0;
    for (let i = 0; i < 3000 && doneAt === 0; i++) {
      merged = await stat(aggAdmin, 'global', 'state_messages{outcome="merged"}');
      if (merged >= total) doneAt = Date.now();
      else await sleep(50);
    }
    if (doneAt === 0) throw new Error(`aggregator merged ${merged} of ${total}`);
    const mergeSeconds = await stat(aggAdmin, 'global', 'merge_seconds');
    const catchUpS = (doneAt - assignedAt) / 1000;

    // 2. Live: agents send every second; the sink's arrival time of each window's last line.
    const live = [];
    for (let a = 0; a < AGENTS; a++) {
      const port = await freePort('udp');
      const p = startSluice({
        config: agentConfig(port, topic, await freePort('tcp'), `${LIVE_FLUSH_MS}ms`),
      });
      await p.waitForLog(listeningOn(port), 20_000);
      live.push({ p, port });
    }
    const lastSeen = new Map(); // window end (ms) → arrival time of its last line so far
    let parsed = 0;
    const watch = setInterval(() => {
      const out = agg.stdout();
      const end = out.lastIndexOf('\n');
      if (end < parsed) return;
      const now = Date.now();
      for (const line of out.slice(parsed, end).split('\n')) {
        const ns = line.slice(line.lastIndexOf(' ') + 1);
        if (ns.length > 6) lastSeen.set(Number(ns.slice(0, -6)), now);
      }
      parsed = end + 1;
    }, 10);
    const liveStart = Date.now();
    for (let round = 0; round < LIVE_ROUNDS; round++) {
      const t0 = Date.now();
      await Promise.all(live.map((a) => sendSeries(a.port, S)));
      await sleep(Math.max(0, LIVE_FLUSH_MS - (Date.now() - t0)));
    }
    await sleep(WINDOW_MS + LATENESS_MS + 3000);
    clearInterval(watch);
    const delays = [...lastSeen]
      .filter(
        ([windowEnd]) =>
          windowEnd > liveStart + WINDOW_MS && windowEnd < Date.now() - WINDOW_MS - LATENESS_MS - 2000,
      )
      .map(([windowEnd, at]) => at - windowEnd)
      .sort((a, b) => a - b);
    for (const a of live) await a.p.stop('SIGTERM', 60_000);
    await agg.stop('SIGTERM', 60_000);
    const row = {
      series: S,
      agents: AGENTS,
      messages: total,
      catchUpSeconds: catchUpS,
      mergedPerSecond: Math.round(total / catchUpS),
      mergedPerMergeSecond: Math.round(total / mergeSeconds),
      liveOfferedPerSecond: Math.round((AGENTS * S * 1000) / LIVE_FLUSH_MS),
      delayMs: {
        min: delays[0],
        median: delays[Math.floor(delays.length / 2)],
        max: delays.at(-1),
        windows: delays.length,
      },
    };
    results.push(row);
    console.log(JSON.stringify(row));
  }
} finally {
  await broker.destroy();
}

console.log(
  `\nFleet aggregation: ${AGENTS} agents, one aggregator process, 6 partitions, window ${WINDOW_MS} ms, allowed lateness ${LATENESS_MS} ms`,
);
console.log(
  '  global series | backlog messages | caught up in | merged/s (wall) | merged/s of merge time | live offered/s | delay window end → sink (min / median / max, windows)',
);
for (const r of results)
  console.log(
    `  ${String(r.series).padStart(13)} | ${String(r.messages).padStart(16)} | ${r.catchUpSeconds.toFixed(2).padStart(10)} s | ${String(r.mergedPerSecond).padStart(15)} | ${String(r.mergedPerMergeSecond).padStart(22)} | ${String(r.liveOfferedPerSecond).padStart(14)} | ${r.delayMs.min} / ${r.delayMs.median} / ${r.delayMs.max} ms, ${r.delayMs.windows}`,
  );
if (opts.json !== undefined) writeFileSync(opts.json, JSON.stringify(results, null, 2));
