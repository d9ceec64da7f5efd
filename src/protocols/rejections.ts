/**
 * Counts rejected input lines by reason and keeps the most recent few in a ring, so an operator
 * can see what a misbehaving client sends without logging every line. Shared by every parser
 * whose rejections are a closed set of reason codes.
 */

import type { RejectedLine } from '../core/rejection.js';

export type { RejectedLine };

export class RejectionLog<R extends string> {
  readonly counts: Record<R, number>;
  total = 0;
  private readonly ring: (RejectedLine<R> | undefined)[];
  private next = 0;

  constructor(
    reasons: readonly R[],
    readonly capacity = 16,
    readonly maxLineBytes = 256,
  ) {
    this.counts = Object.fromEntries(reasons.map((r) => [r, 0])) as Record<R, number>;
    this.ring = new Array<RejectedLine<R> | undefined>(capacity).fill(undefined);
  }

  record(reason: R, buf: Buffer, start: number, end: number, from?: string, at?: number): void {
    this.counts[reason]++;
    this.total++;
    if (this.capacity === 0) return;
    const cut = end - start > this.maxLineBytes;
    const text = buf.toString('utf8', start, cut ? start + this.maxLineBytes : end);
    const entry: { reason: R; line: string; from?: string; at?: number } = {
      reason,
      line: cut ? text + '…' : text,
    };
    if (from !== undefined) entry.from = from;
    if (at !== undefined) entry.at = at;
    this.ring[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
  }

  /** The kept lines, oldest first. */
  recent(): RejectedLine<R>[] {
    const out: RejectedLine<R>[] = [];
    for (let k = 0; k < this.capacity; k++) {
      const entry = this.ring[(this.next + k) % this.capacity];
      if (entry !== undefined) out.push(entry);
    }
    return out;
  }
}
