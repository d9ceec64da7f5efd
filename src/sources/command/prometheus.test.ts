import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Metric } from '../../core/metric.js';
import { makeTags } from '../../core/tags.js';
import { renderFamily, renderLabelPairs, type Family } from '../../protocols/prometheus/text.js';
import { bytesOrTokens, parseLines, type Parsed } from '../../testing/line-parser.js';
import { parsePrometheusText, type PrometheusRejectReason } from './prometheus.js';

const NOW = 1_700_000_000_000;

const parse = (text: string | Buffer): Parsed<PrometheusRejectReason> =>
  parseLines(parsePrometheusText, text, NOW);

describe('Prometheus text parser', () => {
  it('reads the format documentation’s example', () => {
    const { metrics, rejected } = parse(`# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320
`);
    assert.deepEqual(rejected, []);
    const help = 'The total number of HTTP requests.';
    const counter = (name: string, tags: Record<string, string>, value: number, timestamp = NOW): Metric => ({
      kind: 'counter',
      temporality: 'cumulative',
      name,
      tags: makeTags(tags),
      value,
      intervalMs: 0,
      timestamp,
    });
    const gauge = (name: string, tags: Record<string, string>, value: number, timestamp = NOW): Metric => ({
      kind: 'gauge',
      name,
      tags: makeTags(tags),
      value,
      timestamp,
    });
    assert.deepEqual(metrics, [
      { ...counter('http_requests_total', { method: 'post', code: '200' }, 1027, 1395066363000), help },
      { ...counter('http_requests_total', { method: 'post', code: '400' }, 3, 1395066363000), help },
      gauge(
        'msdos_file_access_time_seconds',
        { path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' },
        1.458255915e9,
      ),
      gauge('metric_without_timestamp_and_labels', {}, 12.47),
      gauge('something_weird', { problem: 'division by zero' }, Infinity, -3982045),
      gauge('rpc_duration_seconds', { quantile: '0.5' }, 4773),
      counter('rpc_duration_seconds_sum', {}, 1.7560473e7),
      counter('rpc_duration_seconds_count', {}, 2693),
      counter('http_request_duration_seconds_bucket', { le: '0.05' }, 24054),
      counter('http_request_duration_seconds_bucket', { le: '+Inf' }, 144320),
      counter('http_request_duration_seconds_sum', {}, 53423),
      counter('http_request_duration_seconds_count', {}, 144320),
    ]);
  });

  it('takes NaN and the infinities, and a trailing comma in the labels', () => {
    const { metrics } = parse('a{x="1",} NaN\nb -Inf\nc Inf\n');
    assert.deepEqual(
      metrics.map((m) => [m.name, m.tags, (m as { value: number }).value]),
      [
        ['a', [['x', '1']], NaN],
        ['b', [], -Infinity],
        ['c', [], Infinity],
      ],
    );
  });

  const bad: [string, PrometheusRejectReason][] = [
    ['# TYPE x histogramm', 'bad_metadata'],
    ['# TYPE 1x counter', 'bad_metadata'],
    ['1abc 1', 'bad_name'],
    ['a-b 1', 'bad_name'],
    ['a{x="1" 1', 'bad_labels'],
    ['a{x=1} 1', 'bad_labels'],
    ['a{1x="1"} 1', 'bad_labels'],
    ['a{x="1",x="2"} 1', 'bad_labels'],
    ['a{x="1"y="2"} 1', 'bad_labels'],
    ['a{x="open} 1', 'bad_labels'],
    ['a', 'bad_value'],
    ['a one', 'bad_value'],
    ['a 0x1', 'bad_value'],
    ['a 1 1.5', 'bad_timestamp'],
    ['a 1 2 3', 'bad_value'],
  ];
  for (const [line, reason] of bad) {
    it(`rejects ${JSON.stringify(line)} as ${reason}`, () => {
      const r = parse(line + '\n');
      assert.deepEqual(r.rejected, [[reason, line]]);
      assert.deepEqual(r.metrics, []);
    });
  }

  it('property: any bytes give metrics or one rejection per line, and never throw', () => {
    const input = bytesOrTokens([...'a_{}=",# \n1.eTYPEHL\\'.split(''), 'counter', 'NaN']);
    fc.assert(
      fc.property(input, (buf) => {
        const r = parse(buf);
        assert.ok(r.metrics.length + r.rejected.length <= r.lines);
      }),
      { numRuns: 2000 },
    );
  });

  it('round trip: counter and gauge families rendered by text.ts parse back to their series', () => {
    const labelName = fc.stringMatching(/^[a-z_][a-z0-9_]{0,5}$/).filter((n) => !n.startsWith('__'));
    const series = fc.record({
      labels: fc.dictionary(labelName, fc.string({ minLength: 1, maxLength: 8, unit: 'grapheme' }), {
        maxKeys: 3,
      }),
      value: fc.oneof(fc.double(), fc.integer()),
    });
    const family = fc.record({
      name: fc.stringMatching(/^[a-z_:][a-z0-9_:]{0,10}$/),
      // Blanks after the name separate it from the text, as Prometheus reads it.
      help: fc
        .string({ maxLength: 20, unit: 'grapheme' })
        .filter((h) => !/^[ \t]/.test(h) && !h.endsWith('\r')),
      type: fc.constantFrom('counter' as const, 'gauge' as const),
      series: fc.array(series, { minLength: 1, maxLength: 3 }),
    });
    fc.assert(
      fc.property(family, (f) => {
        const pairs = f.series.map((s) => makeTags(s.labels));
        const rendered: Family = {
          name: f.name,
          help: f.help,
          type: f.type,
          series: f.series.map((s, i) => ({ labels: renderLabelPairs(pairs[i] ?? []), value: s.value })),
        };
        const r = parse(renderFamily(rendered));
        assert.deepEqual(r.rejected, []);
        const exposed = f.type === 'counter' && !f.name.endsWith('_total') ? `${f.name}_total` : f.name;
        assert.deepEqual(
          r.metrics.map((m) => [m.kind, m.name, m.tags, (m as { value: number }).value, m.help]),
          f.series.map((s, i) => [f.type, exposed, pairs[i], s.value === 0 ? 0 : s.value, f.help]),
        );
      }),
      { numRuns: 1000 },
    );
  });
});
