// The C load generator: its binary, compiled from bench/loadgen.c when missing or older than it,
// and how the benches run it (or any command that prints one JSON line).
import { spawn, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * The binary's path; undefined when no C compiler is installed (bench/run.mjs then falls back to
 * its Node generator). A compiler that fails on the source is an error.
 */
export function loadgenBinIfCompiler() {
  const src = path.join(root, 'bench', 'loadgen.c');
  const bin = path.join(root, 'bench', 'loadgen');
  try {
    if (statSync(bin).mtimeMs >= statSync(src).mtimeMs) return bin;
  } catch {
    // not built yet
  }
  for (const cc of process.env.CC !== undefined ? [process.env.CC] : ['cc', 'gcc', 'clang']) {
    const r = spawnSync(cc, ['-O2', '-o', bin, src], { encoding: 'utf8' });
    if (r.status === 0) return bin;
    if (r.error === undefined) throw new Error(`bench: ${cc} failed on bench/loadgen.c:\n${r.stderr}`);
  }
  return undefined;
}

/** The binary's path, for the benches that need the C generator. */
export function loadgenBin() {
  const bin = loadgenBinIfCompiler();
  if (bin === undefined) throw new Error('bench: no C compiler (cc, gcc or clang) to build bench/loadgen.c');
  return bin;
}

/** Runs `cmd` to completion; resolves with the JSON line it printed on stdout. */
export function runJson(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out));
      else reject(new Error(`${path.basename(cmd)} ${args.join(' ')} exited ${code}: ${err}`));
    });
  });
}
