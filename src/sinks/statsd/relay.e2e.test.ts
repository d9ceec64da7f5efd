/**
 * End-to-end: three built `sluice` processes. Instance A receives StatsD over UDP and relays it
 * with two statsd sinks: its aggregates over UDP to instance B1, the lines as received over TCP
 * to instance B2. B1 and B2 aggregate what arrives and print it (console sink, JSON). Every
 * counter sent to A must come out of both, with its tags, exactly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort, listeningOn, startSluice, type SluiceProcess } from '../../testing/processes.js';
import { sendStatsd, waitForUdpDrain } from '../../testing/udp.js';

interface Printed {
  name: string;
  kind: string;
  tags: Record<string, string>;
  value?: number;
  summary?: { count: number; sum: number; min: number; max: number };
}

function key(m: Printed): string {
  const tags = Object.entries(m.tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `${m.name}{${tags}}`;
}

/** Counters summed over every flush, gauges' last values, and the summaries, by series. */
function totals(stdout: string): {
  counters: Map<string, number>;
  gauges: Map<string, number>;
  summaries: Printed[];
  events: string[];
} {
  const counters = new Map<string, number>();
  const gauges = new Map<string, number>();
  const summaries: Printed[] = [];
  const events: string[] = [];
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const m = JSON.parse(line) as Printed & { title?: string };
    if (m.kind === 'counter') counters.set(key(m), (counters.get(key(m)) ?? 0) + (m.value as number));
    else if (m.kind === 'gauge') gauges.set(key(m), m.value as number);
    else if (m.kind === 'summary') summaries.push(m);
    else if (m.kind === 'event') events.push(`${m.title ?? ''}${JSON.stringify(m.tags)}`);
  }
  return { counters, gauges, summaries, events };
}

function upstream(t: { after(fn: () => unknown): void }, listen: string): SluiceProcess {
  return startSluice({
    owner: t,
    config: `agent:
  host_tag: ""
sources:
  statsd:
    type: statsd
    listen: ${listen}
    flush_interval: 500ms
sinks:
  console:
    type: console
    format: json
`,
  });
}

test('a second sluice aggregates exactly what the first relayed, as aggregates and as raw lines', async (t) => {
  const inPort = await freePort('udp');
  const aggPort = await freePort('udp');
  const rawPort = await freePort('tcp');
  const b1 = upstream(t, `127.0.0.1:${aggPort}`);
  const b2 = upstream(t, `tcp://127.0.0.1:${rawPort}`);
  await b1.waitForLog(listeningOn(aggPort));
  await b2.waitForLog(listeningOn(rawPort));
  const a = startSluice({
    owner: t,
    config: `agent:
  host_tag: ""
sources:
  statsd:
    type: statsd
    listen: 127.0.0.1:${inPort}
    flush_interval: 1s
sinks:
  aggregates:
    type: statsd
    forward: aggregates
    transport: udp
    max_packet_size: 8192
    endpoints: ['127.0.0.1:${aggPort}']
  raw:
    type: statsd
    forward: raw
    transport: tcp
    endpoints: ['127.0.0.1:${rawPort}']
`,
  });
  await a.waitForLog(listeningOn(inPort));

  // 6000 counter lines over 30 series (some sampled), gauges, timers and an event, in datagrams
  // of 20 lines at 20,000 lines/s: far below the loss-free rates of docs/benchmarks.md.
  const lines: string[] = [];
  const expected = new Map<string, number>();
  for (let i = 0; i < 6000; i++) {
    const route = `/r${i % 30}`;
    const sampled = i % 3 === 0;
    lines.push(
      sampled ? `e2e.hits:2|c|@0.5|#route:${route},env:prod` : `e2e.hits:1|c|#route:${route},env:prod`,
    );
    const k = `e2e.hits{env=prod,route=${route}}`;
    expected.set(k, (expected.get(k) ?? 0) + (sampled ? 4 : 1));
    if (i % 100 === 0) lines.push(`e2e.temp:${-i}|g|#room:a`, `e2e.lat:${i % 7}|ms`);
  }
  lines.push('_e{6,4}:deploy|done|#env:prod');
  await sendStatsd(inPort, lines, { perDatagram: 20, linesPerSecond: 20_000 });
  await waitForUdpDrain(inPort);
  const ra = await a.stop('SIGTERM');
  assert.equal(ra.code, 0, ra.stderr);
  await waitForUdpDrain(aggPort);
  const [r1, r2] = await Promise.all([b1.stop('SIGTERM'), b2.stop('SIGTERM')]);
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal(r2.code, 0, r2.stderr);

  const timers = lines.filter((l) => l.startsWith('e2e.lat:')).map((l) => Number(l.slice(8, l.indexOf('|'))));
  const timerSum = timers.reduce((x, y) => x + y, 0);

  // B1, from aggregates: the same counters and tags; timers as statistics.
  const agg = totals(r1.stdout);
  for (const [series, count] of expected)
    assert.equal(agg.counters.get(series), count, `aggregates: ${series}`);
  assert.equal(agg.counters.get('e2e.lat.count{}'), timers.length);
  assert.equal(agg.counters.get('e2e.lat.sum{}'), timerSum);
  assert.equal(agg.gauges.get('e2e.temp{room=a}'), -5900);
  assert.deepEqual(agg.events, ['deploy{"env":"prod"}']);

  // B2, from raw lines: the same counters and tags, and the timers themselves.
  const raw = totals(r2.stdout);
  for (const [series, count] of expected) assert.equal(raw.counters.get(series), count, `raw: ${series}`);
  assert.equal(raw.gauges.get('e2e.temp{room=a}'), -5900);
  let rawTimers = 0;
  let rawTimerSum = 0;
  for (const s of raw.summaries) {
    assert.equal(s.name, 'e2e.lat');
    rawTimers += s.summary?.count ?? 0;
    rawTimerSum += s.summary?.sum ?? 0;
  }
  assert.equal(rawTimers, timers.length);
  assert.equal(rawTimerSum, timerSum);
  assert.deepEqual(raw.events, ['deploy{"env":"prod"}']);
  // Nothing else came through either way.
  assert.equal(
    [...agg.counters.keys()].filter((k) => k.startsWith('e2e.hits')).length,
    30,
    'aggregates: the 30 series',
  );
  assert.equal([...raw.counters.keys()].length, 30, 'raw: the 30 series');
});
