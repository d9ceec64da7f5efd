import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DDSketch } from '../../aggregation/sketch.js';
import { DecodeError } from '../remote_write/protobuf.js';
import {
  decodeExposition,
  encodeLabelPairs,
  ExpositionWriter,
  PROTO_TYPES,
  protobufQuality,
  type DecodedFamily,
} from './protobuf.js';
import { acceptQuality, labelText, parseLabelText, renderLabelPairs } from './text.js';
import { makeTags } from '../../core/tags.js';

/** Prometheus 2.42's Accept header with --enable-feature=native-histograms (seen on the wire). */
const PROMETHEUS_NATIVE_ACCEPT =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const PROMETHEUS_DEFAULT_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

function decode(buf: Buffer): DecodedFamily[] {
  const out = decodeExposition(buf);
  if (out instanceof DecodeError) throw new Error(`undecodable: ${out.code} at ${out.offset}`);
  return out;
}

describe('protobuf exposition', () => {
  it('negotiates as Prometheus asks', () => {
    assert.equal(protobufQuality(PROMETHEUS_NATIVE_ACCEPT), 1);
    assert.equal(protobufQuality(PROMETHEUS_DEFAULT_ACCEPT), 0);
    assert.equal(protobufQuality('*/*'), 0);
    assert.equal(
      protobufQuality(
        'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text',
      ),
      0,
    );
    assert.equal(
      protobufQuality(
        'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0',
      ),
      0,
    );
    assert.equal(acceptQuality(PROMETHEUS_NATIVE_ACCEPT, 'application/openmetrics-text'), 0.8);
  });

  it('writes every type, decodable, with labels as pairs', () => {
    const w = new ExpositionWriter();
    const labels = encodeLabelPairs([
      ['a', 'x"y\\z\nw'],
      ['b', 'ünï'],
    ]);
    w.family('c_total', 'A counter.', 'counter');
    w.counter(labels, 5);
    w.end();
    w.family('g', 'A gauge.', 'gauge');
    w.gauge(encodeLabelPairs([]), -0.5);
    w.end();
    w.family('s', 'A summary.', 'summary');
    w.summary(labels, 3, 6, [{ quantile: 0.5, value: 2 }]);
    w.end();
    w.family('h', 'A histogram.', 'histogram');
    w.histogram(labels, 3, 6, { bounds: [1, 2, Infinity], counts: [1, 0, 2] }, undefined);
    w.end();
    const families = decode(w.finish());
    assert.deepEqual(
      families.map((f) => [f.name, f.help, f.type]),
      [
        ['c_total', 'A counter.', PROTO_TYPES.counter],
        ['g', 'A gauge.', PROTO_TYPES.gauge],
        ['s', 'A summary.', PROTO_TYPES.summary],
        ['h', 'A histogram.', PROTO_TYPES.histogram],
      ],
    );
    const [c, g, s, h] = families.map((f) => f.metrics[0]!);
    assert.deepEqual(c!.labels, [
      ['a', 'x"y\\z\nw'],
      ['b', 'ünï'],
    ]);
    assert.equal(c!.counter, 5);
    assert.equal(g!.gauge, -0.5);
    assert.deepEqual(s!.summary, { sampleCount: 3, sampleSum: 6, quantiles: [{ quantile: 0.5, value: 2 }] });
    assert.deepEqual(
      h!.histogram!.buckets.map((b) => [b.upperBound, b.cumulativeCount]),
      [
        [1, 1],
        [2, 1],
        [Infinity, 3],
      ],
    );
  });

  it('writes native histograms as client_golang does: schema, zero bucket, spans, deltas', () => {
    const sketch = new DDSketch({ schema: 2 });
    for (const v of [0, -1, -1.2, -1.4, -1.8, -2, 1, 1.2, 1.4, 1.8, 2]) sketch.add(v);
    const w = new ExpositionWriter();
    w.family('d', 'A distribution.', 'histogram');
    w.histogram(encodeLabelPairs([]), sketch.count, sketch.sum, undefined, sketch.exponential());
    w.end();
    const h = decode(w.finish())[0]!.metrics[0]!.histogram!;
    assert.equal(h.sampleCount, 11);
    assert.equal(h.schema, 2);
    assert.ok(h.zeroThreshold > 0);
    assert.equal(h.zeroCount, 1);
    assert.deepEqual(h.positiveSpans, [{ offset: 0, length: 5 }]);
    assert.deepEqual(h.positiveDeltas, [1, -1, 2, -2, 2]);
    assert.deepEqual(h.negativeSpans, [{ offset: 0, length: 5 }]);
    assert.deepEqual(h.negativeDeltas, [1, -1, 2, -2, 2]);
    assert.deepEqual(h.buckets, []);
  });

  it('writes fractional (sampled) counts as doubles', () => {
    const sketch = new DDSketch();
    sketch.add(3, 2.5);
    sketch.add(0, 0.5);
    const w = new ExpositionWriter();
    w.family('d', 'A distribution.', 'histogram');
    w.histogram(encodeLabelPairs([]), sketch.count, sketch.sum, undefined, sketch.exponential());
    w.end();
    const h = decode(w.finish())[0]!.metrics[0]!.histogram!;
    assert.equal(h.sampleCount, 0);
    assert.equal(h.sampleCountFloat, 3);
    assert.equal(h.zeroCountFloat, 0.5);
    assert.deepEqual(h.positiveCounts, [2.5]);
    assert.deepEqual(h.positiveDeltas, []);
  });

  it('label text parses back into the pairs it was rendered from', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,8}$/), fc.string({ minLength: 1 })),
        (dict) => {
          const pairs = Object.entries(dict).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
          assert.deepEqual(parseLabelText(renderLabelPairs(pairs)), pairs);
        },
      ),
    );
    assert.deepEqual(parseLabelText(labelText(makeTags([['host', 'a,b="c"']]))), [['host', 'a,b="c"']]);
    assert.deepEqual(parseLabelText(''), []);
  });

  it('decodes garbage into an error, never an exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const out = decodeExposition(bytes);
        assert.ok(out instanceof DecodeError || Array.isArray(out));
      }),
    );
  });
});
