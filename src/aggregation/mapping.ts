/**
 * Mapping rules in the spirit of prometheus/statsd_exporter (pkg/mapper): a legacy dotted name
 * such as `prod.web01.api.requests` becomes a name plus tags, so Graphite-style naming is only
 * a mapping over tags.
 *
 *   - match: "*.*.api.*"              # glob: `*` is exactly one dot-separated component
 *     name: "api_$3"                  # $n / ${n}: the n-th `*` (or regex group)
 *     tags: { env: "$1", host: "$2" }
 *   - match: /^(\w+)\.db\.(\w+)$/     # regex, written between slashes (or match_type: regex)
 *     name: "db_${2}"
 *   - match: "debug.*"
 *     action: drop
 *
 * Semantics, and where they differ from statsd_exporter:
 *   - Rules are tried in config order and the first match wins, across glob and regex rules
 *     alike (statsd_exporter tries every glob rule before any regex rule).
 *   - A glob `*` matches one whole component, possibly empty (`a..b` matches `a.*.b`); a `*`
 *     inside a component is a config error rather than a surprise.
 *   - Regexes are JavaScript's, searched unanchored like Go's `FindStringSubmatchIndex`: anchor
 *     with `^…$`. `(?P<name>…)` (RE2) is accepted as `(?<name>…)`. JavaScript regexes backtrack,
 *     unlike RE2: a rule like `(a+)+$` is slow on hostile names, so prefer globs.
 *   - `$1_foo` is capture 1 then `_foo` (Go reads it as a group named `1_foo`, always empty);
 *     `$$` is a literal `$`; a reference to a capture the rule does not have is a config error
 *     (Go expands it to "").
 *   - `match_metric_type` takes each StatsD type by name (counter, gauge, timer, histogram,
 *     distribution, set), or `observer` for timer, histogram and distribution together (what
 *     statsd_exporter's `timer`/`observer` covers).
 *   - Tags from the rule override the line's own tags of the same key, as in statsd_exporter;
 *     `honor_tags: true` (its `honor_labels`) lets the line's tags win. See `applyMappedTags`.
 *
 * Speed: glob rules are compiled into one trie over components, searched depth first for the
 * lowest-numbered matching rule (each trie node is visited at most once, whatever the rules);
 * results are kept in a bounded two-generation cache, since names are client-supplied and an
 * unbounded cache of them is a memory leak.
 */
import { INVALID, s, type Issue, type Path, type Schema } from '../config/schema.js';
import { mergeTags, NO_TAGS, type Tag, type Tags } from '../core/tags.js';

/** StatsD metric type codes a mapper distinguishes. */
export type MappingTypeCode = 'c' | 'g' | 'ms' | 'h' | 's' | 'd';

export const MATCH_METRIC_TYPES = [
  'counter',
  'gauge',
  'timer',
  'histogram',
  'distribution',
  'set',
  'observer',
] as const;
export type MatchMetricType = (typeof MATCH_METRIC_TYPES)[number];

/** One rule as written in the config. */
export interface MappingRule {
  readonly match: string;
  /** Omitted: regex when `match` is written `/…/flags`, glob otherwise. */
  readonly match_type?: 'glob' | 'regex' | undefined;
  readonly match_metric_type?: MatchMetricType | undefined;
  /** Required for `action: map`; may hold `$n` / `${n}` / `${name}` references. */
  readonly name?: string | undefined;
  /** Tag key → value template. */
  readonly tags?: Readonly<Record<string, string>> | undefined;
  readonly action?: 'map' | 'drop' | undefined;
  /** The line's own tags win over the rule's (statsd_exporter's `honor_labels`). */
  readonly honor_tags?: boolean | undefined;
}

/** What a mapped name becomes. Immutable and shared between cache hits. */
export class MappingResult {
  constructor(
    /** May be empty when the template is only captures of empty components; reject those. */
    readonly name: string,
    /** Sorted by key. */
    readonly tags: Tags,
    /** Index of the rule that matched, in config order. */
    readonly rule: number,
    readonly honorTags: boolean,
  ) {}
}

/** A rule that cannot be compiled; `path` is relative to the rule (`['tags', 'job']`). */
export class MappingConfigError extends Error {
  constructor(
    readonly rule: number,
    readonly path: readonly string[],
    message: string,
  ) {
    super(message);
    this.name = 'MappingConfigError';
  }
}

// ---- templates -------------------------------------------------------------------------------

/**
 * A name or tag value with capture references, split at compile time into literals and
 * references: `lits[0] + ref(0) + lits[1] + … + lits[n]`.
 */
class Template {
  constructor(
    readonly lits: readonly string[],
    /** Capture numbers, or group names (regex rules). */
    readonly refs: readonly (number | string)[],
  ) {}

  /** `caps[n]` is capture n (undefined for a regex group that did not take part). */
  format(
    caps: readonly (string | undefined)[],
    groups: Readonly<Record<string, string | undefined>> | undefined,
  ): string {
    const refs = this.refs;
    if (refs.length === 0) return this.lits[0] as string;
    let out = this.lits[0] as string;
    for (let i = 0; i < refs.length; i++) {
      const r = refs[i] as number | string;
      const v = typeof r === 'number' ? caps[r] : groups?.[r];
      if (v !== undefined) out += v;
      out += this.lits[i + 1] as string;
    }
    return out;
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isIdentifier(s: string): boolean {
  if (s === '') return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const alpha = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
    if (!alpha && !(i > 0 && isDigit(c))) return false;
  }
  return true;
}

/**
 * Parses `$n`, `${n}`, `${name}` and `$$`. `captures` is the highest capture number the rule has
 * (`$0` is the whole name); `names` the regex's group names. Returns an error message if invalid.
 */
function parseTemplate(text: string, captures: number, names: ReadonlySet<string>): Template | string {
  const lits: string[] = [];
  const refs: (number | string)[] = [];
  let lit = '';
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 0x24 /* $ */) {
      lit += text[i];
      i++;
      continue;
    }
    const next = text.charCodeAt(i + 1);
    let ref: number | string;
    if (next === 0x24) {
      lit += '$';
      i += 2;
      continue;
    } else if (isDigit(next)) {
      let j = i + 1;
      while (j < text.length && isDigit(text.charCodeAt(j))) j++;
      ref = Number(text.slice(i + 1, j));
      i = j;
    } else if (next === 0x7b /* { */) {
      const close = text.indexOf('}', i + 2);
      if (close < 0) return `unclosed "\${" in "${text}"`;
      const inner = text.slice(i + 2, close);
      if (inner !== '' && [...inner].every((ch) => isDigit(ch.charCodeAt(0)))) ref = Number(inner);
      else if (isIdentifier(inner)) ref = inner;
      else return `"\${${inner}}" in "${text}" is not a capture number or group name`;
      i = close + 1;
    } else {
      return `a "$" in "${text}" starts no reference: write $1, \${1} or \${name}, and $$ for a literal "$"`;
    }
    if (typeof ref === 'number' && ref > captures) {
      return captures === 0
        ? `"${text}" refers to capture ${ref}, but the match has no captures`
        : `"${text}" refers to capture ${ref}, but the match has only ${captures}`;
    }
    if (typeof ref === 'string' && !names.has(ref)) {
      return `"${text}" refers to a group named "${ref}", which the match does not define`;
    }
    lits.push(lit);
    refs.push(ref);
    lit = '';
  }
  lits.push(lit);
  return new Template(lits, refs);
}

// ---- rules -----------------------------------------------------------------------------------

const TYPE_BITS: Record<MappingTypeCode, number> = { c: 1, g: 2, ms: 4, h: 8, s: 16, d: 32 };
const ALL_TYPES = 63;
const MATCH_TYPE_MASK: Record<MatchMetricType, number> = {
  counter: 1,
  gauge: 2,
  timer: 4,
  histogram: 8,
  set: 16,
  distribution: 32,
  observer: 4 | 8 | 32,
};

/** A rule ready to apply. */
class CompiledRule {
  constructor(
    readonly index: number,
    /** Bit set of the StatsD types it applies to. */
    readonly typeMask: number,
    readonly drop: boolean,
    readonly honorTags: boolean,
    /** Glob rules: the components, `null` for `*`. */
    readonly glob: readonly (string | null)[] | null,
    readonly regex: RegExp | null,
    readonly name: Template | null,
    /** Sorted by key. */
    readonly tagKeys: readonly string[],
    readonly tagValues: readonly Template[],
  ) {}

  /** The result for a name that matched, from its captures. */
  result(
    caps: readonly (string | undefined)[],
    groups: Readonly<Record<string, string | undefined>> | undefined,
  ): MappingResult {
    const name = (this.name as Template).format(caps, groups);
    const keys = this.tagKeys;
    let tags: Tags = NO_TAGS;
    if (keys.length > 0) {
      const list: Tag[] = [];
      for (let i = 0; i < keys.length; i++) {
        list.push([keys[i] as string, (this.tagValues[i] as Template).format(caps, groups)]);
      }
      tags = list;
    }
    return new MappingResult(name, tags, this.index, this.honorTags);
  }

  /** Captures of a glob match: `$0` the whole name, then the components under each `*`. */
  globCaptures(name: string, components: readonly string[]): string[] {
    const glob = this.glob as readonly (string | null)[];
    const caps = [name];
    for (let i = 0; i < glob.length; i++) if (glob[i] === null) caps.push(components[i] as string);
    return caps;
  }
}

/** Splits `/body/flags` into body and flags, or undefined when `match` is not written so. */
function slashForm(match: string): { body: string; flags: string } | undefined {
  if (match.length < 2 || match.charCodeAt(0) !== 0x2f) return undefined;
  const close = match.lastIndexOf('/');
  if (close <= 0) return undefined;
  const flags = match.slice(close + 1);
  for (const f of flags) if (!'imsu'.includes(f)) return undefined;
  return { body: match.slice(1, close), flags };
}

/** Compiles one rule or throws a MappingConfigError. */
function compileRule(rule: MappingRule, index: number): CompiledRule {
  const fail = (path: string[], message: string): never => {
    throw new MappingConfigError(index, path, message);
  };
  const drop = rule.action === 'drop';
  const typeMask = rule.match_metric_type === undefined ? ALL_TYPES : MATCH_TYPE_MASK[rule.match_metric_type];
  if (typeMask === undefined) fail(['match_metric_type'], `unknown metric type "${rule.match_metric_type}"`);
  if (rule.match === '') fail(['match'], 'is empty');

  let glob: (string | null)[] | null = null;
  let regex: RegExp | null = null;
  let captures = 0;
  const names = new Set<string>();
  const slashed = rule.match_type === undefined ? slashForm(rule.match) : undefined;
  if (rule.match_type === 'regex' || slashed !== undefined) {
    const body = (slashed?.body ?? rule.match).replaceAll('(?P<', '(?<');
    const flags = slashed?.flags ?? '';
    try {
      regex = new RegExp(body, flags);
      // An alternative that matches "" reveals the group count and names without the input.
      const probe = new RegExp(`(?:${body})|`, flags).exec('') as RegExpExecArray;
      captures = probe.length - 1;
      for (const g of Object.keys(probe.groups ?? {})) names.add(g);
    } catch (e) {
      fail(['match'], `invalid regular expression: ${(e as Error).message}`);
    }
  } else {
    glob = [];
    for (const part of rule.match.split('.')) {
      if (part === '*') {
        glob.push(null);
        captures++;
      } else if (part.includes('*')) {
        fail(['match'], `"${part}": a * must be a whole dot-separated component ("a.*.b", not "a.b*")`);
      } else if (part === '') {
        fail(['match'], `"${rule.match}" has an empty component`);
      } else {
        glob.push(part);
      }
    }
  }

  let name: Template | null = null;
  const tagKeys: string[] = [];
  const tagValues: Template[] = [];
  if (!drop) {
    if (rule.name === undefined || rule.name === '') fail(['name'], 'is required (the mapped metric name)');
    const parsed = parseTemplate(rule.name as string, captures, names);
    if (typeof parsed === 'string') fail(['name'], parsed);
    name = parsed as Template;
    const keys = Object.keys(rule.tags ?? {}).sort();
    for (const key of keys) {
      if (key === '') fail(['tags'], 'a tag key is empty');
      const value = parseTemplate((rule.tags as Record<string, string>)[key] as string, captures, names);
      if (typeof value === 'string') fail(['tags', key], value);
      tagKeys.push(key);
      tagValues.push(value as Template);
    }
  }
  return new CompiledRule(
    index,
    typeMask,
    drop,
    rule.honor_tags === true,
    glob,
    regex,
    name,
    tagKeys,
    tagValues,
  );
}

// ---- the glob trie ---------------------------------------------------------------------------

const NONE = 0x7fffffff;

class GlobNode {
  literals: Map<string, GlobNode> | null = null;
  star: GlobNode | null = null;
  /** Rules whose pattern ends here, in config order. */
  readonly ends: CompiledRule[] = [];
  /** Lowest rule index ending in this subtree: a subtree that cannot beat the best is skipped. */
  minRule = NONE;
  /** Components a name may still have, below this node, for some rule to match. */
  minRemaining = NONE;
  maxRemaining = -1;
}

/** All glob rules in one trie; `find` returns the lowest-numbered rule that matches. */
class GlobTrie {
  readonly root = new GlobNode();

  add(rule: CompiledRule): void {
    const glob = rule.glob as readonly (string | null)[];
    let node = this.root;
    for (let i = 0; ; i++) {
      const remaining = glob.length - i;
      if (rule.index < node.minRule) node.minRule = rule.index;
      if (remaining < node.minRemaining) node.minRemaining = remaining;
      if (remaining > node.maxRemaining) node.maxRemaining = remaining;
      if (i === glob.length) break;
      const part = glob[i] as string | null;
      let child: GlobNode | undefined;
      if (part === null) {
        child = node.star ?? (node.star = new GlobNode());
      } else {
        node.literals ??= new Map();
        child = node.literals.get(part);
        if (child === undefined) {
          child = new GlobNode();
          node.literals.set(part, child);
        }
      }
      node = child;
    }
    node.ends.push(rule);
  }

  find(components: readonly string[], typeBit: number): CompiledRule | undefined {
    return this.search(this.root, components, 0, typeBit, undefined);
  }

  private search(
    node: GlobNode,
    components: readonly string[],
    i: number,
    typeBit: number,
    best: CompiledRule | undefined,
  ): CompiledRule | undefined {
    const left = components.length - i;
    if (left < node.minRemaining || left > node.maxRemaining) return best;
    if (best !== undefined && node.minRule >= best.index) return best;
    if (left === 0) {
      for (const r of node.ends) {
        if ((r.typeMask & typeBit) !== 0) return best === undefined || r.index < best.index ? r : best;
      }
      return best;
    }
    const lit = node.literals?.get(components[i] as string);
    const star = node.star;
    // The subtree holding the lower rule first: it prunes the other more often.
    if (lit !== undefined && star !== null && star.minRule < lit.minRule) {
      best = this.search(star, components, i + 1, typeBit, best);
      return this.search(lit, components, i + 1, typeBit, best);
    }
    if (lit !== undefined) best = this.search(lit, components, i + 1, typeBit, best);
    if (star !== null) best = this.search(star, components, i + 1, typeBit, best);
    return best;
  }
}

// ---- the cache -------------------------------------------------------------------------------

/**
 * A bounded map approximating LRU with two generations: hits in the old generation move to the
 * young one; when the young one is full it becomes the old one and the old one is dropped
 * whole (swapping maps, not deleting entries). Holds at most `capacity` entries.
 */
class GenerationCache<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  private readonly half: number;

  constructor(capacity: number) {
    this.half = Math.max(1, Math.floor(capacity / 2));
  }

  get(key: string): V | undefined {
    const v = this.young.get(key);
    if (v !== undefined) return v;
    const o = this.old.get(key);
    if (o !== undefined) this.set(key, o);
    return o;
  }

  set(key: string, value: V): void {
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }
}

const NO_MATCH = 0;
const DROPPED = 1;
type Cached = MappingResult | typeof NO_MATCH | typeof DROPPED;

export interface MapperOptions {
  /**
   * Names whose result is remembered; 0 disables. Per type when a rule filters by type (then
   * up to six times this many entries).
   */
  readonly cacheSize?: number;
  /** Longer names are mapped every time rather than cached (their keys would cost memory). */
  readonly maxCachedNameLength?: number;
}

export const DEFAULT_MAPPING_CACHE_SIZE = 10_000;
const DEFAULT_MAX_CACHED_NAME = 512;
const TYPE_SLOTS: Record<MappingTypeCode, number> = { c: 0, g: 1, ms: 2, h: 3, s: 4, d: 5 };

/** Applies compiled rules to names, with a bounded cache. */
export class Mapper {
  private readonly rules: readonly CompiledRule[];
  private readonly trie: GlobTrie | null;
  private readonly regexRules: readonly CompiledRule[];
  /** One cache per type slot; all slots share one when no rule filters by type. */
  private readonly caches: (GenerationCache<Cached> | null)[];
  private readonly maxCachedName: number;
  /** Cache hits and misses over the mapper's life, for self-metrics. */
  hits = 0;
  misses = 0;

  /** Throws a MappingConfigError for the first rule that does not compile. */
  constructor(rules: readonly MappingRule[], options: MapperOptions = {}) {
    this.rules = rules.map(compileRule);
    let trie: GlobTrie | null = null;
    const regexRules: CompiledRule[] = [];
    for (const r of this.rules) {
      if (r.glob !== null) (trie ??= new GlobTrie()).add(r);
      else regexRules.push(r);
    }
    this.trie = trie;
    this.regexRules = regexRules;
    const size = options.cacheSize ?? DEFAULT_MAPPING_CACHE_SIZE;
    const byType = this.rules.some((r) => r.typeMask !== ALL_TYPES);
    const shared = size > 0 && !byType ? new GenerationCache<Cached>(size) : null;
    this.caches = [];
    for (let t = 0; t < 6; t++)
      this.caches.push(size > 0 ? (shared ?? new GenerationCache<Cached>(size)) : null);
    this.maxCachedName = options.maxCachedNameLength ?? DEFAULT_MAX_CACHED_NAME;
  }

  /** Number of rules. */
  get size(): number {
    return this.rules.length;
  }

  /** Entries held by the caches. */
  get cached(): number {
    let n = 0;
    const seen = new Set<GenerationCache<Cached>>();
    for (const c of this.caches) {
      if (c !== null && !seen.has(c)) {
        seen.add(c);
        n += c.size;
      }
    }
    return n;
  }

  /**
   * The mapping of `name` as a StatsD metric of `type`: its new name and tags, `'drop'`, or
   * undefined when no rule matches (keep the metric as it is).
   */
  map(name: string, type: MappingTypeCode): MappingResult | 'drop' | undefined {
    if (this.rules.length === 0) return undefined;
    const slot = TYPE_SLOTS[type];
    const cache = name.length <= this.maxCachedName ? this.caches[slot] : null;
    if (cache !== null && cache !== undefined) {
      const hit = cache.get(name);
      if (hit !== undefined) {
        this.hits++;
        return hit === NO_MATCH ? undefined : hit === DROPPED ? 'drop' : hit;
      }
    }
    this.misses++;
    const result = this.compute(name, TYPE_BITS[type]);
    if (cache !== null && cache !== undefined) cache.set(name, result);
    return result === NO_MATCH ? undefined : result === DROPPED ? 'drop' : result;
  }

  /** The rule (index) that a name hits, for `sluice explain`; -1 for none. */
  ruleFor(name: string, type: MappingTypeCode): number {
    return this.firstMatch(name, TYPE_BITS[type]).rule?.index ?? -1;
  }

  private compute(name: string, typeBit: number): Cached {
    const { rule, caps, groups } = this.firstMatch(name, typeBit);
    if (rule === undefined) return NO_MATCH;
    if (rule.drop) return DROPPED;
    return rule.result(caps, groups);
  }

  private firstMatch(
    name: string,
    typeBit: number,
  ): {
    rule: CompiledRule | undefined;
    caps: readonly (string | undefined)[];
    groups: Record<string, string | undefined> | undefined;
  } {
    let components: string[] | undefined;
    let globRule: CompiledRule | undefined;
    if (this.trie !== null) {
      components = name.split('.');
      globRule = this.trie.find(components, typeBit);
    }
    const limit = globRule === undefined ? NONE : globRule.index;
    for (const r of this.regexRules) {
      if (r.index > limit) break;
      if ((r.typeMask & typeBit) === 0) continue;
      const m = (r.regex as RegExp).exec(name);
      if (m !== null) return { rule: r, caps: m, groups: m.groups };
    }
    if (globRule === undefined) return { rule: undefined, caps: [], groups: undefined };
    return { rule: globRule, caps: globRule.globCaptures(name, components as string[]), groups: undefined };
  }
}

/**
 * Rules in order without the trie or cache, each tried in turn: the reference the trie is
 * tested against, and the baseline it is measured against.
 */
export class LinearMapper {
  private readonly rules: readonly CompiledRule[];

  constructor(rules: readonly MappingRule[]) {
    this.rules = rules.map(compileRule);
  }

  map(name: string, type: MappingTypeCode): MappingResult | 'drop' | undefined {
    const bit = TYPE_BITS[type];
    const components = name.split('.');
    for (const r of this.rules) {
      if ((r.typeMask & bit) === 0) continue;
      let caps: readonly (string | undefined)[] | null = null;
      let groups: Record<string, string | undefined> | undefined;
      if (r.glob !== null) {
        const g = r.glob;
        if (g.length !== components.length) continue;
        let k = 0;
        while (k < g.length && (g[k] === null || g[k] === components[k])) k++;
        if (k === g.length) caps = r.globCaptures(name, components);
      } else {
        const m = (r.regex as RegExp).exec(name);
        if (m !== null) {
          caps = m;
          groups = m.groups;
        }
      }
      if (caps !== null) return r.drop ? 'drop' : r.result(caps, groups);
    }
    return undefined;
  }
}

/**
 * The tags of a mapped metric: the rule's and the line's, the rule's winning on a shared key
 * unless the rule says `honor_tags`.
 */
export function applyMappedTags(result: MappingResult, lineTags: Tags): Tags {
  return result.honorTags ? mergeTags(lineTags, result.tags) : mergeTags(result.tags, lineTags);
}

// ---- config ----------------------------------------------------------------------------------

const ruleSchema = s.object({
  match: s.string({
    nonEmpty: true,
    doc: 'A glob over dot-separated components (`*` = one component), or a regex written /…/.',
  }),
  match_type: s.oneOf(['glob', 'regex'] as const, {
    optional: true,
    doc: 'glob or regex; omitted, a match written /…/ is a regex and anything else a glob.',
  }),
  match_metric_type: s.oneOf(MATCH_METRIC_TYPES, {
    optional: true,
    doc: 'Apply only to this StatsD type (observer = timer, histogram and distribution).',
  }),
  name: s.string({ optional: true, doc: 'The new metric name; $1 or ${1} is the first capture.' }),
  tags: s.record(s.string(), { optional: true, doc: 'Tags to add: key → value, with captures.' }),
  action: s.oneOf(['map', 'drop'] as const, {
    default: 'map',
    doc: 'map (rename and tag) or drop the metric.',
  }),
  honor_tags: s.boolean({
    default: false,
    doc: "On a shared key, keep the line's own tag rather than the rule's.",
  }),
});

const rulesSchema = s.array(ruleSchema);

/**
 * The `mappings:` option of a source: a list of rules, each compiled while the config is read,
 * so a bad regex or a reference to a capture the rule lacks is reported with its path.
 */
export const mappingSchema: Schema<MappingRule[]> = {
  kind: 'array',
  expected: 'a list of mapping rules',
  doc: 'Rules (statsd_exporter style) turning dotted names into a name and tags; the first match wins.',
  optional: true,
  defaultValue: [],
  parse(value: unknown, path: Path, issues: Issue[]): MappingRule[] | typeof INVALID {
    const rules = rulesSchema.parse(value, path, issues);
    if (rules === INVALID) return INVALID;
    let ok = true;
    rules.forEach((rule, i) => {
      try {
        compileRule(rule, i);
      } catch (e) {
        if (!(e instanceof MappingConfigError)) throw e;
        issues.push({ path: [...path, i, ...e.path], message: e.message });
        ok = false;
      }
    });
    return ok ? rules : INVALID;
  },
};
