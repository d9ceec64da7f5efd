/**
 * The relay inside a real agent: a statsd source on loopback, statsd sinks in both modes, and
 * upstream StatsD servers (sluice's own statsd source, in process) that aggregate what arrives.
 * Also the raw-line contract between sources, pipeline and sinks (SourceContext.rawOutlet).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { loadConfig, type Registry } from '../../config/load.js';
import { Agent } from '../../core/agent.js';
import { systemClock } from '../../core/clock.js';
import { Filter } from '../../core/filter.js';
import { Pipeline } from '../../core/pipeline.js';
import { rawLines, statsdSource } from '../../sources/statsd/index.js';
import { recordingLogger } from '../../testing/context.js';
import { freePort, waitFor } from '../../testing/processes.js';
import { stat } from '../../testing/push.js';
import { StatsdUpstream } from '../../testing/statsd-upstream.js';
import { sendStatsd } from '../../testing/udp.js';
import { statsdSink } from './index.js';

const registry = { sources: [statsdSource], sinks: [statsdSink] } as unknown as Registry;

function agentFor(yaml: string): Agent {
  const config = loadConfig(yaml, { file: 't', env: {}, registry, defaultHostname: 'relay-host' });
  return new Agent(config, recordingLogger().log, systemClock);
}

describe('raw lines: the contract', () => {
  it('the pipeline hands raw lines only to the sinks that declared the protocol, frozen', () => {
    const got: [string, readonly string[]][] = [];
    const sink = { writeRaw: (p: string, lines: readonly string[]) => got.push([p, lines]) };
    const none = new Pipeline(new Filter([]), [], []);
    assert.equal(none.rawLines('statsd'), undefined, 'no sink, no handler: sources skip the work');
    const pipeline = new Pipeline(new Filter([]), [['env', 'x']], [], [{ protocol: 'statsd', sink }]);
    const handler = pipeline.rawLines('statsd') ?? assert.fail('a handler');
    handler(['a:1|c', 'garbage']);
    handler([]);
    assert.deepEqual(got, [['statsd', ['a:1|c', 'garbage']]]);
    assert.ok(Object.isFrozen(got[0]?.[1]));
    assert.equal(pipeline.rawReceived, 2);
  });

  it("the statsd source's raw lines: every non-empty line, CRLF or LF, valid or not", () => {
    const line = fc.string({ unit: 'grapheme', maxLength: 20 }).filter((l) => !/[\r\n]/.test(l));
    fc.assert(
      fc.property(fc.array(fc.tuple(line, fc.boolean())), fc.boolean(), (items, trailing) => {
        let text = items.map(([l, crlf]) => l + (crlf ? '\r' : '')).join('\n');
        if (trailing) text += '\n';
        assert.deepEqual(
          rawLines(Buffer.from(text, 'utf8')),
          items.map(([l]) => l).filter((l) => l !== ''),
        );
      }),
    );
    assert.deepEqual(rawLines(Buffer.from([0x61, 0xff, 0x0a, 0x0d, 0x0a])), ['a\ufffd']);
  });

  it('a statsd source gets a handler only when a sink in the config forwards raw lines', () => {
    const base = `sources: { in: { type: statsd, listen: "127.0.0.1:0" } }\n`;
    const aggregates = agentFor(base + `sinks: { up: { type: statsd, forward: aggregates } }\n`);
    assert.equal(aggregates.pipeline.rawLines('statsd'), undefined);
    const raw = agentFor(base + `sinks: { up: { type: statsd, forward: raw } }\n`);
    assert.equal(typeof raw.pipeline.rawLines('statsd'), 'function');
  });
});

describe('the statsd sink in an agent', () => {
  it('relays aggregates (filtered, tagged) and raw lines (verbatim) to upstream servers', async (t) => {
    const rawUp = new StatsdUpstream(`udp://127.0.0.1:${await freePort('udp')}`);
    const aggUp = new StatsdUpstream(`tcp://127.0.0.1:${await freePort('tcp')}`);
    await rawUp.start();
    await aggUp.start();
    t.after(() => Promise.all([rawUp.stop(), aggUp.stop()]));
    const inPort = await freePort('udp');
    const agent = agentFor(`agent: { tags: { env: prod }, host_tag: "" }
sources:
  in: { type: statsd, listen: "127.0.0.1:${inPort}", flush_interval: 100ms }
sinks:
  raw: { type: statsd, forward: raw, endpoints: ["${rawUp.listen.slice('udp://'.length)}"] }
  agg: { type: statsd, transport: tcp, endpoints: ["${aggUp.listen.slice('tcp://'.length)}"] }
filters:
  - { action: drop, name: secret }
`);
    await agent.start();
    const lines = [
      'hits:1|c|#route:/a',
      'hits:2|c|@0.5|#route:/a',
      'secret:5|c',
      'temp:-3|g|#room:b',
      'lat:10|ms',
      'lat:20|ms',
      'not a statsd line',
    ];
    await sendStatsd(inPort, lines, { perDatagram: 7 });
    const sinkCtx = (id: string) => ({ stats: agent.sinks.find((s) => s.id === id)?.stats }) as never;
    await waitFor(() => (stat(sinkCtx('raw'), 'points_sent') === 7 ? true : undefined), {
      timeoutMs: 5000,
      what: 'the raw relay to send the 7 lines',
    });
    await agent.stop();
    await waitFor(() => (aggUp.counters().get('hits{env=prod,route=/a}') === 5 ? true : undefined), {
      timeoutMs: 5000,
      what: 'the aggregates upstream to count hits',
      describe: () => JSON.stringify([...aggUp.counters()]),
    });
    await rawUp.stop();
    await aggUp.stop();

    // Raw: every line as received, none filtered, no agent tag; the upstream parses them itself.
    assert.deepEqual([...rawUp.counters()].sort(), [
      ['hits{route=/a}', 5],
      ['secret{}', 5],
    ]);
    assert.deepEqual([...rawUp.gauges()], [['temp{room=b}', -3]]);
    assert.equal(stat(rawUp.ctx, 'lines_rejected'), 1, 'the invalid line was relayed too');
    const rawLat = rawUp.metrics().find((m) => m.name === 'lat');
    assert.equal(rawLat?.kind === 'summary' && rawLat.summary.count, 2);

    // Aggregates: filtered and tagged like every sink's metrics, timers as statistics.
    const counters = aggUp.counters();
    assert.equal(counters.get('hits{env=prod,route=/a}'), 5);
    assert.equal(counters.get('secret{env=prod}'), undefined);
    assert.equal(counters.get('lat.count{env=prod}'), 2);
    assert.equal(counters.get('lat.sum{env=prod}'), 30);
    const gauges = aggUp.gauges();
    assert.equal(gauges.get('temp{env=prod,room=b}'), -3);
    assert.equal(gauges.get('lat.upper{env=prod}'), 20);
    assert.equal(stat(aggUp.ctx, 'lines_rejected'), 0);
  });
});
