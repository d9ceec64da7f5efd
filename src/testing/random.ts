/** Seeded random values for tests, so a failure reproduces. */

/** Lognormal values (mulberry32 + Box-Muller) from a seed, rounded to 6 significant digits. */
export function lognormal(seed: number, n: number, mu: number, sigma: number): number[] {
  let a = seed >>> 0;
  const r = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const g = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    // Rounded to 6 significant digits: what a client would print.
    out.push(Number(Math.exp(mu + sigma * g).toPrecision(6)));
  }
  return out;
}
