/**
 * The `kafka` source: a sluice aggregator, merging the interval state agents publish to Kafka
 * into global series (docs/fleet.md).
 */
import { defineSource } from '../../core/definition.js';
import { sample, schema } from './schema.js';
import { KafkaAggregatorSource } from './source.js';

export const kafkaSource = defineSource({
  type: 'kafka',
  description:
    "An aggregator: merges the interval state agents publish to Kafka (a kafka sink's format: state) into global series per window.",
  schema,
  sample,
  create: (config, ctx) => new KafkaAggregatorSource(config, ctx),
});
