import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import type { Issue } from '../../config/schema.js';
import { ManualClock } from '../../core/clock.js';
import type { CounterMetric, GaugeMetric, SummaryMetric } from '../../core/metric.js';
import { findMetric, recordingLogger, testSourceContext } from '../../testing/context.js';
import { StatsdSource, statsdSource, type StatsdConfig } from './index.js';

function config(overrides: Record<string, unknown> = {}): StatsdConfig {
  const issues: Issue[] = [];
  const c = statsdSource.schema.parse({ listen: '127.0.0.1:0', workers: 0, ...overrides }, [], issues);
  assert.deepEqual(issues, []);
  return c as StatsdConfig;
}

async function send(port: number, host: string, datagrams: string[]): Promise<void> {
  const client = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  try {
    for (const d of datagrams) {
      await new Promise<void>((resolve, reject) =>
        client.send(Buffer.from(d), port, host, (e) => (e ? reject(e) : resolve())),
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

describe('statsd config', () => {
  it('rejects bad options', () => {
    for (const bad of [
      { listen: 'nope' },
      { flush_interval: '1ms' },
      { percentiles: [101] },
      { receive_buffer_bytes: -1 },
      { flush_intervl: '10s' },
      { dialect: 'graphite' },
      { mode: 'loose' },
      { timestamp_window: 'soon' },
      { histogram_bins: { default: [2, 1] } },
      { counters_bucket: ['x'] },
      { mappings: [{ match: '/(/', name: 'x' }] },
    ]) {
      const issues: Issue[] = [];
      statsdSource.schema.parse(bad, [], issues);
      assert.equal(issues.length, 1, JSON.stringify(bad));
    }
  });
});

describe('statsd source over UDP', () => {
  it('aggregates real datagrams, and flushes once more on stop', async () => {
    const clock = new ManualClock();
    const { log, lines } = recordingLogger();
    const ctx = testSourceContext({ clock, log, type: 'statsd' });
    const source = statsdSource.create(config(), ctx) as StatsdSource;
    await source.start();
    try {
      const port = source.port;
      assert.ok(port !== undefined && port > 0);
      const info = lines.filter((l) => l.level === 'info');
      assert.equal(info.length, 1);
      assert.equal(info[0]?.address, '127.0.0.1');
      assert.equal(info[0]?.port, port);
      assert.equal(typeof info[0]?.receive_buffer_bytes, 'number');

      await send(port, '127.0.0.1', [
        'req:1|c|#route:/a,code:200\nreq:2|c|#code:200,route:/a',
        'lat:10|ms\nlat:30|ms|@0.5\ntemp:21.5|g',
        'users:alice|s\nusers:bob|s\nbad line\n_e{1,1}:a|b',
      ]);
      await until(() => ctx.stats.total('datagrams_received') === 3, 'three datagrams');
      source.flush();
      assert.equal(ctx.batches.length, 1);
      const first = ctx.batches.flat();
      const req = findMetric(first, 'req', { route: '/a', code: '200' }) as CounterMetric;
      assert.equal(req.value, 3);
      assert.equal(req.intervalMs, 10_000);
      assert.equal((findMetric(first, 'lat') as SummaryMetric).summary.count, 3);
      assert.equal((findMetric(first, 'temp') as GaugeMetric).value, 21.5);
      assert.equal((findMetric(first, 'users') as GaugeMetric).value, 2);

      assert.equal(ctx.stats.total('lines_received'), 9);
      assert.equal(ctx.stats.total('lines_rejected'), 1);
      assert.ok(ctx.stats.total('bytes_received') > 50);
      assert.deepEqual(
        source.recentRejections().map((r) => r.reason),
        ['missing_value'],
      );
      assert.deepEqual(
        ctx.events.map((e) => e.kind === 'event' && [e.title, e.text]),
        [['a', 'b']],
      );
      const self = ctx.stats.toMetrics(0);
      assert.equal(
        (findMetric(self, 'sluice_lines_rejected', { reason: 'missing_value' }) as CounterMetric).value,
        1,
      );
      assert.equal((findMetric(self, 'sluice_events_received', { kind: 'event' }) as CounterMetric).value, 1);

      // Counted after the last flush, delivered by stop.
      const before = ctx.batches.length;
      await send(port, '127.0.0.1', ['late:5|c']);
      await until(() => ctx.stats.total('datagrams_received') === 4, 'the fourth datagram');
      clock.advance(2500);
      await source.stop();
      const finalBatches = ctx.batches.slice(before).flat();
      const late = finalBatches.filter((m) => m.name === 'late');
      assert.equal(late.length, 1, 'the late counter is flushed exactly once');
      assert.equal((late[0] as CounterMetric).value, 5);
      assert.equal(
        (late[0] as CounterMetric).intervalMs,
        2500,
        'the short last interval reports its true length',
      );
      assert.equal(source.port, undefined);
      assert.deepEqual(ctx.failures, []);
    } finally {
      await source.stop();
    }
  });

  it('emits on the flush timer', async () => {
    const ctx = testSourceContext();
    const source = new StatsdSource(config({ flush_interval: '100ms' }), ctx);
    await source.start();
    try {
      await send(source.port as number, '127.0.0.1', ['tick:1|c']);
      await until(() => ctx.batches.length > 0, 'a timer flush');
      assert.equal((findMetric(ctx.metrics(), 'tick') as CounterMetric).intervalMs, 100);
    } finally {
      await source.stop();
    }
    assert.equal(ctx.metrics().length, 1);
  });

  it('stop without start emits nothing', async () => {
    const ctx = testSourceContext();
    const source = new StatsdSource(config(), ctx);
    await source.stop();
    assert.deepEqual(ctx.batches, []);
  });

  it('reports an unexpected exception in the message handler through ctx.fail', async () => {
    const ctx = testSourceContext();
    const source = new StatsdSource(config(), ctx);
    await source.start();
    try {
      const boom = new Error('boom');
      source.receive = () => {
        throw boom;
      };
      await send(source.port as number, '127.0.0.1', ['a:1|c']);
      await until(() => ctx.failures.length > 0, 'the failure');
      assert.deepEqual(ctx.failures, [boom]);
    } finally {
      await source.stop();
    }
  });

  it('rejects start when the address is taken', async () => {
    const a = new StatsdSource(config(), testSourceContext());
    await a.start();
    try {
      const b = new StatsdSource(config({ listen: `127.0.0.1:${a.port}` }), testSourceContext());
      await assert.rejects(b.start(), /EADDRINUSE/);
    } finally {
      await a.stop();
    }
  });

  it('can be restarted after stop, keeping its gauges', async () => {
    const ctx = testSourceContext();
    const source = new StatsdSource(config(), ctx);
    await source.start();
    source.receive(Buffer.from('g:4|g'));
    await source.stop();
    await source.start();
    try {
      assert.ok(source.port !== undefined);
      source.flush();
      assert.equal(ctx.batches.length, 2);
      assert.equal((findMetric(ctx.batches[1] ?? [], 'g') as GaugeMetric).value, 4);
    } finally {
      await source.stop();
    }
  });

  it('binds udp6 for an IPv6 address', async (t) => {
    const ctx = testSourceContext();
    const source = new StatsdSource(config({ listen: '[::1]:0' }), ctx);
    try {
      await source.start();
    } catch (e) {
      // CI machines have ::1; elsewhere a host without IPv6 may skip, and says so.
      if (process.env.CI === 'true') throw e;
      t.skip(`no IPv6 loopback here: ${(e as Error).message}`);
      return;
    }
    try {
      await send(source.port as number, '::1', ['six:6|c']);
      await until(() => ctx.stats.total('lines_received') === 1, 'the datagram');
      source.flush();
      assert.equal((findMetric(ctx.metrics(), 'six') as CounterMetric).value, 6);
    } finally {
      await source.stop();
    }
  });
});

describe('statsd source over TCP and gzip-compressed UDP', () => {
  it('aggregates lines from a TCP stream split anywhere, and compressed datagrams, like plain UDP', async () => {
    const ctx = testSourceContext();
    const source = new StatsdSource(
      config({ listen: ['udp://127.0.0.1:0', 'tcp://127.0.0.1:0'], decompress: 'auto' }),
      ctx,
    );
    await source.start();
    try {
      const [udp, tcp] = source.bound();
      const conn = net.connect(tcp?.port as number, '127.0.0.1');
      await new Promise<void>((resolve) => conn.once('connect', () => resolve()));
      // A line cut across writes is reassembled by the transport before the parser sees it.
      conn.write('streamed:2|c|#via:tc');
      conn.write('p\nstreamed:3|c|#via:tcp\n');
      await new Promise<void>((resolve) => conn.end(resolve));
      const client = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) =>
        client.send(gzipSync('zipped:5|c'), udp?.port as number, '127.0.0.1', (e) =>
          e ? reject(e) : resolve(),
        ),
      );
      client.close();
      await until(() => ctx.stats.total('lines_received') === 3, 'three lines');
      source.flush();
      assert.equal((findMetric(ctx.metrics(), 'streamed', { via: 'tcp' }) as CounterMetric).value, 5);
      assert.equal((findMetric(ctx.metrics(), 'zipped') as CounterMetric).value, 5);
    } finally {
      await source.stop();
    }
  });
});

describe('statsd source with a statsd_exporter mapping file (mapping_config)', () => {
  it('maps names as the file says, globs before regexes, and drops what it drops', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-mapping-'));
    try {
      const file = join(dir, 'mapping.yml');
      writeFileSync(
        file,
        `mappings:
- match: '(.*)\\.(.*)\\.requests'
  match_type: regex
  name: "regex_requests"
- match: test.dispatcher.*.*.*
  name: "dispatch_events"
  labels:
    processor: "$1"
    action: "$2"
    outcome: "$3"
- match: noisy.*.*
  name: "unused"
  action: drop
`,
      );
      const ctx = testSourceContext();
      const source = new StatsdSource(config({ mapping_config: file }), ctx);
      source.receive(
        Buffer.from('test.dispatcher.fg.send.ok:2|c|#env:prod\nnoisy.a.b:1|c\napi.web.requests:3|c'),
      );
      source.flush();
      const m = ctx.metrics();
      assert.deepEqual(
        m.map((x) => [x.name, Object.fromEntries(x.tags), (x as CounterMetric).value]).sort(),
        [
          ['dispatch_events', { action: 'send', env: 'prod', outcome: 'ok', processor: 'fg' }, 2],
          ['regex_requests', {}, 3],
        ],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reports the mapping file's problems with the config, with their line, and refuses mappings beside it", () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-mapping-'));
    try {
      const file = join(dir, 'mapping.yml');
      writeFileSync(file, 'mappings:\n- match: a.*\n  name: ok\n  observer_typo: histogram\n');
      const issues: Issue[] = [];
      statsdSource.schema.parse({ listen: '127.0.0.1:0', mapping_config: file }, [], issues);
      assert.equal(issues.length, 1);
      assert.equal(
        issues[0]?.message,
        `invalid mapping file:\n${file}:4:3: mappings[0].observer_typo: unknown or unsupported key in a mapping; known keys: match, help, match_type, match_metric_type, name, labels, action, honor_labels, observer_type, timer_type, buckets, quantiles, histogram_options, summary_options, ttl`,
      );
      const missing: Issue[] = [];
      statsdSource.schema.parse({ mapping_config: join(dir, 'nope.yml') }, [], missing);
      assert.match(missing[0]?.message ?? '', /cannot read the mapping file: ENOENT/);
      writeFileSync(file, 'mappings:\n- match: a.*\n  name: ok\n');
      const both: Issue[] = [];
      statsdSource.schema.parse({ mapping_config: file, mappings: [{ match: 'b.*', name: 'b' }] }, [], both);
      assert.deepEqual(both, [
        {
          path: ['mapping_config'],
          message: 'set either mapping_config (a statsd_exporter file) or mappings (sluice rules), not both',
        },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tags written in names (name_tags)', () => {
  it('reads the formats asked for, and leaves other names whole', () => {
    const ctx = testSourceContext();
    const source = new StatsdSource(config({ name_tags: ['influxdb', 'graphite'] }), ctx);
    source.receive(Buffer.from('req,env=prod,dc=a:1|c|#dc:b\ncarbon.cpu;host=web1:5|g\nlib#env=x:1|c'));
    source.flush();
    assert.deepEqual(
      ctx
        .metrics()
        .map((m) => [m.name, Object.fromEntries(m.tags)])
        .sort(),
      [
        ['carbon.cpu', { host: 'web1' }],
        ['lib#env=x', {}],
        ['req', { dc: 'b', env: 'prod' }],
      ],
    );
  });
});

describe('rejected lines and their senders', () => {
  it('keeps who sent each rejected line: the UDP source address, the TCP peer, the Unix socket', async () => {
    const clock = new ManualClock(1_800_000_000_000);
    const ctx = testSourceContext({ clock });
    const dir = mkdtempSync(join(tmpdir(), 'sluice-rejected-'));
    const sock = join(dir, 's.sock');
    const source = new StatsdSource(
      config({ listen: ['udp://127.0.0.1:0', 'tcp://127.0.0.1:0', `unix://${sock}`] }),
      ctx,
    );
    await source.start();
    try {
      const [udp, tcp] = source.bound();
      const client = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', () => resolve()));
      await new Promise<void>((resolve, reject) =>
        client.send('ok:1|c\nbad udp', udp?.port as number, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
      );
      const udpFrom = `udp://127.0.0.1:${client.address().port}`;
      client.close();
      await until(() => ctx.stats.total('lines_received') === 2, 'the datagram');
      clock.advance(1000);
      const conn = net.connect(tcp?.port as number, '127.0.0.1');
      await new Promise<void>((resolve) => conn.once('connect', () => resolve()));
      const tcpFrom = `tcp://127.0.0.1:${conn.localPort}`;
      await new Promise<void>((resolve) => conn.end('bad tcp\n', resolve));
      await until(() => ctx.stats.total('lines_received') === 3, 'the TCP line');
      const unix = net.connect(sock);
      await new Promise<void>((resolve) => unix.once('connect', () => resolve()));
      await new Promise<void>((resolve) => unix.end('bad unix\n', resolve));
      await until(() => ctx.stats.total('lines_received') === 4, 'the Unix line');
      assert.deepEqual(source.recentRejections(), [
        { reason: 'missing_value', line: 'bad udp', from: udpFrom, at: 1_800_000_000_000 },
        { reason: 'missing_value', line: 'bad tcp', from: tcpFrom, at: 1_800_000_001_000 },
        { reason: 'missing_value', line: 'bad unix', from: `unix://${sock}`, at: 1_800_000_001_000 },
      ]);
    } finally {
      await source.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the rejected lines across a reload that keeps the sockets', async () => {
    const ctx = testSourceContext();
    const source = new StatsdSource(config({ listen: ['udp://127.0.0.1:0'] }), ctx);
    source.receive(Buffer.from('before reload'));
    assert.equal(
      await source.reconfigure(config({ listen: ['udp://127.0.0.1:0'], percentiles: [50] })),
      true,
    );
    source.receive(Buffer.from('after reload'));
    assert.deepEqual(
      source.recentRejections().map((r) => r.line),
      ['before reload', 'after reload'],
    );
  });
});

describe('statsd source without a socket', () => {
  it('warns about rejected lines at most once a minute, with counts and the last line', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const { log, lines } = recordingLogger();
    const source = new StatsdSource(config(), testSourceContext({ clock, log }));
    source.receive(Buffer.from('x\n:1|c'));
    source.flush();
    source.receive(Buffer.from('y'));
    clock.advance(10_000);
    source.flush();
    clock.advance(60_000);
    source.flush();
    const warns = lines.filter((l) => l.level === 'warn');
    assert.equal(warns.length, 2);
    assert.deepEqual(warns[0]?.reasons, { missing_value: 1, empty_name: 1 });
    assert.deepEqual(warns[0]?.last, { reason: 'empty_name', line: ':1|c', at: 1_700_000_000_000 });
    assert.equal(warns[1]?.count, 1);
  });

  it('reports series held and evicted', () => {
    const clock = new ManualClock();
    const ctx = testSourceContext({ clock });
    const source = new StatsdSource(config({ expiry: '20s', flush_interval: '10s' }), ctx);
    source.receive(Buffer.from('a:1|g\nb:1|c'));
    clock.advance(10_000);
    source.flush();
    const held = (): number => (findMetric(ctx.stats.toMetrics(0), 'sluice_series') as GaugeMetric).value;
    assert.equal(held(), 2);
    clock.advance(20_000);
    source.flush();
    assert.equal(held(), 0);
    assert.equal(ctx.stats.total('series_evicted'), 2);
  });
});

describe('statsd source: dialects, repairs, conflicts and events', () => {
  it('counts type conflicts and repairs by reason, and hands events on per datagram', () => {
    const clock = new ManualClock(1656581400_000);
    const ctx = testSourceContext({ clock });
    const source = new StatsdSource(config({ dialect: 'etsy' }), ctx);
    source.receive(Buffer.from('x:1|c\nx:2|g\ny:1|d\ng:5|g\ng:+2|g\n_e{1,1}:a|b\n_sc|up|0'));
    assert.equal(ctx.events.length, 2);
    source.receive(Buffer.from('z:1|c|@2'));
    source.flush();
    const self = ctx.stats.toMetrics(0);
    const stat = (name: string, tags: Record<string, string>): number =>
      (findMetric(self, name, tags) as CounterMetric).value;
    assert.equal(stat('sluice_lines_rejected', { reason: 'type_conflict' }), 1);
    assert.equal(stat('sluice_lines_repaired', { reason: 'unknown_type_as_counter' }), 1);
    assert.equal(stat('sluice_lines_repaired', { reason: 'sample_rate_clamped' }), 1);
    assert.equal(stat('sluice_events_received', { kind: 'service_check' }), 1);
    const b = ctx.metrics();
    assert.equal((findMetric(b, 'g') as GaugeMetric).value, 7, 'etsy: +2 is a delta');
    assert.equal((findMetric(b, 'y') as CounterMetric).value, 1, 'etsy: d counts');
    assert.equal((findMetric(b, 'z') as CounterMetric).value, 1);
    assert.deepEqual(
      source.recentRejections().map(({ reason, line }) => ({ reason, line })),
      [{ reason: 'type_conflict', line: 'x:2|g' }],
    );
  });

  it('rejects in strict mode what lenient mode repairs', () => {
    const ctx = testSourceContext();
    const source = new StatsdSource(config({ mode: 'strict' }), ctx);
    source.receive(Buffer.from('z:1|c|@2\nz:1|c|x'));
    assert.equal(ctx.stats.total('lines_rejected'), 2);
    assert.equal(ctx.stats.total('lines_repaired'), 0);
  });

  it('applies buckets and the timestamp window from the config', () => {
    const clock = new ManualClock(1656581400_000);
    const ctx = testSourceContext({ clock });
    const source = new StatsdSource(
      config({ dialect: 'bucky', counters_bucket: 'stats_counters', timestamp_window: '60s' }),
      ctx,
    );
    source.receive(Buffer.from('req:1|c|#timestamp=1656581370\nreq:1|c|#timestamp=1656581300'));
    source.flush();
    const m = findMetric(ctx.metrics(), 'stats_counters', { name: 'req' }) as CounterMetric;
    assert.equal(m.value, 1);
    assert.equal(m.timestamp, 1656581370_000);
    assert.equal(ctx.stats.total('lines_rejected'), 1);
  });
});

describe('statsd source: mappings', () => {
  it('turns dotted names into a name and tags, and drops what a rule drops', () => {
    const ctx = testSourceContext();
    const source = new StatsdSource(
      config({
        mappings: [
          { match: '*.*.api.requests', name: 'api_requests', tags: { env: '$1', host: '$2' } },
          { match: 'debug.*', action: 'drop' },
        ],
      }),
      ctx,
    );
    source.receive(
      Buffer.from('prod.web01.api.requests:1|c\nprod.web01.api.requests:2|c\ndebug.x:1|c\nother:1|c'),
    );
    source.flush();
    const b = ctx.metrics();
    assert.equal((findMetric(b, 'api_requests', { env: 'prod', host: 'web01' }) as CounterMetric).value, 3);
    assert.equal((findMetric(b, 'other') as CounterMetric).value, 1);
    assert.equal(b.length, 2);
  });
});

describe('statsd source: series budget', () => {
  it('refuses series past max_series, exports the budget and the top names, and says what to change', () => {
    const clock = new ManualClock();
    const { log, lines } = recordingLogger();
    const ctx = testSourceContext({ clock, log });
    const source = new StatsdSource(config({ max_series: 3 }), ctx);
    const leak = Array.from({ length: 20 }, (_, i) => `api.latency:1|c|#request_id:${i}`);
    source.receive(Buffer.from(['ok:1|c', ...leak, 'other:1|c'].join('\n')));
    source.receive(Buffer.from('ok:1|c'));
    clock.advance(10_000);
    source.flush();
    const self = ctx.stats.toMetrics(0);
    const value = (name: string, tags: Record<string, string> = {}): number =>
      (findMetric(self, name, tags) as CounterMetric | GaugeMetric).value;
    assert.equal(value('sluice_lines_rejected', { reason: 'series_limit' }), 19);
    assert.equal(value('sluice_series'), 3);
    assert.equal(value('sluice_series_limit'), 3);
    assert.equal(value('sluice_series_new_top_names', { name: 'api.latency' }), 20);
    assert.equal(value('sluice_series_new_top_names', { name: 'other' }), 1);
    assert.equal((findMetric(ctx.metrics(), 'ok') as CounterMetric).value, 2);
    const warning = lines.find((l) => l.level === 'warn' && /max_series/.test(String(l.msg)));
    assert.ok(warning, JSON.stringify(lines));
    assert.match(String(warning.msg), /expiry.*mappings.*action: drop/);
    assert.equal(warning.refused, 19);
    assert.equal(warning.max_series, 3);
    assert.deepEqual(warning.top_new_series_names, { 'api.latency': 20, ok: 1, other: 1 });

    // The next interval's names replace the last one's, so the gauge stays bounded.
    source.receive(Buffer.from('fresh:1|c'));
    clock.advance(10_000);
    source.flush();
    const names = ctx.stats
      .toMetrics(0)
      .filter((m) => m.name === 'sluice_series_new_top_names')
      .map((m) => m.tags.find(([k]) => k === 'name')?.[1]);
    assert.deepEqual(names, ['fresh']);
  });

  it('holds any number of series with max_series 0', () => {
    const ctx = testSourceContext();
    const source = new StatsdSource(config({ max_series: 0 }), ctx);
    source.receive(Buffer.from(Array.from({ length: 1000 }, (_, i) => `s${i}:1|c`).join('\n')));
    source.flush();
    assert.equal(ctx.stats.total('lines_rejected'), 0);
    assert.equal((findMetric(ctx.stats.toMetrics(0), 'sluice_series') as GaugeMetric).value, 1000);
  });
});
