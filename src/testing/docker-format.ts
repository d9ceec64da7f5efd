/**
 * The Docker CLI's way of printing `docker stats` figures, for comparing what sluice computed
 * with what the CLI shows: Go's `strconv.FormatFloat(v, 'f', 2, 64)` for percentages and
 * `fmt.Sprintf("%.*g")` inside go-units' HumanSizeWithPrecision (decimal units, 3 digits: NET
 * I/O and BLOCK I/O) and BytesSize (binary units, 4 digits: MEM USAGE / LIMIT).
 *
 * Go rounds the exact binary value of a float64, ties to even (0.625 → "0.62"); JavaScript's
 * toFixed and toPrecision round ties up ("0.63"). So the rounding here works on the exact
 * decimal expansion of the double, with BigInt.
 */

/** x (finite, > 0) as digits × 10^-scale, exactly. */
export function exactDecimal(x: number): { digits: string; scale: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp: number;
  if (biased === 0) exp = -1074;
  else {
    mantissa |= 1n << 52n;
    exp = biased - 1075;
  }
  if (exp >= 0) return { digits: (mantissa << BigInt(exp)).toString(), scale: 0 };
  return { digits: (mantissa * 5n ** BigInt(-exp)).toString(), scale: -exp };
}

/**
 * Rounds a digit string to `n` digits, ties to even. A carry out of the first digit (999 → 1000)
 * gives n + 1 digits and `carry`.
 */
function roundDigits(digits: string, n: number): { digits: string; carry: boolean } {
  if (digits.length <= n) return { digits, carry: false };
  const head = digits.slice(0, n);
  const rest = digits.slice(n);
  const first = rest.charCodeAt(0) - 48;
  const exactHalf = first === 5 && /^50*$/.test(rest);
  const last = n > 0 ? head.charCodeAt(n - 1) - 48 : 0;
  const up = first > 5 || (first === 5 && !exactHalf) || (exactHalf && last % 2 === 1);
  if (!up) return { digits: head, carry: false };
  const bumped = (BigInt(head === '' ? '0' : head) + 1n).toString();
  if (bumped.length > n) return { digits: bumped, carry: true };
  return { digits: bumped.padStart(n, '0'), carry: false };
}

/** Go's strconv.FormatFloat(x, 'f', decimals, 64) for x >= 0. */
export function goFixed(x: number, decimals: number): string {
  if (x === 0) return decimals > 0 ? `0.${'0'.repeat(decimals)}` : '0';
  const { digits, scale } = exactDecimal(x);
  // Keep the digits down to 10^-decimals.
  const intDigits = digits.length - scale;
  const keep = intDigits + decimals;
  let kept: string;
  if (keep < 0) kept = '0';
  else {
    kept = roundDigits(digits, keep).digits;
    if (kept === '') kept = '0';
  }
  kept = kept.padStart(decimals + 1, '0');
  const whole = kept.slice(0, kept.length - decimals).replace(/^0+(?=\d)/, '');
  return decimals > 0 ? `${whole}.${kept.slice(kept.length - decimals)}` : whole;
}

/** Go's fmt.Sprintf("%.*g", precision, x) for x >= 0 (strconv 'g' with a precision). */
export function goG(x: number, precision: number): string {
  if (x === 0) return '0';
  const { digits, scale } = exactDecimal(x);
  // The decimal point sits after `dp` digits: x = 0.d1d2d3... × 10^dp.
  let dp = digits.length - scale;
  const r = roundDigits(digits, precision);
  if (r.carry) dp++;
  const d = (r.carry ? r.digits.slice(0, precision) : r.digits).replace(/0+$/, '');
  const nd = d.length;
  let eprec = precision;
  if (eprec > nd && nd >= dp) eprec = nd;
  const exp = dp - 1;
  if (exp < -4 || exp >= eprec) {
    const p = Math.min(precision, nd) - 1;
    const mant = p > 0 ? `${d[0]}.${d.slice(1).padEnd(p, '0')}` : (d[0] as string);
    const e = Math.abs(exp);
    return `${mant}e${exp < 0 ? '-' : '+'}${e < 10 ? `0${e}` : e}`;
  }
  const p = precision > dp ? nd : precision;
  const decimals = Math.max(p - dp, 0);
  // Write d with the point after dp digits, padded with zeros on either side.
  let intPart: string;
  let frac: string;
  if (dp <= 0) {
    intPart = '0';
    frac = '0'.repeat(-dp) + d;
  } else if (dp >= nd) {
    intPart = d + '0'.repeat(dp - nd);
    frac = '';
  } else {
    intPart = d.slice(0, dp);
    frac = d.slice(dp);
  }
  frac = frac.padEnd(decimals, '0').slice(0, decimals);
  return decimals > 0 ? `${intPart}.${frac}` : intPart;
}

const DECIMAL = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function sizeAndUnit(size: number, base: number, units: readonly string[]): [number, string] {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size = size / base;
    i++;
  }
  return [size, units[i] as string];
}

/** go-units HumanSizeWithPrecision(size, 3), as NET I/O and BLOCK I/O use it. */
export function humanSize(size: number, precision = 3): string {
  const [v, unit] = sizeAndUnit(size, 1000, DECIMAL);
  return goG(v, precision) + unit;
}

/** go-units BytesSize(size), as MEM USAGE / LIMIT uses it. */
export function bytesSize(size: number): string {
  const [v, unit] = sizeAndUnit(size, 1024, BINARY);
  return goG(v, 4) + unit;
}

/** The CLI's formatPercentage. */
export function percentage(value: number): string {
  return `${goFixed(value, 2)}%`;
}
