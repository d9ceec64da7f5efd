import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatPath, type Issue } from '../config/schema.js';
import {
  DEFAULT_HISTOGRAM_BINS,
  HistogramAccumulator,
  HistogramSelector,
  checkBins,
  histogramBinsSchema,
} from './histogram.js';
import { makeTags } from '../core/tags.js';

describe('HistogramAccumulator', () => {
  it('puts a value equal to a bound in that bound’s bin (le is inclusive)', () => {
    const cases: [number, number][] = [
      [-100, 0],
      [0, 0],
      [1, 0],
      [1.0000001, 1],
      [2.5, 1],
      [3, 2],
      [10, 2],
      [10.5, 3],
      [1e300, 3],
    ];
    for (const [value, bin] of cases) {
      const h = new HistogramAccumulator([1, 2.5, 10]);
      assert.equal(h.binIndex(value), bin, `${value}`);
      h.add(value);
      const snap = h.snapshot();
      assert.deepEqual(
        snap.bins.map((b) => b.count),
        [0, 1, 2, 3].map((i) => (i === bin ? 1 : 0)),
        `${value}`,
      );
    }
  });

  it('keeps per-bin count, weighted sum, min and max, and totals', () => {
    const h = new HistogramAccumulator([10, 100]);
    h.add(5);
    h.add(7, 2);
    h.add(50, 10);
    h.add(500);
    const snap = h.snapshot();
    assert.deepEqual(
      snap.bins.map((b) => ({ ...b })),
      [
        { le: 10, count: 3, sum: 19, min: 5, max: 7 },
        { le: 100, count: 10, sum: 500, min: 50, max: 50 },
        { le: Infinity, count: 1, sum: 500, min: 500, max: 500 },
      ],
    );
    assert.equal(snap.count, 14);
    assert.equal(snap.sum, 1019);
    assert.equal(snap.min, 5);
    assert.equal(snap.max, 500);
  });

  it('shows empty bins (sum 0, min and max NaN) so a series keeps its layout', () => {
    const h = new HistogramAccumulator([1, 2]);
    h.add(1.5);
    const [first, , last] = h.snapshot().bins;
    assert.equal(first?.count, 0);
    assert.equal(first?.sum, 0);
    assert.ok(Number.isNaN(first?.min) && Number.isNaN(first?.max));
    assert.equal(last?.le, Infinity);
    const empty = new HistogramAccumulator([1]).snapshot();
    assert.equal(empty.count, 0);
    assert.ok(Number.isNaN(empty.min) && Number.isNaN(empty.max));
  });

  it('ignores NaN, infinities and bad weights', () => {
    const h = new HistogramAccumulator([1]);
    for (const [v, w] of [
      [NaN, 1],
      [Infinity, 1],
      [-Infinity, 1],
      [1, 0],
      [1, -2],
      [1, Infinity],
      [1, NaN],
    ] as const)
      assert.equal(h.add(v, w), false);
    assert.equal(h.count, 0);
  });

  it('snapshots are frozen and do not change after clear()', () => {
    const h = new HistogramAccumulator([1]);
    h.add(0.5);
    const snap = h.snapshot();
    h.clear();
    h.add(5);
    assert.equal(snap.count, 1);
    assert.equal(snap.bins[0]?.count, 1);
    assert.ok(Object.isFrozen(snap) && Object.isFrozen(snap.bins) && Object.isFrozen(snap.bins[0]));
    const after = h.snapshot();
    assert.deepEqual(
      after.bins.map((b) => b.count),
      [0, 1],
    );
    assert.equal(after.min, 5);
  });

  it('rejects bounds that are empty, not finite or not strictly increasing', () => {
    for (const bad of [[], [1, 1], [2, 1], [1, Infinity], [NaN], [1, 2, 2.5, 2.4]])
      assert.throws(() => new HistogramAccumulator(bad), RangeError, JSON.stringify(bad));
    assert.equal(checkBins([-5, 0, 0.5]), undefined);
    assert.match(checkBins([1, 3, 2]) ?? '', /2 follows 3/);
  });

  it('conserves counts and puts each value in exactly the bin its bounds say (property)', () => {
    const boundsArb = fc
      .uniqueArray(fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }), {
        minLength: 1,
        maxLength: 30,
        comparator: (a, b) => a === b || (a === 0 && b === 0),
      })
      .map((b) => b.sort((x, y) => x - y));
    fc.assert(
      fc.property(
        boundsArb,
        fc.array(
          fc.tuple(fc.double({ min: -2e6, max: 2e6, noNaN: true }), fc.integer({ min: 1, max: 100 })),
          { maxLength: 200 },
        ),
        (bounds, values) => {
          const h = new HistogramAccumulator(bounds);
          let total = 0;
          for (const [v, w] of values) {
            h.add(v, w);
            total += w;
            const i = h.binIndex(v);
            // Exactly one bin: above the previous bound, at or below its own.
            if (i > 0) assert.ok(v > (bounds[i - 1] as number));
            if (i < bounds.length) assert.ok(v <= (bounds[i] as number));
          }
          const snap = h.snapshot();
          assert.equal(snap.bins.length, bounds.length + 1);
          assert.equal(
            snap.bins.reduce((a, b) => a + b.count, 0),
            total,
          );
          assert.equal(snap.count, total);
          for (let i = 0; i < snap.bins.length; i++) {
            const bin = snap.bins[i]!;
            const expected = values.filter(([v]) => h.binIndex(v) === i).reduce((a, [, w]) => a + w, 0);
            assert.equal(bin.count, expected);
            if (bin.count > 0) assert.ok(bin.min <= bin.max && bin.max <= bin.le);
          }
        },
      ),
    );
  });
});

describe('HistogramSelector', () => {
  const selector = new HistogramSelector({
    default: [1, 10],
    rules: [
      { name: 'api.*.latency', bins: [5, 50] },
      { tags: { service: '/^web-/' }, bins: [100, 200] },
      { name: '/^db\\./', tags: { env: 'prod' }, bins: [0.5] },
    ],
  });

  const cases: [string, Record<string, string>, readonly number[]][] = [
    ['api.users.latency', {}, [5, 50]],
    ['api.users.latency', { service: 'web-1' }, [5, 50]], // first match wins
    ['other', { service: 'web-1' }, [100, 200]],
    ['other', { service: 'xweb-1' }, [1, 10]],
    ['db.query', { env: 'prod' }, [0.5]],
    ['db.query', { env: 'dev' }, [1, 10]],
    ['db.query', {}, [1, 10]], // a missing tag does not match
    ['api.latency', {}, [1, 10]],
  ];
  for (const [name, tags, bins] of cases) {
    it(`picks ${JSON.stringify(bins)} for ${name} ${JSON.stringify(tags)}`, () => {
      assert.deepEqual(selector.select(name, makeTags(tags)), bins);
    });
  }

  it('hands out one frozen array per rule', () => {
    const a = selector.select('api.a.latency', []);
    assert.equal(a, selector.select('api.b.latency', []));
    assert.ok(Object.isFrozen(a));
    assert.equal(new HistogramSelector().select('x', []), DEFAULT_HISTOGRAM_BINS);
  });

  it('rejects bad rules', () => {
    assert.throws(() => new HistogramSelector({ rules: [{ bins: [1] }] }), /needs `name` or `tags`/);
    assert.throws(() => new HistogramSelector({ rules: [{ name: 'x', bins: [2, 1] }] }), RangeError);
    assert.throws(() => new HistogramSelector({ default: [] }), RangeError);
    assert.throws(() => new HistogramSelector({ rules: [{ name: '/(/', bins: [1] }] }), SyntaxError);
  });
});

describe('histogramBinsSchema', () => {
  function parse(value: unknown): [unknown, string[]] {
    const issues: Issue[] = [];
    const r = histogramBinsSchema.parse(value, ['histogram_bins'], issues);
    return [r, issues.map((i) => `${formatPath(i.path)}: ${i.message}`)];
  }

  it('defaults to the millisecond bins and no rules', () => {
    assert.deepEqual(parse(undefined), [{ default: [...DEFAULT_HISTOGRAM_BINS], rules: [] }, []]);
  });

  it('parses rules that a HistogramSelector accepts', () => {
    const [config, issues] = parse({
      default: [1, 2],
      rules: [{ name: 'a.*', tags: { env: '/^p/' }, bins: [3, 4] }],
    });
    assert.deepEqual(issues, []);
    assert.deepEqual(config, {
      default: [1, 2],
      rules: [{ name: 'a.*', tags: { env: '/^p/' }, bins: [3, 4] }],
    });
    assert.deepEqual(new HistogramSelector(config as never).select('a.b', makeTags({ env: 'prod' })), [3, 4]);
  });

  const bad: [string, unknown, string][] = [
    [
      'not increasing',
      { default: [1, 5, 5] },
      'histogram_bins.default[2]: bins must be strictly increasing, but 5 follows 5',
    ],
    ['empty', { default: [] }, 'histogram_bins.default: expected at least 1 item(s), got 0'],
    ['not a number', { default: [1, 'x'] }, 'histogram_bins.default[1]: expected a number, got "x"'],
    [
      'no matcher',
      { rules: [{ bins: [1] }] },
      'histogram_bins.rules[0]: a rule needs `name` or `tags` to match (`default` covers the rest)',
    ],
    [
      'bad regex',
      { rules: [{ name: '/(/', bins: [1] }] },
      'histogram_bins.rules[0].name: invalid regular expression "/(/": Invalid regular expression: /(/: Unterminated group',
    ],
    [
      'bad tag regex',
      { rules: [{ tags: { a: '/[/' }, bins: [1] }] },
      'histogram_bins.rules[0].tags.a: invalid regular expression',
    ],
    [
      'rule bins',
      { rules: [{ name: 'x', bins: [3, 2] }] },
      'histogram_bins.rules[0].bins[1]: bins must be strictly increasing',
    ],
    ['missing bins', { rules: [{ name: 'x' }] }, 'histogram_bins.rules[0].bins: is required'],
    ['unknown key', { rules: [{ name: 'x', bins: [1], le: [] }] }, 'histogram_bins.rules[0].le: unknown key'],
  ];
  for (const [what, value, message] of bad) {
    it(`reports ${what}`, () => {
      const [r, issues] = parse(value);
      assert.equal(typeof r, 'symbol');
      assert.ok(
        issues.some((i) => i.startsWith(message)),
        issues.join('\n'),
      );
    });
  }

  it('documents every field', () => {
    assert.ok(histogramBinsSchema.doc);
    for (const field of Object.values(histogramBinsSchema.fields)) assert.ok(field.doc);
  });
});
