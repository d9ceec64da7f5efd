import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { interpolate } from './interpolate.js';

test('interpolation table', () => {
  const env = { HOST: 'web1', EMPTY: '', PORT: '8125' };
  const cases: [string, string, string[]][] = [
    ['plain', 'plain', []],
    ['${HOST}', 'web1', []],
    ['a-${HOST}-b', 'a-web1-b', []],
    ['${MISSING:-fallback}', 'fallback', []],
    ['${EMPTY:-fallback}', 'fallback', []],
    ['${HOST:-fallback}', 'web1', []],
    ['${MISSING:-}', '', []],
    ['${MISSING}', '', ['MISSING']],
    ['$$HOST', '$HOST', []],
    ['cost $5', 'cost $5', []],
    ['127.0.0.1:${PORT}', '127.0.0.1:8125', []],
    ['${A:-x:-y}', 'x:-y', []],
  ];
  for (const [input, value, missing] of cases) {
    const r = interpolate(input, env);
    assert.equal(r.value, value, input);
    assert.deepEqual(r.missing, missing, input);
  }
});

test('malformed expressions are reported, not dropped', () => {
  assert.deepEqual(interpolate('${HOST', {}).malformed, ['${HOST']);
  assert.deepEqual(interpolate('${1BAD}', {}).malformed, ['${1BAD}']);
});

test('text without a dollar sign comes back unchanged', () => {
  fc.assert(
    fc.property(
      fc.string().filter((s) => !s.includes('$')),
      (s) => interpolate(s, {}).value === s,
    ),
  );
});

test('never throws on arbitrary input', () => {
  fc.assert(
    fc.property(fc.string(), fc.dictionary(fc.string(), fc.string()), (s, env) => {
      interpolate(s, env);
    }),
  );
});
