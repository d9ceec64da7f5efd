import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DDSketch, percentileToQuantile, type SketchJSON } from './sketch.js';

/** The value the sketch promises to approximate: rank ⌊q·(n−1)⌋ of the sorted stream. */
function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))] as number;
}

/** Relative error within α, plus float slack for values on a bin boundary. */
function assertWithin(actual: number, exact: number, alpha: number, what: string): void {
  const err = Math.abs(actual - exact);
  assert.ok(err <= alpha * Math.abs(exact) * (1 + 1e-9) + 1e-300, `${what}: ${actual} vs exact ${exact}`);
}

const QUANTILES = [0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.333, 0.5, 0.667, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

/**
 * Any double whose magnitude is in [1e-6, 1e9] (15 decades, within what the default 2048 bins
 * hold at α ≥ 1%, so nothing collapses), of either sign, or zero.
 */
const value = fc.oneof(
  fc.constant(0),
  fc.double({ min: 1e-6, max: 1e9, noNaN: true }),
  fc.double({ min: -1e9, max: -1e-6, noNaN: true }),
  fc.integer({ min: -1000, max: 1000 }),
);

function checkAll(sketch: DDSketch, values: readonly number[], what: string): void {
  const sorted = [...values].sort((a, b) => a - b);
  for (const q of QUANTILES)
    assertWithin(sketch.quantile(q), exactQuantile(sorted, q), sketch.relativeAccuracy, `${what} q=${q}`);
}

/** A seeded generator (mulberry32), so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

const DATASETS: Record<string, (r: () => number) => number> = {
  uniform: (r) => r() * 1000,
  exponential: (r) => -Math.log(1 - r()) * 50,
  lognormal: (r) => Math.exp(3 + 2 * gaussian(r)),
  negative: (r) => -Math.exp(2 * gaussian(r)),
  'mixed sign': (r) => (r() < 0.4 ? -1 : 1) * Math.exp(4 * gaussian(r)),
  'with zeros': (r) => (r() < 0.2 ? 0 : r() * 10 - 5),
  // 16 decades: within what 4096 bins hold at schema 6 (about 19), so nothing collapses.
  'huge range': (r) => Math.pow(10, r() * 16 - 8),
  'integers (ms)': (r) => Math.floor(r() * 2000),
};

describe('DDSketch', () => {
  for (const alpha of [0.01, 0.05]) {
    for (const [name, gen] of Object.entries(DATASETS)) {
      it(`keeps every quantile within α=${alpha} of exact: ${name}`, () => {
        const r = rng(42);
        const values: number[] = [];
        const sketch = new DDSketch({ relativeAccuracy: alpha });
        for (let i = 0; i < 5000; i++) {
          const v = gen(r);
          values.push(v);
          assert.equal(sketch.add(v), true);
        }
        checkAll(sketch, values, name);
        assert.equal(sketch.count, 5000);
        assert.equal(sketch.min, Math.min(...values));
        assert.equal(sketch.max, Math.max(...values));
        const sum = values.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sketch.sum - sum) <= 1e-9 * Math.max(1, Math.abs(sum)) * values.length);
      });
    }
  }

  it('holds the bound for any stream (property)', () => {
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 1, maxLength: 300 }),
        fc.constantFrom(0.01, 0.02, 0.1),
        (values, alpha) => {
          const sketch = new DDSketch({ relativeAccuracy: alpha });
          for (const v of values) sketch.add(v);
          checkAll(sketch, values, 'property');
        },
      ),
    );
  });

  it('returns the exact min and max for q=0 and q=1, NaN when empty', () => {
    const sketch = new DDSketch();
    assert.ok(Number.isNaN(sketch.quantile(0.5)));
    assert.ok(Number.isNaN(sketch.min) && Number.isNaN(sketch.max));
    for (const v of [3.14159, 2.71828, 1.41421]) sketch.add(v);
    assert.equal(sketch.quantile(0), 1.41421);
    assert.equal(sketch.quantile(1), 3.14159);
    assert.throws(() => sketch.quantile(1.5), RangeError);
    assert.throws(() => sketch.quantile(NaN), RangeError);
  });

  it('rejects values and weights it cannot count, changing nothing', () => {
    const sketch = new DDSketch();
    for (const [v, w] of [
      [NaN, 1],
      [Infinity, 1],
      [-Infinity, 1],
      [1, 0],
      [1, -1],
      [1, NaN],
      [1, Infinity],
    ] as const)
      assert.equal(sketch.add(v, w), false, `${v} @ ${w}`);
    assert.equal(sketch.count, 0);
    assert.equal(sketch.isEmpty, true);
  });

  it('counts a weight as that many copies of the value (sample rates)', () => {
    const weighted = new DDSketch();
    const repeated = new DDSketch();
    const r = rng(7);
    for (let i = 0; i < 500; i++) {
      const v = r() * 100;
      const w = 1 + Math.floor(r() * 10);
      weighted.add(v, w);
      for (let j = 0; j < w; j++) repeated.add(v);
    }
    assert.equal(weighted.count, repeated.count);
    for (const q of QUANTILES) assert.equal(weighted.quantile(q), repeated.quantile(q), `q=${q}`);
    assert.ok(Math.abs(weighted.sum - repeated.sum) < 1e-6);
  });

  it('accepts fractional weights: sampled at @0.3, one value counts 1/0.3', () => {
    const sketch = new DDSketch();
    sketch.add(10, 1 / 0.3);
    sketch.add(20, 1 / 0.3);
    assert.ok(Math.abs(sketch.count - 2 / 0.3) < 1e-12);
    assert.ok(Math.abs(sketch.sum - 30 / 0.3) < 1e-9);
    assertWithin(sketch.quantile(0.25), 10, 0.01, 'low half');
    assertWithin(sketch.quantile(0.9), 20, 0.01, 'high half');
  });

  it('rejects bad options', () => {
    assert.throws(() => new DDSketch({ relativeAccuracy: 0 }), RangeError);
    assert.throws(() => new DDSketch({ relativeAccuracy: 1 }), RangeError);
    assert.throws(() => new DDSketch({ maxBins: 8 }), RangeError);
    assert.throws(() => new DDSketch({ maxBins: 100.5 }), RangeError);
  });

  it('collapses the lowest bins beyond maxBins: high quantiles keep the bound, the lowest do not', () => {
    const sketch = new DDSketch({ relativeAccuracy: 0.01, maxBins: 128 });
    const values: number[] = [];
    // 1.01^0 … 1.01^1999 span about 1840 bins at schema 6; the top 128 (γ^128 = 4) hold the top 7%.
    for (let i = 0; i < 2000; i++) values.push(Math.pow(1.01, i));
    for (const v of values) sketch.add(v);
    assert.equal(sketch.count, 2000);
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0.95, 0.99, 0.999, 1])
      assertWithin(sketch.quantile(q), exactQuantile(sorted, q), 0.01, `q=${q}`);
    // Collapsed into the lowest kept bin: lower quantiles read far too high.
    assert.ok(sketch.quantile(0.5) > exactQuantile(sorted, 0.5) * 1.5);
    // Negative values collapse their most negative bins: again the lowest quantiles.
    const neg = new DDSketch({ relativeAccuracy: 0.01, maxBins: 128 });
    for (const v of values) neg.add(-v);
    const negSorted = values.map((v) => -v).sort((a, b) => a - b);
    for (const q of [0.95, 0.99, 0.999])
      assertWithin(neg.quantile(q), exactQuantile(negSorted, q), 0.01, `neg q=${q}`);
    assert.ok(neg.quantile(0.5) > exactQuantile(negSorted, 0.5) / 1.5);
  });

  it('stays within the bin cap however values arrive (ascending, descending, jumps)', () => {
    for (const order of ['ascending', 'descending', 'jumps'] as const) {
      const sketch = new DDSketch({ maxBins: 32 });
      const keys: number[] = [];
      for (let i = 0; i < 300; i++)
        keys.push(order === 'ascending' ? i : order === 'descending' ? 300 - i : (i * 7919) % 300);
      for (const k of keys) sketch.add(Math.pow(1.02, k));
      const json = sketch.toJSON();
      assert.ok(json.pos.length - 1 <= 32, `${order}: ${json.pos.length - 1} bins`);
      assert.equal(sketch.count, 300);
      const sorted = keys.map((k) => Math.pow(1.02, k)).sort((a, b) => a - b);
      assertWithin(sketch.quantile(0.99), exactQuantile(sorted, 0.99), 0.01, order);
    }
  });

  it('clear() empties it for the next interval', () => {
    const sketch = new DDSketch();
    for (let i = 1; i <= 100; i++) sketch.add(i);
    sketch.add(-5);
    sketch.add(0);
    sketch.clear();
    assert.equal(sketch.count, 0);
    assert.equal(sketch.sum, 0);
    assert.ok(Number.isNaN(sketch.quantile(0.5)));
    sketch.add(1000);
    assert.equal(sketch.quantile(0.5), 1000);
    assert.equal(sketch.min, 1000);
    assert.deepEqual(sketch.toJSON().neg, []);
  });

  describe('merge', () => {
    it('two halves of a random stream, merged, give percentiles within α of the whole stream (property)', () => {
      fc.assert(
        fc.property(
          fc.array(value, { minLength: 1, maxLength: 400 }),
          fc.nat(),
          fc.constantFrom(0.01, 0.02, 0.05),
          (stream, cut, alpha) => {
            const split = cut % (stream.length + 1);
            const a = new DDSketch({ relativeAccuracy: alpha });
            const b = new DDSketch({ relativeAccuracy: alpha });
            for (const v of stream.slice(0, split)) a.add(v);
            for (const v of stream.slice(split)) b.add(v);
            a.merge(b);
            assert.equal(a.count, stream.length);
            checkAll(a, stream, 'merged');
            for (const p of [50, 90, 95, 99, 99.9]) {
              const q = percentileToQuantile(p);
              const exact = exactQuantile(
                [...stream].sort((x, y) => x - y),
                q,
              );
              assertWithin(a.snapshot([p]).quantiles[0]?.value as number, exact, alpha, `p${p}`);
            }
          },
        ),
        { numRuns: 300 },
      );
    });

    it('is commutative and associative in its results', () => {
      fc.assert(
        fc.property(
          fc.array(fc.array(fc.double({ min: -1e9, max: 1e9, noNaN: true }), { maxLength: 100 }), {
            minLength: 3,
            maxLength: 3,
          }),
          (parts) => {
            const sketches = () =>
              parts.map((p) => {
                const s = new DDSketch();
                for (const v of p) s.add(v);
                return s;
              });
            const [a1, b1, c1] = sketches() as [DDSketch, DDSketch, DDSketch];
            const [a2, b2, c2] = sketches() as [DDSketch, DDSketch, DDSketch];
            const [a3, b3, c3] = sketches() as [DDSketch, DDSketch, DDSketch];
            const left = a1.merge(b1).merge(c1); // (a+b)+c
            const right = a2.merge(b2.merge(c2)); // a+(b+c)
            const swapped = c3.merge(b3).merge(a3); // (c+b)+a
            for (const q of QUANTILES) {
              const l = left.quantile(q);
              assert.ok(Object.is(l, right.quantile(q)) && Object.is(l, swapped.quantile(q)), `q=${q}`);
            }
            assert.equal(left.count, right.count);
            assert.equal(left.count, swapped.count);
            assert.deepEqual(left.toJSON().pos, swapped.toJSON().pos);
            assert.deepEqual(left.toJSON().neg, right.toJSON().neg);
          },
        ),
      );
    });

    it('merging into an empty sketch copies; merging an empty one changes nothing', () => {
      const a = new DDSketch();
      for (let i = 1; i <= 50; i++) a.add(i * 1.5);
      const before = JSON.stringify(a);
      a.merge(new DDSketch());
      assert.equal(JSON.stringify(a), before);
      const b = new DDSketch().merge(a);
      assert.equal(JSON.stringify(b), before);
    });

    it('refuses sketches of another relative accuracy', () => {
      assert.throws(() => new DDSketch().merge(new DDSketch({ relativeAccuracy: 0.02 })), RangeError);
      // Same schema, same bins: a sketch stating 0.0101 merges into one stating 0.01.
      assert.equal(new DDSketch().merge(new DDSketch({ relativeAccuracy: 0.0101 }).copy()).count, 0);
    });

    it('respects the bin cap of the target', () => {
      const wide = new DDSketch();
      for (let i = 0; i < 1000; i++) wide.add(Math.pow(1.02, i));
      const narrow = new DDSketch({ maxBins: 100 }).merge(wide);
      assert.ok(narrow.toJSON().pos.length - 1 <= 100);
      assert.equal(narrow.count, 1000);
      assert.equal(narrow.quantile(1), wide.quantile(1));
      assertWithin(narrow.quantile(0.95), Math.pow(1.02, 949), 0.01, 'p95');
    });
  });

  describe('snapshot', () => {
    it('is an immutable Distribution that later updates and clear() do not change', () => {
      const sketch = new DDSketch();
      for (let i = 1; i <= 1000; i++) sketch.add(i);
      const snap = sketch.snapshot([50, 90, 99.9]);
      const p50 = snap.quantile(0.5);
      assert.deepEqual(
        snap.quantiles.map((q) => q.quantile),
        [0.5, 0.9, 0.999],
      );
      assert.equal(snap.quantiles[0]?.value, p50);
      assertWithin(p50, 500, 0.01, 'p50');
      assert.equal(snap.count, 1000);
      assert.equal(snap.sum, 500500);
      assert.equal(snap.min, 1);
      assert.equal(snap.max, 1000);
      assert.equal(snap.relativeAccuracy, 0.01);
      sketch.clear();
      for (let i = 0; i < 100; i++) sketch.add(1e6);
      assert.equal(snap.quantile(0.5), p50);
      assert.equal(snap.count, 1000);
      assert.ok(
        Object.isFrozen(snap) && Object.isFrozen(snap.quantiles) && Object.isFrozen(snap.quantiles[0]),
      );
      assert.throws(() => {
        (snap as unknown as { count: number }).count = 1;
      }, TypeError);
      // JSON shows the statistics, not the bins.
      assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(snap))), [
        'count',
        'sum',
        'min',
        'max',
        'relativeAccuracy',
        'quantiles',
      ]);
    });

    it('gives back a mergeable sketch', () => {
      const a = new DDSketch();
      a.add(1);
      const snap = a.snapshot([]);
      const copy = snap.toSketch().merge(a);
      assert.equal(copy.count, 2);
      assert.equal(snap.count, 1);
    });

    it('rejects percentiles outside [0, 100]', () => {
      assert.throws(() => new DDSketch().snapshot([101]), RangeError);
      assert.throws(() => new DDSketch().snapshot([-1]), RangeError);
    });
  });

  describe('toJSON / fromJSON', () => {
    it('round-trips any sketch exactly (property)', () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.tuple(
              fc.double({ min: -1e300, max: 1e300, noNaN: true }),
              fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.double({ min: 0.01, max: 100, noNaN: true })),
            ),
          ),
          fc.constantFrom(0.01, 0.001, 0.05),
          (values, alpha) => {
            const sketch = new DDSketch({ relativeAccuracy: alpha, maxBins: 100_000 });
            for (const [v, w] of values) sketch.add(v, w);
            const text = JSON.stringify(sketch);
            const back = DDSketch.fromJSON(JSON.parse(text));
            assert.equal(JSON.stringify(back), text);
            // The total is re-added bin by bin: with fractional weights its last bit may differ.
            assert.ok(Math.abs(back.count - sketch.count) <= 1e-12 * sketch.count);
            if (values.every(([, w]) => Number.isInteger(w)))
              for (const q of QUANTILES) assert.ok(Object.is(back.quantile(q), sketch.quantile(q)), `q=${q}`);
          },
        ),
      );
    });

    it('reads -0 as 0, which JSON can carry', () => {
      const sketch = new DDSketch();
      sketch.add(-0);
      assert.ok(Object.is(sketch.min, 0) && Object.is(sketch.quantile(0), 0));
    });

    it('is compact: bins as [first key, counts…]', () => {
      const sketch = new DDSketch();
      sketch.add(1);
      sketch.add(1.01);
      sketch.add(-1);
      sketch.add(0);
      assert.deepEqual(sketch.toJSON(), {
        v: 2,
        alpha: 0.01,
        schema: 6,
        bins: 4096,
        zero: 1,
        sum: 1 + 1.01 - 1,
        min: -1,
        max: 1.01,
        pos: [0, 1, 1],
        neg: [0, 1],
      } satisfies SketchJSON);
    });

    it('rejects malformed input with a TypeError', () => {
      const good = JSON.parse(
        JSON.stringify(new DDSketch().merge(DDSketch.fromJSON({ ...base(), pos: [3, 1] }))),
      );
      assert.equal(DDSketch.fromJSON(good).count, 1);
      const cases: [string, unknown][] = [
        ['null', null],
        ['list', []],
        ['version', { ...good, v: 1 }],
        ['schema', { ...good, schema: 2.5 }],
        ['schema out of range', { ...good, schema: 99 }],
        ['alpha', { ...good, alpha: 2 }],
        ['bins', { ...good, bins: 3 }],
        ['negative count', { ...good, pos: [3, -1] }],
        ['string count', { ...good, pos: [3, '1'] }],
        ['float key', { ...good, pos: [3.5, 1] }],
        ['key out of range', { ...good, pos: [1e9, 1] }],
        ['too many bins', { ...good, pos: [0, ...new Array(5000).fill(1)] }],
        ['missing min', { ...good, min: null }],
        ['min above max', { ...good, min: 10, max: 1 }],
        ['empty with min', { ...base(), min: 1 }],
        ['sum', { ...good, sum: 'x' }],
        ['neg not a list', { ...good, neg: {} }],
      ];
      for (const [what, json] of cases) assert.throws(() => DDSketch.fromJSON(json), TypeError, what);
    });
  });
});

function base(): SketchJSON {
  return { v: 2, alpha: 0.01, schema: 6, bins: 4096, zero: 0, sum: 1, min: 1, max: 1, pos: [], neg: [] };
}
