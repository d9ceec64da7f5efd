import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import type { Issue } from '../../config/schema.js';
import { consoleSink } from './index.js';

describe('console sample', () => {
  const doc = parse(consoleSink.sample) as Record<string, Record<string, unknown>>;
  const body = { ...doc['console'] };

  it('is one block named after the instance, of this type', () => {
    assert.deepEqual(Object.keys(doc), ['console']);
    assert.equal(body.type, 'console');
    assert.ok(consoleSink.sample.startsWith('  console:\n'));
  });

  it('passes its own schema', () => {
    const { type: _type, ...options } = body;
    const issues: Issue[] = [];
    consoleSink.schema.parse(options, [], issues);
    assert.deepEqual(issues, []);
  });

  it('shows every option, each with a comment', () => {
    const shown = Object.keys(body).filter((k) => k !== 'type');
    assert.deepEqual(shown.sort(), Object.keys(consoleSink.schema.fields).sort());
    const lines = consoleSink.sample.split('\n');
    for (const key of shown) {
      const at = lines.findIndex((l) => l.startsWith(`    ${key}:`));
      assert.ok(at > 0 && (lines[at - 1] ?? '').trimStart().startsWith('#'), `${key} has no comment`);
      assert.ok(
        consoleSink.schema.fields[key as keyof typeof consoleSink.schema.fields].doc,
        `${key} has no doc`,
      );
    }
  });

  it('is embedded in the README', () => {
    // From dist/sinks/console/ in a normal build; from the working directory otherwise.
    const besideBuild = new URL('../../../src/sinks/console/README.md', import.meta.url);
    const file = existsSync(besideBuild) ? besideBuild : path.resolve('src/sinks/console/README.md');
    const readme = readFileSync(file, 'utf8');
    assert.ok(readme.includes(consoleSink.sample), 'README.md does not embed the sample block verbatim');
  });
});
