import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { bytesSize, exactDecimal, goFixed, goG, humanSize, percentage } from './docker-format.js';

/** Whether rounding x to `keep` digits of its exact decimal expansion is an exact tie. */
function isTie(x: number, keep: (digits: string, scale: number) => number): boolean {
  const { digits, scale } = exactDecimal(x);
  const rest = digits.slice(Math.max(keep(digits, scale), 0));
  return /^50*$/.test(rest);
}

describe('Go float formatting as the Docker CLI prints it', () => {
  it('matches what Go prints, ties to even included', () => {
    const cases: [string, string][] = [
      [percentage(0.625), '0.62%'], // exact tie: Go rounds to even, toFixed up
      [percentage(99.995), '100.00%'], // the double is above the tie
      [percentage(0), '0.00%'],
      [percentage(125), '125.00%'],
      [humanSize(0), '0B'],
      [humanSize(1125000), '1.12MB'], // exact tie
      [humanSize(14979), '15kB'],
      [humanSize(999700), '1e+03kB'], // %g switches to an exponent after rounding up
      [humanSize(5e-5), '5e-05B'],
      [bytesSize(3211264), '3.062MiB'], // exact tie
      [bytesSize(1073741824), '1GiB'],
      [bytesSize(2000), '1.953KiB'],
      [goG(100, 3), '100'],
      [goG(0.05, 3), '0.05'],
      [goFixed(1e-9, 2), '0.00'],
      [goFixed(40420254756359.625, 2), '40420254756359.62'], // a tie in a large double
    ];
    for (const [got, want] of cases) assert.equal(got, want);
  });

  it('agrees with JavaScript’s correctly rounded toPrecision/toFixed on every non-tie value', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-6, max: 1e15, noNaN: true }),
        fc.integer({ min: 1, max: 6 }),
        (x, p) => {
          // JavaScript rounds exact ties up and Go to even; elsewhere both round the exact value
          // to the nearest, so the numbers printed must be equal.
          if (!isTie(x, () => p)) {
            assert.equal(Number(goG(x, p)), Number(x.toPrecision(p)), `${x} %.${p}g`);
          }
          if (!isTie(x, (d, scale) => d.length - scale + 2)) {
            assert.equal(Number(goFixed(x, 2)), Number(x.toFixed(2)), `${x} 'f' 2`);
          }
          assert.doesNotMatch(goG(x, p), /\.\d*0(e|$)/, 'no trailing zeros after the point');
        },
      ),
      { numRuns: 2000 },
    );
  });
});
