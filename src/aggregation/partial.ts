/**
 * What an ingest worker hands the main thread at a flush: the interval's aggregates of the series
 * it updated, in chunks small enough that neither thread stalls on one (a chunk of 1M series
 * would hold a receive loop for tens of milliseconds, long enough to overflow a socket buffer).
 *
 * Series are numbered by the worker (an id is the series' index in the worker's table); a chunk
 * first defines the series created since the last chunk (`defStart` onwards), so the main
 * thread learns a name and its tags once, not every interval. Values travel in parallel arrays
 * per kind, which the structured clone copies as a few large blocks, not as one object per series.
 *
 * Merging is exact where the kind allows it (aggregator.ts, `mergeChunk`): counters and histogram
 * bins add, sets unite, timers keep every sample (Etsy's statistics are computed once, over the
 * union, so they do not depend on how lines were spread), sketches merge. Gauges keep the
 * operations of the interval with their arrival times, so the main thread can take the value that
 * arrived last across workers and the deltas that came after it.
 */
import type { SketchJSON } from './sketch.js';
import type { PinnedShape } from './aggregator.js';

export interface PartialChunk {
  /** Worker-local id of the first series defined in this chunk; the others follow in order. */
  defStart: number;
  /** StatsdType of each defined series. */
  defTypes: number[];
  /** The names and canonical tags of the defined series, one after the other, unseparated. */
  defText: string;
  /** For each defined series: name length, number of tags, then each key's and value's length. */
  defShape: Int32Array;
  /**
   * Defined series a mapping shaped (their bins or percentiles), by index from `defStart`: the
   * merging thread has no mapper and builds them from this. Absent when there are none.
   */
  defPinned?: [number, PinnedShape][];

  counterIds: number[];
  counterValues: number[];

  gaugeIds: number[];
  /** Last absolute value of the interval, and when it arrived (NaN: none, only deltas). */
  gaugeSet: number[];
  gaugeSetTime: number[];
  /** Sum of the deltas that arrived after that value (all of them when there was none). */
  gaugeDelta: number[];
  /** Arrival time of the last delta (NaN: none). */
  gaugeDeltaTime: number[];

  timerIds: number[];
  /** Observations of each timer, scaled by 1 / sample rate. */
  timerCounts: number[];
  /** The samples of each timer weighted by 1 / sample rate (Summary.weightedSum). */
  timerSums: number[];
  /** Number of samples of each timer, whose values follow one another in `timerValues`. */
  timerLengths: number[];
  timerValues: Float64Array;

  setIds: number[];
  setMembers: string[][];
  /**
   * Sets that arrive as HyperLogLog registers (an aggregator's input from agents whose sets were
   * too large to send): their ids and registers. Absent between ingest threads.
   */
  setSketchIds?: number[];
  setSketches?: Uint8Array[];

  histogramIds: number[];
  /** HistogramAccumulator.state() of each. */
  histogramStates: Float64Array[];
  /**
   * The finite bounds each state was counted in, when they may differ from the series' own (an
   * aggregator's input: agents configured differently). A state whose bounds differ is refused.
   */
  histogramBounds?: (readonly number[])[];
  /** The native histograms kept beside some of them: [series id, sketch]. */
  histogramNatives?: [number, SketchJSON][];

  sketchIds: number[];
  sketches: SketchJSON[];

  /** Series whose interval carried its own time (aggregate mode): the time of the last point. */
  pointTimeIds: number[];
  pointTimes: number[];

  /** Timestamped counter and gauge points forwarded unaggregated (DogStatsD's |T). */
  forwardedIds: number[];
  forwardedValues: number[];
  forwardedTimes: number[];

  /**
   * Set on the first chunk of a drain when the worker dropped expired series since the last
   * one: entry i is the old id of the series that now has id i. Applied before anything else.
   */
  renumber?: Int32Array;
  /** The interval's last chunk. */
  last: boolean;
}

export function emptyChunk(defStart: number): PartialChunk {
  return {
    defStart,
    defTypes: [],
    defText: '',
    defShape: new Int32Array(0),
    counterIds: [],
    counterValues: [],
    gaugeIds: [],
    gaugeSet: [],
    gaugeSetTime: [],
    gaugeDelta: [],
    gaugeDeltaTime: [],
    timerIds: [],
    timerCounts: [],
    timerSums: [],
    timerLengths: [],
    timerValues: new Float64Array(0),
    setIds: [],
    setMembers: [],
    histogramIds: [],
    histogramStates: [],
    sketchIds: [],
    sketches: [],
    pointTimeIds: [],
    pointTimes: [],
    forwardedIds: [],
    forwardedValues: [],
    forwardedTimes: [],
    last: false,
  };
}

let lastArrival = 0;

/**
 * Wall-clock milliseconds with sub-millisecond resolution, comparable between threads, and
 * strictly increasing within one thread, so that two operations never tie.
 */
export function arrivalTime(): number {
  let t = performance.timeOrigin + performance.now();
  if (t <= lastArrival) t = lastArrival + 0.001;
  lastArrival = t;
  return t;
}
