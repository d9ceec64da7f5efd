/**
 * Fixtures for the bpftrace parser and source: the reference output of
 * src/sources/bpftrace/testdata/interval-hist.bt, as bpftrace 0.17 printed it.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './processes.js';

/** The testdata directory, from the repository (tsc does not copy it into an outDir). */
export function bpftraceTestdata(): string {
  const candidates = [
    path.join(repoRoot, 'src/sources/bpftrace/testdata'),
    path.resolve('src/sources/bpftrace/testdata'),
  ];
  const dir = candidates.find((c) => existsSync(path.join(c, 'interval-hist.log')));
  if (dir === undefined) throw new Error(`bpftrace testdata not found; tried ${candidates.join(', ')}`);
  return dir;
}

/** interval-hist.log: four prints of five maps (hist, keyed hist, lhist), with time lines. */
export function referenceLog(): Buffer {
  return readFileSync(path.join(bpftraceTestdata(), 'interval-hist.log'));
}
