/**
 * How a component type is declared: its config schema, the sample block `sluice generate`
 * prints, and a factory. The registry (`src/registry.ts`) maps each config `type` to one of these.
 */
import type { NameScope } from './filter.js';
import type { ObjectSchema, Fields, InferFields } from '../config/schema.js';
import type { ComponentContext, RawProtocol, Sink, Source, SourceContext } from './component.js';
import type { Event } from './event.js';
import type { Batch } from './metric.js';

interface DefinitionBase<F extends Fields> {
  /** The value of `type:` in the config. */
  readonly type: string;
  /** One line for `sluice --help` and the docs. */
  readonly description: string;
  readonly schema: ObjectSchema<F>;
  /**
   * A commented YAML block, indented two spaces, starting with the instance name, as it
   * appears under `sources:` or `sinks:`. It must validate, and it documents every option.
   */
  readonly sample: string;
}

export interface SourceDefinition<F extends Fields = Fields> extends DefinitionBase<F> {
  readonly kind: 'source';
  create(config: InferFields<F>, ctx: SourceContext): Source;
}

export interface SinkDefinition<F extends Fields = Fields> extends DefinitionBase<F> {
  readonly kind: 'sink';
  create(config: InferFields<F>, ctx: ComponentContext): Sink;
  /**
   * What the sink would send or show for this batch and these events, as text, without any
   * I/O (`sluice explain`). Pure: built from the same encoders the sink uses.
   */
  preview?(config: InferFields<F>, batch: Batch, events: readonly Event[]): string;
  /**
   * The protocols whose raw lines this sink takes with this config (a repeater), known before
   * anything starts so that sources produce raw lines only when a sink wants them. Such a sink
   * implements `writeRaw`.
   */
  rawProtocols?(config: InferFields<F>): readonly RawProtocol[];
  /**
   * Whether this sink, with this config, publishes mergeable interval state (the Kafka sink's
   * `format: state`): aggregating sources then attach it to their metrics (GaugeMetric.set,
   * SummaryMetric.samples, …), which costs nothing while no sink asks.
   */
  publishesState?(config: InferFields<F>): boolean;
  /** Whether it sends timers as sketches (attached by the sources only then). */
  sketchesTimers?(config: InferFields<F>): boolean;
  /**
   * For a sink that publishes state: which series of a metric name go global (all, some by
   * their tags, none). The status page shows it beside the busiest names.
   */
  globalScope?(config: InferFields<F>, name: string): NameScope | undefined;
}

export function defineSource<F extends Fields>(def: Omit<SourceDefinition<F>, 'kind'>): SourceDefinition<F> {
  return { ...def, kind: 'source' };
}

export function defineSink<F extends Fields>(def: Omit<SinkDefinition<F>, 'kind'>): SinkDefinition<F> {
  return { ...def, kind: 'sink' };
}
