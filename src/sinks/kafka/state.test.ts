import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Metric } from '../../core/metric.js';
import { makeTags } from '../../core/tags.js';
import { decodeState, type SeriesMessage } from '../../protocols/state/codec.js';
import { parseConfig } from '../../testing/config.js';
import { unpackMessage } from './encoder.js';
import { kafkaSink } from './index.js';
import { schema } from './schema.js';
import { KafkaStateEncoder } from './state.js';

const T = 1_796_000_000_000;
const config = parseConfig(schema, {
  topic: 'sluice-state',
  format: 'state',
  state: { metrics: [{ name: 'checkout.*' }, { name: 'api.*', tags: { env: 'prod' } }], drop_tags: ['host'] },
});

function counter(
  name: string,
  tags: Record<string, string>,
  temporality: 'delta' | 'cumulative' = 'delta',
): Metric {
  return {
    kind: 'counter',
    name,
    tags: makeTags(tags),
    timestamp: T,
    temporality,
    value: 3,
    intervalMs: 10_000,
  };
}

describe('the kafka sink, format: state', () => {
  const encoder = new KafkaStateEncoder(config.topic, config.fallback_topic, config.state, 'web-1/ab');

  it('keys a selected metric by its global series, without the tags each agent has its own of', () => {
    const packed = encoder.encode(counter('checkout.hits', { host: 'web-1', route: '/pay' }));
    assert.ok(packed instanceof Uint8Array);
    const m = unpackMessage(packed);
    assert.equal(m.topic, 'sluice-state');
    assert.equal(m.key?.toString(), 'checkout.hits,route=/pay');
    const state = decodeState(m.value) as SeriesMessage;
    assert.equal(state.agent, 'web-1/ab');
    assert.deepEqual(state.series.tags, [['route', '/pay']]);
    assert.equal(m.timestamp, T);
  });

  it('declines, uncounted, what no selector matches; counts what has no mergeable state', () => {
    assert.equal(encoder.encode(counter('other.hits', {})), null);
    assert.equal(encoder.encode(counter('api.hits', { env: 'dev' })), null);
    assert.ok(encoder.encode(counter('api.hits', { env: 'prod' })) instanceof Uint8Array);
    assert.equal(encoder.encode(counter('checkout.rx', {}, 'cumulative')), undefined);
  });

  it('asks aggregating sources for state, and says which series of a name go global', () => {
    assert.equal(kafkaSink.publishesState?.(config), true);
    assert.equal(kafkaSink.globalScope?.(config, 'checkout.latency'), 'all');
    assert.equal(kafkaSink.globalScope?.(config, 'api.hits'), 'some');
    assert.equal(kafkaSink.globalScope?.(config, 'other'), 'none');
    const json = parseConfig(schema, {});
    assert.equal(kafkaSink.publishesState?.(json), false);
    assert.equal(kafkaSink.globalScope?.(json, 'checkout.latency'), undefined);
  });
});
