/**
 * The kafka source against the real Apache Kafka over its authenticated listeners: state the
 * test publishes is merged and emitted by an aggregator that connects with SASL/SCRAM, or over
 * TLS with a client certificate; with a wrong password it says so and emits nothing.
 *
 * Needs Java, kcat and the Kafka jars (scripts/kafka/install.sh): skipped without them, except
 * under CI=true.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Producer } from '@platformatic/kafka';
import type { Metric } from '../../core/metric.js';
import { StateWriter } from '../../protocols/state/codec.js';
import { KafkaBroker, kafkaRequirements, SASL_USERS } from '../../testing/kafka-broker.js';
import { startSluice, waitFor } from '../../testing/processes.js';

const req = kafkaRequirements();

/** The console sink's JSON lines. */
function printed(out: string): { name: string; value: number; tags: Record<string, string> }[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { name: string; value: number; tags: Record<string, string> });
}

describe('the kafka source (an aggregator) over SASL and TLS', { skip: req.skip, timeout: 300_000 }, () => {
  let broker: KafkaBroker | undefined;

  before(async () => {
    broker = await KafkaBroker.create(req, { partitions: 2 });
  });
  after(async () => {
    await broker?.destroy();
  });

  /** Publishes two agents' state of one counter, 10 s ago, into a fresh topic. */
  async function publish(topic: string): Promise<void> {
    const b = broker as KafkaBroker;
    await b.createTopic(topic, 2);
    const producer = new Producer({ clientId: 'test', bootstrapBrokers: [b.bootstrap] });
    try {
      const at = Math.floor(Date.now() / 1000) * 1000 - 10_000;
      const messages = [3, 4].map((value, agent) => {
        const m: Metric = {
          kind: 'counter',
          name: 'secure.hits',
          tags: [],
          timestamp: at,
          temporality: 'delta',
          value,
          intervalMs: 1000,
        };
        const writer = new StateWriter({ agent: `agent-${agent}`, setExactLimit: 10, sketchMaxBins: 4096 });
        return { topic, key: Buffer.from('secure.hits'), value: writer.series(m, m.name, m.tags) as Buffer };
      });
      await producer.send({ messages, acks: -1 });
    } finally {
      await producer.close();
    }
  }

  function aggregator(topic: string, connection: string) {
    return startSluice({
      config: `sources:
  global:
    type: kafka
    topic: ${topic}
    group: ${topic}
    window: 1s
    allowed_lateness: 0s
${connection}
sinks:
  out:
    type: console
    format: json
`,
    });
  }

  /** Publishes, then has an aggregator connected this way merge and print it. */
  async function mergedOver(
    t: { after(fn: () => unknown): void },
    topic: string,
    connection: string,
  ): Promise<void> {
    await publish(topic);
    const agg = aggregator(topic, connection);
    t.after(() => agg.kill());
    const out = await agg.waitForStdout((s) => s.includes('"secure.hits"'), 60_000);
    assert.equal(printed(out).find((m) => m.name === 'secure.hits')?.value, 7);
    assert.equal((await agg.stop()).code, 0);
  }

  it('merges what it reads over SASL/SCRAM-SHA-512', async (t) => {
    const b = broker as KafkaBroker;
    const user = SASL_USERS['scram-sha-512'];
    await mergedOver(
      t,
      'secure-sasl',
      `    brokers: ['${b.saslBootstrap}']
    sasl:
      mechanism: scram-sha-512
      username: ${user.username}
      password: ${user.password}`,
    );
  });

  it('merges what it reads over TLS with a client certificate', async (t) => {
    const b = broker as KafkaBroker;
    await mergedOver(
      t,
      'secure-tls',
      `    brokers: ['${b.sslBootstrap}']
    tls:
      enabled: true
      ca_file: ${b.certs.ca}
      cert_file: ${b.certs.clientCert}
      key_file: ${b.certs.clientKey}`,
    );
  });

  it('with a wrong password, fails to start, says why, and never shows the password', async (t) => {
    const b = broker as KafkaBroker;
    const topic = 'secure-refused';
    await publish(topic);
    const agg = aggregator(
      topic,
      `    brokers: ['${b.saslBootstrap}']
    sasl:
      mechanism: scram-sha-512
      username: carol
      password: not-carols-password`,
    );
    t.after(() => agg.kill());
    await waitFor(() => (/"level":"(warn|error)"/.test(agg.stderr()) ? true : undefined), {
      timeoutMs: 60_000,
      what: 'a warning or error about the refused connection',
      describe: () => agg.stderr().slice(-1500),
    });
    assert.equal(agg.stdout(), '');
    assert.doesNotMatch(agg.stderr(), /not-carols-password/);
  });

  it('reads a window another aggregator marked as delivered, merges none of it, and counts it', async (t) => {
    const b = broker as KafkaBroker;
    const topic = 'marked-window';
    await b.createTopic(topic, 1);
    const at = Math.floor(Date.now() / 1000) * 1000 - 10_000;
    const producer = new Producer({ clientId: 'test', bootstrapBrokers: [b.bootstrap] });
    try {
      const writer = new StateWriter({ agent: 'agent-0', setExactLimit: 10, sketchMaxBins: 4096 });
      const series = (name: string, timestamp: number) => {
        const m: Metric = {
          kind: 'counter',
          name,
          tags: [],
          timestamp,
          temporality: 'delta',
          value: 5,
          intervalMs: 1000,
        };
        return { topic, partition: 0, value: writer.series(m, m.name, m.tags) as Buffer };
      };
      // The window [at - 1 s, at): two series, then the marker an aggregator wrote after delivering
      // it; then a series of the next window, never delivered.
      await producer.send({
        messages: [
          series('marked.a', at),
          series('marked.b', at),
          { topic, partition: 0, value: writer.window('agg-gone/1', 0, at - 1000, at) },
          series('unmarked.c', at + 1000),
        ],
        acks: -1,
      });
    } finally {
      await producer.close();
    }
    const agg = startSluice({
      config: `sources:
  global:
    type: kafka
    brokers: ['${b.bootstrap}']
    topic: ${topic}
    group: ${topic}
    window: 1s
    allowed_lateness: 0s
  internal:
    type: internal
    interval: 1s
    process: false
sinks:
  out:
    type: console
    format: json
`,
    });
    t.after(() => agg.kill());
    const stat = (out: string, name: string, outcome?: string) =>
      printed(out)
        .filter((m) => m.name === name && m.tags.component === 'global' && m.tags.outcome === outcome)
        .at(-1)?.value;
    const out = await agg.waitForStdout(
      (s) => s.includes('"unmarked.c"') && stat(s, 'sluice_duplicate_state') === 2,
      60_000,
    );
    const names = printed(out).map((m) => m.name);
    assert.ok(
      !names.includes('marked.a') && !names.includes('marked.b'),
      'a delivered window is not delivered again',
    );
    assert.equal(printed(out).find((m) => m.name === 'unmarked.c')?.value, 5);
    // The foreign marker, and perhaps already the one this aggregator wrote for unmarked.c's window.
    assert.ok((stat(out, 'sluice_state_messages', 'marker') ?? 0) >= 1);
    assert.equal((await agg.stop()).code, 0);
  });
});
