/**
 * What a source tells about its aggregator's series budget (`max_series`): the budget beside the
 * `series` gauge, the names creating the most series, and the warning when lines were refused.
 * Shared by the sources that feed the aggregator, so the stats and the advice read the same.
 */
import type { ComponentStats } from '../core/stats.js';
import type { StatsdAggregator } from './aggregator.js';

/** Names exported and logged: enough to find a culprit, few enough for a bounded stat. */
export const TOP_NAMES_REPORTED = 10;
/** A hostile name can be a whole datagram long; labels and log lines carry its start. */
const MAX_NAME_CHARS = 200;

export const TOP_NAMES_HELP =
  'Lines that would create a series (created, or refused by max_series) in the last interval, for the names with the most.';

export class SeriesBudgetReport {
  /** The top names of the interval that closed last. */
  private top: [name: string, count: number][] = [];

  constructor(
    private readonly stats: ComponentStats,
    private readonly aggregator: StatsdAggregator,
  ) {
    stats
      .gauge('series_limit', 'Most series the aggregator holds (max_series); 0 = no limit.')
      .set(aggregator.maxSeries);
  }

  /** After each flush: exports the interval's top names and starts counting the next one. */
  flushed(): void {
    const names = this.aggregator.newSeriesNames;
    this.top =
      names.size === 0
        ? []
        : names
            .top(TOP_NAMES_REPORTED)
            .map(([name, count]) => [
              name.length > MAX_NAME_CHARS ? name.slice(0, MAX_NAME_CHARS) + '…' : name,
              count,
            ]);
    names.clear();
    this.stats.replaceGauges('series_new_top_names', TOP_NAMES_HELP, 'name', this.top);
  }

  /** The warning's text and fields, for lines refused by the budget since the last warning. */
  warning(refused: number): [message: string, fields: Record<string, unknown>] {
    return [
      'Series budget full: lines that would create a new series were dropped (lines_rejected{reason="series_limit"}). ' +
        'Raise max_series, shorten expiry, or drop the names creating them with a mappings rule (action: drop).',
      {
        refused,
        max_series: this.aggregator.maxSeries,
        series: this.aggregator.size,
        // Created or refused, in the interval just closed; Misra-Gries lower bounds.
        top_new_series_names: Object.fromEntries(this.top),
      },
    ];
  }
}
