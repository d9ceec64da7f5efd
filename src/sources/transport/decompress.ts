/**
 * Compressed datagrams (Bucky3's `try_decompress`): a datagram that starts with a zlib header
 * (RFC 1950 §2.2) or the gzip magic (RFC 1952 §2.3.1) is inflated, with a hard cap on the
 * inflated size so a small "bomb" (100 MB of zeros deflates to ~100 KB) costs at most the cap in
 * memory and a few milliseconds: zlib stops as soon as its output passes `maxOutputLength`.
 */
import { gunzipSync, inflateSync } from 'node:zlib';

export const NOT_COMPRESSED = 0;
export const ZLIB = 1;
export const GZIP = 2;
export type Compression = typeof NOT_COMPRESSED | typeof ZLIB | typeof GZIP;

/**
 * What a datagram's first two bytes say. zlib: CMF 0x78 (deflate, 32 KiB window, what every
 * encoder writes), FLG with FDICT clear and (CMF*256 + FLG) a multiple of 31; that leaves
 * 0x01, 0x5e, 0x9c and 0xda. Text can only collide with "x^" (0x78 0x5e), which is why a
 * datagram that fails to inflate is still handed on as plain text (see `inflateDatagram`).
 */
export function sniffCompression(buf: Buffer): Compression {
  if (buf.length < 2) return NOT_COMPRESSED;
  const b0 = buf[0] as number;
  const b1 = buf[1] as number;
  if (b0 === 0x1f && b1 === 0x8b) return GZIP;
  if (b0 === 0x78 && (b1 & 0x20) === 0 && (b0 * 256 + b1) % 31 === 0) return ZLIB;
  return NOT_COMPRESSED;
}

export const DECOMPRESS_FAILURES = ['decompressed_too_large', 'bad_compression'] as const;
export type DecompressFailure = (typeof DECOMPRESS_FAILURES)[number];

/**
 * Inflates `buf` (of the given kind) to at most `maxBytes`. Returns the inflated bytes, or why
 * not: larger than the cap, or not a valid stream (corrupt, truncated, trailing garbage in a
 * gzip member). Never throws.
 */
export function inflateCapped(buf: Buffer, kind: Compression, maxBytes: number): Buffer | DecompressFailure {
  try {
    return kind === GZIP
      ? gunzipSync(buf, { maxOutputLength: maxBytes })
      : inflateSync(buf, { maxOutputLength: maxBytes });
  } catch (error) {
    return (error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE'
      ? 'decompressed_too_large'
      : 'bad_compression';
  }
}
