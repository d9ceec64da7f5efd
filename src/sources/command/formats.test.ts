import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { GaugeMetric } from '../../core/metric.js';
import { jsonLines, outputParser } from './formats.js';
import { DATA_FORMATS } from './schema.js';

const NOW = 1_700_000_000_000;

describe('command output formats', () => {
  it('json: one document becomes one line per object, nested keys dotted', () => {
    const doc = Buffer.from('{\n "a": 1,\n "b": {"c": [10, {"d": 2}]},\n "e": null\n}\n');
    assert.equal(jsonLines(doc).toString(), '{"a":1,"b.c.0":10,"b.c.1.d":2,"e":null}');
    assert.equal(jsonLines(Buffer.from('[{"a":1},{"b":{"c":2}},3]')).toString(), '{"a":1}\n{"b.c":2}\n3');
  });

  it('json: newline-delimited objects are flattened line by line, other lines left as they are', () => {
    assert.equal(
      jsonLines(Buffer.from('{"a":{"b":1}}\nnot json\n{"c":2}')).toString(),
      '{"a.b":1}\nnot json\n{"c":2}',
    );
  });

  it('json: flattening stops at a depth, and deeper objects are rejected as nested values', () => {
    let doc: unknown = 1;
    for (let i = 0; i < 40; i++) doc = { k: doc };
    const rejected: string[] = [];
    const parsed = outputParser('json', { intervalMs: 10_000, name: 'm' }, 1 << 20).parse(
      Buffer.from(JSON.stringify(doc)),
      NOW,
      (reason) => rejected.push(reason),
    );
    assert.deepEqual(parsed.metrics, []);
    assert.deepEqual(rejected, ['nested_value']);
  });

  it('number: surrounding blanks are fine; anything else is not a number', () => {
    const parser = outputParser('number', { intervalMs: 10_000, name: 'n' }, 1 << 20);
    for (const [text, value] of [
      [' -1.5e3 \n', -1500],
      ['7', 7],
    ] as const) {
      const r = parser.parse(Buffer.from(text), NOW, () => assert.fail('rejected'));
      assert.equal((r.metrics[0] as GaugeMetric).value, value);
    }
    for (const text of ['', '1 2', 'NaN', '1e999', '0x10', 'twelve']) {
      const rejected: string[] = [];
      const r = parser.parse(Buffer.from(text), NOW, (reason) => rejected.push(reason));
      assert.deepEqual([r.metrics, rejected], [[], ['not_a_number']], text);
    }
  });

  it('property: any output in any format gives metrics or rejections with known reasons, never a throw', () => {
    const output = fc.oneof(
      fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)),
      fc.string({ maxLength: 200 }).map((s) => Buffer.from(s)),
      fc.json().map((s) => Buffer.from(s)),
      fc
        .array(
          fc.constantFrom('a:1|c', 'b 2', 'm x=1', '# TYPE a gauge', '{"a":1}', '\n', '|', ':', '=', ' '),
          {
            maxLength: 30,
          },
        )
        .map((a) => Buffer.from(a.join(''))),
    );
    fc.assert(
      fc.property(fc.constantFrom(...DATA_FORMATS), output, (format, buf) => {
        const parser = outputParser(format, { intervalMs: 10_000, name: 'n' }, 1 << 20);
        const reasons = new Set(parser.reasons);
        const r = parser.parse(buf, NOW, (reason, b, start, end) => {
          assert.ok(reasons.has(reason), reason);
          assert.ok(b.length >= end && start >= 0 && start <= end);
        });
        for (const m of r.metrics) assert.ok(m.name !== '');
      }),
      { numRuns: 3000 },
    );
  });
});
