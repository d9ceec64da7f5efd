/**
 * The aggregator's state, without I/O: per partition it owns, the open global windows, each a
 * merging StatsdAggregator fed with agents' interval state (src/aggregation/global.ts).
 *
 * - A series' state belongs to the window holding its agent's flush time (`timestamp − 1 ms`,
 *   so a flush at 10:00:10.000 closes the window 10:00:00–10:00:10).
 * - A window closes once the clock passes its end plus `allowed lateness`, unless its partition
 *   is still replaying what it held before this aggregator got it (then it waits: see below).
 * - State for a window already closed is late: merged into the earliest open window
 *   (`late: next_window`) or dropped (`late: drop`), and counted either way.
 * - Offsets: what may be committed for a partition is the first offset merged into any window
 *   still open, or the next one to read when none is. So a crash loses no open window: whoever
 *   takes the partition reads every open window's state again.
 * - Replays: after an assignment the consumer reads each partition from its committed offset.
 *   Until it reaches the partition's end as it was then, the partition is replaying: none of its
 *   windows closes, and the markers other aggregators wrote after delivering a window
 *   (WindowMessage) take that window out, counted as duplicate state. What this aggregator
 *   delivered itself it remembers, for the partitions it keeps.
 */
import { StatsdAggregator, type AggregatorOptions } from '../../aggregation/aggregator.js';
import { StateChunkBuilder } from '../../aggregation/global.js';
import type { Metric } from '../../core/metric.js';
import { decodeState, StateFormatError, type StateMessage } from '../../protocols/state/codec.js';

export type LatePolicy = 'next_window' | 'drop';

export interface WindowOptions {
  readonly windowMs: number;
  readonly latenessMs: number;
  readonly late: LatePolicy;
  /** Options of each window's aggregator (role, flush interval and expiry are set here). */
  readonly aggregator: Omit<AggregatorOptions, 'role' | 'flushIntervalMs' | 'expiryMs'>;
}

/** What became of one message. */
export type Outcome =
  'merged' | 'late_merged' | 'late_dropped' | 'duplicate' | 'stale' | 'marker' | 'not_assigned' | 'rejected';

interface OpenWindow {
  readonly start: number;
  readonly end: number;
  readonly firstOffset: bigint;
  readonly aggregator: StatsdAggregator;
  readonly pending: StateChunkBuilder;
  series: number;
}

interface PartitionState {
  readonly windows: Map<number, OpenWindow>;
  /** End of the last window delivered (by this aggregator, or by another, per its marker). */
  closedThrough: number;
  /** The next offset to take; lower ones were taken already (a fetch that raced a rebalance). */
  nextOffset: bigint;
  /** Offsets below this were written before the assignment: replaying until it is reached. */
  replayUntil: bigint;
}

export interface ClosedWindow {
  readonly partition: number;
  readonly start: number;
  readonly end: number;
  readonly series: number;
}

/** Merging more than this many series at once would hold the event loop too long. */
const MERGE_CHUNK = 4096;

export class WindowStore {
  private readonly partitions = new Map<number, PartitionState>();
  /** Counters since start, by outcome, and the merge work, for the source's stats. */
  readonly counts: Record<Outcome, number> = {
    merged: 0,
    late_merged: 0,
    late_dropped: 0,
    duplicate: 0,
    stale: 0,
    marker: 0,
    not_assigned: 0,
    rejected: 0,
  };
  /** Series taken out of windows another aggregator had delivered (their markers). */
  duplicateSeries = 0;
  mergeMs = 0;
  mergedSeries = 0;
  lastRejection: string | undefined;

  constructor(private readonly options: WindowOptions) {}

  /**
   * A new assignment: the consumer reads every assigned partition again from `committed`, so
   * every open window goes (it will be rebuilt). What was delivered is remembered for the
   * partitions kept; the others are forgotten.
   */
  assign(assigned: ReadonlyMap<number, { readonly committed: bigint; readonly end: bigint }>): void {
    const closed = new Map<number, number>();
    for (const [p, s] of this.partitions) if (assigned.has(p)) closed.set(p, s.closedThrough);
    this.partitions.clear();
    for (const [p, { committed, end }] of assigned) {
      this.partitions.set(p, {
        windows: new Map(),
        closedThrough: closed.get(p) ?? -Infinity,
        nextOffset: committed < 0n ? 0n : committed,
        replayUntil: end,
      });
    }
  }

  get assigned(): number[] {
    return [...this.partitions.keys()];
  }

  /** Whether a partition still replays what it held before the assignment. */
  replaying(partition: number): boolean {
    const s = this.partitions.get(partition);
    return s !== undefined && s.nextOffset < s.replayUntil;
  }

  /** Takes one message of `partition` at `offset`. */
  add(partition: number, offset: bigint, bytes: Uint8Array): Outcome {
    const outcome = this.take(partition, offset, bytes);
    this.counts[outcome]++;
    return outcome;
  }

  private take(partition: number, offset: bigint, bytes: Uint8Array): Outcome {
    const p = this.partitions.get(partition);
    if (p === undefined) return 'not_assigned';
    if (offset < p.nextOffset) return 'stale';
    const replaying = p.nextOffset < p.replayUntil;
    p.nextOffset = offset + 1n;
    let message: StateMessage;
    try {
      message = decodeState(bytes);
    } catch (e) {
      this.lastRejection = e instanceof StateFormatError ? e.message : String(e);
      return 'rejected';
    }
    if (message.kind === 'window') {
      if (message.partition !== partition) {
        this.lastRejection = `a marker for partition ${message.partition} in partition ${partition}`;
        return 'rejected';
      }
      const open = p.windows.get(message.start);
      if (open !== undefined) {
        p.windows.delete(message.start);
        this.duplicateSeries += open.series;
      }
      if (message.end > p.closedThrough) p.closedThrough = message.end;
      return 'marker';
    }
    const w = this.options.windowMs;
    let start = Math.floor((message.series.timestamp - 1) / w) * w;
    let outcome: Outcome = 'merged';
    if (start + w <= p.closedThrough) {
      // A window this aggregator delivered, read again after a rebalance: already counted.
      if (replaying) return 'duplicate';
      if (this.options.late === 'drop') return 'late_dropped';
      start = p.closedThrough;
      outcome = 'late_merged';
    }
    let open = p.windows.get(start);
    if (open === undefined) {
      open = {
        start,
        end: start + w,
        firstOffset: offset,
        aggregator: new StatsdAggregator(
          { ...this.options.aggregator, role: 'merging', flushIntervalMs: w, expiryMs: 0 },
          () => start + w,
        ),
        pending: new StateChunkBuilder(),
        series: 0,
      };
      p.windows.set(start, open);
    }
    open.pending.add(message.series);
    open.series++;
    if (open.pending.size >= MERGE_CHUNK) this.merge(open);
    return outcome;
  }

  /** Merges what the windows hold unmerged (call when a fetch's messages are all taken). */
  mergePending(): void {
    for (const p of this.partitions.values()) for (const w of p.windows.values()) this.merge(w);
  }

  private merge(w: OpenWindow): void {
    const n = w.pending.size;
    if (n === 0) return;
    const t0 = performance.now();
    w.aggregator.mergeChunk(0, w.pending.take());
    w.aggregator.forgetWorker(0);
    this.mergeMs += performance.now() - t0;
    this.mergedSeries += n;
  }

  /** Closes the windows due at `now`: their metrics, and which windows they were. */
  closeDue(now: number): { batch: Metric[]; closed: ClosedWindow[]; conflicts: number } {
    const batch: Metric[] = [];
    const closed: ClosedWindow[] = [];
    let conflicts = 0;
    for (const [partition, p] of this.partitions) {
      if (p.nextOffset < p.replayUntil) continue;
      const due = [...p.windows.values()]
        .filter((w) => w.end + this.options.latenessMs <= now)
        .sort((a, b) => a.start - b.start);
      for (const w of due) {
        this.merge(w);
        for (const m of w.aggregator.flush(w.end, this.options.windowMs)) batch.push(m);
        conflicts += w.aggregator.mergeConflicts;
        p.windows.delete(w.start);
        if (w.end > p.closedThrough) p.closedThrough = w.end;
        closed.push({ partition, start: w.start, end: w.end, series: w.series });
      }
    }
    return { batch, closed, conflicts };
  }

  /** The offset that may be committed for each partition (see the module comment). */
  commitOffsets(): Map<number, bigint> {
    const out = new Map<number, bigint>();
    for (const [partition, p] of this.partitions) {
      let offset = p.nextOffset;
      for (const w of p.windows.values()) if (w.firstOffset < offset) offset = w.firstOffset;
      out.set(partition, offset);
    }
    return out;
  }

  /** Windows open now, over all partitions. */
  get openWindows(): number {
    let n = 0;
    for (const p of this.partitions.values()) n += p.windows.size;
    return n;
  }
}
