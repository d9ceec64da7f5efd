/**
 * The pipeline's filter step: an ordered list of rules, each matching metrics by name and tags,
 * that drop or rename what they match, or drop or keep some of their tags by key (Telegraf's
 * tagexclude and taginclude). A drop ends a metric's way through the rules; a renamed metric,
 * or one with fewer tags, goes on through the remaining rules. Tag rules see the metric's own
 * tags: the agent's tags and the host tag are added after the filter.
 *
 * Patterns are globs (`*` any run of characters, `?` one character) or, between slashes,
 * regular expressions (`/^legacy\.(.*)$/`); a regex rename may use `$1` in `to`.
 * Everything is compiled once, when the config loads.
 */
import type { Metric } from './metric.js';
import type { Tags } from './tags.js';

export interface FilterRuleConfig {
  readonly action: 'drop' | 'rename' | 'drop_tags' | 'keep_tags';
  readonly name?: string | undefined;
  readonly tags?: Readonly<Record<string, string>> | undefined;
  readonly to?: string | undefined;
  /** drop_tags, keep_tags: patterns of the tag keys to drop or keep. */
  readonly tag_keys?: readonly string[] | undefined;
}

export interface CompiledPattern {
  readonly regex: RegExp;
  readonly isRegex: boolean;
}

/** Compiles a glob or `/regex/`; throws with a readable message when the regex is invalid. */
export function compilePattern(pattern: string): CompiledPattern {
  if (pattern.length >= 2 && pattern.startsWith('/') && pattern.endsWith('/')) {
    return { regex: new RegExp(pattern.slice(1, -1)), isRegex: true };
  }
  let source = '^';
  for (const ch of pattern) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return { regex: new RegExp(source + '$'), isRegex: false };
}

class Rule {
  private readonly name: CompiledPattern | undefined;
  private readonly tags: readonly (readonly [string, CompiledPattern])[];
  private readonly tagKeys: readonly CompiledPattern[];

  constructor(readonly config: FilterRuleConfig) {
    this.name = config.name !== undefined ? compilePattern(config.name) : undefined;
    this.tags = Object.entries(config.tags ?? {}).map(([k, v]) => [k, compilePattern(v)] as const);
    this.tagKeys = (config.tag_keys ?? []).map(compilePattern);
  }

  /** The tags left by drop_tags / keep_tags; the same list when none goes. */
  retag(tags: Tags): Tags {
    const keep = this.config.action === 'keep_tags';
    let out: Tags[number][] | undefined;
    for (let i = 0; i < tags.length; i++) {
      const t = tags[i] as Tags[number];
      const listed = this.tagKeys.some((p) => p.regex.test(t[0]));
      if (listed === keep) {
        out?.push(t);
        continue;
      }
      out ??= tags.slice(0, i);
    }
    return out ?? tags;
  }

  matches(name: string, tags: Tags): boolean {
    if (this.name !== undefined && !this.name.regex.test(name)) return false;
    for (const [key, pattern] of this.tags) {
      let found = false;
      for (const t of tags) {
        if (t[0] === key) {
          found = pattern.regex.test(t[1]);
          break;
        }
      }
      if (!found) return false;
    }
    return true;
  }

  /** Whether the rule matches every series of `name` (no tag patterns), some, or none. */
  nameScope(name: string): NameScope {
    if (this.name !== undefined && !this.name.regex.test(name)) return 'none';
    return this.tags.length === 0 ? 'all' : 'some';
  }

  rename(name: string): string {
    const to = this.config.to as string;
    return this.name !== undefined && this.name.isRegex ? name.replace(this.name.regex, to) : to;
  }
}

/** What a selector matches: a name pattern and tag patterns, as a filter rule has them. */
export interface SelectorConfig {
  readonly name?: string | undefined;
  readonly tags?: Readonly<Record<string, string>> | undefined;
}

/** Matches metrics by name and tags exactly as filter rules do; with no selectors, everything. */
export class MetricSelector {
  private readonly rules: readonly Rule[];

  constructor(selectors: readonly SelectorConfig[]) {
    this.rules = selectors.map((c) => new Rule({ action: 'drop', name: c.name, tags: c.tags }));
  }

  matches(name: string, tags: Tags): boolean {
    if (this.rules.length === 0) return true;
    for (const r of this.rules) if (r.matches(name, tags)) return true;
    return false;
  }

  /** Which series of a name match: all of them, some (by their tags), or none. */
  nameScope(name: string): NameScope {
    if (this.rules.length === 0) return 'all';
    let scope: NameScope = 'none';
    for (const r of this.rules) {
      const s = r.nameScope(name);
      if (s === 'all') return 'all';
      if (s === 'some') scope = 'some';
    }
    return scope;
  }
}

export type NameScope = 'all' | 'some' | 'none';

export class Filter {
  private readonly rules: readonly Rule[];
  /** Metrics dropped by a rule, for self-telemetry. */
  dropped = 0;
  renamed = 0;
  /** Metrics that lost tags to drop_tags / keep_tags. */
  retagged = 0;

  constructor(rules: readonly FilterRuleConfig[]) {
    this.rules = rules.map((r) => new Rule(r));
  }

  get isEmpty(): boolean {
    return this.rules.length === 0;
  }

  /** Returns the metric to keep (possibly renamed), or undefined to drop it. */
  apply(metric: Metric): Metric | undefined {
    let current = metric;
    for (const rule of this.rules) {
      if (!rule.matches(current.name, current.tags)) continue;
      const action = rule.config.action;
      if (action === 'drop') {
        this.dropped++;
        return undefined;
      }
      if (action === 'rename') {
        this.renamed++;
        current = { ...current, name: rule.rename(current.name) };
        continue;
      }
      const tags = rule.retag(current.tags);
      if (tags !== current.tags) current = { ...current, tags };
    }
    if (current !== metric && current.tags !== metric.tags) this.retagged++;
    return current;
  }
}
