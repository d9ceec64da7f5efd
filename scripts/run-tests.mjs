#!/usr/bin/env node
// Runs the compiled tests (dist/**/*.test.js) with Node's test runner.
//
//   node scripts/run-tests.mjs                 every test: unit, e2e and integration
//   node scripts/run-tests.mjs --unit          unit tests only (no *.e2e.test.js, no *.integration.test.js)
//   node scripts/run-tests.mjs FILE...         a subset: dist/**.test.js or src/**.test.ts paths
//   node scripts/run-tests.mjs --test-name-pattern=x   other --flags go to `node --test` as they are
//
// Files are listed here rather than with a glob because `node --test` on Node 20 takes no globs.
// The reporter is pinned: spec on a terminal, TAP otherwise, because CI reads the closing
// `# tests / # pass / # fail` lines and Node 23+ defaults to spec even when stdout is a pipe.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');

function findTests(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTests(full));
    else if (entry.isFile() && entry.name.endsWith('.test.js')) out.push(full);
  }
  return out;
}

const isUnit = (file) => !file.endsWith('.e2e.test.js') && !file.endsWith('.integration.test.js');

/** Maps `src/a/b.test.ts` to its compiled `dist/a/b.test.js`; other paths are taken as given. */
function toCompiled(arg) {
  const abs = path.resolve(arg);
  const rel = path.relative(path.join(root, 'src'), abs);
  if (!rel.startsWith('..') && !path.isAbsolute(rel) && rel.endsWith('.ts')) {
    return path.join(dist, rel.slice(0, -'.ts'.length) + '.js');
  }
  return abs;
}

let unitOnly = false;
const nodeFlags = [];
const requested = [];
for (const arg of process.argv.slice(2)) {
  if (arg === '--unit') unitOnly = true;
  else if (arg.startsWith('--')) nodeFlags.push(arg);
  else requested.push(toCompiled(arg));
}

if (!existsSync(dist)) {
  console.error('run-tests: dist/ does not exist; run `npm run build` first.');
  process.exit(2);
}

let files;
if (requested.length > 0) {
  const missing = requested.filter((f) => !existsSync(f));
  if (missing.length > 0) {
    console.error(`run-tests: no such test file (did you build?): ${missing.join(', ')}`);
    process.exit(2);
  }
  files = requested;
} else {
  // The benchmark's own tooling (its /proc readers, the C load generator) is tested too, but
  // only in the full run: it compiles C and sends real traffic.
  const benchTests = unitOnly
    ? []
    : readdirSync(path.join(root, 'bench'))
        .filter((f) => f.endsWith('.test.mjs'))
        .map((f) => path.join(root, 'bench', f));
  files = [...findTests(dist).sort(), ...benchTests.sort()];
}
if (unitOnly) files = files.filter(isUnit);
if (files.length === 0) {
  console.error('run-tests: no test files found.');
  process.exit(2);
}

if (!nodeFlags.some((f) => f.startsWith('--test-reporter'))) {
  nodeFlags.push(`--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`);
}

const child = spawn(process.execPath, ['--test', ...nodeFlags, ...files], { cwd: root, stdio: 'inherit' });
// Ctrl-C reaches the child through the terminal's process group, so we only wait for it to end;
// a SIGTERM sent to this process alone is passed on.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => {
  process.exitCode = code ?? 128 + (os.constants.signals[signal] ?? 0);
});
