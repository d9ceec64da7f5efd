/**
 * What `npm pack` would publish: the agent and what its docs link to, and nothing of the test
 * harness. Every source map points at a source in the package, and every relative link of the
 * package's markdown resolves inside it (README links into docs/ and src/ included).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
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

test("bin/sluice.js refuses the Node versions package.json's engines excludes, and names the floor", () => {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
    engines: { node: string };
  };
  const floor = /^>=(\d+)\.(\d+)\.0$/.exec(pkg.engines.node);
  assert.ok(floor, `engines.node is ${pkg.engines.node}, not a plain floor`);
  const bin = readFileSync(path.join(repoRoot, 'bin', 'sluice.js'), 'utf8');
  assert.ok(
    bin.includes(`major < ${floor[1]} || (major === ${floor[1]} && minor < ${floor[2]})`) &&
      bin.includes(`Node.js ${floor[1]}.${floor[2]} or later`),
    "bin/sluice.js's version check differs from engines.node",
  );
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  assert.ok(readme.includes(`Node.js ${floor[1]}.${floor[2]} or later`), 'the README states another floor');
});

test('the packed tarball installs with npm and runs: generate, validate, explain', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-pack-'));
  try {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const packed = JSON.parse(
      execFileSync(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], {
        cwd: repoRoot,
        encoding: 'utf8',
      }),
    ) as { filename: string }[];
    const app = path.join(tmp, 'app');
    mkdirSync(app);
    writeFileSync(path.join(app, 'package.json'), '{"name":"app","private":true}\n');
    // Dependencies come from npm's cache when `npm ci` already fetched them.
    execFileSync(
      npm,
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        path.join(tmp, packed[0]?.filename as string),
      ],
      { cwd: app, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const bin = path.join(app, 'node_modules', 'sluice', 'bin', 'sluice.js');
    const run = (args: string[]): string =>
      execFileSync(process.execPath, [bin, ...args], { cwd: app, encoding: 'utf8' });
    writeFileSync(path.join(app, 'sluice.yaml'), run(['generate']));
    assert.equal(run(['validate', 'sluice.yaml']), 'sluice.yaml: valid\n');
    assert.match(run(['explain', 'api.hits:1|c|#env:prod']), /api\.hits: c 1 \{env=prod\}/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
