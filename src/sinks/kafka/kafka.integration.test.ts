/**
 * The kafka sink against a real Apache Kafka (KRaft, one node, from the Maven Central jars that
 * scripts/kafka/install.sh fetches; src/testing/kafka-broker.ts runs it). Every test writes
 * through the sink and reads the topic back with kcat (librdkafka, a consumer that shares no
 * code with the producer under test): the messages consumed must be exactly the points written,
 * with their keys, values, topics and timestamps. Then the broker is stopped and restarted while
 * writes continue. Skipped without the jars, java, kcat or openssl, except under CI=true.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { Issue } from '../../config/schema.js';
import { systemClock } from '../../core/clock.js';
import type { ComponentContext } from '../../core/component.js';
import type { Metric } from '../../core/metric.js';
import { makeTags } from '../../core/tags.js';
import { testContext } from '../../testing/context.js';
import {
  consumeAll,
  KafkaBroker,
  kafkaRequirements,
  SASL_USERS,
  type ConsumedMessage,
} from '../../testing/kafka-broker.js';
import { waitFor } from '../../testing/processes.js';
import { assertBufferDrops, PointWriter, stat, waitDrained, type WriteTimer } from '../../testing/push.js';
import { sharedServer } from '../../testing/suite.js';
import type { PushSink } from '../push/push.js';
import { createKafkaSink } from './kafka.js';
import { schema, type KafkaConfig } from './schema.js';

const req = kafkaRequirements();

/** Recent, whole milliseconds: brokers refuse timestamps too far ahead, and delete old ones. */
const T0 = Date.now() - 60_000;

function gauge(name: string, value: number, tags: Record<string, string>, timestamp = T0): Metric {
  return { kind: 'gauge', name, tags: makeTags(tags), value, timestamp };
}

function config(options: Record<string, unknown>): KafkaConfig {
  const issues: Issue[] = [];
  const parsed = schema.parse(options, [], issues);
  assert.deepEqual(issues, []);
  return parsed as KafkaConfig;
}

let topicSeq = 0;
function freshTopic(prefix: string): string {
  return `${prefix}-${process.pid}-${++topicSeq}`;
}

describe('kafka sink into a real Apache Kafka broker', { skip: req.skip, timeout: 600_000 }, () => {
  let broker: KafkaBroker | undefined;
  const { ready, sinks } = sharedServer(
    async () => (broker = await KafkaBroker.create(req)),
    async () => broker?.destroy(),
  );

  function sink(options: Record<string, unknown>): { sink: PushSink; ctx: ComponentContext } {
    const b = ready();
    const ctx = testContext({ clock: systemClock, type: 'kafka' });
    const s = createKafkaSink(config({ brokers: [b.bootstrap], flush_interval: '100ms', ...options }), ctx);
    sinks.push(s);
    return { sink: s, ctx };
  }

  /** Waits until the sink has delivered (acknowledged) `n` points and holds nothing. */
  async function delivered(ctx: ComponentContext, n: number, timeoutMs = 60_000): Promise<void> {
    await waitFor(
      () => (stat(ctx, 'points_sent') >= n && stat(ctx, 'buffered_points') === 0 ? true : undefined),
      {
        timeoutMs,
        intervalMs: 20,
        what: `${n} points acknowledged`,
        describe: () =>
          `sent ${stat(ctx, 'points_sent')}, buffered ${stat(ctx, 'buffered_points')}, retries ${stat(ctx, 'retries')}, ` +
          `dropped ${stat(ctx, 'dropped_metrics')}; broker: ${broker?.logTail(1500)}`,
        failIf: () => broker?.diedReason(),
      },
    );
  }

  /** Reads `topic` until it holds at least `n` messages. */
  async function consume(topic: string, n: number, bootstrap?: string): Promise<ConsumedMessage[]> {
    const b = ready();
    let last: ConsumedMessage[] = [];
    return waitFor(
      async () => {
        last = await consumeAll(req, bootstrap ?? b.bootstrap, topic);
        return last.length >= n ? last : undefined;
      },
      {
        timeoutMs: 60_000,
        intervalMs: 200,
        what: `${n} messages in ${topic}`,
        describe: () => `${last.length} messages`,
      },
    );
  }

  const byOffset = (a: ConsumedMessage, b: ConsumedMessage): number =>
    a.partition - b.partition || a.offset - b.offset;

  test('json: each metric is one message with its series key, value, tags and timestamp', async (t) => {
    const topic = freshTopic('json');
    const { sink: s, ctx } = sink({ topic });
    await s.start();
    const metrics: Metric[] = [];
    for (let i = 0; i < 30; i++) {
      metrics.push(gauge('queue.depth', i * 1.5, { host: `web${i % 3}`, dc: 'eu' }, T0 + i));
    }
    metrics.push({
      kind: 'counter',
      temporality: 'delta',
      name: 'api.requests',
      tags: makeTags({ host: 'web0', route: '/users' }),
      value: 30,
      intervalMs: 10_000,
      timestamp: T0 + 100,
    });
    metrics.push({
      kind: 'summary',
      name: 'api.latency',
      tags: makeTags({ host: 'web1' }),
      intervalMs: 10_000,
      timestamp: T0 + 101,
      summary: {
        count: 4,
        samples: 4,
        sum: 10,
        sumSquares: 30,
        weightedSum: 10,
        min: 1,
        max: 4,
        mean: 2.5,
        median: 2.5,
        stdev: 1.118033988749895,
        quantiles: [{ quantile: 0.9, value: 4 }],
      },
    });
    const started = Date.now();
    s.write(metrics);
    await delivered(ctx, metrics.length);
    const got = await consume(topic, metrics.length);
    const b = ready();
    t.diagnostic(
      `broker: storage format ${b.formatMs} ms, start ${b.startTimesMs.join(', ')} ms; ` +
        `${metrics.length} points acknowledged and consumed in ${Date.now() - started} ms`,
    );
    assert.equal(got.length, metrics.length, 'exactly one message per point');
    // Every point of a series is in one partition, in the order written.
    const gauges = got.filter((m) => JSON.parse(m.payload as string).name === 'queue.depth').sort(byOffset);
    for (let host = 0; host < 3; host++) {
      const key = `queue.depth,dc=eu,host=web${host}`;
      const series = gauges.filter((m) => m.key === key);
      assert.equal(series.length, 10, key);
      assert.equal(new Set(series.map((m) => m.partition)).size, 1, `${key} stays in one partition`);
      const values = series.map((m) => (JSON.parse(m.payload as string) as { value: number }).value);
      assert.deepEqual(
        values,
        [0, 3, 6, 9, 12, 15, 18, 21, 24, 27].map((i) => (i + host) * 1.5),
      );
    }
    for (const m of gauges) {
      const doc = JSON.parse(m.payload as string) as Record<string, unknown>;
      const i = (doc.value as number) / 1.5;
      assert.deepEqual(doc, {
        name: 'queue.depth',
        type: 'gauge',
        value: i * 1.5,
        tags: { dc: 'eu', host: `web${i % 3}` },
        fields: { value: i * 1.5 },
        timestamp: T0 + i,
      });
      assert.equal(m.ts, T0 + i, 'the message timestamp is the metric time');
      assert.equal(m.topic, topic);
    }
    const counter = got.find((m) => m.key === 'api.requests,host=web0,route=/users');
    assert.deepEqual(JSON.parse(counter?.payload as string), {
      name: 'api.requests',
      type: 'counter',
      value: 30,
      tags: { host: 'web0', route: '/users' },
      fields: { value: 30, rate: 3 },
      timestamp: T0 + 100,
    });
    const summary = got.find((m) => m.key === 'api.latency,host=web1');
    assert.deepEqual(JSON.parse(summary?.payload as string), {
      name: 'api.latency',
      type: 'summary',
      value: 4,
      tags: { host: 'web1' },
      fields: { count: 4, sum: 10, mean: 2.5, min: 1, max: 4, stdev: 1.118033988749895, median: 2.5, p90: 4 },
      timestamp: T0 + 101,
    });
    assert.equal(stat(ctx, 'dropped_metrics'), 0);
  });

  test('influx: one line of line protocol per message, key by name, acks=leader', async () => {
    ready();
    const topic = freshTopic('influx');
    const { sink: s, ctx } = sink({ topic, format: 'influx', key: 'name', acks: 'leader' });
    await s.start();
    const metrics = Array.from({ length: 20 }, (_, i) =>
      gauge('cpu load', i / 4, { host: 'web 1', core: String(i % 4) }, T0 + i),
    );
    s.write(metrics);
    await delivered(ctx, metrics.length);
    const got = (await consume(topic, metrics.length)).sort((a, b) => a.ts - b.ts);
    assert.equal(got.length, metrics.length);
    got.forEach((m, i) => {
      assert.equal(m.key, 'cpu load');
      assert.equal(m.payload, `cpu\\ load,core=${i % 4},host=web\\ 1 value=${i / 4} ${T0 + i}000000\n`);
    });
  });

  test('topic templates: one topic per tag value, sanitised, with a fallback; acks=none', async () => {
    ready();
    const prefix = freshTopic('tmpl');
    const fallback = `${prefix}-other`;
    const { sink: s, ctx } = sink({
      topic: `${prefix}-{env}`,
      fallback_topic: fallback,
      acks: 'none',
      key: 'none',
    });
    await s.start();
    const envs = ['prod', 'dev', 'a/b c'];
    const metrics: Metric[] = [];
    for (let i = 0; i < 24; i++) {
      const tags: Record<string, string> = { n: String(i) };
      if (i % 4 !== 3) tags.env = envs[i % 4] as string;
      metrics.push(gauge('m', i, tags, T0 + i));
    }
    s.write(metrics);
    await delivered(ctx, metrics.length);
    const expect = (topic: string, pick: (i: number) => boolean): Promise<void> =>
      (async () => {
        const want = metrics.map((_, i) => i).filter(pick);
        const got = await consume(topic, want.length);
        assert.deepEqual(
          got.map((m) => (JSON.parse(m.payload as string) as { value: number }).value).sort((a, b) => a - b),
          want,
          topic,
        );
        for (const m of got) assert.equal(m.key, null, 'key: none sends no key');
      })();
    await expect(`${prefix}-prod`, (i) => i % 4 === 0);
    await expect(`${prefix}-dev`, (i) => i % 4 === 1);
    await expect(`${prefix}-a_b_c`, (i) => i % 4 === 2);
    await expect(fallback, (i) => i % 4 === 3);
  });

  test('gzip, snappy and lz4: batches are stored compressed and consumed intact', async (t) => {
    const b = ready();
    const topics: Record<string, string> = {};
    for (const compression of ['gzip', 'snappy', 'lz4']) {
      const topic = freshTopic(compression);
      topics[compression] = topic;
      const { sink: s, ctx } = sink({ topic, compression, batch_size: 50 });
      await s.start();
      const metrics = Array.from({ length: 200 }, (_, i) =>
        gauge('compressible.metric.name', i, { host: 'web01' }, T0 + i),
      );
      s.write(metrics);
      await delivered(ctx, metrics.length);
      const got = await consume(topic, metrics.length);
      assert.deepEqual(
        got.map((m) => (JSON.parse(m.payload as string) as { value: number }).value),
        metrics.map((_, i) => i),
        compression,
      );
    }
    // The broker's own log dump says how each stored batch is compressed.
    const files = Object.values(topics).flatMap((topic) =>
      readdirSync(b.logDir)
        .filter((d) => d.startsWith(`${topic}-`))
        .flatMap((d) =>
          readdirSync(path.join(b.logDir, d))
            .filter((f) => f.endsWith('.log'))
            .map((f) => path.join(b.logDir, d, f)),
        ),
    );
    const dump = await b.tool('kafka.tools.DumpLogSegments', ['--files', files.join(',')]);
    for (const [compression, topic] of Object.entries(topics)) {
      const section = dump.split(/^Dumping /m).filter((s) => s.includes(`${topic}-`));
      const codecs = new Set(
        section.flatMap((s) =>
          [...s.matchAll(/compresscodec: (\w+)/g)].map((m) => (m[1] as string).toLowerCase()),
        ),
      );
      assert.deepEqual([...codecs], [compression], `${topic} is stored with ${compression}`);
    }
    t.diagnostic(`log files checked: ${files.length}`);
  });

  /**
   * A sink the broker refuses (wrong credentials): writes one point and waits until its sends
   * have failed twice; returns its context for the caller's checks.
   */
  async function refusedSends(
    options: Record<string, unknown>,
    name: string,
    what: string,
  ): Promise<ComponentContext> {
    const { sink: bad, ctx } = sink({
      ...options,
      retry_initial: '50ms',
      max_retry_interval: '200ms',
      // Stopped when the test ends with its point undeliverable: give up at once.
      shutdown_timeout: '100ms',
    });
    await bad.start();
    bad.write([gauge(name, 1, {})]);
    await waitFor(() => (stat(ctx, 'retries') >= 2 ? true : undefined), { timeoutMs: 30_000, what });
    return ctx;
  }

  for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
    test(`SASL ${mechanism}: delivered with the right password, refused with a wrong one`, async () => {
      const b = ready();
      const user = SASL_USERS[mechanism];
      const topic = freshTopic(`sasl-${mechanism}`);
      const { sink: good, ctx } = sink({ brokers: [b.saslBootstrap], topic, sasl: { mechanism, ...user } });
      await good.start();
      good.write([gauge('sasl.ok', 1, { m: mechanism })]);
      await delivered(ctx, 1);
      const got = await consume(topic, 1);
      assert.equal(got.length, 1);
      assert.equal(got[0]?.key, `sasl.ok,m=${mechanism}`);

      const badCtx = await refusedSends(
        {
          brokers: [b.saslBootstrap],
          topic,
          sasl: { mechanism, username: user.username, password: 'wrong' },
        },
        'sasl.bad',
        'the wrong password to fail sends',
      );
      assert.equal(stat(badCtx, 'points_sent'), 0);
      assert.equal(stat(badCtx, 'endpoint_up'), 0);
      assert.equal(stat(badCtx, 'dropped_metrics'), 0, 'kept, to be retried');
      assert.equal((await consumeAll(req, b.bootstrap, topic)).length, 1);
    });
  }

  test('TLS with a client certificate: delivered; without one the broker refuses', async () => {
    const b = ready();
    const topic = freshTopic('tls');
    const tls = {
      enabled: true,
      ca_file: b.certs.ca,
      cert_file: b.certs.clientCert,
      key_file: b.certs.clientKey,
    };
    const { sink: good, ctx } = sink({ brokers: [b.sslBootstrap], topic, tls });
    await good.start();
    good.write([gauge('tls.ok', 1, {})]);
    await delivered(ctx, 1);
    assert.equal((await consume(topic, 1)).length, 1);

    const badCtx = await refusedSends(
      { brokers: [b.sslBootstrap], topic, tls: { enabled: true, ca_file: b.certs.ca } },
      'tls.bad',
      'sends without a client certificate to fail',
    );
    assert.equal(stat(badCtx, 'points_sent'), 0);
    assert.equal((await consumeAll(req, b.bootstrap, topic)).length, 1);
  });

  /**
   * One outage under traffic: a point every `everyMs` throughout; the broker is stopped (a
   * controlled shutdown, writes going on) once `before` points are delivered, kept down for at
   * least `outageMs`, restarted on the same ports and data, and `after` more points follow.
   * Point i is a gauge of value i in one series (so one partition, in order).
   */
  async function outage(
    t: TestContext,
    b: KafkaBroker,
    s: PushSink,
    ctx: ComponentContext,
    plan: { before: number; after: number; everyMs: number; outageMs: number },
  ): Promise<{ written: number; timer: WriteTimer; downMs: number }> {
    const w = new PointWriter(s, (i) => [gauge('fault.seq', i, { host: 'web01' }, T0 + i)], plan.everyMs);
    let writing = true;
    const writer = w.until(() => !writing);
    await waitFor(() => (stat(ctx, 'points_sent') >= plan.before ? true : undefined), {
      timeoutMs: 60_000,
      intervalMs: 20,
      what: `${plan.before} points delivered before the outage`,
    });
    const stopping = Date.now();
    await b.stop();
    const stoppedMs = Date.now() - stopping;
    const sentWhileDown = stat(ctx, 'points_sent');
    const downSince = Date.now();
    await new Promise((r) => setTimeout(r, plan.outageMs));
    assert.equal(stat(ctx, 'points_sent'), sentWhileDown, 'nothing was delivered while the broker was down');
    assert.ok(stat(ctx, 'retries') > 0, 'sends failed and were retried while the broker was down');
    assert.equal(stat(ctx, 'endpoint_up'), 0);
    await b.start();
    const downMs = Date.now() - downSince;
    const restartedAt = w.written;
    await waitFor(() => (w.written >= restartedAt + plan.after ? true : undefined), {
      timeoutMs: 60_000,
      what: `${plan.after} more points written after the restart`,
    });
    writing = false;
    await writer;
    const { written, timer } = w;
    await waitDrained(ctx, written, { timeoutMs: 90_000, intervalMs: 50, failIf: () => b.diedReason() });
    t.diagnostic(
      `${written} points written; broker shutdown took ${stoppedMs} ms, down ${downMs} ms, restart ${b.startTimesMs.at(-1)} ms; ` +
        `write(): max ${timer.max.toFixed(3)} ms, p99 ${timer.quantile(0.99).toFixed(3)} ms over ${timer.samples.length} calls; ` +
        `retries ${stat(ctx, 'retries')}, dropped ${stat(ctx, 'dropped_metrics')}`,
    );
    return { written, timer, downMs };
  }

  /**
   * write() only encodes and appends, whatever the broker does: a stall would last as long as
   * the outage (seconds). The bound is loose because the test machine's two cores are shared
   * with a JVM that is starting, which can deschedule this process for tens of milliseconds.
   */
  function assertNoStall(timer: WriteTimer): void {
    assert.ok(timer.quantile(0.99) < 10, `write() p99 ${timer.quantile(0.99)} ms`);
    assert.ok(timer.max < 250, `write() took up to ${timer.max} ms`);
  }

  /** `[3,4,5,9]` as `3-5, 9`. */
  function runs(list: readonly number[]): string {
    const out: string[] = [];
    for (let i = 0; i < list.length;) {
      let j = i;
      while (j + 1 < list.length && list[j + 1] === (list[j] as number) + 1) j++;
      out.push(i === j ? `${list[i]}` : `${list[i]}-${list[j]}`);
      i = j + 1;
    }
    return out.join(', ');
  }

  function values(got: readonly ConsumedMessage[]): number[] {
    return [...got].sort(byOffset).map((m) => (JSON.parse(m.payload as string) as { value: number }).value);
  }

  /**
   * The topic's values once `n` distinct ones are there. Delivery is at least once (README): a
   * batch whose acknowledgement was lost in the outage is sent again, so a value may repeat.
   */
  async function consumeDistinct(topic: string, n: number): Promise<number[]> {
    const b = ready();
    let last: number[] = [];
    return waitFor(
      async () => {
        last = values(await consumeAll(req, b.bootstrap, topic));
        return new Set(last).size >= n ? last : undefined;
      },
      {
        timeoutMs: 60_000,
        intervalMs: 200,
        what: `${n} distinct values in ${topic}`,
        describe: () => `${last.length} messages, ${new Set(last).size} distinct`,
      },
    );
  }

  /** The values in the order they first appear: a resent batch repeats, it does not reorder. */
  const firstOccurrences = (got: readonly number[]): number[] => [...new Set(got)];

  test('broker stopped and restarted under traffic: nothing lost while the buffer has room', async (t) => {
    const b = ready();
    const topic = freshTopic('fault-roomy');
    // Created beforehand: auto-creation on the first send can take long enough on a loaded
    // machine to overflow a small buffer before the outage even starts.
    await b.createTopic(topic, 1);
    const { sink: s, ctx } = sink({
      topic,
      flush_interval: '250ms',
      retry_initial: '100ms',
      max_retry_interval: '500ms',
      timeout: '5s',
    });
    await s.start();
    const { written, timer, downMs } = await outage(t, b, s, ctx, {
      before: 20,
      after: 20,
      everyMs: 20,
      outageMs: 2000,
    });
    assert.ok(downMs >= 2000, 'down for at least eight flush intervals');
    assert.equal(stat(ctx, 'dropped_metrics'), 0);
    assert.equal(stat(ctx, 'points_sent'), written);
    const got = await consumeDistinct(topic, written);
    const distinct = new Set(got);
    t.diagnostic(
      `consumed ${got.length} messages, ${distinct.size} distinct, ${got.length - distinct.size} duplicates (at least once: resent batches)`,
    );
    assert.deepEqual(
      firstOccurrences(got),
      Array.from({ length: written }, (_, i) => i),
      'every point arrived, in order (a resent batch may repeat some)',
    );
    assertNoStall(timer);
  });

  test('with a tiny buffer, the drop counter is exactly what the topic is missing', async (t) => {
    const b = ready();
    const topic = freshTopic('fault-tiny');
    // Created beforehand: auto-creation on the first send can take long enough on a loaded
    // machine to overflow a small buffer before the outage even starts.
    await b.createTopic(topic, 1);
    const { sink: s, ctx } = sink({
      topic,
      flush_interval: '250ms',
      retry_initial: '100ms',
      max_retry_interval: '500ms',
      timeout: '5s',
      buffer_points: 8,
      batch_size: 4,
    });
    await s.start();
    const { written, timer } = await outage(t, b, s, ctx, {
      before: 8,
      after: 8,
      everyMs: 20,
      outageMs: 1500,
    });
    const dropped = assertBufferDrops(ctx, written);
    const got = await consumeDistinct(topic, written - dropped);
    const have = new Set(got);
    assert.equal(have.size, written - dropped, 'exactly the points sent (a resent batch may repeat some)');
    const lost = Array.from({ length: written }, (_, i) => i).filter((i) => !have.has(i));
    assert.equal(lost.length, dropped, 'the drop counter equals what is missing');
    // Order is kept (a resent batch repeats points, it does not reorder them). The oldest points go first, so the newest ones,
    // a buffer's worth, all arrived. (What is lost is not always one run: a broker that has
    // just started may refuse a few batches while it takes up leadership, and the buffer
    // overflows again meanwhile.)
    assert.deepEqual(
      firstOccurrences(got),
      [...have].sort((x, y) => x - y),
      'in order',
    );
    t.diagnostic(`${got.length - have.size} duplicates (at least once: resent batches)`);
    for (let i = 0; i < 8; i++) assert.ok(have.has(i), `point ${i}, delivered before the outage, is there`);
    for (let i = written - 8; i < written; i++) assert.ok(have.has(i), `the newest point ${i} arrived`);
    t.diagnostic(`lost ${lost.length} points: ${runs(lost)}`);
    assertNoStall(timer);
  });
});
