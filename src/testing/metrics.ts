/**
 * The metric fixtures sink tests share, computed the way the aggregator computes them rather
 * than written out by hand in each test (where copies drifted: a standard deviation of 2.5 for
 * the values 1 to 10 in some, 2.87 in others).
 */
import { summarize } from '../aggregation/aggregator.js';
import type { Summary } from '../core/metric.js';

/**
 * The summary of a timer that received the values 1 to 10 in one interval, with the 90th
 * percentile (Etsy's upper_90: 9, with count 9, sum 45, mean 5), as the aggregator computes it;
 * `overrides` change fields a test is about (a sampled count, other quantiles).
 */
export function oneToTenSummary(overrides: Partial<Summary> = {}): Summary {
  return {
    ...summarize(
      Float64Array.from({ length: 10 }, (_, i) => i + 1),
      10,
      [90],
    ),
    ...overrides,
  };
}
