import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { findUdpSocket } from './proc-net-udp.js';

// Captured on Linux 6.18: the kernel pads udp4 lines to 127 characters, udp6 lines not at all.
// Inode 12394 is a socket bound to 127.0.0.1:8125 with a 4 KiB buffer that a burst overran.
const UDP4 = [
  '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            ',
  ' 5260: 0100007F:1FBD 00000000:0000 07 00000000:00001E00 00:00000000 00000000     0        0 12394 2 0000000046d445b1 44        ',
  '14264: 00000000:C2E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 11609 2 000000009c60df26 0         ',
  '14265: 0100007F:0035 00000000:0000 07 00000000:00000340 00:00000000 00000000   101        0 1234 2 000000009c60df27 0          ',
  '',
].join('\n');

const UDP6 = [
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
  '  933: 00000000000000000000000001000000:8ED6 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 11611 2 00000000b1fec394 0',
  ' 5260: 00000000000000000000000001000000:1FBD 00000000000000000000000000000000:0000 07 00000000:00001E00 00:00000000 00000000     0        0 11646 2 00000000b1fec394 4294967295',
  '',
].join('\n');

describe('findUdpSocket', () => {
  const table: { name: string; text: string; inode: number; want: ReturnType<typeof findUdpSocket> }[] = [
    {
      name: 'udp4: a socket with a queue and drops',
      text: UDP4,
      inode: 12394,
      want: { rxQueueBytes: 0x1e00, drops: 44 },
    },
    { name: 'udp4: an idle socket', text: UDP4, inode: 11609, want: { rxQueueBytes: 0, drops: 0 } },
    {
      name: 'udp4: an inode that is a prefix of another is not mistaken for it',
      text: UDP4,
      inode: 123,
      want: undefined,
    },
    { name: 'udp4: a shorter inode', text: UDP4, inode: 1234, want: { rxQueueBytes: 0x340, drops: 0 } },
    { name: 'udp6: an idle socket', text: UDP6, inode: 11611, want: { rxQueueBytes: 0, drops: 0 } },
    {
      name: 'udp6: drops at the top of the unsigned 32-bit counter',
      text: UDP6,
      inode: 11646,
      want: { rxQueueBytes: 7680, drops: 4294967295 },
    },
    { name: 'an inode that is not there', text: UDP4, inode: 99999, want: undefined },
    { name: 'only the header', text: UDP4.split('\n')[0] + '\n', inode: 12394, want: undefined },
    { name: 'empty text', text: '', inode: 12394, want: undefined },
    {
      name: 'the header is never a row',
      text: '0 1 2 3 4:5 6 7 8 12394 10 11 12\n',
      inode: 12394,
      want: undefined,
    },
    {
      name: 'no trailing newline',
      text: UDP6.trimEnd(),
      inode: 11646,
      want: { rxQueueBytes: 7680, drops: 4294967295 },
    },
    {
      name: 'the row of the inode cut short',
      text: 'header\n 1: 0100007F:1FBD 00000000:0000 07 00000000:00001E00 00:00000000 00000000 0 0 12394 2\n',
      inode: 12394,
      want: undefined,
    },
    {
      name: 'queues without a colon',
      text: 'header\n 1: 0100007F:1FBD 00000000:0000 07 0000000000001E00 00:00000000 00000000 0 0 12394 2 0 5\n',
      inode: 12394,
      want: undefined,
    },
    {
      name: 'drops that are not a number',
      text: 'header\n 1: 0100007F:1FBD 00000000:0000 07 00000000:00001E00 00:00000000 00000000 0 0 12394 2 0 -5\n',
      inode: 12394,
      want: undefined,
    },
    {
      name: 'a column added after drops by a later kernel is ignored',
      text: 'header\n 1: 0100007F:1FBD 00000000:0000 07 00000000:00001E00 00:00000000 00000000 0 0 12394 2 0 5 77\n',
      inode: 12394,
      want: { rxQueueBytes: 7680, drops: 5 },
    },
    {
      name: 'tabs and CRLF line ends',
      text: 'header\r\n1:\t0100007F:1FBD 00000000:0000 07 00000000:00000010 00:00000000 00000000 0 0 7 2 0 3\r\n',
      inode: 7,
      want: { rxQueueBytes: 16, drops: 3 },
    },
    { name: 'a negative inode', text: UDP4, inode: -1, want: undefined },
    { name: 'a fractional inode', text: UDP4, inode: 12394.5, want: undefined },
  ];
  for (const c of table) {
    it(c.name, () => assert.deepEqual(findUdpSocket(c.text, c.inode), c.want));
  }

  it('never throws, whatever the text and inode', () => {
    const tableLike = fc.array(
      fc.oneof(
        fc.string(),
        fc.constantFrom(...UDP4.split('\n'), ...UDP6.split('\n')),
        fc
          .array(
            fc.oneof(
              fc.string({ unit: 'binary-ascii', maxLength: 6 }),
              fc.nat().map((n) => n.toString(16)),
              fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => `${a.toString(16)}:${b.toString(16)}`),
              fc.nat().map(String),
            ),
            { maxLength: 16 },
          )
          .map((fields) => fields.join(' ')),
      ),
      { maxLength: 8 },
    );
    fc.assert(
      fc.property(tableLike, fc.oneof(fc.nat(), fc.integer(), fc.double()), (lines, inode) => {
        const r = findUdpSocket(lines.join('\n'), inode);
        if (r !== undefined) {
          assert.ok(Number.isSafeInteger(r.rxQueueBytes) && r.rxQueueBytes >= 0);
          assert.ok(Number.isSafeInteger(r.drops) && r.drops >= 0);
        }
      }),
    );
  });

  it('finds any well-formed row among others, with its queue and drops', () => {
    const row = (inode: number, rx: number, drops: number): string =>
      ` 1: 0100007F:1FBD 00000000:0000 07 00000000:${rx.toString(16).toUpperCase().padStart(8, '0')} ` +
      `00:00000000 00000000     0        0 ${inode} 2 0000000046d445b1 ${drops}`;
    const socket = fc.record({
      inode: fc.nat(),
      rx: fc.nat({ max: 0xffffffff }),
      drops: fc.nat({ max: 0xffffffff }),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(socket, { selector: (s) => s.inode, minLength: 1 }),
        fc.nat(),
        (sockets, k) => {
          const text = [UDP4.split('\n')[0], ...sockets.map((s) => row(s.inode, s.rx, s.drops))].join('\n');
          const s = sockets[k % sockets.length] as (typeof sockets)[number];
          assert.deepEqual(findUdpSocket(text, s.inode), { rxQueueBytes: s.rx, drops: s.drops });
        },
      ),
    );
  });
});
