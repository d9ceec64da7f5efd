import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GaugeMetric } from '../../core/metric.js';
import { mergeTags, makeTags } from '../../core/tags.js';
import { HistParser, type HistBlock } from '../../protocols/bpftrace/hist.js';
import { CarbonEncoder } from '../../protocols/carbon/plaintext.js';
import { compileTemplate, type Template } from '../../protocols/carbon/template.js';
import { BlockConverter, bucketTag } from './metrics.js';
import { referenceLog } from '../../testing/bpftrace.js';

const T = 1_700_000_000_000;

function convert(converter: BlockConverter, block: HistBlock): GaugeMetric[] {
  const out: GaugeMetric[] = [];
  converter.convert(block, T, out);
  return out;
}

function points(metrics: readonly GaugeMetric[]): string[] {
  return metrics.map((m) => `${m.name}{${m.tags.map(([k, v]) => `${k}=${v}`).join(',')}} ${m.value}`);
}

const usecs = (buckets: [number, number, number][], key?: string): HistBlock => ({
  map: 'usecs',
  key,
  buckets: buckets.map(([lower, upper, count]) => ({ lower, upper, count })),
});

describe('bucketTag', () => {
  it('writes the lower bound in decimal, -inf for the bucket below the lowest bound', () => {
    assert.deepEqual([0, 1, 2, 1024, -100, -Infinity, 2 ** 62, 7 * 2 ** 60].map(bucketTag), [
      '0',
      '1',
      '2',
      '1024',
      '-100',
      '-inf',
      '4611686018427387904',
      '8070450532247928832',
    ]);
  });
});

describe('BlockConverter', () => {
  it('makes one gauge per bucket, named after the map, tagged with the bucket and the key', () => {
    const c = new BlockConverter({ maps: [], names: {}, fillZeros: false });
    const got = convert(
      c,
      usecs(
        [
          [-Infinity, 0, 1],
          [0, 1, 2],
          [2, 4, 0],
          [100, Infinity, 5],
        ],
        'cc1',
      ),
    );
    assert.deepEqual(points(got), [
      'usecs{bucket=-inf,key=cc1} 1',
      'usecs{bucket=0,key=cc1} 2',
      'usecs{bucket=2,key=cc1} 0',
      'usecs{bucket=100,key=cc1} 5',
    ]);
    assert.ok(got.every((m) => m.kind === 'gauge' && m.timestamp === T && m.help !== undefined));
  });

  it('renames maps and keeps only the maps asked for, with or without "@"', () => {
    const c = new BlockConverter({
      maps: ['@usecs', 'lin'],
      names: { '@usecs': 'cpu_lat' },
      fillZeros: false,
    });
    assert.deepEqual(points(convert(c, usecs([[1, 2, 3]]))), ['cpu_lat{bucket=1} 3']);
    assert.deepEqual(
      convert(c, { map: 'big', key: undefined, buckets: [{ lower: 1, upper: 2, count: 1 }] }),
      [],
    );
    assert.deepEqual(
      points(convert(c, { map: 'lin', key: undefined, buckets: [{ lower: 0, upper: 10, count: 4 }] })),
      ['lin{bucket=0} 4'],
    );
    const anonymous = new BlockConverter({ maps: [], names: {}, fillZeros: false });
    assert.deepEqual(
      points(convert(anonymous, { map: '', key: undefined, buckets: [{ lower: 0, upper: 1, count: 1 }] })),
      ['bpftrace{bucket=0} 1'],
    );
  });

  it('with fill_zeros, reports 0 for buckets of the same map and key printed before', () => {
    const c = new BlockConverter({ maps: [], names: {}, fillZeros: true });
    convert(
      c,
      usecs([
        [1, 2, 1],
        [2, 4, 2],
      ]),
    );
    convert(c, usecs([[8, 16, 9]], 'other'));
    assert.deepEqual(points(convert(c, usecs([[4, 8, 3]]))), [
      'usecs{bucket=1} 0',
      'usecs{bucket=2} 0',
      'usecs{bucket=4} 3',
    ]);
    assert.deepEqual(points(convert(c, usecs([], 'other'))), ['usecs{bucket=8,key=other} 0']);
  });

  it('forgets the least recently printed series beyond maxSeries', () => {
    const c = new BlockConverter({ maps: [], names: {}, fillZeros: true, maxSeries: 2 });
    convert(c, usecs([[1, 2, 1]], 'a'));
    convert(c, usecs([[1, 2, 1]], 'b'));
    convert(c, usecs([[1, 2, 1]], 'a'));
    convert(c, usecs([[1, 2, 1]], 'c')); // evicts b, the least recent
    assert.deepEqual(points(convert(c, usecs([], 'a'))), ['usecs{bucket=1,key=a} 0']);
    assert.deepEqual(points(convert(c, usecs([], 'b'))), []);
  });
});

/**
 * What the bpftrace Graphite client sent for a log: for each line of an `@usecs` block, the
 * path `<hostname>.cpu-lat.<lower bound>` with the line's count. Written independently of the
 * parser (a regular expression per line), as the client did.
 */
function clientLines(log: string, host: string, seconds: number): string[] {
  const unit: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
  const out: string[] = [];
  let inUsecs = false;
  for (const line of log.split('\n')) {
    if (line.startsWith('@')) inUsecs = line.trim() === '@usecs:';
    const m = /^\[(\d+)([KMG]?)(?:, [^)]*\)|\])\s+(\d+) \|/.exec(line);
    if (inUsecs && m !== null) {
      out.push(`${host}.cpu-lat.${Number(m[1]) * (unit[m[2] as string] as number)} ${m[3]} ${seconds}`);
    }
  }
  return out;
}

describe('the Graphite template {host}.cpu-lat.{bucket} over the reference log', () => {
  const template = compileTemplate('{host}.cpu-lat.{bucket}') as Template;
  const encoder = new CarbonEncoder(template, 'path');
  const log = referenceLog();
  const parser = new HistParser();
  const items = [...parser.push(log), ...parser.end()];
  const host = makeTags({ host: 'web01' });

  function carbon(fillZeros: boolean): string[] {
    const c = new BlockConverter({ maps: ['usecs'], names: { usecs: 'cpu_lat' }, fillZeros });
    const out: GaugeMetric[] = [];
    for (const item of items) if (item.type === 'hist') c.convert(item.block, T, out);
    // The pipeline adds the agent's host tag to every metric.
    return out.flatMap((m) =>
      (encoder.encode({ ...m, tags: mergeTags(m.tags, host) }) ?? '').split('\n').filter((l) => l !== ''),
    );
  }

  it('sends the paths and values the client sent, first block as printed', () => {
    const lines = carbon(false);
    assert.deepEqual(lines, clientLines(log.toString('utf8'), 'web01', T / 1000));
    assert.deepEqual(lines.slice(0, 13), [
      'web01.cpu-lat.1 2 1700000000',
      'web01.cpu-lat.2 0 1700000000',
      'web01.cpu-lat.4 2 1700000000',
      'web01.cpu-lat.8 0 1700000000',
      'web01.cpu-lat.16 3 1700000000',
      'web01.cpu-lat.32 7 1700000000',
      'web01.cpu-lat.64 17 1700000000',
      'web01.cpu-lat.128 27 1700000000',
      'web01.cpu-lat.256 62 1700000000',
      'web01.cpu-lat.512 123 1700000000',
      'web01.cpu-lat.1024 264 1700000000',
      'web01.cpu-lat.2048 474 1700000000',
      'web01.cpu-lat.4096 209 1700000000',
    ]);
  });

  it('with fill_zeros, adds a 0 for each bucket printed before and missing now', () => {
    const filled = carbon(true);
    const plain = carbon(false);
    assert.ok(filled.length > plain.length);
    for (const line of plain) assert.ok(filled.includes(line), line);
    // The 4th print of @usecs (at exit) starts at [8, 16): 0, 1, 2 and 4 come back as zeros.
    const last = filled.slice(-14);
    assert.deepEqual(last.slice(0, 5), [
      'web01.cpu-lat.0 0 1700000000',
      'web01.cpu-lat.1 0 1700000000',
      'web01.cpu-lat.2 0 1700000000',
      'web01.cpu-lat.4 0 1700000000',
      'web01.cpu-lat.8 2 1700000000',
    ]);
  });
});
