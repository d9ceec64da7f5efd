import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_CONFIG } from '../config/defaults.js';
import { loadConfig } from '../config/load.js';
import { registry } from '../registry.js';
import { generateConfig } from './generate.js';
import { runCommand } from './main.js';

function run(args: string[]): { code: ReturnType<typeof runCommand>; out: string; err: string } {
  let out = '';
  let err = '';
  const code = runCommand(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

function tempFile(name: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'sluice-cli-')), name);
  writeFileSync(file, text);
  return file;
}

test('generate prints a config that validates and uses every component type', () => {
  const text = generateConfig(registry);
  const config = loadConfig(text, { file: 'generated.yaml', env: {}, registry, defaultHostname: 'h' });
  const types = new Set([...config.sources, ...config.sinks].map((c) => c.type));
  for (const d of [...registry.sources, ...registry.sinks])
    assert.ok(types.has(d.type), `generate lacks ${d.type}`);
  assert.ok(config.filters.length > 0);
  const { code, out } = run(['generate']);
  assert.equal(code, 0);
  assert.equal(out, text);
});

test('the built-in default config validates', () => {
  const config = loadConfig(DEFAULT_CONFIG, { file: 'default', env: {}, registry, defaultHostname: 'h' });
  assert.deepEqual(
    [...config.sources, ...config.sinks].map((c) => c.type),
    ['statsd', 'linux', 'internal', 'prometheus_exporter'],
  );
});

test('validate: exit 0 for a good file, 1 with file, line and field for a broken one', () => {
  const good = tempFile('good.yaml', DEFAULT_CONFIG);
  assert.deepEqual(run(['validate', good]), { code: 0, out: `${good}: valid\n`, err: '' });
  const bad = tempFile('bad.yaml', 'sources:\n  statsd:\n    type: statsd\n    flush_interval: ten\n');
  const r = run(['validate', bad]);
  assert.equal(r.code, 1);
  assert.equal(
    r.err,
    `${bad}:4:21: sources.statsd.flush_interval: expected a duration (seconds, or a string like "10s", "500ms", "5m"), got "ten"\n`,
  );
  assert.deepEqual(run(['validate', '/nonexistent/sluice.yaml']).code, 1);
});

test('help, version and bad arguments', () => {
  assert.match(run(['--help']).out, /^Usage:/);
  assert.match(run(['--version']).out, /^sluice \d+\.\d+\.\d+\n$/);
  assert.equal(run([]).code, 'run');
  assert.equal(run(['--config', 'x.yaml']).code, 'run');
  assert.equal(run(['frobnicate']).code, 2);
  assert.equal(run(['--bogus']).code, 2);
});

test('explain shows the parse, the mapping rule hit, one flush and what each sink would send', () => {
  const file = tempFile(
    'explain.yaml',
    `agent:
  hostname: box
sources:
  statsd:
    type: statsd
    dialect: etsy
    mappings:
      - match: "legacy.*.hits"
        name: hits
        tags: { host: "$1" }
sinks:
  prometheus:
    type: prometheus_exporter
  console:
    type: console
    format: influx
`,
  );
  const r = run(['explain', '--config', file, 'legacy.web1.hits:3|c\\nlegacy.web1.hits:+2|g\\n:nope']);
  assert.equal(r.code, 0, r.err);
  const want = [
    'Source "statsd": dialect etsy, mode lenient',
    'Parsed:',
    '  legacy.web1.hits: c 3',
    // A line that parses but names a series held by another type is refused, and says so.
    '  legacy.web1.hits: g Δ+2, then refused when aggregated: ✗ type_conflict',
    '  ":nope": ✗ empty_name',
    'Mapping rules:',
    '  legacy.web1.hits (c): rule 0 → hits {host=web1}',
    'After one flush (filters and agent tags applied):',
    'counter hits{host=web1} value=3',
    'Sink "prometheus" (prometheus_exporter) would send (',
    '  hits_total{host="web1"} 3',
    'Sink "console" (console) would send (',
    '  hits,host=web1 value=3',
  ];
  let at = 0;
  for (const piece of want) {
    const found = r.out.indexOf(piece, at);
    assert.ok(found >= 0, `missing ${JSON.stringify(piece)} after offset ${at} in:\n${r.out}`);
    at = found + piece.length;
  }
  // The gauge delta on a name held as a counter is a type conflict: nothing else comes out of it.
  assert.equal(r.out.match(/^\s*hits_total/gm)?.length, 1);
  assert.deepEqual(run(['explain', '--config', file, '--source', 'nope', 'x:1|c']).code, 1);

  // For machines: every step as JSON, with the dialect and mode chosen on the command line.
  const j = run([
    'explain',
    '--config',
    file,
    '--json',
    '--dialect',
    'dogstatsd',
    '--mode',
    'strict',
    'legacy.web1.hits:3|c|@2\\nq:1|c',
  ]);
  assert.equal(j.code, 0, j.err);
  const doc = JSON.parse(j.out) as {
    dialect: string;
    mode: string;
    parsed: { line: string; name?: string; rejected?: string }[];
    mappings: { name: string; rule: number | null; to: unknown }[];
    metrics: { name: string; value: number }[];
    sinks: { id: string; output: string; bytes: number }[];
  };
  assert.equal(doc.dialect, 'dogstatsd');
  assert.equal(doc.mode, 'strict');
  assert.deepEqual(doc.parsed[0], {
    line: 'legacy.web1.hits:3|c|@2',
    outcome: '✗ bad_sample_rate',
    rejected: 'bad_sample_rate',
  });
  assert.deepEqual(doc.mappings, [{ name: 'q', type: 'c', rule: null, to: null }]);
  assert.deepEqual(
    doc.metrics.map((m) => [m.name, m.value]),
    [['q', 1]],
  );
  const prom = doc.sinks.find((x) => x.id === 'prometheus');
  assert.equal(prom?.bytes, Buffer.byteLength(prom?.output ?? 'x'));
  assert.equal(run(['explain', '--config', file, '--dialect', 'graphite', 'x:1|c']).code, 2);
});
