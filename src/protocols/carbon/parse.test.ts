import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { GaugeMetric, Metric } from '../../core/metric.js';
import { makeTags } from '../../core/tags.js';
import { bytesOrTokens, parseLines, type Parsed } from '../../testing/line-parser.js';
import { parseCarbonLines, type CarbonRejectReason } from './parse.js';
import { CarbonEncoder } from './plaintext.js';
import { compileTemplate, type Template } from './template.js';

const NOW = 1_700_000_000_000;

const parse = (text: string | Buffer): Parsed<CarbonRejectReason> => parseLines(parseCarbonLines, text, NOW);

describe('carbon plaintext parser', () => {
  it('reads path, value and timestamp; a line without a timestamp takes now', () => {
    const { metrics, rejected, lines } = parse(
      'a.b.c 1.5 1700000100\nd.e -2\n\n  f\t3e3   1700000100.250 \r\n',
    );
    assert.deepEqual(rejected, []);
    assert.equal(lines, 3);
    assert.deepEqual(metrics, [
      { kind: 'gauge', name: 'a.b.c', tags: [], value: 1.5, timestamp: 1_700_000_100_000 },
      { kind: 'gauge', name: 'd.e', tags: [], value: -2, timestamp: NOW },
      { kind: 'gauge', name: 'f', tags: [], value: 3000, timestamp: 1_700_000_100_250 },
    ]);
  });

  it('reads Graphite 1.1 tags, sorted, a value keeping any further `=`', () => {
    assert.deepEqual(parse('disk.used;mount=/var;dc=eu;q=a=b 10 1700000000').metrics, [
      {
        kind: 'gauge',
        name: 'disk.used',
        tags: makeTags({ dc: 'eu', mount: '/var', q: 'a=b' }),
        value: 10,
        timestamp: 1_700_000_000_000,
      },
    ]);
  });

  const bad: [string, CarbonRejectReason][] = [
    ['lonely', 'bad_line'],
    ['a 1 2 3', 'bad_line'],
    ['a one', 'bad_value'],
    ['a NaN', 'bad_value'],
    ['a inf', 'bad_value'],
    ['a 1e999', 'bad_value'],
    ['a 0x10', 'bad_value'],
    ['a 1 yesterday', 'bad_timestamp'],
    ['a 1 -5', 'bad_timestamp'],
    ['a 1 1e300', 'bad_timestamp'],
    [';x=y 1', 'bad_path'],
    ['a;x 1', 'bad_tag'],
    ['a;=y 1', 'bad_tag'],
    ['a;x= 1', 'bad_tag'],
    ['a;x=y; 1', 'bad_tag'],
  ];
  for (const [line, reason] of bad) {
    it(`rejects ${JSON.stringify(line)} as ${reason}`, () => {
      const r = parse(line + '\n');
      assert.deepEqual(r.rejected, [[reason, line]]);
      assert.deepEqual(r.metrics, []);
    });
  }

  it('rejects a line that is not UTF-8, keeping the others', () => {
    const r = parse(
      Buffer.concat([Buffer.from('a 1\nb'), Buffer.from([0xc3, 0x28]), Buffer.from(' 2\nc 3\n')]),
    );
    assert.deepEqual(
      r.rejected.map((x) => x[0]),
      ['invalid_utf8'],
    );
    assert.deepEqual(
      r.metrics.map((m) => m.name),
      ['a', 'c'],
    );
  });

  it('property: any bytes give one gauge or one rejection per non-blank line, and never throw', () => {
    const input = bytesOrTokens('ab. ;=\t1-e\n'.split(''));
    fc.assert(
      fc.property(input, (buf) => {
        const r = parse(buf);
        assert.equal(r.metrics.length + r.rejected.length, r.lines);
        for (const m of r.metrics) assert.ok(Number.isFinite((m as GaugeMetric).value));
      }),
      { numRuns: 2000 },
    );
  });

  it('round trip: gauges written by the tagged-series encoder parse back unchanged', () => {
    const template = compileTemplate('{name}') as Template;
    const encoder = new CarbonEncoder(template, 'tagged');
    const node = fc.stringMatching(/^[a-zA-Z0-9_:~+-]{1,8}$/);
    const gauge = fc.record({
      name: fc.array(node, { minLength: 1, maxLength: 4 }).map((a) => a.join('.')),
      tags: fc.dictionary(
        fc.stringMatching(/^[a-z][a-z0-9_.]{0,6}$/).filter((k) => k !== 'name'),
        fc.stringMatching(/^[a-zA-Z0-9_.=:/-]{1,8}$/),
        { maxKeys: 3 },
      ),
      value: fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => (v === 0 ? 0 : v)),
      seconds: fc.integer({ min: 0, max: 8_000_000_000 }),
    });
    fc.assert(
      fc.property(fc.array(gauge, { maxLength: 5 }), (gauges) => {
        const metrics: Metric[] = gauges.map((g) => ({
          kind: 'gauge',
          name: g.name,
          tags: makeTags(g.tags),
          value: g.value,
          timestamp: g.seconds * 1000,
        }));
        const text = metrics.map((m) => encoder.encode(m) ?? '').join('');
        const r = parse(text);
        assert.deepEqual(r.rejected, []);
        assert.deepEqual(r.metrics, metrics);
      }),
      { numRuns: 1000 },
    );
  });
});
