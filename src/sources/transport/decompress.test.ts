import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { zlibBomb } from './test-util.js';
import {
  GZIP,
  inflateCapped,
  NOT_COMPRESSED,
  sniffCompression,
  ZLIB,
  type Compression,
} from './decompress.js';

const MiB = 1024 * 1024;

describe('sniffCompression', () => {
  const table: [string, Buffer, number][] = [
    ['zlib default level', deflateSync('a:1|c'), ZLIB],
    ['zlib level 1', deflateSync('a:1|c', { level: 1 }), ZLIB],
    ['zlib level 9', deflateSync('a:1|c', { level: 9 }), ZLIB],
    ['gzip', gzipSync('a:1|c'), GZIP],
    ['raw deflate has no header', deflateRawSync('a:1|c'), NOT_COMPRESSED],
    ['plain StatsD', Buffer.from('a:1|c'), NOT_COMPRESSED],
    ['plain "x:" is not a zlib header', Buffer.from('x:1|c'), NOT_COMPRESSED],
    ['plain "x^" looks like one', Buffer.from('x^y:1|c'), ZLIB],
    ['JSON', Buffer.from('{"a":1}'), NOT_COMPRESSED],
    ['FDICT set', Buffer.from([0x78, 0xbb]), NOT_COMPRESSED],
    ['one byte', Buffer.from([0x1f]), NOT_COMPRESSED],
    ['empty', Buffer.alloc(0), NOT_COMPRESSED],
  ];
  for (const [name, buf, kind] of table) it(name, () => assert.equal(sniffCompression(buf), kind));

  it('finds exactly the four standard zlib headers after 0x78', () => {
    const found: number[] = [];
    for (let b = 0; b < 256; b++) if (sniffCompression(Buffer.from([0x78, b])) === ZLIB) found.push(b);
    assert.deepEqual(found, [0x01, 0x5e, 0x9c, 0xda]);
  });
});

describe('inflateCapped', () => {
  it('inflates zlib and gzip datagrams', () => {
    const text = 'a:1|c\nb:2|g\n'.repeat(100);
    assert.equal(inflateCapped(deflateSync(text), ZLIB, MiB).toString(), text);
    assert.equal(inflateCapped(gzipSync(text), GZIP, MiB).toString(), text);
  });

  it('accepts exactly the cap and refuses one byte more', () => {
    const exact = Buffer.alloc(4096, 0x61);
    assert.equal((inflateCapped(deflateSync(exact), ZLIB, 4096) as Buffer).length, 4096);
    assert.equal(inflateCapped(deflateSync(Buffer.alloc(4097)), ZLIB, 4096), 'decompressed_too_large');
    assert.equal(inflateCapped(gzipSync(Buffer.alloc(4097)), GZIP, 4096), 'decompressed_too_large');
  });

  it('refuses a 100 MB bomb fast, without inflating it', async () => {
    const bomb = await zlibBomb(100 * MiB);
    assert.ok(bomb.length < 150_000, `bomb is ${bomb.length} bytes`);
    const before = process.memoryUsage().arrayBuffers;
    const start = process.hrtime.bigint();
    assert.equal(inflateCapped(bomb, ZLIB, MiB), 'decompressed_too_large');
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    assert.ok(ms < 500, `took ${ms} ms`);
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 * MiB);
  });

  it('reports corrupt, truncated and garbage streams as bad_compression', () => {
    const good = deflateSync('a:1|c\n'.repeat(50));
    const table: [string, Buffer, Compression][] = [
      ['zlib header, garbage body', Buffer.from([0x78, 0x9c, 1, 2, 3, 4, 5]), ZLIB],
      ['truncated zlib', good.subarray(0, good.length - 6), ZLIB],
      [
        'bad zlib checksum',
        Buffer.concat([good.subarray(0, good.length - 1), Buffer.from([(good.at(-1) as number) ^ 1])]),
        ZLIB,
      ],
      ['"x^" text', Buffer.from('x^y:1|c'), ZLIB],
      ['gzip magic, garbage body', Buffer.from([0x1f, 0x8b, 9, 9, 9, 9]), GZIP],
      ['truncated gzip', gzipSync('abc').subarray(0, 12), GZIP],
    ];
    for (const [name, buf, kind] of table)
      assert.equal(inflateCapped(buf, kind, MiB), 'bad_compression', name);
  });

  it('never throws on arbitrary bytes, with or without a compression header', () => {
    const prefix = fc.constantFrom([], [0x78, 0x9c], [0x78, 0x01], [0x78, 0x5e], [0x78, 0xda], [0x1f, 0x8b]);
    fc.assert(
      fc.property(
        prefix,
        fc.uint8Array({ maxLength: 300 }),
        fc.integer({ min: 1, max: 4096 }),
        (p, body, max) => {
          const buf = Buffer.concat([Buffer.from(p), body]);
          const kind = sniffCompression(buf);
          if (kind === NOT_COMPRESSED) return;
          const r = inflateCapped(buf, kind, max);
          if (typeof r !== 'string') assert.ok(r.length <= max);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('round-trips arbitrary data under the cap', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.boolean(), (data, gzip) => {
        const buf = Buffer.from(data);
        const packed = gzip ? gzipSync(buf) : deflateSync(buf);
        assert.equal(sniffCompression(packed), gzip ? GZIP : ZLIB);
        assert.deepEqual(inflateCapped(packed, gzip ? GZIP : ZLIB, 2000), buf);
      }),
    );
  });
});
