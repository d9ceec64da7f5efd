/**
 * The `console` sink: prints every flushed batch on stdout, one line per metric, as readable
 * text, InfluxDB line protocol or JSON. It is the operator's first debugging tool ("what is
 * sluice actually sending?") and what `sluice test` prints. Logs go to stderr, so stdout holds
 * only metrics and can be piped to jq or to an Influx client.
 *
 * At shutdown, stop() waits until stdout has taken the last batch, so the final counters are
 * printed before the process exits.
 */
import { defineSink } from '../../core/definition.js';
import { encodeBatch } from '../../protocols/influx/line.js';
import { ConsoleSink } from './console.js';
import { formatEvents, formatJson, formatText } from './format.js';
import { sample, schema } from './schema.js';

export const consoleSink = defineSink({
  type: 'console',
  description: 'Prints every batch on stdout: readable text, InfluxDB line protocol or JSON lines.',
  schema,
  sample,
  create: (config, ctx) => new ConsoleSink(config, ctx),
  preview: (config, batch, events) => {
    const metrics =
      config.format === 'json'
        ? formatJson(batch)
        : config.format === 'influx'
          ? encodeBatch(batch).text
          : formatText(batch);
    return metrics + formatEvents(events, config.format === 'json');
  },
});
