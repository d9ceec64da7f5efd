// The C load generator's binary, compiled from bench/loadgen.c when missing or older than it.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export function loadgenBin() {
  const src = path.join(root, 'bench', 'loadgen.c');
  const bin = path.join(root, 'bench', 'loadgen');
  let fresh = false;
  try {
    fresh = statSync(bin).mtimeMs >= statSync(src).mtimeMs;
  } catch {
    fresh = false;
  }
  if (!fresh) {
    const r = spawnSync(process.env.CC ?? 'cc', ['-O2', '-o', bin, src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`bench: cannot compile bench/loadgen.c: ${r.error ?? r.stderr}`);
  }
  return bin;
}
