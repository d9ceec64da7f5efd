/** Config of the `graphite` sink, and the sample block `sluice generate` prints for it. */
import { INVALID, s, type InferFields, type ObjectSchema } from '../../config/schema.js';
import { compileTemplate, type Template } from '../../protocols/carbon/template.js';
import { pushDefaults, pushOptionsSample, pushOptionsSchema } from '../push/schema.js';

/** Carbon's plaintext port; batches of up to 1000 lines of a few dozen bytes each. */
export const GRAPHITE_PUSH = pushDefaults({ port: 2003 });

export const NAMINGS = ['path', 'tagged'] as const;

export const DEFAULT_TEMPLATE = '{host}.{name}.{tags}.{field}';

function compiled(source: string): Template {
  const t = compileTemplate(source);
  if (typeof t === 'string') throw new Error(`bad default template: ${t}`);
  return t;
}

const fields = {
  template: s.custom<Template>(
    'a template like "{host}.{name}.{field}"',
    (value) => {
      if (typeof value !== 'string') return { ok: false };
      const t = compileTemplate(value);
      return typeof t === 'string'
        ? { ok: false, message: `is not a usable template: ${t}` }
        : { ok: true, value: t };
    },
    {
      default: compiled(DEFAULT_TEMPLATE),
      doc:
        'How each path is built: dot-separated nodes, each literal text or one of {name} (the metric ' +
        'name, its dots kept), {field} (count, rate, upper_90, …; appended when absent, except for ' +
        'single-valued metrics), {tags} (the values of the tags not named elsewhere, by key), ' +
        '{KEY} or {tag:KEY} (the value of tag KEY; no node when missing).',
    },
  ),
  naming: s.oneOf(NAMINGS, {
    default: 'path',
    doc:
      'path: tags become nodes of the dotted path, as the template says. tagged: Graphite 1.1 tagged ' +
      'series (name;tag=value, sorted): the template builds the name and the tags it does not use ' +
      'become Graphite tags.',
  }),
  reconnect_interval: s.duration({
    default: 0,
    doc:
      'Close the connection after it has been open this long and open a new one, to spread load ' +
      'behind a balancer (0: keep it as long as it works).',
  }),
  ...pushOptionsSchema(GRAPHITE_PUSH),
};

const base = s.object(fields, { allowKeys: ['type'] });

/** The object schema, plus the one rule that spans two fields. */
export const schema: ObjectSchema<typeof fields> = {
  ...base,
  parse(value, path, issues) {
    const parsed = base.parse(value, path, issues);
    if (parsed !== INVALID && parsed.naming === 'tagged' && parsed.template.hasTags) {
      issues.push({
        path: [...path, 'template'],
        message:
          'uses {tags}, which naming: tagged does not allow: the tags the template does not name become Graphite tags',
      });
      return INVALID;
    }
    return parsed;
  },
};

export type GraphiteConfig = InferFields<typeof fields>;

export const sample = `  graphite:
    type: graphite
    # How each path is built from the metric: dot-separated nodes, each literal text or
    # one of {name} (the metric name), {field} (count, rate, upper_90...; appended when
    # absent, except to gauges and cumulative counters), {tags} (values of the other tags,
    # by key), {KEY} or {tag:KEY} (the value of tag KEY). Tag values have ".", spaces and
    # other unsafe characters replaced by "_". The bpftrace client's layout is
    # "{host}.cpu-lat.{bucket}"; Bucky3's is "{name}.{team}.{app}.{host}.{tag:name}.{value}.{tags}".
    template: '${DEFAULT_TEMPLATE}'
    # path: tags become nodes of the dotted path; tagged: Graphite 1.1 tagged series
    # (name;tag=value), the template building the name.
    naming: path
    # Reconnect after this long, to spread load behind a TCP balancer (0s: never).
    reconnect_interval: 0s
${pushOptionsSample(GRAPHITE_PUSH)}`;
