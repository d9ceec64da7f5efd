/**
 * `sluice explain '<datagram>'`: what one StatsD datagram becomes, step by step, under the
 * configured StatsD source — how each line parses in its dialect, which mapping rule each name
 * hits, the metrics and events one flush would produce (with the agent's filters and metadata),
 * and what every configured sink would send for them. Nothing listens or connects.
 */
import type { AgentConfig, ComponentConfig } from '../config/load.js';
import { metadataTags } from '../core/agent.js';
import { systemClock } from '../core/clock.js';
import type { SourceDefinition } from '../core/definition.js';
import type { Event } from '../core/event.js';
import { Filter } from '../core/filter.js';
import { silentLogger } from '../core/logger.js';
import { Mapper } from '../aggregation/mapping.js';
import type { Batch } from '../core/metric.js';
import { Pipeline } from '../core/pipeline.js';
import { ComponentStats } from '../core/stats.js';
import { explainDatagram } from '../protocols/statsd/explain.js';
import { STATSD_TYPE_CODES, StatsdParser } from '../protocols/statsd/parser.js';
import { formatEvents, formatText } from '../sinks/console/format.js';
import { StatsdSource, statsdSource, type StatsdConfig } from '../sources/statsd/index.js';

/** Turns the escapes a shell user types (`\n`, `\t`, `\\`) into the bytes they stand for. */
export function unescapeDatagram(text: string): Buffer {
  return Buffer.from(
    text.replace(/\\(n|r|t|\\)/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t', '\\': '\\' })[c] ?? c),
  );
}

function indent(text: string): string {
  const body = text.replace(/\n$/, '');
  return body === '' ? '  (nothing)\n' : body.replace(/^/gm, '  ') + '\n';
}

function pickSource(
  config: AgentConfig,
  id: string | undefined,
): { id: string; options: StatsdConfig } | string {
  const statsd = config.sources.filter(
    (c) => c.type === statsdSource.type,
  ) as ComponentConfig<SourceDefinition>[];
  if (id !== undefined) {
    const found = config.sources.find((c) => c.id === id);
    if (found === undefined) return `no source named "${id}" in the config`;
    if (found.type !== statsdSource.type) return `source "${id}" is a ${found.type} source, not statsd`;
    return { id, options: found.options as StatsdConfig };
  }
  const first = statsd[0];
  if (first !== undefined) return { id: first.id, options: first.options as StatsdConfig };
  // No StatsD source configured: explain with its defaults.
  return { id: '(statsd defaults)', options: statsdSource.schema.parse({}, [], []) as StatsdConfig };
}

/** The whole explanation as text, or an error message (the `ok` flag says which). */
export function explain(
  datagram: Buffer,
  config: AgentConfig,
  sourceId?: string,
): { ok: true; text: string } | { ok: false; error: string } {
  const picked = pickSource(config, sourceId);
  if (typeof picked === 'string') return { ok: false, error: picked };
  const { id, options } = picked;
  let out = `Source "${id}": dialect ${options.dialect}, mode ${options.mode}\n\n`;

  out += 'Parsed:\n';
  out += indent(
    explainDatagram(datagram, {
      dialect: options.dialect,
      mode: options.mode,
      timestampWindowMs: options.timestamp_window,
    }).join('\n'),
  );

  out += '\nMapping rules:\n';
  if (options.mappings.length === 0) {
    out += '  (none configured: names are kept as sent)\n';
  } else {
    const mapper = new Mapper(options.mappings);
    const seen: string[] = [];
    new StatsdParser({
      dialect: options.dialect,
      mode: options.mode,
      timestampWindowMs: options.timestamp_window,
    }).parse(datagram, {
      point: (line) => {
        const name = line.name();
        const type = STATSD_TYPE_CODES[line.type];
        const rule = mapper.ruleFor(name, type);
        const result = mapper.map(name, type);
        const to =
          result === 'drop'
            ? 'dropped'
            : result === undefined
              ? 'kept as is'
              : `${result.name}${result.tags.length > 0 ? ` {${result.tags.map(([k, v]) => `${k}=${v}`).join(', ')}}` : ''}`;
        seen.push(`${name} (${type}): ${rule < 0 ? 'no rule matches' : `rule ${rule}`} → ${to}`);
      },
      reject: () => {},
      event: () => {},
    });
    out += indent(seen.join('\n'));
  }

  // One flush of a source that never listens, through the agent's own filter and metadata.
  const batches: Batch[] = [];
  const events: Event[] = [];
  const source = new StatsdSource(options, {
    id,
    log: silentLogger,
    clock: systemClock,
    stats: new ComponentStats(id, 'statsd'),
    fail: () => {},
    emit: (b) => batches.push(b),
    emitEvents: (e) => events.push(...e),
  });
  source.receive(datagram);
  source.flush();
  const delivered: Batch[] = [];
  const deliveredEvents: Event[] = [];
  const pipeline = new Pipeline(new Filter(config.filters), metadataTags(config), [
    {
      carriesEvents: true,
      write: (b) => delivered.push(b),
      writeEvents: (e) => deliveredEvents.push(...e),
    },
  ]);
  for (const b of batches) pipeline.push(b);
  pipeline.pushEvents(events);
  const batch = delivered.flat();
  out += '\nAfter one flush (filters and agent tags applied):\n';
  out += indent(formatText(batch) + formatEvents(deliveredEvents, false));

  for (const sink of config.sinks) {
    out += `\nSink "${sink.id}" (${sink.type}) would send:\n`;
    const preview = sink.definition.preview;
    out +=
      preview === undefined
        ? '  (this sink cannot preview its output)\n'
        : indent(preview(sink.options as never, batch, deliveredEvents));
  }
  return { ok: true, text: out };
}
