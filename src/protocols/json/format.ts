/**
 * Writes typed JSON records as pystatsd clients send them: the inverse of `JsonParser` for
 * typed records (tests, `sluice explain` examples, and any JSON-speaking client in Node).
 */
import type { Tag } from '../../core/tags.js';
import {
  COUNT_KEY,
  NAME_KEY,
  SAMPLE_RATE_KEY,
  TIMESTAMP_KEY,
  TYPE_KEY,
  VALUE_KEY,
  type JsonTypeCode,
} from './parser.js';

const TYPE_NAMES: Record<JsonTypeCode | 'trace', string> = {
  c: 'counter',
  g: 'gauge',
  ms: 'timer',
  h: 'histogram',
  d: 'distribution',
  s: 'set',
  trace: 'trace',
};

const RESERVED = new Set([NAME_KEY, TYPE_KEY, VALUE_KEY, COUNT_KEY, SAMPLE_RATE_KEY, TIMESTAMP_KEY]);

export interface TypedRecordInput {
  readonly name: string;
  readonly type: JsonTypeCode | 'trace';
  /** A number, or the member of a set; absent for traces. */
  readonly value?: number | string;
  readonly sampleRate?: number;
  /** Milliseconds since the epoch. */
  readonly timestamp?: number;
  readonly tags?: readonly Tag[];
}

/** One JSON line (without the newline). Throws a RangeError for an empty or reserved tag key. */
export function formatTypedRecord(r: TypedRecordInput): string {
  const obj: Record<string, unknown> = { [NAME_KEY]: r.name, [TYPE_KEY]: TYPE_NAMES[r.type] };
  if (r.value !== undefined && r.type !== 'trace') obj[VALUE_KEY] = r.value;
  if (r.sampleRate !== undefined && r.sampleRate !== 1) obj[SAMPLE_RATE_KEY] = r.sampleRate;
  if (r.timestamp !== undefined) obj[TIMESTAMP_KEY] = r.timestamp;
  for (const [k, v] of r.tags ?? []) {
    if (RESERVED.has(k) || k === '')
      throw new RangeError(`"${k}" cannot be a tag key: the format reserves it`);
    obj[k] = v;
  }
  return JSON.stringify(obj);
}
