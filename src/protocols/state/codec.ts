/**
 * Interval state, as agents publish it to Kafka for a tier of aggregators (docs/fleet.md): per
 * series the interval's mergeable state, not its finished statistics. One Kafka message per
 * series and flush, keyed by the series (so one series always lands on one partition), its
 * value
 *
 *   "SL" version(1) kind(1)  agent  type(u8)  name  tags(count, key value…)  time  payload
 *
 * with payloads counter: interval, sum · gauge: value, when it was written · set: its members,
 * or a HyperLogLog (dense 16 KiB, or sparse index/register pairs when that is smaller) · timer:
 * interval, count, weighted sum, the received values (or, with `timers: sketch`, a distribution
 * of them) · histogram: interval, each bin's bound,
 * count, sum, min, max, then the totals · distribution: interval, the DDSketch (α, schema, bins,
 * zero count, count, sum, min, max, both bucket runs). Numbers are float64 (sampled counts are
 * fractional), lengths and intervals unsigned varints, strings a length and UTF-8. The names
 * and tags repeated from message to message cost little once Kafka compresses the batch.
 *
 * Kind 2 is an aggregator's marker, written into a partition after it delivered a window:
 *
 *   "SL" version(1) kind(2)  aggregator  partition  window start  window end
 *
 * so an aggregator that takes the partition over after a crash and reads the window's state
 * again knows it was delivered (docs/fleet.md, "Delivery").
 *
 * The decoders read untrusted bytes: every length is checked against what is left, and a bad
 * message throws a StateFormatError naming what is wrong, never a value that lies.
 */
import { HLL_MAX_RANK, HLL_REGISTERS, HyperLogLog } from '../../core/hll.js';
import type { BucketRun, Distribution, Metric } from '../../core/metric.js';
import type { Tags } from '../../core/tags.js';

export const STATE_VERSION = 1;
const MAGIC0 = 0x53; // S
const MAGIC1 = 0x4c; // L
const KIND_SERIES = 1;
const KIND_WINDOW = 2;

const T_COUNTER = 1;
const T_GAUGE = 2;
const T_SET_MEMBERS = 3;
const T_SET_SKETCH = 4;
const T_TIMER = 5;
const T_HISTOGRAM = 6;
const T_DISTRIBUTION = 7;

/** Largest count of anything (members, samples, bins, buckets) a message may declare. */
const MAX_ITEMS = 1 << 24;

export class StateFormatError extends Error {
  override name = 'StateFormatError';
}

interface SeriesBase {
  readonly name: string;
  readonly tags: Tags;
  /** The flush's time on the agent (ms since the epoch): which window the state belongs to. */
  readonly timestamp: number;
}

export type StateSeries =
  | (SeriesBase & { readonly type: 'counter'; readonly value: number; readonly intervalMs: number })
  | (SeriesBase & { readonly type: 'gauge'; readonly value: number; readonly updatedAt: number })
  | (SeriesBase & { readonly type: 'set'; readonly members: readonly string[] })
  | (SeriesBase & { readonly type: 'set'; readonly sketch: Uint8Array })
  | (SeriesBase & {
      readonly type: 'timer';
      readonly intervalMs: number;
      readonly count: number;
      readonly weightedSum: number;
      readonly samples: Float64Array;
    })
  | (SeriesBase & {
      readonly type: 'histogram';
      readonly intervalMs: number;
      /** [le, count, sum, min, max] per bin (le of the last is +Inf), then count, sum, min, max. */
      readonly bins: Float64Array;
    })
  | (SeriesBase & {
      readonly type: 'distribution';
      readonly intervalMs: number;
      readonly alpha: number;
      readonly schema: number;
      readonly maxBins: number;
      readonly zero: number;
      readonly count: number;
      readonly sum: number;
      readonly min: number;
      readonly max: number;
      readonly positive: BucketRun;
      readonly negative: BucketRun;
    });

/** A series' state, and the agent process that sent it (host name and a random boot id). */
export interface SeriesMessage {
  readonly kind: 'series';
  readonly agent: string;
  readonly series: StateSeries;
}

/** An aggregator delivered this window of this partition (docs/fleet.md, "Delivery"). */
export interface WindowMessage {
  readonly kind: 'window';
  readonly aggregator: string;
  readonly partition: number;
  readonly start: number;
  readonly end: number;
}

export type StateMessage = SeriesMessage | WindowMessage;

/** Why a metric cannot be published as mergeable state (it still reaches every other sink). */
export type Unmergeable = 'cumulative counter' | 'summary without samples' | 'distribution without buckets';

export interface StateEncoderOptions {
  /** The agent process's id, in every message. */
  readonly agent: string;
  /** Sets with more members are sent as a HyperLogLog (exact at or below, an estimate above). */
  readonly setExactLimit: number;
  /** maxBins written for a distribution (the aggregator's sketches hold at most this many). */
  readonly sketchMaxBins: number;
  /**
   * Timers as their samples (exact; the aggregator computes the summary over every host's), or
   * as the DDSketch of them the source attached (SummaryMetric.sketch): a distribution, its
   * size bounded whatever the traffic. Default samples.
   */
  readonly timers?: 'samples' | 'sketch';
}

/** Writes state messages into one reused buffer; each `series` or `window` call returns a copy. */
export class StateWriter {
  private buf = Buffer.allocUnsafe(4096);
  private pos = 0;

  constructor(private readonly options: StateEncoderOptions) {}

  /** The message of a metric under `name` and `tags`, or why it has no mergeable state. */
  series(m: Metric, name: string, tags: Tags): Buffer | Unmergeable {
    this.start(KIND_SERIES);
    this.str(this.options.agent);
    switch (m.kind) {
      case 'counter':
        if (m.temporality !== 'delta') return 'cumulative counter';
        this.head(T_COUNTER, name, tags, m.timestamp);
        this.uvarint(m.intervalMs);
        this.f64(m.value);
        break;
      case 'gauge':
        if (m.set === undefined) {
          this.head(T_GAUGE, name, tags, m.timestamp);
          this.f64(m.value);
          this.f64(m.updatedAt ?? m.timestamp);
        } else if ('members' in m.set && m.set.members.length <= this.options.setExactLimit) {
          this.head(T_SET_MEMBERS, name, tags, m.timestamp);
          this.uvarint(m.set.members.length);
          for (const member of m.set.members) this.str(member);
        } else {
          let sketch: HyperLogLog;
          if ('sketch' in m.set) sketch = m.set.sketch;
          else {
            sketch = new HyperLogLog();
            for (const member of m.set.members) sketch.add(member);
          }
          this.head(T_SET_SKETCH, name, tags, m.timestamp);
          this.sketch(sketch.registers);
        }
        break;
      case 'summary': {
        if (this.options.timers === 'sketch' && m.sketch !== undefined) {
          if (!this.distribution(m.sketch, name, tags, m.timestamp, m.intervalMs))
            return 'distribution without buckets';
          break;
        }
        const samples = m.samples;
        if (samples === undefined) return 'summary without samples';
        this.head(T_TIMER, name, tags, m.timestamp);
        this.uvarint(m.intervalMs);
        this.f64(m.summary.count);
        this.f64(m.summary.weightedSum);
        this.uvarint(samples.length);
        this.ensure(8 * samples.length);
        for (let i = 0; i < samples.length; i++) this.f64(samples[i] as number);
        break;
      }
      case 'histogram': {
        const h = m.histogram;
        this.head(T_HISTOGRAM, name, tags, m.timestamp);
        this.uvarint(m.intervalMs);
        this.uvarint(h.bins.length);
        this.ensure(40 * h.bins.length + 32);
        for (const b of h.bins) {
          this.f64(b.le);
          this.f64(b.count);
          this.f64(b.sum);
          this.f64(b.min);
          this.f64(b.max);
        }
        this.f64(h.count);
        this.f64(h.sum);
        this.f64(h.min);
        this.f64(h.max);
        break;
      }
      case 'distribution':
        if (!this.distribution(m.distribution, name, tags, m.timestamp, m.intervalMs))
          return 'distribution without buckets';
        break;
    }
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  private distribution(
    d: Distribution,
    name: string,
    tags: Tags,
    timestamp: number,
    intervalMs: number,
  ): boolean {
    const e = d.exponential?.();
    if (e === undefined) return false;
    this.head(T_DISTRIBUTION, name, tags, timestamp);
    this.uvarint(intervalMs);
    this.f64(d.relativeAccuracy);
    this.svarint(e.schema);
    this.uvarint(this.options.sketchMaxBins);
    this.f64(e.zeroCount);
    this.f64(d.count);
    this.f64(d.sum);
    this.f64(d.min);
    this.f64(d.max);
    this.run(e.positive);
    this.run(e.negative);
    return true;
  }

  /** The marker an aggregator writes into `partition` once it delivered the window. */
  window(aggregator: string, partition: number, start: number, end: number): Buffer {
    this.start(KIND_WINDOW);
    this.str(aggregator);
    this.uvarint(partition);
    this.f64(start);
    this.f64(end);
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  private start(kind: number): void {
    this.pos = 0;
    this.u8(MAGIC0);
    this.u8(MAGIC1);
    this.u8(STATE_VERSION);
    this.u8(kind);
  }

  private head(type: number, name: string, tags: Tags, timestamp: number): void {
    this.u8(type);
    this.str(name);
    this.uvarint(tags.length);
    for (const [k, v] of tags) {
      this.str(k);
      this.str(v);
    }
    this.f64(timestamp);
  }

  private sketch(registers: Uint8Array): void {
    let nonzero = 0;
    for (let i = 0; i < registers.length; i++) if (registers[i] !== 0) nonzero++;
    // Sparse: an index delta (a byte or two) and the register per nonzero register.
    if (nonzero * 3 < registers.length) {
      this.u8(1);
      this.uvarint(nonzero);
      this.ensure(4 * nonzero);
      let last = 0;
      for (let i = 0; i < registers.length; i++) {
        if (registers[i] === 0) continue;
        this.uvarint(i - last);
        this.u8(registers[i] as number);
        last = i;
      }
    } else {
      this.u8(0);
      this.ensure(registers.length);
      this.buf.set(registers, this.pos);
      this.pos += registers.length;
    }
  }

  private run(r: BucketRun): void {
    this.svarint(r.offset);
    this.uvarint(r.counts.length);
    this.ensure(8 * r.counts.length);
    for (const c of r.counts) this.f64(c);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  private f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  private uvarint(v: number): void {
    this.ensure(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  private svarint(v: number): void {
    this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  private str(s: string): void {
    const n = Buffer.byteLength(s);
    this.uvarint(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos);
  }
}

/** Reads a message StateWriter wrote; throws StateFormatError on anything else. */
export function decodeState(bytes: Uint8Array): StateMessage {
  return new Reader(bytes).message();
}

function checkRegisters(registers: Uint8Array): Uint8Array {
  for (let i = 0; i < registers.length; i++)
    if ((registers[i] as number) > HLL_MAX_RANK)
      throw new StateFormatError(`register ${i} holds ${registers[i]}`);
  return registers;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

class Reader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  message(): StateMessage {
    if (this.bytes.length < 4 || this.bytes[0] !== MAGIC0 || this.bytes[1] !== MAGIC1)
      throw new StateFormatError('not a sluice state message (no "SL" magic)');
    this.pos = 2;
    const version = this.u8();
    if (version !== STATE_VERSION)
      throw new StateFormatError(
        `state message version ${version}; this sluice reads version ${STATE_VERSION}`,
      );
    const kind = this.u8();
    let out: StateMessage;
    if (kind === KIND_SERIES) {
      const agent = this.str('agent');
      out = { kind: 'series', agent, series: this.series() };
    } else if (kind === KIND_WINDOW) {
      const aggregator = this.str('aggregator');
      const partition = this.uvarint('partition');
      const start = this.time('window start');
      const end = this.time('window end');
      if (!(end > start)) throw new StateFormatError(`window ends (${end}) before it starts (${start})`);
      out = { kind: 'window', aggregator, partition, start, end };
    } else throw new StateFormatError(`unknown message kind ${kind}`);
    if (this.pos !== this.bytes.length)
      throw new StateFormatError(`${this.bytes.length - this.pos} bytes after the message`);
    return out;
  }

  private series(): StateSeries {
    const type = this.u8();
    const name = this.str('name');
    const tagCount = this.items('tags', 2);
    const tags: [string, string][] = new Array(tagCount);
    for (let i = 0; i < tagCount; i++) tags[i] = [this.str('tag key'), this.str('tag value')];
    for (let i = 1; i < tagCount; i++)
      if ((tags[i - 1] as [string, string])[0] >= (tags[i] as [string, string])[0])
        throw new StateFormatError(`tags of "${name}" are not sorted with unique keys`);
    const timestamp = this.time('time');
    const base = { name, tags: tags as Tags, timestamp };
    switch (type) {
      case T_COUNTER:
        return { ...base, type: 'counter', intervalMs: this.uvarint('interval'), value: this.f64() };
      case T_GAUGE:
        return { ...base, type: 'gauge', value: this.f64(), updatedAt: this.f64() };
      case T_SET_MEMBERS: {
        const n = this.items('members', 1);
        const members: string[] = new Array(n);
        for (let i = 0; i < n; i++) members[i] = this.str('member');
        return { ...base, type: 'set', members };
      }
      case T_SET_SKETCH:
        return { ...base, type: 'set', sketch: this.hll() };
      case T_TIMER: {
        const intervalMs = this.uvarint('interval');
        const count = this.f64();
        const weightedSum = this.f64();
        const n = this.items('samples', 8);
        const samples = new Float64Array(n);
        for (let i = 0; i < n; i++) samples[i] = this.f64();
        return { ...base, type: 'timer', intervalMs, count, weightedSum, samples };
      }
      case T_HISTOGRAM: {
        const intervalMs = this.uvarint('interval');
        const n = this.items('bins', 40);
        if (n === 0) throw new StateFormatError(`histogram "${name}" has no bins`);
        const bins = new Float64Array(5 * n + 4);
        for (let i = 0; i < bins.length; i++) bins[i] = this.f64();
        for (let i = 1; i < n; i++)
          if (!((bins[5 * i] as number) > (bins[5 * (i - 1)] as number)))
            throw new StateFormatError(`histogram "${name}": bin bounds do not ascend`);
        if (bins[5 * (n - 1)] !== Infinity)
          throw new StateFormatError(`histogram "${name}": the last bin is not +Inf`);
        return { ...base, type: 'histogram', intervalMs, bins };
      }
      case T_DISTRIBUTION: {
        const intervalMs = this.uvarint('interval');
        const alpha = this.f64();
        const schema = this.svarint('schema');
        if (schema < -4 || schema > 8) throw new StateFormatError(`distribution "${name}": schema ${schema}`);
        const maxBins = this.uvarint('maxBins');
        const zero = this.f64();
        const count = this.f64();
        const sum = this.f64();
        const min = this.f64();
        const max = this.f64();
        const positive = this.run(name);
        const negative = this.run(name);
        return {
          ...base,
          type: 'distribution',
          intervalMs,
          alpha,
          schema,
          maxBins,
          zero,
          count,
          sum,
          min,
          max,
          positive,
          negative,
        };
      }
      default:
        throw new StateFormatError(`unknown series type ${type}`);
    }
  }

  private run(name: string): BucketRun {
    const offset = this.svarint('bucket offset');
    const n = this.items('buckets', 8);
    if (n > 1 << 16) throw new StateFormatError(`distribution "${name}": ${n} buckets`);
    const counts: number[] = new Array(n);
    for (let i = 0; i < n; i++) counts[i] = this.f64();
    return { offset, counts };
  }

  private hll(): Uint8Array {
    const encoding = this.u8();
    if (encoding === 0) {
      this.need(HLL_REGISTERS, 'registers');
      const registers = this.bytes.slice(this.pos, this.pos + HLL_REGISTERS);
      this.pos += HLL_REGISTERS;
      return checkRegisters(registers);
    }
    if (encoding !== 1) throw new StateFormatError(`unknown set sketch encoding ${encoding}`);
    const n = this.items('registers', 2);
    const registers = new Uint8Array(HLL_REGISTERS);
    let index = 0;
    for (let i = 0; i < n; i++) {
      index += this.uvarint('register index');
      if (index >= HLL_REGISTERS) throw new StateFormatError(`register index ${index}`);
      registers[index] = this.u8();
    }
    return checkRegisters(registers);
  }

  /** A count of items of at least `size` bytes each, checked against the bytes left. */
  private items(what: string, size: number): number {
    const n = this.uvarint(what);
    if (n > MAX_ITEMS || n * size > this.bytes.length - this.pos)
      throw new StateFormatError(`${n} ${what} in the ${this.bytes.length - this.pos} bytes left`);
    return n;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.bytes.length) throw new StateFormatError(`message ends inside ${what}`);
  }

  private u8(): number {
    this.need(1, 'a byte');
    return this.bytes[this.pos++] as number;
  }

  private f64(): number {
    this.need(8, 'a number');
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  private time(what: string): number {
    const t = this.f64();
    if (!Number.isFinite(t)) throw new StateFormatError(`${what} is not a finite number`);
    return t;
  }

  private uvarint(what: string): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      v += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (v > Number.MAX_SAFE_INTEGER) break;
        return v;
      }
      scale *= 128;
    }
    throw new StateFormatError(`${what}: varint too long`);
  }

  private svarint(what: string): number {
    const z = this.uvarint(what);
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  private str(what: string): string {
    const n = this.uvarint(what);
    this.need(n, what);
    let s: string;
    try {
      s = decoder.decode(this.bytes.subarray(this.pos, this.pos + n));
    } catch {
      throw new StateFormatError(`${what}: invalid UTF-8`);
    }
    this.pos += n;
    return s;
  }
}
