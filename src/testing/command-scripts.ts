/**
 * Real programs for the command source's tests: shell scripts written into a temporary
 * directory that is removed when the test ends, and a check that a process is gone.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Owner } from './processes.js';

export interface ScriptDir {
  readonly dir: string;
  /** Writes an executable `#!/bin/sh` script and returns its path. */
  script(name: string, body: string): string;
  /** Writes a plain file (not executable) and returns its path. */
  file(name: string, content: string | Buffer): string;
}

export function scriptDir(owner: Owner): ScriptDir {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-command-'));
  owner.after(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    script(name, body) {
      const file = path.join(dir, name);
      writeFileSync(file, `#!/bin/sh\n${body}\n`);
      chmodSync(file, 0o755);
      return file;
    },
    file(name, content) {
      const file = path.join(dir, name);
      writeFileSync(file, content);
      return file;
    },
  };
}

/**
 * Whether process `pid` has ended: no such process, or a zombie (an orphan whose reaper, PID 1
 * in a container, may be slow or absent).
 */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the command name, which is in parentheses and may contain spaces.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}
