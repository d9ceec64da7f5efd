/**
 * The aggregator's lookup tables, laid out for a small heap per series (docs/benchmarks.md,
 * "Bytes per series"): open addressing over typed arrays instead of Maps with string keys, raw
 * key bytes copied into one shared slab instead of an ArrayBuffer per key, and tag pairs shared
 * between series instead of decoded again for each.
 */
import type { Tag, Tags } from '../core/tags.js';
import type { RejectReason, StatsdLine } from '../protocols/statsd/parser.js';

/** What a raw key leads to: its series, a rejection (`type_conflict`) or null (dropped by mapping). */
export type RawTarget<S> = S | RejectReason | null;

/**
 * A series whose `lastSeen` is DEAD has expired: lookups pass over it (a newer live entry for
 * the same key may follow it in the probe sequence) until the tables are rebuilt without it.
 */
export const DEAD = -1;

function isDead(t: unknown): boolean {
  return typeof t === 'object' && t !== null && (t as { lastSeen?: number }).lastSeen === DEAD;
}

// Per entry, in `meta`: slab offset, name length, tag length, key length << 3 | type, hash.
const META = 5;

/**
 * Raw keys (name bytes, type, raw tag bytes and container id, as written) to their targets,
 * probed with the hash the parser computed while scanning and confirmed by comparing bytes: no
 * string is built for a known series. Entries are numbered in insertion order; slots hold
 * entry + 1 (0 = empty) next to the entry's hash, so a mismatch costs no indirection.
 */
export class RawKeyTable<S> {
  private slotHashes: Int32Array;
  private slotEntries: Int32Array;
  private mask: number;
  private meta: Int32Array;
  private targets: RawTarget<S>[] = [];
  private slab: Uint8Array;
  private slabView: DataView;
  private slabUsed = 0;

  constructor(capacity = 1024, slabBytes = 16384) {
    this.slotHashes = new Int32Array(capacity);
    this.slotEntries = new Int32Array(capacity);
    this.mask = capacity - 1;
    this.meta = new Int32Array((capacity / 2) * META);
    this.slab = uninitialised(slabBytes);
    this.slabView = new DataView(this.slab.buffer);
  }

  /** Number of keys held. */
  get size(): number {
    return this.targets.length;
  }

  /** The target of the line's raw key; undefined when the key is unknown. */
  find(line: StatsdLine): RawTarget<S> | undefined {
    const h = line.keyHash;
    const hashes = this.slotHashes;
    const entries = this.slotEntries;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = entries[i] as number;
      if (e === 0) return undefined;
      if (hashes[i] === h && this.matches(e - 1, line)) {
        const t = this.targets[e - 1] as RawTarget<S>;
        if (!isDead(t)) return t;
      }
    }
  }

  /** Bytes of key text held, live or not: enough for a copy of the live keys. */
  get bytes(): number {
    return this.slabUsed;
  }

  /** Number of entries, live or not: where `copyRange` stops. */
  get entries(): number {
    return this.targets.length;
  }

  private matches(entry: number, line: StatsdLine): boolean {
    const meta = this.meta;
    const m = entry * META;
    const n = line.nameEnd - line.nameStart;
    const t = line.tagsEnd - line.tagsStart;
    const c = line.containerEnd - line.containerStart;
    if (meta[m + 1] !== n || meta[m + 2] !== t || meta[m + 3] !== (((n + t + c) << 3) | line.type))
      return false;
    const at = meta[m] as number;
    const view = line.view;
    const slab = this.slabView;
    return (
      rangeEquals(view, line.nameStart, slab, at, n) &&
      rangeEquals(view, line.tagsStart, slab, at + n, t) &&
      (c === 0 || rangeEquals(view, line.containerStart, slab, at + n + t, c))
    );
  }

  /** Remembers the line's raw key (not already held) as leading to `target`. */
  add(line: StatsdLine, target: RawTarget<S>): void {
    const n = line.nameEnd - line.nameStart;
    const t = line.tagsEnd - line.tagsStart;
    const c = line.containerEnd - line.containerStart;
    const at = this.reserve(n + t + c);
    const slab = this.slab;
    const buf = line.buf;
    copyBytes(buf, line.nameStart, slab, at, n);
    copyBytes(buf, line.tagsStart, slab, at + n, t);
    if (c > 0) copyBytes(buf, line.containerStart, slab, at + n + t, c);
    this.append(line.keyHash, at, n, t, ((n + t + c) << 3) | line.type, target);
  }

  /** Copies the keys of entries [from, to) whose target `keep` accepts into `out`. */
  copyRange(out: RawKeyTable<S>, from: number, to: number, keep: (target: RawTarget<S>) => boolean): void {
    for (let e = from; e < to; e++) {
      const target = this.targets[e] as RawTarget<S>;
      if (!keep(target)) continue;
      const m = e * META;
      const at = this.meta[m] as number;
      const kt = this.meta[m + 3] as number;
      const len = kt >>> 3;
      const dest = out.reserve(len);
      copyBytes(this.slab, at, out.slab, dest, len);
      out.append(
        this.meta[m + 4] as number,
        dest,
        this.meta[m + 1] as number,
        this.meta[m + 2] as number,
        kt,
        target,
      );
    }
  }

  /** Copies the keys whose target `keep` accepts into a fresh, compact table. */
  filtered(keep: (target: RawTarget<S>) => boolean): RawKeyTable<S> {
    let count = 0;
    let bytes = 0;
    for (let e = 0; e < this.targets.length; e++) {
      if (!keep(this.targets[e] as RawTarget<S>)) continue;
      count++;
      bytes += (this.meta[e * META + 3] as number) >>> 3;
    }
    let capacity = 1024;
    while (capacity < count * 2 + 2) capacity *= 2;
    const out = new RawKeyTable<S>(capacity, Math.max(16384, bytes));
    this.copyRange(out, 0, this.targets.length, keep);
    return out;
  }

  /** Slab offset of `length` free bytes, growing the slab (doubling) when needed. */
  private reserve(length: number): number {
    const at = this.slabUsed;
    if (at + length > this.slab.length) {
      let size = this.slab.length * 2;
      while (size < at + length) size *= 2;
      const grown = uninitialised(size);
      grown.set(this.slab.subarray(0, at));
      this.slab = grown;
      this.slabView = new DataView(grown.buffer);
    }
    this.slabUsed = at + length;
    return at;
  }

  private append(hash: number, at: number, n: number, t: number, kt: number, target: RawTarget<S>): void {
    const entry = this.targets.length;
    // At most half full keeps probe sequences short.
    if ((entry + 1) * 2 > this.slotEntries.length) this.grow();
    let m = entry * META;
    if (m + META > this.meta.length) {
      const grown = new Int32Array(this.meta.length * 2);
      grown.set(this.meta);
      this.meta = grown;
    }
    const meta = this.meta;
    meta[m++] = at;
    meta[m++] = n;
    meta[m++] = t;
    meta[m++] = kt;
    meta[m] = hash;
    this.targets.push(target);
    this.place(hash, entry + 1);
  }

  private place(hash: number, slotValue: number): void {
    const mask = this.mask;
    const entries = this.slotEntries;
    let i = hash & mask;
    while (entries[i] !== 0) i = (i + 1) & mask;
    entries[i] = slotValue;
    this.slotHashes[i] = hash;
  }

  private grow(): void {
    const oldHashes = this.slotHashes;
    const oldEntries = this.slotEntries;
    const capacity = oldEntries.length * 2;
    this.slotHashes = new Int32Array(capacity);
    this.slotEntries = new Int32Array(capacity);
    this.mask = capacity - 1;
    for (let i = 0; i < oldEntries.length; i++) {
      const e = oldEntries[i] as number;
      if (e !== 0) this.place(oldHashes[i] as number, e);
    }
  }
}

/**
 * Slab memory, not zero-filled: every byte is written before it is read, and zeroing tens of
 * megabytes at once is a pause on the receive path. Its own ArrayBuffer, at offset 0.
 */
function uninitialised(bytes: number): Uint8Array {
  return Buffer.allocUnsafeSlow(bytes);
}

/**
 * A byte loop rather than `set(subarray(...))`: keys are tens of bytes, where the view object a
 * subarray allocates costs more than the copy (and is garbage once per new series).
 */
function copyBytes(from: Uint8Array, start: number, to: Uint8Array, at: number, length: number): void {
  for (let k = 0; k < length; k++) to[at + k] = from[start + k] as number;
}

function rangeEquals(a: DataView, ai: number, b: DataView, bi: number, length: number): boolean {
  let k = 0;
  for (; k + 4 <= length; k += 4) if (a.getInt32(ai + k) !== b.getInt32(bi + k)) return false;
  for (; k < length; k++) if (a.getUint8(ai + k) !== b.getUint8(bi + k)) return false;
  return true;
}

/** 32-bit FNV-1a over a string's UTF-16 code units, continuing from `h`. */
export function hashString(h: number, s: string): number {
  h = Math.imul(h ^ s.length, 0x01000193);
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

export const HASH_SEED = 0x811c9dc5 | 0;

/** The hash of (name, tags) that `SeriesIndex.find` takes, continuing from the name's. */
export function hashTags(nameHash: number, tags: Tags): number {
  let h = nameHash;
  for (const [k, v] of tags) h = hashString(hashString(h, k), v);
  return h;
}

function sameTags(a: Tags, b: Tags): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as Tag;
    const y = b[i] as Tag;
    if (x !== y && (x[0] !== y[0] || x[1] !== y[1])) return false;
  }
  return true;
}

interface Named {
  readonly name: string;
  readonly tags: Tags;
  /** DEAD once expired: `find` passes over it. */
  readonly lastSeen?: number;
}

/**
 * Series by name and canonical tags (or by name alone: `byName`), over hashes the caller
 * computes (hashString, hashTags) and confirmed by comparing the series' own name and tags, so
 * no key string is kept per series.
 */
export class SeriesIndex<S extends Named> {
  private hashes: Int32Array;
  private slots: (S | undefined)[];
  private mask: number;
  private count = 0;

  constructor(
    private readonly byName: boolean,
    capacity = 1024,
  ) {
    this.hashes = new Int32Array(capacity);
    this.slots = new Array<S | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
  }

  find(hash: number, name: string, tags: Tags): S | undefined {
    const hashes = this.hashes;
    const slots = this.slots;
    const mask = this.mask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const s = slots[i];
      if (s === undefined) return undefined;
      // By name, a dead series still says which type the name holds until the rebuild.
      if (
        hashes[i] === hash &&
        s.name === name &&
        (this.byName || (s.lastSeen !== DEAD && sameTags(s.tags, tags)))
      )
        return s;
    }
  }

  /** Adds a series not found under its hash. */
  add(hash: number, s: S): void {
    // Up to three quarters full: only new series and the JSON source's values probe here, not
    // the lines of known series, so a little longer probing buys fewer bytes per series.
    if ((this.count + 1) * 4 > this.slots.length * 3) this.grow();
    this.place(hash, s);
    this.count++;
  }

  private place(hash: number, s: S): void {
    const mask = this.mask;
    let i = hash & mask;
    while (this.slots[i] !== undefined) i = (i + 1) & mask;
    this.slots[i] = s;
    this.hashes[i] = hash;
  }

  private grow(): void {
    const oldHashes = this.hashes;
    const old = this.slots;
    const capacity = old.length * 2;
    this.hashes = new Int32Array(capacity);
    this.slots = new Array<S | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
    for (let i = 0; i < old.length; i++) {
      const s = old[i];
      if (s !== undefined) this.place(oldHashes[i] as number, s);
    }
  }
}

/** Distinct tag pairs remembered; past this the cache starts over (unique values would grow it). */
const MAX_INTERNED = 4096;

/**
 * Shares tag pairs between series: a few keys and values (env:prod, host:web-1) repeat across
 * thousands of series, and each series would otherwise hold its own decoded copies. Bounded:
 * when full it is cleared, so values unique to one series cost only a brief slot.
 */
export class TagInterner {
  /** Key → the shared key string and the shared pairs of its values. */
  private keys = new Map<string, { readonly key: string; readonly values: Map<string, Tag> }>();
  private count = 0;

  /** `tags` with each pair replaced by its shared equal, in an array of exactly its length. */
  intern(tags: Tags): Tags {
    const n = tags.length;
    if (n === 0) return tags;
    const out = new Array<Tag>(n);
    for (let i = 0; i < n; i++) out[i] = this.pair(tags[i] as Tag);
    return out;
  }

  private pair(t: Tag): Tag {
    if (this.count >= MAX_INTERNED) {
      this.keys.clear();
      this.count = 0;
    }
    let entry = this.keys.get(t[0]);
    if (entry === undefined) {
      entry = { key: t[0], values: new Map() };
      this.keys.set(t[0], entry);
    }
    let shared = entry.values.get(t[1]);
    if (shared === undefined) {
      shared = [entry.key, t[1]];
      entry.values.set(t[1], shared);
      this.count++;
    }
    return shared;
  }
}
