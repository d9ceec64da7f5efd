/**
 * Follows a growing file as `tail -F` does, by polling: bytes appended since the last look are
 * handed over in order, once each.
 *
 * - Truncation (the file is now shorter than what was read: logrotate's copytruncate) starts
 *   over at offset 0.
 * - Rotation (the path now names another file, by device and inode: logrotate's create, or the
 *   writer restarted on a new file) first reads the old file to its end, through the descriptor
 *   still open on it, then reads the new one from its start.
 * - A missing file is waited for; when it appears it is read from its start.
 *
 * Polling rather than fs.watch: inotify misses renames made through another mount namespace
 * and does not exist on every filesystem, and a stat every poll_interval is cheap. A truncation
 * that the writer outgrows again within one poll interval looks like an append: a writer that
 * does not append (bpftrace -o) leaves a hole of NULs there, which the parser skips; one that
 * appends (a `>>` redirect) would have its first new bytes taken for old ones.
 */
import { promises as fsp, type Stats } from 'node:fs';

export type SwitchReason = 'truncated' | 'rotated';

export interface FollowHandlers {
  /** Bytes read, in file order. The buffer is not reused. */
  data(chunk: Buffer): void;
  /** Called before the bytes of a new file, or of a truncated one, are handed over. */
  switched(reason: SwitchReason): void;
  /** A file could not be opened or read; the next poll tries again. */
  problem(error: NodeJS.ErrnoException): void;
}

export interface FollowOptions {
  readonly fromBeginning: boolean;
  readonly pollIntervalMs: number;
  /** Bytes per read call. */
  readonly readSize?: number;
}

export class FileFollower {
  private handle: fsp.FileHandle | undefined;
  private ino = 0;
  private dev = 0;
  private offset = 0;
  /** Started at the end of a file whose last line was still being written: drop up to its end. */
  private skipToNewline = false;
  private first = true;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly buffer: Buffer;

  constructor(
    readonly path: string,
    private readonly options: FollowOptions,
    private readonly handlers: FollowHandlers,
  ) {
    this.buffer = Buffer.allocUnsafe(options.readSize ?? 64 * 1024);
  }

  /** Opens the file if it exists and reads what is there (from_beginning), then polls. */
  async start(): Promise<void> {
    await this.poll();
    this.schedule();
  }

  /** One look at the file. Exposed so tests can step without timers; never rejects. */
  poll(): Promise<void> {
    if (this.running !== undefined) return this.running;
    this.running = this.step()
      .catch((e: unknown) => this.handlers.problem(e as NodeJS.ErrnoException))
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  /** Stops polling and closes the file; a poll in progress finishes first. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.close();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.poll().then(() => this.schedule());
    }, this.options.pollIntervalMs);
  }

  private async step(): Promise<void> {
    if (this.handle === undefined) {
      if (!(await this.open())) return;
    } else {
      const st = await this.handle.stat();
      if (st.size < this.offset) {
        this.offset = 0;
        this.skipToNewline = false;
        this.handlers.switched('truncated');
      }
    }
    await this.readToEnd();
    let current: Stats;
    try {
      current = await fsp.stat(this.path);
    } catch (e) {
      // Renamed away, the new file not created yet: keep reading the old one.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    if (current.ino === this.ino && current.dev === this.dev) return;
    // Rotated: what the writer added to the old file before it moved on is read first.
    await this.readToEnd();
    await this.close();
    this.handlers.switched('rotated');
    if (await this.open()) await this.readToEnd();
  }

  /** Opens the path; false when it does not exist (yet). */
  private async open(): Promise<boolean> {
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(this.path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        // A file that appears later holds only new output: read it from its start.
        this.first = false;
        return false;
      }
      throw e;
    }
    const st = await handle.stat();
    this.handle = handle;
    this.ino = st.ino;
    this.dev = st.dev;
    this.offset = 0;
    this.skipToNewline = false;
    if (this.first && !this.options.fromBeginning && st.size > 0) {
      this.offset = st.size;
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, st.size - 1);
      this.skipToNewline = last[0] !== 0x0a;
    }
    this.first = false;
    return true;
  }

  private async readToEnd(): Promise<void> {
    const handle = this.handle;
    if (handle === undefined) return;
    for (;;) {
      const { bytesRead } = await handle.read(this.buffer, 0, this.buffer.length, this.offset);
      if (bytesRead === 0) return;
      this.offset += bytesRead;
      let chunk = this.buffer.subarray(0, bytesRead);
      if (this.skipToNewline) {
        const nl = chunk.indexOf(0x0a);
        if (nl === -1) continue;
        this.skipToNewline = false;
        chunk = chunk.subarray(nl + 1);
      }
      if (chunk.length > 0) this.handlers.data(Buffer.from(chunk));
      if (this.stopped) return;
    }
  }

  private async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }
}
