/**
 * Helpers for config tests: parsing options with a component's schema, and checking its sample
 * block (documented options, embedded in the README) the way every sink's own test does.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { formatPath, type Fields, type Issue, type Schema } from '../config/schema.js';

/** `options` parsed by `schema`, with its issues as `path: message` lines. */
export function configIssues<T>(
  schema: Schema<T>,
  options: Record<string, unknown>,
): { config: T; issues: string[] } {
  const issues: Issue[] = [];
  const config = schema.parse(options, [], issues) as T;
  return { config, issues: issues.map((i) => `${formatPath(i.path)}: ${i.message}`) };
}

/** `options` parsed by `schema`, asserting that they are valid. */
export function parseConfig<T>(schema: Schema<T>, options: Record<string, unknown>): T {
  const { config, issues } = configIssues(schema, options);
  assert.deepEqual(issues, []);
  return config;
}

/**
 * Asserts that every field has a doc comment in the schema, and stands in the sample (its
 * parsed `options`) under a comment; consecutive options may share one comment block.
 */
export function assertSampleDocumented(
  sample: string,
  fields: Fields,
  options: Record<string, unknown>,
): void {
  const lines = sample.split('\n');
  for (const [key, field] of Object.entries(fields)) {
    assert.ok(field.doc, `${key} has no doc`);
    assert.ok(key in options, `the sample lacks ${key}`);
    let above = lines.findIndex((l) => l.startsWith(`    ${key}:`)) - 1;
    while (above > 0 && /^ {4}\w+:/.test(lines[above] as string)) above--;
    assert.ok((lines[above] ?? '').trimStart().startsWith('#'), `${key} has no comment above it`);
  }
}

/** The text of `src/<folder>/<type>/README.md`: beside the build in dist/, else from the working directory. */
export function componentReadme(folder: 'sinks' | 'sources', type: string): string {
  const beside = new URL(`../../src/${folder}/${type}/README.md`, import.meta.url);
  return readFileSync(existsSync(beside) ? beside : path.resolve(`src/${folder}/${type}/README.md`), 'utf8');
}
