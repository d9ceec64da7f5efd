import assert from 'node:assert/strict';
import {
  appendFileSync,
  chmodSync,
  mkdtempSync,
  renameSync,
  rmSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FileFollower, type SwitchReason } from './follow.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-follow-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A follower stepped by hand, recording what it hands over. */
function follower(file: string, fromBeginning: boolean, readSize?: number) {
  const events: (string | { switched: SwitchReason } | { problem: string })[] = [];
  const f = new FileFollower(
    file,
    { fromBeginning, pollIntervalMs: 3_600_000, ...(readSize === undefined ? {} : { readSize }) },
    {
      data: (chunk) => events.push(chunk.toString('utf8')),
      switched: (reason) => events.push({ switched: reason }),
      problem: (e) => events.push({ problem: e.code ?? e.message }),
    },
  );
  /** Everything handed over since the last call, text joined. */
  const take = (): (string | object)[] => {
    const out: (string | object)[] = [];
    for (const e of events.splice(0)) {
      if (typeof e === 'string' && typeof out.at(-1) === 'string') out[out.length - 1] += e;
      else out.push(e);
    }
    return out;
  };
  return { f, take };
}

describe('FileFollower', () => {
  it('starts at the end, and hands over what is appended, once', async () => {
    const file = path.join(dir, 'a.log');
    writeFileSync(file, 'old\n');
    const { f, take } = follower(file, false);
    await f.poll();
    assert.deepEqual(take(), []);
    appendFileSync(file, 'new 1\n');
    await f.poll();
    appendFileSync(file, 'new 2\npart');
    await f.poll();
    await f.poll();
    assert.deepEqual(take(), ['new 1\nnew 2\npart']);
    await f.stop();
  });

  it('from_beginning reads what is there first, in reads of any size', async () => {
    const file = path.join(dir, 'a.log');
    writeFileSync(file, 'line 1\nline 2\n');
    const { f, take } = follower(file, true, 3);
    await f.poll();
    assert.deepEqual(take(), ['line 1\nline 2\n']);
    await f.stop();
  });

  it('drops the rest of a line being written when it starts at the end', async () => {
    const file = path.join(dir, 'a.log');
    writeFileSync(file, 'done\n[2, 4)   ');
    const { f, take } = follower(file, false);
    await f.poll();
    appendFileSync(file, '  3 |@|\n\n@x: \n');
    await f.poll();
    assert.deepEqual(take(), ['\n@x: \n']);
    await f.stop();
  });

  it('waits for a missing file and reads it from its start when it appears', async () => {
    const file = path.join(dir, 'later.log');
    const { f, take } = follower(file, false);
    await f.poll();
    writeFileSync(file, 'first\n');
    await f.poll();
    assert.deepEqual(take(), ['first\n']);
    await f.stop();
  });

  it('starts over after truncation (copytruncate with an appending writer)', async () => {
    const file = path.join(dir, 'a.log');
    writeFileSync(file, '');
    const { f, take } = follower(file, false);
    await f.poll();
    appendFileSync(file, 'before rotation, long enough\n');
    await f.poll();
    truncateSync(file, 0);
    appendFileSync(file, 'after\n');
    await f.poll();
    assert.deepEqual(take(), ['before rotation, long enough\n', { switched: 'truncated' }, 'after\n']);
    await f.stop();
  });

  it('reads the old file to its end, then the new one from its start (rename and create)', async () => {
    const file = path.join(dir, 'a.log');
    writeFileSync(file, '');
    const { f, take } = follower(file, false);
    await f.poll();
    appendFileSync(file, 'one\n');
    await f.poll();
    renameSync(file, `${file}.1`);
    // The writer still holds the old file: its last lines land there.
    appendFileSync(`${file}.1`, 'two\n');
    await f.poll();
    assert.deepEqual(take(), ['one\ntwo\n']);
    writeFileSync(file, 'three\n');
    appendFileSync(`${file}.1`, 'late\n');
    await f.poll();
    assert.deepEqual(take(), ['late\n', { switched: 'rotated' }, 'three\n']);
    appendFileSync(file, 'four\n');
    await f.poll();
    assert.deepEqual(take(), ['four\n']);
    await f.stop();
  });

  it('follows a file deleted and created again', async () => {
    const file = path.join(dir, 'a.log');
    writeFileSync(file, '');
    const { f, take } = follower(file, false);
    await f.poll();
    unlinkSync(file);
    writeFileSync(file, 'fresh\n');
    await f.poll();
    assert.deepEqual(take(), [{ switched: 'rotated' }, 'fresh\n']);
    await f.stop();
  });

  it('reports a file it may not read, and reads it once it may', async () => {
    if (process.getuid?.() === 0) return; // root reads anything; nothing to test
    const file = path.join(dir, 'a.log');
    writeFileSync(file, 'secret\n');
    chmodSync(file, 0o000);
    const { f, take } = follower(file, true);
    await f.poll();
    assert.deepEqual(take(), [{ problem: 'EACCES' }]);
    chmodSync(file, 0o644);
    await f.poll();
    assert.deepEqual(take(), ['secret\n']);
    await f.stop();
  });

  it('polls by itself once started, and stops', async () => {
    const file = path.join(dir, 'a.log');
    writeFileSync(file, '');
    const events: string[] = [];
    const f = new FileFollower(
      file,
      { fromBeginning: false, pollIntervalMs: 10 },
      { data: (c) => events.push(c.toString()), switched: () => {}, problem: () => {} },
    );
    await f.start();
    appendFileSync(file, 'x\n');
    const deadline = Date.now() + 5_000;
    while (events.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(events, ['x\n']);
    await f.stop();
    appendFileSync(file, 'y\n');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(events, ['x\n']);
  });
});
