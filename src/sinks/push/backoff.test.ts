import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { backoffCeiling, backoffDelay } from './backoff.js';

describe('backoff', () => {
  it('doubles the ceiling from the initial delay up to the cap', () => {
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 8, 100].map((n) => backoffCeiling(n, 500, 30_000));
    assert.deepEqual(ceilings, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it('draws the delay uniformly below the ceiling (full jitter)', () => {
    assert.equal(
      backoffDelay(3, 500, 30_000, () => 0),
      1,
    );
    assert.equal(
      backoffDelay(3, 500, 30_000, () => 0.5),
      1000,
    );
    assert.equal(
      backoffDelay(3, 500, 30_000, () => 0.999999),
      1999,
    );
  });

  it('never exceeds the cap, nor goes below 1 ms, for any attempt and random draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 1, max: 3_600_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, initial, cap, r) => {
          const d = backoffDelay(attempt, initial, cap, () => r);
          assert.ok(d >= 1 && d <= backoffCeiling(attempt, initial, cap) && d <= cap, String(d));
          assert.ok(Number.isInteger(d));
        },
      ),
    );
  });
});
