import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { GaugeMetric, Metric } from '../../core/metric.js';
import { makeTags } from '../../core/tags.js';
import { bytesOrTokens, parseLines, type Parsed } from '../../testing/line-parser.js';
import { encodeBatch } from './line.js';
import { parseInfluxLines, type InfluxRejectReason } from './parse.js';

const NOW = 1_700_000_000_000;

const parse = (text: string | Buffer): Parsed<InfluxRejectReason> => parseLines(parseInfluxLines, text, NOW);

describe('influx line protocol parser', () => {
  it('reads measurement, tags, every numeric field type and the timestamp', () => {
    const { metrics, rejected } = parse(
      'cpu,host=a,core=0 user=1.5,idle=2i,steal=3u,up=true,down=F,note="x y" 1700000000123456789\n',
    );
    assert.deepEqual(rejected, []);
    const tags = makeTags({ core: '0', host: 'a' });
    const g = (field: string, value: number): GaugeMetric => ({
      kind: 'gauge',
      name: `cpu.${field}`,
      tags,
      value,
      timestamp: 1_700_000_000_123,
      point: { measurement: 'cpu', field },
    });
    assert.deepEqual(metrics, [g('user', 1.5), g('idle', 2), g('steal', 3), g('up', 1), g('down', 0)]);
  });

  it('names a lone `value` field after the measurement, as line.ts writes a gauge', () => {
    assert.deepEqual(parse('load value=0.5').metrics, [
      { kind: 'gauge', name: 'load', tags: [], value: 0.5, timestamp: NOW },
    ]);
    assert.deepEqual(
      parse('load value=0.5,max=2').metrics.map((m) => [m.name, m.point]),
      [
        ['load', { measurement: 'load', field: 'value' }],
        ['load.max', { measurement: 'load', field: 'max' }],
      ],
    );
  });

  it('unescapes as InfluxDB does, keeping other backslashes', () => {
    const { metrics } = parse('my\\ meas\\,x\\=,k\\ 1=v\\,2\\=3 f\\=x=1,s="a \\"q\\" \\\\ b" 0');
    assert.deepEqual(metrics, [
      {
        kind: 'gauge',
        name: 'my meas,x\\=.f=x',
        tags: [['k 1', 'v,2=3']],
        value: 1,
        timestamp: 0,
        point: { measurement: 'my meas,x\\=', field: 'f=x' },
      },
    ]);
    assert.equal(parse('a\\b x=1').metrics[0]?.name, 'a\\b.x');
  });

  it('skips blank lines and comments, tolerates CRLF and surrounding blanks', () => {
    const { metrics, lines } = parse('\n# comment\n  m x=1  \r\n\r\n\tm y=2\n');
    assert.equal(lines, 2);
    assert.deepEqual(
      metrics.map((m) => m.name),
      ['m.x', 'm.y'],
    );
  });

  it('keeps the last of repeated fields', () => {
    assert.deepEqual(
      parse('m a=1,b=2,a=3').metrics.map((m) => [m.name, (m as GaugeMetric).value]),
      [
        ['m.b', 2],
        ['m.a', 3],
      ],
    );
  });

  const bad: [string, InfluxRejectReason][] = [
    [',t=1 x=1', 'missing_measurement'],
    ['m', 'missing_fields'],
    ['m,t=1', 'missing_fields'],
    ['m ', 'missing_fields'],
    ['m,t x=1', 'bad_tag'],
    ['m,=v x=1', 'bad_tag'],
    ['m,t= x=1', 'bad_tag'],
    ['m x', 'bad_field'],
    ['m =1', 'bad_field'],
    ['m x=1,', 'bad_field'],
    ['m x=1,,y=2', 'bad_field'],
    ['m x=', 'bad_value'],
    ['m x=abc', 'bad_value'],
    ['m x=1.5i', 'bad_value'],
    ['m x=-1u', 'bad_value'],
    ['m x=1e999', 'bad_value'],
    ['m x=NaN', 'bad_value'],
    ['m x="open', 'bad_value'],
    ['m x=1 12.5', 'bad_timestamp'],
    ['m x=1 1 2', 'bad_timestamp'],
    ['m x=1 99999999999999999999', 'bad_timestamp'],
    ['m x=1 9223372036854775808', 'bad_timestamp'],
    ['m s="only strings"', 'no_numeric_field'],
  ];
  for (const [line, reason] of bad) {
    it(`rejects ${JSON.stringify(line)} as ${reason}`, () => {
      const r = parse(line + '\n');
      assert.deepEqual(r.rejected, [[reason, line.trimEnd()]]);
      assert.deepEqual(r.metrics, []);
    });
  }

  it('rejects a line that is not UTF-8, keeping the lines around it', () => {
    const buf = Buffer.concat([
      Buffer.from('m x=1\nm y=\xff'),
      Buffer.from([0xff, 0x0a]),
      Buffer.from('m z=3\n'),
    ]);
    const r = parse(buf);
    assert.deepEqual(
      r.rejected.map((x) => x[0]),
      ['invalid_utf8'],
    );
    assert.deepEqual(
      r.metrics.map((m) => m.name),
      ['m.x', 'm.z'],
    );
  });

  it('property: any bytes give metrics or one rejection per line, and never throw', () => {
    const input = bytesOrTokens('ab=, "\\\n#.1-ei tuf'.split(''));
    fc.assert(
      fc.property(input, (buf) => {
        const r = parse(buf);
        assert.ok(r.rejected.length <= r.lines);
        for (const m of r.metrics) {
          assert.ok(Number.isFinite((m as GaugeMetric).value));
          assert.ok(m.name !== '');
        }
      }),
      { numRuns: 2000 },
    );
  });

  // Tokens line.ts writes back unchanged: no control characters, no trailing backslash, and
  // (for measurements) no leading `#`.
  const token = fc
    .array(fc.constantFrom(...'ab Z,=\\"é1_.'.split(''), 'x', '🙂'), { minLength: 1, maxLength: 8 })
    .map((a) => a.join(''))
    .filter((s) => !s.endsWith('\\'));
  const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => (v === 0 ? 0 : v));

  it('round trip: points encoded by line.ts parse back to the same metrics', () => {
    const point = fc.record({
      measurement: token.filter((s) => !s.startsWith('#')),
      tags: fc.dictionary(token, token, { maxKeys: 3 }),
      fields: fc.uniqueArray(fc.tuple(token, finite), {
        minLength: 1,
        maxLength: 4,
        selector: (f) => f[0],
      }),
      // Line protocol's range: int64 nanoseconds, up to 2262.
      timestamp: fc.integer({ min: 0, max: 9_223_372_036_854 }),
    });
    fc.assert(
      fc.property(fc.array(point, { maxLength: 5 }), (points) => {
        const perPoint: Metric[][] = points.map((p) => {
          const tags = makeTags(p.tags);
          const single = p.fields.length === 1 && p.fields[0]?.[0] === 'value';
          return p.fields.map(([field, value]): Metric => {
            const name = field === 'value' ? p.measurement : `${p.measurement}.${field}`;
            return single
              ? { kind: 'gauge', name, tags, value, timestamp: p.timestamp }
              : {
                  kind: 'gauge',
                  name,
                  tags,
                  value,
                  timestamp: p.timestamp,
                  point: { measurement: p.measurement, field },
                };
          });
        });
        // One point per line: line.ts would also merge two equal points that follow each other.
        const r = parse(perPoint.map((metrics) => encodeBatch(metrics).text).join(''));
        assert.deepEqual(r.rejected, []);
        assert.deepEqual(r.metrics, perPoint.flat());
      }),
      { numRuns: 500 },
    );
  });

  it('round trip: parsing what line.ts writes of parsed input gives the same metrics', () => {
    const alphabet = fc.constantFrom(...'ab=, "\\\n.1-eitf'.split(''), 'm x=1', ' 5', ',t=v');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 60 }), (parts) => {
        // Line by line: line.ts would merge two equal points that follow each other.
        for (const line of parts.join('').split('\n')) {
          const once = parse(line).metrics;
          const again = parse(encodeBatch(once).text).metrics;
          assert.deepEqual(again, once);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
