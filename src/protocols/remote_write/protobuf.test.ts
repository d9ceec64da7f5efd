import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DecodeError,
  decodeWriteRequest,
  encodeLabel,
  encodeMetadata,
  encodeTimeSeries,
  joinEntries,
  METRIC_TYPES,
  ProtoWriter,
  varintSize,
  writeTimeSeries,
  type RwTimeSeries,
} from './protobuf.js';
import { snappyCompress, snappyUncompress } from './snappy.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('remote write protobuf encoding', () => {
  it('writes a TimeSeries byte for byte as protoc would', () => {
    // 0a 1e: WriteRequest.timeseries, 30 bytes
    //   0a 0e: labels, 14 bytes: 0a 08 "__name__" 12 02 "up"
    //   12 0c: samples, 12 bytes: 09 <1.0 as little-endian double> 10 e8 07 (timestamp 1000)
    const bytes = encodeTimeSeries({
      labels: [['__name__', 'up']],
      samples: [{ value: 1, timestamp: 1000 }],
    });
    assert.equal(
      hex(bytes),
      '0a1e' +
        '0a0e' +
        '0a08' +
        Buffer.from('__name__').toString('hex') +
        '1202' +
        Buffer.from('up').toString('hex') +
        '120c' +
        '09000000000000f03f' +
        '10e807',
    );
  });

  it('leaves proto3 defaults out: a +0 value, a 0 timestamp, an empty label value', () => {
    assert.equal(hex(encodeTimeSeries({ labels: [], samples: [{ value: 0, timestamp: 0 }] })), '0a021200');
    // -0 is not the default: its sign bit is set.
    assert.equal(
      hex(encodeTimeSeries({ labels: [], samples: [{ value: -0, timestamp: 0 }] })),
      '0a0b1209090000000000000080',
    );
    assert.equal(hex(encodeLabel('a', '')), '0a030a0161');
  });

  it('writes varints of every length, and negative timestamps in ten bytes', () => {
    const cases: [number, string][] = [
      [1, '01'],
      [127, '7f'],
      [128, '8001'],
      [300, 'ac02'],
      [1_700_000_000_000, '80d095ffbc31'], // checked with Python's shifts
      [Number.MAX_SAFE_INTEGER, 'ffffffffffffff0f'],
      [-1, 'ffffffffffffffffff01'],
    ];
    for (const [n, want] of cases) {
      const w = new ProtoWriter(1);
      w.varint(n);
      assert.equal(hex(w.take()), want, String(n));
      if (n >= 0) assert.equal(varintSize(n), want.length / 2);
    }
  });

  it('encodes MetricMetadata as WriteRequest field 3', () => {
    const bytes = encodeMetadata({ type: METRIC_TYPES.counter, family: 'x_total', help: 'X.', unit: '' });
    // 1a 0f: metadata, 15 bytes: 08 01 (type COUNTER) 12 07 "x_total" 22 02 "X."
    assert.equal(hex(bytes), '1a0f0801' + '1207' + Buffer.from('x_total').toString('hex') + '2202' + '582e');
    const req = decodeWriteRequest(bytes);
    assert.ok(!(req instanceof DecodeError));
    assert.deepEqual(req.metadata, [{ type: 1, family: 'x_total', help: 'X.', unit: '' }]);
  });

  it('writes from pre-encoded labels the same bytes as from plain ones', () => {
    const labels: [string, string][] = [
      ['__name__', 'a_total'],
      ['host', 'wéb01'],
    ];
    const w = new ProtoWriter(1);
    writeTimeSeries(
      w,
      labels.map(([n, v]) => encodeLabel(n, v)),
      2.5,
      1_700_000_000_123,
    );
    assert.equal(
      hex(w.take()),
      hex(encodeTimeSeries({ labels, samples: [{ value: 2.5, timestamp: 1_700_000_000_123 }] })),
    );
  });

  const labelArb = fc.tuple(
    fc.string({ minLength: 1, maxLength: 12 }),
    fc.string({ minLength: 1, maxLength: 20 }),
  );
  const sampleArb = fc.record({
    value: fc.double(),
    timestamp: fc.oneof(fc.integer({ min: -1e12, max: 4e12 }), fc.constant(0)),
  });
  const seriesArb = fc.record({
    labels: fc.array(labelArb, { maxLength: 6 }),
    samples: fc.array(sampleArb, { maxLength: 4 }),
  });

  it('round-trips any series, and any concatenation of entries is one WriteRequest', () => {
    fc.assert(
      fc.property(fc.array(seriesArb, { maxLength: 6 }), (series: RwTimeSeries[]) => {
        const entries = series.map(encodeTimeSeries);
        const req = decodeWriteRequest(joinEntries(entries));
        assert.ok(!(req instanceof DecodeError), 'decodes');
        // Lone surrogates cannot be UTF-8: the encoder writes U+FFFD, as Buffer does.
        const utf8 = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');
        assert.deepEqual(
          req.timeseries,
          series.map((s) => ({
            labels: s.labels.map(([n, v]) => [utf8(n), utf8(v)]),
            samples: s.samples.map((x) => ({ value: x.value, timestamp: x.timestamp })),
          })),
        );
        assert.deepEqual(req.metadata, []);
      }),
    );
  });

  it('decodes any bytes to a request or a DecodeError, never a throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const r = decodeWriteRequest(bytes);
        assert.ok(r instanceof DecodeError || Array.isArray(r.timeseries));
      }),
      { numRuns: 2000 },
    );
  });

  it('reports truncation and bad wire types with their codes', () => {
    const whole = encodeTimeSeries({ labels: [['__name__', 'up']], samples: [{ value: 1, timestamp: 5 }] });
    const cut = decodeWriteRequest(whole.subarray(0, whole.length - 1));
    assert.ok(cut instanceof DecodeError);
    assert.equal(cut.code, 'length_out_of_range');
    const bad = decodeWriteRequest(Uint8Array.from([0x0b])); // field 1, wire type 3 (group)
    assert.ok(bad instanceof DecodeError);
    assert.equal(bad.code, 'bad_wire_type');
    const invalidUtf8 = decodeWriteRequest(Uint8Array.from([0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0xff]));
    assert.ok(invalidUtf8 instanceof DecodeError);
    assert.equal(invalidUtf8.code, 'bad_utf8');
  });
});

describe('snappy block format', () => {
  it('round-trips requests below and above one 64 KiB block', () => {
    for (const n of [0, 1, 100, 65_536, 300_000]) {
      const series: RwTimeSeries[] = [];
      for (let i = 0; series.length * 60 < n; i++)
        series.push({
          labels: [
            ['__name__', `m${i % 37}`],
            ['i', String(i)],
          ],
          samples: [{ value: i, timestamp: i }],
        });
      const body = joinEntries(series.map(encodeTimeSeries));
      const compressed = snappyCompress(body);
      assert.deepEqual(snappyUncompress(compressed), body);
      if (body.length > 1000) assert.ok(compressed.length < body.length / 2, 'repetitive series compress');
    }
  });

  it('starts with the uncompressed length as a varint, as the block format says', () => {
    const body = Buffer.from('a'.repeat(300));
    const compressed = snappyCompress(body);
    assert.equal(hex(compressed.subarray(0, 2)), 'ac02');
  });
});
