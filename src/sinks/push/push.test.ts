import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { s, type Issue } from '../../config/schema.js';
import { ManualClock } from '../../core/clock.js';
import type { GaugeMetric, Metric } from '../../core/metric.js';
import { NO_TAGS } from '../../core/tags.js';
import { recordingLogger, testContext } from '../../testing/context.js';
import { PushSink, type PushEncoder, type TransportFactory } from './push.js';
import { pushDefaults, pushOptionsSchema, type PushConfig } from './schema.js';
import { FakeNetwork, FakeScheduler, settle } from './testing.js';

const schema = s.object(pushOptionsSchema(pushDefaults({ port: 2003 })));

function config(options: Record<string, unknown>): PushConfig {
  const issues: Issue[] = [];
  const parsed = schema.parse(options, [], issues);
  assert.deepEqual(issues, []);
  return parsed as PushConfig;
}

function gauge(name: string, value = 1): GaugeMetric {
  return { kind: 'gauge', name, tags: NO_TAGS, value, timestamp: 0 };
}

function gauges(from: number, to: number): GaugeMetric[] {
  const out: GaugeMetric[] = [];
  for (let i = from; i < to; i++) out.push(gauge(`p${i}`, i));
  return out;
}

function lines(from: number, to: number): string[] {
  return gauges(from, to).map((m) => `${m.name} ${m.value}\n`);
}

const encoder: PushEncoder = {
  encode(m: Metric) {
    if (m.name === 'boom') throw new Error('encoder bug');
    return m.kind === 'gauge' && m.name !== 'skip' ? `${m.name} ${m.value}\n` : undefined;
  },
};

interface SetupOptions {
  /** Host name → addresses, as the fake resolver answers; a missing name fails to resolve. */
  dns?: Map<string, string[]>;
  random?: () => number;
  wrap?: (factory: TransportFactory) => TransportFactory;
  clock?: ManualClock;
}

function setup(options: Record<string, unknown> = {}, extra: SetupOptions = {}) {
  const clock = extra.clock ?? new ManualClock();
  const scheduler = new FakeScheduler(clock);
  const { log, lines: logs } = recordingLogger();
  const ctx = testContext({ clock, log, type: 'test_push' });
  const network = new FakeNetwork();
  const dns =
    extra.dns ??
    new Map([
      ['a', ['10.0.0.1']],
      ['b', ['10.0.0.2']],
      ['c', ['10.0.0.3']],
    ]);
  let lookups = 0;
  const lookup = async (host: string): Promise<string[]> => {
    lookups++;
    const found = dns.get(host);
    if (found === undefined) throw new Error(`getaddrinfo ENOTFOUND ${host}`);
    return found;
  };
  const factory = extra.wrap !== undefined ? extra.wrap(network.factory) : network.factory;
  const sink = new PushSink(config({ endpoints: ['a:1'], ...options }), encoder, factory, ctx, {
    scheduler,
    random: extra.random ?? (() => 0.5),
    lookup,
  });
  const stat = (name: string, labels: Record<string, string> = {}): number => {
    let sum = 0;
    for (const m of ctx.stats.toMetrics(0)) {
      if (m.name !== `sluice_${name}`) continue;
      if (!Object.entries(labels).every(([k, v]) => m.tags.some((t) => t[0] === k && t[1] === v))) continue;
      sum += (m as { value: number }).value;
    }
    return sum;
  };
  return { sink, scheduler, clock, network, ctx, logs, stat, lookups: () => lookups };
}

/** Stops the sink, moving fake time on until it has (a dead endpoint keeps it to shutdown_timeout). */
async function shutdown(t: ReturnType<typeof setup>): Promise<void> {
  let done = false;
  const stopped = t.sink.stop().then(() => {
    done = true;
  });
  for (let i = 0; i < 600 && !done; i++) await t.scheduler.advance(100);
  assert.ok(done, 'the sink stopped within a minute of fake time');
  await stopped;
}

describe('PushSink batching', () => {
  it('sends full batches at once and the rest at the flush interval, in order', async () => {
    const t = setup({ batch_size: 3, flush_interval: '1s' });
    const a = t.network.endpoint('a:1');
    await t.sink.start();
    t.sink.write(gauges(0, 7));
    await settle();
    assert.deepEqual(
      a.payloads.map((p) => p.points),
      [3, 3],
    );
    await t.scheduler.advance(999);
    assert.equal(a.payloads.length, 2);
    await t.scheduler.advance(1);
    assert.deepEqual(
      a.payloads.map((p) => p.points),
      [3, 3, 1],
    );
    assert.deepEqual(a.text(), lines(0, 7));
    assert.equal(t.stat('points_sent', { endpoint: 'a:1' }), 7);
    assert.equal(t.stat('bytes_sent', { endpoint: 'a:1' }), lines(0, 7).join('').length);
    assert.equal(t.stat('buffered_points'), 0);
    await shutdown(t);
  });

  it('cuts batches by bytes as well', async () => {
    const t = setup({ batch_size: 1000, batch_bytes: 10, flush_interval: '1s' });
    const a = t.network.endpoint('a:1');
    await t.sink.start();
    t.sink.write(gauges(0, 4)); // "p0 0\n" is 5 bytes: two per batch
    await settle();
    assert.deepEqual(
      a.payloads.map((p) => p.bytes),
      [10, 10],
    );
    await shutdown(t);
  });

  it('holds a partial batch until the flush interval', async () => {
    const t = setup({ batch_size: 100, flush_interval: '5s' });
    const a = t.network.endpoint('a:1');
    await t.sink.start();
    t.sink.write([gauge('x')]);
    await t.scheduler.advance(4999);
    assert.equal(a.sends, 0);
    assert.equal(t.stat('buffered_points', { endpoint: 'a:1' }), 1);
    await t.scheduler.advance(1);
    assert.equal(a.sends, 1);
    await shutdown(t);
  });

  it('counts metrics the encoder cannot write, and survives an encoder that throws', async () => {
    const t = setup({ batch_size: 10 });
    const a = t.network.endpoint('a:1');
    await t.sink.start();
    assert.doesNotThrow(() => t.sink.write([gauge('ok'), gauge('skip'), gauge('boom'), gauge('ok2')]));
    await t.scheduler.advance(1000);
    assert.deepEqual(a.text(), ['ok 1\n', 'ok2 1\n']);
    assert.equal(t.stat('dropped_metrics', { reason: 'unencodable' }), 2);
    assert.ok(t.logs.some((l) => l.level === 'error' && l.metric === 'boom'));
    await shutdown(t);
  });
});

describe('PushSink buffer', () => {
  it('drops the oldest points when full, and counts exactly what it dropped', async () => {
    const t = setup({ batch_size: 100, buffer_points: 5, retry_initial: '100ms' });
    const a = t.network.endpoint('a:1');
    a.behaviour = 'refuse';
    await t.sink.start();
    t.sink.write(gauges(0, 3));
    await t.scheduler.advance(1000); // the flush fails; p0..p2 go back to the buffer
    assert.equal(a.sends, 1);
    t.sink.write(gauges(3, 12));
    assert.equal(t.stat('dropped_metrics', { reason: 'buffer_full', endpoint: 'a:1' }), 7);
    assert.equal(t.stat('buffered_points', { endpoint: 'a:1' }), 5);
    a.behaviour = 'accept';
    await t.scheduler.advance(10_000);
    assert.deepEqual(a.text(), lines(7, 12));
    assert.equal(t.stat('points_sent') + t.stat('dropped_metrics'), 12);
    const warn = t.logs.find((l) => l.level === 'warn' && String(l.msg).includes('buffer is full'));
    assert.ok(warn, 'the drop is logged');
    assert.equal(warn.buffer_points, 5);
    await shutdown(t);
  });

  it('counts as dropped the oldest of a batch that failed while newer points filled the buffer', async () => {
    const t = setup({ batch_size: 100, buffer_points: 5, timeout: '500ms' });
    const a = t.network.endpoint('a:1');
    a.behaviour = 'hang';
    await t.sink.start();
    t.sink.write(gauges(0, 3));
    await t.scheduler.advance(1000); // p0..p2 in flight, hanging
    t.sink.write(gauges(3, 12)); // 9 more: p3..p6 make room for p7..p11
    assert.equal(t.stat('dropped_metrics', { reason: 'buffer_full' }), 4);
    a.behaviour = 'accept';
    await t.scheduler.advance(500); // the send times out; p0..p2 come back, and no longer fit
    assert.equal(t.stat('dropped_metrics', { reason: 'buffer_full' }), 7);
    await t.scheduler.advance(10_000);
    assert.deepEqual(a.text(), lines(7, 12));
    await shutdown(t);
  });

  it('bounds the buffer in bytes too', async () => {
    const t = setup({ batch_size: 100, buffer_bytes: 12 });
    t.network.endpoint('a:1').behaviour = 'refuse';
    await t.sink.start();
    t.sink.write(gauges(0, 5)); // 5 bytes each
    assert.equal(t.stat('buffered_bytes', { endpoint: 'a:1' }), 10);
    assert.equal(t.stat('dropped_metrics', { reason: 'buffer_full' }), 3);
    await shutdown(t);
  });

  it('never blocks nor grows without bound while the endpoint is down', async () => {
    const t = setup({ batch_size: 500, buffer_points: 1000 });
    t.network.endpoint('a:1').behaviour = 'hang';
    await t.sink.start();
    let slowest = 0;
    for (let round = 0; round < 50; round++) {
      const batch = gauges(round * 2000, (round + 1) * 2000);
      const start = process.hrtime.bigint();
      t.sink.write(batch);
      slowest = Math.max(slowest, Number(process.hrtime.bigint() - start) / 1e6);
      await t.scheduler.advance(1000);
      assert.ok(t.stat('buffered_points') <= 1000);
    }
    assert.equal(t.stat('dropped_metrics') + t.stat('buffered_points') + 500, 100_000);
    // 2000 metrics per write; generous for slow CI machines, far below a blocking send.
    assert.ok(slowest < 200, `slowest write took ${slowest} ms`);
    await shutdown(t);
  });
});

describe('PushSink retries', () => {
  it('backs off exponentially with full jitter, up to the cap', async () => {
    const times: number[] = [];
    const clock = new ManualClock();
    const t = setup(
      { retry_initial: '100ms', max_retry_interval: '1s', flush_interval: '1s' },
      {
        random: () => 0.5,
        clock,
        wrap: (factory) => (target) => {
          const inner = factory(target);
          return {
            send: (p) => {
              times.push(clock.now());
              return inner.send(p);
            },
            close: () => inner.close(),
          };
        },
      },
    );
    const start = t.clock.now();
    t.network.endpoint('a:1').behaviour = 'refuse';
    await t.sink.start();
    t.sink.write([gauge('x')]);
    await t.scheduler.advance(4000);
    const gaps = times.slice(1).map((x, i) => x - (times[i] as number));
    // Ceilings 100, 200, 400, 800, 1000, 1000 ...; the fixed draw 0.5 waits half of each.
    assert.equal(times[0], start + 1000);
    assert.deepEqual(gaps.slice(0, 7), [50, 100, 200, 400, 500, 500, 500]);
    assert.equal(t.stat('retries', { endpoint: 'a:1' }), times.length);
    assert.equal(t.stat('endpoint_up', { endpoint: 'a:1' }), 0);
    assert.equal(
      t.stat('last_error_timestamp_seconds', { endpoint: 'a:1' }),
      Math.floor(times.at(-1)! / 1000),
    );
    // One warning for the outage, not one per retry.
    assert.equal(t.logs.filter((l) => l.level === 'warn').length, 1);
    t.network.endpoint('a:1').behaviour = 'accept';
    await t.scheduler.advance(1000);
    assert.equal(t.stat('endpoint_up', { endpoint: 'a:1' }), 1);
    assert.ok(
      t.logs.some((l) => l.level === 'info' && l.endpoint === 'a:1' && typeof l.down_ms === 'number'),
    );
    await shutdown(t);
  });

  it('keeps every retry delay within its bounds whatever the random draws', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
          minLength: 12,
          maxLength: 12,
        }),
        async (draws) => {
          const times: number[] = [];
          let i = 0;
          const clock = new ManualClock();
          const t = setup(
            { retry_initial: '100ms', max_retry_interval: '1s', flush_interval: '1h' },
            {
              random: () => draws[i++ % draws.length] as number,
              clock,
              wrap: (factory) => (target) => {
                const inner = factory(target);
                return {
                  send: (p) => {
                    times.push(clock.now());
                    return inner.send(p);
                  },
                  close: () => inner.close(),
                };
              },
            },
          );
          t.network.endpoint('a:1').behaviour = 'refuse';
          t.sink.write(gauges(0, 1000)); // a full batch: sent at once
          await t.scheduler.advance(3000);
          assert.ok(times.length >= 4, `only ${times.length} sends`);
          for (let k = 1; k < Math.min(times.length, 12); k++) {
            const gap = (times[k] as number) - (times[k - 1] as number);
            assert.ok(gap >= 1 && gap <= Math.min(1000, 100 * 2 ** (k - 1)), `retry ${k} after ${gap} ms`);
          }
          await shutdown(t);
        },
      ),
      { numRuns: 20 },
    );
  });

  it('gives up on a send that hangs, and retries on a new connection', async () => {
    const t = setup({ timeout: '500ms', retry_initial: '100ms' });
    const a = t.network.endpoint('a:1');
    a.behaviour = 'hang';
    await t.sink.start();
    t.sink.write([gauge('x')]);
    await t.scheduler.advance(1000);
    assert.equal(a.sends, 1);
    await t.scheduler.advance(499);
    assert.equal(a.closes, 0);
    a.behaviour = 'accept';
    await t.scheduler.advance(1);
    assert.equal(a.closes, 1, 'the wedged connection is closed');
    assert.equal(t.stat('retries'), 1);
    await t.scheduler.advance(100);
    assert.deepEqual(a.text(), ['x 1\n']);
    assert.equal(a.targets.length, 2, 'a new transport was made');
    await shutdown(t);
  });

  it('drops a batch the endpoint rejects as invalid, without retrying it', async () => {
    const t = setup({ batch_size: 2 });
    const a = t.network.endpoint('a:1');
    a.behaviour = 'reject';
    await t.sink.start();
    t.sink.write(gauges(0, 4));
    await t.scheduler.advance(5000);
    assert.equal(a.sends, 2);
    assert.equal(t.stat('dropped_metrics', { reason: 'rejected' }), 4);
    assert.equal(t.stat('retries'), 0);
    await shutdown(t);
  });

  it('delivers every point once and in order through any pattern of outages', async () => {
    const step = fc.oneof(
      fc.record({ write: fc.integer({ min: 1, max: 30 }) }),
      fc.record({ behaviour: fc.constantFrom('accept' as const, 'refuse' as const, 'hang' as const) }),
      fc.record({ wait: fc.integer({ min: 1, max: 3000 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { maxLength: 40 }),
        fc.integer({ min: 5, max: 200 }),
        async (steps, bufferPoints) => {
          const t = setup({
            batch_size: 7,
            buffer_points: bufferPoints,
            timeout: '300ms',
            max_retry_interval: '2s',
          });
          const a = t.network.endpoint('a:1');
          await t.sink.start();
          let written = 0;
          for (const st of steps) {
            if ('write' in st) {
              t.sink.write(gauges(written, written + st.write));
              written += st.write;
            } else if ('behaviour' in st) a.behaviour = st.behaviour;
            else await t.scheduler.advance(st.wait);
          }
          a.behaviour = 'accept';
          await t.scheduler.advance(10_000);
          // Refused and timed-out sends deliver nothing here, so each point arrives at most once.
          const got = a.text();
          const all = lines(0, written);
          let j = 0;
          for (const line of got) {
            while (j < all.length && all[j] !== line) j++;
            assert.ok(j < all.length, `${line} out of order or duplicated`);
            j++;
          }
          assert.equal(got.length + t.stat('dropped_metrics'), written);
          if (written <= bufferPoints) assert.equal(got.length, written);
          await shutdown(t);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('PushSink endpoints', () => {
  it('fans out to every endpoint; a dead one holds back nothing and catches up later', async () => {
    const t = setup({ endpoints: ['a:1', 'b:1'], mode: 'fanout', batch_size: 2, timeout: '2s' });
    const a = t.network.endpoint('a:1');
    const b = t.network.endpoint('b:1');
    a.behaviour = 'hang';
    await t.sink.start();
    t.sink.write(gauges(0, 6));
    await settle();
    assert.deepEqual(b.text(), lines(0, 6));
    assert.equal(a.received.length, 0);
    assert.equal(t.stat('buffered_points', { endpoint: 'a:1' }), 4);
    assert.equal(t.stat('buffered_points', { endpoint: 'b:1' }), 0);
    a.behaviour = 'accept';
    await t.scheduler.advance(5000);
    assert.deepEqual(a.text(), lines(0, 6));
    assert.equal(t.stat('points_sent', { endpoint: 'a:1' }), 6);
    assert.equal(t.stat('points_sent', { endpoint: 'b:1' }), 6);
    await shutdown(t);
  });

  it('spreads batches across endpoints in turn', async () => {
    const t = setup({ endpoints: ['a:1', 'b:1', 'c:1'], mode: 'spread', batch_size: 2 });
    await t.sink.start();
    t.sink.write(gauges(0, 12));
    await settle();
    const per = ['a:1', 'b:1', 'c:1'].map((l) => t.network.endpoint(l).payloads.length);
    assert.deepEqual(per, [2, 2, 2]);
    const all = ['a:1', 'b:1', 'c:1'].flatMap((l) => t.network.endpoint(l).text());
    assert.deepEqual(all.sort(), lines(0, 12).sort());
    await shutdown(t);
  });

  it('fails over to the next endpoint in spread mode, and comes back to a recovered one', async () => {
    const t = setup({ endpoints: ['a:1', 'b:1'], mode: 'spread', batch_size: 2, retry_initial: '1s' });
    const a = t.network.endpoint('a:1');
    const b = t.network.endpoint('b:1');
    a.behaviour = 'refuse';
    await t.sink.start();
    t.sink.write(gauges(0, 8));
    await settle();
    // Batches travel in parallel in spread mode, so the one that failed over arrives later.
    assert.deepEqual(b.text().sort(), lines(0, 8).sort(), 'b took every batch');
    assert.equal(t.stat('retries', { endpoint: 'a:1' }), 1);
    assert.equal(t.stat('dropped_metrics'), 0);
    a.behaviour = 'accept';
    await t.scheduler.advance(2000);
    t.sink.write(gauges(8, 12));
    await settle();
    assert.ok(a.received.length > 0, 'a is used again');
    assert.equal(a.received.length + b.received.length, 12);
    await shutdown(t);
  });

  it('follows DNS changes: a new address set makes the next send reconnect', async () => {
    const dns = new Map([['a', ['10.0.0.1', '10.0.0.9']]]);
    const t = setup({ resolve_interval: '5s', batch_size: 1 }, { dns });
    const a = t.network.endpoint('a:1');
    await t.sink.start();
    t.sink.write([gauge('x')]);
    await settle();
    assert.deepEqual(a.targets.at(-1)?.addresses, ['10.0.0.1', '10.0.0.9']);
    dns.set('a', ['10.0.0.9', '10.0.0.1']); // reordered only: keep the connection
    await t.scheduler.advance(5000);
    t.sink.write([gauge('y')]);
    await settle();
    assert.equal(a.targets.length, 1);
    dns.set('a', ['10.0.0.2']);
    await t.scheduler.advance(5000);
    assert.equal(a.targets.length, 1, 'nothing happens until the next send');
    t.sink.write([gauge('z')]);
    await settle();
    assert.equal(a.closes, 1);
    assert.deepEqual(a.targets.at(-1)?.addresses, ['10.0.0.2']);
    assert.deepEqual(a.text(), ['x 1\n', 'y 1\n', 'z 1\n']);
    assert.ok(t.logs.some((l) => l.level === 'info' && String(l.msg).includes('new addresses')));
    await shutdown(t);
  });

  it('treats a name that does not resolve as a failed send, and delivers once it does', async () => {
    const dns = new Map<string, string[]>();
    const t = setup({ retry_initial: '100ms', max_retry_interval: '200ms' }, { dns });
    const a = t.network.endpoint('a:1');
    await t.sink.start();
    t.sink.write([gauge('x')]);
    await t.scheduler.advance(1000);
    assert.equal(t.stat('retries'), 1);
    assert.ok(t.logs.some((l) => l.level === 'warn' && String(l.msg).includes('Could not resolve')));
    dns.set('a', ['10.0.0.1']);
    await t.scheduler.advance(1000);
    assert.deepEqual(a.text(), ['x 1\n']);
    await shutdown(t);
  });
});

describe('PushSink shutdown', () => {
  it('flushes what it holds at stop, without waiting for the interval', async () => {
    const t = setup({ batch_size: 100, flush_interval: '1m' });
    const a = t.network.endpoint('a:1');
    await t.sink.start();
    t.sink.write(gauges(0, 250));
    await t.sink.stop();
    assert.deepEqual(a.text(), lines(0, 250));
    assert.equal(a.closes, 1);
    assert.equal(t.scheduler.pending, 0, 'no timer left behind');
  });

  it('keeps retrying a failing endpoint until shutdown_timeout, then counts what it lost', async () => {
    const t = setup({ shutdown_timeout: '1s', retry_initial: '100ms', max_retry_interval: '1m' });
    const a = t.network.endpoint('a:1');
    a.behaviour = 'refuse';
    await t.sink.start();
    t.sink.write(gauges(0, 5));
    await t.scheduler.advance(1000);
    let done = false;
    const stopped = t.sink.stop().then(() => {
      done = true;
    });
    await t.scheduler.advance(999);
    assert.equal(done, false);
    assert.ok(a.sends >= 10, `retried ${a.sends} times during the shutdown window`);
    await t.scheduler.advance(1);
    await stopped;
    assert.equal(t.stat('dropped_metrics', { reason: 'shutdown', endpoint: 'a:1' }), 5);
    assert.equal(t.stat('buffered_points'), 0);
    assert.ok(t.logs.some((l) => l.level === 'error' && l.dropped === 5));
    t.sink.write([gauge('late')]);
    assert.equal(t.stat('dropped_metrics', { reason: 'stopped' }), 1);
  });

  it('counts a batch still in flight at the deadline as lost at shutdown', async () => {
    const t = setup({ shutdown_timeout: '1s', timeout: '10s' });
    const a = t.network.endpoint('a:1');
    a.behaviour = 'hang';
    await t.sink.start();
    t.sink.write(gauges(0, 3));
    await settle();
    const stopped = t.sink.stop();
    await t.scheduler.advance(1000);
    await stopped;
    assert.equal(t.stat('dropped_metrics', { reason: 'shutdown' }), 3);
    assert.equal(a.closes, 1);
  });

  it('delivers to a live endpoint at shutdown while a dead one times out', async () => {
    const t = setup({ endpoints: ['a:1', 'b:1'], shutdown_timeout: '2s' });
    t.network.endpoint('a:1').behaviour = 'refuse';
    await t.sink.start();
    t.sink.write(gauges(0, 4));
    const stopped = t.sink.stop();
    await t.scheduler.advance(2000);
    await stopped;
    assert.deepEqual(t.network.endpoint('b:1').text(), lines(0, 4));
    assert.equal(t.stat('dropped_metrics', { reason: 'shutdown', endpoint: 'a:1' }), 4);
    assert.equal(t.stat('dropped_metrics', { endpoint: 'b:1' }), 0);
  });

  it('can be stopped without having been started, and twice', async () => {
    const t = setup();
    await t.sink.stop();
    await t.sink.stop();
    assert.equal(t.scheduler.pending, 0);
  });
});
