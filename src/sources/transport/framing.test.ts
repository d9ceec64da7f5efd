import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LineFramer } from './framing.js';

function counter(): { value: number; inc(by?: number): void } {
  return {
    value: 0,
    inc(by = 1) {
      this.value += by;
    },
  };
}

/** Feeds `chunks` and returns what each push delivered (as strings, undefined kept). */
function feed(max: number, chunks: string[]) {
  const oversized = counter();
  const framer = new LineFramer(max, oversized);
  const out = chunks.map((c) => framer.push(Buffer.from(c))?.toString());
  return { out, oversized: oversized.value, framer };
}

describe('LineFramer', () => {
  const table: {
    name: string;
    max?: number;
    chunks: string[];
    out: (string | undefined)[];
    oversized?: number;
    pending?: number;
  }[] = [
    { name: 'whole lines in one chunk', chunks: ['a:1|c\nb:2|c\n'], out: ['a:1|c\nb:2|c'] },
    { name: 'no newline yet', chunks: ['a:1|c'], out: [undefined], pending: 5 },
    {
      name: 'a line split across writes',
      chunks: ['a:1', '|c\nb:', '2|c\n'],
      out: [undefined, 'a:1|c', 'b:2|c'],
    },
    {
      name: 'a line split byte by byte',
      chunks: ['a', ':', '1', '\n'],
      out: [undefined, undefined, undefined, 'a:1'],
    },
    { name: 'partial kept after complete lines', chunks: ['a\nb\nc', 'd\n'], out: ['a\nb', 'cd'] },
    { name: 'bare newlines: a lone one delivers nothing', chunks: ['\n', '\n\n'], out: [undefined, '\n'] },
    { name: 'a line of exactly max bytes is kept', max: 4, chunks: ['abcd\n'], out: ['abcd'] },
    {
      name: 'a longer line is dropped, its neighbours kept',
      max: 4,
      chunks: ['ab\nabcde\ncd\n'],
      out: ['ab\ncd'],
      oversized: 1,
    },
    {
      name: 'an oversized partial is dropped up to its newline',
      max: 4,
      chunks: ['ab\nxxx', 'xx', 'xxxx', 'x\ncd\n'],
      out: ['ab', undefined, undefined, 'cd'],
      oversized: 1,
    },
    {
      name: 'an oversized line made of partial and chunk',
      max: 4,
      chunks: ['xxx', 'xx\nok\n'],
      out: [undefined, 'ok'],
      oversized: 1,
    },
    { name: 'only oversized lines', max: 2, chunks: ['xxx\nyyy\n'], out: [undefined], oversized: 2 },
    {
      name: 'discarding ends exactly at a chunk boundary',
      max: 2,
      chunks: ['xxxx', '\n', 'ok\n'],
      out: [undefined, undefined, 'ok'],
      oversized: 1,
    },
  ];
  for (const t of table) {
    it(t.name, () => {
      const { out, oversized, framer } = feed(t.max ?? 1024, t.chunks);
      assert.deepEqual(out, t.out);
      assert.equal(oversized, t.oversized ?? 0);
      assert.equal(framer.pending, t.pending ?? 0);
    });
  }

  it('hands over the unfinished line at a clean end, and drops it on a cut', () => {
    const { framer } = feed(1024, ['a\nlast']);
    assert.equal(framer.end()?.toString(), 'last');
    assert.equal(framer.end(), undefined);
    const cut = feed(1024, ['a\nhalf']).framer;
    assert.equal(cut.drop(), 4);
    assert.equal(cut.end(), undefined);
  });

  it('shares memory with the chunk when no partial line precedes', () => {
    const framer = new LineFramer(1024, counter());
    const chunk = Buffer.from('a:1|c\nb:2|c\n');
    const out = framer.push(chunk);
    assert.equal(out?.buffer, chunk.buffer);
  });

  it('keeps no reference to a chunk for its partial line', () => {
    const framer = new LineFramer(1024, counter());
    const chunk = Buffer.from('a\npart');
    framer.push(chunk);
    chunk.fill(0x21);
    assert.equal(framer.push(Buffer.from('ial\n'))?.toString(), 'partial');
  });

  it('never throws, delivers every complete line of bounded length in order, and counts the others', () => {
    const byte = fc.oneof(fc.constant(0x0a), fc.constant(0x61), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(
        fc.array(fc.array(byte, { maxLength: 40 }), { maxLength: 20 }),
        fc.integer({ min: 1, max: 12 }),
        (chunks, max) => {
          const oversized = counter();
          const framer = new LineFramer(max, oversized);
          const got: string[] = [];
          for (const c of chunks) {
            const out = framer.push(Buffer.from(c));
            if (out !== undefined) got.push(...out.toString('latin1').split('\n'));
            assert.ok(framer.pending <= max);
          }
          // The model: split the whole stream at newlines; the last piece is unfinished.
          const all = Buffer.from(chunks.flat()).toString('latin1').split('\n');
          const tail = all.pop() as string;
          const expected = all.filter((l) => l.length <= max);
          const dropped = all.length - expected.length + (tail.length > max ? 1 : 0);
          assert.deepEqual(
            got.filter((l) => l !== ''),
            expected.filter((l) => l !== ''),
          );
          assert.equal(oversized.value, dropped);
          assert.equal(framer.end()?.toString('latin1') ?? '', tail.length > max ? '' : tail);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('delivers the same lines and counts the same oversized ones however the stream is split', () => {
    const byte = fc.oneof(fc.constant(0x0a), fc.constant(0x61), fc.integer({ min: 0, max: 255 }));
    /** Non-empty lines delivered, the unfinished line at the end, and the counts. */
    const run = (max: number, chunks: Buffer[]) => {
      const oversized = counter();
      const framer = new LineFramer(max, oversized);
      const lines: string[] = [];
      for (const c of chunks) {
        const out = framer.push(c);
        if (out !== undefined) lines.push(...out.toString('latin1').split('\n'));
        assert.ok(framer.pending <= max);
      }
      const pending = framer.pending;
      const last = framer.end()?.toString('latin1');
      return { lines: lines.filter((l) => l !== ''), pending, last, oversized: oversized.value };
    };
    fc.assert(
      fc.property(
        fc.array(byte, { maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.integer({ min: 1, max: 40 }),
        (bytes, cuts, max) => {
          const stream = Buffer.from(bytes);
          const at = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          const chunks = [0, ...at].map((from, i) => stream.subarray(from, at[i] ?? stream.length));
          assert.deepEqual(run(max, chunks), run(max, [stream]));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
