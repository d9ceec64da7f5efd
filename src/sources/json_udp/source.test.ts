import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { formatPath, type Issue } from '../../config/schema.js';
import { ManualClock } from '../../core/clock.js';
import type { CounterMetric, GaugeMetric, Metric, SummaryMetric } from '../../core/metric.js';
import { seriesKey, type Tag } from '../../core/tags.js';
import { encodeBatch } from '../../protocols/influx/line.js';
import { formatTypedRecord } from '../../protocols/json/format.js';
import { formatStatsdLine } from '../../protocols/statsd/format.js';
import type { StatsdTypeCode } from '../../protocols/statsd/parser.js';
import { findMetric, recordingLogger, testSourceContext } from '../../testing/context.js';
import { statsdSource, type StatsdSource } from '../statsd/index.js';
import { JsonUdpSource, jsonUdpSource, type JsonUdpConfig } from './index.js';

function config(overrides: Record<string, unknown> = {}): JsonUdpConfig {
  const issues: Issue[] = [];
  const c = jsonUdpSource.schema.parse({ listen: '127.0.0.1:0', workers: 0, ...overrides }, [], issues);
  assert.deepEqual(issues, []);
  return c as JsonUdpConfig;
}

async function send(port: number, datagrams: (string | Buffer)[]): Promise<void> {
  const client = dgram.createSocket('udp4');
  try {
    for (const d of datagrams) {
      await new Promise<void>((resolve, reject) =>
        client.send(typeof d === 'string' ? Buffer.from(d) : d, port, '127.0.0.1', (e) =>
          e ? reject(e) : resolve(),
        ),
      );
    }
  } finally {
    client.close();
  }
}

/** Waits (bounded) until `check` holds; loopback UDP delivery is fast but asynchronous. */
async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function stat(ctx: ReturnType<typeof testSourceContext>, name: string, reason?: string): number {
  const m = ctx.stats
    .toMetrics(0)
    .find(
      (x) => x.name === `sluice_${name}` && (reason === undefined || x.tags.some((t) => t[1] === reason)),
    );
  return m === undefined ? 0 : (m as CounterMetric).value;
}

// The seed's examples (pystatsd's README), as valid JSON: Python's `'value': 4,4` was a typo.
const TRACE =
  '{"metric_name": "user.apptrace", "metric_type": "trace", "stage": "Init app", "host": "192.44.2.2", "env": "development"}';
const GAUGE =
  '{"metric_name": "user.latency", "metric_type": "guage", "value": 4.4, "stage": "Init app", "host": "192.44.2.2", "env": "development"}';
const SEED_AS_WRITTEN = `{'metric_name': 'user.latency', 'metric_type': 'guage', 'value': 4,4 'stage': 'Init app'}`;

describe('json_udp config', () => {
  it('listens on loopback UDP port 5090 and inflates compressed datagrams by default', () => {
    const c = jsonUdpSource.schema.parse({}, [], []) as JsonUdpConfig;
    assert.deepEqual(
      c.listen.map((l) => l.url),
      ['udp://127.0.0.1:5090'],
    );
    assert.equal(c.decompress, 'auto');
  });

  it('rejects bad options, with the path of a bad mapping rule', () => {
    for (const [bad, path] of [
      [{ listen: 'nope' }, 'listen'],
      [{ decompress: 'zstd' }, 'decompress'],
      [{ max_line_bytes: 10 }, 'max_line_bytes'],
      [{ listen: 'udp://127.0.0.1:70000' }, 'listen'],
      [{ measurement: '' }, 'measurement'],
      [{ mappings: [{ match: '/(/', name: 'x' }] }, 'mappings[0].match'],
      [{ mappings: [{ match: 'a.*', name: '$2' }] }, 'mappings[0].name'],
      [{ flush_intervl: '10s' }, 'flush_intervl'],
    ] as const) {
      const issues: Issue[] = [];
      jsonUdpSource.schema.parse(bad, [], issues);
      assert.deepEqual(
        issues.map((i) => formatPath(i.path)),
        [path],
        JSON.stringify(bad),
      );
    }
  });
});

describe('json_udp source over UDP', () => {
  it('aggregates the seed messages, passes untyped objects through, and flushes once more on stop', async () => {
    const clock = new ManualClock();
    const { log, lines } = recordingLogger();
    const ctx = testSourceContext({ clock, log, type: 'json_udp' });
    const source = jsonUdpSource.create(config(), ctx) as JsonUdpSource;
    await source.start();
    try {
      const port = source.port;
      assert.ok(port !== undefined && port > 0);
      const info = lines.filter((l) => l.level === 'info');
      assert.equal(info.length, 1);
      assert.equal(info[0]?.port, port);
      assert.equal(info[0]?.decompress, 'auto');

      await send(port, [
        TRACE,
        `${TRACE}\n${GAUGE}\n`,
        SEED_AS_WRITTEN,
        zlib.gzipSync(Buffer.from('{"metric_name":"req","metric_type":"counter","value":2,"code":200}')),
        zlib.deflateSync(Buffer.from('{"metric_name":"req","metric_type":"counter","count":3,"code":200}')),
        '{"metric_name":"lat","metric_type":"timer","value":10}\n{"metric_name":"lat","metric_type":"timer","value":30,"sample_rate":0.5}',
        '{"name": "x", "a": 1, "b": 2.5, "env": "dev"}\n{"metric_name":"disk","used":7,"ok":true}',
        zlib.gzipSync(Buffer.alloc(2_000_000, 0x20)),
        '{"metric_name":"users","metric_type":"set","value":"alice"}\n{"metric_name":"users","metric_type":"set","value":"bob"}\n{"metric_name":"users","metric_type":"set","value":"alice"}',
        '{"metric_name":"req","metric_type":"gauge","value":1}',
      ]);
      await until(() => ctx.stats.total('transport_datagrams_received') === 10, 'ten datagrams');
      clock.advance(10_000);
      source.flush();
      assert.equal(ctx.batches.length, 1);
      const first = ctx.batches.flat();

      const trace = findMetric(first, 'user.apptrace', {
        stage: 'Init app',
        host: '192.44.2.2',
        env: 'development',
      }) as CounterMetric;
      assert.equal(trace.kind, 'counter');
      assert.equal(trace.value, 2);
      const gauge = findMetric(first, 'user.latency', { stage: 'Init app' }) as GaugeMetric;
      assert.equal(gauge.kind, 'gauge');
      assert.equal(gauge.value, 4.4);
      assert.equal((findMetric(first, 'req', { code: '200' }) as CounterMetric).value, 5);
      const lat = findMetric(first, 'lat') as SummaryMetric;
      assert.equal(lat.summary.count, 3);
      assert.equal(lat.summary.max, 30);
      assert.equal((findMetric(first, 'users') as GaugeMetric).value, 2);
      const a = findMetric(first, 'json.a', { name: 'x', env: 'dev' }) as GaugeMetric;
      assert.equal(a.value, 1);
      assert.equal(a.timestamp, clock.now() - 10_000);
      assert.equal((findMetric(first, 'json.b') as GaugeMetric).value, 2.5);
      assert.equal((findMetric(first, 'disk.used') as GaugeMetric).value, 7);
      assert.equal((findMetric(first, 'disk.ok') as GaugeMetric).value, 1);
      // Each untyped object is one point with fields, as Bucky3's jsond passed them on.
      assert.deepEqual(a.point, { measurement: 'json', field: 'a' });
      assert.deepEqual((findMetric(first, 'disk.ok') as GaugeMetric).point, {
        measurement: 'disk',
        field: 'ok',
      });
      const influx = encodeBatch(
        first.filter((m) => m.name.startsWith('json.') || m.name.startsWith('disk.')),
      );
      assert.deepEqual(
        influx.text
          .trim()
          .split('\n')
          .map((l) => l.replace(/ \d+$/, ''))
          .sort(),
        ['disk used=7,ok=1', 'json,env=dev,name=x a=1,b=2.5'],
      );

      assert.equal(stat(ctx, 'lines_received'), 14);
      assert.equal(stat(ctx, 'lines_rejected', 'bad_json'), 1);
      assert.equal(stat(ctx, 'lines_rejected', 'type_conflict'), 1);
      assert.equal(stat(ctx, 'transport_decompress_failures', 'decompressed_too_large'), 1);
      assert.equal(ctx.stats.total('transport_datagrams_decompressed'), 2);
      assert.equal(stat(ctx, 'traces_received'), 2);
      assert.deepEqual(
        source.recentRejections().map((r) => r.reason),
        ['bad_json', 'type_conflict'],
      );
      assert.equal(
        lines.filter((l) => l.level === 'warn' && /Rejected invalid JSON/.test(String(l.msg))).length,
        1,
      );

      // Gauges stay; untyped points were passed on once.
      await send(port, ['{"metric_name":"user.apptrace","metric_type":"trace","stage":"Init app"}']);
      await until(() => ctx.stats.total('transport_datagrams_received') === 11, 'one more datagram');
    } finally {
      await source.stop();
    }
    assert.equal(ctx.batches.length, 2);
    const last = ctx.batches[1] as readonly Metric[];
    assert.equal((findMetric(last, 'user.latency') as GaugeMetric).value, 4.4);
    assert.equal((findMetric(last, 'user.apptrace', { stage: 'Init app' }) as CounterMetric).value, 1);
    assert.equal(last.filter((m) => m.name.startsWith('json.')).length, 0, 'untyped points are emitted once');
  });

  it('maps names with the mapping rules, for typed records and untyped fields', () => {
    const ctx = testSourceContext({ type: 'json_udp' });
    const source = new JsonUdpSource(
      config({
        mappings: [
          { match: '*.api.*', name: 'api_$2', tags: { env: '$1' } },
          { match: 'json.*', name: 'untyped_$1' },
          { match: 'debug.*', action: 'drop' },
        ],
      }),
      ctx,
    );
    source.receive(
      Buffer.from(
        [
          '{"metric_name":"prod.api.requests","metric_type":"counter","value":1,"env":"line"}',
          '{"metric_name":"debug.x","metric_type":"counter","value":1}',
          '{"load":0.5}',
        ].join('\n'),
      ),
    );
    source.flush();
    const metrics = ctx.metrics();
    assert.equal((findMetric(metrics, 'api_requests', { env: 'prod' }) as CounterMetric).value, 1);
    assert.equal((findMetric(metrics, 'untyped_load') as GaugeMetric).value, 0.5);
    assert.equal(metrics.length, 2);
    assert.equal(stat(ctx, 'values_dropped', 'mapping'), 1);
  });

  it('forwards timestamped counters and gauges, and keeps one type per name for untyped fields', () => {
    const clock = new ManualClock();
    const ctx = testSourceContext({ clock, type: 'json_udp' });
    const source = new JsonUdpSource(config(), ctx);
    const ts = clock.now() - 5000;
    source.receive(
      Buffer.from(
        [
          `{"metric_name":"g","metric_type":"gauge","value":1,"timestamp":${ts}}`,
          `{"metric_name":"g","metric_type":"gauge","value":2,"timestamp":${ts + 1000}}`,
          '{"metric_name":"json.a","metric_type":"counter","value":1}',
          '{"a":5,"b":6}',
        ].join('\n'),
      ),
    );
    source.flush();
    const metrics = ctx.metrics();
    assert.deepEqual(
      metrics.filter((m) => m.name === 'g').map((m) => [(m as GaugeMetric).value, m.timestamp]),
      [
        [1, ts],
        [2, ts + 1000],
      ],
    );
    assert.equal(findMetric(metrics, 'json.a').kind, 'counter');
    assert.equal((findMetric(metrics, 'json.b') as GaugeMetric).value, 6);
    assert.deepEqual(
      source.recentRejections().map(({ reason, line }) => ({ reason, line })),
      [{ reason: 'type_conflict', line: '{"a":5,"b":6}' }],
    );
    clock.advance(10_000);
    source.flush();
    assert.equal(ctx.batches.length, 1, 'forwarded and untyped points are emitted once');
  });

  it('bounds the points of untyped objects held between flushes', () => {
    const ctx = testSourceContext({ type: 'json_udp' });
    const source = new JsonUdpSource(config({ max_pending_points: 3 }), ctx);
    source.receive(Buffer.from('{"a":1,"b":2}\n{"c":3,"d":4}\n{"e":5}'));
    source.flush();
    assert.deepEqual(
      ctx.metrics().map((m) => m.name),
      ['json.a', 'json.b', 'json.e'],
    );
    assert.equal(stat(ctx, 'values_dropped', 'pending_full'), 2);
    source.receive(Buffer.from('{"c":3,"d":4}'));
    source.flush();
    assert.equal(ctx.metrics().length, 5, 'the bound is per interval');
  });

  it('reads compressed datagrams as text when decompress is none, and takes JSON over TCP', async () => {
    const ctx = testSourceContext({ type: 'json_udp' });
    const source = new JsonUdpSource(
      config({ decompress: 'none', listen: ['127.0.0.1:0', 'tcp://127.0.0.1:0'] }),
      ctx,
    );
    await source.start();
    try {
      await send(source.port as number, [zlib.gzipSync(Buffer.from('{"a":1}'))]);
      await until(() => ctx.stats.total('lines_rejected') === 1, 'a rejected line');
      const tcp = source.bound().find((b) => b.transport === 'tcp');
      assert.ok(tcp?.port !== undefined);
      const client = net.connect(tcp.port, '127.0.0.1');
      await new Promise<void>((resolve) => client.on('connect', resolve));
      client.end('{"metric_name":"over.tcp","metric_type":"counter","value":2}\n');
      await until(() => stat(ctx, 'lines_received') === 2, 'a line over TCP');
    } finally {
      await source.stop();
    }
    assert.equal((findMetric(ctx.metrics(), 'over.tcp') as CounterMetric).value, 2);
  });

  it('fails to start on a port already taken, and releases nothing it did not bind', async () => {
    const ctx = testSourceContext({ type: 'json_udp' });
    const first = new JsonUdpSource(config(), ctx);
    await first.start();
    try {
      const second = new JsonUdpSource(config({ listen: `127.0.0.1:${first.port}` }), ctx);
      await assert.rejects(second.start());
      await second.stop();
    } finally {
      await first.stop();
    }
  });
});

// ---- the same values as StatsD lines aggregate to the same batches ----------------------------

interface Point {
  name: string;
  type: StatsdTypeCode;
  value: number | string;
  rate: number;
  tags: Tag[];
}

const pointArb: fc.Arbitrary<Point> = fc
  .record({
    name: fc.constantFrom('api.requests', 'api.latency', 'db.size', 'queue', 'users', 'h'),
    type: fc.constantFrom<StatsdTypeCode>('c', 'g', 'ms', 'h', 'd', 's'),
    number: fc.oneof(
      fc.integer({ min: -1000, max: 1000 }),
      fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }),
    ),
    member: fc.constantFrom('alice', 'bob', 'carol', '42', 'zoë'),
    rate: fc.constantFrom(1, 1, 1, 0.5, 0.1, 0.25),
    tags: fc.uniqueArray(fc.tuple(fc.constantFrom('env', 'host', 'route'), fc.constantFrom('a', 'b', '/x')), {
      selector: (t) => t[0],
      maxLength: 3,
    }),
  })
  .map(({ name, type, number, member, rate, tags }) => ({
    // One type per name, so both sides see no type conflict (tested elsewhere).
    name: `${name}.${type}`,
    type,
    // Gauges non-negative: a StatsD "-5|g" is a delta in some dialects, a JSON -5 never is.
    value: type === 's' ? member : type === 'g' ? Math.abs(number) : number,
    // Sets and gauges take no sample rate in StatsD's semantics; keep the comparison on the rest.
    rate: type === 's' || type === 'g' ? 1 : rate,
    tags: tags as Tag[],
  }));

function sortBatch(batch: readonly Metric[]): Metric[] {
  return [...batch].sort((x, y) => (seriesKey(x.name, x.tags) < seriesKey(y.name, y.tags) ? -1 : 1));
}

/** A metric as plain data, the distribution sketch's quantile function left out. */
function plain(m: Metric): unknown {
  if (m.kind !== 'distribution') return m;
  const { quantile: _quantile, ...rest } = m.distribution;
  return { ...m, distribution: rest };
}

describe('json_udp aggregates exactly as statsd', () => {
  it('gives the same batches for the same values sent as JSON records and as StatsD lines', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(pointArb, { minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 5 }),
        (datagrams) => {
          const clock = new ManualClock();
          const jsonCtx = testSourceContext({ clock, type: 'json_udp' });
          const statsdCtx = testSourceContext({ clock, type: 'statsd' });
          const json = new JsonUdpSource(config(), jsonCtx);
          const statsd = statsdSource.create(
            statsdSource.schema.parse({ listen: '127.0.0.1:0', workers: 0 }, [], []) as never,
            statsdCtx,
          ) as StatsdSource;
          for (const points of datagrams) {
            const jsonLines: string[] = [];
            const statsdLines: string[] = [];
            for (const p of points) {
              jsonLines.push(
                formatTypedRecord({
                  name: p.name,
                  type: p.type,
                  value: p.value,
                  sampleRate: p.rate,
                  tags: p.tags,
                }),
              );
              const line = formatStatsdLine({
                name: p.name,
                type: p.type,
                value: p.value,
                sampleRate: p.rate,
                tags: p.tags,
              });
              assert.ok(line !== undefined);
              statsdLines.push(line);
            }
            json.receive(Buffer.from(jsonLines.join('\n')));
            statsd.receive(Buffer.from(statsdLines.join('\n')));
          }
          clock.advance(10_000);
          json.flush();
          statsd.flush();
          assert.equal(jsonCtx.stats.total('lines_rejected'), 0);
          assert.equal(statsdCtx.stats.total('lines_rejected'), 0);
          assert.deepEqual(
            sortBatch(jsonCtx.metrics()).map(plain),
            sortBatch(statsdCtx.metrics()).map(plain),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('json_udp source: series budget', () => {
  it('rejects records and fields that would create a series past max_series, and warns', () => {
    const clock = new ManualClock();
    const { log, lines } = recordingLogger();
    const ctx = testSourceContext({ clock, log });
    const source = new JsonUdpSource(config({ max_series: 2 }), ctx);
    source.receive(
      Buffer.from(
        [
          '{"metric_name":"a","metric_type":"counter","value":1}',
          '{"metric_name":"b","metric_type":"counter","value":1}',
          '{"metric_name":"c","metric_type":"counter","value":1}',
          '{"metric_name":"a","metric_type":"counter","value":2}',
          '{"x":1}',
        ].join('\n'),
      ),
    );
    clock.advance(10_000);
    source.flush();
    assert.equal(stat(ctx, 'lines_rejected', 'series_limit'), 2);
    assert.equal(stat(ctx, 'series_limit'), 2);
    assert.equal((findMetric(ctx.metrics(), 'a') as CounterMetric).value, 3);
    assert.deepEqual(
      source.recentRejections().map((r) => r.reason),
      ['series_limit', 'series_limit'],
    );
    const warning = lines.find((l) => l.level === 'warn' && /max_series/.test(String(l.msg)));
    assert.ok(warning, JSON.stringify(lines));
    assert.equal(warning.refused, 2);
    assert.deepEqual(warning.top_new_series_names, { a: 1, b: 1, c: 1, 'json.x': 1 });
  });
});
