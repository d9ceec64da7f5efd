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
  parseSnmp,
  parseStat,
  parseUptime,
  parseVmstat,
  splitFields,
  unescapeMountField,
  UNKNOWN_KERNEL_COUNTERS,
  type KernelCounters,
} from './parse.js';
import { VMSTAT_KEYS } from './metrics.js';

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

function kernel(values: Partial<KernelCounters>): KernelCounters {
  return { ...UNKNOWN_KERNEL_COUNTERS, ...values };
}

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
        kernel: {
          interrupts: 506400,
          softirqs: 9498022,
          contextSwitches: 923850,
          forks: 8129,
          running: 4,
          blocked: 0,
          bootTime: 1795304983,
        },
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
        // No softirq line before 2.6.31.
        kernel: kernel({
          interrupts: 114930548,
          contextSwitches: 1990473,
          forks: 2915,
          running: 1,
          blocked: 0,
          bootTime: 1062191376,
        }),
        malformed: 0,
      },
    },
    {
      name: 'kernel 2.4 (4 columns)',
      text: 'cpu 1 2 3 4\n',
      want: {
        cpus: [{ cpu: 'total', ticks: [1, 2, 3, 4, N, N, N, N] }],
        kernel: UNKNOWN_KERNEL_COUNTERS,
        malformed: 0,
      },
    },
    {
      name: 'bad lines are counted, good values kept',
      text: 'cpu 1 x 3\ncpufoo 1 2\ncpu7\ncpu2 5\nctxt 9\nbtime\nprocesses -1\nintr 12x 1 2\npage 1 2\n',
      want: {
        cpus: [
          { cpu: 'total', ticks: [1, N, 3, N, N, N, N, N] },
          { cpu: '2', ticks: [5, N, N, N, N, N, N, N] },
        ],
        kernel: kernel({ contextSwitches: 9 }),
        malformed: 6,
      },
    },
    {
      name: 'the intr total only, however long the line, and tabs or CRs around values',
      text: `intr 7 ${'0 '.repeat(5000)}1\nctxt\t42\r\nprocs_blocked   3\n`,
      want: { cpus: [], kernel: kernel({ interrupts: 7, contextSwitches: 42, blocked: 3 }), malformed: 0 },
    },
    { name: 'empty', text: '', want: { cpus: [], kernel: UNKNOWN_KERNEL_COUNTERS, malformed: 0 } },
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
  it('reads the kernel 5.4 file (18 fields on every line, partitions included)', () => {
    const { disks, malformed } = parseDiskstats(fixture('kernel-5.4', 'proc', 'diskstats'));
    assert.equal(malformed, 0);
    assert.deepEqual(
      disks.map((d) => d.device),
      ['loop0', 'nvme0n1', 'nvme0n1p1', 'nvme0n1p2', 'dm-0'],
    );
    const nvme = disks[1];
    assert.deepEqual(
      [
        nvme?.ioTimeMs,
        nvme?.weightedIoTimeMs,
        nvme?.discardsCompleted,
        nvme?.sectorsDiscarded,
        nvme?.discardTimeMs,
      ],
      [3312093, 18223118, 40211, 120334112, 1203],
    );
    assert.ok(Number.isNaN(nvme?.flushesCompleted) && Number.isNaN(nvme?.flushTimeMs));
  });
  it('reads the kernel 3.10 file (14 fields on every line, partitions included)', () => {
    const { disks, malformed } = parseDiskstats(fixture('kernel-3.10', 'proc', 'diskstats'));
    assert.equal(malformed, 0);
    assert.equal(disks.length, 6);
    const sda1 = disks[1];
    assert.deepEqual([sda1?.device, sda1?.readsCompleted, sda1?.weightedIoTimeMs], ['sda1', 2211, 4402]);
    assert.ok(disks.every((d) => Number.isNaN(d.discardsCompleted)));
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

describe('parseStat on kernel 3.10', () => {
  it('reads the activity lines after 4 CPUs with 10 columns', () => {
    const r = parseStat(fixture('kernel-3.10', 'proc', 'stat'));
    assert.equal(r.malformed, 0);
    assert.equal(r.cpus.length, 5);
    assert.deepEqual(r.kernel, {
      interrupts: 187674993,
      softirqs: 216107702,
      contextSwitches: 4190228731,
      forks: 9920391,
      running: 2,
      blocked: 1,
      bootTime: 1588156372,
    });
  });
});

describe('parseUptime', () => {
  const cases: [string, string, ReturnType<typeof parseUptime>][] = [
    ['this machine', fixture('vm-6.18', 'proc', 'uptime'), { uptime: 9128.26, idle: 7658.15, malformed: 0 }],
    [
      'kernel 3.10',
      fixture('kernel-3.10', 'proc', 'uptime'),
      { uptime: 825098.31, idle: 3186635.43, malformed: 0 },
    ],
    ['one number', '12.5\n', { uptime: 12.5, idle: N, malformed: 1 }],
    ['three numbers', '1 2 3\n', { uptime: 1, idle: 2, malformed: 1 }],
    ['not numbers', 'up 2\n', { uptime: N, idle: 2, malformed: 1 }],
    ['empty', '', { uptime: N, idle: N, malformed: 1 }],
  ];
  for (const [name, text, want] of cases) it(name, () => assert.deepEqual(parseUptime(text), want));
});

describe('parseVmstat', () => {
  it('reads the wanted counters of this machine (kernel 6.18)', () => {
    const r = parseVmstat(fixture('vm-6.18', 'proc', 'vmstat'), VMSTAT_KEYS);
    assert.equal(r.malformed, 0);
    assert.deepEqual(
      [...r.values],
      [
        ['pswpin', 0],
        ['pswpout', 0],
        ['pgfault', 110512102],
        ['pgmajfault', 827],
        ['oom_kill', 0],
      ],
    );
  });
  it('has no oom_kill before kernel 4.13', () => {
    const r = parseVmstat(fixture('kernel-3.10', 'proc', 'vmstat'), VMSTAT_KEYS);
    assert.equal(r.malformed, 0);
    assert.deepEqual(Object.fromEntries(r.values), {
      pswpin: 18211,
      pswpout: 57274,
      pgfault: 38811028830,
      pgmajfault: 411290,
    });
  });
  it('counts bad lines, wanted or not, but does not read unwanted values', () => {
    const r = parseVmstat('pswpin x\nnoseparator\npgfault 5\nnr_free_pages y\n', VMSTAT_KEYS);
    assert.deepEqual([...r.values], [['pgfault', 5]]);
    assert.equal(r.malformed, 2);
  });
});

describe('parseSnmp', () => {
  it('reads /proc/net/snmp and /proc/net/netstat of this machine into one map', () => {
    const groups = parseSnmp(fixture('vm-6.18', 'proc', 'net', 'snmp')).groups;
    const netstat = parseSnmp(fixture('vm-6.18', 'proc', 'net', 'netstat'), groups);
    assert.equal(netstat.malformed, 0);
    assert.equal(netstat.groups, groups);
    assert.deepEqual(
      [...groups.keys()],
      ['Ip', 'Icmp', 'IcmpMsg', 'Tcp', 'Udp', 'UdpLite', 'TcpExt', 'IpExt', 'MPTcpExt'],
    );
    assert.equal(groups.get('Tcp')?.get('MaxConn'), -1);
    assert.equal(groups.get('Udp')?.get('RcvbufErrors'), 48221974);
    assert.equal(groups.get('Ip')?.get('OutTransmits'), 105460233);
    assert.equal(groups.get('IpExt')?.get('InOctets'), 42621100620);
    assert.equal(groups.get('TcpExt')?.get('TCPKeepAlive'), 2687);
  });
  it('reads a kernel 3.10 file, which lacks later fields', () => {
    const r = parseSnmp(fixture('kernel-3.10', 'proc', 'net', 'snmp'));
    assert.equal(r.malformed, 0);
    assert.deepEqual(
      [...(r.groups.get('Udp')?.keys() ?? [])],
      ['InDatagrams', 'NoPorts', 'InErrors', 'OutDatagrams', 'RcvbufErrors', 'SndbufErrors', 'InCsumErrors'],
    );
    assert.equal(r.groups.get('IcmpMsg')?.get('OutType3'), 9288);
    assert.equal(r.groups.get('Ip')?.get('Forwarding'), 1);
  });
  const cases: { name: string; text: string; want: [string, [string, number][]][]; malformed: number }[] = [
    {
      name: 'IcmpMsg split over two pairs of lines (16 types per line)',
      text: 'IcmpMsg: InType0 InType3\nIcmpMsg: 1 2\nIcmpMsg: OutType3\nIcmpMsg: 4\n',
      want: [
        [
          'IcmpMsg',
          [
            ['InType0', 1],
            ['InType3', 2],
            ['OutType3', 4],
          ],
        ],
      ],
      malformed: 0,
    },
    {
      name: 'a values line of the wrong length is skipped whole',
      text: 'Udp: InDatagrams NoPorts\nUdp: 1\nTcp: CurrEstab\nTcp: 3\n',
      want: [['Tcp', [['CurrEstab', 3]]]],
      malformed: 1,
    },
    {
      name: 'a header without values, and a line without a group',
      text: 'Ip: Forwarding\nUdp: NoPorts\nUdp: 2\nno colon here\n',
      want: [['Udp', [['NoPorts', 2]]]],
      malformed: 2,
    },
    {
      name: 'a bad value is skipped, its neighbours kept',
      text: 'Udp: InDatagrams NoPorts InErrors\nUdp: 1 x -\n',
      want: [['Udp', [['InDatagrams', 1]]]],
      malformed: 1,
    },
    {
      name: 'a trailing header',
      text: 'Tcp: A\nTcp: 1\nUdp: B\n',
      want: [['Tcp', [['A', 1]]]],
      malformed: 1,
    },
    { name: 'empty', text: '', want: [], malformed: 0 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = parseSnmp(c.text);
      assert.deepEqual(
        [...r.groups].map(([g, m]) => [g, [...m]]),
        c.want,
      );
      assert.equal(r.malformed, c.malformed);
    });
  }
});

describe('parsers on arbitrary text', () => {
  // Text that looks like /proc often enough to reach the deep branches, and pure noise.
  const token = fc.constantFrom(
    'cpu',
    'cpu0',
    'intr',
    'ctxt',
    'btime',
    'procs_running',
    'Tcp:',
    'Udp:',
    'pswpin',
    'pgfault',
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
  it('parseUptime never throws', () => {
    fc.assert(
      fc.property(text, (t) => {
        const r = parseUptime(t);
        return malformedOk(r.malformed) && isNumberOrNaN(r.uptime) && isNumberOrNaN(r.idle);
      }),
    );
  });
  it('parseStat reads back the activity counters it is given', () => {
    const value = fc.bigInt({ min: 0n, max: 2n ** 53n - 1n });
    fc.assert(
      fc.property(value, value, value, fc.array(value, { maxLength: 20 }), (ctxt, forks, intr, rest) => {
        const t = `cpu 1 2 3 4\nintr ${intr} ${rest.join(' ')}\nctxt ${ctxt}\nprocesses ${forks}\n`;
        const r = parseStat(t);
        return (
          r.malformed === 0 &&
          r.kernel.contextSwitches === Number(ctxt) &&
          r.kernel.forks === Number(forks) &&
          r.kernel.interrupts === Number(intr)
        );
      }),
    );
  });
  it('parseVmstat never throws and keeps only wanted names', () => {
    fc.assert(
      fc.property(text, (t) => {
        const r = parseVmstat(t, VMSTAT_KEYS);
        return (
          malformedOk(r.malformed) &&
          [...r.values].every(([k, v]) => VMSTAT_KEYS.has(k) && isNumberOrNaN(v) && !Number.isNaN(v))
        );
      }),
    );
  });
  it('parseSnmp never throws', () => {
    fc.assert(
      fc.property(text, (t) => {
        const r = parseSnmp(t);
        return (
          malformedOk(r.malformed) &&
          [...r.groups.values()].every((m) => [...m.values()].every((v) => Number.isInteger(v)))
        );
      }),
    );
  });
  it('parseSnmp reads back what the kernel would print', () => {
    // Group and field names as the kernel prints them: letters and digits, no spaces or colons.
    const ident = fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,11}$/);
    const group = fc.record({
      name: ident,
      fields: fc.uniqueArray(fc.tuple(ident, fc.integer({ min: -1, max: 2 ** 40 })), {
        minLength: 1,
        maxLength: 12,
        selector: ([k]) => k,
      }),
    });
    fc.assert(
      fc.property(fc.uniqueArray(group, { maxLength: 6, selector: (g) => g.name }), (groups) => {
        const t = groups
          .map(
            (g) =>
              `${g.name}: ${g.fields.map(([k]) => k).join(' ')}\n${g.name}: ${g.fields.map(([, v]) => v).join(' ')}\n`,
          )
          .join('');
        const r = parseSnmp(t);
        assert.equal(r.malformed, 0);
        assert.deepEqual(
          [...r.groups].map(([g, m]) => [g, [...m]]),
          groups.map((g) => [g.name, g.fields]),
        );
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
