import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import type { Issue } from '../../config/schema.js';
import { prometheusExporterSink } from './index.js';

describe('prometheus_exporter sample', () => {
  const doc = parse(prometheusExporterSink.sample) as Record<string, Record<string, unknown>>;
  const body = { ...doc['prometheus'] };

  it('is one block named after the instance, of this type', () => {
    assert.deepEqual(Object.keys(doc), ['prometheus']);
    assert.equal(body.type, 'prometheus_exporter');
    assert.ok(prometheusExporterSink.sample.startsWith('  prometheus:\n'));
  });

  it('passes its own schema', () => {
    const { type: _type, ...options } = body;
    const issues: Issue[] = [];
    prometheusExporterSink.schema.parse(options, [], issues);
    assert.deepEqual(issues, []);
  });

  it('shows every option, each with a comment', () => {
    const shown = Object.keys(body).filter((k) => k !== 'type');
    assert.deepEqual(shown.sort(), Object.keys(prometheusExporterSink.schema.fields).sort());
    const lines = prometheusExporterSink.sample.split('\n');
    for (const key of shown) {
      const at = lines.findIndex((l) => l.startsWith(`    ${key}:`));
      assert.ok(at > 0 && (lines[at - 1] ?? '').trimStart().startsWith('#'), `${key} has no comment`);
      assert.ok(
        prometheusExporterSink.schema.fields[key as keyof typeof prometheusExporterSink.schema.fields].doc,
        `${key} has no doc`,
      );
    }
  });

  it('is embedded in the README', () => {
    // From dist/sinks/prometheus_exporter/ in a normal build; from the working directory otherwise.
    const besideBuild = new URL('../../../src/sinks/prometheus_exporter/README.md', import.meta.url);
    const file = existsSync(besideBuild)
      ? besideBuild
      : path.resolve('src/sinks/prometheus_exporter/README.md');
    const readme = readFileSync(file, 'utf8');
    assert.ok(
      readme.includes(prometheusExporterSink.sample),
      'README.md does not embed the sample block verbatim',
    );
  });
});
