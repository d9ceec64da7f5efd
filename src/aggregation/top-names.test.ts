import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TopNames } from './top-names.js';

describe('TopNames', () => {
  it('counts exactly while the names fit', () => {
    const t = new TopNames(4);
    for (const n of ['a', 'b', 'a', 'c', 'a', 'b']) t.add(n);
    assert.deepEqual(t.top(2), [
      ['a', 3],
      ['b', 2],
    ]);
    t.clear();
    assert.equal(t.size, 0);
  });

  it('keeps the heavy hitter of a skewed stream among many one-off names, in bounded memory', () => {
    const t = new TopNames(256);
    let n = 0;
    for (let i = 0; i < 50_000; i++) {
      t.add(`random.${i}`);
      n++;
      if (i % 10 === 0) {
        t.add('api.requests');
        n++;
      }
      if (i % 40 === 0) {
        t.add('db.queries');
        n++;
      }
      assert.ok(t.size <= 256);
    }
    const [first, second] = t.top(2);
    assert.equal(first?.[0], 'api.requests');
    assert.equal(second?.[0], 'db.queries');
    // Misra-Gries: never above the true count, at most n / (k + 1) below.
    assert.ok((first?.[1] ?? 0) <= 5000 && (first?.[1] ?? 0) >= 5000 - n / 257);
    assert.ok((second?.[1] ?? 0) <= 1250 && (second?.[1] ?? 0) >= 1250 - n / 257);
  });
});
