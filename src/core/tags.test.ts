import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { getTag, makeTags, mergeTags, seriesKey } from './tags.js';

test('makeTags sorts by key and the last value of a repeated key wins', () => {
  assert.deepEqual(
    makeTags([
      ['b', '2'],
      ['a', '1'],
      ['b', '3'],
    ]),
    [
      ['a', '1'],
      ['b', '3'],
    ],
  );
  assert.deepEqual(makeTags({ z: '1', a: '2' }), [
    ['a', '2'],
    ['z', '1'],
  ]);
  assert.deepEqual(makeTags([]), []);
});

test('mergeTags keeps the metric’s own value and adds missing keys in order', () => {
  const own = makeTags({ env: 'dev', route: '/x' });
  const meta = makeTags({ env: 'prod', host: 'web1' });
  assert.deepEqual(mergeTags(own, meta), [
    ['env', 'dev'],
    ['host', 'web1'],
    ['route', '/x'],
  ]);
  assert.equal(getTag(mergeTags(own, meta), 'host'), 'web1');
});

test('mergeTags equals makeTags of the union with own tags last', () => {
  const tagList = fc.array(fc.tuple(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 })), {
    maxLength: 6,
  });
  fc.assert(
    fc.property(tagList, tagList, (a, b) => {
      const own = makeTags(a);
      const meta = makeTags(b);
      assert.deepEqual(mergeTags(own, meta), makeTags([...meta, ...own]));
    }),
  );
});

test('seriesKey never collides for different (name, tags)', () => {
  const series = fc.tuple(
    fc.string({ maxLength: 4 }),
    fc.array(fc.tuple(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 })), { maxLength: 3 }),
  );
  fc.assert(
    fc.property(series, series, ([n1, t1], [n2, t2]) => {
      const a = makeTags(t1);
      const b = makeTags(t2);
      const same = n1 === n2 && JSON.stringify(a) === JSON.stringify(b);
      assert.equal(seriesKey(n1, a) === seriesKey(n2, b), same);
    }),
  );
  // The classic collision of naive concatenation.
  assert.notEqual(seriesKey('a', makeTags({ 'b,c': 'd' })), seriesKey('a', makeTags({ b: '', c: 'd' })));
});
