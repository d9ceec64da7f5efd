/**
 * A real InfluxDB 1.x (`influxd`, Debian package `influxdb`) for integration tests: its own
 * temporary meta, data and WAL directories, the HTTP API and one UDP listener on free loopback
 * ports, the RPC service on a free loopback port, nothing on InfluxDB's default ports, no usage
 * reporting. Authentication is on, with one admin user, so tests can check credentials. It
 * can be stopped and started again on the same ports and data.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePort, startProcess, waitFor, type RunningProcess } from './processes.js';

export interface InfluxdOptions {
  /** The database the UDP listener writes to (created at the first start). */
  readonly udpDatabase: string;
  /** The UDP listener's timestamp precision ("" means ns). */
  readonly udpPrecision: string;
}

export interface QueryResult {
  readonly series: { name: string; columns: string[]; values: unknown[][]; tags?: Record<string, string> }[];
}

export class Influxd {
  process: RunningProcess | undefined;
  readonly user = 'admin';
  readonly password = 'test-password';
  private readonly conf: string;

  private constructor(
    private readonly bin: string,
    readonly dir: string,
    readonly httpPort: number,
    readonly udpPort: number,
    readonly rpcPort: number,
    readonly options: InfluxdOptions,
  ) {
    this.conf = path.join(dir, 'influxdb.conf');
    for (const d of ['meta', 'data', 'wal']) mkdirSync(path.join(dir, d), { recursive: true });
    writeFileSync(
      this.conf,
      [
        'reporting-disabled = true',
        `bind-address = "127.0.0.1:${rpcPort}"`,
        '[meta]',
        `  dir = "${path.join(dir, 'meta')}"`,
        '[data]',
        `  dir = "${path.join(dir, 'data')}"`,
        `  wal-dir = "${path.join(dir, 'wal')}"`,
        '  query-log-enabled = false',
        '[http]',
        '  enabled = true',
        `  bind-address = "127.0.0.1:${httpPort}"`,
        '  auth-enabled = true',
        '  log-enabled = false',
        '[[udp]]',
        '  enabled = true',
        `  bind-address = "127.0.0.1:${udpPort}"`,
        `  database = "${options.udpDatabase}"`,
        `  precision = "${options.udpPrecision}"`,
        // Points reach the database within 10 ms rather than the default second.
        '  batch-timeout = "10ms"',
        '[monitor]',
        '  store-enabled = false',
        '[continuous_queries]',
        '  enabled = false',
        '[subscriber]',
        '  enabled = false',
        '[logging]',
        '  level = "warn"',
        '',
      ].join('\n'),
    );
  }

  /** Creates the directories and config with free ports; call start() next. */
  static async create(bin: string, options: InfluxdOptions): Promise<Influxd> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-influxd-'));
    return new Influxd(
      bin,
      dir,
      await freePort('tcp'),
      await freePort('udp'),
      await freePort('tcp'),
      options,
    );
  }

  /** Starts influxd and waits until it answers; at the first start, creates the user and the UDP database. */
  async start(): Promise<void> {
    const first = this.process === undefined;
    const p = startProcess(this.bin, ['-config', this.conf], { cwd: this.dir });
    this.process = p;
    await waitFor(
      async () => ((await this.request('GET', '/ping', false)).status === 204 ? true : undefined),
      {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: `influxd to answer on 127.0.0.1:${this.httpPort}`,
        failIf: () => p.diedReason(),
      },
    );
    if (first) {
      // With authentication on and no user yet, InfluxDB accepts exactly this without credentials.
      await this.query(
        `CREATE USER ${this.user} WITH PASSWORD '${this.password}' WITH ALL PRIVILEGES`,
        '',
        false,
      );
      await this.query(`CREATE DATABASE "${this.options.udpDatabase}"`);
    }
  }

  async stop(): Promise<void> {
    const p = this.process;
    if (p !== undefined) await p.stop('SIGTERM', 30_000);
  }

  async destroy(): Promise<void> {
    await this.process?.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Runs InfluxQL; timestamps in epoch milliseconds. Rejects on an HTTP or statement error. */
  async query(q: string, db = '', auth = true): Promise<QueryResult> {
    const params = new URLSearchParams({ q, epoch: 'ms' });
    if (db !== '') params.set('db', db);
    const res = await this.request('POST', `/query?${params.toString()}`, auth);
    if (res.status !== 200) throw new Error(`query ${q} answered ${res.status}: ${res.body}`);
    const json = JSON.parse(res.body) as { results: { error?: string; series?: QueryResult['series'] }[] };
    const r = json.results[0];
    if (r?.error !== undefined) throw new Error(`query ${q} failed: ${r.error}`);
    return { series: r?.series ?? [] };
  }

  /** Every row of a SELECT, as objects keyed by column. */
  async rows(q: string, db: string): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    for (const s of (await this.query(q, db)).series) {
      for (const v of s.values) {
        const row: Record<string, unknown> = { ...s.tags };
        s.columns.forEach((c, i) => (row[c] = v[i]));
        out.push(row);
      }
    }
    return out;
  }

  /** Field key → type ("float", "integer", …) of a measurement (in retention policy `rp`, if given). */
  async fieldTypes(measurement: string, db: string, rp = ''): Promise<Record<string, string>> {
    const quote = (name: string): string => `"${name.replace(/"/g, '\\"')}"`;
    const from = rp === '' ? quote(measurement) : `${quote(db)}.${quote(rp)}.${quote(measurement)}`;
    const r = await this.query(`SHOW FIELD KEYS FROM ${from}`, db);
    return Object.fromEntries((r.series[0]?.values ?? []).map((v) => [v[0] as string, v[1] as string]));
  }

  private request(method: string, p: string, auth: boolean): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (auth)
        headers.Authorization = `Basic ${Buffer.from(`${this.user}:${this.password}`).toString('base64')}`;
      const req = http.request(
        { host: '127.0.0.1', port: this.httpPort, method, path: p, headers, agent: false, timeout: 10_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${p} timed out`)));
      req.on('error', reject);
      req.end();
    });
  }
}
