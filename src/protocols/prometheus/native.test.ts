import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ExponentialBuckets } from '../../core/metric.js';
import { DDSketch, accuracyOf, schemaFor } from '../../aggregation/sketch.js';
import {
  bucketBound,
  deltas,
  fitBuckets,
  MAX_SPAN,
  NativeAccumulator,
  pickSchema,
  populatedBuckets,
  reduceSchema,
  sparse,
} from './native.js';

/** Magnitudes within 2^16 of each other (and 0): 4096 bins hold them even at schema 8. */
const valueArb = fc.oneof(
  fc.constant(0),
  fc.double({ min: 0.01, max: 500, noNaN: true }),
  fc.double({ min: -500, max: -0.01, noNaN: true }),
);

/** The sketch of `values` at `schema`, as exponential buckets. */
function bucketsOf(values: readonly number[], schema: number): ExponentialBuckets {
  const sketch = new DDSketch({ schema });
  for (const v of values) sketch.add(v);
  return sketch.exponential();
}

/** What client_golang's tests print for a native histogram: spans and deltas per sign. */
function wire(b: ExponentialBuckets) {
  const pos = sparse(b.positive);
  const neg = sparse(b.negative);
  return {
    schema: b.schema,
    zeroCount: b.zeroCount,
    positiveSpans: pos.spans.map((s) => [s.offset, s.length]),
    positiveDeltas: deltas(pos.counts),
    negativeSpans: neg.spans.map((s) => [s.offset, s.length]),
    negativeDeltas: deltas(neg.counts),
  };
}

// Facts from client_golang's TestNativeHistogram (prometheus/client_golang, histogram_test.go):
// the observations, the bucket factor, and the schema, spans and deltas it writes.
const CLIENT_GOLANG_CASES = [
  {
    name: 'factor 1.1 results in schema 3',
    factor: 1.1,
    observations: [0, 1, 2, 3],
    want: {
      schema: 3,
      zeroCount: 1,
      positiveSpans: [
        [0, 1],
        [7, 1],
        [4, 1],
      ],
      positiveDeltas: [1, 0, 0],
    },
  },
  {
    name: 'factor 1.2 results in schema 2',
    factor: 1.2,
    observations: [0, 1, 1.2, 1.4, 1.8, 2],
    want: { schema: 2, zeroCount: 1, positiveSpans: [[0, 5]], positiveDeltas: [1, -1, 2, -2, 2] },
  },
  {
    name: 'factor 4 results in schema -1',
    factor: 4,
    observations: [0.5, 1, 1.5, 2, 3, 3.5, 5, 6, 7, 33.33],
    want: { schema: -1, zeroCount: 0, positiveSpans: [[0, 4]], positiveDeltas: [2, 2, -1, -2] },
  },
  {
    name: 'factor 17 results in schema -2',
    factor: 17,
    observations: [0.5, 1, 1.5, 2, 3, 3.5, 5, 6, 7, 33.33],
    want: { schema: -2, zeroCount: 0, positiveSpans: [[0, 3]], positiveDeltas: [2, 5, -6] },
  },
  {
    name: 'negative buckets',
    factor: 1.2,
    observations: [0, -1, -1.2, -1.4, -1.8, -2],
    want: { schema: 2, zeroCount: 1, negativeSpans: [[0, 5]], negativeDeltas: [1, -1, 2, -2, 2] },
  },
  {
    name: 'negative and positive buckets',
    factor: 1.2,
    observations: [0, -1, -1.2, -1.4, -1.8, -2, 1, 1.2, 1.4, 1.8, 2],
    want: {
      schema: 2,
      zeroCount: 1,
      negativeSpans: [[0, 5]],
      negativeDeltas: [1, -1, 2, -2, 2],
      positiveSpans: [[0, 5]],
      positiveDeltas: [1, -1, 2, -2, 2],
    },
  },
];

describe('native histogram buckets', () => {
  describe("client_golang's cases", () => {
    for (const c of CLIENT_GOLANG_CASES) {
      it(c.name, () => {
        const schema = pickSchema(c.factor);
        const got = wire(bucketsOf(c.observations, schema));
        const want = {
          positiveSpans: [],
          positiveDeltas: [],
          negativeSpans: [],
          negativeDeltas: [],
          ...c.want,
        };
        assert.deepEqual(got, want);
      });
    }

    it('buckets limited by halving resolution (max 4 buckets: schema 2 becomes 1)', () => {
      const b = bucketsOf([0, 1, 1.1, 1.2, 1.4, 1.8, 2, 3], pickSchema(1.2));
      assert.equal(populatedBuckets(b), 5);
      const fitted = fitBuckets(b, 8, 4);
      assert.deepEqual(wire(fitted), {
        schema: 1,
        zeroCount: 1,
        positiveSpans: [[0, 5]],
        positiveDeltas: [1, 2, -1, -2, 1],
        negativeSpans: [],
        negativeDeltas: [],
      });
      assert.deepEqual(fitBuckets(b, 8, 0), b);
    });

    it("bucket bounds (client_golang's TestGetLe)", () => {
      const cases: [number, number, number][] = [
        [-1, -1, 0.25],
        [0, -1, 1],
        [1, -1, 4],
        [-1, 0, 0.5],
        [0, 0, 1],
        [1, 0, 2],
        [-1, 2, 0.8408964152537144],
        [0, 2, 1],
        [1, 2, 1.189207115002721],
      ];
      for (const [key, schema, want] of cases) {
        const got = bucketBound(key, schema);
        assert.ok(Math.abs(got - want) <= 2 * Number.EPSILON * want, `key ${key} schema ${schema}: ${got}`);
      }
    });
  });

  it('picks the schema of a bucket factor as client_golang does', () => {
    assert.deepEqual(
      [1.0001, 1.00271, 1.005, 1.01, 1.1, 1.2, 1.5, 2, 4, 17, 300, 1e9].map(pickSchema),
      [8, 8, 8, 7, 3, 2, 1, 0, -1, -2, -3, -4],
    );
  });

  it('a sketch of relative accuracy α takes the coarsest schema that keeps α', () => {
    assert.equal(schemaFor(0.01), 6);
    assert.equal(new DDSketch().schema, 6);
    fc.assert(
      fc.property(fc.double({ min: 1e-6, max: 0.9, noNaN: true }), (alpha) => {
        const s = schemaFor(alpha);
        assert.ok(accuracyOf(s) <= alpha * (1 + 1e-12), `schema ${s} keeps ${alpha}`);
        assert.ok(accuracyOf(s - 1) > alpha, `schema ${s - 1} would not`);
      }),
    );
  });

  it('every value lands in the bucket whose bounds hold it', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-300, max: 1e300, noNaN: true }),
        fc.integer({ min: -4, max: 8 }),
        (v, schema) => {
          const b = bucketsOf([v], schema);
          assert.equal(b.positive.counts.length, 1);
          const i = b.positive.offset;
          // Bounds are computed in floating point: allow their rounding.
          const lo = bucketBound(i - 1, schema) * (1 - 1e-12);
          const hi = bucketBound(i, schema) * (1 + 1e-12);
          assert.ok(v > lo && v <= hi, `${v} in bucket ${i} (${lo}, ${hi}] at schema ${schema}`);
        },
      ),
    );
    // Powers of two are upper bounds, exactly: 1, 2 and 0.5 end their buckets.
    for (const schema of [-2, 0, 3, 6, 8]) {
      assert.equal(bucketsOf([1], schema).positive.offset, 0);
      assert.equal(
        bucketsOf([2], schema).positive.offset,
        Math.pow(2, schema) >= 1 ? Math.pow(2, schema) : 1,
      );
      assert.equal(bucketsOf([0.5], schema).positive.offset, schema >= 0 ? -Math.pow(2, schema) : 0);
    }
  });

  it('reducing a schema gives what a sketch at the coarser schema counts', () => {
    fc.assert(
      fc.property(
        fc.array(valueArb, { maxLength: 200 }),
        fc.integer({ min: -2, max: 8 }),
        fc.integer({ min: 0, max: 6 }),
        (values, schema, by) => {
          const coarser = Math.max(-4, schema - by);
          const reduced = reduceSchema(bucketsOf(values, schema), coarser);
          const direct = bucketsOf(values, coarser);
          assert.deepEqual(wire(reduced), wire(direct));
        },
      ),
    );
  });

  describe('NativeAccumulator', () => {
    it('adds intervals up to the histogram of all their values, at the coarsest schema seen', () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.record({
              values: fc.array(valueArb, { maxLength: 50 }),
              schema: fc.integer({ min: 0, max: 8 }),
            }),
            { maxLength: 6 },
          ),
          (intervals) => {
            const acc = new NativeAccumulator();
            const all: number[] = [];
            let sum = 0;
            for (const { values, schema } of intervals) {
              const sketch = new DDSketch({ schema });
              for (const v of values) sketch.add(v);
              acc.add(sketch.exponential(), sketch.count, sketch.sum);
              all.push(...values);
              sum += sketch.sum;
            }
            const coarsest = Math.min(8, ...intervals.map((i) => i.schema));
            // (The sketches' 4096 bins hold these values whole at schema 8: nothing collapses.)
            assert.equal(acc.schema, coarsest);
            assert.deepEqual(wire(acc.buckets()), wire(bucketsOf(all, coarsest)));
            assert.equal(acc.count, all.length);
            assert.equal(acc.sum, sum);
          },
        ),
      );
    });

    it('halves its resolution past maxBuckets, and holds at most MAX_SPAN buckets per sign', () => {
      const acc = new NativeAccumulator(8, 10);
      acc.add(bucketsOf([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 8), 12, 78);
      assert.ok(populatedBuckets(acc.buckets()) <= 10);
      const wide = new NativeAccumulator();
      wide.add(bucketsOf([1e-300], 6), 1, 1e-300);
      wide.add(bucketsOf([1e300], 6), 1, 1e300);
      const b = wide.buckets();
      assert.ok(b.positive.counts.length <= MAX_SPAN, `${b.positive.counts.length} buckets`);
      assert.equal(
        b.positive.counts.reduce((x, y) => x + y, 0),
        2,
      );
    });
  });

  it('sparse: spans skip gaps of more than two empty buckets, keep smaller ones as zeros', () => {
    assert.deepEqual(sparse({ offset: -3, counts: [0, 1, 0, 0, 2, 0, 0, 0, 3, 0] }), {
      spans: [
        { offset: -2, length: 4 },
        { offset: 3, length: 1 },
      ],
      counts: [1, 0, 0, 2, 3],
    });
    assert.deepEqual(sparse({ offset: 5, counts: [0, 0] }), { spans: [], counts: [] });
  });
});
