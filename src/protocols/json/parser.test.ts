import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { makeTags, type Tag } from '../../core/tags.js';
import { formatTypedRecord } from './format.js';
import {
  isDecimal,
  JSON_REJECT_REASONS,
  JsonParser,
  JsonRejectionLog,
  JsonRecord,
  type JsonRejectReason,
  type JsonSink,
  type JsonTypeCode,
} from './parser.js';

const NOW = 1_700_000_000_000;
const WINDOW = 600_000;

interface Rec {
  kind: JsonRecord['kind'];
  name: string;
  type?: JsonTypeCode;
  value?: number | string;
  rate?: number;
  ts?: number;
  tags?: Record<string, string>;
  fields?: Record<string, number>;
}

class Recorder implements JsonSink {
  records: Rec[] = [];
  rejects: { reason: JsonRejectReason; line: string }[] = [];
  refuse: JsonRejectReason | undefined = undefined;
  record(r: JsonRecord): JsonRejectReason | undefined {
    const out: Rec = { kind: r.kind, name: r.name };
    if (r.kind !== 'untyped') {
      out.type = r.type;
      out.value = r.type === 's' ? r.member : r.value;
    }
    if (r.sampleRate !== 1) out.rate = r.sampleRate;
    if (!Number.isNaN(r.timestamp)) out.ts = r.timestamp;
    if (r.tags.length > 0) out.tags = Object.fromEntries(r.tags);
    if (r.fieldNames.length > 0)
      out.fields = Object.fromEntries(r.fieldNames.map((n, i) => [n, r.fieldValues[i] as number]));
    this.records.push(out);
    return this.refuse;
  }
  reject(reason: JsonRejectReason, buf: Buffer, start: number, end: number): void {
    this.rejects.push({ reason, line: buf.toString('utf8', start, end) });
  }
}

function parse(input: string | Buffer, maxLineBytes = 1024): Recorder & { lines: number } {
  const r = new Recorder();
  const parser = new JsonParser({ maxLineBytes, timestampWindowMs: WINDOW });
  const lines = parser.parse(typeof input === 'string' ? Buffer.from(input) : input, r, NOW);
  return Object.assign(r, { lines });
}

describe('JSON parser: typed records', () => {
  const table: [string, Rec][] = [
    // The seed's examples (pystatsd README), written as valid JSON.
    [
      '{"metric_name": "user.apptrace", "metric_type": "trace", "stage": "Init app", "host": "192.44.2.2", "env": "development"}',
      {
        kind: 'trace',
        name: 'user.apptrace',
        type: 'c',
        value: 1,
        tags: { stage: 'Init app', host: '192.44.2.2', env: 'development' },
      },
    ],
    [
      '{"metric_name": "user.latency", "metric_type": "guage", "value": 4.4, "stage": "Init app", "host": "192.44.2.2", "env": "development"}',
      {
        kind: 'metric',
        name: 'user.latency',
        type: 'g',
        value: 4.4,
        tags: { stage: 'Init app', host: '192.44.2.2', env: 'development' },
      },
    ],
    // The example.
    [
      '{"metric_name": "user.latency", "metric_type": "gauge", "value": 4.4, "stage": "init", "env": "dev"}',
      { kind: 'metric', name: 'user.latency', type: 'g', value: 4.4, tags: { stage: 'init', env: 'dev' } },
    ],
    [
      '{"metric_name":"hits","metric_type":"counter","value":3}',
      { kind: 'metric', name: 'hits', type: 'c', value: 3 },
    ],
    [
      '{"metric_name":"hits","metric_type":"counter","count":2}',
      { kind: 'metric', name: 'hits', type: 'c', value: 2 },
    ],
    [
      '{"metric_name":"hits","metric_type":"counter","value":-1,"count":9}',
      { kind: 'metric', name: 'hits', type: 'c', value: -1 },
    ],
    [
      '{"metric_name":"t","metric_type":"timer","value":"12.5","sample_rate":0.25}',
      { kind: 'metric', name: 't', type: 'ms', value: 12.5, rate: 0.25 },
    ],
    [
      '{"metric_name":"h","metric_type":"histogram","value":1e3}',
      { kind: 'metric', name: 'h', type: 'h', value: 1000 },
    ],
    [
      '{"metric_name":"d","metric_type":"distribution","value":0}',
      { kind: 'metric', name: 'd', type: 'd', value: 0 },
    ],
    [
      '{"metric_name":"u","metric_type":"set","value":"alice"}',
      { kind: 'metric', name: 'u', type: 's', value: 'alice' },
    ],
    [
      '{"metric_name":"u","metric_type":"set","value":42}',
      { kind: 'metric', name: 'u', type: 's', value: '42' },
    ],
    ['{"metric_name":"x","metric_type":"ms","value":1}', { kind: 'metric', name: 'x', type: 'ms', value: 1 }],
    [
      '{"metric_name":"x","metric_type":"Gauge","value":1}',
      { kind: 'metric', name: 'x', type: 'g', value: 1 },
    ],
    // Numbers and booleans become tags in their JSON spelling; nulls are skipped; count is a tag
    // on anything but a counter, value on a trace.
    [
      '{"metric_name":"x","metric_type":"gauge","value":1,"port":8080,"ok":true,"gone":null,"count":3}',
      { kind: 'metric', name: 'x', type: 'g', value: 1, tags: { port: '8080', ok: 'true', count: '3' } },
    ],
    [
      '{"metric_name":"x","metric_type":"trace","value":7}',
      { kind: 'trace', name: 'x', type: 'c', value: 1, tags: { value: '7' } },
    ],
    // Timestamps: seconds, or milliseconds above 2^31.
    [
      `{"metric_name":"x","metric_type":"gauge","value":1,"timestamp":${NOW / 1000 - 30}}`,
      { kind: 'metric', name: 'x', type: 'g', value: 1, ts: NOW - 30_000 },
    ],
    [
      `{"metric_name":"x","metric_type":"gauge","value":1,"timestamp":${NOW + 1}}`,
      { kind: 'metric', name: 'x', type: 'g', value: 1, ts: NOW + 1 },
    ],
    // Repeated keys: JSON.parse keeps the last.
    [
      '{"metric_name":"x","metric_type":"gauge","value":1,"value":2}',
      { kind: 'metric', name: 'x', type: 'g', value: 2 },
    ],
    // A __proto__ key is an ordinary field to JSON.parse.
    [
      '{"metric_name":"x","metric_type":"gauge","value":1,"__proto__":"p"}',
      {
        kind: 'metric',
        name: 'x',
        type: 'g',
        value: 1,
        tags: JSON.parse('{"__proto__":"p"}') as Record<string, string>,
      },
    ],
  ];
  for (const [line, want] of table) {
    it(line, () => {
      const r = parse(line);
      assert.deepEqual(r.rejects, []);
      assert.deepEqual(r.records, [want]);
    });
  }
});

describe('JSON parser: untyped objects', () => {
  const table: [string, Rec][] = [
    [
      '{"name": "x", "a": 1, "b": 2.5, "env": "dev"}',
      { kind: 'untyped', name: '', tags: { name: 'x', env: 'dev' }, fields: { a: 1, b: 2.5 } },
    ],
    [
      '{"metric_name": "disk", "used": 10, "ok": false, "up": true, "note": null}',
      { kind: 'untyped', name: 'disk', fields: { used: 10, ok: 0, up: 1 } },
    ],
    [
      `{"load": 0.5, "timestamp": ${NOW / 1000}}`,
      { kind: 'untyped', name: '', ts: NOW, fields: { load: 0.5 } },
    ],
  ];
  for (const [line, want] of table) {
    it(line, () => {
      const r = parse(line);
      assert.deepEqual(r.rejects, []);
      assert.deepEqual(r.records, [want]);
    });
  }
});

describe('JSON parser: rejections', () => {
  const table: [string | Buffer, JsonRejectReason][] = [
    ['{"metric_name":"x"', 'bad_json'],
    ["{'metric_name':'x'}", 'bad_json'],
    ['{"a":1} {"b":2}', 'bad_json'],
    // The seed's README example as written: Python's 4,4 is not JSON.
    ['{"metric_name": "user.latency", "metric_type": "guage", "value": 4,4}', 'bad_json'],
    ['[1,2]', 'not_object'],
    ['"text"', 'not_object'],
    ['42', 'not_object'],
    ['null', 'not_object'],
    ['{"a":{"b":1}}', 'nested_value'],
    ['{"metric_name":"x","metric_type":"gauge","value":[1]}', 'nested_value'],
    ['{"a":12345678901234567890}', 'huge_number'],
    ['{"a":1e400}', 'huge_number'],
    ['{"a":-9007199254740992}', 'huge_number'],
    ['{"metric_name":"x","metric_type":"gauge","value":1,"big":1e300}', 'huge_number'],
    ['{"":1}', 'bad_key'],
    ['{"metric_type":"gauge","value":1}', 'missing_name'],
    ['{"metric_name":"","metric_type":"gauge","value":1}', 'missing_name'],
    ['{"metric_name":7,"metric_type":"gauge","value":1}', 'missing_name'],
    ['{"metric_name":7,"a":1}', 'missing_name'],
    ['{"metric_name":"x","metric_type":"meter","value":1}', 'unknown_type'],
    ['{"metric_name":"x","metric_type":3,"value":1}', 'unknown_type'],
    ['{"metric_name":"x","metric_type":null,"value":1}', 'unknown_type'],
    ['{"metric_name":"x","metric_type":"gauge"}', 'bad_value'],
    ['{"metric_name":"x","metric_type":"gauge","value":"4,4"}', 'bad_value'],
    ['{"metric_name":"x","metric_type":"gauge","value":"+5"}', 'bad_value'],
    ['{"metric_name":"x","metric_type":"gauge","value":"0x10"}', 'bad_value'],
    ['{"metric_name":"x","metric_type":"gauge","value":"Infinity"}', 'bad_value'],
    ['{"metric_name":"x","metric_type":"gauge","value":"1e400"}', 'bad_value'],
    ['{"metric_name":"x","metric_type":"gauge","value":true}', 'bad_value'],
    ['{"metric_name":"x","metric_type":"gauge","value":null}', 'bad_value'],
    ['{"metric_name":"x","metric_type":"set","value":""}', 'bad_value'],
    ['{"metric_name":"x","metric_type":"set","value":false}', 'bad_value'],
    ['{"metric_name":"x","metric_type":"counter","value":1,"sample_rate":0}', 'bad_sample_rate'],
    ['{"metric_name":"x","metric_type":"counter","value":1,"sample_rate":2}', 'bad_sample_rate'],
    ['{"metric_name":"x","metric_type":"counter","value":1,"sample_rate":"half"}', 'bad_sample_rate'],
    ['{"metric_name":"x","metric_type":"counter","value":1,"timestamp":"now"}', 'bad_timestamp'],
    ['{"metric_name":"x","metric_type":"counter","value":1,"timestamp":-5}', 'bad_timestamp'],
    [
      `{"metric_name":"x","metric_type":"counter","value":1,"timestamp":${NOW / 1000 - 601}}`,
      'timestamp_out_of_window',
    ],
    [`{"a":1,"timestamp":${NOW + WINDOW + 1}}`, 'timestamp_out_of_window'],
    ['{"env":"dev"}', 'no_fields'],
    ['{}', 'no_fields'],
    [Buffer.from([0x7b, 0x22, 0x61, 0xff, 0x22, 0x3a, 0x31, 0x7d]), 'invalid_utf8'],
    [`{"a":"${'x'.repeat(1100)}"}`, 'too_long'],
  ];
  for (const [line, reason] of table) {
    it(`${reason}: ${typeof line === 'string' ? line.slice(0, 80) : 'bytes'}`, () => {
      const r = parse(line);
      assert.deepEqual(r.records, []);
      assert.deepEqual(
        r.rejects.map((x) => x.reason),
        [reason],
      );
    });
  }

  it('covers every reason in the table (type_conflict and series_limit come from the consumer)', () => {
    const covered = new Set<JsonRejectReason>(table.map(([, reason]) => reason));
    covered.add('type_conflict');
    covered.add('series_limit');
    assert.deepEqual(
      JSON_REJECT_REASONS.filter((r) => !covered.has(r)),
      [],
    );
  });
});

describe('JSON parser: datagrams', () => {
  it('splits lines, skips blank ones and CRs, keeps valid lines beside rejected ones', () => {
    const r = parse(
      '{"metric_name":"a","metric_type":"counter","value":1}\r\n\n   \n[1]\n{"metric_name":"b","metric_type":"gauge","value":2}',
    );
    assert.equal(r.lines, 3);
    assert.deepEqual(
      r.records.map((x) => x.name),
      ['a', 'b'],
    );
    assert.deepEqual(r.rejects, [{ reason: 'not_object', line: '[1]' }]);
  });

  it('skips a UTF-8 byte order mark and reads non-ASCII text', () => {
    const body = Buffer.from('{"metric_name":"größe","metric_type":"gauge","value":1,"city":"Zürich 😀"}');
    const r = parse(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]));
    assert.deepEqual(r.rejects, []);
    assert.deepEqual(r.records[0]?.tags, { city: 'Zürich 😀' });
    assert.equal(r.records[0]?.name, 'größe');
  });

  it('rejects only the line with invalid UTF-8', () => {
    const r = parse(
      Buffer.concat([
        Buffer.from('{"metric_name":"a","metric_type":"counter","value":1}\n'),
        Buffer.from([0x7b, 0xc3, 0x28, 0x7d, 0x0a]),
        Buffer.from('{"metric_name":"b","metric_type":"counter","value":1}'),
      ]),
    );
    assert.deepEqual(
      r.records.map((x) => x.name),
      ['a', 'b'],
    );
    assert.deepEqual(
      r.rejects.map((x) => x.reason),
      ['invalid_utf8'],
    );
  });

  it('rejects what the consumer refuses, with its reason', () => {
    const r = new Recorder();
    r.refuse = 'type_conflict';
    new JsonParser({ maxLineBytes: 100, timestampWindowMs: 0 }).parse(Buffer.from('{"a":1}'), r, NOW);
    assert.deepEqual(r.rejects, [{ reason: 'type_conflict', line: '{"a":1}' }]);
  });

  it('accepts any timestamp with a window of 0, and the largest safe integer', () => {
    const r = new Recorder();
    new JsonParser({ maxLineBytes: 100, timestampWindowMs: 0 }).parse(
      Buffer.from('{"a":9007199254740991,"b":-9007199254740991,"timestamp":1000000}'),
      r,
      NOW,
    );
    assert.deepEqual(r.rejects, []);
    assert.equal(r.records[0]?.ts, 1_000_000_000);
  });

  it('counts no line in an empty or blank datagram', () => {
    assert.equal(parse('').lines, 0);
    assert.equal(parse('\n\r\n \t\n').lines, 0);
  });
});

describe('isDecimal', () => {
  it('accepts what JSON writes and nothing else', () => {
    for (const s of ['0', '-1', '1.5', '1e3', '1E-3', '-0.5e+2', '007']) assert.ok(isDecimal(s), s);
    for (const s of ['', '-', '+1', '1.', '.5', '1e', '0x1', ' 1', '1 ', 'NaN', 'Infinity', '1,5']) {
      assert.ok(!isDecimal(s), s);
    }
  });
});

// ---- properties ------------------------------------------------------------------------------

describe('JSON parser properties', () => {
  function count(buf: Buffer): void {
    const r = parse(buf, 200);
    assert.equal(r.records.length + r.rejects.length, r.lines);
  }

  it('turns any bytes into records or counted rejections, never an exception', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => count(Buffer.from(bytes))));
  });

  it('does the same for near-JSON made of likely pieces', () => {
    const piece = fc.constantFrom(
      '{',
      '}',
      '[',
      ']',
      '"metric_name":',
      '"metric_type":',
      '"value":',
      '"timestamp":',
      '"sample_rate":',
      '"x"',
      '"gauge"',
      '"set"',
      '"trace"',
      '1',
      '-0.5',
      '1e400',
      '9007199254740993',
      'null',
      'true',
      ',',
      ':',
      '\n',
      '\r\n',
      ' ',
      '\u00e9',
      '\\u0000',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => count(Buffer.from(pieces.join('')))),
    );
  });

  it('does the same for any JSON value', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => count(Buffer.from(JSON.stringify(v) ?? 'null'))));
  });

  const reserved = new Set(['metric_name', 'metric_type', 'value', 'count', 'sample_rate', 'timestamp']);
  const tagArb = fc.tuple(
    fc.string({ minLength: 1, maxLength: 8 }).filter((k) => !reserved.has(k)),
    fc.string({ maxLength: 8 }),
  );
  const typed = fc.record({
    name: fc.string({ minLength: 1, maxLength: 12 }),
    type: fc.constantFrom<JsonTypeCode | 'trace'>('c', 'g', 'ms', 'h', 'd', 's', 'trace'),
    number: fc.double({ min: -1e15, max: 1e15, noNaN: true }),
    member: fc.string({ minLength: 1, maxLength: 8 }),
    sampleRate: fc.option(fc.double({ min: 1e-6, max: 1, noNaN: true }), { nil: undefined }),
    timestamp: fc.option(fc.integer({ min: NOW - WINDOW, max: NOW + WINDOW }), { nil: undefined }),
    tags: fc.uniqueArray(tagArb, { selector: (t) => t[0], maxLength: 5 }),
  });

  it('round-trips typed records through formatTypedRecord', () => {
    fc.assert(
      fc.property(typed, (t) => {
        const value = t.type === 's' ? t.member : t.type === 'trace' ? undefined : t.number;
        const line = formatTypedRecord({
          name: t.name,
          type: t.type,
          value,
          sampleRate: t.sampleRate,
          timestamp: t.timestamp,
          tags: t.tags as Tag[],
        });
        const r = parse(Buffer.from(line + '\n'), 1 << 20);
        assert.deepEqual(r.rejects, []);
        const want: Rec = {
          kind: t.type === 'trace' ? 'trace' : 'metric',
          name: t.name,
          type: t.type === 'trace' ? 'c' : t.type,
          value: t.type === 'trace' ? 1 : (value as number | string),
        };
        // -0 is written as 0 by JSON.
        if (typeof want.value === 'number' && Object.is(want.value, -0)) want.value = 0;
        if (t.sampleRate !== undefined && t.sampleRate !== 1) want.rate = t.sampleRate;
        if (t.timestamp !== undefined) want.ts = t.timestamp;
        if (t.tags.length > 0) want.tags = Object.fromEntries(t.tags);
        assert.deepEqual(r.records, [want]);
      }),
    );
  });
});

describe('JsonRejectionLog', () => {
  it('counts by reason and keeps the last few lines, cut to size', () => {
    const log = new JsonRejectionLog(2, 4);
    for (const [reason, line] of [
      ['bad_json', 'a'],
      ['not_object', '[1]'],
      ['bad_json', '{"long":1}'],
    ] as const) {
      const buf = Buffer.from(line);
      log.record(reason, buf, 0, buf.length);
    }
    assert.equal(log.total, 3);
    assert.equal(log.counts.bad_json, 2);
    assert.deepEqual(log.recent(), [
      { reason: 'not_object', line: '[1]' },
      { reason: 'bad_json', line: '{"lo…' },
    ]);
  });
});

describe('JsonRecord.sortedTags', () => {
  it('equals makeTags for the unique keys JSON.parse leaves', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.string({ maxLength: 4 }), fc.string({ maxLength: 3 })), {
          selector: (t) => t[0],
        }),
        (tags) => {
          const r = new JsonRecord();
          r.tags.push(...(tags as Tag[]));
          assert.deepEqual(r.sortedTags(), makeTags(tags as Tag[]));
          assert.deepEqual(r.tags, tags, 'the record keeps its order');
        },
      ),
    );
  });
});
