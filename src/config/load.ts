/**
 * Loads the agent's YAML config: parse, interpolate `${VAR}` in string values, validate every
 * block against its schema, and freeze. Every problem is reported at once, each with the file,
 * line and config path (`sluice.yaml:7:20: sources.statsd.flush_interval: expected …`).
 *
 * Interpolation happens on parsed scalars, not on the raw text: a value can never change the
 * structure of the document, and line numbers stay true. An unquoted scalar that was only a
 * reference (`port: ${PORT}`) is re-typed after substitution, so numbers stay numbers.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, parse as parseYaml, type Node } from 'yaml';
import type { FilterRuleConfig } from '../core/filter.js';
import type { LogLevel } from '../core/logger.js';
import { LOG_LEVELS } from '../core/logger.js';
import type { SinkDefinition, SourceDefinition } from '../core/definition.js';
import type { RestartPolicy } from '../core/supervisor.js';
import { interpolate, type Env } from './interpolate.js';
import {
  formatPath,
  INVALID,
  PlainScalar,
  s,
  suggest,
  type Issue,
  type ListenAddress,
  type Path,
} from './schema.js';
import { webConfigFileSchema, type WebConfig } from '../core/web.js';

export interface Registry {
  readonly sources: readonly SourceDefinition[];
  readonly sinks: readonly SinkDefinition[];
}

export interface ComponentConfig<D> {
  readonly id: string;
  readonly type: string;
  readonly definition: D;
  readonly options: Readonly<Record<string, unknown>>;
}

export interface AgentSettings {
  readonly hostname: string;
  readonly hostTag: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly logLevel: LogLevel;
  readonly shutdownTimeoutMs: number;
  readonly restart: RestartPolicy;
  /** What a component that fails its first start does to the agent (see the schema's doc). */
  readonly startupErrorBehavior: 'error' | 'retry';
  /** Where the admin endpoint listens; undefined when it is off. */
  readonly adminListen: ListenAddress | undefined;
  readonly adminWebConfig: WebConfig | undefined;
}

export interface AgentConfig {
  readonly agent: AgentSettings;
  readonly sources: readonly ComponentConfig<SourceDefinition>[];
  readonly sinks: readonly ComponentConfig<SinkDefinition>[];
  readonly filters: readonly FilterRuleConfig[];
}

export interface ConfigProblem {
  readonly file: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly path: string;
  readonly message: string;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line !== undefined ? `${p.file}:${p.line}:${p.column ?? 1}` : p.file;
  return p.path === '' ? `${where}: ${p.message}` : `${where}: ${p.path}: ${p.message}`;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

const COMPONENT_ID = /^[A-Za-z0-9_-]+$/;

export const agentSchema = s.object({
  hostname: s.string({
    default: '',
    doc: 'Host name added to every metric as the tag named by host_tag. Empty: the machine’s host name.',
  }),
  host_tag: s.string({
    default: 'host',
    doc: 'Tag key for the host name. Empty: do not add a host tag.',
  }),
  tags: s.record(s.string(), { default: {}, doc: 'Tags added to every metric (a metric’s own tags win).' }),
  log_level: s.oneOf(LOG_LEVELS, { default: 'info', doc: 'Least severe log level written to stderr.' }),
  shutdown_timeout: s.duration({
    default: 10_000,
    doc: 'How long sinks may take to deliver what they hold at shutdown before sluice exits non-zero.',
  }),
  restart_backoff_min: s.duration({
    default: 1000,
    doc: 'First delay before restarting a failed component.',
  }),
  restart_backoff_max: s.duration({ default: 60_000, doc: 'Cap of the doubling restart delay.' }),
  restart_max_failures: s.number({
    integer: true,
    min: 0,
    default: 10,
    doc: 'Give up on a component that fails more often than this within restart_window.',
  }),
  admin_listen: s.listen({
    optional: true,
    doc: 'Where the admin endpoint listens (the status page at /, /-/healthy, /-/ready, POST /-/reload, the JSON API under /api/v1/), e.g. "127.0.0.1:8126"; off when unset. Keep it on loopback unless admin_web_config_file requires authentication. A change needs a restart.',
  }),
  admin_web_config_file: webConfigFileSchema(
    "TLS and basic authentication for the admin endpoint: a web configuration file in the Prometheus exporter toolkit's format (tls_server_config, basic_auth_users). '' for plain HTTP without authentication. A change needs a restart.",
  ),
  startup_error_behavior: s.oneOf(['error', 'retry'] as const, {
    default: 'error',
    doc: "A component that fails its first start (a port taken, a socket it cannot create): 'error' stops sluice with exit 1 and says which and why; 'retry' restarts it with backoff while the rest runs.",
  }),
  restart_window: s.duration({
    default: 600_000,
    doc: 'Window over which failures are counted; a component that runs this long without failing restarts its backoff from restart_backoff_min.',
  }),
});

const filterSchema = s.object({
  action: s.oneOf(['drop', 'rename', 'drop_tags', 'keep_tags'] as const, {
    doc: "What to do with matching metrics: drop them, rename them, or drop_tags / keep_tags (Telegraf's tagexclude / taginclude) by tag_keys.",
  }),
  name: s.pattern({ optional: true, doc: 'Metric name pattern: a glob (`*`, `?`) or a /regex/.' }),
  tags: s.record(s.pattern(), { optional: true, doc: 'Tag patterns that must all match.' }),
  to: s.string({ optional: true, doc: 'New name for `rename` (`$1`… refer to groups of a /regex/ name).' }),
  tag_keys: s.array(s.pattern(), {
    optional: true,
    doc: 'Tag key patterns for drop_tags (remove the tags whose key matches one) and keep_tags (keep only those).',
  }),
});

const TOP_LEVEL = ['agent', 'sources', 'sinks', 'filters'] as const;

/** Re-types a substituted plain scalar the way YAML would have typed it if written literally. */
function retype(text: string): unknown {
  try {
    const v: unknown = parseYaml(text);
    return v === null || typeof v === 'object' ? text : v;
  } catch {
    return text;
  }
}

/** Walks the document, interpolating scalars, and builds the plain JS value. */
function toValue(node: Node | null | undefined, path: Path, env: Env, issues: Issue[]): unknown {
  if (node === null || node === undefined) return null;
  if (isMap(node)) {
    const out: Record<string, unknown> = {};
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      out[key] = toValue(pair.value as Node | null, [...path, key], env, issues);
    }
    return out;
  }
  if (isSeq(node)) return node.items.map((item, i) => toValue(item as Node, [...path, i], env, issues));
  if (isScalar(node)) {
    const v = node.value;
    // A number keeps its text for string fields: `password: 00918273` is not 918273.
    if (typeof v === 'number' && node.type === 'PLAIN' && typeof node.source === 'string')
      return new PlainScalar(node.source, v);
    if (typeof v !== 'string' || !v.includes('$')) return v;
    const r = interpolate(v, env);
    for (const name of r.missing) {
      issues.push({
        path,
        message: `environment variable ${name} is not set (use \${${name}:-default} for a default)`,
      });
    }
    for (const bad of r.malformed)
      issues.push({ path, message: `malformed variable reference ${JSON.stringify(bad)}` });
    if (node.type !== 'PLAIN') return r.value;
    const typed = retype(r.value);
    // `${NUM}` reads as a number where a number is wanted, and as written where text is.
    return typeof typed === 'number' ? new PlainScalar(r.value, typed) : typed;
  }
  return null;
}

export interface LoadOptions {
  readonly file: string;
  readonly env: Env;
  readonly registry: Registry;
  /** Host name to use when the config leaves it empty. */
  readonly defaultHostname: string;
}

/** Parses and validates config text. Throws ConfigError listing every problem. */
export function loadConfig(text: string, options: LoadOptions): AgentConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  for (const e of [...doc.errors, ...doc.warnings]) {
    const pos = lineCounter.linePos(e.pos[0]);
    problems.push({
      file: options.file,
      line: pos.line,
      column: pos.col,
      path: '',
      message: `YAML ${e instanceof Error && doc.errors.includes(e) ? 'syntax error' : 'warning'}: ${e.message.split('\n')[0]}`,
    });
  }
  if (doc.errors.length > 0) throw new ConfigError(problems);

  const issues: Issue[] = [];
  const root = toValue(doc.contents as Node | null, [], options.env, issues) ?? {};
  const config = validate(root, options, issues);

  const found: ConfigProblem[] = [];
  for (const issue of issues) {
    const node =
      issue.at === 'key' ? keyNode(doc, issue.path) : (doc.getIn(issue.path, true) as Node | undefined);
    let offset = node?.range?.[0];
    if (offset === undefined && issue.path.length > 0) {
      const parent = doc.getIn(issue.path.slice(0, -1), true) as Node | undefined;
      offset = parent?.range?.[0];
    }
    const pos = offset !== undefined ? lineCounter.linePos(offset) : undefined;
    found.push({
      file: options.file,
      line: pos?.line,
      column: pos?.col,
      path: formatPath(issue.path),
      message: issue.message,
    });
  }
  // Report in file order, whichever check found the problem.
  found.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  problems.push(...found);
  if (problems.length > 0 || config === undefined) throw new ConfigError(problems);
  return deepFreeze(config);
}

/** The key node of the last path segment, for problems about a key rather than its value. */
function keyNode(doc: ReturnType<typeof parseDocument>, path: Path): Node | undefined {
  const parent = path.length > 1 ? doc.getIn(path.slice(0, -1), true) : doc.contents;
  if (!isMap(parent)) return undefined;
  const last = String(path[path.length - 1]);
  const pair = parent.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === last);
  return (pair?.key as Node | undefined) ?? undefined;
}

function validate(root: unknown, options: LoadOptions, issues: Issue[]): AgentConfig | undefined {
  if (typeof root !== 'object' || root === null || Array.isArray(root)) {
    issues.push({ path: [], message: 'expected a mapping with keys agent, sources, sinks, filters' });
    return undefined;
  }
  const top = root as Record<string, unknown>;
  for (const key of Object.keys(top)) {
    if (!(TOP_LEVEL as readonly string[]).includes(key)) {
      const hint = suggest(key, TOP_LEVEL);
      issues.push({
        path: [key],
        at: 'key',
        message: `unknown key${hint !== undefined ? ` (did you mean "${hint}"?)` : ''}; known keys: ${TOP_LEVEL.join(', ')}`,
      });
    }
  }
  const agent = agentSchema.parse(top.agent ?? {}, ['agent'], issues);
  const sources = components('sources', top.sources, options.registry.sources, issues);
  const sinks = components('sinks', top.sinks, options.registry.sinks, issues);
  const filters = s.array(filterSchema, { default: [] }).parse(top.filters ?? [], ['filters'], issues);
  // Rules that are well-typed but meaningless; checked on the raw list so they are reported
  // alongside type errors in the same rule.
  if (Array.isArray(top.filters)) {
    top.filters.forEach((raw: unknown, i) => {
      if (typeof raw !== 'object' || raw === null) return;
      const f = raw as Record<string, unknown>;
      if (f.action === 'rename' && f.to === undefined)
        issues.push({ path: ['filters', i], message: 'rename needs `to`' });
      if (f.action === 'drop' && f.to !== undefined)
        issues.push({ path: ['filters', i, 'to'], message: '`to` only applies to rename' });
      const onTags = f.action === 'drop_tags' || f.action === 'keep_tags';
      if (f.name === undefined && f.tags === undefined && !onTags)
        issues.push({ path: ['filters', i], message: 'a rule needs `name` or `tags` to match' });
      if (onTags && !(Array.isArray(f.tag_keys) && f.tag_keys.length > 0))
        issues.push({ path: ['filters', i, 'tag_keys'], message: `\`${f.action}\` needs tag_keys` });
      if (!onTags && f.tag_keys !== undefined)
        issues.push({
          path: ['filters', i, 'tag_keys'],
          message: '`tag_keys` only applies to drop_tags and keep_tags',
        });
    });
  }
  if (agent === INVALID || filters === INVALID || issues.length > 0) return undefined;
  return {
    agent: {
      hostname: agent.hostname !== '' ? agent.hostname : options.defaultHostname,
      hostTag: agent.host_tag,
      tags: agent.tags,
      logLevel: agent.log_level,
      shutdownTimeoutMs: agent.shutdown_timeout,
      startupErrorBehavior: agent.startup_error_behavior,
      adminListen: agent.admin_listen,
      adminWebConfig: agent.admin_web_config_file,
      restart: {
        minBackoffMs: agent.restart_backoff_min,
        maxBackoffMs: Math.max(agent.restart_backoff_max, agent.restart_backoff_min),
        maxFailures: agent.restart_max_failures,
        windowMs: agent.restart_window,
        startTimeoutMs: 30_000,
      },
    },
    sources,
    sinks,
    filters,
  };
}

function components<D extends SourceDefinition | SinkDefinition>(
  section: 'sources' | 'sinks',
  value: unknown,
  definitions: readonly D[],
  issues: Issue[],
): ComponentConfig<D>[] {
  const out: ComponentConfig<D>[] = [];
  if (value === undefined || value === null) return out;
  if (typeof value !== 'object' || Array.isArray(value)) {
    issues.push({
      path: [section],
      message: `expected a mapping of ${section} by name, got ${Array.isArray(value) ? 'a list' : typeof value}`,
    });
    return out;
  }
  const known = definitions.map((d) => d.type);
  for (const [id, block] of Object.entries(value as Record<string, unknown>)) {
    const path = [section, id];
    if (!COMPONENT_ID.test(id)) {
      issues.push({ path, at: 'key', message: 'names may use only letters, digits, "_" and "-"' });
      continue;
    }
    if (typeof block !== 'object' || block === null || Array.isArray(block)) {
      issues.push({ path, message: 'expected a mapping with at least `type`' });
      continue;
    }
    const { type, ...rest } = block as Record<string, unknown>;
    if (type === undefined) {
      issues.push({ path: [...path, 'type'], message: `is required (one of ${known.join(', ')})` });
      continue;
    }
    const definition = definitions.find((d) => d.type === type);
    if (definition === undefined) {
      const hint = typeof type === 'string' ? suggest(type, known) : undefined;
      issues.push({
        path: [...path, 'type'],
        message: `unknown ${section === 'sources' ? 'source' : 'sink'} type ${JSON.stringify(type)}${hint !== undefined ? ` (did you mean "${hint}"?)` : ''}; known types: ${known.join(', ')}`,
      });
      continue;
    }
    const options = definition.schema.parse(rest, path, issues);
    if (options === INVALID) continue;
    out.push({ id, type: definition.type, definition, options: options as Record<string, unknown> });
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    // Definitions are shared module objects; freezing their internals is not ours to do.
    for (const [k, v] of Object.entries(value))
      if (k !== 'definition' && !(v instanceof RegExp) && !ArrayBuffer.isView(v)) deepFreeze(v);
  }
  return value;
}
