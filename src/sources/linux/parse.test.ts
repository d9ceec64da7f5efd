import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  memoryUsage,
  parseDecimal,
  parseDiskstats,
  parseLoadAvg,
  parseMeminfo,
  parseMounts,
  parseNetDev,
  parseStat,
  splitFields,
  unescapeMountField,
} from './parse.js';

/** testdata/ lives next to the sources; tests run compiled, from dist/ or another outDir. */
function fixture(...parts: string[]): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [
    path.join(here, 'testdata'),
    path.resolve(here, '../../../src/sources/linux/testdata'),
    path.resolve('src/sources/linux/testdata'),
  ];
  const dir = candidates.find((c) => existsSync(c));
  if (dir === undefined) throw new Error(`testdata not found; tried ${candidates.join(', ')}`);
  return readFileSync(path.join(dir, ...parts), 'utf8');
}

const N = NaN;

describe('splitFields and parseDecimal', () => {
  const splits: [string, string[]][] = [
    ['', []],
    ['   ', []],
    ['a', ['a']],
    [' a  b\tc \r', ['a', 'b', 'c']],
    ['cpu  1 2', ['cpu', '1', '2']],
  ];
  for (const [input, want] of splits) {
    it(`splits ${JSON.stringify(input)}`, () => assert.deepEqual(splitFields(input), want));
  }
  const decimals: [string | undefined, number][] = [
    ['0', 0],
    ['123', 123],
    ['0.11', 0.11],
    ['18446744073709551615', 2 ** 64], // u64 max, rounded to the nearest double
    [undefined, N],
    ['', N],
    ['.', N],
    ['1.2.3', N],
    ['-1', N],
    ['0x10', N],
    ['1e3', N],
    ['Infinity', N],
  ];
  for (const [input, want] of decimals) {
    it(`reads ${JSON.stringify(input)} as ${want}`, () => assert.deepEqual(parseDecimal(input), want));
  }
});

describe('parseStat', () => {
  const cases: { name: string; text: string; want: ReturnType<typeof parseStat> }[] = [
    {
      name: 'this machine (kernel 6.18, 10 columns)',
      text: fixture('vm-6.18', 'proc', 'stat'),
      want: {
        cpus: [
          { cpu: 'total', ticks: [14502, 0, 2712, 92899, 343, 0, 543, 370] },
          { cpu: '0', ticks: [7981, 0, 1484, 45537, 225, 0, 277, 171] },
          { cpu: '1', ticks: [6521, 0, 1227, 47362, 117, 0, 266, 199] },
        ],
        malformed: 0,
      },
    },
    {
      name: 'kernel 2.6.9 (7 columns: no steal, guest, guest_nice)',
      text: fixture('kernel-2.6.18', 'proc', 'stat'),
      want: {
        cpus: [
          { cpu: 'total', ticks: [2255, 34, 2290, 22625563, 6290, 127, 456, N] },
          { cpu: '0', ticks: [1132, 34, 1441, 11311718, 3675, 127, 438, N] },
          { cpu: '1', ticks: [1123, 0, 849, 11313845, 2614, 0, 18, N] },
        ],
        malformed: 0,
      },
    },
    {
      name: 'kernel 2.4 (4 columns)',
      text: 'cpu 1 2 3 4\n',
      want: { cpus: [{ cpu: 'total', ticks: [1, 2, 3, 4, N, N, N, N] }], malformed: 0 },
    },
    {
      name: 'bad lines are counted, good values kept',
      text: 'cpu 1 x 3\ncpufoo 1 2\ncpu7\ncpu2 5\nctxt 9\n',
      want: {
        cpus: [
          { cpu: 'total', ticks: [1, N, 3, N, N, N, N, N] },
          { cpu: '2', ticks: [5, N, N, N, N, N, N, N] },
        ],
        malformed: 3,
      },
    },
    { name: 'empty', text: '', want: { cpus: [], malformed: 0 } },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(parseStat(c.text), c.want));
});

describe('parseLoadAvg', () => {
  const cases: { name: string; text: string; want: ReturnType<typeof parseLoadAvg> }[] = [
    {
      name: 'this machine',
      text: fixture('vm-6.18', 'proc', 'loadavg'),
      want: { load: { load1: 1.62, load5: 0.68, load15: 0.29, runnable: 3, threads: 150 }, malformed: 0 },
    },
    {
      name: 'kernel 2.6',
      text: fixture('kernel-2.6.18', 'proc', 'loadavg'),
      want: { load: { load1: 0.2, load5: 0.18, load15: 0.12, runnable: 1, threads: 80 }, malformed: 0 },
    },
    {
      name: 'no task counts',
      text: '1.00 2.00 3.00\n',
      want: { load: { load1: 1, load5: 2, load15: 3, runnable: N, threads: N }, malformed: 1 },
    },
    {
      name: 'empty',
      text: '',
      want: { load: { load1: N, load5: N, load15: N, runnable: N, threads: N }, malformed: 1 },
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(parseLoadAvg(c.text), c.want));
});

describe('parseMeminfo and memoryUsage', () => {
  const KiB = 1024;
  it('reads this machine (kernel 6.18)', () => {
    const { values, malformed } = parseMeminfo(fixture('vm-6.18', 'proc', 'meminfo'));
    assert.equal(malformed, 0);
    assert.equal(values.get('MemTotal'), 24731708 * KiB);
    assert.equal(values.get('HugePages_Total'), 0);
    assert.deepEqual(memoryUsage(values), {
      total: 24731708 * KiB,
      free: 22422844 * KiB,
      available: 24104116 * KiB,
      buffers: 55324 * KiB,
      cached: (1795336 + 100488) * KiB,
      used: (24731708 - 22422844 - 55324 - 1795336 - 100488) * KiB,
      swapTotal: 0,
      swapFree: 0,
      swapUsed: 0,
    });
  });
  it('reads kernel 2.6.18 (no MemAvailable, no SReclaimable)', () => {
    const { values, malformed } = parseMeminfo(fixture('kernel-2.6.18', 'proc', 'meminfo'));
    assert.equal(malformed, 0);
    assert.deepEqual(memoryUsage(values), {
      total: 4046772 * KiB,
      free: 262408 * KiB,
      available: N,
      buffers: 121224 * KiB,
      cached: 2998912 * KiB,
      used: (4046772 - 262408 - 121224 - 2998912) * KiB,
      swapTotal: 2096472 * KiB,
      swapFree: 2096200 * KiB,
      swapUsed: (2096472 - 2096200) * KiB,
    });
  });
  const lines: { name: string; text: string; want: [string, number][]; malformed: number }[] = [
    { name: 'kB to bytes', text: 'MemTotal: 1 kB\n', want: [['MemTotal', 1024]], malformed: 0 },
    { name: 'unitless count', text: 'HugePages_Free:  3\n', want: [['HugePages_Free', 3]], malformed: 0 },
    { name: 'parenthesised key', text: 'Active(anon):  2 kB', want: [['Active(anon)', 2048]], malformed: 0 },
    { name: 'no colon', text: 'MemTotal 1 kB\n', want: [], malformed: 1 },
    { name: 'unknown unit', text: 'MemTotal: 1 MB\n', want: [], malformed: 1 },
    { name: 'no value', text: 'MemTotal:\n', want: [], malformed: 1 },
    { name: 'negative', text: 'X: -1 kB\n', want: [], malformed: 1 },
  ];
  for (const c of lines) {
    it(c.name, () => {
      const r = parseMeminfo(c.text);
      assert.deepEqual([...r.values], c.want);
      assert.equal(r.malformed, c.malformed);
    });
  }
  it('leaves what cannot be derived as NaN', () => {
    const m = memoryUsage(new Map([['MemFree', 1]]));
    assert.ok(
      Number.isNaN(m.total) && Number.isNaN(m.used) && Number.isNaN(m.buffers) && Number.isNaN(m.swapUsed),
    );
    assert.equal(m.free, 1);
  });
  it('never reports negative used memory', () => {
    const values = new Map([
      ['MemTotal', 100],
      ['MemFree', 80],
      ['Buffers', 10],
      ['Cached', 30],
    ]);
    assert.equal(memoryUsage(values).used, 0);
  });
});

describe('parseMounts', () => {
  it('reads this machine', () => {
    const { mounts, malformed } = parseMounts(fixture('vm-6.18', 'proc', 'self', 'mounts'));
    assert.equal(malformed, 0);
    assert.deepEqual(mounts[0], { device: 'proc', mountPoint: '/proc', fstype: 'proc' });
    assert.ok(mounts.some((m) => m.mountPoint === '/' && m.fstype === 'ext4' && m.device === '/dev/vda'));
  });
  const cases: { name: string; text: string; want: ReturnType<typeof parseMounts> }[] = [
    {
      name: 'octal escapes in mount points',
      text: '/dev/sdb1 /mnt/my\\040disk\\011x\\134y ext4 rw 0 0\n',
      want: {
        mounts: [{ device: '/dev/sdb1', mountPoint: '/mnt/my disk\tx\\y', fstype: 'ext4' }],
        malformed: 0,
      },
    },
    {
      name: 'short lines are malformed',
      text: 'a b\n\ntmpfs /run tmpfs\n',
      want: { mounts: [{ device: 'tmpfs', mountPoint: '/run', fstype: 'tmpfs' }], malformed: 1 },
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(parseMounts(c.text), c.want));
  const escapes: [string, string][] = [
    ['plain', 'plain'],
    ['a\\040b', 'a b'],
    ['trailing\\', 'trailing\\'],
    ['short\\04', 'short\\04'],
    ['not\\999octal', 'not\\999octal'],
  ];
  for (const [input, want] of escapes) {
    it(`unescapes ${JSON.stringify(input)}`, () => assert.equal(unescapeMountField(input), want));
  }
});

describe('parseDiskstats', () => {
  it('reads this machine (kernel 6.18, 20 fields)', () => {
    const { disks, malformed } = parseDiskstats(fixture('vm-6.18', 'proc', 'diskstats'));
    assert.equal(malformed, 0);
    assert.deepEqual(
      disks.map((d) => d.device),
      ['loop0', 'loop1', 'loop2', 'loop3', 'loop4', 'loop5', 'loop6', 'loop7', 'vda', 'zram0'],
    );
    assert.deepEqual(disks[8], {
      device: 'vda',
      readsCompleted: 26725,
      readsMerged: 5124,
      sectorsRead: 1657442,
      readTimeMs: 5567,
      writesCompleted: 9231,
      writesMerged: 17262,
      sectorsWritten: 2174552,
      writeTimeMs: 5089,
      ioInProgress: 0,
      ioTimeMs: 4268,
      weightedIoTimeMs: 10928,
      discardsCompleted: 3910,
      discardsMerged: 9,
      sectorsDiscarded: 213096,
      discardTimeMs: 259,
      flushesCompleted: 564,
      flushTimeMs: 12,
    });
  });
  it('reads kernel 2.6.18 (14 fields, 7-field partitions)', () => {
    const { disks, malformed } = parseDiskstats(fixture('kernel-2.6.18', 'proc', 'diskstats'));
    assert.equal(malformed, 0);
    const sda = disks[1];
    assert.equal(sda?.device, 'sda');
    assert.equal(sda.readsCompleted, 1843925);
    assert.equal(sda.weightedIoTimeMs, 113649198);
    assert.ok(Number.isNaN(sda.discardsCompleted) && Number.isNaN(sda.flushTimeMs));
    const sda2 = disks[3];
    assert.equal(sda2?.device, 'sda2');
    assert.deepEqual(
      [sda2.readsCompleted, sda2.sectorsRead, sda2.writesCompleted, sda2.sectorsWritten],
      [1948221, 47577894, 17809883, 142480912],
    );
    assert.ok(Number.isNaN(sda2.readsMerged) && Number.isNaN(sda2.ioTimeMs));
  });
  it('reads kernel 4.19 (18 fields: discards, no flushes)', () => {
    const { disks } = parseDiskstats(' 8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n');
    assert.equal(disks[0]?.sectorsDiscarded, 14);
    assert.equal(disks[0].discardTimeMs, 15);
    assert.ok(Number.isNaN(disks[0].flushesCompleted));
  });
  const bad: [string, string, number][] = [
    ['too short', '8 0 sda\n', 0],
    ['non-numeric major', 'x 0 sda 1 2 3 4 5 6 7 8 9 10 11\n', 0],
    ['non-numeric value', '8 0 sda 1 2 x 4 5 6 7 8 9 10 11\n', 1],
  ];
  for (const [name, text, kept] of bad) {
    it(`counts a malformed line: ${name}`, () => {
      const r = parseDiskstats(text);
      assert.equal(r.malformed, 1);
      assert.equal(r.disks.length, kept);
    });
  }
});

describe('parseNetDev', () => {
  it('reads this machine', () => {
    const { interfaces, malformed } = parseNetDev(fixture('vm-6.18', 'proc', 'net', 'dev'));
    assert.equal(malformed, 0);
    assert.deepEqual(
      interfaces.map((i) => i.interface),
      ['lo', 'ifb0', 'ifb1', 'eth0'],
    );
    assert.deepEqual(interfaces[3], {
      interface: 'eth0',
      rxBytes: 345005511,
      rxPackets: 11472,
      rxErrors: 0,
      rxDropped: 0,
      rxFifo: 0,
      rxFrame: 0,
      rxCompressed: 0,
      rxMulticast: 0,
      txBytes: 669586,
      txPackets: 7041,
      txErrors: 0,
      txDropped: 0,
      txFifo: 0,
      txCollisions: 0,
      txCarrier: 0,
      txCompressed: 0,
    });
  });
  it('reads an old kernel that glues wide counters to the colon', () => {
    const { interfaces, malformed } = parseNetDev(fixture('kernel-2.6.18', 'proc', 'net', 'dev'));
    assert.equal(malformed, 0);
    const eth0 = interfaces[1];
    assert.equal(eth0?.interface, 'eth0');
    assert.deepEqual(
      [eth0.rxBytes, eth0.rxPackets, eth0.rxErrors, eth0.rxDropped, eth0.rxMulticast],
      [1735437436, 4129183, 3, 7, 112],
    );
    assert.deepEqual(
      [eth0.txBytes, eth0.txPackets, eth0.txErrors, eth0.txDropped],
      [308484519, 2917434, 1, 2],
    );
  });
  const bad: [string, string, number][] = [
    ['no colon', 'eth0 1 2 3\n', 0],
    ['no name', ': 1 2 3\n', 0],
    ['no values', 'eth0:\n', 1],
    ['bad value', 'eth0: 1 x 3\n', 1],
  ];
  for (const [name, text, kept] of bad) {
    it(`counts a malformed line: ${name}`, () => {
      const r = parseNetDev(text);
      assert.equal(r.malformed, 1);
      assert.equal(r.interfaces.length, kept);
    });
  }
});

describe('parsers on arbitrary text', () => {
  // Text that looks like /proc often enough to reach the deep branches, and pure noise.
  const token = fc.constantFrom(
    'cpu',
    'cpu0',
    'MemTotal:',
    'kB',
    'eth0:',
    '|',
    '/',
    ':',
    '\\040',
    '\\',
    '8',
    '0',
    '123',
    '0.5',
    '1/80',
    '-1',
    'x',
    '',
  );
  const sep = fc.constantFrom(' ', '  ', '\t', '\n', '\r\n', '');
  const procish = fc
    .array(fc.tuple(token, sep), { maxLength: 60 })
    .map((parts) => parts.map(([t, s]) => t + s).join(''));
  const text = fc.oneof(
    procish,
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.string({ maxLength: 200 }),
  );

  const isNumberOrNaN = (v: unknown): boolean => typeof v === 'number' && (Number.isNaN(v) || v >= 0);
  const malformedOk = (n: number): boolean => Number.isInteger(n) && n >= 0;

  it('parseStat never throws and yields non-negative numbers or NaN', () => {
    fc.assert(
      fc.property(text, (t) => {
        const r = parseStat(t);
        return (
          malformedOk(r.malformed) &&
          r.cpus.every((c) => c.ticks.length === 8 && c.ticks.every(isNumberOrNaN))
        );
      }),
    );
  });
  it('parseLoadAvg never throws', () => {
    fc.assert(
      fc.property(text, (t) => {
        const r = parseLoadAvg(t);
        return malformedOk(r.malformed) && Object.values(r.load).every(isNumberOrNaN);
      }),
    );
  });
  it('parseMeminfo and memoryUsage never throw', () => {
    fc.assert(
      fc.property(text, (t) => {
        const r = parseMeminfo(t);
        const m = memoryUsage(r.values);
        return (
          malformedOk(r.malformed) &&
          [...r.values.values()].every(isNumberOrNaN) &&
          Object.values(m).every(isNumberOrNaN)
        );
      }),
    );
  });
  it('parseMounts never throws', () => {
    fc.assert(
      fc.property(text, (t) => {
        const r = parseMounts(t);
        return malformedOk(r.malformed) && r.mounts.every((m) => typeof m.mountPoint === 'string');
      }),
    );
  });
  it('parseDiskstats never throws', () => {
    fc.assert(
      fc.property(text, (t) => {
        const r = parseDiskstats(t);
        return (
          malformedOk(r.malformed) &&
          r.disks.every((d) => Object.values(d).every((v) => typeof v === 'string' || isNumberOrNaN(v)))
        );
      }),
    );
  });
  it('parseNetDev never throws', () => {
    fc.assert(
      fc.property(text, (t) => {
        const r = parseNetDev(t);
        return (
          malformedOk(r.malformed) &&
          r.interfaces.every(
            (i) =>
              i.interface !== '' && Object.values(i).every((v) => typeof v === 'string' || isNumberOrNaN(v)),
          )
        );
      }),
    );
  });
  it('unescapeMountField never throws and is the identity without backslashes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 100 }), (s) => {
        const r = unescapeMountField(s);
        return s.includes('\\') || r === s;
      }),
    );
  });
});
