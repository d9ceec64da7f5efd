// Differential test: timer statistics against Etsy statsd's own lib/process_metrics.js.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { StatsdParser } from '../protocols/statsd/parser.js';
import type { SummaryMetric } from '../core/metric.js';
import { percentileToQuantile } from './sketch.js';
import { StatsdAggregator } from './aggregator.js';

type TimerData = Record<string, number>;
interface EtsyMetrics {
  counters: Record<string, number>;
  timers: Record<string, number[]>;
  timer_counters: Record<string, number>;
  pctThreshold: number[];
  histogram: unknown[];
  timer_data?: Record<string, TimerData>;
}
type ProcessMetrics = (
  metrics: EtsyMetrics,
  calculated: string[],
  flushInterval: number,
  ts: number,
  done: (m: EtsyMetrics) => void,
) => void;

const require = createRequire(import.meta.url);
const { process_metrics: processMetrics } = require('statsd/lib/process_metrics.js') as {
  process_metrics: ProcessMetrics;
};

function etsy(values: number[], count: number, percentiles: number[]): TimerData {
  let out: TimerData | undefined;
  processMetrics(
    {
      counters: {},
      timers: { t: values.slice() },
      timer_counters: { t: count },
      pctThreshold: percentiles,
      histogram: [],
    },
    [],
    10_000,
    0,
    (m) => {
      out = m.timer_data?.t;
    },
  );
  assert.ok(out !== undefined);
  return out;
}

function ours(values: number[], rates: number[], percentiles: number[]): SummaryMetric {
  const agg = new StatsdAggregator({ flushIntervalMs: 10_000, percentiles, expiryMs: 0 });
  const parser = new StatsdParser();
  const sink = { point: agg.add.bind(agg), reject: (r: string) => assert.fail(r) };
  const lines = values.map((v, i) => `t:${v}|ms${rates[i] === 1 ? '' : `|@${rates[i]}`}`);
  // Several lines per datagram, as clients batch them.
  for (let i = 0; i < lines.length; i += 7) parser.parse(Buffer.from(lines.slice(i, i + 7).join('\n')), sink);
  const batch = agg.flush(0);
  assert.equal(batch.length, 1);
  return batch[0] as SummaryMetric;
}

describe('timer statistics vs Etsy statsd process_metrics', () => {
  it('agrees on count, sum, mean, upper, lower, median, stdev and upper/count/sum/mean_<pct>', () => {
    const value = fc.oneof(
      fc.integer({ min: 0, max: 100_000 }),
      fc.integer({ min: -1000, max: 1000 }),
      fc.double({ min: -1e6, max: 1e6, noNaN: true }),
    );
    const rate = fc.constantFrom(1, 1, 1, 0.5, 0.1, 0.25);
    const percentile = fc.oneof(
      fc.integer({ min: 1, max: 100 }),
      fc.double({ min: 0.5, max: 100, noNaN: true }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(value, rate), { minLength: 1, maxLength: 300 }),
        fc.uniqueArray(percentile, { minLength: 1, maxLength: 6 }),
        (samples, percentiles) => {
          const values = samples.map((s) => s[0]);
          const rates = samples.map((s) => s[1]);
          let count = 0;
          for (const r of rates) count += 1 / r;
          const e = etsy(values, count, percentiles);
          const s = ours(values, rates, percentiles).summary;
          // `===`, not Object.is: Etsy may carry a -0 where we have 0.
          const same = (a: number | undefined, b: number | undefined, what: string): void =>
            assert.ok(a === b, `${what}: ours ${a}, Etsy ${b}`);
          same(s.count, e.count, 'count');
          same(s.samples, values.length, 'samples');
          same(s.sum, e.sum, 'sum');
          same(s.sumSquares, e.sum_squares, 'sum_squares');
          same(s.mean, e.mean, 'mean');
          same(s.max, e.upper, 'upper');
          same(s.min, e.lower, 'lower');
          same(s.median, e.median, 'median');
          same(s.stdev, e.std, 'std');
          percentiles.forEach((p, i) => {
            const suffix = String(p).replace('.', '_');
            const key = `upper_${suffix}`;
            const q = s.quantiles[i];
            // Etsy leaves out a percentile that covers no value; we report the minimum there.
            if (key in e) {
              same(q?.value, e[key], key);
              same(q?.count, e[`count_${suffix}`], `count_${suffix}`);
              same(q?.sum, e[`sum_${suffix}`], `sum_${suffix}`);
              same(q?.mean, e[`mean_${suffix}`], `mean_${suffix}`);
            } else {
              same(q?.value, s.min, `${key} (absent in Etsy)`);
              assert.equal(q?.count, undefined);
            }
            assert.equal(q?.quantile, percentileToQuantile(p));
          });
        },
      ),
      { numRuns: 500 },
    );
  });
});
