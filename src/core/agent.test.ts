import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig, type Registry } from '../config/load.js';
import { s } from '../config/schema.js';
import { CollectorSink } from '../testing/collector.js';
import { recordingLogger } from '../testing/context.js';
import { Agent, StartupError } from './agent.js';
import { systemClock } from './clock.js';
import { defineSink, defineSource } from './definition.js';
import type { Sink } from './component.js';

/** A source that holds one counter until it is stopped, like an aggregator between flushes. */
const holding = defineSource({
  type: 'holding',
  description: '',
  schema: s.object({ note: s.string({ default: '' }) }),
  sample: '',
  create: (_config, ctx) => ({
    mode: 'listening',
    start: async () => {},
    stop: async () =>
      ctx.emit([
        {
          kind: 'counter',
          temporality: 'delta',
          name: 'held',
          tags: [],
          value: 3,
          intervalMs: 1000,
          timestamp: 0,
        },
      ]),
  }),
});

/** A source whose start fails, like a listener on a port another process holds. */
const broken = defineSource({
  type: 'broken',
  description: '',
  schema: s.object({}),
  sample: '',
  create: () => ({
    mode: 'listening',
    start: async () => {
      throw new Error('listen EADDRINUSE 127.0.0.1:8125');
    },
    stop: async () => {},
  }),
});

/** A source whose start waits for the test's word, like workers that take a while to listen. */
let releaseSlow: () => void = () => {};
const slowStarts: { started: boolean; stopped: boolean }[] = [];
const slow = defineSource({
  type: 'slow',
  description: '',
  schema: s.object({ note: s.string({ default: '' }) }),
  sample: '',
  create: () => {
    const record = { started: false, stopped: false };
    slowStarts.push(record);
    return {
      mode: 'listening',
      start: () =>
        new Promise<void>((resolve) => {
          releaseSlow = () => {
            record.started = true;
            resolve();
          };
        }),
      stop: async () => {
        record.stopped = true;
      },
    };
  },
});

const sinks: Sink[] = [];
const collector = defineSink({
  type: 'collector',
  description: '',
  schema: s.object({ hang: s.boolean({ default: false }), gives_up: s.boolean({ default: false }) }),
  sample: '',
  create: (config, ctx) => {
    const sink = new CollectorSink();
    if (config.hang) sink.stop = () => new Promise<void>(() => {});
    // Like a push sink whose endpoint is down: gives up within its own timeout, counting the loss.
    if (config.gives_up) {
      const dropped = ctx.stats.counter('dropped_metrics', 'dropped', { reason: 'shutdown' });
      const before = ctx.stats.counter('dropped_metrics', 'dropped', { reason: 'buffer_full' });
      before.inc(5);
      sink.stop = async () => dropped.inc(sink.metrics().length);
    }
    sinks.push(sink);
    return sink;
  },
});

const registry = { sources: [holding, broken, slow], sinks: [collector] } as unknown as Registry;

function agentFor(yaml: string) {
  const config = loadConfig(yaml, { file: 't', env: {}, registry, defaultHostname: 'box' });
  const { log, lines } = recordingLogger();
  return { agent: new Agent(config, log, systemClock), lines };
}

test('stop flushes what sources hold into sinks, with metadata, before the sinks stop', async () => {
  sinks.length = 0;
  const { agent } = agentFor(`agent: { tags: { env: prod } }
sources: { a: { type: holding } }
sinks: { out: { type: collector } }
`);
  await agent.start();
  const result = await agent.stop();
  assert.deepEqual(result, { drained: true, pending: [], lost: {} });
  const sink = sinks[0] as CollectorSink;
  assert.equal(sink.stopped, true);
  assert.deepEqual(
    sink.metrics().map((m) => [m.name, m.tags]),
    [
      [
        'held',
        [
          ['env', 'prod'],
          ['host', 'box'],
        ],
      ],
    ],
  );
  assert.strictEqual(agent.stop(), agent.stop(), 'stop is idempotent');
});

test('a sink that does not drain within shutdown_timeout makes stop report it', async () => {
  sinks.length = 0;
  const { agent, lines } = agentFor(`agent: { shutdown_timeout: 200ms }
sources: { a: { type: holding } }
sinks:
  fine: { type: collector }
  stuck: { type: collector, hang: true }
`);
  await agent.start();
  const started = Date.now();
  const result = await agent.stop();
  assert.deepEqual(result, { drained: false, pending: ['stuck'], lost: {} });
  assert.ok(Date.now() - started < 2000);
  assert.ok(lines.some((l) => l.level === 'error' && String(l.msg).startsWith('Shutdown timed out')));
});

test('stop reports what sinks dropped while stopping, per sink and reason, even when each drained in time', async () => {
  sinks.length = 0;
  const { agent, lines } = agentFor(`sources: { a: { type: holding } }
sinks:
  fine: { type: collector }
  down: { type: collector, gives_up: true }
`);
  await agent.start();
  const result = await agent.stop();
  // The 5 dropped for a full buffer before the stop are not the stop's loss.
  assert.deepEqual(result, { drained: true, pending: [], lost: { down: { shutdown: 1 } } });
  const error = lines.find((l) => l.level === 'error');
  assert.match(String(error?.msg), /dropped data while stopping/);
  assert.deepEqual(error?.lost, { down: { shutdown: 1 } });
});

test('a component that fails its first start stops the agent with an error naming it, unless told to retry', async () => {
  sinks.length = 0;
  const { agent, lines } = agentFor(`sources:
  ok: { type: holding }
  port: { type: broken }
sinks: { out: { type: collector } }
`);
  await assert.rejects(agent.start(), (e: unknown) => {
    assert.ok(e instanceof StartupError);
    assert.deepEqual(e.failures, ['port (broken): listen EADDRINUSE 127.0.0.1:8125']);
    assert.match(e.message, /startup_error_behavior: retry/);
    return true;
  });
  assert.equal((sinks[0] as CollectorSink).stopped, true, 'what did start is stopped again');
  assert.equal(agent.sources.find((r) => r.id === 'ok')?.state, 'stopped');
  assert.ok(!lines.some((l) => l.msg === 'sluice started.'));

  const retrying = agentFor(`agent: { startup_error_behavior: retry, restart_backoff_min: 1h }
sources: { port: { type: broken } }
sinks: { out: { type: collector } }
`);
  await retrying.agent.start();
  assert.equal(retrying.agent.sources[0]?.state, 'backoff');
  assert.ok(retrying.lines.some((l) => l.msg === 'sluice started.'));
  await retrying.agent.stop();
});

test('reload keeps unchanged components as they are, rebuilds changed ones (sources flushed first), adds and removes', async () => {
  sinks.length = 0;
  const before = `agent: { tags: { env: a } }
sources:
  steady: { type: holding }
  changing: { type: holding }
  leaving: { type: holding }
sinks:
  kept: { type: collector }
  dropped: { type: collector }
`;
  const { agent } = agentFor(before);
  await agent.start();
  const [kept, dropped] = sinks as [CollectorSink, CollectorSink];
  const steady = agent.sources.find((r) => r.id === 'steady');
  const keptRunner = agent.sinks.find((r) => r.id === 'kept');
  const next = loadConfig(
    `agent: { tags: { env: b } }
sources:
  steady: { type: holding }
  changing: { type: holding, note: x }
  arriving: { type: holding }
sinks:
  kept: { type: collector }
  added: { type: collector }
filters:
  - { action: rename, name: held, to: held_after }
`,
    { file: 't', env: {}, registry, defaultHostname: 'box' },
  );
  const result = await agent.reload(next);
  assert.deepEqual(
    { ...result },
    {
      added: ['added', 'arriving'],
      removed: ['dropped', 'leaving'],
      rebuilt: ['changing'],
      reconfigured: [],
      unchanged: ['kept', 'steady'],
    },
  );
  assert.strictEqual(
    agent.sources.find((r) => r.id === 'steady'),
    steady,
    'same runner',
  );
  assert.equal(steady?.state, 'running');
  assert.strictEqual(
    agent.sinks.find((r) => r.id === 'kept'),
    keptRunner,
  );
  assert.equal(dropped.stopped, true, 'a removed sink is stopped');
  assert.equal(kept.stopped, false);
  // The changed and the removed source flushed what they held, through the new filter and tags,
  // to the new set of sinks.
  const added = sinks[2] as CollectorSink;
  const seen = (sink: CollectorSink): string[] =>
    sink.metrics().map((m) => `${m.name} ${m.tags.map((t) => t.join('=')).join(',')}`);
  assert.deepEqual(seen(kept), ['held_after env=b,host=box', 'held_after env=b,host=box']);
  assert.deepEqual(seen(added), ['held_after env=b,host=box', 'held_after env=b,host=box']);
  assert.deepEqual(seen(dropped), []);
  const stop = await agent.stop();
  assert.equal(stop.drained, true);
  // steady, changing (new instance) and arriving flush at stop.
  assert.equal(kept.metrics().length, 5);
});

test('a reload asked for while the agent is still starting waits for the start, and leaves no instance behind', async () => {
  sinks.length = 0;
  slowStarts.length = 0;
  const { agent } = agentFor(`sources: { s: { type: slow } }
sinks: { out: { type: collector } }
`);
  const starting = agent.start();
  await new Promise((r) => setImmediate(r));
  let reloaded = false;
  const reload = agent
    .reload(
      loadConfig(`sources: { s: { type: slow, note: changed } }\nsinks: { out: { type: collector } }\n`, {
        file: 't',
        env: {},
        registry,
        defaultHostname: 'box',
      }),
    )
    .then((r) => {
      reloaded = true;
      return r;
    });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(reloaded, false, 'the reload waits for the start');
  releaseSlow();
  await starting;
  await new Promise((r) => setImmediate(r));
  releaseSlow(); // the rebuilt instance's start
  const result = await reload;
  assert.deepEqual(result.rebuilt, ['s']);
  assert.equal(slowStarts.length, 2);
  assert.deepEqual(
    slowStarts[0],
    { started: true, stopped: true },
    'the first instance was stopped, not orphaned',
  );
  assert.deepEqual(slowStarts[1], { started: true, stopped: false });
  await agent.stop();
  assert.equal(slowStarts[1]?.stopped, true);
});
