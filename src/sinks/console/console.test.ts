import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { ManualClock } from '../../core/clock.js';
import type { GaugeMetric } from '../../core/metric.js';
import { makeTags } from '../../core/tags.js';
import { recordingLogger, testContext } from '../../testing/context.js';
import { ConsoleSink, MAX_BUFFERED_BYTES } from './console.js';
import type { ConsoleFormat } from './schema.js';

const TS = Date.UTC(2026, 10, 21, 12, 0, 0);

function gauge(name: string, value: number, tags: Record<string, string> = {}): GaugeMetric {
  return { kind: 'gauge', name, tags: makeTags(tags), value, timestamp: TS };
}

/**
 * A destination that records what was written and completes writes only when told to, like a
 * slow pipe (pino's test destinations work this way).
 */
class HeldStream extends Writable {
  readonly chunks: string[] = [];
  private held: ((error?: Error | null) => void)[] = [];
  constructor(private readonly fail?: Error) {
    super({ decodeStrings: false, highWaterMark: 1 });
  }
  override _write(chunk: unknown, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.chunks.push(String(chunk));
    this.held.push(cb);
  }
  release(): void {
    const held = this.held;
    this.held = [];
    for (const cb of held) cb(this.fail);
  }
  get text(): string {
    return this.chunks.join('');
  }
}

function setup(format: ConsoleFormat, stream = new HeldStream()) {
  const clock = new ManualClock();
  const { log, lines } = recordingLogger();
  const ctx = testContext({ clock, log, type: 'console' });
  const sink = new ConsoleSink({ format }, ctx, stream);
  return { sink, stream, ctx, lines, clock };
}

function dropped(ctx: ReturnType<typeof testContext>, reason: string): number {
  let sum = 0;
  for (const m of ctx.stats.toMetrics(0)) {
    if (m.kind === 'counter' && m.name === 'sluice_dropped_metrics' && m.tags.some((t) => t[1] === reason))
      sum += m.value;
  }
  return sum;
}

async function settle(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

describe('ConsoleSink', () => {
  it('writes one string per batch, in the chosen format', async () => {
    for (const [format, want] of [
      ['text', '2026-11-21T12:00:00.000Z gauge a value=1\n2026-11-21T12:00:00.000Z gauge b{x=y} value=2\n'],
      ['influx', `a value=1 ${TS}000000\nb,x=y value=2 ${TS}000000\n`],
      [
        'json',
        `{"name":"a","kind":"gauge","tags":{},"timestamp":${TS},"value":1}\n` +
          `{"name":"b","kind":"gauge","tags":{"x":"y"},"timestamp":${TS},"value":2}\n`,
      ],
    ] as const) {
      const { sink, stream } = setup(format);
      await sink.start();
      sink.write([gauge('a', 1), gauge('b', 2, { x: 'y' })]);
      sink.write([]);
      assert.equal(stream.chunks.length, 1, format);
      assert.equal(stream.text, want, format);
      stream.release();
      await sink.stop();
    }
  });

  it('stop() resolves only once the stream has taken every write', async () => {
    const { sink, stream } = setup('text');
    await sink.start();
    sink.write([gauge('a', 1)]);
    sink.write([gauge('b', 2)]);
    let stopped = false;
    const stopping = sink.stop().then(() => {
      stopped = true;
    });
    await settle();
    assert.equal(stopped, false);
    stream.release();
    await settle();
    // Writable queues the second chunk until the first completes.
    stream.release();
    await stopping;
    assert.equal(stopped, true);
    assert.equal(stream.chunks.length, 2);
  });

  it('stop() resolves at once when nothing is pending', async () => {
    const { sink } = setup('text');
    await sink.start();
    await sink.stop();
  });

  it('counts metrics the influx encoder cannot write', async () => {
    const { sink, stream, ctx } = setup('influx');
    await sink.start();
    sink.write([gauge('a', 1), gauge('b', NaN), gauge('', 3)]);
    assert.equal(stream.text, `a value=1 ${TS}000000\n`);
    assert.equal(dropped(ctx, 'unencodable'), 2);
    stream.release();
    await sink.stop();
  });

  it('drops and counts batches while the stream holds too much', async () => {
    const { sink, stream, ctx, lines } = setup('text');
    await sink.start();
    const big = 'x'.repeat(1024);
    const batch = Array.from({ length: 20 }, (_, i) => gauge(big + i, i));
    let writes = 0;
    while (stream.writableLength <= MAX_BUFFERED_BYTES && writes < 10_000) {
      sink.write(batch);
      writes++;
    }
    assert.ok(writes < 10_000);
    sink.write(batch);
    sink.write(batch);
    assert.equal(dropped(ctx, 'backpressure'), 40);
    assert.equal(lines.filter((l) => l.level === 'warn').length, 1);
    // Drain everything so stop() can finish.
    for (let i = 0; i < writes + 1 && stream.writableLength > 0; i++) {
      stream.release();
      await settle();
    }
    await sink.stop();
  });

  it('counts failed writes, survives the stream error event, and still stops', async () => {
    const stream = new HeldStream(new Error('EPIPE'));
    const { sink, ctx, lines } = setup('text', stream);
    await sink.start();
    sink.write([gauge('a', 1), gauge('b', 2)]);
    const stopping = sink.stop();
    stream.release();
    await stopping;
    await settle();
    assert.equal(dropped(ctx, 'write_error'), 2);
    assert.ok(lines.some((l) => l.level === 'warn'));
    assert.equal(stream.destroyed, true);
  });
});

describe('ConsoleSink events', () => {
  const events = [
    {
      kind: 'event' as const,
      title: 'Deploy',
      text: 'v1.2\nrolled out',
      alertType: 'info' as const,
      tags: makeTags({ env: 'prod', canary: '' }),
      timestamp: TS,
    },
    {
      kind: 'service_check' as const,
      name: 'db.up',
      status: 2 as const,
      message: 'down',
      tags: [],
      timestamp: TS,
    },
  ];

  it('prints events and service checks one per line, newlines quoted', async () => {
    const { sink, stream } = setup('text');
    await sink.start();
    sink.writeEvents(events);
    stream.release();
    await sink.stop();
    assert.equal(
      stream.text,
      '2026-11-21T12:00:00.000Z event "Deploy" alert_type=info {canary,env=prod} text="v1.2\\nrolled out"\n' +
        '2026-11-21T12:00:00.000Z service_check "db.up" status=critical {} message="down"\n',
    );
  });

  it('writes events as JSON objects in the json format', async () => {
    const { sink, stream } = setup('json');
    await sink.start();
    sink.writeEvents(events);
    stream.release();
    await sink.stop();
    const lines = stream.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines[0]?.tags, { canary: '', env: 'prod' });
    assert.equal(lines[1]?.status, 2);
  });
});
