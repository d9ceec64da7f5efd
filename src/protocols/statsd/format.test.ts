import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StatsdDialect } from './parser.js';
import { formatStatsdEvent, formatStatsdLine, formatStatsdServiceCheck, type StatsdPoint } from './format.js';

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
      'a:1|c|#env=prod,flag',
    ],
    [{ name: 'a:b|c\nd', type: 'c', value: 1 }, 'a_b_c_d:1|c'],
    [{ name: '_e{x', type: 'c', value: 1 }, '_e_x:1|c'],
    [{ name: 'a', type: 'c', value: 1, tags: [['k:=,|', 'v:=,|\r\n']] }, 'a:1|c|#k____=v:=____'],
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

describe('formatStatsdLine: full grammar, per dialect', () => {
  const cases: [StatsdPoint, StatsdDialect, string | undefined][] = [
    [{ name: 'd', type: 'd', value: [1, 2.5, 3] }, 'dogstatsd', 'd:1:2.5:3|d'],
    [{ name: 'd', type: 'd', value: [1, 2] }, 'bucky', undefined],
    [{ name: 't', type: 'ms', value: [1, 2], sampleRate: 0.5 }, 'etsy', 't:1|ms|@0.5:2|ms|@0.5'],
    [{ name: 'g', type: 'g', value: 5, delta: true }, 'etsy', 'g:+5|g'],
    [{ name: 'g', type: 'g', value: -5, delta: true }, 'bucky', 'g:-5|g'],
    [{ name: 'g', type: 'g', value: -5 }, 'etsy', undefined],
    [{ name: 'g', type: 'g', value: -5 }, 'dogstatsd', 'g:-5|g'],
    [{ name: 'c', type: 'c', value: 1, timestamp: 1656581400 }, 'dogstatsd', 'c:1|c|T1656581400'],
    [
      { name: 'c', type: 'c', value: 1, timestamp: 1656581400, tags: [['k', 'v']] },
      'bucky',
      'c:1|c|#k=v,timestamp=1656581400',
    ],
    [{ name: 'c', type: 'c', value: 1, timestamp: 1656581400 }, 'etsy', undefined],
    [{ name: 'c', type: 'c', value: 1, timestamp: 1.5 }, 'dogstatsd', undefined],
    [{ name: 'c', type: 'c', value: 1, containerId: 'abc' }, 'dogstatsd', 'c:1|c|c:abc'],
    [{ name: 'c', type: 'c', value: 1, containerId: 'abc' }, 'bucky', undefined],
    [{ name: 'c', type: 'c', value: 1, bucket: 'api' }, 'bucky', 'c:1|c|#bucket=api'],
    [{ name: 'c', type: 'c', value: 1, bucket: 'api' }, 'dogstatsd', undefined],
    [{ name: 'c', type: 'c', value: 1, tags: [['k', 'a,b\\c\nd|e']] }, 'bucky', 'c:1|c|#k=a\\,b\\\\c\\nd|e'],
    [{ name: 'c', type: 'c', value: 1, tags: [['flag', '']] }, 'bucky', 'c:1|c|#flag='],
    [{ name: 'u', type: 's', value: 'a:b' }, 'etsy', 'u:a_b|s'],
    [{ name: 'u', type: 's', value: 'a:b' }, 'dogstatsd', 'u:a:b|s'],
  ];
  for (const [point, dialect, expected] of cases) {
    it(`${dialect}: ${JSON.stringify(point)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(formatStatsdLine(point, dialect), expected);
    });
  }
});

describe('tagSeparator', () => {
  it("writes DogStatsD's key:value when asked, in lines, events and service checks", () => {
    const tags: [string, string][] = [
      ['env', 'prod'],
      ['flag', ''],
      ['url', 'http://x:80/y'],
    ];
    const colon = { tagSeparator: ':' } as const;
    assert.equal(
      formatStatsdLine({ name: 'a', type: 'c', value: 1, tags }, 'dogstatsd', colon),
      'a:1|c|#env:prod,flag,url:http://x:80/y',
    );
    assert.equal(
      formatStatsdLine({ name: 'a', type: 'g', value: 1, tags: [['k', 'v']] }, 'etsy', colon),
      'a:1|g|#k:v',
    );
    assert.equal(
      formatStatsdEvent({ kind: 'event', title: 't', text: 'x', tags, timestamp: 0 }, colon),
      '_e{1,1}:t|x|d:0|#env:prod,flag,url:http://x:80/y',
    );
    assert.equal(
      formatStatsdServiceCheck({ kind: 'service_check', name: 'db', status: 0, tags, timestamp: 0 }, colon),
      '_sc|db|0|d:0|#env:prod,flag,url:http://x:80/y',
    );
  });
});

describe('formatStatsdEvent and formatStatsdServiceCheck', () => {
  it('writes lengths in bytes, line breaks as \\n, and the message last', () => {
    assert.equal(
      formatStatsdEvent({
        kind: 'event',
        title: 'Déploy',
        text: 'a|b\nc',
        tags: [['env', 'prod']],
        timestamp: 1656581400_000,
        alertType: 'error',
      }),
      '_e{7,6}:Déploy|a|b\\nc|d:1656581400|t:error|#env=prod',
    );
    assert.equal(
      formatStatsdServiceCheck({
        kind: 'service_check',
        name: 'db|up',
        status: 1,
        tags: [],
        timestamp: 1656581400_000,
        hostname: 'h1',
        message: 'slow | very',
      }),
      '_sc|db_up|1|d:1656581400|h:h1|m:slow | very',
    );
    assert.equal(
      formatStatsdEvent({ kind: 'event', title: '', text: 'x', tags: [], timestamp: 0 }),
      undefined,
    );
  });
});
