/**
 * Snappy block format (not the framed/stream format), as remote write 1.0 requires for the
 * request body. snappyjs is a pure-JavaScript port of the reference C++ compressor: no native
 * build, and its output is what Go's `snappy.Decode` (Prometheus, Mimir, VictoriaMetrics) reads.
 * It has no type declarations, hence the typed require.
 */
import { createRequire } from 'node:module';

interface SnappyJs {
  compress(input: Buffer): Buffer;
  uncompress(input: Buffer, maxLength?: number): Buffer;
}

const snappy = createRequire(import.meta.url)('snappyjs') as SnappyJs;

export function snappyCompress(input: Buffer): Buffer {
  return snappy.compress(input);
}

/** Inverse of snappyCompress; throws on a corrupt block or one that would exceed `maxLength`. */
export function snappyUncompress(input: Buffer, maxLength = 64 * 1024 * 1024): Buffer {
  return snappy.uncompress(input, maxLength);
}
