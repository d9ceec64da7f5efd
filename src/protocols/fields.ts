/**
 * The named numbers of a metric, as the Influx line encoder names its fields; the Kafka JSON
 * `fields` object and the console's text lines use the same names, so one definition keeps the
 * three outputs in step.
 *
 * - counter: `value`, plus `rate` (per second) for delta counters with an interval;
 * - gauge: `value` (a multi-field point's own field name is the encoder's business);
 * - summary: `count`, `sum`, `mean`, `min`, `max`, `stdev`, `median`, then per quantile `p90`
 *   (see quantileField) followed by Etsy's `p90_count`, `p90_sum`, `p90_mean` when present;
 * - histogram: `count`, `sum`, `min`, `max`, `mean`, then per bin `le_<bound>` (see binField)
 *   holding the observations at or below the bound, cumulative, so `le_inf` = `count`;
 * - distribution: `count`, `sum`, `min`, `max`, `mean`, `median`, then the quantile fields.
 *
 * Values are given as they are, NaN and infinities included (a mean or median of nothing is
 * NaN): the line and JSON encoders leave such fields out, the console writes them.
 *
 * The line encoder runs on the push path, hence a fold with a caller-chosen accumulator rather
 * than a list of pairs: with a module-level step function and a string accumulator a metric
 * costs no allocation beyond the output itself.
 */
import { counterRate, type Metric, type Quantile } from '../core/metric.js';
import { formatGoFloat } from './prometheus/text.js';

/** One step of foldFields: the accumulator after the field `name` = `value`. */
export type FieldStep<T> = (acc: T, name: string, value: number) => T;

/** Memo of quantileField: the quantiles are a handful of configured values, formatting them is not free. */
const quantileNames = new Map<number, string>();

/** Field name for a quantile: 0.9 → `p90`, 0.999 → `p99_9`. */
export function quantileField(q: number): string {
  let name = quantileNames.get(q);
  if (name !== undefined) return name;
  // toPrecision cleans float noise such as 0.9999 * 100 = 99.99000000000001.
  const pct = String(Number((q * 100).toPrecision(12)));
  name = 'p';
  for (let i = 0; i < pct.length; i++) name += pct[i] === '.' ? '_' : pct[i];
  if (quantileNames.size < 1024) quantileNames.set(q, name);
  return name;
}

/** Memo of binField, for the same reason. */
const binNames = new Map<number, string>();

/** Field name for the bin of upper bound `le`: 2.5 → `le_2.5`, 1e6 → `le_1e+06`, +Inf → `le_inf`. */
export function binField(le: number): string {
  let name = binNames.get(le);
  if (name !== undefined) return name;
  name = le === Infinity ? 'le_inf' : 'le_' + formatGoFloat(le);
  if (binNames.size < 1024) binNames.set(le, name);
  return name;
}

/** Per-percentile field names (`p90_count`…), memoised per quantile. */
const statNames = new Map<number, readonly [string, string, string]>();

function quantileStatFields(q: number): readonly [string, string, string] {
  let names = statNames.get(q);
  if (names === undefined) {
    const p = quantileField(q);
    names = [p + '_count', p + '_sum', p + '_mean'];
    if (statNames.size < 1024) statNames.set(q, names);
  }
  return names;
}

function foldQuantiles<T>(acc: T, quantiles: readonly Quantile[], step: FieldStep<T>): T {
  for (const q of quantiles) {
    acc = step(acc, quantileField(q.quantile), q.value);
    if (q.count !== undefined || q.sum !== undefined || q.mean !== undefined) {
      const [c, s, m] = quantileStatFields(q.quantile);
      if (q.count !== undefined) acc = step(acc, c, q.count);
      if (q.sum !== undefined) acc = step(acc, s, q.sum);
      if (q.mean !== undefined) acc = step(acc, m, q.mean);
    }
  }
  return acc;
}

/** Folds `step` over the fields of `m`, in the order above, starting from `acc`. */
export function foldFields<T>(m: Metric, acc: T, step: FieldStep<T>): T {
  switch (m.kind) {
    case 'counter': {
      acc = step(acc, 'value', m.value);
      const rate = counterRate(m);
      return rate === undefined ? acc : step(acc, 'rate', rate);
    }
    case 'gauge':
      return step(acc, 'value', m.value);
    case 'summary': {
      const s = m.summary;
      acc = step(acc, 'count', s.count);
      acc = step(acc, 'sum', s.sum);
      acc = step(acc, 'mean', s.mean);
      acc = step(acc, 'min', s.min);
      acc = step(acc, 'max', s.max);
      acc = step(acc, 'stdev', s.stdev);
      acc = step(acc, 'median', s.median);
      return foldQuantiles(acc, s.quantiles, step);
    }
    case 'histogram': {
      const h = m.histogram;
      acc = step(acc, 'count', h.count);
      acc = step(acc, 'sum', h.sum);
      acc = step(acc, 'min', h.min);
      acc = step(acc, 'max', h.max);
      acc = step(acc, 'mean', h.count > 0 ? h.sum / h.count : NaN);
      let cumulative = 0;
      for (const bin of h.bins) {
        cumulative += bin.count;
        acc = step(acc, binField(bin.le), cumulative);
      }
      return acc;
    }
    case 'distribution': {
      const d = m.distribution;
      acc = step(acc, 'count', d.count);
      acc = step(acc, 'sum', d.sum);
      acc = step(acc, 'min', d.min);
      acc = step(acc, 'max', d.max);
      acc = step(acc, 'mean', d.count > 0 ? d.sum / d.count : NaN);
      acc = step(acc, 'median', d.count > 0 ? d.quantile(0.5) : NaN);
      return foldQuantiles(acc, d.quantiles, step);
    }
  }
}
