/**
 * Newline framing for stream transports (TCP, Unix stream): turns the arbitrary chunks a stream
 * delivers into buffers of whole lines, the same shape a UDP datagram has, so one parser serves
 * every transport.
 *
 * Memory is bounded by `maxLineBytes` per connection: only the unfinished last line is held
 * between chunks, and a line that grows past the limit is dropped (counted) up to its newline
 * rather than buffered. Complete lines are handed over as a view of the chunk when no partial
 * line precedes them, so the common case copies nothing.
 */

/** Anything with `inc()`: a `StatCounter`, or a plain object in tests. */
export interface Count {
  inc(by?: number): void;
}

const NEWLINE = 0x0a;
const EMPTY = Buffer.alloc(0);

export class LineFramer {
  /** The line in progress (bytes after the last newline seen), at most `maxLineBytes` long. */
  private partial: Buffer = EMPTY;
  /** Inside an oversized line: drop bytes until the next newline. */
  private discarding = false;

  constructor(
    private readonly maxLineBytes: number,
    private readonly oversized: Count,
  ) {}

  /** Bytes held for the unfinished line. */
  get pending(): number {
    return this.partial.length;
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
    this.partial = EMPTY;
    this.hold(chunk, last + 1);
    return out;
  }

  /**
   * The peer closed its side cleanly: its unfinished line is complete (clients such as `nc`
   * do not end the last line). Returns it, or undefined.
   */
  end(): Buffer | undefined {
    const rest = this.partial;
    this.partial = EMPTY;
    this.discarding = false;
    return rest.length > 0 ? rest : undefined;
  }

  /** Forgets the unfinished line (connection cut); returns how many bytes were dropped. */
  drop(): number {
    const n = this.partial.length;
    this.partial = EMPTY;
    this.discarding = false;
    return n;
  }

  /** Appends chunk[from..] to the unfinished line, or starts discarding if it gets too long. */
  private hold(chunk: Buffer, from: number): void {
    const n = chunk.length - from;
    if (n === 0) return;
    if (this.partial.length + n > this.maxLineBytes) {
      this.oversized.inc();
      this.partial = EMPTY;
      this.discarding = true;
      return;
    }
    // A copy: a view would pin the whole chunk (up to 64 KiB) for a few bytes.
    this.partial =
      this.partial.length === 0
        ? Buffer.from(chunk.subarray(from))
        : Buffer.concat([this.partial, chunk.subarray(from)]);
  }

  /** The lines `partial + chunk[start, last)`, without those longer than the limit. */
  private complete(chunk: Buffer, start: number, last: number): Buffer | undefined {
    const head = this.partial;
    // No line can be longer than the whole span: the usual case needs no scan.
    if (
      head.length + last - start > this.maxLineBytes &&
      this.hasOversized(chunk, start, last, head.length)
    ) {
      return this.withoutOversized(chunk, start, last, head);
    }
    if (head.length === 0) return last > start ? chunk.subarray(start, last) : undefined;
    return last > start ? Buffer.concat([head, chunk.subarray(start, last)]) : head;
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
