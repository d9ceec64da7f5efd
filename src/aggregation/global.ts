/**
 * An aggregator's input: agents' interval state (src/protocols/state) turned into the chunks
 * ingest workers hand their main thread (partial.ts), so a sluice aggregator merges agents with
 * the very code that merges one host's worker threads (StatsdAggregator.mergeChunk): counters
 * and histogram bins add, sets unite (as HyperLogLogs once one is), timers pool their samples,
 * sketches merge, and a gauge takes the value written last on any host.
 */
import type { StateSeries } from '../protocols/state/codec.js';
import {
  STATSD_COUNTER,
  STATSD_DISTRIBUTION,
  STATSD_GAUGE,
  STATSD_HISTOGRAM,
  STATSD_SET,
  STATSD_TIMER,
  type StatsdType,
} from '../protocols/statsd/parser.js';
import type { PinnedShape } from './aggregator.js';
import { emptyChunk, type PartialChunk } from './partial.js';
import type { SketchJSON } from './sketch.js';

const TYPES: Record<StateSeries['type'], StatsdType> = {
  counter: STATSD_COUNTER,
  gauge: STATSD_GAUGE,
  set: STATSD_SET,
  timer: STATSD_TIMER,
  histogram: STATSD_HISTOGRAM,
  distribution: STATSD_DISTRIBUTION,
};

/** Collects decoded series into one chunk; `take` hands it over and starts the next. */
export class StateChunkBuilder {
  private chunk = emptyChunk(0);
  private text: string[] = [];
  private shape: number[] = [];
  private timers: Float64Array[] = [];
  private timerLength = 0;
  private pinned: [number, PinnedShape][] = [];

  /** Series in the chunk being built. */
  get size(): number {
    return this.chunk.defTypes.length;
  }

  add(s: StateSeries): void {
    const c = this.chunk;
    const id = c.defTypes.length;
    c.defTypes.push(TYPES[s.type]);
    this.text.push(s.name);
    this.shape.push(s.name.length, s.tags.length);
    for (const [k, v] of s.tags) {
      this.text.push(k, v);
      this.shape.push(k.length, v.length);
    }
    switch (s.type) {
      case 'counter':
        c.counterIds.push(id);
        c.counterValues.push(s.value);
        break;
      case 'gauge':
        // The agent's value, set when it was written: the latest write on any host wins.
        c.gaugeIds.push(id);
        c.gaugeSet.push(s.value);
        c.gaugeSetTime.push(s.updatedAt);
        c.gaugeDelta.push(0);
        c.gaugeDeltaTime.push(NaN);
        break;
      case 'set':
        if ('members' in s) {
          c.setIds.push(id);
          c.setMembers.push(s.members as string[]);
        } else {
          (c.setSketchIds ??= []).push(id);
          (c.setSketches ??= []).push(s.sketch);
        }
        break;
      case 'timer':
        c.timerIds.push(id);
        c.timerCounts.push(s.count);
        c.timerSums.push(s.weightedSum);
        c.timerLengths.push(s.samples.length);
        this.timers.push(s.samples);
        this.timerLength += s.samples.length;
        break;
      case 'histogram': {
        const n = (s.bins.length - 4) / 5;
        const state = new Float64Array(4 * n + 4);
        const bounds: number[] = [];
        for (let i = 0; i < n; i++) {
          if (i < n - 1) bounds.push(s.bins[5 * i] as number);
          state[i] = s.bins[5 * i + 1] as number;
          state[n + i] = s.bins[5 * i + 2] as number;
          // An empty bin's extremes read NaN on the wire and ±Infinity in the accumulator.
          state[2 * n + i] = orInfinity(s.bins[5 * i + 3] as number, Infinity);
          state[3 * n + i] = orInfinity(s.bins[5 * i + 4] as number, -Infinity);
        }
        state[4 * n] = s.bins[5 * n] as number;
        state[4 * n + 1] = s.bins[5 * n + 1] as number;
        state[4 * n + 2] = orInfinity(s.bins[5 * n + 2] as number, Infinity);
        state[4 * n + 3] = orInfinity(s.bins[5 * n + 3] as number, -Infinity);
        c.histogramIds.push(id);
        c.histogramStates.push(state);
        (c.histogramBounds ??= []).push(bounds);
        // The series takes the agents' bins, whatever the aggregator's own default bins are.
        this.pinned.push([id, { bins: bounds }]);
        break;
      }
      case 'distribution': {
        const empty = s.count === 0;
        const json: SketchJSON = {
          v: 2,
          alpha: s.alpha,
          schema: s.schema,
          bins: s.maxBins,
          zero: s.zero,
          sum: s.sum,
          min: empty ? null : s.min,
          max: empty ? null : s.max,
          pos: s.positive.counts.length === 0 ? [] : [s.positive.offset, ...s.positive.counts],
          neg: s.negative.counts.length === 0 ? [] : [s.negative.offset, ...s.negative.counts],
        };
        c.sketchIds.push(id);
        c.sketches.push(json);
        break;
      }
    }
  }

  /** The chunk of everything added since the last take (definitions included). */
  take(): PartialChunk {
    const c = this.chunk;
    c.defText = this.text.join('');
    c.defShape = Int32Array.from(this.shape);
    if (this.pinned.length > 0) c.defPinned = this.pinned;
    if (this.timerLength > 0) {
      const all = new Float64Array(this.timerLength);
      let at = 0;
      for (const v of this.timers) {
        all.set(v, at);
        at += v.length;
      }
      c.timerValues = all;
    }
    c.last = true;
    this.chunk = emptyChunk(0);
    this.text = [];
    this.shape = [];
    this.timers = [];
    this.timerLength = 0;
    this.pinned = [];
    return c;
  }
}

function orInfinity(v: number, infinity: number): number {
  return v === v ? v : infinity;
}
