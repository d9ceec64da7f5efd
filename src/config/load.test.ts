import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineSink, defineSource } from '../core/definition.js';
import { CollectorSink } from '../testing/collector.js';
import { ConfigError, loadConfig, type Registry } from './load.js';
import { s } from './schema.js';

const registry = {
  sources: [
    defineSource({
      type: 'fake',
      description: 'test source',
      schema: s.object({
        port: s.number({ integer: true, default: 8125 }),
        flush_interval: s.duration({ default: 10_000 }),
        name: s.string({ default: 'x' }),
      }),
      sample: '',
      create: () => ({ mode: 'listening', start: async () => {}, stop: async () => {} }),
    }),
  ],
  sinks: [
    defineSink({
      type: 'collector',
      description: 'test sink',
      schema: s.object({ secret: s.string({ default: '' }) }),
      sample: '',
      create: () => new CollectorSink(),
    }),
  ],
} as unknown as Registry;

function load(text: string, env: Record<string, string> = {}) {
  return loadConfig(text, { file: 'sluice.yaml', env, registry, defaultHostname: 'box' });
}

function problems(text: string, env: Record<string, string> = {}): string[] {
  try {
    load(text, env);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.message.split('\n');
  }
  assert.fail('expected a ConfigError');
}

test('a valid file loads, with defaults, interpolation and re-typed numbers', () => {
  const config = load(
    `agent:
  tags: { env: "\${ENV:-dev}" }
sources:
  in:
    type: fake
    port: \${PORT}
    name: "\${PORT}"
sinks:
  out:
    type: collector
    secret: \${TOKEN}
`,
    { PORT: '9999', TOKEN: 's3cret' },
  );
  assert.equal(config.agent.hostname, 'box');
  assert.deepEqual(config.agent.tags, { env: 'dev' });
  assert.deepEqual(config.sources[0]?.options, { port: 9999, flush_interval: 10_000, name: '9999' });
  assert.equal(config.sinks[0]?.options.secret, 's3cret');
  assert.ok(Object.isFrozen(config.sources[0]?.options));
});

test('errors name the file, the line and the path', () => {
  assert.deepEqual(
    problems(`sources:
  statsd:
    type: fake
    flush_interval: ten
`),
    [
      'sluice.yaml:4:21: sources.statsd.flush_interval: expected a duration (seconds, or a string like "10s", "500ms", "5m"), got "ten"',
    ],
  );
});

test('all problems are listed in one run', () => {
  const lines = problems(`agent:
  log_level: loud
sourcse: {}
sources:
  a:
    type: fak
  b:
    port: 1
  "bad name":
    type: fake
sinks:
  out:
    type: collector
    secret: \${MISSING}
filters:
  - action: rename
    name: "/(unclosed/"
`);
  assert.deepEqual(lines, [
    'sluice.yaml:2:14: agent.log_level: expected one of "debug", "info", "warn", "error", "silent", got "loud"',
    'sluice.yaml:3:1: sourcse: unknown key (did you mean "sources"?); known keys: agent, sources, sinks, filters',
    'sluice.yaml:6:11: sources.a.type: unknown source type "fak" (did you mean "fake"?); known types: fake',
    'sluice.yaml:8:5: sources.b.type: is required (one of fake)',
    'sluice.yaml:9:3: sources.bad name: names may use only letters, digits, "_" and "-"',
    'sluice.yaml:14:13: sinks.out.secret: environment variable MISSING is not set (use ${MISSING:-default} for a default)',
    'sluice.yaml:16:5: filters[0]: rename needs `to`',
    'sluice.yaml:17:11: filters[0].name: invalid regular expression "/(unclosed/": Invalid regular expression: /(unclosed/: Unterminated group',
  ]);
});

test('tag filters need tag_keys, and tag_keys only go with them', () => {
  assert.deepEqual(
    problems(`filters:
  - action: drop_tags
  - action: drop
    name: x
    tag_keys: [a]
  - action: keep_tags
    tag_keys: [host, "/^k8s_/"]
`),
    [
      'sluice.yaml:2:5: filters[0].tag_keys: `drop_tags` needs tag_keys',
      'sluice.yaml:5:15: filters[1].tag_keys: `tag_keys` only applies to drop_tags and keep_tags',
    ],
  );
});

test('YAML syntax errors point at the line', () => {
  const lines = problems('sources:\n  a: [unclosed\n');
  assert.equal(lines.length >= 1, true);
  assert.match(lines[0] as string, /^sluice\.yaml:\d+:\d+: YAML syntax error: /);
  assert.match(problems('a: 1\na: 2\n')[0] as string, /^sluice\.yaml:2:1: YAML syntax error: .*[Uu]nique/);
});

test('an empty file is a valid config with nothing in it', () => {
  const config = load('');
  assert.deepEqual(config.sources, []);
  assert.equal(config.agent.logLevel, 'info');
});

test('a secret from the environment never appears in an error message', () => {
  const lines = problems(
    `sinks:
  out:
    type: collector
    secret: \${TOKEN}
    extra: \${TOKEN}
`,
    { TOKEN: 'hunter2' },
  );
  assert.ok(
    lines.every((l) => !l.includes('hunter2')),
    lines.join('\n'),
  );
});

test('a string field keeps a number-like value as written, interpolated or not; a number field gets the number', () => {
  const config = load(
    `sources:
  a:
    type: fake
    port: \${PORT}
    name: 00918273
  b:
    type: fake
    port: 0x10
    name: \${NUM_PASSWORD}
sinks:
  out:
    type: collector
    secret: \${NUM_PASSWORD}
`,
    { PORT: '9125', NUM_PASSWORD: '00918273' },
  );
  const a = config.sources[0]?.options as { port: number; name: string };
  const b = config.sources[1]?.options as { port: number; name: string };
  assert.equal(a.port, 9125);
  assert.equal(a.name, '00918273');
  assert.equal(b.port, 16);
  assert.equal(b.name, '00918273');
  assert.equal((config.sinks[0]?.options as { secret: string }).secret, '00918273');
  assert.deepEqual(problems('sources:\n  a:\n    type: fake\n    port: 08x\n'), [
    'sluice.yaml:4:11: sources.a.port: expected an integer, got "08x"',
  ]);
});
