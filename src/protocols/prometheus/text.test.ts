import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  counterName,
  escapeHelp,
  escapeLabelValue,
  formatGoFloat,
  formatValue,
  renderFamily,
  renderLabelPairs,
  sampleNames,
  sanitizeLabelName,
  sanitizeMetricName,
  type Family,
} from './text.js';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The reverse of escapeLabelValue, as the Go expfmt parser reads a quoted label value. */
function unescapeLabelValue(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"') throw new Error(`unescaped quote at ${i} in ${JSON.stringify(s)}`);
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = s[++i];
    if (next === '\\') out += '\\';
    else if (next === '"') out += '"';
    else if (next === 'n') out += '\n';
    else throw new Error(`bad escape \\${next} in ${JSON.stringify(s)}`);
  }
  return out;
}

describe('sanitizeMetricName', () => {
  const cases: [string, string][] = [
    ['foo', 'foo'],
    ['foo_bar:baz', 'foo_bar:baz'],
    ['api.request-count', 'api_request_count'],
    ['a b/c', 'a_b_c'],
    ['9lives', '_9lives'],
    ['', '_'],
    ['héllo', 'h_llo'],
    ['cpu😀', 'cpu_'],
    ['Foo.Bar', 'Foo_Bar'],
    ['_x', '_x'],
  ];
  for (const [input, want] of cases) {
    it(`${JSON.stringify(input)} → ${want}`, () => assert.equal(sanitizeMetricName(input), want));
  }
  it('replaces colons too when asked (exporters)', () => {
    assert.equal(sanitizeMetricName('a:b.c', false), 'a_b_c');
  });
  it('always produces a valid name, and leaves valid names alone', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const out = sanitizeMetricName(s);
        assert.match(out, METRIC_NAME);
        if (METRIC_NAME.test(s)) assert.equal(out, s);
      }),
    );
  });
});

describe('sanitizeLabelName', () => {
  const cases: [string, string][] = [
    ['host', 'host'],
    ['http.method', 'http_method'],
    ['a:b', 'a_b'],
    ['__name__', '_name__'],
    ['___x', '_x'],
    ['__', '_'],
    ['..x', '_x'],
    ['1a', '_1a'],
    ['', '_'],
    ['_', '_'],
  ];
  for (const [input, want] of cases) {
    it(`${JSON.stringify(input)} → ${want}`, () => assert.equal(sanitizeLabelName(input), want));
  }
  it('always produces a valid, unreserved label name', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const out = sanitizeLabelName(s);
        assert.match(out, LABEL_NAME);
        assert.ok(!out.startsWith('__'), out);
      }),
    );
  });
});

describe('escaping', () => {
  const labelCases: [string, string][] = [
    ['plain', 'plain'],
    ['a"b', 'a\\"b'],
    ['a\\b', 'a\\\\b'],
    ['line1\nline2', 'line1\\nline2'],
    ['\\"\n', '\\\\\\"\\n'],
    ['tab\tstays', 'tab\tstays'],
  ];
  for (const [input, want] of labelCases) {
    it(`label value ${JSON.stringify(input)}`, () => assert.equal(escapeLabelValue(input), want));
  }
  it('help text escapes backslash and newline, not quotes', () => {
    assert.equal(escapeHelp('say "hi"\\now\n'), 'say "hi"\\\\now\\n');
  });
  it('label values round-trip through the parser rules', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        assert.equal(unescapeLabelValue(escapeLabelValue(s)), s);
      }),
    );
  });
});

describe('formatValue', () => {
  const cases: [number, string][] = [
    [0, '0'],
    [-0, '0'],
    [3, '3'],
    [-42, '-42'],
    [0.3, '0.3'],
    [1e-7, '1e-7'],
    [100000, '100000'],
    [2 ** 53, '9007199254740992'],
    [1e20, '100000000000000000000'],
    [1e21, '1e+21'],
    [1.5e300, '1.5e+300'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
    [NaN, 'NaN'],
  ];
  for (const [input, want] of cases) {
    it(`${input} → ${want}`, () => assert.equal(formatValue(input), want));
  }
  it('reads back as the same double', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (v) => {
        assert.equal(Number(formatValue(v)), v === 0 ? 0 : v);
      }),
    );
  });
});

describe('formatGoFloat', () => {
  // Expected strings printed by Go 1.x: strconv.FormatFloat(v, 'g', -1, 64).
  const cases: [number, string][] = [
    [0.005, '0.005'],
    [0.01, '0.01'],
    [0.025, '0.025'],
    [0.1, '0.1'],
    [0.5, '0.5'],
    [1, '1'],
    [2.5, '2.5'],
    [10, '10'],
    [100000, '100000'],
    [1e6, '1e+06'],
    [1234567, '1.234567e+06'],
    [1.5e6, '1.5e+06'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [1.5e-5, '1.5e-05'],
    [123456789, '1.23456789e+08'],
    [1e21, '1e+21'],
    [1e-7, '1e-07'],
    [-1, '-1'],
    [-0.5, '-0.5'],
    [-1e6, '-1e+06'],
    [0.1 + 0.2, '0.30000000000000004'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [5e-324, '5e-324'],
    [999999, '999999'],
    [0.999, '0.999'],
    [100000.5, '100000.5'],
    [Math.PI, '3.141592653589793'],
    [12345.678, '12345.678'],
    [0, '0'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
    [NaN, 'NaN'],
  ];
  for (const [input, want] of cases) {
    it(`${input} → ${want}`, () => assert.equal(formatGoFloat(input), want));
  }
  it('reads back as the same double', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (v) => {
        assert.ok(Object.is(Number(formatGoFloat(v)), v));
      }),
    );
  });
});

describe('names', () => {
  it('counters get _total once', () => {
    assert.equal(counterName('requests'), 'requests_total');
    assert.equal(counterName('requests_total'), 'requests_total');
  });
  it('summaries own their _sum and _count samples', () => {
    assert.deepEqual(sampleNames('lat', 'summary'), ['lat', 'lat_sum', 'lat_count']);
    assert.deepEqual(sampleNames('x_total', 'counter'), ['x_total']);
  });
  it('histograms own their _bucket, _sum and _count samples', () => {
    assert.deepEqual(sampleNames('lat', 'histogram'), ['lat_bucket', 'lat_sum', 'lat_count']);
  });
});

describe('renderLabelPairs', () => {
  it('renders pairs in order and skips empty values', () => {
    assert.equal(
      renderLabelPairs([
        ['a', 'x'],
        ['b', ''],
        ['c', 'say "hi"'],
      ]),
      'a="x",c="say \\"hi\\""',
    );
    assert.equal(renderLabelPairs([]), '');
    assert.equal(renderLabelPairs([['a', '']]), '');
  });
});

describe('renderFamily', () => {
  const cases: { name: string; family: Family; want: string }[] = [
    {
      name: 'counter gets _total, no timestamps',
      family: {
        name: 'requests',
        help: 'Requests served.',
        type: 'counter',
        series: [
          { labels: '', value: 7 },
          { labels: 'code="200"', value: 100000 },
        ],
      },
      want:
        '# HELP requests_total Requests served.\n' +
        '# TYPE requests_total counter\n' +
        'requests_total 7\n' +
        'requests_total{code="200"} 100000\n',
    },
    {
      name: 'counter already ending in _total',
      family: { name: 'bytes_total', help: 'h', type: 'counter', series: [{ labels: '', value: 1 }] },
      want: '# HELP bytes_total h\n# TYPE bytes_total counter\nbytes_total 1\n',
    },
    {
      name: 'gauge with special values and escaped help',
      family: {
        name: 'temp',
        help: 'back\\slash\nnewline',
        type: 'gauge',
        series: [
          { labels: 'a="1"', value: NaN },
          { labels: 'a="2"', value: -Infinity },
        ],
      },
      want: '# HELP temp back\\\\slash\\nnewline\n# TYPE temp gauge\ntemp{a="1"} NaN\ntemp{a="2"} -Inf\n',
    },
    {
      name: 'summary with and without labels',
      family: {
        name: 'latency',
        help: 'Latency.',
        type: 'summary',
        series: [
          {
            labels: '',
            quantiles: [
              { quantile: 0.5, value: 12 },
              { quantile: 0.99, value: 40.5 },
            ],
            sum: 300,
            count: 20,
          },
          { labels: 'route="/a"', quantiles: [{ quantile: 0.9, value: 3 }], sum: 6, count: 2 },
        ],
      },
      want:
        '# HELP latency Latency.\n' +
        '# TYPE latency summary\n' +
        'latency{quantile="0.5"} 12\n' +
        'latency{quantile="0.99"} 40.5\n' +
        'latency_sum 300\n' +
        'latency_count 20\n' +
        'latency{route="/a",quantile="0.9"} 3\n' +
        'latency_sum{route="/a"} 6\n' +
        'latency_count{route="/a"} 2\n',
    },
    {
      name: 'summary quantile labels as Go writes them',
      family: {
        name: 'q',
        help: 'h',
        type: 'summary',
        series: [{ labels: '', quantiles: [{ quantile: 0.00001, value: 1 }], sum: 1, count: 1 }],
      },
      want: '# HELP q h\n# TYPE q summary\nq{quantile="1e-05"} 1\nq_sum 1\nq_count 1\n',
    },
    {
      name: 'histogram: cumulative buckets, le last, _count from +Inf',
      family: {
        name: 'size',
        help: 'Sizes.',
        type: 'histogram',
        series: [
          { labels: '', les: ['0.5', '1', '1e+06', '+Inf'], buckets: [1, 0, 2.5, 3], sum: 1234.5 },
          { labels: 'a="x"', les: ['+Inf'], buckets: new Float64Array([4]), sum: -2 },
        ],
      },
      want:
        '# HELP size Sizes.\n' +
        '# TYPE size histogram\n' +
        'size_bucket{le="0.5"} 1\n' +
        'size_bucket{le="1"} 1\n' +
        'size_bucket{le="1e+06"} 3.5\n' +
        'size_bucket{le="+Inf"} 6.5\n' +
        'size_sum 1234.5\n' +
        'size_count 6.5\n' +
        'size_bucket{a="x",le="+Inf"} 4\n' +
        'size_sum{a="x"} -2\n' +
        'size_count{a="x"} 4\n',
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(renderFamily(c.family), c.want));
  }
});
