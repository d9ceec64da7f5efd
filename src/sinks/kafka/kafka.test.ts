import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MultipleErrors, ProtocolError } from '@platformatic/kafka';
import fc from 'fast-check';
import { parse } from 'yaml';
import type { Distribution, Metric } from '../../core/metric.js';
import { makeTags } from '../../core/tags.js';
import {
  jsonValue,
  KafkaEncoder,
  messageKey,
  packMessage,
  unpackMessage,
  type KafkaEncoderOptions,
} from './encoder.js';
import { assertSampleDocumented, componentReadme, configIssues } from '../../testing/config.js';
import { kafkaSink } from './index.js';
import { isUnretriable, producerOptions } from './kafka.js';
import { schema, ZSTD_AVAILABLE } from './schema.js';
import { compileTopic, isLegalTopic, MAX_TOPIC_LENGTH, renderTopic, type TopicTemplate } from './topic.js';
import { oneToTenSummary } from '../../testing/metrics.js';

function topic(source: string): TopicTemplate {
  const t = compileTopic(source);
  if (typeof t === 'string') throw new Error(t);
  return t;
}

function encoder(options: Partial<KafkaEncoderOptions> = {}): KafkaEncoder {
  return new KafkaEncoder({
    topic: topic('metrics'),
    fallbackTopic: '',
    key: 'series',
    format: 'json',
    ...options,
  });
}

const T = 1_795_262_400_000;
const tags = makeTags({ host: 'web01', route: '/users' });

const metrics: Record<string, Metric> = {
  gauge: { kind: 'gauge', name: 'queue.depth', tags, value: -2.75, timestamp: T },
  delta: {
    kind: 'counter',
    temporality: 'delta',
    name: 'api.requests',
    tags,
    value: 30,
    intervalMs: 10_000,
    timestamp: T,
  },
  cumulative: {
    kind: 'counter',
    temporality: 'cumulative',
    name: 'net.bytes',
    tags,
    value: 1e21,
    intervalMs: 0,
    timestamp: T,
  },
  summary: {
    kind: 'summary',
    name: 'api.latency',
    tags,
    intervalMs: 10_000,
    timestamp: T,
    summary: oneToTenSummary(),
  },
  histogram: {
    kind: 'histogram',
    name: 'api.size',
    tags,
    intervalMs: 10_000,
    timestamp: T,
    histogram: {
      count: 3,
      sum: 12.5,
      min: 1,
      max: 9,
      bins: [
        { le: 2.5, count: 1, sum: 1, min: 1, max: 1 },
        { le: Infinity, count: 2, sum: 11.5, min: 2.5, max: 9 },
      ],
    },
  },
};

const distribution: Distribution = {
  count: 4,
  sum: 10,
  min: 1,
  max: 4,
  relativeAccuracy: 0.01,
  quantiles: [{ quantile: 0.99, value: 4 }],
  quantile: () => 2,
};

describe('kafka json value', () => {
  const doc = (m: Metric): unknown => JSON.parse(jsonValue(m) as string);

  it('has name, type, value, tags, fields and timestamp, in that order', () => {
    assert.equal(
      jsonValue(metrics.gauge as Metric),
      `{"name":"queue.depth","type":"gauge","value":-2.75,"tags":{"host":"web01","route":"/users"},"fields":{"value":-2.75},"timestamp":${T}}`,
    );
  });

  it('carries every field of each kind, named as in the Influx lines', () => {
    assert.deepEqual(doc(metrics.delta as Metric), {
      name: 'api.requests',
      type: 'counter',
      value: 30,
      tags: { host: 'web01', route: '/users' },
      fields: { value: 30, rate: 3 },
      timestamp: T,
    });
    assert.deepEqual((doc(metrics.cumulative as Metric) as { fields: unknown }).fields, { value: 1e21 });
    assert.deepEqual(doc(metrics.summary as Metric), {
      name: 'api.latency',
      type: 'summary',
      value: 10,
      tags: { host: 'web01', route: '/users' },
      fields: {
        count: 10,
        sum: 55,
        mean: 5.5,
        min: 1,
        max: 10,
        stdev: 2.8722813232690143,
        median: 5.5,
        p90: 9,
        p90_count: 9,
        p90_sum: 45,
        p90_mean: 5,
      },
      timestamp: T,
    });
    assert.deepEqual(doc(metrics.histogram as Metric), {
      name: 'api.size',
      type: 'histogram',
      value: 3,
      tags: { host: 'web01', route: '/users' },
      // Bins cumulative, as Prometheus and the Influx encoder write them.
      fields: { count: 3, sum: 12.5, min: 1, max: 9, mean: 12.5 / 3, 'le_2.5': 1, le_inf: 3 },
      timestamp: T,
    });
    const d: Metric = {
      kind: 'distribution',
      name: 'db',
      tags: [],
      intervalMs: 10_000,
      timestamp: T,
      distribution,
    };
    assert.deepEqual(doc(d), {
      name: 'db',
      type: 'distribution',
      value: 4,
      tags: {},
      fields: { count: 4, sum: 10, min: 1, max: 4, mean: 2.5, median: 2, p99: 4 },
      timestamp: T,
    });
  });

  it('leaves non-finite numbers out, and has no value for a metric without a finite field', () => {
    const s = metrics.summary as Extract<Metric, { kind: 'summary' }>;
    const partial: Metric = { ...s, summary: { ...s.summary, stdev: NaN, min: Infinity } };
    const fields = (doc(partial) as { fields: Record<string, number> }).fields;
    assert.equal('stdev' in fields, false);
    assert.equal('min' in fields, false);
    assert.equal(jsonValue({ ...(metrics.gauge as Metric), value: NaN } as Metric), undefined);
    assert.equal(encoder().encode({ ...(metrics.gauge as Metric), value: Infinity } as Metric), undefined);
  });

  it('names a field of a multi-field point by its measurement and field, as Influx does', () => {
    const m: Metric = {
      kind: 'gauge',
      name: 'json.a',
      tags: [],
      value: 1,
      timestamp: T,
      point: { measurement: 'json', field: 'a' },
    };
    assert.deepEqual(doc(m), {
      name: 'json',
      type: 'gauge',
      value: 1,
      tags: {},
      fields: { a: 1 },
      timestamp: T,
    });
  });

  it('escapes names and tags, and keeps a tag called __proto__ an ordinary key', () => {
    const m: Metric = {
      kind: 'gauge',
      name: 'a"b\\c\nd',
      tags: makeTags({ __proto__x: 'x', 'k"': 'v\u0000', __proto__: 'p' } as Record<string, string>),
      value: 1,
      timestamp: T,
    };
    const parsed = JSON.parse(jsonValue(m) as string) as { name: string; tags: Record<string, string> };
    assert.equal(parsed.name, m.name);
    assert.deepEqual(
      Object.entries(parsed.tags),
      m.tags.map(([k, v]) => [k, v]),
    );
  });
});

describe('kafka message keys and influx values', () => {
  it('keys by series (an Influx line head), by name, or not at all', () => {
    const m = {
      kind: 'gauge',
      name: 'cpu load',
      tags: makeTags({ host: 'web 1', core: '0' }),
      value: 1,
      timestamp: T,
    } as Metric;
    assert.equal(messageKey('series', m), 'cpu\\ load,core=0,host=web\\ 1');
    assert.equal(messageKey('name', m), 'cpu load');
    assert.equal(messageKey('none', m), undefined);
  });

  it('writes one newline-terminated line of line protocol per metric', () => {
    const msg = encoder({ format: 'influx' }).message(metrics.delta as Metric);
    assert.deepEqual(msg, {
      topic: 'metrics',
      key: 'api.requests,host=web01,route=/users',
      value: `api.requests,host=web01,route=/users value=30,rate=3 ${T}000000\n`,
      timestamp: T,
    });
  });
});

describe('kafka topic templates', () => {
  it('renders tags and names, replacing what a topic cannot hold', () => {
    const t = topic('metrics-{env}.{name}');
    assert.equal(
      renderTopic(t, 'api/requests', makeTags({ env: 'prod eu' })),
      'metrics-prod_eu.api_requests',
    );
    assert.equal(renderTopic(topic('{tag:name}'), 'x', makeTags({ name: 'n' })), 'n');
    assert.equal(renderTopic(topic('m-{env}'), 'x', makeTags({ env: 'é' })), 'm-_');
  });

  it('has no topic for a metric without the tag, or whose topic would be illegal', () => {
    const t = topic('m-{env}');
    assert.equal(renderTopic(t, 'x', []), undefined);
    assert.equal(renderTopic(t, 'x', makeTags({ env: '' })), undefined);
    assert.equal(renderTopic(t, 'x', makeTags({ env: 'a'.repeat(MAX_TOPIC_LENGTH) })), undefined);
    assert.equal(renderTopic(topic('{env}'), 'x', makeTags({ env: '..' })), undefined);
  });

  it('sends metrics without a topic to the fallback, or drops them', () => {
    const m = metrics.gauge as Metric;
    assert.equal(encoder({ topic: topic('m-{env}') }).encode(m), undefined);
    assert.equal(encoder({ topic: topic('m-{env}'), fallbackTopic: 'other' }).message(m)?.topic, 'other');
  });

  it('explains templates that are not usable', () => {
    const cases: [string, RegExp][] = [
      ['', /is empty/],
      ['a b', /" "/],
      ['m-{env', /without "}"/],
      ['m-env}', /without "{"/],
      ['m-{}', /empty placeholder/],
      ['{a{b}', /inside a placeholder/],
      ['.', /not a legal topic/],
      ['a'.repeat(250), /longer than 249/],
    ];
    for (const [source, message] of cases) assert.match(compileTopic(source) as string, message, source);
  });

  it('renders only legal topics, whatever the tags (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 300 }),
        fc.string({ maxLength: 20 }),
        (value, name) => {
          const out = renderTopic(topic('m.{env}-{name}'), name, makeTags({ env: value }));
          if (out !== undefined) assert.ok(isLegalTopic(out), out);
        },
      ),
    );
  });
});

describe('kafka record frames', () => {
  it('unpack what pack wrote, for any topic, key, value and timestamp (property)', () => {
    const topicArb = fc.stringMatching(/^[a-zA-Z0-9._-]{1,249}$/);
    fc.assert(
      fc.property(
        topicArb,
        fc.option(fc.string({ unit: 'grapheme', maxLength: 50 }), { nil: undefined }),
        fc.string({ unit: 'grapheme', maxLength: 200 }),
        fc.double(),
        (t, key, value, ts) => {
          const m = unpackMessage(packMessage(t, key, value, ts));
          assert.equal(m.topic, t);
          assert.equal(m.key?.toString('utf8'), key);
          assert.equal(m.value.toString('utf8'), value);
          assert.ok(Object.is(m.timestamp, ts));
        },
      ),
    );
  });

  it('encodes any metric to a frame or to nothing, never throwing (property)', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 12 });
    fc.assert(
      fc.property(
        text,
        fc.array(fc.tuple(text, text), { maxLength: 4 }),
        fc.double(),
        fc.constantFrom('json', 'influx') as fc.Arbitrary<'json' | 'influx'>,
        (name, pairs, value, format) => {
          const m: Metric = { kind: 'gauge', name, tags: makeTags(pairs), value, timestamp: T };
          const e = encoder({ format, topic: topic('t-{name}'), fallbackTopic: 'fallback' });
          const record = e.encode(m);
          if (!Number.isFinite(value)) return assert.equal(record, undefined);
          if (format === 'influx' && record === undefined) return; // nothing left of the name
          const msg = unpackMessage(record as Uint8Array);
          assert.ok(isLegalTopic(msg.topic));
          if (format === 'json') {
            const doc = JSON.parse(msg.value.toString('utf8')) as {
              name: string;
              value: number;
              tags: object;
            };
            assert.equal(doc.name, name);
            assert.equal(doc.value, value + 0); // JSON has no -0
            // As objects: JSON.parse puts integer-like keys ("0") first, whatever the text's order.
            assert.deepEqual(doc.tags, Object.fromEntries(m.tags));
          }
        },
      ),
    );
  });
});

describe('kafka errors', () => {
  it('rejects batches Kafka refuses as data, and retries everything else', () => {
    assert.equal(isUnretriable(new ProtocolError('MESSAGE_TOO_LARGE')), true);
    assert.equal(
      isUnretriable(
        new MultipleErrors('Producing failed.', [
          new Error('x'),
          new ProtocolError('INVALID_TOPIC_EXCEPTION'),
        ]),
      ),
      true,
    );
    assert.equal(
      isUnretriable(new MultipleErrors('x', [new ProtocolError('NOT_LEADER_OR_FOLLOWER')])),
      false,
    );
    assert.equal(isUnretriable(new ProtocolError('TOPIC_AUTHORIZATION_FAILED')), false);
    assert.equal(isUnretriable(new Error('Connection refused')), false);
  });
});

describe('kafka sink config', () => {
  const doc = parse(kafkaSink.sample) as Record<string, Record<string, unknown>>;
  const { type, ...options } = doc.kafka ?? {};

  it('has a sample that parses, passes its schema and shows the defaults', () => {
    assert.equal(type, 'kafka');
    assert.ok(kafkaSink.sample.startsWith('  kafka:\n    type: kafka\n'));
    const { config, issues } = configIssues(schema, options);
    assert.deepEqual(issues, []);
    assert.deepEqual(config, configIssues(schema, {}).config);
  });

  it('documents every option, in the schema and in the sample', () => {
    assertSampleDocumented(kafkaSink.sample, schema.fields, options);
    for (const nested of ['tls', 'sasl'] as const) {
      const fields = (schema.fields[nested] as unknown as { fields: Record<string, { doc?: string }> })
        .fields;
      for (const [key, field] of Object.entries(fields)) {
        assert.ok(field.doc, `${nested}.${key} has no doc`);
        assert.ok(key in (options[nested] as object), `the sample lacks ${nested}.${key}`);
      }
    }
  });

  it('has a README that embeds the sample verbatim', () => {
    assert.ok(componentReadme('sinks', 'kafka').includes(kafkaSink.sample));
  });

  it('refuses what cannot work, saying why', () => {
    assert.deepEqual(configIssues(schema, { topic: 'a b' }).issues, [
      'topic: is not a usable topic: it has " ", which a Kafka topic name cannot hold (only letters, digits, ".", "_" and "-")',
    ]);
    assert.match(
      configIssues(schema, { fallback_topic: 'x/y' }).issues[0] ?? '',
      /^fallback_topic: is not a legal topic name/,
    );
    assert.deepEqual(configIssues(schema, { sasl: { mechanism: 'plain', username: 'u' } }).issues, [
      'sasl.password: is required with mechanism plain',
    ]);
    assert.deepEqual(configIssues(schema, { tls: { enabled: true, cert_file: '/c.pem' } }).issues, [
      'tls.key_file: cert_file and key_file go together',
    ]);
    assert.match(
      configIssues(schema, { brokers: ['kafka:99999'] }).issues[0] ?? '',
      /^brokers\[0\]: .*bad port/,
    );
    assert.match(configIssues(schema, { endpoints: ['x'] }).issues[0] ?? '', /^endpoints: unknown key/);
    assert.deepEqual(configIssues(schema, { compression: 'zstd' }).issues.length, ZSTD_AVAILABLE ? 0 : 1);
  });

  it('builds the client options: brokers, acks, SASL, TLS', () => {
    const { config } = configIssues(schema, {
      brokers: ['k1:9093', '[::1]', 'k3'],
      client_id: 'agent-7',
      timeout: '3s',
      sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
      tls: { enabled: true, insecure_skip_verify: true, server_name: 'kafka.example.com' },
    });
    const o = producerOptions(config);
    assert.deepEqual(o.bootstrapBrokers, [
      { host: 'k1', port: 9093 },
      { host: '::1', port: 9092 },
      { host: 'k3', port: 9092 },
    ]);
    assert.equal(o.clientId, 'agent-7');
    assert.equal(o.timeout, 3000);
    assert.deepEqual(o.sasl, { mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' });
    assert.deepEqual(o.tls, { rejectUnauthorized: false, servername: 'kafka.example.com' });
    assert.equal(o.tlsServerName, 'kafka.example.com');
    assert.equal(producerOptions(configIssues(schema, {}).config).tls, undefined);
  });

  it('previews the messages the sink would produce', () => {
    const { config } = configIssues(schema, { topic: 'm-{host}', format: 'influx' });
    assert.equal(
      kafkaSink.preview?.(config, [metrics.gauge as Metric], []),
      `topic=m-web01 key="queue.depth,host=web01,route=/users" queue.depth,host=web01,route=/users value=-2.75 ${T}000000\n`,
    );
  });
});
