import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Issue } from '../config/schema.js';
import type { Metric } from '../core/metric.js';
import { StatsdParser } from '../protocols/statsd/parser.js';
import { StatsdAggregator, type AggregatorOptions } from './aggregator.js';
import { Mapper } from './mapping.js';
import { DDSketch } from './sketch.js';
import { PROMETHEUS_DEFAULT_BUCKETS, timerObserver, timersSchema, type TimersConfig } from './timers.js';

function parse(value: unknown): { config: TimersConfig | undefined; issues: string[] } {
  const issues: Issue[] = [];
  const r = timersSchema.parse(value, ['timers'], issues);
  return {
    config: issues.length === 0 ? (r as TimersConfig) : undefined,
    issues: issues.map((i) => `${i.path.join('.')}: ${i.message}`),
  };
}

function options(timers: unknown, extra: Partial<AggregatorOptions> = {}): AggregatorOptions {
  const { config } = parse(timers);
  assert.ok(config !== undefined);
  return {
    flushIntervalMs: 10_000,
    percentiles: [50, 90],
    expiryMs: 0,
    timestamps: 'forward',
    timerObserver: timerObserver(config),
    ...extra,
  };
}

function feed(agg: StatsdAggregator, text: string): void {
  const parser = new StatsdParser({ dialect: 'dogstatsd' });
  parser.parse(Buffer.from(text), {
    point: (l) => void agg.add(l),
    reject: () => {},
    event: () => {},
  });
}

/** One interval through an ingest worker and the merging thread, as with `workers` ≥ 1. */
function viaWorker(opts: AggregatorOptions, text: string): readonly Metric[] {
  const worker = new StatsdAggregator({ ...opts, role: 'partial' });
  const main = new StatsdAggregator({ ...opts, timerObserver: undefined, role: 'merging' });
  feed(worker, text);
  worker.beginDrain(0);
  for (;;) {
    const c = structuredClone(worker.drainSome(1));
    main.mergeChunk(0, c);
    if (c.last) break;
  }
  return main.flush(0);
}

const LINES = 'api.latency:20|ms\napi.latency:300|ms|@0.5\napi.latency:4000|ms\n';

describe('the timers option: what a timer becomes by default', () => {
  it('is a millisecond summary unless asked otherwise (Etsy statsd)', () => {
    const { config } = parse({});
    assert.deepEqual(config, {
      type: 'summary',
      unit: 'ms',
      buckets: undefined,
      native_histogram_bucket_factor: 0,
      native_histogram_max_buckets: 0,
    });
    assert.equal(timerObserver(config as TimersConfig), undefined);
  });

  it('type histogram, unit s: Prometheus buckets in seconds, _sum / _count the true mean; in one thread and across workers', () => {
    const opts = options({ type: 'histogram', unit: 's' });
    const single = new StatsdAggregator(opts);
    feed(single, LINES);
    for (const batch of [single.flush(0), viaWorker(opts, LINES)]) {
      const m = batch.find((x) => x.name === 'api.latency');
      assert.ok(m?.kind === 'histogram', JSON.stringify(m));
      assert.deepEqual(
        m.histogram.bins.map((b) => b.le),
        [...PROMETHEUS_DEFAULT_BUCKETS, Infinity],
      );
      const counts = Object.fromEntries(m.histogram.bins.map((b) => [b.le, b.count]));
      assert.equal(counts[0.025], 1);
      assert.equal(counts[0.5], 2); // 0.3 s at @0.5
      assert.equal(counts[5], 1);
      assert.equal(m.histogram.count, 4);
      // The mean of the 4 timings the client made (20, 300, 300, 4000 ms), in seconds.
      assert.ok(Math.abs(m.histogram.sum / m.histogram.count - 4.62 / 4) < 1e-12);
      assert.equal(m.histogram.native, undefined);
    }
  });

  it('type summary, unit s: the summary in seconds', () => {
    const agg = new StatsdAggregator(options({ unit: 's' }));
    feed(agg, LINES);
    const m = agg.flush(0).find((x) => x.name === 'api.latency');
    assert.ok(m?.kind === 'summary');
    assert.equal(m.summary.max, 4);
    assert.ok(Math.abs(m.summary.weightedSum - 4.62) < 1e-12);
  });

  it('a native histogram beside the buckets, at the schema of its bucket factor, also under sluice mappings', () => {
    const opts = options(
      { type: 'histogram', unit: 's', buckets: [0.1, 1], native_histogram_bucket_factor: 1.1 },
      { mapper: new Mapper([{ match: 'api.*', name: 'api_$1_seconds', action: 'map', honor_tags: false }]) },
    );
    const single = new StatsdAggregator(opts);
    feed(single, LINES);
    const want = new DDSketch({ schema: 3 });
    want.add(0.02);
    want.add(0.3, 2);
    want.add(4);
    for (const batch of [single.flush(0), viaWorker(opts, LINES)]) {
      const m = batch.find((x) => x.name === 'api_latency_seconds');
      assert.ok(m?.kind === 'histogram', JSON.stringify(batch.map((x) => x.name)));
      assert.deepEqual(
        m.histogram.bins.map((b) => [b.le, b.count]),
        [
          [0.1, 1],
          [1, 2],
          [Infinity, 1],
        ],
      );
      assert.deepEqual(m.histogram.native, want.exponential());
    }
  });

  it('refuses options that only a histogram takes on a summary', () => {
    assert.deepEqual(parse({ native_histogram_bucket_factor: 1.1 }).issues, [
      'timers.native_histogram_bucket_factor: needs type: histogram',
    ]);
    assert.deepEqual(parse({ buckets: [1, 2] }).issues, ['timers.buckets: needs type: histogram']);
    assert.equal(parse({ type: 'histogram', buckets: [2, 1] }).issues.length, 1);
    assert.deepEqual(parse({ unit: 'us' }).issues.length, 1);
  });
});
