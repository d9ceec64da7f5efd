import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { s, type Issue } from '../../config/schema.js';
import { listenSchema, parseListenAddress, parseListenAddresses, type ListenEndpoint } from './address.js';

describe('parseListenAddress: accepted', () => {
  const table: [string, ListenEndpoint][] = [
    [
      'udp://127.0.0.1:8125',
      { transport: 'udp', host: '127.0.0.1', port: 8125, family: 4, url: 'udp://127.0.0.1:8125' },
    ],
    ['udp://[::1]:8125', { transport: 'udp', host: '::1', port: 8125, family: 6, url: 'udp://[::1]:8125' }],
    ['udp://[::]:0', { transport: 'udp', host: '::', port: 0, family: 6, url: 'udp://[::]:0' }],
    [
      'tcp://127.0.0.1:8125',
      { transport: 'tcp', host: '127.0.0.1', port: 8125, family: 4, url: 'tcp://127.0.0.1:8125' },
    ],
    [
      'tcp://[fe80::1]:65535',
      { transport: 'tcp', host: 'fe80::1', port: 65535, family: 6, url: 'tcp://[fe80::1]:65535' },
    ],
    [
      'TCP://localhost:9',
      { transport: 'tcp', host: 'localhost', port: 9, family: 4, url: 'tcp://localhost:9' },
    ],
    [
      'udp://statsd.example.com:8125',
      {
        transport: 'udp',
        host: 'statsd.example.com',
        port: 8125,
        family: 4,
        url: 'udp://statsd.example.com:8125',
      },
    ],
    // No scheme: UDP, as the `listen` option always meant.
    [
      '127.0.0.1:8125',
      { transport: 'udp', host: '127.0.0.1', port: 8125, family: 4, url: 'udp://127.0.0.1:8125' },
    ],
    ['[::1]:8125', { transport: 'udp', host: '::1', port: 8125, family: 6, url: 'udp://[::1]:8125' }],
    [':8125', { transport: 'udp', host: '0.0.0.0', port: 8125, family: 4, url: 'udp://0.0.0.0:8125' }],
    [
      '  127.0.0.1:8125 ',
      { transport: 'udp', host: '127.0.0.1', port: 8125, family: 4, url: 'udp://127.0.0.1:8125' },
    ],
    [
      'unixgram:///run/sluice/statsd.sock',
      { transport: 'unixgram', path: '/run/sluice/statsd.sock', url: 'unixgram:///run/sluice/statsd.sock' },
    ],
    [
      'unix:///run/sluice/statsd.sock',
      { transport: 'unix', path: '/run/sluice/statsd.sock', url: 'unix:///run/sluice/statsd.sock' },
    ],
    [
      `unix:///${'a'.repeat(106)}`,
      { transport: 'unix', path: `/${'a'.repeat(106)}`, url: `unix:///${'a'.repeat(106)}` },
    ],
  ];
  for (const [input, expected] of table) {
    it(input, () => assert.deepEqual(parseListenAddress(input), { ok: true, value: expected }));
  }
});

describe('parseListenAddress: refused, with a message that says what is wrong', () => {
  const table: [string, RegExp][] = [
    ['', /empty address/],
    ['udp://127.0.0.1', /missing ":port"/],
    ['udp://127.0.0.1:', /missing port number/],
    ['udp://127.0.0.1:http', /"http" is not a port number/],
    ['udp://127.0.0.1:65536', /out of range/],
    ['udp://127.0.0.1:123456', /not a port number/],
    ['udp://127.0.0.1:8125/x', /takes no path/],
    ['udp://::1:8125', /must be in brackets/],
    ['udp://[::1:8125', /missing "]"/],
    ['udp://[::1]8125', /missing ":port"/],
    ['udp://[nope]:8125', /not an IPv6 address/],
    ['udp://999.1.1.1:8125', /not an IPv4 address/],
    ['udp://bad_host!:8125', /not an IP address or a host name/],
    ['http://127.0.0.1:80', /unknown transport "http"; expected one of udp, tcp, unixgram, unix/],
    ['unixgram://run/sluice.sock', /must be absolute; write three slashes/],
    ['unix://', /missing socket path/],
    ['unix:///run/', /names a directory/],
    ['unix:///run/a\0b', /NUL/],
    [`unix:///${'a'.repeat(107)}`, /108 bytes long; Unix sockets allow at most 107/],
    ['/run/sluice.sock', /needs a scheme: unixgram:\/\/\/run\/sluice.sock or unix:\/\/\/run\/sluice.sock/],
  ];
  for (const [input, message] of table) {
    it(JSON.stringify(input), () => {
      const r = parseListenAddress(input);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.message, message);
    });
  }
});

describe('parseListenAddress: properties', () => {
  it('never throws, and a canonical url parses back to the same endpoint', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc
            .constantFrom('udp://', 'tcp://', 'unix://', 'unixgram://', '')
            .chain((scheme) => fc.string().map((rest) => scheme + rest)),
        ),
        (input) => {
          const r = parseListenAddress(input);
          if (r.ok) assert.deepEqual(parseListenAddress(r.value.url), r);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('round-trips every IP address and port', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('udp', 'tcp'),
        fc.oneof(fc.ipV4(), fc.ipV6()),
        fc.integer({ min: 0, max: 65535 }),
        (transport, ip, port) => {
          const v6 = ip.includes(':');
          const r = parseListenAddress(`${transport}://${v6 ? `[${ip}]` : ip}:${port}`);
          assert.ok(r.ok, JSON.stringify(r));
          assert.equal(r.value.transport, transport);
          assert.ok('port' in r.value);
          assert.equal(r.value.host, ip);
          assert.equal(r.value.port, port);
          assert.equal(r.value.family, v6 ? 6 : 4);
        },
      ),
    );
  });
});

describe('listen option', () => {
  const schema = s.object({ listen: listenSchema({ default: '127.0.0.1:8125' }) });
  const parse = (value: unknown): { value: unknown; issues: Issue[] } => {
    const issues: Issue[] = [];
    return { value: schema.parse({ listen: value }, [], issues), issues };
  };

  it('takes one address, a list, or the default', () => {
    const one = parse('tcp://127.0.0.1:1');
    assert.deepEqual(one.issues, []);
    assert.deepEqual(
      (one.value as { listen: ListenEndpoint[] }).listen.map((e) => e.url),
      ['tcp://127.0.0.1:1'],
    );
    const list = parse(['127.0.0.1:8125', 'tcp://127.0.0.1:8125', 'unix:///tmp/s.sock']);
    assert.deepEqual(list.issues, []);
    assert.deepEqual(
      (list.value as { listen: ListenEndpoint[] }).listen.map((e) => e.url),
      ['udp://127.0.0.1:8125', 'tcp://127.0.0.1:8125', 'unix:///tmp/s.sock'],
    );
    const def = parse(undefined);
    assert.deepEqual(def.issues, []);
    assert.deepEqual(
      (def.value as { listen: ListenEndpoint[] }).listen.map((e) => e.url),
      ['udp://127.0.0.1:8125'],
    );
  });

  it('reports one issue at `listen`, naming the bad item', () => {
    const table: [unknown, RegExp][] = [
      [[], /at least one address/],
      [['udp://127.0.0.1:1', 'udp://127.0.0.1:1'], /^item 1: "udp:\/\/127.0.0.1:1" is listed twice/],
      [['127.0.0.1:1', 'udp://127.0.0.1:1'], /^item 1: .*listed twice/],
      [['tcp://127.0.0.1:1', 'nope'], /^item 1: "nope": missing ":port"/],
      [8125, /expected an address string .* got 8125/],
      [{ host: 'x' }, /got a mapping/],
      ['ftp://x:1', /unknown transport "ftp"/],
    ];
    for (const [value, message] of table) {
      const { issues } = parse(value);
      assert.equal(issues.length, 1, JSON.stringify(value));
      assert.deepEqual(issues[0]?.path, ['listen']);
      assert.match(issues[0]?.message ?? '', message);
    }
  });

  it('reports unixgram:// when this install cannot run it, with the command that installs what it needs', () => {
    const missing = s.object({
      listen: listenSchema({ default: '127.0.0.1:8125', unixSocketModule: 'sluice-absent-module' }),
    });
    const issues: Issue[] = [];
    missing.parse({ listen: ['udp://127.0.0.1:8125', 'unixgram:///tmp/s.sock'] }, [], issues);
    assert.equal(issues.length, 1);
    assert.deepEqual(issues[0]?.path, ['listen']);
    assert.match(
      issues[0]?.message ?? '',
      /need the optional package "node-unix-socket".*"npm install --no-save --ignore-scripts node-unix-socket@0\.2\.7"/,
    );
    const fine: Issue[] = [];
    missing.parse({ listen: ['udp://127.0.0.1:8125', 'unix:///tmp/s.sock'] }, [], fine);
    assert.deepEqual(fine, [], 'only unixgram:// needs it');
  });

  it('refuses a bad default when the schema is built', () => {
    assert.throws(() => listenSchema({ default: 'nope' }), /bad default listen address/);
    assert.deepEqual(parseListenAddresses(['udp://[::1]:8125', 'unix:///x']), {
      ok: true,
      value: [
        { transport: 'udp', host: '::1', port: 8125, family: 6, url: 'udp://[::1]:8125' },
        { transport: 'unix', path: '/x', url: 'unix:///x' },
      ],
    });
  });
});
