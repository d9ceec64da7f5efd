import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  HistParser,
  parseBound,
  parseRow,
  type BpftraceItem,
  type HistBlock,
  type HistBucket,
} from './hist.js';
import { referenceLog } from '../../testing/bpftrace.js';
import { boundLabel, renderJson, renderText, rowLabel } from './render.js';

function blocks(items: readonly BpftraceItem[]): HistBlock[] {
  return items.flatMap((i) => (i.type === 'hist' ? [i.block] : []));
}

function parseAll(
  text: string | Buffer,
  format: 'text' | 'json' = 'text',
): { items: BpftraceItem[]; parser: HistParser } {
  const parser = new HistParser({ format });
  const items = [...parser.push(Buffer.from(text)), ...parser.end()];
  return { items, parser };
}

const K = 1024;

describe('parseRow', () => {
  const rows: [string, HistBucket | undefined][] = [
    [
      '[0]                    1 |@@@@@                                               |',
      { lower: 0, upper: 1, count: 1 },
    ],
    [
      '[1]                    0 |                                                    |',
      { lower: 1, upper: 2, count: 0 },
    ],
    [
      '[2, 4)                 2 |@@@@@@@@@@                                          |',
      { lower: 2, upper: 4, count: 2 },
    ],
    [
      '[512, 1K)            123 |@@@@@@@@@@@@@                                       |',
      { lower: 512, upper: K, count: 123 },
    ],
    [
      '[1K, 2K)             264 |@@@                                                 |',
      { lower: K, upper: 2 * K, count: 264 },
    ],
    [
      '[1M, 2M)               2 |                                                    |',
      { lower: K * K, upper: 2 * K * K, count: 2 },
    ],
    [
      '[512M, 1G)           213 |@@@@@@@@@@@@@@@@@@@@@@@@@@@                         |',
      { lower: 512 * K * K, upper: K ** 3, count: 213 },
    ],
    [
      '[2G, 4G)             363 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@     |',
      { lower: 2 * K ** 3, upper: 4 * K ** 3, count: 363 },
    ],
    [
      '[1G, ...)              7 |@                                                   |',
      { lower: K ** 3, upper: Infinity, count: 7 },
    ],
    [
      '(..., 0)             174 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@   |',
      { lower: -Infinity, upper: 0, count: 174 },
    ],
    [
      '[100, ...)           184 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|',
      { lower: 100, upper: Infinity, count: 184 },
    ],
    [
      '[-100, -90)            3 |@                                                   |',
      { lower: -100, upper: -90, count: 3 },
    ],
    [
      '[-1K, -1000)           3 |@                                                   |',
      { lower: -K, upper: -1000, count: 3 },
    ],
    // A header wider than its 16 columns pushes the count right; a count of 9+ digits too.
    ['[1000000, 2000000)       5 |@|', { lower: 1e6, upper: 2e6, count: 5 }],
    ['[4, 8)           123456789 |@@@@|', { lower: 4, upper: 8, count: 123456789 }],
    ['[4, 8) 5', { lower: 4, upper: 8, count: 5 }],
    ['[4, 2)                 1 |@|', undefined],
    ['[4, 4)                 1 |@|', undefined],
    ['[4, 8)                   |@|', undefined],
    ['[4, 8)                -1 |@|', undefined],
    ['[4, 8)               1.5 |@|', undefined],
    ['[4, 8]                 1 |@|', undefined],
    ['[4)                    1 |@|', undefined],
    ['[4K, 8X)               1 |@|', undefined],
    ['[..., 0)               1 |@|', undefined],
    ['(0, 1]                 1 |@|', undefined],
    ['[4, 8)                 1 |@x|', undefined],
  ];
  for (const [line, expected] of rows) {
    it(JSON.stringify(line.slice(0, 30)), () => assert.deepEqual(parseRow(line), expected));
  }

  it('reads every suffix as a power of 1024', () => {
    assert.deepEqual(['1', '1K', '1M', '1G', '1T', '1P', '1E', '-3M'].map(parseBound), [
      1,
      K,
      K ** 2,
      K ** 3,
      K ** 4,
      K ** 5,
      K ** 6,
      -3 * K ** 2,
    ]);
  });
});

describe('HistParser on the reference log (interval-hist.bt, bpftrace 0.17)', () => {
  const log = referenceLog();
  const text = log.toString('utf8');
  const { items, parser } = parseAll(log);
  const all = blocks(items);

  it('hands out one block per header, and nothing is rejected', () => {
    const headers = text.split('\n').filter((l) => l.startsWith('@')).length;
    assert.equal(all.length, headers);
    assert.equal(parser.rejections.total, 0);
    // "Attaching 3 probes...", the printf line; the time lines are items, not ignored.
    assert.equal(parser.ignored, 2);
  });

  it('reads every row of every block', () => {
    const rows = text.split('\n').filter((l) => l.startsWith('[') || l.startsWith('(')).length;
    assert.equal(
      all.reduce((n, b) => n + b.buckets.length, 0),
      rows,
    );
  });

  it('reads the first block exactly', () => {
    const first = all[0] as HistBlock;
    assert.equal(first.map, 'usecs');
    assert.equal(first.key, undefined);
    assert.deepEqual(
      first.buckets.map((b) => [b.lower, b.count]),
      [
        [1, 2],
        [2, 0],
        [4, 2],
        [8, 0],
        [16, 3],
        [32, 7],
        [64, 17],
        [128, 27],
        [256, 62],
        [512, 123],
        [1024, 264],
        [2048, 474],
        [4096, 209],
      ],
    );
    assert.deepEqual(first.buckets.at(-1), { lower: 4096, upper: 8192, count: 209 });
  });

  it('reads keys with spaces, colons and slashes', () => {
    const keys = all.filter((b) => b.map === 'usecs_by_comm').map((b) => b.key);
    for (const k of ['npm install kaf', 'memfd:sealed-91', 'kworker/u8:1', 'npm install @co'])
      assert.ok(keys.includes(k), k);
  });

  it('reads lhist open buckets and G bounds', () => {
    const lin = all.find((b) => b.map === 'lin') as HistBlock;
    assert.deepEqual(lin.buckets[0], { lower: -Infinity, upper: 0, count: 174 });
    assert.deepEqual(lin.buckets.at(-1), { lower: 100, upper: Infinity, count: 184 });
    assert.equal(lin.buckets.length, 12);
    const big = all.find((b) => b.map === 'big') as HistBlock;
    assert.deepEqual(big.buckets.at(-1), { lower: 2 * K ** 3, upper: 4 * K ** 3, count: 363 });
  });

  it('hands out the time lines in order, between the blocks they precede', () => {
    const times = items.filter((i) => i.type === 'time').map((i) => (i.type === 'time' ? i.time.seconds : 0));
    assert.deepEqual(times, [22 * 3600 + 29 * 60 + 36, 22 * 3600 + 29 * 60 + 39, 22 * 3600 + 29 * 60 + 42]);
    assert.equal(items[0]?.type, 'time');
  });

  it('gives the same items however the bytes are split', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: log.length }), { maxLength: 30 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const p = new HistParser();
        const got: BpftraceItem[] = [];
        let from = 0;
        for (const at of [...points, log.length]) {
          got.push(...p.push(log.subarray(from, at)));
          from = at;
        }
        got.push(...p.end());
        assert.deepEqual(got, items);
      }),
      { numRuns: 100 },
    );
  });

  it('never hands out a block before it is complete', () => {
    fc.assert(
      fc.property(fc.nat({ max: log.length }), (cut) => {
        const p = new HistParser();
        const got = blocks(p.push(log.subarray(0, cut)));
        assert.deepEqual(got, all.slice(0, got.length));
        // What is out is exactly the blocks whose blank line is within the prefix.
        const complete = (
          log
            .subarray(0, cut)
            .toString('utf8')
            .match(/^@.*\n(?:[[(].*\n)*\n/gm) ?? []
        ).length;
        assert.equal(got.length, complete);
      }),
      { numRuns: 300 },
    );
  });
});

describe('HistParser, text', () => {
  it('ends a block at the next header or at a line that is not a row', () => {
    const { items } = parseAll('@a: \n[0]  1 |@|\n@b[x]: \n[1]   2 |@|\nhello\n[2, 4) 3 |@|\n');
    assert.deepEqual(blocks(items), [
      { map: 'a', key: undefined, buckets: [{ lower: 0, upper: 1, count: 1 }] },
      { map: 'b', key: 'x', buckets: [{ lower: 1, upper: 2, count: 2 }] },
    ]);
  });

  it('drops a block with a malformed or out-of-order row, whole, and counts it', () => {
    const { items, parser } = parseAll(
      '@a: \n[0]  1 |@|\n[2, 4) x |@|\n[4, 8) 1 |@|\n\n@b: \n[4, 8) 1 |@|\n[2, 4) 1 |@|\n\n@c: \n[1] 1 |@|\n\n',
    );
    assert.deepEqual(
      blocks(items).map((b) => b.map),
      ['c'],
    );
    assert.equal(parser.rejections.counts.bad_row, 2);
  });

  it('keeps an open block across end() out, as incomplete', () => {
    const { items, parser } = parseAll('@a: \n[0]  1 |@|\n');
    assert.deepEqual(items, []);
    assert.equal(parser.rejections.counts.incomplete, 1);
  });

  it('reads the last line without a newline at end()', () => {
    const p = new HistParser();
    assert.deepEqual(p.push(Buffer.from('@a: \n[0]  1 |@|\n\n12:00:01')), [
      { type: 'hist', block: { map: 'a', key: undefined, buckets: [{ lower: 0, upper: 1, count: 1 }] } },
    ]);
    assert.deepEqual(p.end(), [{ type: 'time', time: { seconds: 43201 } }]);
  });

  it('reads composite keys, the anonymous map, keys with brackets, and dated time lines', () => {
    const { items } = parseAll(
      '2024-02-29 23:59:58\n@[a]: \n\n@: \n\n@m[swapper/0, 0]: \n\n@q[[x] y]: \n\n@c: 10\n',
    );
    assert.deepEqual(items, [
      { type: 'time', time: { seconds: 86398, date: { year: 2024, month: 2, day: 29 } } },
      { type: 'hist', block: { map: '', key: 'a', buckets: [] } },
      { type: 'hist', block: { map: '', key: undefined, buckets: [] } },
      { type: 'hist', block: { map: 'm', key: 'swapper/0, 0', buckets: [] } },
      { type: 'hist', block: { map: 'q', key: '[x] y', buckets: [] } },
    ]);
  });

  it('skips the NUL hole a copytruncate leaves before a non-appending writer', () => {
    const { items } = parseAll(Buffer.concat([Buffer.alloc(300), Buffer.from('@a: \n[0]  1 |@|\n\n')]));
    assert.equal(blocks(items).length, 1);
  });

  it('drops a line longer than maxLineBytes, and the block it was in', () => {
    const p = new HistParser({ maxLineBytes: 40 });
    const got = [
      ...p.push(Buffer.from('@a: \n[0]  1 |@|\n[1]  1 |' + '@'.repeat(30))),
      ...p.push(Buffer.from('@'.repeat(30) + '|\n\n@b: \n[0]  1 |@|\n\n')),
      ...p.end(),
    ];
    assert.deepEqual(
      blocks(got).map((b) => b.map),
      ['b'],
    );
    assert.equal(p.rejections.counts.line_too_long, 1);
  });

  it('never throws on any bytes, in any chunks', () => {
    const piece = fc.oneof(
      fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
      fc
        .constantFrom(
          '@a: \n',
          '@b[k]: ',
          '[0]',
          '[1, 2)',
          ' 3 ',
          '|@@|',
          '\n',
          '\n\n',
          '(..., 0)',
          '[9E, ...)',
          '12:00:00\n',
          '\0',
          '\r\n',
          '{"type": "hist"',
        )
        .map((s) => Buffer.from(s)),
    );
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 40 }),
        fc.constantFrom('text' as const, 'json' as const),
        (pieces, format) => {
          const p = new HistParser({ format, maxLineBytes: 64 });
          for (const chunk of pieces) {
            for (const item of p.push(chunk)) {
              if (item.type === 'hist') {
                for (const b of item.block.buckets) assert.ok(b.lower < b.upper && Number.isInteger(b.count));
              }
            }
          }
          p.end();
        },
      ),
      { numRuns: 500 },
    );
  });
});

// Blocks as bpftrace can print them: ordered, non-overlapping buckets of integer bounds.
const boundArb = fc.oneof(
  fc.integer({ min: -5000, max: 5000 }),
  fc.integer({ min: 0, max: 62 }).map((p) => 2 ** p),
  fc.integer({ min: -1000, max: 1000 }).map((k) => k * K),
  fc.integer({ min: 1, max: 7 }).map((k) => k * K ** 6),
);

const bucketsArb: fc.Arbitrary<HistBucket[]> = fc
  .record({
    bounds: fc.uniqueArray(boundArb, { maxLength: 12 }),
    below: fc.boolean(),
    above: fc.boolean(),
    counts: fc.array(fc.nat({ max: 1e9 }), { minLength: 14, maxLength: 14 }),
  })
  .map(({ bounds, below, above, counts }) => {
    const sorted = [...bounds].sort((a, b) => a - b);
    const out: HistBucket[] = [];
    if (sorted.length === 0) return out;
    let c = 0;
    if (below) out.push({ lower: -Infinity, upper: sorted[0] as number, count: counts[c++] as number });
    for (let i = 0; i + 1 < sorted.length; i++) {
      out.push({ lower: sorted[i] as number, upper: sorted[i + 1] as number, count: counts[c++] as number });
    }
    if (above) out.push({ lower: sorted.at(-1) as number, upper: Infinity, count: counts[c++] as number });
    return out;
  });

const nameArb = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,12}$/);
// Printed keys: comm names, `k1, k2`; no newline (bpftrace escapes nothing, but comm cannot hold one).
const keyArb = fc.option(fc.stringMatching(/^[ -~]{1,16}$/), { nil: undefined });
const blockArb: fc.Arbitrary<HistBlock> = fc
  .record({ map: nameArb, key: keyArb, buckets: bucketsArb })
  .map((b) => ({ ...b }));

describe('HistParser round trips through the real format', () => {
  it('reads back rendered text blocks, between the other lines bpftrace prints', () => {
    const noise = fc.constantFrom('', 'Attaching 3 probes...\n', '22:29:36\n', '@c: 10\n', '\n\n');
    fc.assert(
      fc.property(fc.array(fc.tuple(noise, blockArb), { maxLength: 12 }), (parts) => {
        const text = parts.map(([n, b]) => n + renderText(b)).join('');
        const { items, parser } = parseAll(text);
        assert.deepEqual(
          blocks(items),
          parts.map(([, b]) => b),
        );
        assert.equal(parser.rejections.total, 0);
      }),
      { numRuns: 300 },
    );
  });

  it('reads back rendered JSON lines', () => {
    const keyed = fc.record({
      map: nameArb,
      entries: fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), bucketsArb), {
        minLength: 1,
        maxLength: 4,
        selector: ([k]) => k,
      }),
    });
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            blockArb.map((b) => [{ ...b, key: undefined }]),
            keyed.map(({ map, entries }) => entries.map(([key, buckets]) => ({ map, key, buckets }))),
          ),
          { maxLength: 6 },
        ),
        (groups) => {
          const text =
            '{"type": "attached_probes", "data": {"probes": 2}}\n' +
            groups.map((g) => renderJson(g)).join('');
          const { items, parser } = parseAll(text, 'json');
          // A JSON object lists integer-like keys (pids) first, whatever order bpftrace wrote.
          const order = (b: HistBlock): string => `${b.map}\0${b.key ?? ''}`;
          const sorted = (list: HistBlock[]): HistBlock[] =>
            [...list].sort((a, b) => (order(a) < order(b) ? -1 : 1));
          assert.deepEqual(sorted(blocks(items)), sorted(groups.flat()));
          assert.equal(parser.rejections.total, 0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('labels bounds as bpftrace does', () => {
    assert.deepEqual([0, 1, 512, 1024, 512 * K, K * K, 3 * K ** 3, 1000, -K].map(boundLabel), [
      '0',
      '1',
      '512',
      '1K',
      '512K',
      '1M',
      '3G',
      '1000',
      '-1K',
    ]);
    assert.equal(rowLabel({ lower: -Infinity, upper: 0, count: 0 }), '(..., 0)');
    assert.equal(rowLabel({ lower: 100, upper: Infinity, count: 0 }), '[100, ...)');
    assert.equal(rowLabel({ lower: 1, upper: 2, count: 0 }), '[1]');
  });

  it('renders the reference log back byte for byte, block by block', () => {
    const text = referenceLog().toString('utf8');
    const printed = text.match(/^@.*\n(?:[[(].*\n)*\n/gm) ?? [];
    const all = blocks(parseAll(text).items);
    assert.equal(all.length, printed.length);
    assert.deepEqual(all.map(renderText), printed);
  });

  it('reads the JSON bpftrace 0.17 prints for hist, lhist and keyed maps', () => {
    const line =
      '{"type": "hist", "data": {"@l": [{"max": -1, "count": 5}, {"min": 0, "max": 49, "count": 1}, {"min": 200, "count": 1}]}}\n' +
      '{"type": "hist", "data": {"@m": {"swapper/0,0": [{"min": 0, "max": 0, "count": 1}, {"min": 2, "max": 3, "count": 5}]}}}\n' +
      '{"type": "map", "data": {"@c": 10}}\n{"type": "time", "data": "02:16:15\\n"}\nnot json\n';
    const { items, parser } = parseAll(line, 'json');
    assert.deepEqual(items, [
      {
        type: 'hist',
        block: {
          map: 'l',
          key: undefined,
          buckets: [
            { lower: -Infinity, upper: 0, count: 5 },
            { lower: 0, upper: 50, count: 1 },
            { lower: 200, upper: Infinity, count: 1 },
          ],
        },
      },
      {
        type: 'hist',
        block: {
          map: 'm',
          key: 'swapper/0,0',
          buckets: [
            { lower: 0, upper: 1, count: 1 },
            { lower: 2, upper: 4, count: 5 },
          ],
        },
      },
      { type: 'time', time: { seconds: 2 * 3600 + 16 * 60 + 15 } },
    ]);
    assert.equal(parser.rejections.counts.bad_json, 1);
    assert.equal(parser.ignored, 1);
  });
});
