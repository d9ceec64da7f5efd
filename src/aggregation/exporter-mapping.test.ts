/**
 * statsd_exporter's mapping files, checked against the cases of statsd_exporter's own mapper
 * tests (testdata/statsd_exporter/mapper-cases.json: its inputs and expected results, taken as
 * facts; see SOURCE.md there): every config that must load loads, every one that must fail fails,
 * and every lookup gives the name, labels and options the case expects.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  escapeMetricName,
  ExporterMapper,
  goDuration,
  goExpand,
  MappingFileError,
  parseExporterMapping,
  type ExporterRule,
} from './exporter-mapping.js';

interface Lookup {
  statsdMetric: string;
  statsdType?: string;
  name?: string;
  labels?: Record<string, string>;
  notPresent?: boolean;
  ttl?: string;
  quantiles?: { quantile: number; error: number }[];
  buckets?: number[];
  maxAge?: string;
  ageBuckets?: number;
  bufCap?: number;
  matchMetricType?: string;
  note?: string;
}

interface Case {
  test: string;
  kind: 'mapping' | 'action' | 'escape';
  input?: string;
  expected?: string;
  config: string;
  configBad: boolean;
  mappings: Lookup[];
  expectedAction?: string;
}

const cases = JSON.parse(
  readFileSync(
    new URL('../../src/sources/statsd/testdata/statsd_exporter/mapper-cases.json', import.meta.url),
    'utf8',
  ),
) as Case[];

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return assert.fail('expected an error');
}

/** statsd_exporter's types as the StatsD type codes sluice's aggregator passes. */
const CODE: Record<string, string> = { counter: 'c', gauge: 'g', observer: 'ms', timer: 'ms', '': 'c' };

describe("statsd_exporter's mapper test cases", () => {
  for (const c of cases.filter((x) => x.kind !== 'escape')) {
    it(c.test, () => {
      if (c.configBad) {
        assert.throws(() => parseExporterMapping(c.config, 'mapping.yaml'), MappingFileError);
        return;
      }
      const file = parseExporterMapping(c.config, 'mapping.yaml');
      if (c.kind === 'action') {
        assert.equal(file.rules[0]?.action, c.expectedAction);
        return;
      }
      const mapper = new ExporterMapper(file);
      for (const m of c.mappings) {
        const type = CODE[m.statsdType ?? 'counter'] as string;
        const what = `${m.statsdMetric} (${m.statsdType ?? 'counter'})`;
        const result = mapper.map(m.statsdMetric, type);
        if (m.notPresent === true) {
          // No rule: at most the escaping and defaults statsd_exporter gives every unmapped name.
          assert.ok(
            result === undefined || (result !== 'drop' && result.rule === undefined),
            `${what} must not match`,
          );
          continue;
        }
        // The Go harness checks the name only on a match, and the labels always.
        if (result === undefined || result === 'drop' || result.rule === undefined) {
          assert.deepEqual(m.labels ?? {}, {}, `${what} did not match, but labels were expected`);
          continue;
        }
        if (m.name !== undefined) assert.equal(result.name, m.name, what);
        if (m.labels !== undefined) assert.deepEqual(Object.fromEntries(result.tags), m.labels, what);
        const rule = result.rule as ExporterRule;
        if (m.ttl !== undefined) assert.equal(rule.ttlMs, goDuration(m.ttl), `${what} ttl`);
        if (m.quantiles !== undefined)
          assert.deepEqual(rule.observer.quantiles, m.quantiles, `${what} quantiles`);
        if (m.buckets !== undefined) assert.deepEqual(rule.observer.buckets, m.buckets, `${what} buckets`);
        if (m.maxAge !== undefined)
          assert.equal(rule.observer.maxAgeMs, goDuration(m.maxAge), `${what} max_age`);
        if (m.ageBuckets !== undefined)
          assert.equal(rule.observer.ageBuckets, m.ageBuckets, `${what} age_buckets`);
        if (m.bufCap !== undefined) assert.equal(rule.observer.bufCap, m.bufCap, `${what} buf_cap`);
        if (m.matchMetricType !== undefined) assert.equal(rule.matchMetricType, m.matchMetricType, what);
      }
    });
  }
});

describe("statsd_exporter's escape test cases: names no rule maps", () => {
  for (const c of cases.filter((x) => x.kind === 'escape')) {
    it(c.test, () => {
      assert.equal(escapeMetricName(c.input as string), c.expected);
      // And through a mapper with no rule for it.
      const mapper = new ExporterMapper(parseExporterMapping('', 'mapping.yml'));
      const mapped = mapper.map(c.input as string, 'c');
      assert.equal(mapped === undefined ? c.input : mapped === 'drop' ? 'drop' : mapped.name, c.expected);
    });
  }
});

describe('statsd_exporter mapping files: errors name the file, line and key', () => {
  it('reports an unknown key with its line and column, and every other problem with it', () => {
    const text = `defaults:
  observer_type: histogram
mappings:
- match: test.*.*
  name: foo
  lables:
    a: b
- match: other.*
  name: "0bad"
  match_metric_type: sometimes
`;
    const error = thrown(() => parseExporterMapping(text, '/etc/statsd/mapping.yml'));
    assert.ok(error instanceof MappingFileError);
    assert.deepEqual(error.message.split('\n'), [
      '/etc/statsd/mapping.yml:6:3: mappings[0].lables: unknown or unsupported key in a mapping; known keys: match, help, match_type, match_metric_type, name, labels, action, honor_labels, observer_type, timer_type, buckets, quantiles, histogram_options, summary_options, ttl',
      '/etc/statsd/mapping.yml:9:9: mappings[1].name: "0bad" is not a metric name: letters, digits and _ (not first a digit), with $n or ${n} captures',
      '/etc/statsd/mapping.yml:10:22: mappings[1].match_metric_type: expected counter, gauge or observer (timer), got "sometimes"',
    ]);
  });

  it('reads the native-histogram options, and reports a bad one with its place', () => {
    const file = parseExporterMapping(
      `defaults:
  observer_type: histogram
  histogram_options:
    native_histogram_bucket_factor: 1.1
mappings:
- match: a.*
  name: a
  histogram_options:
    buckets: [1, 2]
    native_histogram_bucket_factor: 1.01
    native_histogram_max_buckets: 100
- match: b.*
  name: b
  histogram_options:
    native_histogram_bucket_factor: 1
`,
      'm.yml',
    );
    const mapper = new ExporterMapper(file);
    const spec = (name: string) => {
      const m = mapper.map(name, 'ms');
      return m === undefined || m === 'drop' ? undefined : m.observer;
    };
    assert.deepEqual(spec('a.x')?.native, { schema: 7, maxBuckets: 100 });
    assert.deepEqual(spec('a.x')?.histogram, [1, 2]);
    // A factor of 1 or less turns native histograms off, as in client_golang.
    assert.equal(spec('b.x')?.native, undefined);
    // Unmapped names take the defaults: 1.1 is schema 3.
    assert.deepEqual(spec('other')?.native, { schema: 3, maxBuckets: 0 });
    const error = thrown(() =>
      parseExporterMapping(
        'mappings:\n- match: a.*\n  name: a\n  histogram_options:\n    native_histogram_bucket_factor: lots\n    native_histogram_max_buckets: -1\n',
        'm.yml',
      ),
    );
    assert.deepEqual((error as Error).message.split('\n'), [
      'm.yml:5:37: mappings[0].histogram_options.native_histogram_bucket_factor: expected a number, got "lots"',
      'm.yml:6:35: mappings[0].histogram_options.native_histogram_max_buckets: expected a whole number >= 0, got -1',
    ]);
  });

  it('reports YAML syntax errors with their place', () => {
    const error = thrown(() => parseExporterMapping('mappings:\n- match: "a.b\n', 'm.yml'));
    assert.match(String((error as Error).message), /^m\.yml:\d+:\d+: YAML syntax error/);
  });
});

describe('Go template expansion (regexp.Expand), as statsd_exporter applies it to globs and regexes', () => {
  it('expands captures, named groups and $$, and leaves what names nothing empty', () => {
    const caps = ['whole', 'one', 'two'];
    assert.equal(goExpand('${1}_foo', caps, undefined), 'one_foo');
    assert.equal(goExpand('$1_foo', caps, undefined), '', '$1_foo names a group "1_foo"');
    assert.equal(goExpand('$2', caps, undefined), 'two');
    assert.equal(goExpand('$3', caps, undefined), '', 'a capture the rule lacks');
    assert.equal(goExpand('a$$b', caps, undefined), 'a$b');
    assert.equal(goExpand('$0', caps, undefined), 'whole');
    assert.equal(goExpand('${host}.x', caps, { host: 'web1' }), 'web1.x');
    assert.equal(goExpand('cost $ 5', caps, undefined), 'cost $ 5', 'a $ that starts no name stays');
    assert.equal(goExpand('${}', caps, undefined), '${}');
  });
});
