/**
 * One conformance check for every registered component: its sample block (what `sluice generate`
 * prints and its README embeds) is valid, shows the defaults, and documents every option.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { formatPath, type Issue } from './config/schema.js';
import { registry } from './registry.js';

function readme(folder: string, type: string): string {
  // From dist/ in a normal build; from the working directory otherwise.
  const besideBuild = new URL(`../src/${folder}/${type}/README.md`, import.meta.url);
  return readFileSync(
    existsSync(besideBuild) ? besideBuild : path.resolve(`src/${folder}/${type}/README.md`),
    'utf8',
  );
}

const all = [
  ...registry.sources.map((d) => ['sources', d] as const),
  ...registry.sinks.map((d) => ['sinks', d] as const),
];

for (const [folder, def] of all) {
  describe(`${def.type} component`, () => {
    const doc = parse(def.sample) as Record<string, Record<string, unknown>>;
    const [instance] = Object.keys(doc);
    const body = doc[instance ?? ''] ?? {};
    const { type, ...options } = body;

    it('has a sample with one instance of its type, indented as under sources:/sinks:', () => {
      assert.equal(Object.keys(doc).length, 1);
      assert.equal(type, def.type);
      assert.ok(def.sample.startsWith(`  ${instance}:\n    type: ${def.type}\n`), def.sample.slice(0, 60));
    });

    it('has a sample that passes its schema and shows the defaults', () => {
      const issues: Issue[] = [];
      const parsed = def.schema.parse(options, [], issues);
      assert.deepEqual(
        issues.map((i) => `${formatPath(i.path)}: ${i.message}`),
        [],
      );
      // Options without a default (the program a command source runs, say) are the instance's
      // own; every other option shows its default.
      const required = Object.fromEntries(
        Object.entries(options).filter(([k]) => def.schema.fields[k]?.defaultValue === undefined),
      );
      assert.deepEqual(parsed, def.schema.parse(required, [], []));
    });

    it('documents every option in the schema and in the sample, with a comment above it', () => {
      const lines = def.sample.split('\n');
      for (const [key, field] of Object.entries(def.schema.fields)) {
        assert.ok(field.doc, `${key} has no doc`);
        assert.ok(key in options, `the sample lacks ${key}`);
        // Consecutive options may share one comment block.
        let above = lines.findIndex((l) => l.startsWith(`    ${key}:`)) - 1;
        while (above > 0 && /^ {4}\w+:/.test(lines[above] as string)) above--;
        assert.ok((lines[above] ?? '').trimStart().startsWith('#'), `${key} has no comment above it`);
      }
    });

    it('has a README that embeds the sample verbatim', () => {
      assert.ok(
        readme(folder, def.type).includes(def.sample),
        `src/${folder}/${def.type}/README.md lacks the sample`,
      );
    });
  });
}
