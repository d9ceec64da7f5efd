/**
 * The Kafka sink's `format: state`: what an agent publishes for a tier of sluice aggregators
 * (docs/fleet.md). Each selected metric becomes one message holding its interval's mergeable
 * state (src/protocols/state), keyed by its global series: its name and its tags without the
 * ones each agent has its own of (`drop_tags`, host by default). One series therefore lands on
 * one partition from every agent, and the aggregator that owns the partition sees all of it.
 *
 * Metrics the selectors do not match stay local (the encoder declines them, uncounted); selected
 * ones without mergeable state (a cumulative counter from /proc, a summary from a source that
 * keeps no samples) are counted as unencodable.
 */
import { MetricSelector, type SelectorConfig } from '../../core/filter.js';
import { processIdentity } from '../../core/identity.js';
import type { Metric } from '../../core/metric.js';
import type { Tags } from '../../core/tags.js';
import { encodeTags, escapeMeasurement } from '../../protocols/influx/line.js';
import { StateWriter } from '../../protocols/state/codec.js';
import type { PushEncoder } from '../push/push.js';
import { packMessage } from './encoder.js';
import { renderTopic, type TopicTemplate } from './topic.js';

/** The bins a distribution's sketch is rebuilt with on the aggregator (DDSketch's default). */
const SKETCH_MAX_BINS = 4096;

export interface StateOptions {
  readonly metrics: readonly SelectorConfig[];
  readonly drop_tags: readonly string[];
  readonly timers: 'samples' | 'sketch';
  readonly set_exact_limit: number;
}

export class KafkaStateEncoder implements PushEncoder {
  private readonly selector: MetricSelector;
  private readonly dropped: ReadonlySet<string>;
  private readonly writer: StateWriter;

  constructor(
    private readonly topic: TopicTemplate,
    private readonly fallbackTopic: string,
    state: StateOptions,
    readonly agent: string = processIdentity(),
  ) {
    this.selector = new MetricSelector(state.metrics);
    this.dropped = new Set(state.drop_tags);
    this.writer = new StateWriter({
      agent,
      setExactLimit: state.set_exact_limit,
      sketchMaxBins: SKETCH_MAX_BINS,
      timers: state.timers,
    });
  }

  /** The global series' tags: the metric's, less the dropped keys. */
  globalTags(tags: Tags): Tags {
    if (this.dropped.size === 0) return tags;
    let out: Tags[number][] | undefined;
    for (let i = 0; i < tags.length; i++) {
      const t = tags[i] as Tags[number];
      if (!this.dropped.has(t[0])) out?.push(t);
      else out ??= tags.slice(0, i);
    }
    return out ?? tags;
  }

  /** The message's topic, key and value; null when the metric stays local, undefined when it has no state. */
  message(m: Metric): { topic: string; key: string; value: Buffer } | undefined | null {
    if (!this.selector.matches(m.name, m.tags)) return null;
    const tags = this.globalTags(m.tags);
    const value = this.writer.series(m, m.name, tags);
    if (typeof value === 'string') return undefined;
    const topic =
      renderTopic(this.topic, m.name, m.tags) ?? (this.fallbackTopic === '' ? undefined : this.fallbackTopic);
    if (topic === undefined) return undefined;
    return { topic, key: escapeMeasurement(m.name) + encodeTags(tags), value };
  }

  encode(m: Metric): Uint8Array | undefined | null {
    const msg = this.message(m);
    if (msg === null || msg === undefined) return msg;
    return packMessage(msg.topic, msg.key, msg.value, m.timestamp);
  }
}
