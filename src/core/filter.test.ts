import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compilePattern, Filter } from './filter.js';
import type { Metric } from './metric.js';
import { makeTags } from './tags.js';

const gauge = (name: string, tags: Record<string, string> = {}): Metric => ({
  kind: 'gauge',
  name,
  tags: makeTags(tags),
  value: 1,
  timestamp: 0,
});

test('glob patterns', () => {
  const cases: [string, string, boolean][] = [
    ['go_*', 'go_gc_count', true],
    ['go_*', 'xgo_gc', false],
    ['a.b', 'a.b', true],
    ['a.b', 'axb', false],
    ['a?c', 'abc', true],
    ['*', '', true],
    ['/^legacy\\./', 'legacy.x', true],
  ];
  for (const [p, name, want] of cases) assert.equal(compilePattern(p).regex.test(name), want, `${p} ${name}`);
});

test('drop by name and by tag', () => {
  const f = new Filter([
    { action: 'drop', name: 'debug_*' },
    { action: 'drop', tags: { env: 'dev*' } },
  ]);
  assert.equal(f.apply(gauge('debug_x')), undefined);
  assert.equal(f.apply(gauge('app_x', { env: 'development' })), undefined);
  assert.equal(f.apply(gauge('app_x', { env: 'prod' }))?.name, 'app_x');
  assert.equal(f.apply(gauge('app_x'))?.name, 'app_x', 'a tag rule needs the tag');
  assert.equal(f.dropped, 2);
});

test('rename with regex groups and literal names; later rules see the new name', () => {
  const f = new Filter([
    { action: 'rename', name: '/^legacy\\.(.*)$/', to: 'app.$1' },
    { action: 'rename', name: 'old_name', to: 'new_name' },
    { action: 'drop', name: 'app.secret' },
  ]);
  assert.equal(f.apply(gauge('legacy.requests'))?.name, 'app.requests');
  assert.equal(f.apply(gauge('old_name'))?.name, 'new_name');
  assert.equal(f.apply(gauge('legacy.secret')), undefined);
  const original = gauge('legacy.requests', { a: 'b' });
  const renamed = f.apply(original);
  assert.deepEqual(renamed?.tags, original.tags);
  assert.equal(original.name, 'legacy.requests', 'input metrics are never mutated');
});

test('drop_tags and keep_tags remove tags by key pattern, on the metrics the rule matches, and later rules go on', () => {
  const f = new Filter([
    { action: 'drop_tags', tag_keys: ['request_id', 'trace_*'] },
    { action: 'keep_tags', name: 'http.*', tag_keys: ['route', 'status'] },
    { action: 'drop', tags: { status: '5*' } },
  ]);
  const tagsOf = (m: Metric | undefined): [string, string][] | undefined => m?.tags.map(([k, v]) => [k, v]);
  assert.deepEqual(tagsOf(f.apply(gauge('db.query', { db: 'main', request_id: '42', trace_span: 'a' }))), [
    ['db', 'main'],
  ]);
  assert.deepEqual(
    tagsOf(f.apply(gauge('http.requests', { route: '/a', status: '200', pod: 'p-1', trace_id: 'x' }))),
    [
      ['route', '/a'],
      ['status', '200'],
    ],
  );
  assert.equal(
    f.apply(gauge('http.requests', { route: '/a', status: '503' })),
    undefined,
    'later rules see the result',
  );
  const untouched = gauge('db.query', { db: 'main' });
  assert.strictEqual(f.apply(untouched), untouched, 'nothing to drop: the same metric, no copy');
  assert.equal(f.retagged, 2);
});
