import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Event } from '../../core/event.js';
import type { Tag } from '../../core/tags.js';
import { formatStatsdEvent, formatStatsdLine, formatStatsdServiceCheck } from './format.js';
import {
  REJECT_REASONS,
  REPAIR_REASONS,
  RejectionLog,
  STATSD_DIALECTS,
  STATSD_MODES,
  STATSD_TYPE_CODES,
  StatsdParser,
  parseNumber,
  repairReasons,
  type RejectReason,
  type RepairReason,
  type StatsdDialect,
  type StatsdLine,
  type StatsdParserOptions,
  type StatsdSink,
  type StatsdTypeCode,
} from './parser.js';

/** 2022-06-30T09:30:00Z, the example timestamp of the DogStatsD docs. */
const NOW = 1656581400_000;

interface Parsed {
  name: string;
  type: StatsdTypeCode;
  value: number | string;
  rate: number;
  /** In line order, as decoded by tagList. */
  tags: Tag[];
  delta?: true;
  timestamp?: number;
  bucket?: string;
  repairs?: RepairReason[];
}

class Recorder implements StatsdSink {
  points: Parsed[] = [];
  rejects: { reason: RejectReason; line: string }[] = [];
  events: { event: Event; repairs: RepairReason[] }[] = [];
  point(l: StatsdLine): void {
    const type = STATSD_TYPE_CODES[l.type];
    const p: Parsed = {
      name: l.name(),
      type,
      value: type === 's' ? l.member() : l.value,
      rate: l.sampleRate,
      tags: l.tagList(),
    };
    if (l.gaugeDelta) p.delta = true;
    if (l.timestamp !== 0) p.timestamp = l.timestamp;
    const bucket = l.bucket();
    if (bucket !== undefined) p.bucket = bucket;
    if (l.repairs !== 0) p.repairs = repairReasons(l.repairs);
    this.points.push(p);
  }
  reject(reason: RejectReason, buf: Buffer, start: number, end: number): void {
    this.rejects.push({ reason, line: buf.toString('utf8', start, end) });
  }
  event(event: Event, repairs: number): void {
    this.events.push({ event, repairs: repairReasons(repairs) });
  }
}

function parse(input: string | Buffer, options: StatsdParserOptions = {}): Recorder & { lines: number } {
  const r = new Recorder();
  const parser = new StatsdParser({ now: () => NOW, ...options });
  const lines = parser.parse(typeof input === 'string' ? Buffer.from(input) : input, r);
  return Object.assign(r, { lines });
}

const p = (
  name: string,
  type: StatsdTypeCode,
  value: number | string,
  rate = 1,
  tags: Tag[] = [],
  extra: Partial<Parsed> = {},
): Parsed => ({ name, type, value, rate, tags, ...extra });

describe('StatsdParser: valid lines (dogstatsd)', () => {
  const cases: [string, Parsed[]][] = [
    ['a:1|c', [p('a', 'c', 1)]],
    ['a.b-c_d:42|c', [p('a.b-c_d', 'c', 42)]],
    ['a:-3|c', [p('a', 'c', -3)]],
    ['a:1.5|c|@0.5', [p('a', 'c', 1.5, 0.5)]],
    ['a:1|c|@1', [p('a', 'c', 1, 1)]],
    ['a:1|c|@1e-3', [p('a', 'c', 1, 0.001)]],
    ['g:3.25|g', [p('g', 'g', 3.25)]],
    ['g:+4|g', [p('g', 'g', 4)]],
    ['g:-4|g', [p('g', 'g', -4)]],
    ['t:320|ms', [p('t', 'ms', 320)]],
    ['t:320|ms|@0.1', [p('t', 'ms', 320, 0.1)]],
    ['h:0.25|h', [p('h', 'h', 0.25)]],
    ['d:12.5|d', [p('d', 'd', 12.5)]],
    ['d:1:2:3|d', [p('d', 'd', 1), p('d', 'd', 2), p('d', 'd', 3)]],
    ['c:1:2|c|@0.5', [p('c', 'c', 1, 0.5), p('c', 'c', 2, 0.5)]],
    ['g:1:2|g', [p('g', 'g', 1), p('g', 'g', 2)]],
    ['u:alice|s', [p('u', 's', 'alice')]],
    ['u:1|s', [p('u', 's', '1')]],
    ['u:a:b|s', [p('u', 's', 'a:b')]],
    ['a:1e3|c', [p('a', 'c', 1000)]],
    ['a:1E-2|g', [p('a', 'g', 0.01)]],
    ['a:.5|g', [p('a', 'g', 0.5)]],
    ['a:5.|g', [p('a', 'g', 5)]],
    ['a:12345678901234567890|g', [p('a', 'g', Number('12345678901234567890'))]],
    ['a:0.1234567890123456789|g', [p('a', 'g', Number('0.1234567890123456789'))]],
    ['a:1|c|#env:prod', [p('a', 'c', 1, 1, [['env', 'prod']])]],
    ['a:1|c|#env=prod', [p('a', 'c', 1, 1, [['env', 'prod']])]],
    [
      'a:1|c|#b:2,a=1',
      [
        p('a', 'c', 1, 1, [
          ['b', '2'],
          ['a', '1'],
        ]),
      ],
    ],
    ['a:1|c|#url:http://x:80/y', [p('a', 'c', 1, 1, [['url', 'http://x:80/y']])]],
    ['a:1|c|#k=v=w', [p('a', 'c', 1, 1, [['k', 'v=w']])]],
    ['a:1|c|#k:', [p('a', 'c', 1, 1, [['k', '']])]],
    ['a:1|c|#novalue', [p('a', 'c', 1, 1, [['novalue', '']])]],
    // DogStatsD has no escapes: a backslash is a character like any other.
    ['a:1|c|#path:C:\\x', [p('a', 'c', 1, 1, [['path', 'C:\\x']])]],
    [
      'a:1|c|#a:1,,b:2,',
      [
        p('a', 'c', 1, 1, [
          ['a', '1'],
          ['b', '2'],
        ]),
      ],
    ],
    ['a:1|c|#', [p('a', 'c', 1)]],
    ['a:1|c|@0.5|#x:y', [p('a', 'c', 1, 0.5, [['x', 'y']])]],
    ['a:1|c|#x:y|@0.5', [p('a', 'c', 1, 0.5, [['x', 'y']])]],
    ['a:1|c|#x:1|#y:2', [p('a', 'c', 1, 1, [['y', '2']])]],
    ['a:1|c|T1656581400|#x:y', [p('a', 'c', 1, 1, [['x', 'y']], { timestamp: NOW })]],
    ['a:1|g|T1656581000', [p('a', 'g', 1, 1, [], { timestamp: NOW - 400_000 })]],
    [
      'a:1|c|#x:y|c:abc123',
      [
        p('a', 'c', 1, 1, [
          ['x', 'y'],
          ['container_id', 'abc123'],
        ]),
      ],
    ],
    ['a:1|c|e:it-false,cn-x|card:high', [p('a', 'c', 1)]],
    ['a:1|c\r', [p('a', 'c', 1)]],
    ['név:1|c|#ключ:значение', [p('név', 'c', 1, 1, [['ключ', 'значение']])]],
    ['a b:1|c', [p('a b', 'c', 1)]],
    ['_e:1|c', [p('_e', 'c', 1)]],
    ['_sc:1|c', [p('_sc', 'c', 1)]],
  ];
  for (const [input, expected] of cases) {
    it(JSON.stringify(input), () => {
      const r = parse(input);
      assert.deepEqual(r.rejects, []);
      assert.deepEqual(r.points, expected);
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

  it('grows past 16 tags on one line and past 16 values', () => {
    const tags: Tag[] = [];
    for (let i = 0; i < 40; i++) tags.push([`k${i}`, `v${i}`]);
    const r = parse(`m:1|c|#${tags.map(([k, v]) => `${k}:${v}`).join(',')}`);
    assert.deepEqual(r.points[0]?.tags, tags);
    const values = Array.from({ length: 100 }, (_, i) => i);
    assert.deepEqual(
      parse(`d:${values.join(':')}|d`).points.map((x) => x.value),
      values,
    );
  });

  it('marks later values of a packed line as the same series', () => {
    const same: boolean[] = [];
    new StatsdParser().parse(Buffer.from('d:1:2:3|d\nd:4|d'), {
      point: (l) => same.push(l.sameSeries),
      reject: () => assert.fail('rejected'),
    });
    assert.deepEqual(same, [false, true, true, false]);
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
});

describe('StatsdParser: invalid UTF-8', () => {
  const bytes = Buffer.concat([
    Buffer.from('a'),
    Buffer.from([0xff, 0xfe]),
    Buffer.from(':1|c|#k:'),
    Buffer.from([0xc3]),
  ]);

  it('replaces invalid bytes with U+FFFD in lenient mode, counted, and keeps the bytes apart', () => {
    const keys: string[] = [];
    const r = new Recorder();
    new StatsdParser().parse(bytes, {
      point: (l) => {
        keys.push(l.keyBytes().toString('hex'));
        r.point(l);
      },
      reject: (...a) => r.reject(...a),
    });
    assert.equal(r.points.length, 1);
    assert.equal(r.points[0]?.name, 'a\ufffd\ufffd');
    assert.deepEqual(r.points[0]?.tags, [['k', '\ufffd']]);
    assert.deepEqual(r.points[0]?.repairs, ['invalid_utf8_replaced']);
    assert.equal(keys[0], '61fffe6b3ac3');
  });

  it('rejects the line in strict mode and in the bucky dialect (Bucky3 drops what does not decode)', () => {
    assert.deepEqual(
      parse(bytes, { mode: 'strict' }).rejects.map((x) => x.reason),
      ['invalid_utf8'],
    );
    assert.deepEqual(
      parse(bytes, { dialect: 'bucky' }).rejects.map((x) => x.reason),
      ['invalid_utf8'],
    );
  });

  it('accepts valid multi-byte text without a repair', () => {
    assert.equal(parse('é:1|c|#k:ü').points[0]?.repairs, undefined);
  });
});

describe('StatsdParser: rejections', () => {
  // [input, reason, options]; every reason but the aggregator's (type_conflict, series_limit) appears.
  const cases: [string, RejectReason, StatsdParserOptions?][] = [
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
    ['a:1:x|d', 'bad_value'],
    ['a::|d', 'bad_value'],
    ['a:1|dd', 'unknown_type'],
    ['a:1|x', 'unknown_type'],
    ['a:1|cc', 'unknown_type'],
    ['a:1|msx', 'unknown_type'],
    ['a:1|c |#x', 'unknown_type'],
    ['a:1|c|@', 'bad_sample_rate'],
    ['a:1|c|@x', 'bad_sample_rate'],
    ['a:1|c|#:v', 'bad_tags', { mode: 'strict' }],
    ['a:1|c|#k', 'bad_tags', { dialect: 'bucky' }],
    ['a:1|c|x', 'unknown_field', { mode: 'strict' }],
    ['a:1|c|x|y', 'unknown_field', { dialect: 'bucky' }],
    ['a:1|c|Tabc', 'bad_timestamp'],
    ['a:1|c|T0', 'bad_timestamp'],
    ['a:1|c|T1.5', 'bad_timestamp'],
    ['a:1|c|#timestamp=x', 'bad_timestamp', { dialect: 'bucky' }],
    ['a:1|c|T1656580000', 'timestamp_out_of_window'],
    ['a:1|c|#timestamp=1656582100', 'timestamp_out_of_window', { dialect: 'bucky' }],
    ['a:1|ms|T1656581400', 'timestamp_unsupported'],
    ['a:1|d|T1656581400', 'timestamp_unsupported'],
    [
      Buffer.from([0x61, 0xff, 0x3a, 0x31, 0x7c, 0x63]).toString('latin1'),
      'invalid_utf8',
      { mode: 'strict' },
    ],
    ['_e{5,4}:title|tex', 'bad_event'],
    ['_e{0,4}:|text', 'bad_event'],
    ['_e{5}:title', 'bad_event'],
    ['_e{5,4}title|text', 'bad_event'],
    ['_e{5,4}:title|text|p:urgent', 'bad_event', { mode: 'strict' }],
    ['_sc|check|7', 'bad_service_check'],
    ['_sc||0', 'bad_service_check'],
    ['_sc|check', 'bad_service_check'],
    ['_sc|check|0|d:soon', 'bad_service_check', { mode: 'strict' }],
  ];
  for (const [input, reason, options] of cases) {
    it(`${JSON.stringify(input)} → ${reason}${options ? ` ${JSON.stringify(options)}` : ''}`, () => {
      const buf = Buffer.from(input, input.includes('\u00ff') ? 'latin1' : 'utf8');
      const r = parse(buf, options);
      assert.deepEqual(r.points, []);
      assert.deepEqual(r.events, []);
      assert.deepEqual(
        r.rejects.map((x) => x.reason),
        [reason],
      );
    });
  }

  it("covers every reason but the aggregator's", () => {
    assert.deepEqual(
      new Set(cases.map((c) => c[1])),
      new Set(REJECT_REASONS.filter((r) => r !== 'type_conflict' && r !== 'series_limit')),
    );
  });
});

describe('StatsdParser: lenient repairs, strict rejections', () => {
  // [input, dialect, repair in lenient mode, reason in strict mode]
  const cases: [string, StatsdDialect, RepairReason, RejectReason][] = [
    ['a:1|c|@0', 'dogstatsd', 'sample_rate_clamped', 'bad_sample_rate'],
    ['a:1|c|@2', 'etsy', 'sample_rate_clamped', 'bad_sample_rate'],
    ['a:1|c|x', 'dogstatsd', 'field_ignored', 'unknown_field'],
    ['a:1|c|@0.5|x', 'etsy', 'field_ignored', 'unknown_field'],
    ['a:1|g|@x', 'bucky', 'field_ignored', 'bad_sample_rate'],
    ['a:1::2|d', 'dogstatsd', 'empty_value_skipped', 'bad_value'],
    ['a:1|c|#:v,k:w', 'dogstatsd', 'tag_ignored', 'bad_tags'],
    ['a\u00ff:1|c', 'etsy', 'invalid_utf8_replaced', 'invalid_utf8'],
    ['a:1|d', 'etsy', 'unknown_type_as_counter', 'unknown_type'],
    ['a:1|x', 'bucky', 'unknown_type_as_counter', 'unknown_type'],
  ];
  for (const [input, dialect, repair, reason] of cases) {
    it(`${JSON.stringify(input)} (${dialect}): ${repair} / ${reason}`, () => {
      const buf = Buffer.from(input, input.includes('\u00ff') ? 'latin1' : 'utf8');
      const lenient = parse(buf, { dialect });
      assert.deepEqual(lenient.rejects, []);
      assert.ok(lenient.points.length > 0);
      for (const pt of lenient.points) assert.deepEqual(pt.repairs, [repair]);
      const strict = parse(buf, { dialect, mode: 'strict' });
      assert.deepEqual(strict.points, []);
      assert.deepEqual(
        strict.rejects.map((x) => x.reason),
        [reason],
      );
    });
  }

  it('repairs events: an unknown priority is ignored, as DogStatsD does', () => {
    const r = parse('_e{1,1}:a|b|p:urgent|t:error');
    assert.deepEqual(r.events[0]?.repairs, ['event_field_ignored']);
    assert.equal((r.events[0]?.event as { alertType?: string }).alertType, 'error');
  });

  it('reads event lengths counted in UTF-16 code units (hot-shots) when bytes do not fit', () => {
    const r = parse('_e{3,2}:été|né|#k:v');
    assert.deepEqual(r.rejects, []);
    assert.deepEqual(r.events[0]?.repairs, ['event_length_in_characters']);
    assert.equal((r.events[0]?.event as { title: string }).title, 'été');
    assert.equal((r.events[0]?.event as { text: string }).text, 'né');
    assert.deepEqual(parse('_e{3,2}:été|né', { mode: 'strict' }).rejects[0]?.reason, 'bad_event');
  });

  it('covers every repair reason', () => {
    assert.deepEqual(
      new Set([...cases.map((c) => c[2]), 'event_field_ignored', 'event_length_in_characters']),
      new Set(REPAIR_REASONS),
    );
  });
});

describe('StatsdParser: etsy dialect', () => {
  const etsy = { dialect: 'etsy' } as const;
  it('splits multi-metric lines into samples with their own types and rates', () => {
    const r = parse('a:1|c:2|c|@0.5:3|ms|#k:v', etsy);
    assert.deepEqual(r.rejects, []);
    assert.deepEqual(r.points, [
      p('a', 'c', 1, 1, [['k', 'v']]),
      p('a', 'c', 2, 0.5, [['k', 'v']]),
      p('a', 'ms', 3, 1, [['k', 'v']]),
    ]);
  });

  it('rejects a bad sample and keeps the others, as stats.js counts bad lines per sample', () => {
    const r = parse('a:1:2|c', etsy);
    assert.deepEqual(r.points, [p('a', 'c', 2)]);
    assert.deepEqual(
      r.rejects.map((x) => x.reason),
      ['missing_type'],
    );
  });

  it('treats signed gauges as deltas and rejects negative timers', () => {
    assert.deepEqual(parse('g:+5|g', etsy).points, [p('g', 'g', 5, 1, [], { delta: true })]);
    assert.deepEqual(parse('g:-5|g', etsy).points, [p('g', 'g', -5, 1, [], { delta: true })]);
    assert.deepEqual(
      parse('t:-1|ms', etsy).rejects.map((x) => x.reason),
      ['bad_value'],
    );
  });

  it('requires the third field to be a sample rate', () => {
    assert.deepEqual(
      parse('a:1|c|T1656581400', etsy).rejects.map((x) => x.reason),
      ['bad_sample_rate'],
    );
    assert.deepEqual(
      parse('a:1|c|@-1', etsy).rejects.map((x) => x.reason),
      ['bad_sample_rate'],
    );
  });
});

describe('StatsdParser: bucky dialect', () => {
  const bucky = { dialect: 'bucky' } as const;
  it('reads escapes in tag values and everything after |# as tags', () => {
    const r = parse('a:1|c|#k=a\\,b\\\\c\\nd,x=1|2', bucky);
    assert.deepEqual(r.points, [
      p('a', 'c', 1, 1, [
        ['k', 'a,b\\c\nd'],
        ['x', '1|2'],
      ]),
    ]);
  });

  it('takes timestamp= and bucket= out of the tags', () => {
    const r = parse('a:1|c|#timestamp=1656581300,bucket=api,k=v', bucky);
    assert.deepEqual(r.points, [
      p('a', 'c', 1, 1, [['k', 'v']], { timestamp: NOW - 100_000, bucket: 'api' }),
    ]);
    // Milliseconds above 2^31.
    assert.equal(parse('a:1|c|#timestamp=1656581300500', bucky).points[0]?.timestamp, NOW - 99_500);
  });

  it('ignores the sample rate of non-counters, as Bucky3 does', () => {
    assert.deepEqual(parse('t:5|ms|@0.5', bucky).points, [p('t', 'ms', 5)]);
    assert.deepEqual(parse('c:5|c|@0.5', bucky).points, [p('c', 'c', 5, 0.5)]);
  });

  it('rejects packed values, valueless tags, empty items and two extra fields', () => {
    for (const [line, reason] of [
      ['a:1:2|c', 'bad_value'],
      ['a:1|c|#k', 'bad_tags'],
      ['a:1|c|#a=1,,b=2', 'bad_tags'],
      ['a:1|c|#,', 'bad_tags'],
      ['a:1|c|@0.5|x', 'unknown_field'],
      ['a:1|#k=v', 'missing_type'],
      ['a:1|c|#bucket=', 'bad_tags'],
    ] as const) {
      assert.deepEqual(
        parse(line, bucky).rejects.map((x) => x.reason),
        [reason],
        line,
      );
    }
    assert.equal(parse('a:1|c|#a=1,', bucky).points.length, 1);
  });
});

describe('StatsdParser: events and service checks', () => {
  it('parses every field of an event', () => {
    const r = parse(
      '_e{5,11}:Title|Line\\nbreak|d:1656581000|h:web1|k:deploy|p:low|s:jenkins|t:warning|#env:prod,x',
    );
    assert.deepEqual(r.rejects, []);
    assert.deepEqual(r.events, [
      {
        event: {
          kind: 'event',
          title: 'Title',
          text: 'Line\nbreak',
          tags: [
            ['env', 'prod'],
            ['x', ''],
          ],
          timestamp: 1656581000_000,
          hostname: 'web1',
          aggregationKey: 'deploy',
          priority: 'low',
          sourceType: 'jenkins',
          alertType: 'warning',
        },
        repairs: [],
      },
    ]);
  });

  it('lets title and text hold | and reads their lengths in bytes', () => {
    const r = parse('_e{3,6}:a|b|ü c|d|#k:v');
    assert.deepEqual(
      r.events.map((e) => [(e.event as { title: string }).title, (e.event as { text: string }).text]),
      [['a|b', 'ü c|d']],
    );
  });

  it('stamps an event without d: with the arrival time', () => {
    assert.equal(parse('_e{1,0}:a|').events[0]?.event.timestamp, NOW);
  });

  it('parses every field of a service check; the message runs to the end of the line', () => {
    const r = parse('_sc|db.up|2|d:1656581000|h:db1|#env:prod|m:down: disk | full');
    assert.deepEqual(r.events, [
      {
        event: {
          kind: 'service_check',
          name: 'db.up',
          status: 2,
          tags: [['env', 'prod']],
          timestamp: 1656581000_000,
          hostname: 'db1',
          message: 'down: disk | full',
        },
        repairs: [],
      },
    ]);
  });

  it('tags service checks and events with their |c: container id, as it tags metrics', () => {
    const r = parse('_sc|db.up|0|#env:prod,container_id:stale|c:abc123|e:it-false\n_e{1,1}:a|b|c:def456');
    assert.deepEqual(
      r.events.map((e) => e.event.tags),
      [
        [
          ['container_id', 'abc123'],
          ['env', 'prod'],
        ],
        [['container_id', 'def456']],
      ],
    );
    assert.deepEqual(r.rejects, []);
  });

  it('parses events in every dialect, never as metric errors', () => {
    for (const dialect of STATSD_DIALECTS) {
      const r = parse('_e{1,1}:a|b\n_sc|c|0', { dialect });
      assert.deepEqual(r.rejects, [], dialect);
      assert.equal(r.events.length, 2, dialect);
    }
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
  const count = (input: Buffer, options: StatsdParserOptions): void => {
    let outcomes = 0;
    let lastLine = -1;
    let lines = 0;
    const sink: StatsdSink = {
      point: (l) => {
        if (l.start !== lastLine) outcomes++;
        lastLine = l.start;
        // The accessors must not throw either.
        l.name();
        l.tags();
        l.keyBytes();
        l.text();
        l.bucket();
        if (l.type === 4) l.member();
        else assert.ok(Number.isFinite(l.value));
        assert.ok(l.sampleRate > 0 && l.sampleRate <= 1);
      },
      reject: (_r, _b, start) => {
        if (start !== lastLine) outcomes++;
        lastLine = start;
      },
      event: (e) => {
        outcomes++;
        lastLine = -1;
        assert.ok(e.kind === 'event' || e.kind === 'service_check');
      },
    };
    lines = new StatsdParser({ now: () => NOW, ...options }).parse(input, sink);
    // Every line yields something: a point, an event, or a counted rejection.
    assert.ok(outcomes >= lines || lines === 0, `${outcomes} outcomes for ${lines} lines`);
  };
  const allOptions: StatsdParserOptions[] = [];
  for (const dialect of STATSD_DIALECTS) for (const mode of STATSD_MODES) allOptions.push({ dialect, mode });

  it('never throws on arbitrary bytes, in any dialect and mode', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(...allOptions), (bytes, options) =>
        count(Buffer.from(bytes), options),
      ),
      { numRuns: 3000 },
    );
  });

  it('never throws on near-valid input, in any dialect and mode', () => {
    const piece = fc.constantFrom(
      'a',
      'b.c',
      ':',
      '|',
      '#',
      '@',
      ',',
      '=',
      '\\',
      '\n',
      '\r',
      'c',
      'g',
      'ms',
      'h',
      's',
      'd',
      'T',
      'c:',
      '1',
      '0.5',
      '-',
      '+',
      '.',
      'e5',
      '_e{',
      '}',
      '_sc|',
      'timestamp=',
      'bucket=',
      '1656581400',
      '\u00e9',
      '\uffff',
      '\ud800',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), fc.constantFrom(...allOptions), (pieces, options) =>
        count(Buffer.from(pieces.join('')), options),
      ),
      { numRuns: 5000 },
    );
  });

  const nameArb = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 20 })
    .filter((s) => !/[:|\n\r]/.test(s) && !s.startsWith('_e{') && !s.startsWith('_sc|'));
  const keyArb = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 10 })
    .filter((s) => !/[:=,|\n\r\\]/.test(s) && !s.startsWith('#') && s !== 'timestamp' && s !== 'bucket');
  const valueArb = fc.string({ unit: 'grapheme', maxLength: 10 }).filter((s) => !/[,|\n\r]/.test(s));
  const anyValueArb = fc.string({ unit: 'grapheme', maxLength: 10 });
  const memberArb = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 10 })
    .filter((s) => !/[|\n\r]/.test(s));
  const rateArb = fc.oneof(
    fc.constant(1),
    fc.double({ min: Number.MIN_VALUE, max: 1, noNaN: true }),
    fc.constantFrom(0.1, 0.5, 0.25, 0.001),
  );

  it('hashes a series alike wherever its line sits and whatever unkeyed fields follow', () => {
    const hashOf = (datagram: string): number[] => {
      const out: number[] = [];
      new StatsdParser({ now: () => NOW }).parse(Buffer.from(datagram), {
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
        fc.constantFrom('', '|T1656581400', '|e:abc', '|@0.5', '|T1656581400|card:low'),
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

  it('round-trips formatStatsdLine losslessly in every dialect', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...STATSD_DIALECTS),
        nameArb,
        fc.constantFrom(...STATSD_TYPE_CODES),
        fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 4 }),
        memberArb,
        rateArb,
        fc.array(fc.tuple(keyArb, anyValueArb), { maxLength: 5 }),
        fc.boolean(),
        fc.option(fc.integer({ min: NOW / 1000 - 500, max: NOW / 1000 + 500 }), { nil: undefined }),
        fc.option(fc.stringMatching(/^[a-z0-9-]{1,12}$/), { nil: undefined }),
        (dialect, name, type, nums, member, rate, rawTags, delta, timestamp, extra) => {
          const bucky = dialect === 'bucky';
          const etsy = dialect === 'etsy';
          // What each dialect can carry: etsy has no timestamps, bucky no packed values.
          if ((etsy && (type === 'h' || type === 'd')) || (bucky && type === 'd')) return;
          let values = bucky || (etsy && type === 'g') ? nums.slice(0, 1) : nums;
          // stats.js rejects negative timers.
          if (etsy && type === 'ms') values = values.map(Math.abs);
          const tags = bucky ? rawTags : rawTags.map(([k, v]) => [k, v.replace(/[,|\n\r]/g, '_')] as Tag);
          // Bucky3 ignores the rate of non-counters.
          const effectiveRate = bucky && type !== 'c' ? 1 : rate;
          const value = type === 's' ? (etsy ? member.replaceAll(':', '_') : member) : values;
          const line = formatStatsdLine(
            {
              name,
              type,
              value,
              sampleRate: rate,
              tags,
              delta,
              timestamp:
                etsy || (dialect === 'dogstatsd' && type !== 'c' && type !== 'g') ? undefined : timestamp,
              containerId: dialect === 'dogstatsd' ? extra : undefined,
              bucket: bucky ? extra : undefined,
            },
            dialect,
          );
          if (type === 'g' && !delta && !(dialect === 'dogstatsd') && values.some((v) => v < 0)) {
            assert.equal(line, undefined);
            return;
          }
          assert.ok(line !== undefined, `no encoding in ${dialect}`);
          const r = parse(line, { dialect });
          assert.deepEqual(r.rejects, [], line);
          const expected = type === 's' ? [value as string] : values.map((v) => (v === 0 ? 0 : v));
          assert.deepEqual(
            r.points.map((x) => x.value),
            expected,
          );
          for (const got of r.points) {
            assert.equal(got.name, name);
            assert.equal(got.type, type);
            assert.equal(got.rate, effectiveRate);
            const wantTags: Tag[] = bucky ? [...tags] : tags.map(([k, v]) => [k, v] as Tag);
            if (dialect === 'dogstatsd' && extra !== undefined) wantTags.push(['container_id', extra]);
            assert.deepEqual(got.tags, wantTags);
            assert.equal(got.delta === true, delta && type === 'g' && dialect !== 'dogstatsd');
            const wantTs =
              timestamp === undefined || etsy || (dialect === 'dogstatsd' && type !== 'c' && type !== 'g')
                ? undefined
                : timestamp * 1000;
            assert.equal(got.timestamp, wantTs);
            assert.equal(got.bucket, bucky ? extra : undefined);
            assert.equal(got.repairs, undefined);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('round-trips events and service checks', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => !/[\\\r]/.test(s));
    const field = fc.option(
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 }).filter((s) => !/[|\n\r]/.test(s)),
      { nil: undefined },
    );
    const tags = fc
      .uniqueArray(fc.tuple(keyArb, valueArb), { maxLength: 4, selector: (t) => t[0] })
      .map((t) => t.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
    const time = fc.integer({ min: 1, max: 4_000_000_000 }).map((s) => s * 1000);
    fc.assert(
      fc.property(
        text.filter((s) => s !== ''),
        text,
        tags,
        time,
        field,
        field,
        fc.option(fc.constantFrom('normal', 'low' as const), { nil: undefined }),
        fc.option(fc.constantFrom('error', 'warning', 'info', 'success' as const), { nil: undefined }),
        (title, body, t, timestamp, hostname, aggregationKey, priority, alertType) => {
          const event = {
            kind: 'event' as const,
            title,
            text: body,
            tags: t,
            timestamp,
            ...(hostname !== undefined ? { hostname } : {}),
            ...(aggregationKey !== undefined ? { aggregationKey } : {}),
            ...(priority !== undefined ? { priority: priority as 'normal' | 'low' } : {}),
            ...(alertType !== undefined ? { alertType: alertType as 'error' } : {}),
          };
          const r = parse(formatStatsdEvent(event) as string);
          assert.deepEqual(r.rejects, []);
          assert.deepEqual(r.events, [{ event, repairs: [] }]);
        },
      ),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((s) => !/[|\n\r]/.test(s)),
        fc.constantFrom(0, 1, 2, 3 as const),
        tags,
        time,
        field,
        fc.option(
          fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => !/[\n\r]/.test(s)),
          { nil: undefined },
        ),
        (name, status, t, timestamp, hostname, message) => {
          const check = {
            kind: 'service_check' as const,
            name,
            status: status as 0,
            tags: t,
            timestamp,
            ...(hostname !== undefined ? { hostname } : {}),
            ...(message !== undefined ? { message } : {}),
          };
          const r = parse(formatStatsdServiceCheck(check) as string);
          assert.deepEqual(r.rejects, []);
          assert.deepEqual(r.events, [{ event: check, repairs: [] }]);
        },
      ),
      { numRuns: 1000 },
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
