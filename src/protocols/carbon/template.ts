/**
 * Templates that build Graphite paths from a metric's name, tags and field:
 *
 *   "{host}.{name}.{field}"      web01.api.requests.count
 *   "{host}.cpu-lat.{bucket}"    web01.cpu-lat.16          (the bpftrace client's layout)
 *   "stats.{name}.{tags}.{field}"
 *
 * A template is a dot-separated list of nodes; each node is literal text or one placeholder:
 * - `{name}`: the metric name, whose own dots stay path separators;
 * - `{field}`: which value of the metric this path holds (`count`, `rate`, `upper_90`, …). A
 *   template without it gets the field appended as a last node, except for metrics that hold
 *   a single value (gauges, cumulative counters), which then get no field node at all;
 * - `{tags}`: the values of every tag the template does not name elsewhere, in key order
 *   (Bucky3's "remaining keys, alphabetically"); nothing when there are none;
 * - `{KEY}` or `{tag:KEY}`: the value of tag KEY, or no node when the metric lacks it. The
 *   `tag:` form reaches tags called `name`, `field` or `tags`.
 * Tag values are sanitised into single nodes (their dots become `_`; see sanitize.ts).
 *
 * Two metrics that differ only in tags the template leaves out share a path, and Graphite keeps
 * whichever came last: put `{tags}` in the template unless you mean that.
 */
import { isSafeNode } from './sanitize.js';

export type TemplateNode =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'name' }
  | { readonly kind: 'field' }
  | { readonly kind: 'tags' }
  | { readonly kind: 'tag'; readonly key: string };

export interface Template {
  readonly source: string;
  readonly nodes: readonly TemplateNode[];
  readonly hasField: boolean;
  readonly hasTags: boolean;
  /** Tag keys named by `{KEY}` nodes, which `{tags}` and Graphite tags leave out. */
  readonly usedKeys: ReadonlySet<string>;
}

function placeholder(inner: string): TemplateNode | string {
  if (inner === 'name') return { kind: 'name' };
  if (inner === 'field') return { kind: 'field' };
  if (inner === 'tags') return { kind: 'tags' };
  const key = inner.startsWith('tag:') ? inner.slice(4) : inner;
  if (key === '') return `"{${inner}}" names no tag`;
  return { kind: 'tag', key };
}

/** Splits on dots outside braces, so a tag key may contain dots (`{k8s.pod}`). */
function splitNodes(source: string): string[] | string {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '{') {
      if (depth > 0) return `nested "{" at position ${i + 1}`;
      depth = 1;
    } else if (c === '}') {
      if (depth === 0) return `"}" without "{" at position ${i + 1}`;
      depth = 0;
    } else if (c === '.' && depth === 0) {
      parts.push(source.slice(start, i));
      start = i + 1;
    }
  }
  if (depth > 0) return 'a "{" is not closed';
  parts.push(source.slice(start));
  return parts;
}

/** Compiles a template, or returns why it is not one. */
export function compileTemplate(source: string): Template | string {
  const parts = splitNodes(source);
  if (typeof parts === 'string') return parts;
  const nodes: TemplateNode[] = [];
  const usedKeys = new Set<string>();
  const seen = new Set<string>();
  for (const part of parts) {
    if (part === '') return 'it has an empty node (two dots in a row, or a dot at the start or end)';
    let node: TemplateNode | string;
    if (part.startsWith('{') && part.endsWith('}') && part.indexOf('{', 1) === -1) {
      node = placeholder(part.slice(1, -1));
    } else if (part.includes('{') || part.includes('}')) {
      node = `"${part}" mixes a placeholder with text; a node is either one placeholder or text`;
    } else if (!isSafeNode(part)) {
      node = `"${part}" has characters Graphite paths cannot hold (use letters, digits, "-", "_", ":")`;
    } else {
      node = { kind: 'literal', text: part };
    }
    if (typeof node === 'string') return node;
    if (node.kind !== 'literal') {
      const id = node.kind === 'tag' ? `tag:${node.key}` : node.kind;
      if (seen.has(id)) return `"{${id}}" appears twice`;
      seen.add(id);
    }
    if (node.kind === 'tag') usedKeys.add(node.key);
    nodes.push(node);
  }
  return {
    source,
    nodes,
    hasField: seen.has('field'),
    hasTags: seen.has('tags'),
    usedKeys,
  };
}
