/**
 * statsd_exporter's exporter test cases against the real Prometheus: the built `sluice` runs as
 * a drop-in for statsd_exporter (a statsd source with the case's mapping file, the exporter with
 * `counter_suffix: false`, no host tag), one process per mapping file; StatsD datagrams carry
 * each case's events; a real Prometheus scrapes every process, and each case's expected series,
 * types, values and sums are read back through its query and metadata APIs. The in-process twin
 * (statsd-exporter.test.ts) checks the same cases step by step; here the TTL case is checked at
 * its start and its end (its middle step is a one-second window, too short for scrapes every
 * second). Needs `prometheus` (Debian: apt-get install prometheus); skipped without it, except
 * under CI=true.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  freePort,
  httpGet,
  listeningOn,
  serverPrograms,
  startSluice,
  waitFor,
  type RunningProcess,
  type SluiceProcess,
} from '../../testing/processes.js';
import {
  exporterCases,
  mappingText,
  statsdLine,
  type ExporterCase,
  type ExporterEvent,
  type ExporterExpect,
} from '../../testing/statsd-exporter-cases.js';
import { startScraper } from '../../testing/prometheus-scraper.js';

const servers = serverPrograms(['prometheus'], 'apt-get install prometheus');

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** A PromQL selector for exactly these labels (Prometheus adds job and instance, left free). */
function selector(name: string, labels: Record<string, string>, extra = ''): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  if (extra !== '') parts.push(extra);
  return `${name}{${parts.join(',')}}`;
}

/** Only the series whose labels are exactly these (besides job, instance and the extra one). */
function exact(samples: Sample[], labels: Record<string, string>, except: string[] = []): Sample[] {
  return samples.filter((s) => {
    const own = Object.entries(s.metric).filter(
      ([k]) => !['__name__', 'job', 'instance', ...except].includes(k),
    );
    return own.length === Object.keys(labels).length && own.every(([k, v]) => labels[k] === v);
  });
}

describe(
  "statsd_exporter's exporter test cases, scraped from sluice by the real Prometheus",
  {
    skip: servers.skip,
    timeout: 240_000,
  },
  () => {
    let tmp = '';
    const sluices: SluiceProcess[] = [];
    /** The statsd port of the process running each case's mapping. */
    const portOf = new Map<string, number>();
    let prometheus: RunningProcess | undefined;
    let promBase = '';
    let setupError: unknown;

    async function api<T>(route: string): Promise<T> {
      const res = await httpGet(`${promBase}${route}`);
      assert.equal(res.status, 200, res.body.toString());
      return (JSON.parse(res.body.toString()) as { data: T }).data;
    }
    const instant = (promql: string): Promise<Sample[]> =>
      api<{ result: Sample[] }>(`/api/v1/query?query=${encodeURIComponent(promql)}`).then((d) => d.result);
    /** Series over the last minute rather than now: for series whose ttl spans only a scrape or two. */
    let recent = false;
    const query = (promql: string): Promise<Sample[]> =>
      instant(recent && !promql.startsWith('sum(') ? `last_over_time(${promql}[1m])` : promql);

    /** What an expectation lacks now ('' when met). */
    async function unmet(x: ExporterExpect): Promise<string> {
      if (x.name === 'statsd_exporter_events_error_total') {
        // statsd_exporter's error counter, as sluice counts the same refusal (its own series,
        // from the internal source, under the exporter's counter names).
        const promql =
          x.labels.reason === 'illegal_negative_counter'
            ? 'sum(sluice_dropped_metrics{reason="negative_counter"})'
            : 'sum(sluice_lines_rejected{reason="empty_name"})';
        const v = Number((await query(promql))[0]?.value[1] ?? NaN);
        return v === x.increase ? '' : `${promql} = ${v}, want ${x.increase}`;
      }
      const meta = await api<Record<string, { type: string }[]>>(`/api/v1/metadata?metric=${x.name}`);
      const type = x.type ?? meta[x.name]?.[0]?.type;
      const main = exact(
        await query(
          selector(type === 'histogram' || type === 'summary' ? `${x.name}_count` : x.name, x.labels),
        ),
        x.labels,
      );
      const present = main.length > 0;
      if (x.present !== undefined && present !== x.present) return `${x.name}: present ${present}`;
      if (x.type !== undefined && present && meta[x.name]?.[0]?.type !== x.type)
        return `${x.name}: type ${meta[x.name]?.[0]?.type}, want ${x.type}`;
      if (x.value !== undefined && Number(main[0]?.value[1]) !== x.value)
        return `${x.name}: ${main[0]?.value[1]}, want ${x.value}`;
      if (x.sum !== undefined) {
        const sum = Number(exact(await query(selector(`${x.name}_sum`, x.labels)), x.labels)[0]?.value[1]);
        if (!(Math.abs(sum - x.sum) < 1e-9)) return `${x.name}_sum: ${sum}, want ${x.sum}`;
      }
      if (x.quantilesNonEmpty === true) {
        const qs = exact(await query(selector(x.name, x.labels, 'quantile!=""')), x.labels, ['quantile']);
        if (qs.length === 0) return `${x.name}: no quantile`;
      }
      return '';
    }

    async function expectAll(c: ExporterCase, expects: ExporterExpect[], timeoutMs: number): Promise<void> {
      let problems: string[] = [];
      await waitFor(
        async () => {
          problems = (await Promise.all(expects.map((x) => unmet(x)))).filter((p) => p !== '');
          return problems.length === 0 ? true : undefined;
        },
        {
          timeoutMs,
          intervalMs: 500,
          what: `${c.test}: what statsd_exporter's test expects, in Prometheus`,
          describe: () => problems.join('; '),
          failIf: () => prometheus?.diedReason(),
        },
      );
    }

    async function send(port: number, events: ExporterEvent[]): Promise<void> {
      const socket = dgram.createSocket('udp4');
      try {
        // One datagram per event, in order, from one socket: one ingest worker sees them in order.
        for (const e of events)
          await new Promise<void>((resolve, reject) =>
            socket.send(statsdLine(e), port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
          );
      } finally {
        socket.close();
      }
    }

    before(async () => {
      try {
        servers.assertInstalled();
        tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-se-prom-'));
        const targets: string[] = [];
        const mappings = [...new Set(exporterCases.map(mappingText))];
        for (const [i, text] of mappings.entries()) {
          const file = path.join(tmp, `mapping-${i}.yml`);
          writeFileSync(file, text);
          const statsdPort = await freePort('udp');
          const exporterPort = await freePort('tcp');
          const sluice = startSluice({
            config: `agent:
  host_tag: ''
sources:
  statsd:
    type: statsd
    listen: udp://127.0.0.1:${statsdPort}
    flush_interval: 1s
    mapping_config: ${file}
  internal:
    type: internal
    interval: 1s
    process: false
sinks:
  prometheus:
    type: prometheus_exporter
    listen: 127.0.0.1:${exporterPort}
    expiry: 0
    counter_suffix: false
`,
          });
          sluices.push(sluice);
          await sluice.waitForLog(listeningOn(statsdPort), 20_000);
          await sluice.waitForLog(listeningOn(exporterPort), 20_000);
          for (const c of exporterCases) if (mappingText(c) === text) portOf.set(c.test, statsdPort);
          targets.push(`127.0.0.1:${exporterPort}`);
        }
        const scraper = await startScraper(servers.paths.prometheus as string, tmp, targets);
        prometheus = scraper.process;
        promBase = scraper.base;
        // Every case's events at once (distinct names per process), then each case is read back.
        for (const c of exporterCases)
          if (c.steps === undefined) await send(portOf.get(c.test) as number, c.events);
      } catch (e) {
        setupError = e;
      }
    });

    after(async () => {
      // kill() never rejects and is a no-op for a process that has already exited.
      await prometheus?.kill();
      await Promise.all(sluices.map((s) => s.kill()));
      if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
    });

    for (const c of exporterCases) {
      it(c.test, async () => {
        if (setupError !== undefined) throw setupError;
        if (c.steps === undefined) return expectAll(c, c.expect, 30_000);
        // The TTL case: its events now; its first step as seen over the last minute (the series
        // live a second or two), then its last step now (every series gone, its ttl passed).
        await send(portOf.get(c.test) as number, c.steps[0]?.events ?? []);
        recent = true;
        try {
          await expectAll(c, c.steps[0]?.expect ?? [], 30_000);
        } finally {
          recent = false;
        }
        await expectAll(c, c.steps[c.steps.length - 1]?.expect ?? [], 30_000);
      });
    }
  },
);
