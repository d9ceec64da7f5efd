import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatStatsdLine, type StatsdPoint } from './format.js';

describe('formatStatsdLine', () => {
  const cases: [StatsdPoint, string | undefined][] = [
    [{ name: 'a', type: 'c', value: 1 }, 'a:1|c'],
    [{ name: 'a', type: 'c', value: 2, sampleRate: 0.5 }, 'a:2|c|@0.5'],
    [{ name: 'a', type: 'c', value: 2, sampleRate: 1 }, 'a:2|c'],
    [{ name: 'g', type: 'g', value: -1.5 }, 'g:-1.5|g'],
    [{ name: 't', type: 'ms', value: 1e21 }, 't:1e+21|ms'],
    [{ name: 'h', type: 'h', value: 0.25 }, 'h:0.25|h'],
    [{ name: 'u', type: 's', value: 'alice' }, 'u:alice|s'],
    [
      {
        name: 'a',
        type: 'c',
        value: 1,
        tags: [
          ['env', 'prod'],
          ['flag', ''],
        ],
      },
      'a:1|c|#env:prod,flag',
    ],
    [{ name: 'a:b|c\nd', type: 'c', value: 1 }, 'a_b_c_d:1|c'],
    [{ name: '_e{x', type: 'c', value: 1 }, '_e_x:1|c'],
    [{ name: 'a', type: 'c', value: 1, tags: [['k:=,|', 'v:=,|\r\n']] }, 'a:1|c|#k____:v:=____'],
    [{ name: 'a', type: 'c', value: 1, tags: [['', 'dropped']] }, 'a:1|c'],
    [{ name: 'u', type: 's', value: 'a|b\nc' }, 'u:a_b_c|s'],
    [{ name: '', type: 'c', value: 1 }, undefined],
    [{ name: 'a', type: 'g', value: NaN }, undefined],
    [{ name: 'a', type: 'g', value: Infinity }, undefined],
    [{ name: 'a', type: 'g', value: 'x' }, undefined],
    [{ name: 'a', type: 's', value: '' }, undefined],
    [{ name: 'a', type: 'c', value: 1, sampleRate: 0 }, undefined],
    [{ name: 'a', type: 'c', value: 1, sampleRate: 2 }, undefined],
  ];
  for (const [point, expected] of cases) {
    it(`${JSON.stringify(point)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(formatStatsdLine(point), expected);
    });
  }
});
