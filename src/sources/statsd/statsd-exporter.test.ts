/**
 * statsd_exporter's exporter test cases (testdata/statsd_exporter/exporter-cases.json: its
 * events and the Prometheus series it expects, taken as facts) through sluice in process: the
 * events as StatsD lines into a statsd source with the case's mapping file, the flush into the
 * Prometheus exporter with `counter_suffix: false` (statsd_exporter's counter names), and the
 * scraped page checked for the series, types, values and sums the case expects. Its own error
 * counters are checked as sluice's counterparts. Every page taken goes through
 * `promtool check metrics` (when promtool is installed; always under CI=true). Allowed are only
 * the naming-convention warnings that statsd_exporter's pages draw for the same input: counters
 * without `_total` (its naming, counter_suffix: false), and names the cases themselves choose
 * (`foo_counter`, a gauge `histogram_test1_sum`). Any other complaint, and every format error,
 * fails the case.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Issue } from '../../config/schema.js';
import { ManualClock } from '../../core/clock.js';
import type { ComponentStats } from '../../core/stats.js';
import { testContext, testSourceContext } from '../../testing/context.js';
import { promtoolProblems } from '../../testing/promtool.js';
import { PrometheusExporter } from '../../sinks/prometheus_exporter/exporter.js';
import { StatsdSource, statsdSource, type StatsdConfig } from './index.js';
import {
  exporterCases,
  mappingText,
  statsdLine,
  type ExporterExpect,
} from '../../testing/statsd-exporter-cases.js';

const NAMING_WARNINGS = [
  /counter metrics should have "_total" suffix$/,
  /non-histogram and non-summary metrics should not have "_(sum|count)" suffix$/,
  /non-histogram metrics should not have "_bucket" suffix$/,
  /metric name should not include type '(counter|gauge|histogram|summary)'$/,
];

/** Samples of a text page by name, with their labels; and each family's TYPE. */
function parsePage(text: string): {
  samples: { name: string; labels: Record<string, string>; value: number }[];
  types: Map<string, string>;
} {
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  const types = new Map<string, string>();
  for (const l of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(l);
    if (t !== null) types.set(t[1] as string, t[2] as string);
    if (l === '' || l.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(l);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const p of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[p[1] as string] = JSON.parse(`"${p[2] as string}"`) as string;
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

/** A counter of a component's stats by name and reason. */
function stat(stats: ComponentStats, name: string, reason: string): number {
  return stats
    .snapshot()
    .filter((x) => x.name === name && x.labels.reason === reason)
    .reduce((sum, x) => sum + x.value, 0);
}

const same = (a: Record<string, string>, b: Record<string, string>): boolean =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

/** What a page lacks of a step's expectations (empty: all met). */
function check(
  expects: readonly ExporterExpect[],
  page: string,
  source: ComponentStats,
  sink: ComponentStats,
): string[] {
  const { samples, types } = parsePage(page);
  const problems: string[] = [];
  for (const x of expects) {
    if (x.name === 'statsd_exporter_events_error_total') {
      // statsd_exporter's own error counter, as sluice counts the same refusal.
      const counted =
        x.labels.reason === 'illegal_negative_counter'
          ? stat(sink, 'dropped_metrics', 'negative_counter')
          : x.labels.reason === 'empty_metric_name'
            ? stat(source, 'lines_rejected', 'empty_name')
            : NaN;
      if (counted !== x.increase) problems.push(`${x.labels.reason}: counted ${counted}, want ${x.increase}`);
      continue;
    }
    const type = x.type ?? types.get(x.name);
    const main =
      type === 'histogram' || type === 'summary'
        ? samples.filter((s) => s.name === `${x.name}_count` && same(s.labels, x.labels))
        : samples.filter((s) => s.name === x.name && same(s.labels, x.labels));
    const present = main.length > 0;
    if (x.present !== undefined && present !== x.present)
      problems.push(`${x.name}${JSON.stringify(x.labels)}: present ${present}, want ${x.present}`);
    if (x.type !== undefined && present && types.get(x.name) !== x.type)
      problems.push(`${x.name}: TYPE ${types.get(x.name)}, want ${x.type}`);
    if (x.value !== undefined && main[0]?.value !== x.value)
      problems.push(`${x.name}${JSON.stringify(x.labels)}: value ${main[0]?.value}, want ${x.value}`);
    if (x.sum !== undefined) {
      const sum = samples.find((s) => s.name === `${x.name}_sum` && same(s.labels, x.labels))?.value;
      if (sum === undefined || Math.abs(sum - x.sum) > 1e-9)
        problems.push(`${x.name}_sum: ${sum}, want ${x.sum}`);
    }
    if (
      x.quantilesNonEmpty === true &&
      !samples.some((s) => s.name === x.name && s.labels.quantile !== undefined)
    )
      problems.push(`${x.name}: no quantile`);
  }
  return problems;
}

describe("statsd_exporter's exporter test cases, through a statsd source and the Prometheus exporter", () => {
  for (const c of exporterCases) {
    it(c.test, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sluice-se-'));
      try {
        const file = join(dir, 'mapping.yml');
        writeFileSync(file, mappingText(c));
        const issues: Issue[] = [];
        const config = statsdSource.schema.parse(
          { workers: 0, mapping_config: file },
          [],
          issues,
        ) as StatsdConfig;
        assert.deepEqual(issues, []);
        const clock = new ManualClock(0);
        const sctx = testSourceContext({ clock });
        const source = new StatsdSource(config, sctx);
        const ectx = testContext({ clock, type: 'prometheus_exporter' });
        const exporter = new PrometheusExporter(
          {
            listen: { host: '127.0.0.1', port: 0 },
            path: '/metrics',
            expiry: 0,
            counter_suffix: false,
            native_histograms: true,
            native_histogram_max_buckets: 0,
            web_config_file: undefined,
          },
          ectx,
        );
        const problems: string[] = [];
        let page = '';
        const steps = c.steps ?? [{ clock: 'unix 0s', events: c.events, expect: c.expect }];
        for (const step of steps) {
          // "unix 1s + 10ns": the step's time, to the millisecond.
          const at = /^unix (\d+)s/.exec(step.clock);
          clock.advance(Number(at?.[1] ?? 0) * 1000 + 1 - clock.now());
          for (const e of step.events) source.receive(Buffer.from(statsdLine(e)));
          source.flush();
          exporter.write(sctx.metrics());
          sctx.batches.length = 0;
          page = (await exporter.handle('GET', '/metrics', undefined)).body.toString('utf8');
          for (const p of check(step.expect, page, sctx.stats, ectx.stats))
            problems.push(`at ${step.clock}: ${p}`);
          for (const p of promtoolProblems(page, NAMING_WARNINGS))
            problems.push(`at ${step.clock}: promtool: ${p}`);
        }
        assert.deepEqual(problems, [], page);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
