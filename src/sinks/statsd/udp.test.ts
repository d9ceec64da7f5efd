import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Payload } from '../push/queue.js';
import { packDatagrams, UdpTransport } from './udp.js';

function payload(records: string[]): Payload {
  const sizes = records.map((r) => Buffer.byteLength(r));
  return { records, sizes, points: records.length, bytes: sizes.reduce((a, b) => a + b, 0) };
}

describe('packDatagrams', () => {
  it('packs greedily: lines kept whole and in order, each datagram within the limit', () => {
    const line = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
      .filter((s) => !s.includes('\n'));
    const record = fc
      .array(line, { minLength: 1, maxLength: 4 })
      .map((ls) => ls.map((l) => l + '\n').join(''));
    fc.assert(
      fc.property(fc.array(record, { maxLength: 30 }), fc.integer({ min: 8, max: 200 }), (records, max) => {
        const datagrams = packDatagrams(records, max);
        const lines = records.flatMap((r) => r.split('\n').filter((l) => l !== ''));
        const sent = datagrams.map((d) => d.toString('utf8').split('\n'));
        assert.deepEqual(sent.flat(), lines);
        for (let i = 0; i < datagrams.length; i++) {
          const d = datagrams[i] as Buffer;
          // Over the limit only when a single line is.
          if (d.length > max) assert.equal((sent[i] as string[]).length, 1);
          // Greedy: the next datagram's first line would not have fitted in this one.
          const next = sent[i + 1];
          if (next !== undefined) assert.ok(d.length + 1 + Buffer.byteLength(next[0] as string) > max);
        }
      }),
    );
  });

  it('fills a 1432-byte datagram to the byte', () => {
    // 9-byte lines and 1 separator: 143 lines make 1287 + 142 = 1429 bytes; 144 make 1439.
    const records = Array.from({ length: 300 }, () => 'abcd:12|c\n');
    const datagrams = packDatagrams(records, 1432);
    assert.deepEqual(
      datagrams.map((d) => d.length),
      [1429, 1429, 139],
    );
  });
});

describe('UdpTransport', () => {
  it('sends the lines of a payload as packed datagrams to the endpoint', async () => {
    const server = dgram.createSocket('udp4');
    const received: string[] = [];
    server.on('message', (m) => received.push(m.toString('utf8')));
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
    const port = server.address().port;
    const transport = new UdpTransport(
      { endpoint: { host: '127.0.0.1', port }, label: `127.0.0.1:${port}`, addresses: ['127.0.0.1'] },
      30,
    );
    try {
      await transport.send(payload(['a:1|c\nb:2|c\n', 'c:3|g\n', 'a_long_name_of_twenty:1|c\n']));
      const deadline = Date.now() + 5000;
      while (received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(received, ['a:1|c\nb:2|c\nc:3|g', 'a_long_name_of_twenty:1|c']);
    } finally {
      await transport.close();
      server.close();
    }
    await assert.rejects(transport.send(payload(['a:1|c\n'])), /closed/);
  });

  it('succeeds whether or not anything listens: an upstream outage is invisible over UDP', async () => {
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
    const port = probe.address().port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const transport = new UdpTransport(
      { endpoint: { host: '127.0.0.1', port }, label: `127.0.0.1:${port}`, addresses: ['127.0.0.1'] },
      1432,
    );
    try {
      for (let i = 0; i < 3; i++) await transport.send(payload(['lost:1|c\n']));
    } finally {
      await transport.close();
    }
  });
});
