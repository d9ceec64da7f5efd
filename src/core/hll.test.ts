import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HLL_REGISTERS, HLL_STANDARD_ERROR, HyperLogLog, murmur3 } from './hll.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('murmur3 (x86, 32-bit)', () => {
  it("gives the reference implementation's values", () => {
    // Published test vectors of MurmurHash3_x86_32 (input, seed, hash).
    const vectors: [string, number, number][] = [
      ['', 0, 0],
      ['', 1, 0x514e28b7],
      ['', 0xffffffff, 0x81f16f39],
      ['\0\0\0\0', 0, 0x2362f9de],
      ['aaaa', 0x9747b28c, 0x5a97808a],
      ['abc', 0, 0xb3dd93fa],
      ['Hello, world!', 0x9747b28c, 0x24884cba],
      ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
    ];
    for (const [input, seed, hash] of vectors) assert.equal(murmur3(bytes(input), seed), hash, input);
  });
});

function sketchOf(members: Iterable<string>): HyperLogLog {
  const h = new HyperLogLog();
  for (const m of members) h.add(m);
  return h;
}

describe('HyperLogLog', () => {
  it('reads 0 empty, and small sets exactly or within one', () => {
    assert.equal(new HyperLogLog().estimate(), 0);
    for (const n of [1, 2, 10, 100, 500]) {
      const e = sketchOf(Array.from({ length: n }, (_, i) => `user-${i}`)).estimate();
      assert.ok(Math.abs(e - n) <= Math.max(1, n * 0.01), `${n} members read ${e}`);
    }
  });

  it('is within three standard errors (2.44 %) from a thousand to a million members', () => {
    for (const n of [1_000, 5_000, 20_000, 50_000, 100_000, 300_000, 1_000_000]) {
      const e = sketchOf(
        (function* () {
          for (let i = 0; i < n; i++) yield `session:${i}:${(i * 2654435761) >>> 0}`;
        })(),
      ).estimate();
      const error = Math.abs(e - n) / n;
      assert.ok(error <= 3 * HLL_STANDARD_ERROR, `${n} members read ${e} (${(error * 100).toFixed(2)} %)`);
    }
  });

  it('adding a member twice changes nothing; merging is the union, whatever the order', () => {
    fc.assert(
      fc.property(fc.array(fc.string()), fc.array(fc.string()), (a, b) => {
        const ab = sketchOf(a);
        ab.merge(sketchOf(b));
        const ba = sketchOf(b);
        ba.merge(sketchOf(a));
        const union = sketchOf([...a, ...b, ...a]);
        assert.deepEqual(ab.registers, union.registers);
        assert.deepEqual(ba.registers, union.registers);
      }),
    );
  });

  it('merging a sketch into itself changes nothing', () => {
    const h = sketchOf(Array.from({ length: 3000 }, (_, i) => String(i)));
    const before = h.registers.slice();
    h.merge(h.registers.slice());
    assert.deepEqual(h.registers, before);
  });

  it('refuses registers of the wrong size', () => {
    assert.throws(() => new HyperLogLog(new Uint8Array(HLL_REGISTERS - 1)), /16384 registers/);
  });
});
