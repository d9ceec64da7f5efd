/**
 * `sluice explain '<datagram>'`: what one StatsD datagram becomes, step by step, under the
 * configured StatsD source — how each line parses in its dialect, which mapping rule each name
 * hits, the metrics and events one flush would produce (with the agent's filters and metadata),
 * and what every configured sink would send for them. Nothing listens or connects.
 */
import type { AgentConfig, ComponentConfig } from '../config/load.js';
import { metadataTags, stateWanted } from '../core/agent.js';
import { systemClock } from '../core/clock.js';
import type { SourceDefinition } from '../core/definition.js';
import type { Event } from '../core/event.js';
import { Filter } from '../core/filter.js';
import { silentLogger } from '../core/logger.js';
import { Mapper } from '../aggregation/mapping.js';
import { ExporterMapper } from '../aggregation/exporter-mapping.js';
import type { Batch, Metric } from '../core/metric.js';
import { Pipeline } from '../core/pipeline.js';
import { ComponentStats } from '../core/stats.js';
import { explainDatagram } from '../protocols/statsd/explain.js';
import {
  STATSD_TYPE_CODES,
  StatsdParser,
  type StatsdDialect,
  type StatsdMode,
} from '../protocols/statsd/parser.js';
import { formatEventJson, formatEvents, formatJsonLine, formatText } from '../sinks/console/format.js';
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

/** Overrides for the source's own options, from the command line. */
export interface ExplainOptions {
  readonly source?: string | undefined;
  readonly dialect?: StatsdDialect | undefined;
  readonly mode?: StatsdMode | undefined;
}

/** One outcome of parsing: a value of a line, a rejected line, or an event. */
export interface ParsedOutcome {
  /** The line as received (absent for events, which the parser hands over whole). */
  readonly line?: string;
  /** The metric name as parsed (before mapping). */
  readonly name?: string;
  readonly type?: string;
  /** docs/protocol.md's notation: `c 1 ×2 {env=prod}`, `✗ bad_value`, `event "title"`. */
  readonly outcome: string;
  readonly rejected?: string;
  /** Parsed, then refused when aggregated (`type_conflict`, `series_limit`, `empty_name`). */
  readonly refused?: string;
}

export interface MappingOutcome {
  readonly name: string;
  readonly type: string;
  /** The rule hit (its index in the source's rules or the mapping file), or null. */
  readonly rule: number | null;
  readonly to: { readonly name: string; readonly tags: Readonly<Record<string, string>> } | 'dropped' | null;
}

/** What one datagram becomes, step by step (`sluice explain --json` prints it as it is). */
export interface Explanation {
  readonly source: string;
  readonly dialect: StatsdDialect;
  readonly mode: StatsdMode;
  readonly mappingKind: 'none' | 'mappings' | 'mapping_config';
  readonly parsed: readonly ParsedOutcome[];
  readonly mappings: readonly MappingOutcome[];
  /** The metrics one flush hands the sinks, after filters and agent tags. */
  readonly metrics: readonly Metric[];
  readonly events: readonly Event[];
  readonly sinks: readonly {
    readonly id: string;
    readonly type: string;
    readonly output: string | null;
    readonly bytes: number;
  }[];
}

/** The explanation, or an error message. */
export function explainData(
  datagram: Buffer,
  config: AgentConfig,
  options: ExplainOptions = {},
): Explanation | { error: string } {
  const picked = pickSource(config, options.source);
  if (typeof picked === 'string') return { error: picked };
  const { id } = picked;
  const source: StatsdConfig = {
    ...picked.options,
    ...(options.dialect !== undefined ? { dialect: options.dialect } : {}),
    ...(options.mode !== undefined ? { mode: options.mode } : {}),
  };
  const parserOptions = {
    dialect: source.dialect,
    mode: source.mode,
    timestampWindowMs: source.timestamp_window,
    nameTags: source.name_tags,
  };
  const notation = explainDatagram(datagram, parserOptions);
  const parsed: { line?: string; name?: string; type?: string; outcome: string; rejected?: string }[] = [];
  const mapper =
    source.mapping_config !== undefined
      ? new ExporterMapper(source.mapping_config)
      : source.mappings.length > 0
        ? new Mapper(source.mappings)
        : undefined;
  const mappings: MappingOutcome[] = [];
  new StatsdParser(parserOptions).parse(datagram, {
    point: (line) => {
      const name = line.name();
      const type = STATSD_TYPE_CODES[line.type];
      parsed.push({ line: line.text(), name, type, outcome: notation[parsed.length] ?? '' });
      if (mapper === undefined) return;
      const result = mapper.map(name, type);
      const rule =
        mapper instanceof Mapper ? mapper.ruleFor(name, type) : (mapper.ruleFor(name, type)?.index ?? -1);
      mappings.push({
        name,
        type,
        rule: rule < 0 ? null : rule,
        to:
          result === 'drop'
            ? 'dropped'
            : result === undefined
              ? null
              : { name: result.name, tags: Object.fromEntries(result.tags) },
      });
    },
    reject: (reason, buf, start, end) =>
      void parsed.push({
        line: buf.toString('utf8', start, end),
        outcome: notation[parsed.length] ?? '',
        rejected: reason,
      }),
    event: () => void parsed.push({ outcome: notation[parsed.length] ?? '' }),
  });

  // One flush of a source that never listens, through the agent's own filter and metadata.
  const batches: Batch[] = [];
  const events: Event[] = [];
  const statsd = new StatsdSource(source, {
    id,
    log: silentLogger,
    clock: systemClock,
    stats: new ComponentStats(id, 'statsd'),
    fail: () => {},
    emit: (b) => batches.push(b),
    emitEvents: (e) => events.push(...e),
    // As the agent does: a sink that publishes mergeable state has the source attach it.
    mergeableState: stateWanted(config),
  });
  statsd.receive(datagram);
  // Lines the parser took but the aggregator refused (a name held by another type, say).
  const refused = statsd
    .recentRejections()
    .filter((r) => !parsed.some((p) => p.rejected === r.reason && p.line === r.line));
  const outcomes: ParsedOutcome[] = parsed.map((p) => {
    const i = refused.findIndex((r) => r.line === p.line && p.rejected === undefined);
    if (i < 0) return p;
    const [r] = refused.splice(i, 1);
    return { ...p, refused: r?.reason };
  });
  statsd.flush();
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
  const metrics = delivered.flat();
  return {
    source: id,
    dialect: source.dialect,
    mode: source.mode,
    mappingKind:
      source.mapping_config !== undefined
        ? 'mapping_config'
        : source.mappings.length > 0
          ? 'mappings'
          : 'none',
    parsed: outcomes,
    mappings,
    metrics,
    events: deliveredEvents,
    sinks: config.sinks.map((sink) => {
      const output = sink.definition.preview?.(sink.options as never, metrics, deliveredEvents) ?? null;
      return { id: sink.id, type: sink.type, output, bytes: output === null ? 0 : Buffer.byteLength(output) };
    }),
  };
}

/** The explanation for a person. */
export function explainText(e: Explanation): string {
  let out = `Source "${e.source}": dialect ${e.dialect}, mode ${e.mode}\n\n`;
  out += 'Parsed:\n';
  out += indent(
    e.parsed
      .map((p) => {
        const what =
          p.name !== undefined
            ? `${p.name}: ${p.outcome}`
            : p.line !== undefined
              ? `${JSON.stringify(p.line)}: ${p.outcome}`
              : p.outcome;
        return p.refused !== undefined ? `${what}, then refused when aggregated: ✗ ${p.refused}` : what;
      })
      .join('\n'),
  );
  out += '\nMapping rules:\n';
  if (e.mappingKind === 'none') out += '  (none configured: names are kept as sent)\n';
  else
    out += indent(
      e.mappings
        .map((m) => {
          const to =
            m.to === 'dropped'
              ? 'dropped'
              : m.to === null
                ? 'kept as is'
                : `${m.to.name}${
                    Object.keys(m.to.tags).length > 0
                      ? ` {${Object.entries(m.to.tags)
                          .map(([k, v]) => `${k}=${v}`)
                          .join(', ')}}`
                      : ''
                  }`;
          return `${m.name} (${m.type}): ${m.rule === null ? 'no rule matches' : `rule ${m.rule}`} → ${to}`;
        })
        .join('\n'),
    );
  out += '\nAfter one flush (filters and agent tags applied):\n';
  out += indent(formatText(e.metrics) + formatEvents(e.events, false));
  for (const sink of e.sinks) {
    out += `\nSink "${sink.id}" (${sink.type}) would send${sink.output === null ? '' : ` (${sink.bytes} bytes)`}:\n`;
    out += sink.output === null ? '  (this sink cannot preview its output)\n' : indent(sink.output);
  }
  return out;
}

/** The explanation as JSON: metrics and events as the console sink's JSON writes them. */
export function explainJson(e: Explanation): string {
  return (
    JSON.stringify(
      {
        ...e,
        metrics: e.metrics.map((m) => JSON.parse(formatJsonLine(m)) as unknown),
        events: e.events.map((x) => JSON.parse(formatEventJson(x)) as unknown),
      },
      null,
      2,
    ) + '\n'
  );
}

/** The whole explanation as text, or an error message (the `ok` flag says which). */
export function explain(
  datagram: Buffer,
  config: AgentConfig,
  sourceId?: string,
): { ok: true; text: string } | { ok: false; error: string } {
  const e = explainData(datagram, config, { source: sourceId });
  return 'error' in e ? { ok: false, error: e.error } : { ok: true, text: explainText(e) };
}
