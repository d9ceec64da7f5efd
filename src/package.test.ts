/**
 * What `npm pack` would publish: the agent and what its docs link to, and nothing of the test
 * harness. Every source map points at a source in the package, and every relative link of the
 * package's markdown resolves inside it (README links into docs/ and src/ included).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './testing/processes.js';

function packedFiles(): Set<string> {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const out = execFileSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  return new Set((JSON.parse(out) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path));
}

test('the npm package: no test harness, no dangling source map, no dead relative link', () => {
  const files = packedFiles();
  assert.ok(files.has('bin/sluice.js') && files.has('dist/cli/main.js') && files.has('README.md'));
  const harness = [...files].filter((f) => /(^|\/)(testing|testdata)\/|\.test\.|test-util\./.test(f));
  assert.deepEqual(harness, [], 'test files in the package');
  const problems: string[] = [];
  for (const f of files) {
    if (f.endsWith('.map')) {
      const map = JSON.parse(readFileSync(path.join(repoRoot, f), 'utf8')) as {
        sources: string[];
        sourceRoot?: string;
      };
      for (const s of map.sources) {
        const target = path.normalize(path.join(path.dirname(f), map.sourceRoot ?? '', s));
        if (!files.has(target)) problems.push(`${f} maps to ${target}, not in the package`);
      }
    }
    if (f.endsWith('.md')) {
      const text = readFileSync(path.join(repoRoot, f), 'utf8');
      for (const [, link] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/i.test(link as string) || /[?*[\]]/.test(link as string)) continue;
        const target = path.normalize(path.join(path.dirname(f), link as string)).replace(/\/$/, '');
        if (!files.has(target) && ![...files].some((x) => x.startsWith(`${target}/`)))
          problems.push(`${f} links to ${link as string}, not in the package`);
      }
    }
  }
  assert.deepEqual(problems, []);
});
