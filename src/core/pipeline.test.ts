import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Filter } from './filter.js';
import type { Metric } from './metric.js';
import { Pipeline } from './pipeline.js';
import { makeTags } from './tags.js';
import { CollectorSink } from '../testing/collector.js';

const counter = (name: string, tags: Record<string, string> = {}): Metric => ({
  kind: 'counter',
  temporality: 'delta',
  name,
  tags: makeTags(tags),
  value: 5,
  intervalMs: 10_000,
  timestamp: 1,
});

test('metadata is added by the pipeline, a metric’s own tags win, and every sink gets the batch', () => {
  const a = new CollectorSink();
  const b = new CollectorSink();
  const p = new Pipeline(
    new Filter([{ action: 'drop', name: 'noise*' }]),
    makeTags({ host: 'web1', env: 'prod' }),
    [a, b],
  );
  const input = [counter('requests', { env: 'canary' }), counter('noise_x')];
  p.push(input);
  assert.deepEqual(a.metrics(), [
    { ...counter('requests'), tags: makeTags({ env: 'canary', host: 'web1' }) },
  ]);
  assert.strictEqual(a.batches[0], b.batches[0], 'one frozen batch shared by all sinks');
  assert.ok(Object.isFrozen(a.batches[0]));
  assert.deepEqual(input[0]?.tags, makeTags({ env: 'canary' }), 'the source’s metric is not mutated');
  assert.equal(p.received, 2);
  assert.equal(p.delivered, 1);
});

test('a batch filtered down to nothing is not delivered', () => {
  const a = new CollectorSink();
  const p = new Pipeline(new Filter([{ action: 'drop', name: '*' }]), [], [a]);
  p.push([counter('x')]);
  assert.equal(a.batches.length, 0);
});

test('events go to the sinks that carry them, with metadata; with none, they are counted as ignored', () => {
  const carrier = new CollectorSink();
  const p = new Pipeline(new Filter([]), makeTags({ host: 'web1' }), [carrier]);
  p.pushEvents([{ kind: 'service_check', name: 'db', status: 2, tags: [], timestamp: 1 }]);
  assert.deepEqual(carrier.events, [
    { kind: 'service_check', name: 'db', status: 2, tags: [['host', 'web1']], timestamp: 1 },
  ]);
  const metricsOnly = Object.assign(new CollectorSink(), { carriesEvents: false });
  const q = new Pipeline(new Filter([]), [], [metricsOnly]);
  q.pushEvents([{ kind: 'event', title: 't', text: 'x', tags: [], timestamp: 1 }]);
  assert.equal(metricsOnly.events.length, 0);
  assert.equal(q.eventsIgnored, 1);
});

test('a tap sees what the sinks get, with the emitting source, until removed', () => {
  const sink = new CollectorSink();
  const p = new Pipeline(new Filter([{ action: 'drop', name: 'noise*' }]), makeTags({ host: 'h' }), [sink]);
  const seen: [string[], string | undefined][] = [];
  const untap = p.tap((batch, source) => seen.push([batch.map((m) => m.name), source]));
  p.push([counter('a'), counter('noise')], 'statsd');
  p.push([counter('noise')], 'statsd');
  untap();
  p.push([counter('b')], 'linux');
  assert.deepEqual(seen, [[['a'], 'statsd']]);
  assert.equal(sink.metrics().length, 2);
});

test('a raw outlet is wanted while a sink relays or a raw tap listens, and feeds both', () => {
  const relayed: string[][] = [];
  const relay = { writeRaw: (_: 'statsd', lines: readonly string[]) => void relayed.push([...lines]) };
  const plain = new Pipeline(new Filter([]), [], []);
  const outlet = plain.rawOutlet('statsd', 'statsd-in');
  assert.equal(outlet.wanted[0], 0, 'no relay, no tap: sources decode nothing');
  const tapped: [string[], string][] = [];
  const untap = plain.tapRaw((lines, source) => void tapped.push([[...lines], source]));
  assert.equal(outlet.wanted[0], 1, 'a tap turns the outlet on');
  const later = plain.rawOutlet('statsd', 'other');
  assert.equal(later.wanted[0], 1, 'an outlet made while tapped starts on');
  outlet.write(['a:1|c', 'bad']);
  untap();
  assert.equal(outlet.wanted[0], 0, 'off again when the last tap goes');
  assert.equal(later.wanted[0], 0);
  outlet.write(['unseen:1|c']);
  assert.deepEqual(tapped, [[['a:1|c', 'bad'], 'statsd-in']]);

  const relaying = new Pipeline(new Filter([]), [], [], [{ protocol: 'statsd', sink: relay }]);
  const always = relaying.rawOutlet('statsd', 's');
  assert.equal(always.wanted[0], 1, 'a relaying sink always wants the lines');
  relaying.tapRaw(() => {})();
  assert.equal(always.wanted[0], 1, 'and a tap going does not turn them off');
  always.write(['x:1|c']);
  assert.deepEqual(relayed, [['x:1|c']]);
});
