/**
 * Newline framing for stream transports (TCP, Unix stream): turns the arbitrary chunks a stream
 * delivers into buffers of whole lines, the same shape a UDP datagram has, so one parser serves
 * every transport.
 *
 * Memory is bounded by `maxLineBytes` per connection: only the unfinished last line is held
 * between chunks, and a line that grows past the limit is dropped (counted) up to its newline
 * rather than buffered. Complete lines are handed over as a view of the chunk when no partial
 * line precedes them, so the common case copies nothing.
 *
 * A line's cost is linear in its length whatever the number of reads it arrives in: the
 * unfinished line grows in a buffer whose capacity doubles (capped at `maxLineBytes`), so each
 * byte is copied a bounded number of times. Copying the whole partial line on every read made a
 * line sent one byte per write cost quadratic time, which any client could trigger.
 */

/** Anything with `inc()`: a `StatCounter`, or a plain object in tests. */
export interface Count {
  inc(by?: number): void;
}

const NEWLINE = 0x0a;
const EMPTY = Buffer.alloc(0);

export class LineFramer {
  /** Holds the line in progress (bytes after the last newline seen) in its first `held` bytes. */
  private partial: Buffer = EMPTY;
  private held = 0;
  /** Inside an oversized line: drop bytes until the next newline. */
  private discarding = false;

  constructor(
    private readonly maxLineBytes: number,
    private readonly oversized: Count,
  ) {}

  /** Bytes held for the unfinished line. */
  get pending(): number {
    return this.held;
  }

  /**
   * Takes the next chunk of the stream and returns its complete lines, newline-separated and
   * without the final newline, or undefined when the chunk completes no (non-empty) line. The
   * result may share memory with `chunk`.
   */
  push(chunk: Buffer): Buffer | undefined {
    let start = 0;
    if (this.discarding) {
      const nl = chunk.indexOf(NEWLINE);
      if (nl < 0) return undefined;
      this.discarding = false;
      start = nl + 1;
    }
    const last = chunk.lastIndexOf(NEWLINE);
    if (last < start) {
      this.hold(chunk, start);
      return undefined;
    }
    const out = this.complete(chunk, start, last);
    // Released, not reused: `out` may be a view of it, and the consumer owns `out` now.
    this.release();
    this.hold(chunk, last + 1);
    return out;
  }

  /**
   * The peer closed its side cleanly: its unfinished line is complete (clients such as `nc`
   * do not end the last line). Returns it, or undefined.
   */
  end(): Buffer | undefined {
    const rest = this.head();
    this.release();
    this.discarding = false;
    return rest.length > 0 ? rest : undefined;
  }

  /** Forgets the unfinished line (connection cut); returns how many bytes were dropped. */
  drop(): number {
    const n = this.held;
    this.release();
    this.discarding = false;
    return n;
  }

  /** The unfinished line, as a view of the held buffer. */
  private head(): Buffer {
    return this.held === 0 ? EMPTY : this.partial.subarray(0, this.held);
  }

  private release(): void {
    this.partial = EMPTY;
    this.held = 0;
  }

  /** Appends chunk[from..] to the unfinished line, or starts discarding if it gets too long. */
  private hold(chunk: Buffer, from: number): void {
    const n = chunk.length - from;
    if (n === 0) return;
    if (this.held + n > this.maxLineBytes) {
      this.oversized.inc();
      this.release();
      this.discarding = true;
      return;
    }
    // A copy: a view would pin the whole chunk (up to 64 KiB) for a few bytes.
    this.reserve(this.held + n);
    this.held += chunk.copy(this.partial, this.held, from);
  }

  /** Makes room for `needed` bytes (at most `maxLineBytes`), doubling so growth costs O(1) a byte. */
  private reserve(needed: number): void {
    if (needed <= this.partial.length) return;
    const capacity = Math.min(this.maxLineBytes, Math.max(needed, 2 * this.partial.length));
    const grown = Buffer.allocUnsafe(capacity);
    this.partial.copy(grown, 0, 0, this.held);
    this.partial = grown;
  }

  /** The lines `partial + chunk[start, last)`, without those longer than the limit. */
  private complete(chunk: Buffer, start: number, last: number): Buffer | undefined {
    const head = this.head();
    // No line can be longer than the whole span: the usual case needs no scan.
    if (
      head.length + last - start > this.maxLineBytes &&
      this.hasOversized(chunk, start, last, head.length)
    ) {
      return this.withoutOversized(chunk, start, last, head);
    }
    if (head.length === 0) return last > start ? chunk.subarray(start, last) : undefined;
    if (last === start) return head;
    // The line's one join: into the spare capacity if the rest fits, else one new buffer.
    if (this.held + last - start <= this.partial.length) {
      const end = this.held + chunk.copy(this.partial, this.held, start, last);
      return this.partial.subarray(0, end);
    }
    return Buffer.concat([head, chunk.subarray(start, last)]);
  }

  private hasOversized(chunk: Buffer, start: number, last: number, headLength: number): boolean {
    let lineStart = start;
    let extra = headLength;
    while (lineStart <= last) {
      const nl = chunk.indexOf(NEWLINE, lineStart);
      const end = nl < 0 || nl > last ? last : nl;
      if (extra + end - lineStart > this.maxLineBytes) return true;
      extra = 0;
      lineStart = end + 1;
    }
    return false;
  }

  private withoutOversized(chunk: Buffer, start: number, last: number, head: Buffer): Buffer | undefined {
    const kept: Buffer[] = [];
    let lineStart = start;
    let first = true;
    while (lineStart <= last) {
      const nl = chunk.indexOf(NEWLINE, lineStart);
      const end = nl < 0 || nl > last ? last : nl;
      const length = (first ? head.length : 0) + end - lineStart;
      if (length > this.maxLineBytes) {
        this.oversized.inc();
      } else if (length > 0) {
        if (kept.length > 0) kept.push(NEWLINE_BUF);
        if (first && head.length > 0) kept.push(head);
        kept.push(chunk.subarray(lineStart, end));
      }
      first = false;
      lineStart = end + 1;
    }
    return kept.length > 0 ? Buffer.concat(kept) : undefined;
  }
}

const NEWLINE_BUF = Buffer.from('\n');
