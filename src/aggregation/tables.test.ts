import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Batch, CounterMetric } from '../core/metric.js';
import { seriesKey, type Tags } from '../core/tags.js';
import { StatsdParser, type StatsdLine } from '../protocols/statsd/parser.js';
import { StatsdAggregator } from './aggregator.js';
import { RawKeyTable, SeriesIndex, TagInterner } from './tables.js';

const INTERVAL = 10_000;

function setup(expiryMs: number) {
  let now = 1_700_000_000_000;
  const agg = new StatsdAggregator({ flushIntervalMs: INTERVAL, percentiles: [50], expiryMs }, () => now);
  const parser = new StatsdParser();
  const sink = {
    point: (l: Parameters<StatsdAggregator['add']>[0]) => assert.equal(agg.add(l), undefined),
    reject: (reason: string) => assert.fail(`rejected: ${reason}`),
  };
  const feed = (text: string): void => {
    parser.parse(Buffer.from(text), sink);
  };
  const flush = (): Batch => {
    now += INTERVAL;
    return agg.flush(now);
  };
  return { agg, feed, flush };
}

/** Counter totals of a batch by canonical series key. */
function totals(b: Batch): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of b) {
    assert.equal(m.kind, 'counter');
    const key = seriesKey(m.name, m.tags);
    assert.ok(!out.has(key), `series ${key} emitted twice`);
    out.set(key, (m as CounterMetric).value);
  }
  return out;
}

function key(name: string, tags: Record<string, string>): string {
  const t: Tags = Object.entries(tags).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return seriesKey(name, t);
}

/** Calls `f` with each parsed line of `text` (valid only during the call). */
function eachLine(parser: StatsdParser, text: string, f: (line: StatsdLine) => void): void {
  parser.parse(Buffer.from(text), { point: f, reject: (r) => assert.fail(`rejected: ${r}`) });
}

describe('RawKeyTable', () => {
  it('finds every key it holds by its bytes, through growth and filtering, and no other', () => {
    const parser = new StatsdParser();
    const table = new RawKeyTable<number>(4, 16);
    const text = (i: number, type: string) =>
      `n.${i % 17}:1|${type}|#route:/r/${i}/${'y'.repeat(i % 40)}${i % 3 === 0 ? '|c:ctr' + i : ''}`;
    for (let i = 0; i < 2000; i++) eachLine(parser, text(i, 'c'), (l) => table.add(l, i));
    assert.equal(table.size, 2000);
    const check = (t: RawKeyTable<number>, present: (i: number) => boolean) => {
      for (let i = 0; i < 2000; i++) {
        eachLine(parser, text(i, 'c'), (l) => assert.equal(t.find(l), present(i) ? i : undefined));
        // Same bytes, another type: another key.
        eachLine(parser, text(i, 'g'), (l) => assert.equal(t.find(l), undefined));
      }
    };
    check(table, () => true);
    check(
      table.filtered((i) => (i as number) % 2 === 1),
      (i) => i % 2 === 1,
    );
  });
});

describe('SeriesIndex', () => {
  it('tells series apart by name and tags when their hashes collide', () => {
    const all = [
      { name: 'a', tags: [] },
      { name: 'a', tags: [['k', 'v']] },
      { name: 'a', tags: [['k', 'w']] },
      { name: 'b', tags: [['k', 'v']] },
    ] as const;
    const index = new SeriesIndex<(typeof all)[number]>(false, 2);
    const byName = new SeriesIndex<(typeof all)[number]>(true, 2);
    for (const s of all) {
      index.add(7, s);
      if (byName.find(7, s.name, s.tags) === undefined) byName.add(7, s);
    }
    for (const s of all) {
      assert.equal(index.find(7, s.name, [...s.tags.map(([k, v]) => [k, v] as const)]), s);
      assert.equal(byName.find(7, s.name, [])?.name, s.name);
    }
    assert.equal(index.find(7, 'a', [['k', 'x']]), undefined);
    assert.equal(index.find(8, 'a', []), undefined);
    assert.equal(byName.find(7, 'c', []), undefined);
  });
});

describe('TagInterner', () => {
  it('returns equal tags, sharing the pairs of equal keys and values', () => {
    const interner = new TagInterner();
    const a = interner.intern([
      ['env', 'prod'],
      ['route', '/a'],
    ]);
    const b = interner.intern([
      ['env', 'prod'],
      ['route', '/b'],
    ]);
    assert.deepEqual(a, [
      ['env', 'prod'],
      ['route', '/a'],
    ]);
    assert.deepEqual(b, [
      ['env', 'prod'],
      ['route', '/b'],
    ]);
    assert.equal(a[0], b[0]);
    assert.notEqual(a[1], b[1]);
    // Past its bound it starts over and still returns equal tags.
    for (let i = 0; i < 10_000; i++) assert.deepEqual(interner.intern([['k', `${i}`]]), [['k', `${i}`]]);
  });
});

describe('StatsdAggregator tables', () => {
  it('keeps thousands of series apart across table and slab growth, and finds them again', () => {
    const { agg, feed, flush } = setup(0);
    const n = 5000;
    const expected = new Map<string, number>();
    for (let round = 1; round <= 2; round++) {
      for (let i = 0; i < n; i++) {
        // Long unique tag values push the raw key slab past its first size several times.
        const route = `/api/v1/items/${i}/${'x'.repeat(i % 50)}`;
        feed(`m.${i % 7}:${round}|c|#host:web-${i % 13},route:${route}`);
        const k = key(`m.${i % 7}`, { host: `web-${i % 13}`, route });
        expected.set(k, round);
      }
      assert.equal(agg.size, n);
      assert.deepEqual(totals(flush()), expected);
    }
  });

  it('after an eviction, survivors keep their values and spellings, the evicted start over', () => {
    const { agg, feed, flush } = setup(2 * INTERVAL);
    for (let i = 0; i < 3000; i++) feed(`c.${i}:1|c|#a:${i},b:x`);
    flush();
    // Odd series stay alive, under a second spelling too; even ones expire.
    for (let i = 1; i < 3000; i += 2) feed(`c.${i}:2|c|#b:x,a:${i}`);
    flush();
    flush();
    assert.equal(agg.size, 1500);
    for (let i = 0; i < 3000; i++) feed(`c.${i}:5|c|#a:${i},b:x\nc.${i}:1|c|#b:x,a:${i}`);
    assert.equal(agg.size, 3000);
    const got = totals(flush());
    assert.equal(got.size, 3000);
    for (let i = 0; i < 3000; i++) assert.equal(got.get(key(`c.${i}`, { a: `${i}`, b: 'x' })), 6);
  });

  it('sums every spelling of a series into it (any tag order, any value)', () => {
    const item = fc.record({
      name: fc.constantFrom('a', 'b', 'a.b'),
      tags: fc.uniqueArray(
        fc.tuple(fc.constantFrom('k', 'l', 'host', 'env'), fc.constantFrom('1', 'x', '')),
        {
          selector: (t) => t[0],
          maxLength: 4,
        },
      ),
      value: fc.integer({ min: 1, max: 1000 }),
    });
    fc.assert(
      fc.property(fc.array(item, { maxLength: 60 }), (items) => {
        const { feed, flush } = setup(0);
        const expected = new Map<string, number>();
        for (const it of items) {
          const text = it.tags.map(([k, v]) => `${k}:${v}`).join(',');
          feed(`${it.name}:${it.value}|c${text === '' ? '' : `|#${text}`}`);
          const k = key(it.name, Object.fromEntries(it.tags));
          expected.set(k, (expected.get(k) ?? 0) + it.value);
        }
        assert.deepEqual(totals(flush()), expected);
      }),
    );
  });
});
