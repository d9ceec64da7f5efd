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

function run(args: string[]): { code: number | 'run'; out: string; err: string } {
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
    ['statsd', 'linux', 'prometheus_exporter'],
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
