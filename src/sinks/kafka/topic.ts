/**
 * Topic templates: `metrics`, `metrics-{env}`, `{name}`, `sluice.{tag:name}`. A placeholder is
 * `{name}` (the metric name), `{KEY}` or `{tag:KEY}` (the value of tag KEY; the `tag:` form
 * reaches a tag called `name`). Everything else is literal text.
 *
 * Kafka topic names are at most 249 characters of `[a-zA-Z0-9._-]` and neither `.` nor `..`
 * (org.apache.kafka.common.internals.Topic.validate). Literal text must already be legal, so a
 * typo is a config error; values from metrics have every other character replaced by `_`, so a
 * tag value can never make an illegal name. A metric that lacks a named tag (or whose topic would
 * still be illegal: too long, `.`) has no topic: the sink then uses `fallback_topic`, or drops it.
 */
import { getTag, type Tags } from '../../core/tags.js';

export const MAX_TOPIC_LENGTH = 249;

type Part =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'name' }
  | { readonly kind: 'tag'; readonly key: string };

export interface TopicTemplate {
  /** As written in the config. */
  readonly source: string;
  /** The topic when the template has no placeholder. */
  readonly fixed: string | undefined;
  readonly parts: readonly Part[];
}

function legalChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2e || // .
    c === 0x5f || // _
    c === 0x2d // -
  );
}

/** Whether `topic` is a name Kafka accepts. */
export function isLegalTopic(topic: string): boolean {
  if (topic.length === 0 || topic.length > MAX_TOPIC_LENGTH || topic === '.' || topic === '..') return false;
  for (let i = 0; i < topic.length; i++) if (!legalChar(topic.charCodeAt(i))) return false;
  return true;
}

/** `s` with every character Kafka does not allow in a topic name replaced by `_`. */
export function sanitizeTopicPart(s: string): string {
  let i = 0;
  while (i < s.length && legalChar(s.charCodeAt(i))) i++;
  if (i === s.length) return s;
  let out = s.slice(0, i);
  for (; i < s.length; i++) out += legalChar(s.charCodeAt(i)) ? s[i] : '_';
  return out;
}

/** Compiles a template, or returns why it is not one. */
export function compileTopic(source: string): TopicTemplate | string {
  const parts: Part[] = [];
  let i = 0;
  while (i < source.length) {
    const open = source.indexOf('{', i);
    const close = source.indexOf('}', i);
    if (close !== -1 && (open === -1 || close < open)) return `has "}" without "{" at ${close + 1}`;
    const end = open === -1 ? source.length : open;
    if (end > i) {
      const text = source.slice(i, end);
      for (let k = 0; k < text.length; k++) {
        if (!legalChar(text.charCodeAt(k))) {
          return `has ${JSON.stringify(text[k])}, which a Kafka topic name cannot hold (only letters, digits, ".", "_" and "-")`;
        }
      }
      parts.push({ kind: 'text', text });
    }
    if (open === -1) break;
    const shut = source.indexOf('}', open);
    if (shut === -1) return `has "{" without "}" at ${open + 1}`;
    const inner = source.slice(open + 1, shut);
    if (inner.includes('{')) return `has "{" inside a placeholder at ${open + 1}`;
    if (inner === 'name') parts.push({ kind: 'name' });
    else {
      const key = inner.startsWith('tag:') ? inner.slice(4) : inner;
      if (key === '') return `has an empty placeholder at ${open + 1}`;
      parts.push({ kind: 'tag', key });
    }
    i = shut + 1;
  }
  if (parts.length === 0) return 'is empty';
  const fixed = parts.length === 1 && parts[0]?.kind === 'text' ? parts[0].text : undefined;
  if (fixed !== undefined && !isLegalTopic(fixed)) {
    return fixed.length > MAX_TOPIC_LENGTH
      ? `is longer than ${MAX_TOPIC_LENGTH} characters`
      : 'is not a legal topic name';
  }
  return { source, fixed, parts };
}

/** The topic of a metric, or undefined when a tag is missing or the result is not legal. */
export function renderTopic(t: TopicTemplate, name: string, tags: Tags): string | undefined {
  if (t.fixed !== undefined) return t.fixed;
  let out = '';
  for (const part of t.parts) {
    if (part.kind === 'text') out += part.text;
    else {
      const value = part.kind === 'name' ? name : getTag(tags, part.key);
      if (value === undefined || value === '') return undefined;
      out += sanitizeTopicPart(value);
    }
  }
  return isLegalTopic(out) ? out : undefined;
}
