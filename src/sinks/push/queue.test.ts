import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RecordQueue, recordSize, type Payload } from './queue.js';

function fill(q: RecordQueue, records: string[]): number {
  let dropped = 0;
  for (const r of records) dropped += q.push(r, recordSize(r));
  return dropped;
}

describe('RecordQueue', () => {
  it('hands out records oldest first, in batches bounded by count and by bytes', () => {
    const q = new RecordQueue(100, 1000);
    fill(q, ['a\n', 'bb\n', 'ccc\n', 'dddd\n', 'e\n']);
    assert.deepEqual(q.take(2, 1000)?.records, ['a\n', 'bb\n']);
    // 'ccc\n' (4) + 'dddd\n' (5) = 9 > 8: the batch stops before the record that would overflow it.
    const byBytes = q.take(10, 8);
    assert.deepEqual(byBytes?.records, ['ccc\n']);
    assert.equal(byBytes?.bytes, 4);
    assert.deepEqual(q.take(10, 1000)?.records, ['dddd\n', 'e\n']);
    assert.equal(q.take(10, 1000), undefined);
    assert.equal(q.points, 0);
    assert.equal(q.bytes, 0);
  });

  it('sends a record larger than a batch alone rather than never', () => {
    const q = new RecordQueue(100, 1000);
    fill(q, ['x'.repeat(50), 'y']);
    assert.deepEqual(q.take(10, 10)?.sizes, [50]);
    assert.deepEqual(q.take(10, 10)?.records, ['y']);
  });

  it('counts bytes as UTF-8', () => {
    assert.equal(recordSize('é'), 2);
    assert.equal(recordSize(new Uint8Array(7)), 7);
  });

  it('drops the oldest records when full, by count and by bytes, and says how many', () => {
    const byCount = new RecordQueue(3, 1000);
    assert.equal(fill(byCount, ['1', '2', '3', '4', '5']), 2);
    assert.deepEqual(byCount.take(10, 1000)?.records, ['3', '4', '5']);

    const byBytes = new RecordQueue(100, 10);
    assert.equal(fill(byBytes, ['aaaa', 'bbbb', 'cccc']), 1);
    assert.equal(byBytes.bytes, 8);
    assert.deepEqual(byBytes.take(10, 1000)?.records, ['bbbb', 'cccc']);
  });

  it('drops a record that alone exceeds the byte limit, keeping the others', () => {
    const q = new RecordQueue(100, 10);
    fill(q, ['keep']);
    assert.equal(q.push('x'.repeat(11), 11), 1);
    assert.deepEqual(q.take(10, 1000)?.records, ['keep']);
  });

  it('puts a failed batch back in front, dropping the oldest if newer records filled the room', () => {
    const q = new RecordQueue(4, 1000);
    fill(q, ['1', '2', '3']);
    const batch = q.take(2, 1000) as Payload;
    fill(q, ['4', '5']);
    assert.equal(q.unshift(batch), 1);
    assert.deepEqual(q.take(10, 1000)?.records, ['2', '3', '4', '5']);
  });

  it('reports hasBatch by count or bytes', () => {
    const q = new RecordQueue(100, 1000);
    fill(q, ['aa', 'bb']);
    assert.equal(q.hasBatch(3, 100), false);
    assert.equal(q.hasBatch(2, 100), true);
    assert.equal(q.hasBatch(3, 4), true);
  });

  it('behaves like a bounded list under any sequence of pushes, takes and failed sends', () => {
    type Op =
      { kind: 'push'; text: string } | { kind: 'take'; n: number } | { kind: 'fail' } | { kind: 'ack' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), text: fc.string({ maxLength: 12 }) }),
      fc.record({ kind: fc.constant('take' as const), n: fc.integer({ min: 1, max: 5 }) }),
      fc.constant({ kind: 'fail' as const }),
      fc.constant({ kind: 'ack' as const }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 40 }),
        fc.array(op, { maxLength: 200 }),
        (maxPoints, maxBytes, ops) => {
          const q = new RecordQueue(maxPoints, maxBytes);
          let model: string[] = [];
          let inFlight: Payload | undefined;
          let written = 0;
          let sent = 0;
          let dropped = 0;
          const trimModel = (): void => {
            let bytes = model.reduce((s, r) => s + recordSize(r), 0);
            while (model.length > maxPoints || bytes > maxBytes) {
              bytes -= recordSize(model.shift() as string);
            }
          };
          for (const o of ops) {
            if (o.kind === 'push') {
              written++;
              dropped += q.push(o.text, recordSize(o.text));
              if (recordSize(o.text) <= maxBytes) {
                model.push(o.text);
                trimModel();
              }
            } else if (o.kind === 'take' && inFlight === undefined) {
              inFlight = q.take(o.n, 10);
              if (inFlight !== undefined) {
                assert.deepEqual(inFlight.records, model.slice(0, inFlight.points));
                model = model.slice(inFlight.points);
              }
            } else if (o.kind === 'fail' && inFlight !== undefined) {
              dropped += q.unshift(inFlight);
              model = [...(inFlight.records as string[]), ...model];
              trimModel();
              inFlight = undefined;
            } else if (o.kind === 'ack' && inFlight !== undefined) {
              sent += inFlight.points;
              inFlight = undefined;
            }
            assert.ok(q.points <= maxPoints);
            assert.ok(q.bytes <= maxBytes);
            assert.equal(q.points, model.length);
            assert.equal(
              q.bytes,
              model.reduce((s, r) => s + recordSize(r), 0),
            );
            assert.equal(sent + dropped + q.points + (inFlight?.points ?? 0), written);
          }
        },
      ),
    );
  });

  it('keeps its arrays bounded however many records pass through', () => {
    const q = new RecordQueue(1000, 1 << 30);
    for (let i = 0; i < 200_000; i++) {
      q.push(`m${i}`, 8);
      if (i % 7 === 0) q.take(5, 1 << 30);
    }
    const internals = q as unknown as { records: unknown[]; sizes: number[] };
    assert.ok(q.points > 990 && q.points <= 1000, String(q.points));
    assert.ok(internals.records.length <= 2 * 1000 + 1024, `records array holds ${internals.records.length}`);
    assert.equal(internals.sizes.length, internals.records.length);
  });
});
