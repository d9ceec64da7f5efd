/**
 * Snappy block format (not the framed/stream format), as remote write 1.0 requires for the
 * request body. snappyjs is a pure-JavaScript port of the reference C++ compressor: no native
 * build, and its output is what Go's `snappy.Decode` (Prometheus, Mimir, VictoriaMetrics) reads.
 * Its types are declared beside this file (snappyjs.d.ts).
 */
import snappy from 'snappyjs';

export function snappyCompress(input: Buffer): Buffer {
  return snappy.compress(input);
}

/** Inverse of snappyCompress; throws on a corrupt block or one that would exceed `maxLength`. */
export function snappyUncompress(input: Buffer, maxLength = 64 * 1024 * 1024): Buffer {
  return snappy.uncompress(input, maxLength);
}
