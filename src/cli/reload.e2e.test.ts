/**
 * Reload under traffic, end to end: the built `sluice` as a process, a sender pushing a known
 * number of counter increments over UDP, and 20 SIGHUPs meanwhile, each with another config
 * file: some change the StatsD source (its percentiles, its flush interval), some add and remove
 * a sink and a filter, some are invalid. The exporter exists throughout and must read exactly
 * what was sent; the kernel must have dropped nothing (so a loss would be sluice's).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { freePort, httpGet, listeningOn, sampleValue, startSluice, waitFor } from '../testing/processes.js';
import { promtoolProblems } from '../testing/promtool.js';
import { sendStatsd, udpSocketStats, waitForUdpDrain } from '../testing/udp.js';

const LINES = 60_000;
const RELOADS = 20;

for (const workers of [0, 'auto'] as const) {
  describe(`reload under traffic (statsd workers: ${workers})`, () => {
    it(`${RELOADS} reloads, some invalid, leave the counter total exact in the sink that existed throughout`, async (t) => {
      const statsdPort = await freePort('udp');
      const httpPort = await freePort('tcp');
      const extraPort = await freePort('tcp');
      /** The config of reload i: which parts change is chosen by i (see the file's comment). */
      const config = (i: number): string => {
        const kind = i % 5;
        const percentiles = kind === 1 ? `[50, ${90 + (i % 9)}]` : '[50, 90]';
        const flush = kind === 4 ? '300ms' : '500ms';
        const extraSink =
          kind === 2 ? `  extra:\n    type: prometheus_exporter\n    listen: 127.0.0.1:${extraPort}\n` : '';
        const filters =
          kind === 3
            ? 'filters:\n  - { action: drop, name: "unrelated.*" }\n'
            : kind === 0 && i > 0
              ? 'filters:\n  - { action: nope }\n'
              : '';
        return `agent:
  host_tag: ""
sources:
  statsd:
    type: statsd
    listen: 127.0.0.1:${statsdPort}
    flush_interval: ${flush}
    percentiles: ${percentiles}
    workers: ${workers}
sinks:
  prometheus:
    type: prometheus_exporter
    listen: 127.0.0.1:${httpPort}
${extraSink}${filters}`;
      };
      const sluice = startSluice({ owner: t, config: config(0) });
      await sluice.waitForLog(listeningOn(statsdPort));
      await sluice.waitForLog(listeningOn(httpPort));
      const before = udpSocketStats(statsdPort);

      // 60,000 increments over ~6 s, 20 lines per datagram: far below the loss-free rates.
      const sending = sendStatsd(statsdPort, Array<string>(LINES).fill('reload.hits:1|c|#k:v'), {
        perDatagram: 20,
        linesPerSecond: 10_000,
      });
      const outcomes = (): number =>
        sluice.logs().filter((l) => l.msg === 'Reloaded.' || String(l.msg).startsWith('Reload refused'))
          .length;
      let refused = 0;
      for (let i = 1; i <= RELOADS; i++) {
        writeFileSync(sluice.configPath, config(i));
        process.kill(sluice.pid as number, 'SIGHUP');
        await waitFor(async () => (outcomes() >= i ? true : undefined), {
          timeoutMs: 10_000,
          what: `the outcome of reload ${i}`,
        });
        if (i % 5 === 0) refused++;
        await new Promise((r) => setTimeout(r, 200));
      }
      await sending;
      await waitForUdpDrain(statsdPort);
      assert.equal(udpSocketStats(statsdPort)?.drops, before?.drops, 'the kernel dropped nothing');

      const reloaded = sluice.logs().filter((l) => l.msg === 'Reloaded.');
      assert.equal(reloaded.length, RELOADS - refused);
      assert.equal(sluice.logs().filter((l) => String(l.msg).startsWith('Reload refused')).length, refused);
      // The StatsD source took its new options in place every time it changed (sockets kept).
      const troubles = JSON.stringify(
        sluice
          .logs()
          .filter((l) => l.level === 'warn' || l.level === 'error')
          .slice(0, 5),
      );
      const outcome =
        troubles +
        JSON.stringify(
          reloaded.map(({ added, removed, rebuilt, reconfigured }) => ({
            added,
            removed,
            rebuilt,
            reconfigured,
          })),
        );
      assert.ok(
        reloaded.some((l) => (l.reconfigured as string[]).includes('statsd')),
        outcome,
      );
      assert.ok(
        reloaded.every((l) => !(l.rebuilt as string[]).includes('statsd')),
        'never rebuilt',
      );
      assert.ok(
        reloaded.every((l) => (l.unchanged as string[]).includes('prometheus')),
        outcome,
      );

      const total = await waitFor(
        async () => {
          const r = await httpGet(`http://127.0.0.1:${httpPort}/metrics`);
          const v = sampleValue(r.body.toString('utf8'), 'reload_hits_total{k="v"}');
          return v === LINES ? v : undefined;
        },
        { timeoutMs: 15_000, what: `reload_hits_total to reach ${LINES}` },
      ).catch(async (error: unknown) => {
        const r = await httpGet(`http://127.0.0.1:${httpPort}/metrics`);
        throw new Error(
          `${(error as Error).message}: ${sampleValue(r.body.toString('utf8'), 'reload_hits_total{k="v"}')}`,
        );
      });
      assert.equal(total, LINES);
      const page = (await httpGet(`http://127.0.0.1:${httpPort}/metrics`)).body.toString('utf8');
      assert.deepEqual(promtoolProblems(page), [], 'promtool check metrics on the scrape');
      assert.equal((await sluice.stop('SIGTERM')).code, 0);
    });
  });
}
