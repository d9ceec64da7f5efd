import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Metric, Quantile } from '../../core/metric.js';
import { makeTags } from '../../core/tags.js';
import { CarbonEncoder, boundLabel, percentileLabel, type CarbonNaming } from './plaintext.js';
import { isSafeNode } from './sanitize.js';
import { compileTemplate, type Template } from './template.js';
import { oneToTenSummary } from '../../testing/metrics.js';

const TS = Date.UTC(2026, 10, 21, 12, 0, 0) + 999; // the milliseconds are cut
const SEC = Math.floor(TS / 1000);

function encoder(template: string, naming: CarbonNaming = 'path'): CarbonEncoder {
  return new CarbonEncoder(compileTemplate(template) as Template, naming);
}

function lines(text: string | undefined): string[] {
  return text === undefined ? [] : text.trimEnd().split('\n');
}

const host = { host: 'web01.example.com' };

const gauge = (name: string, value: number, tags: Record<string, string> = host): Metric => ({
  kind: 'gauge',
  name,
  tags: makeTags(tags),
  value,
  timestamp: TS,
});

const deltaCounter: Metric = {
  kind: 'counter',
  temporality: 'delta',
  name: 'api.requests',
  tags: makeTags({ ...host, route: '/users' }),
  value: 30,
  intervalMs: 10_000,
  timestamp: TS,
};

const quantiles: Quantile[] = [
  { quantile: 0.9, value: 9, count: 9, sum: 45, mean: 5 },
  { quantile: 0.999, value: 10 },
];

const summary: Metric = {
  kind: 'summary',
  name: 'api.latency',
  tags: makeTags(host),
  intervalMs: 10_000,
  timestamp: TS,
  summary: oneToTenSummary({ quantiles }),
};

const histogram: Metric = {
  kind: 'histogram',
  name: 'cpu-lat',
  tags: makeTags(host),
  intervalMs: 10_000,
  timestamp: TS,
  histogram: {
    count: 6,
    sum: 40,
    min: 1,
    max: 20,
    bins: [
      { le: 2.5, count: 2, sum: 3, min: 1, max: 2 },
      { le: 10, count: 3, sum: 17, min: 4, max: 8 },
      { le: Infinity, count: 1, sum: 20, min: 20, max: 20 },
    ],
  },
};

const distribution: Metric = {
  kind: 'distribution',
  name: 'payload',
  tags: makeTags(host),
  intervalMs: 10_000,
  timestamp: TS,
  distribution: {
    count: 4,
    sum: 10,
    min: 1,
    max: 4,
    relativeAccuracy: 0.01,
    quantiles: [
      { quantile: 0.5, value: 2 },
      { quantile: 0.99, value: 4 },
    ],
    quantile: () => 0,
  },
};

describe('carbon plaintext: one path per value, Etsy statsd field names', () => {
  const table: [string, string, Metric, string[]][] = [
    [
      'gauge, template without {field}',
      '{host}.{name}',
      gauge('load', 0.5),
      [`web01_example_com.load 0.5 ${SEC}`],
    ],
    [
      'gauge, template with {field}',
      '{host}.{name}.{field}',
      gauge('load', 2),
      [`web01_example_com.load.value 2 ${SEC}`],
    ],
    [
      'cumulative counter',
      '{name}',
      { ...deltaCounter, temporality: 'cumulative', intervalMs: 0, tags: makeTags({}) },
      [`api.requests 30 ${SEC}`],
    ],
    [
      'delta counter: count and rate, field appended',
      '{host}.{name}.{route}',
      deltaCounter,
      [
        `web01_example_com.api.requests._users.count 30 ${SEC}`,
        `web01_example_com.api.requests._users.rate 3 ${SEC}`,
      ],
    ],
    [
      'delta counter without interval: count only',
      'stats.counters.{name}.{field}',
      { ...deltaCounter, intervalMs: 0 },
      [`stats.counters.api.requests.count 30 ${SEC}`],
    ],
    [
      'summary (timer)',
      'stats.timers.{name}.{field}',
      summary,
      [
        `stats.timers.api.latency.count 10 ${SEC}`,
        `stats.timers.api.latency.count_ps 1 ${SEC}`,
        `stats.timers.api.latency.sum 55 ${SEC}`,
        `stats.timers.api.latency.sum_squares 385 ${SEC}`,
        `stats.timers.api.latency.mean 5.5 ${SEC}`,
        `stats.timers.api.latency.lower 1 ${SEC}`,
        `stats.timers.api.latency.upper 10 ${SEC}`,
        `stats.timers.api.latency.std 2.8722813232690143 ${SEC}`,
        `stats.timers.api.latency.median 5.5 ${SEC}`,
        `stats.timers.api.latency.upper_90 9 ${SEC}`,
        `stats.timers.api.latency.mean_90 5 ${SEC}`,
        `stats.timers.api.latency.sum_90 45 ${SEC}`,
        `stats.timers.api.latency.count_90 9 ${SEC}`,
        `stats.timers.api.latency.upper_99_9 10 ${SEC}`,
      ],
    ],
    [
      'histogram: one path per bin',
      '{host}.{name}.{field}',
      histogram,
      [
        `web01_example_com.cpu-lat.count 6 ${SEC}`,
        `web01_example_com.cpu-lat.sum 40 ${SEC}`,
        `web01_example_com.cpu-lat.lower 1 ${SEC}`,
        `web01_example_com.cpu-lat.upper 20 ${SEC}`,
        `web01_example_com.cpu-lat.bin_2_5 2 ${SEC}`,
        `web01_example_com.cpu-lat.bin_10 3 ${SEC}`,
        `web01_example_com.cpu-lat.bin_inf 1 ${SEC}`,
      ],
    ],
    [
      'distribution',
      '{name}.{field}',
      distribution,
      [
        `payload.count 4 ${SEC}`,
        `payload.sum 10 ${SEC}`,
        `payload.mean 2.5 ${SEC}`,
        `payload.lower 1 ${SEC}`,
        `payload.upper 4 ${SEC}`,
        `payload.p50 2 ${SEC}`,
        `payload.p99 4 ${SEC}`,
      ],
    ],
    [
      "the bpftrace client's <hostname>.cpu-lat.<bucket>",
      '{host}.{name}.{bucket}',
      gauge('cpu-lat', 474, { host: 'web01', bucket: '2048' }),
      [`web01.cpu-lat.2048 474 ${SEC}`],
    ],
    [
      "Bucky3's name_mapping (bucket, team, app, host, name, value, then the rest by key)",
      '{name}.{team}.{app}.{host}.{tag:name}.{value}.{tags}',
      gauge('system_cpu', 24, { value: 'user', name: '0', host: 'foo', location: 'bar', env: 'test' }),
      [`system_cpu.foo.0.user.test.bar 24 ${SEC}`],
    ],
    [
      'missing tags leave no empty node',
      '{dc}.{host}.{name}.{tags}.{field}',
      gauge('x', 1, { host: 'h' }),
      [`h.x.value 1 ${SEC}`],
    ],
    [
      'non-finite values are left out',
      '{name}.{field}',
      { ...summary, summary: { ...summary.summary, stdev: NaN, min: Infinity, quantiles: [] } },
      [
        `api.latency.count 10 ${SEC}`,
        `api.latency.count_ps 1 ${SEC}`,
        `api.latency.sum 55 ${SEC}`,
        `api.latency.sum_squares 385 ${SEC}`,
        `api.latency.mean 5.5 ${SEC}`,
        `api.latency.upper 10 ${SEC}`,
        `api.latency.median 5.5 ${SEC}`,
      ],
    ],
    ['large and small numbers as carbon parses them', '{name}', gauge('big', 1e21, {}), [`big 1e+21 ${SEC}`]],
    ['negative zero', '{name}', gauge('z', -0, {}), [`z 0 ${SEC}`]],
  ];
  for (const [what, template, metric, want] of table) {
    it(what, () => assert.deepEqual(lines(encoder(template).encode(metric)), want));
  }

  it('encodes nothing for a metric without a finite value or without a path', () => {
    assert.equal(encoder('{name}').encode(gauge('x', NaN)), undefined);
    assert.equal(encoder('{name}.{host}').encode(gauge('...', 1, {})), undefined);
  });
});

describe('carbon tagged series (Graphite 1.1)', () => {
  const table: [string, string, Metric, string[]][] = [
    [
      'tags not in the template, sorted',
      '{name}.{field}',
      gauge('disk.used', 7, { server: 'web01', datacenter: 'dc1', rack: 'a1' }),
      [`disk.used.value;datacenter=dc1;rack=a1;server=web01 7 ${SEC}`],
    ],
    [
      'a template tag is not repeated as a Graphite tag',
      '{host}.{name}',
      gauge('load', 1, { host: 'h1', env: 'prod' }),
      [`h1.load;env=prod 1 ${SEC}`],
    ],
    [
      'dots stay in tag values; forbidden characters do not',
      '{name}',
      gauge('m', 1, { 'a=b': 'x;y', fqdn: 'web01.example.com', tilde: '~x', empty: '' }),
      [`m;a_b=x_y;fqdn=web01.example.com;tilde=_x 1 ${SEC}`],
    ],
    [
      'a tag called name is renamed, and the order kept after renaming',
      '{name}',
      gauge('m', 1, { name: 'n', a: '1', zz: '2' }),
      [`m;_name=n;a=1;zz=2 1 ${SEC}`],
    ],
    [
      'every field of a counter carries the tags',
      '{name}.{field}',
      { ...deltaCounter, tags: makeTags({ route: '/users' }) },
      [`api.requests.count;route=/users 30 ${SEC}`, `api.requests.rate;route=/users 3 ${SEC}`],
    ],
  ];
  for (const [what, template, metric, want] of table) {
    it(what, () => assert.deepEqual(lines(encoder(template, 'tagged').encode(metric)), want));
  }

  it('refuses {tags} with tagged series', () => {
    assert.throws(() => encoder('{name}.{tags}', 'tagged'), /cannot use \{tags\}/);
  });
});

describe('labels', () => {
  it('writes percentiles and bounds as path-safe suffixes', () => {
    assert.deepEqual([0.5, 0.9, 0.95, 0.99, 0.999, 1, 0.125].map(percentileLabel), [
      '50',
      '90',
      '95',
      '99',
      '99_9',
      '100',
      '12_5',
    ]);
    assert.deepEqual([1, 2.5, 1e-7, -3, Infinity].map(boundLabel), ['1', '2_5', '1e-7', '-3', 'inf']);
  });
});

/** Checks a line as carbon's MetricLineReceiver and TaggedSeries.parse_carbon would. */
function carbonAccepts(line: string, naming: CarbonNaming): void {
  const parts = line.trim().split(/\s+/);
  assert.equal(parts.length, 3, line);
  const [path, value, timestamp] = parts as [string, string, string];
  assert.ok(Number.isFinite(Number(value)), line);
  assert.equal(timestamp, String(SEC));
  const [name, ...tags] = path.split(';');
  assert.ok(name !== undefined && name !== '', line);
  for (const node of name.split('.')) assert.ok(isSafeNode(node), `node ${JSON.stringify(node)} in ${line}`);
  if (naming === 'path') assert.equal(tags.length, 0);
  const keys = tags.map((t) => {
    const eq = t.indexOf('=');
    const k = t.slice(0, eq);
    const v = t.slice(eq + 1);
    assert.ok(eq > 0 && v !== '' && !/[;!^=]/.test(k) && !v.startsWith('~'), `tag ${t} in ${line}`);
    return k;
  });
  assert.deepEqual(keys, [...keys].sort(), 'tags sorted');
  assert.equal(new Set(keys).size, keys.length, 'tag keys unique');
}

describe('carbon plaintext properties', () => {
  const tags = fc.dictionary(
    fc.string({ unit: 'grapheme', maxLength: 8 }),
    fc.string({ unit: 'grapheme', maxLength: 8 }),
    {
      maxKeys: 5,
    },
  );
  const value = fc.oneof(fc.double(), fc.integer());
  const metric: fc.Arbitrary<Metric> = fc
    .record({
      name: fc.string({ unit: 'grapheme', maxLength: 20 }),
      tags,
      value,
      kind: fc.constantFrom('gauge', 'counter'),
    })
    .map(({ name, tags: t, value: v, kind }) =>
      kind === 'gauge'
        ? { kind: 'gauge', name, tags: makeTags(t), value: v, timestamp: TS }
        : {
            kind: 'counter',
            temporality: 'delta',
            name,
            tags: makeTags(t),
            value: v,
            intervalMs: 1000,
            timestamp: TS,
          },
    );
  const templates = ['{name}', '{host}.{name}.{field}', '{name}.{tags}.{field}', 'x.{tag:name}.{name}'];

  for (const naming of ['path', 'tagged'] as const) {
    it(`only writes lines carbon accepts (${naming})`, () => {
      fc.assert(
        fc.property(metric, fc.constantFrom(...templates), (m, template) => {
          if (naming === 'tagged' && template.includes('{tags}')) return;
          const out = encoder(template, naming).encode(m);
          if (out === undefined) return;
          assert.ok(out.endsWith('\n'));
          for (const line of lines(out)) carbonAccepts(line, naming);
        }),
      );
    });
  }
});
