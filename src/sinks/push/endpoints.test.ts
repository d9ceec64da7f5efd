import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatEndpoint, parseEndpoint, resolveEndpoint, sameAddresses } from './endpoints.js';

describe('parseEndpoint', () => {
  const table: [string, { host: string; port: number } | 'error'][] = [
    ['graphite.example.com:2003', { host: 'graphite.example.com', port: 2003 }],
    ['graphite', { host: 'graphite', port: 9999 }],
    [' 10.0.0.1:1 ', { host: '10.0.0.1', port: 1 }],
    ['[::1]:2003', { host: '::1', port: 2003 }],
    ['[fe80::1]', { host: 'fe80::1', port: 9999 }],
    ['::1', { host: '::1', port: 9999 }],
    ['2001:db8::7', { host: '2001:db8::7', port: 9999 }],
    ['localhost:65535', { host: 'localhost', port: 65535 }],
    ['localhost:0', 'error'],
    ['localhost:65536', 'error'],
    ['localhost:', 'error'],
    [':2003', 'error'],
    ['', 'error'],
    ['a b:1', 'error'],
    ['[::1', 'error'],
    ['[::1]x', 'error'],
    ['[nothost]:1', 'error'],
    ['a:b:c', 'error'],
    ['host:12x', 'error'],
    ['http://x:1', 'error'],
  ];
  for (const [text, want] of table) {
    it(`${JSON.stringify(text)} → ${JSON.stringify(want)}`, () => {
      const got = parseEndpoint(text, 9999);
      if (want === 'error') assert.equal(typeof got, 'string', JSON.stringify(got));
      else assert.deepEqual(got, want);
    });
  }

  it('reads back what formatEndpoint writes, and never throws', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const e = parseEndpoint(text, 2003);
        if (typeof e !== 'string') assert.deepEqual(parseEndpoint(formatEndpoint(e), 1), e);
      }),
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6()),
        fc.integer({ min: 1, max: 65535 }),
        (host, port) => {
          assert.deepEqual(parseEndpoint(formatEndpoint({ host, port }), 1), { host, port });
        },
      ),
    );
  });
});

describe('resolution', () => {
  it('does not look IP literals up', async () => {
    const lookup = async (): Promise<string[]> => assert.fail('looked up');
    assert.deepEqual(await resolveEndpoint({ host: '127.0.0.1', port: 1 }, lookup), ['127.0.0.1']);
    assert.deepEqual(await resolveEndpoint({ host: '::1', port: 1 }, lookup), ['::1']);
  });

  it('rejects a name that resolves to nothing', async () => {
    await assert.rejects(
      resolveEndpoint({ host: 'x', port: 1 }, async () => []),
      /no address/,
    );
  });

  it('resolves localhost through the system resolver', async () => {
    const { systemLookup } = await import('./endpoints.js');
    const addresses = await resolveEndpoint({ host: 'localhost', port: 1 }, systemLookup);
    assert.ok(
      addresses.some((a) => a === '127.0.0.1' || a === '::1'),
      addresses.join(','),
    );
  });

  it('compares address sets regardless of order', () => {
    assert.equal(sameAddresses(['a', 'b'], ['b', 'a']), true);
    assert.equal(sameAddresses(['a', 'b'], ['a']), false);
    assert.equal(sameAddresses(['a', 'b'], ['a', 'c']), false);
  });
});
