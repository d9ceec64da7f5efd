import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Tag } from '../../core/tags.js';
import { formatStatsdLine } from './format.js';
import {
  REJECT_REASONS,
  RejectionLog,
  STATSD_TYPE_CODES,
  StatsdParser,
  parseNumber,
  type RejectReason,
  type StatsdLine,
  type StatsdSink,
  type StatsdTypeCode,
} from './parser.js';

interface Parsed {
  name: string;
  type: StatsdTypeCode;
  value: number | string;
  rate: number;
  /** In line order, as written. */
  tags: Tag[];
}

class Recorder implements StatsdSink {
  points: Parsed[] = [];
  rejects: { reason: RejectReason; line: string }[] = [];
  point(l: StatsdLine): void {
    const tags = l.tagList();
    const type = STATSD_TYPE_CODES[l.type];
    this.points.push({
      name: l.name(),
      type,
      value: type === 's' ? l.member() : l.value,
      rate: l.sampleRate,
      tags,
    });
  }
  reject(reason: RejectReason, buf: Buffer, start: number, end: number): void {
    this.rejects.push({ reason, line: buf.toString('utf8', start, end) });
  }
}

function parse(input: string | Buffer): Recorder & { lines: number } {
  const r = new Recorder();
  const lines = new StatsdParser().parse(typeof input === 'string' ? Buffer.from(input) : input, r);
  return Object.assign(r, { lines });
}

const p = (
  name: string,
  type: StatsdTypeCode,
  value: number | string,
  rate = 1,
  tags: Tag[] = [],
): Parsed => ({
  name,
  type,
  value,
  rate,
  tags,
});

describe('StatsdParser: valid lines', () => {
  const cases: [string, Parsed][] = [
    ['a:1|c', p('a', 'c', 1)],
    ['a.b-c_d:42|c', p('a.b-c_d', 'c', 42)],
    ['a:-3|c', p('a', 'c', -3)],
    ['a:1.5|c|@0.5', p('a', 'c', 1.5, 0.5)],
    ['a:1|c|@1', p('a', 'c', 1, 1)],
    ['a:1|c|@1e-3', p('a', 'c', 1, 0.001)],
    ['g:3.25|g', p('g', 'g', 3.25)],
    ['g:+4|g', p('g', 'g', 4)],
    ['g:-4|g', p('g', 'g', -4)],
    ['t:320|ms', p('t', 'ms', 320)],
    ['t:320|ms|@0.1', p('t', 'ms', 320, 0.1)],
    ['h:0.25|h', p('h', 'h', 0.25)],
    ['u:alice|s', p('u', 's', 'alice')],
    ['u:1|s', p('u', 's', '1')],
    ['u:a:b|s', p('u', 's', 'a:b')],
    ['a:1e3|c', p('a', 'c', 1000)],
    ['a:1E-2|g', p('a', 'g', 0.01)],
    ['a:.5|g', p('a', 'g', 0.5)],
    ['a:5.|g', p('a', 'g', 5)],
    ['a:12345678901234567890|g', p('a', 'g', Number('12345678901234567890'))],
    ['a:0.1234567890123456789|g', p('a', 'g', Number('0.1234567890123456789'))],
    ['a:1|c|#env:prod', p('a', 'c', 1, 1, [['env', 'prod']])],
    ['a:1|c|#env=prod', p('a', 'c', 1, 1, [['env', 'prod']])],
    [
      'a:1|c|#b:2,a=1',
      p('a', 'c', 1, 1, [
        ['b', '2'],
        ['a', '1'],
      ]),
    ],
    ['a:1|c|#url:http://x:80/y', p('a', 'c', 1, 1, [['url', 'http://x:80/y']])],
    ['a:1|c|#k=v=w', p('a', 'c', 1, 1, [['k', 'v=w']])],
    ['a:1|c|#k:', p('a', 'c', 1, 1, [['k', '']])],
    ['a:1|c|#novalue', p('a', 'c', 1, 1, [['novalue', '']])],
    [
      'a:1|c|#a:1,,b:2,',
      p('a', 'c', 1, 1, [
        ['a', '1'],
        ['b', '2'],
      ]),
    ],
    ['a:1|c|#', p('a', 'c', 1)],
    ['a:1|c|@0.5|#x:y', p('a', 'c', 1, 0.5, [['x', 'y']])],
    ['a:1|c|#x:y|@0.5', p('a', 'c', 1, 0.5, [['x', 'y']])],
    ['a:1|c|#x:1|#y:2', p('a', 'c', 1, 1, [['y', '2']])],
    // Fields of the full protocol, skipped for now.
    ['a:1|c|T1656581400|#x:y', p('a', 'c', 1, 1, [['x', 'y']])],
    ['a:1|c|#x:y|c:abc123', p('a', 'c', 1, 1, [['x', 'y']])],
    ['a:1|c||', p('a', 'c', 1)],
    ['a:1|c\r', p('a', 'c', 1)],
    ['név:1|c|#ключ:значение', p('név', 'c', 1, 1, [['ключ', 'значение']])],
    ['a b:1|c', p('a b', 'c', 1)],
  ];
  for (const [input, expected] of cases) {
    it(JSON.stringify(input), () => {
      const r = parse(input);
      assert.deepEqual(r.rejects, []);
      assert.deepEqual(r.points, [expected]);
      assert.equal(r.lines, 1);
    });
  }

  it('parses every line of a datagram, tolerating CRLF and skipping empty lines', () => {
    const r = parse('a:1|c\n\nb:2|g\r\n\r\nc:3|ms\n');
    assert.deepEqual(
      r.points.map((x) => x.name),
      ['a', 'b', 'c'],
    );
    assert.equal(r.lines, 3);
  });

  it('keeps the valid lines of a datagram that also holds invalid ones', () => {
    const r = parse('a:1|c\nbroken\nb:2|c\n:3|c\nc:3|c');
    assert.deepEqual(
      r.points.map((x) => x.name),
      ['a', 'b', 'c'],
    );
    assert.deepEqual(
      r.rejects.map((x) => x.reason),
      ['missing_value', 'empty_name'],
    );
    assert.equal(r.lines, 5);
  });

  it('grows past 16 tags on one line', () => {
    const tags: Tag[] = [];
    for (let i = 0; i < 40; i++) tags.push([`k${i}`, `v${i}`]);
    const r = parse(`m:1|c|#${tags.map(([k, v]) => `${k}:${v}`).join(',')}`);
    assert.deepEqual(r.points[0]?.tags, tags);
  });

  it('canonicalises tags: sorted, last value of a repeated key wins', () => {
    const seen: string[] = [];
    new StatsdParser().parse(Buffer.from('m:1|c|#b:2,a:1,b:3'), {
      point: (l) => seen.push(JSON.stringify(l.tags())),
      reject: () => assert.fail('rejected'),
    });
    assert.deepEqual(seen, [
      JSON.stringify([
        ['a', '1'],
        ['b', '3'],
      ]),
    ]);
  });

  it('does not throw on invalid UTF-8 and keeps the bytes apart', () => {
    const buf = Buffer.concat([
      Buffer.from('a'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(':1|c|#k:'),
      Buffer.from([0xc3]),
      Buffer.from('\n'),
    ]);
    const keys: string[] = [];
    const r = new Recorder();
    new StatsdParser().parse(buf, {
      point: (l) => {
        keys.push(l.keyBytes().toString('hex'));
        r.point(l);
      },
      reject: (...a) => r.reject(...a),
    });
    assert.equal(r.points.length, 1);
    assert.equal(r.points[0]?.name, 'a\ufffd\ufffd');
    assert.deepEqual(r.points[0]?.tags, [['k', '\ufffd']]);
    assert.equal(keys[0], '61fffe6b3ac3');
  });
});

describe('StatsdParser: rejections', () => {
  const cases: [string, RejectReason][] = [
    [':1|c', 'empty_name'],
    ['noval', 'missing_value'],
    ['a:|c', 'missing_value'],
    ['a|c', 'missing_value'],
    ['a:1', 'missing_type'],
    ['a:1|', 'missing_type'],
    ['a:1||c', 'missing_type'],
    ['a:x|c', 'bad_value'],
    ['a:1x|c', 'bad_value'],
    ['a:0x10|g', 'bad_value'],
    ['a:-|g', 'bad_value'],
    ['a:.|g', 'bad_value'],
    ['a:1..2|g', 'bad_value'],
    ['a: 1|g', 'bad_value'],
    ['a:NaN|g', 'bad_value'],
    ['a:Infinity|g', 'bad_value'],
    ['a:1e999|g', 'bad_value'],
    ['a:1e|g', 'bad_value'],
    ['a:1|d', 'unknown_type'],
    ['a:1|x', 'unknown_type'],
    ['a:1|cc', 'unknown_type'],
    ['a:1|msx', 'unknown_type'],
    ['a:1|c |#x', 'unknown_type'],
    ['a:1|c|@0', 'bad_sample_rate'],
    ['a:1|c|@1.5', 'bad_sample_rate'],
    ['a:1|c|@-0.5', 'bad_sample_rate'],
    ['a:1|c|@', 'bad_sample_rate'],
    ['a:1|c|@x', 'bad_sample_rate'],
    ['a:1|c|#:v', 'bad_tags'],
    ['a:1|c|#a:1,=v', 'bad_tags'],
    ['_e{5,4}:title|text', 'unsupported_event'],
    ['_sc|check|0', 'unsupported_service_check'],
  ];
  for (const [input, reason] of cases) {
    it(`${JSON.stringify(input)} → ${reason}`, () => {
      const r = parse(input);
      assert.deepEqual(r.points, []);
      assert.deepEqual(r.rejects, [{ reason, line: input }]);
    });
  }

  it('covers every reason', () => {
    assert.deepEqual(new Set(cases.map((c) => c[1])), new Set(REJECT_REASONS));
  });

  it('treats names merely starting with an underscore as metrics', () => {
    assert.deepEqual(parse('_e:1|c\n_sc:1|c').points.length, 2);
  });
});

describe('parseNumber', () => {
  it('agrees with Number() on decimal text', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (v) => {
        for (const text of [String(v), v.toFixed(3), v.toPrecision(17)]) {
          const expected = Number(text);
          assert.equal(
            parseNumber(Buffer.from(text), 0, text.length),
            Number.isFinite(expected) ? expected : NaN,
          );
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with Number() on short digit strings', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[+-]?\d{0,17}(\.\d{0,25})?$/), (text) => {
        const expected = text === '' ? NaN : Number(text);
        assert.equal(parseNumber(Buffer.from(text), 0, text.length), expected, text);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('StatsdParser: properties', () => {
  const count = (input: Buffer): void => {
    let points = 0;
    let rejects = 0;
    const lines = new StatsdParser().parse(input, {
      point: (l) => {
        points++;
        // The accessors must not throw either.
        l.name();
        l.tags();
        l.keyBytes();
        l.text();
        if (l.type === 4) l.member();
        else assert.ok(Number.isFinite(l.value));
        assert.ok(l.sampleRate > 0 && l.sampleRate <= 1);
      },
      reject: () => {
        rejects++;
      },
    });
    assert.equal(points + rejects, lines);
  };

  it('never throws on arbitrary bytes; every line is a point or a counted rejection', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => count(Buffer.from(bytes))),
      { numRuns: 3000 },
    );
  });

  it('never throws on near-valid input', () => {
    const piece = fc.constantFrom(
      'a',
      'b.c',
      ':',
      '|',
      '#',
      '@',
      ',',
      '=',
      '\n',
      '\r',
      'c',
      'g',
      'ms',
      'h',
      's',
      'd',
      '1',
      '0.5',
      '-',
      '.',
      'e5',
      '_e{',
      '_sc|',
      '\u00e9',
      '\uffff',
      '\ud800',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => count(Buffer.from(pieces.join('')))),
      { numRuns: 3000 },
    );
  });

  const nameArb = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 20 })
    .filter((s) => !/[:|\n\r]/.test(s) && !s.startsWith('_e{'));
  const keyArb = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 10 })
    .filter((s) => !/[:=,|\n\r]/.test(s));
  const valueArb = fc.string({ unit: 'grapheme', maxLength: 10 }).filter((s) => !/[,|\n\r]/.test(s));
  const memberArb = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 10 })
    .filter((s) => !/[|\n\r]/.test(s));
  const rateArb = fc.oneof(
    fc.constant(1),
    fc.double({ min: Number.MIN_VALUE, max: 1, noNaN: true }),
    fc.constantFrom(0.1, 0.5, 0.25, 0.001),
  );

  it('hashes a series alike wherever its line sits and whatever fields follow', () => {
    const hashOf = (datagram: string): number[] => {
      const out: number[] = [];
      new StatsdParser().parse(Buffer.from(datagram), {
        point: (l) => out.push(l.keyHash),
        reject: () => assert.fail('rejected'),
      });
      return out;
    };
    fc.assert(
      fc.property(
        nameArb,
        fc.array(fc.tuple(keyArb, valueArb), { maxLength: 5 }),
        fc.string({ unit: 'grapheme-ascii', maxLength: 7 }).map((s) => s.replace(/[:|\n\r]/g, '') || 'p'),
        fc.constantFrom('', '|T123', '|c:abc', '|@0.5', '|T1|c:container-id-1234'),
        (name, tags, prefix, suffix) => {
          const line = formatStatsdLine({ name, type: 'c', value: 1, tags }) as string;
          const [alone] = hashOf(line);
          const [, shifted] = hashOf(`${prefix}:1|c\n${line}${suffix}`);
          assert.equal(shifted, alone);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('round-trips formatStatsdLine losslessly', () => {
    fc.assert(
      fc.property(
        nameArb,
        fc.constantFrom(...STATSD_TYPE_CODES),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        memberArb,
        rateArb,
        fc.array(fc.tuple(keyArb, valueArb), { maxLength: 5 }),
        (name, type, num, member, rate, tags) => {
          const value = type === 's' ? member : num;
          const line = formatStatsdLine({ name, type, value, sampleRate: rate, tags });
          assert.ok(line !== undefined);
          const r = parse(line);
          assert.deepEqual(r.rejects, []);
          assert.equal(r.points.length, 1);
          const got = r.points[0] as Parsed;
          assert.equal(got.name, name);
          assert.equal(got.type, type);
          // -0 is written as "0".
          assert.equal(got.value, typeof value === 'number' && value === 0 ? 0 : value);
          assert.equal(got.rate, rate);
          assert.deepEqual(got.tags, tags);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('RejectionLog', () => {
  it('counts by reason and keeps the last lines, truncated', () => {
    const log = new RejectionLog(3, 8);
    const rec = (reason: RejectReason, text: string): void => {
      const b = Buffer.from(text);
      log.record(reason, b, 0, b.length);
    };
    rec('bad_value', 'one');
    assert.deepEqual(log.recent(), [{ reason: 'bad_value', line: 'one' }]);
    rec('bad_value', 'two');
    rec('bad_tags', 'three');
    rec('empty_name', ':a-very-long-line|c');
    assert.deepEqual(log.recent(), [
      { reason: 'bad_value', line: 'two' },
      { reason: 'bad_tags', line: 'three' },
      { reason: 'empty_name', line: ':a-very-…' },
    ]);
    assert.equal(log.counts.bad_value, 2);
    assert.equal(log.counts.empty_name, 1);
    assert.equal(log.counts.missing_type, 0);
    assert.equal(log.total, 4);
  });

  it('cuts multi-byte characters without throwing', () => {
    const log = new RejectionLog(2, 3);
    const b = Buffer.from('ééé');
    log.record('bad_value', b, 0, b.length);
    assert.equal(log.recent()[0]?.line, 'é\ufffd…');
  });
});
