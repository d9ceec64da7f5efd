/**
 * The bounded buffer of a push sink: encoded records (one per metric) waiting to be sent, oldest
 * first, limited both in records and in bytes. When a limit is reached the OLDEST records go:
 * in a metrics pipeline the newest values are the ones worth keeping (Telegraf's metric buffer
 * does the same; Bucky3 cut its buffer in half instead, losing data it had room for).
 *
 * Every record removed without being sent is returned as a count to the caller, who counts it,
 * so `sent + dropped + buffered = written` holds exactly.
 */

/** One metric, encoded for the wire (protocol lines, a protobuf message, a JSON document). */
export type PushRecord = string | Uint8Array;

/** A batch of records taken from a queue, for one send. */
export interface Payload {
  readonly records: readonly PushRecord[];
  /** Byte size of each record, in the same order. */
  readonly sizes: readonly number[];
  /** Number of records (points). */
  readonly points: number;
  readonly bytes: number;
}

export function recordSize(record: PushRecord): number {
  return typeof record === 'string' ? Buffer.byteLength(record, 'utf8') : record.byteLength;
}

/** Reclaim the consumed head of the arrays once it is this long and over half of them. */
const COMPACT_AFTER = 1024;

export class RecordQueue {
  private records: (PushRecord | undefined)[] = [];
  private sizes: number[] = [];
  private head = 0;
  /** Records waiting. */
  points = 0;
  /** Bytes waiting. */
  bytes = 0;

  constructor(
    readonly maxPoints: number,
    readonly maxBytes: number,
  ) {}

  /** Appends one record; returns how many records (old ones, or this one) were dropped. */
  push(record: PushRecord, size: number): number {
    // A record that can never fit would otherwise evict everything and then itself.
    if (size > this.maxBytes) return 1;
    this.records.push(record);
    this.sizes.push(size);
    this.points++;
    this.bytes += size;
    return this.trim();
  }

  /** Whether a full batch (by count or by size) is waiting. */
  hasBatch(batchPoints: number, batchBytes: number): boolean {
    return this.points >= batchPoints || this.bytes >= batchBytes;
  }

  /**
   * Removes the oldest records, up to `batchPoints` records and `batchBytes` bytes, but at least
   * one (a record larger than a batch is sent alone). Undefined when the queue is empty.
   */
  take(batchPoints: number, batchBytes: number): Payload | undefined {
    if (this.points === 0) return undefined;
    const records: PushRecord[] = [];
    const sizes: number[] = [];
    let bytes = 0;
    let i = this.head;
    const end = this.head + this.points;
    while (i < end && records.length < batchPoints) {
      const size = this.sizes[i] as number;
      if (records.length > 0 && bytes + size > batchBytes) break;
      records.push(this.records[i] as PushRecord);
      sizes.push(size);
      this.records[i] = undefined; // let the string go as soon as it is sent
      bytes += size;
      i++;
    }
    this.head = i;
    this.points -= records.length;
    this.bytes -= bytes;
    this.compact();
    return { records, sizes, points: records.length, bytes };
  }

  /**
   * Puts back a payload that could not be sent, in front of everything else, so it is the next
   * one out and order is kept. Returns how many records were dropped to stay within the limits
   * (the oldest first, so possibly records of this payload).
   */
  unshift(payload: Payload): number {
    const n = payload.points;
    if (n === 0) return 0;
    if (this.head >= n) {
      this.head -= n;
      for (let k = 0; k < n; k++) {
        this.records[this.head + k] = payload.records[k];
        this.sizes[this.head + k] = payload.sizes[k] as number;
      }
    } else {
      this.records = [...payload.records, ...this.records.slice(this.head)];
      this.sizes = [...payload.sizes, ...this.sizes.slice(this.head)];
      this.head = 0;
    }
    this.points += n;
    this.bytes += payload.bytes;
    return this.trim();
  }

  /** Empties the queue; returns how many records it held. */
  clear(): number {
    const n = this.points;
    this.records = [];
    this.sizes = [];
    this.head = 0;
    this.points = 0;
    this.bytes = 0;
    return n;
  }

  /** Drops the oldest records until both limits hold; returns how many. */
  private trim(): number {
    let dropped = 0;
    while (this.points > this.maxPoints || this.bytes > this.maxBytes) {
      this.bytes -= this.sizes[this.head] as number;
      this.records[this.head] = undefined;
      this.head++;
      this.points--;
      dropped++;
    }
    if (dropped > 0) this.compact();
    return dropped;
  }

  private compact(): void {
    if (this.points === 0) {
      this.records = [];
      this.sizes = [];
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER && this.head * 2 >= this.records.length) {
      this.records = this.records.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }
}
