// Differential test against the real Etsy statsd server (node_modules/statsd/stats.js), run as a
// child process on free ports with a tiny backend that prints each flush as JSON. The same random
// stream of counters, gauges (with deltas), timers and sets goes to the server over UDP and to
// sluice's parser and aggregator in the etsy dialect, and every statistic both compute must agree.
//
// Tolerance: counts, sums, sums of squares, means, bounds, medians, standard deviations and
// percentile statistics must be identical (both sum the same doubles in the same order). Only
// per-second rates are compared with a relative tolerance of 1e-12: Etsy divides by the interval
// in seconds, sluice's model derives rates as value × 1000 / intervalMs.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  counterRate,
  type CounterMetric,
  type GaugeMetric,
  type Metric,
  type SummaryMetric,
} from '../../core/metric.js';
import { StatsdParser } from '../../protocols/statsd/parser.js';
import { StatsdAggregator } from '../../aggregation/aggregator.js';

const FLUSH_MS = 1000;
const PERCENTILES = [50, 90, 95.5, 99];
const RATE_TOLERANCE = 1e-12;

interface EtsyFlush {
  counters: Record<string, number>;
  counter_rates: Record<string, number>;
  gauges: Record<string, number>;
  timer_data: Record<string, Record<string, number>>;
  sets: Record<string, number>;
}

const BACKEND = `'use strict';
exports.init = function (startup, config, events) {
  events.on('flush', function (ts, m) {
    const sets = {};
    for (const k in m.sets) sets[k] = m.sets[k].size();
    process.stdout.write('FLUSH ' + JSON.stringify({
      counters: m.counters, counter_rates: m.counter_rates, gauges: m.gauges,
      timer_data: m.timer_data, sets: sets,
    }) + '\\n');
  });
  return true;
};
`;

async function freePort(kind: 'udp' | 'tcp'): Promise<number> {
  if (kind === 'tcp') {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** The Etsy server: started once, read flush by flush. */
class EtsyServer {
  private child: ChildProcess | undefined;
  private dir = '';
  private buffered = '';
  private flushes: EtsyFlush[] = [];
  private waiters: (() => void)[] = [];
  private socket = dgram.createSocket('udp4');
  port = 0;
  output = '';

  async start(): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'sluice-etsy-'));
    const backend = join(this.dir, 'json-backend.cjs');
    writeFileSync(backend, BACKEND);
    // Etsy statsd logs with util.log, which Node 23 removed: put it back so the reference server
    // runs under every Node the unit tests run on.
    const shim = join(this.dir, 'util-log-shim.cjs');
    writeFileSync(
      shim,
      "const util = require('util');\n" +
        "if (typeof util.log !== 'function') util.log = (m) => console.log(new Date().toISOString() + ' - ' + m);\n",
    );
    this.port = await freePort('udp');
    const config = join(this.dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        port: this.port,
        address: '127.0.0.1',
        mgmt_address: '127.0.0.1',
        mgmt_port: await freePort('tcp'),
        flushInterval: FLUSH_MS,
        percentThreshold: PERCENTILES,
        backends: [backend],
      }),
    );
    const require = createRequire(import.meta.url);
    const child = spawn(process.execPath, ['--require', shim, require.resolve('statsd/stats.js'), config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (this.output += d));
    child.stdout.on('data', (d: string) => {
      this.buffered += d;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        if (line.startsWith('FLUSH ')) {
          this.flushes.push(JSON.parse(line.slice(6)) as EtsyFlush);
          for (const w of this.waiters.splice(0)) w();
        } else {
          this.output += line + '\n';
        }
      }
    });
    child.on('exit', () => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** The next flush to arrive (bounded wait). */
  async nextFlush(): Promise<EtsyFlush> {
    const seen = this.flushes.length;
    const deadline = Date.now() + 10 * FLUSH_MS;
    while (this.flushes.length === seen) {
      if (this.child?.exitCode !== null || Date.now() > deadline)
        assert.fail(`Etsy statsd produced no flush; its output:\n${this.output}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    return this.flushes[seen] as EtsyFlush;
  }

  async send(datagrams: readonly string[]): Promise<void> {
    for (const d of datagrams) {
      await new Promise<void>((resolve, reject) =>
        this.socket.send(Buffer.from(d), this.port, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
      );
    }
  }

  async stop(): Promise<void> {
    this.socket.close();
    const child = this.child;
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

type Op =
  | { kind: 'c'; value: number; rate: number }
  | { kind: 'g'; value: number; delta: boolean }
  | { kind: 'ms'; value: number; rate: number }
  | { kind: 's'; member: string };

const rate = fc.constantFrom(1, 1, 1, 0.5, 0.25, 0.1);
const number = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((v) => Number(v.toPrecision(12))),
);
const op: fc.Arbitrary<[number, Op]> = fc.tuple(
  fc.integer({ min: 0, max: 3 }),
  fc.oneof(
    fc.record({ kind: fc.constant('c' as const), value: number, rate }),
    fc.record({ kind: fc.constant('g' as const), value: number, delta: fc.boolean() }),
    fc.record({ kind: fc.constant('ms' as const), value: number.map(Math.abs), rate }),
    fc.record({ kind: fc.constant('s' as const), member: fc.constantFrom('a', 'b', 'c', 'd', 'e', '42') }),
  ),
);

function sample(o: Op): string {
  switch (o.kind) {
    case 'c':
    case 'ms':
      return `${o.value}|${o.kind}${o.rate === 1 ? '' : `|@${o.rate}`}`;
    case 'g':
      // A delta has an explicit sign; a value must not have one (Etsy would read a delta).
      return `${o.delta && o.value >= 0 ? '+' : ''}${o.delta ? o.value : Math.abs(o.value)}|g`;
    default:
      return `${o.member}|s`;
  }
}

/** Lines of the stream; each op goes to series `<prefix><kind><n>`; some lines pack two samples. */
function lines(prefix: string, ops: readonly [number, Op][], pack: readonly boolean[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < ops.length; i++) {
    const [n, o] = ops[i] as [number, Op];
    const name = `${prefix}${o.kind}${n}`;
    const next = ops[i + 1];
    // stats.js's multi-metric line: name:sample:sample (same name, same or other type).
    if (pack[i] === true && next !== undefined && next[0] === n && next[1].kind === o.kind) {
      out.push(`${name}:${sample(o)}:${sample(next[1])}`);
      i++;
    } else {
      out.push(`${name}:${sample(o)}`);
    }
  }
  return out;
}

function near(a: number | undefined, b: number | undefined, what: string): void {
  assert.ok(
    a !== undefined && b !== undefined && Math.abs(a - b) <= RATE_TOLERANCE * Math.max(1, Math.abs(b)),
    `${what}: sluice ${a}, Etsy ${b}`,
  );
}

function same(a: number | undefined, b: number | undefined, what: string): void {
  // `===`, not Object.is: one side may carry -0 where the other has 0.
  assert.ok(a === b, `${what}: sluice ${a}, Etsy ${b}`);
}

/**
 * `sums: 'reordered'` for aggregates merged from several workers: a counter's sum is then added
 * in another order than Etsy's, which changes the last bits of sums of fractions (integers stay
 * exact); every other statistic must still match exactly.
 */
function compare(
  prefix: string,
  etsy: EtsyFlush,
  ours: readonly Metric[],
  sums: 'exact' | 'reordered' = 'exact',
): number {
  let compared = 0;
  for (const m of ours) {
    assert.ok(m.name.startsWith(prefix), m.name);
    const key = m.name;
    switch (m.kind) {
      case 'counter':
        if (sums === 'exact') same(m.value, etsy.counters[key], `${key} count`);
        else near(m.value, etsy.counters[key], `${key} count`);
        near(counterRate(m as CounterMetric), etsy.counter_rates[key], `${key} rate`);
        compared += 2;
        break;
      case 'gauge':
        if (m.help?.startsWith('StatsD set') === true) same(m.value, etsy.sets[key], `${key} set size`);
        else same((m as GaugeMetric).value, etsy.gauges[key], `${key} gauge`);
        compared++;
        break;
      case 'summary': {
        const e = etsy.timer_data[key];
        assert.ok(e !== undefined, `Etsy has no timer ${key}`);
        const s = (m as SummaryMetric).summary;
        same(s.count, e.count, `${key} count`);
        near((s.count * 1000) / m.intervalMs, e.count_ps, `${key} count_ps`);
        same(s.sum, e.sum, `${key} sum`);
        same(s.sumSquares, e.sum_squares, `${key} sum_squares`);
        same(s.mean, e.mean, `${key} mean`);
        same(s.min, e.lower, `${key} lower`);
        same(s.max, e.upper, `${key} upper`);
        same(s.median, e.median, `${key} median`);
        same(s.stdev, e.std, `${key} std`);
        compared += 9;
        PERCENTILES.forEach((p, i) => {
          const suffix = String(p).replace('.', '_');
          const q = s.quantiles[i];
          if (`upper_${suffix}` in e) {
            same(q?.value, e[`upper_${suffix}`], `${key} upper_${suffix}`);
            same(q?.count, e[`count_${suffix}`], `${key} count_${suffix}`);
            same(q?.sum, e[`sum_${suffix}`], `${key} sum_${suffix}`);
            same(q?.mean, e[`mean_${suffix}`], `${key} mean_${suffix}`);
            compared += 4;
          } else {
            assert.equal(q?.count, undefined, `${key} ${p}: Etsy has no value, sluice has a count`);
          }
        });
        break;
      }
      default:
        assert.fail(`unexpected ${m.kind}`);
    }
  }
  // And nothing of this round that Etsy flushed is missing on our side.
  const names = new Set(ours.map((m) => m.name));
  for (const table of [etsy.counters, etsy.gauges, etsy.timer_data, etsy.sets])
    for (const k of Object.keys(table))
      if (k.startsWith(prefix) && (table !== etsy.timer_data || (etsy.timer_data[k]?.count ?? 0) > 0))
        assert.ok(names.has(k), `sluice lacks ${k}`);
  return compared;
}

/** Aggregates `stream` on two worker-side aggregators and merges their partials, as workers.ts does. */
function twoWorkers(stream: readonly string[]): readonly Metric[] {
  const options = { flushIntervalMs: FLUSH_MS, percentiles: PERCENTILES, expiryMs: 0 };
  const workers = [
    new StatsdAggregator({ ...options, role: 'partial' }),
    new StatsdAggregator({ ...options, role: 'partial' }),
  ];
  const main = new StatsdAggregator({ ...options, role: 'merging' });
  const parser = new StatsdParser({ dialect: 'etsy' });
  stream.forEach((line, i) => {
    const w = workers[line.includes('|g') ? 0 : i % 2] as StatsdAggregator;
    parser.parse(Buffer.from(line), {
      point: (l) => assert.equal(w.add(l), undefined),
      reject: (r) => assert.fail(`sluice rejected a line Etsy took: ${r}`),
    });
  });
  workers.forEach((w, i) => {
    w.beginDrain(0);
    for (;;) {
      const chunk = structuredClone(w.drainSome(3));
      main.mergeChunk(i, chunk);
      if (chunk.last) break;
    }
  });
  return main.flush(0, FLUSH_MS);
}

describe('sluice (etsy dialect) vs the Etsy statsd server', () => {
  const server = new EtsyServer();
  before(() => server.start());
  after(() => server.stop());

  it('finds the same numbers for every statistic both compute', async () => {
    let round = 0;
    let compared = 0;
    await fc.assert(
      fc.asyncProperty(
        // Long streams over few names, so that series get many values, deltas and repeats.
        fc.array(op, { minLength: 100, maxLength: 300 }),
        fc.array(fc.boolean(), { minLength: 300, maxLength: 300 }),
        async (ops, pack) => {
          // Up to three attempts: a round is only compared when Etsy flushed all of it at once.
          for (let attempt = 0; attempt < 3; attempt++) {
            const prefix = `r${++round}_`;
            const stream = lines(prefix, ops, pack);
            const datagrams: string[] = [];
            for (let i = 0; i < stream.length; i += 8) datagrams.push(stream.slice(i, i + 8).join('\n'));
            await server.nextFlush();
            await server.send(datagrams);
            const flush = await server.nextFlush();
            if (flush.counters['statsd.metrics_received'] !== stream.length) continue;
            assert.equal(flush.counters['statsd.bad_lines_seen'], 0);

            const agg = new StatsdAggregator({
              flushIntervalMs: FLUSH_MS,
              percentiles: PERCENTILES,
              expiryMs: 0,
            });
            const parser = new StatsdParser({ dialect: 'etsy' });
            const sink = {
              point: (l: Parameters<StatsdAggregator['add']>[0]) => assert.equal(agg.add(l), undefined),
              reject: (r: string) => assert.fail(`sluice rejected a line Etsy took: ${r}`),
            };
            for (const d of datagrams) parser.parse(Buffer.from(d), sink);
            compared += compare(prefix, flush, agg.flush(0, FLUSH_MS));
            // The same stream over two ingest workers (partial aggregates merged at the flush):
            // lines alternate between them, except that a gauge's lines stay on one worker, as
            // one sender's datagrams do under SO_REUSEPORT.
            compared += compare(prefix, flush, twoWorkers(stream), 'reordered');
            return;
          }
          assert.fail('Etsy statsd never flushed a round whole');
        },
      ),
      { numRuns: 5, endOnFailure: true },
    );
    assert.ok(compared > 500, `only ${compared} statistics compared`);
  });
});
