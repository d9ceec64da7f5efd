import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Metric } from '../../core/metric.js';
import { makeTags, type Tags } from '../../core/tags.js';
import {
  STATSD_TYPE_CODES,
  StatsdParser,
  type RejectReason,
  type StatsdDialect,
  type StatsdLine,
} from '../../protocols/statsd/parser.js';
import { StatsdLineEncoder } from './encoder.js';
import { oneToTenSummary } from '../../testing/metrics.js';

interface Parsed {
  name: string;
  type: string;
  value: number;
  delta: boolean;
  tags: Tags;
}

/** Parses `text` as a datagram in `dialect`, collecting points and rejections. */
function parse(text: string, dialect: StatsdDialect): { points: Parsed[]; rejected: RejectReason[] } {
  const points: Parsed[] = [];
  const rejected: RejectReason[] = [];
  new StatsdParser({ dialect, mode: 'strict' }).parse(Buffer.from(text, 'utf8'), {
    point: (l: StatsdLine) =>
      points.push({
        name: l.name(),
        type: STATSD_TYPE_CODES[l.type],
        value: l.value,
        delta: l.gaugeDelta,
        tags: l.tags(),
      }),
    reject: (reason) => rejected.push(reason),
  });
  return { points, rejected };
}

const T = 1_700_000_000_000;

// Names and tags that the wire can carry unchanged: no ':', '|', line breaks (which the encoder
// would replace) and no leading "_e{" (which would read as an event).
const nameArb = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
  .filter((s) => !/[:|\n\r]/.test(s) && !s.startsWith('_e{') && !s.startsWith('_sc'));
const keyArb = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 8 })
  .filter((s) => !/[:=,|\n\r\\#]/.test(s));
const valueArb = fc.string({ unit: 'grapheme', maxLength: 8 }).filter((s) => !/[,|\n\r]/.test(s));
const tagsArb = fc.array(fc.tuple(keyArb, valueArb), { maxLength: 4 }).map((pairs) => makeTags(pairs));
const numberArb = fc.double({ noNaN: true, noDefaultInfinity: true });

describe('StatsdLineEncoder: round trip through the parser', () => {
  for (const dialect of ['dogstatsd', 'etsy'] as const) {
    it(`${dialect}: counters and gauges read back as sent, tags and all`, () => {
      const encoder = new StatsdLineEncoder(dialect, Infinity);
      fc.assert(
        fc.property(nameArb, tagsArb, numberArb, fc.boolean(), (name, tags, value, isCounter) => {
          const metric: Metric = isCounter
            ? { kind: 'counter', temporality: 'delta', name, tags, value, intervalMs: 1000, timestamp: T }
            : { kind: 'gauge', name, tags, value, timestamp: T };
          const text = encoder.encode(metric) ?? assert.fail('no line');
          assert.ok(text.endsWith('\n'));
          const { points, rejected } = parse(text, dialect);
          assert.deepEqual(rejected, []);
          // What the upstream ends up with: Etsy applies a signed gauge as a change.
          let got = 0;
          for (const p of points) {
            assert.equal(p.name, name);
            assert.deepEqual(p.tags, tags);
            assert.equal(p.type, isCounter ? 'c' : 'g');
            got = p.delta ? got + p.value : p.value;
          }
          assert.equal(got, value === 0 ? 0 : value);
          const twoLines = !isCounter && dialect === 'etsy' && value < 0;
          assert.equal(points.length, twoLines ? 2 : 1);
        }),
        { numRuns: 500 },
      );
    });
  }

  it('any name, tags and value: every line parses, one point each, never rejected', () => {
    const encoder = new StatsdLineEncoder('dogstatsd', Infinity);
    const anyText = fc.string({ unit: 'grapheme', maxLength: 12 });
    fc.assert(
      fc.property(
        anyText,
        fc.array(
          fc.tuple(
            anyText.filter((k) => k !== ''),
            anyText,
          ),
          { maxLength: 3 },
        ),
        fc.double(),
        (name, pairs, value) => {
          const text = encoder.encode({ kind: 'gauge', name, tags: makeTags(pairs), value, timestamp: T });
          if (text === undefined) {
            assert.ok(name === '' || !Number.isFinite(value));
            return;
          }
          const { points, rejected } = parse(text, 'dogstatsd');
          assert.deepEqual(rejected, []);
          assert.equal(points.length, text.split('\n').length - 1);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('StatsdLineEncoder: each kind', () => {
  const tags = makeTags({ env: 'prod', route: '/a' });
  const enc = (m: Metric, dialect: 'dogstatsd' | 'etsy' = 'dogstatsd', max = Infinity) =>
    new StatsdLineEncoder(dialect, max).encode(m);

  it('counters: delta as |c, cumulative as a gauge', () => {
    assert.equal(
      enc({
        kind: 'counter',
        temporality: 'delta',
        name: 'hits',
        tags,
        value: 2.5,
        intervalMs: 1e4,
        timestamp: T,
      }),
      'hits:2.5|c|#env:prod,route:/a\n',
    );
    assert.equal(
      enc({
        kind: 'counter',
        temporality: 'cumulative',
        name: 'rx',
        tags: [],
        value: 9e15,
        intervalMs: 0,
        timestamp: T,
      }),
      'rx:9000000000000000|g\n',
    );
  });

  it('a negative gauge: as it is for DogStatsD, set to 0 then changed for Etsy', () => {
    const g: Metric = { kind: 'gauge', name: 'temp', tags: [], value: -3.5, timestamp: T };
    assert.equal(enc(g), 'temp:-3.5|g\n');
    assert.equal(enc(g, 'etsy'), 'temp:0|g\ntemp:-3.5|g\n');
  });

  it('a summary: additive statistics as counters, the others as gauges', () => {
    const text = enc({
      kind: 'summary',
      name: 'lat',
      tags: [['k', 'v']],
      intervalMs: 1e4,
      timestamp: T,
      summary: oneToTenSummary({ count: 20 }),
    });
    assert.equal(
      text,
      [
        'lat.count:20|c|#k:v',
        'lat.sum:55|c|#k:v',
        'lat.sum_squares:385|c|#k:v',
        'lat.mean:5.5|g|#k:v',
        'lat.lower:1|g|#k:v',
        'lat.upper:10|g|#k:v',
        'lat.std:2.8722813232690143|g|#k:v',
        'lat.median:5.5|g|#k:v',
        'lat.upper_90:9|g|#k:v',
        'lat.mean_90:5|g|#k:v',
        'lat.sum_90:45|g|#k:v',
        'lat.count_90:9|g|#k:v',
        '',
      ].join('\n'),
    );
  });

  it('a histogram: per-bin counts as counters; empty bins bounds (NaN) left out', () => {
    const text = enc({
      kind: 'histogram',
      name: 'size',
      tags: [],
      intervalMs: 1e4,
      timestamp: T,
      histogram: {
        count: 3,
        sum: 12.5,
        min: 1,
        max: 9,
        bins: [
          { le: 2.5, count: 1, sum: 1, min: 1, max: 1 },
          { le: 5, count: 0, sum: 0, min: NaN, max: NaN },
          { le: Infinity, count: 2, sum: 11.5, min: 2.5, max: 9 },
        ],
      },
    });
    assert.equal(
      text,
      'size.count:3|c\nsize.sum:12.5|c\nsize.lower:1|g\nsize.upper:9|g\nsize.bin_2_5:1|c\nsize.bin_5:0|c\nsize.bin_inf:2|c\n',
    );
  });

  it('a distribution: count, sum, mean, bounds and percentiles', () => {
    const text = enc({
      kind: 'distribution',
      name: 'd',
      tags: [],
      intervalMs: 1e4,
      timestamp: T,
      distribution: {
        count: 4,
        sum: 10,
        min: 1,
        max: 4,
        relativeAccuracy: 0.01,
        quantiles: [{ quantile: 0.5, value: 2 }],
        quantile: () => 0,
      },
    });
    assert.equal(text, 'd.count:4|c\nd.sum:10|c\nd.mean:2.5|g\nd.lower:1|g\nd.upper:4|g\nd.p50:2|g\n');
  });

  it('lines longer than a datagram are left out and counted; none left: undefined', () => {
    const encoder = new StatsdLineEncoder('dogstatsd', 20);
    const m = (name: string): Metric => ({ kind: 'gauge', name, tags: [], value: 1, timestamp: T });
    assert.equal(encoder.encode(m('a'.repeat(16))), 'aaaaaaaaaaaaaaaa:1|g\n'); // exactly 20 bytes
    assert.equal(encoder.encode(m('a'.repeat(17))), undefined);
    assert.equal(encoder.droppedLines, 1);
    assert.equal(encoder.encode(m('é'.repeat(8))), 'éééééééé:1|g\n'); // 16 bytes of name + 4
    assert.equal(encoder.encode(m('é'.repeat(9))), undefined);
    assert.equal(encoder.droppedLines, 2);
    // An Etsy pair is kept or dropped whole: here its first line fits, its second does not.
    const etsy = new StatsdLineEncoder('etsy', 20);
    assert.equal(
      etsy.encode({ kind: 'gauge', name: 'a'.repeat(16), tags: [], value: -1, timestamp: T }),
      undefined,
    );
    assert.equal(etsy.droppedLines, 1);
  });
});
