/**
 * sluice's metrics back into StatsD lines, for a relay of aggregates. What each kind becomes:
 *
 *   counter, delta        name:<value>|c     the interval's count, sample rates already applied,
 *                                            so the upstream's totals equal this agent's
 *   counter, cumulative   name:<value>|g     a running total is a level, not an increment
 *   gauge (and sets)      name:<value>|g     a set arrives as its count of distinct members
 *   summary (timer)       name.count, name.sum, name.sum_squares as |c; name.mean, .lower,
 *                         .upper, .std, .median, .upper_P, .mean_P, .sum_P, .count_P as |g
 *   histogram             name.count, name.sum, name.bin_<le> (per bin, not cumulative) as |c;
 *                         name.lower, name.upper as |g
 *   distribution          name.count, name.sum as |c; name.mean, .lower, .upper, .p<P> as |g
 *
 * The observations behind a timer are gone once it is aggregated, so the upstream cannot
 * aggregate them again: it gets the statistics, named as Etsy statsd's Graphite backend names
 * them (the same fields as the graphite sink). What adds up across intervals and agents (counts,
 * sums, bin counts) is sent as a counter, so an upstream fed by several relays sums them
 * correctly; the rest is sent as gauges, each relay's latest value. Forwarding raw lines instead
 * (`forward: raw`) lets the upstream see every observation.
 *
 * Tags go out as `|#key:value`, DogStatsD's spelling (Etsy statsd 0.9 reads the same field and
 * turns it into `;key=value`). Timestamps are not sent: the upstream stamps what it aggregates.
 */
import type { Metric, Quantile } from '../../core/metric.js';
import type { Tags } from '../../core/tags.js';
import { boundLabel, percentileLabel } from '../../protocols/carbon/plaintext.js';
import { formatStatsdLine, type StatsdFormatOptions } from '../../protocols/statsd/format.js';
import type { RelayDialect } from './schema.js';

const FORMAT: StatsdFormatOptions = { tagSeparator: ':' };

export class StatsdLineEncoder {
  private lines = '';
  /** Lines left out of the current metric for being longer than `maxLineBytes`. */
  private tooLong = 0;
  /** Lines ever left out for their length, for the sink's stats. */
  droppedLines = 0;

  /**
   * @param maxLineBytes the longest line that can be sent (a UDP datagram's payload), Infinity
   *   when any can (TCP).
   */
  constructor(
    private readonly dialect: RelayDialect,
    private readonly maxLineBytes: number,
  ) {}

  /** The metric's lines, each ending in `\n`; undefined when it has none that can be sent. */
  encode(m: Metric): string | undefined {
    this.lines = '';
    this.tooLong = 0;
    const { name, tags } = m;
    switch (m.kind) {
      case 'gauge':
        this.gauge(name, tags, m.value);
        break;
      case 'counter':
        if (m.temporality === 'delta') this.counter(name, tags, m.value);
        else this.gauge(name, tags, m.value);
        break;
      case 'summary': {
        const s = m.summary;
        this.counter(name + '.count', tags, s.count);
        this.counter(name + '.sum', tags, s.sum);
        this.counter(name + '.sum_squares', tags, s.sumSquares);
        this.gauge(name + '.mean', tags, s.mean);
        this.gauge(name + '.lower', tags, s.min);
        this.gauge(name + '.upper', tags, s.max);
        this.gauge(name + '.std', tags, s.stdev);
        this.gauge(name + '.median', tags, s.median);
        this.quantiles(name, tags, s.quantiles, 'upper_');
        break;
      }
      case 'histogram': {
        const h = m.histogram;
        this.counter(name + '.count', tags, h.count);
        this.counter(name + '.sum', tags, h.sum);
        this.gauge(name + '.lower', tags, h.min);
        this.gauge(name + '.upper', tags, h.max);
        for (const bin of h.bins) this.counter(name + '.bin_' + boundLabel(bin.le), tags, bin.count);
        break;
      }
      case 'distribution': {
        const d = m.distribution;
        this.counter(name + '.count', tags, d.count);
        this.counter(name + '.sum', tags, d.sum);
        if (d.count > 0) this.gauge(name + '.mean', tags, d.sum / d.count);
        this.gauge(name + '.lower', tags, d.min);
        this.gauge(name + '.upper', tags, d.max);
        this.quantiles(name, tags, d.quantiles, 'p');
        break;
      }
    }
    this.droppedLines += this.tooLong;
    return this.lines === '' ? undefined : this.lines;
  }

  private quantiles(name: string, tags: Tags, quantiles: readonly Quantile[], prefix: string): void {
    for (const q of quantiles) {
      const p = percentileLabel(q.quantile);
      this.gauge(`${name}.${prefix}${p}`, tags, q.value);
      if (q.mean !== undefined) this.gauge(`${name}.mean_${p}`, tags, q.mean);
      if (q.sum !== undefined) this.gauge(`${name}.sum_${p}`, tags, q.sum);
      if (q.count !== undefined) this.gauge(`${name}.count_${p}`, tags, q.count);
    }
  }

  private counter(name: string, tags: Tags, value: number): void {
    this.add(formatStatsdLine({ name, type: 'c', value, tags }, this.dialect, FORMAT));
  }

  private gauge(name: string, tags: Tags, value: number): void {
    if (value < 0 && this.dialect === 'etsy') {
      // Etsy statsd reads any signed gauge as a change: set it to 0, then apply the change
      // (its own docs' advice). Both lines go in one record, so they stay in order.
      this.add(formatStatsdLine({ name, type: 'g', value: 0, tags }, 'etsy', FORMAT), true);
      this.add(formatStatsdLine({ name, type: 'g', value, tags, delta: true }, 'etsy', FORMAT));
      return;
    }
    this.add(formatStatsdLine({ name, type: 'g', value, tags }, this.dialect, FORMAT));
  }

  /** `first` of a pair: the next line is checked with it, so a pair is never split. */
  private pending: string | undefined = undefined;

  private add(line: string | undefined, first = false): void {
    if (first) {
      this.pending = line;
      return;
    }
    const pending = this.pending;
    this.pending = undefined;
    if (line === undefined) return;
    const lines = pending === undefined ? [line] : [pending, line];
    for (const l of lines) {
      if (!fitsIn(l, this.maxLineBytes)) {
        this.tooLong++;
        return;
      }
    }
    for (const l of lines) this.lines += l + '\n';
  }
}

/** Whether `line` is at most `maxBytes` bytes of UTF-8, without encoding it when it is short. */
export function fitsIn(line: string, maxBytes: number): boolean {
  // Characters are at most 3 UTF-8 bytes in the BMP (4 for a surrogate pair, 2 units).
  return line.length * 3 <= maxBytes || Buffer.byteLength(line, 'utf8') <= maxBytes;
}
