/**
 * A carbon-cache of a test's own: a temp config and storage directory, the plaintext line receiver
 * on a free loopback port (pickle and UDP off, the cache query port on any free port), whisper
 * files read back by parsing the whisper format, or with whisper-fetch (the storage's own reader)
 * when given. Needs `carbon-cache` (Debian: apt-get install graphite-carbon; whisper-fetch is in
 * python3-whisper).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startProcess, waitFor, type RunningProcess } from './processes.js';

/** Seconds per whisper point (retentions = STEP s:1h). */
export const CARBON_STEP = 10;

export class Carbon {
  process: RunningProcess | undefined;
  readonly conf: string;
  readonly whisper: string;

  constructor(
    readonly bin: string,
    readonly dir: string,
    readonly port: number,
    private readonly whisperFetch?: string,
  ) {
    this.conf = path.join(dir, 'conf');
    this.whisper = path.join(dir, 'storage', 'whisper');
    for (const d of [this.conf, this.whisper, path.join(dir, 'log'), path.join(dir, 'pid')])
      mkdirSync(d, { recursive: true });
    writeFileSync(
      path.join(this.conf, 'carbon.conf'),
      [
        '[cache]',
        `STORAGE_DIR = ${path.join(dir, 'storage')}/`,
        `LOCAL_DATA_DIR = ${this.whisper}/`,
        `CONF_DIR = ${this.conf}/`,
        `LOG_DIR = ${path.join(dir, 'log')}/`,
        `PID_DIR = ${path.join(dir, 'pid')}/`,
        'DATABASE = whisper',
        // Run as whoever runs the tests (the Debian default would switch to _graphite).
        'USER =',
        'MAX_CACHE_SIZE = inf',
        'MAX_UPDATES_PER_SECOND = inf',
        'MAX_CREATES_PER_MINUTE = inf',
        'WHISPER_AUTOFLUSH = True',
        'LINE_RECEIVER_INTERFACE = 127.0.0.1',
        `LINE_RECEIVER_PORT = ${port}`,
        'ENABLE_UDP_LISTENER = False',
        // Port 0 disables the pickle receiver; the cache query port takes any free port.
        'PICKLE_RECEIVER_INTERFACE = 127.0.0.1',
        'PICKLE_RECEIVER_PORT = 0',
        'CACHE_QUERY_INTERFACE = 127.0.0.1',
        'CACHE_QUERY_PORT = 0',
        // Tagged series are stored under _tagged/ whatever this says; the tag database it
        // feeds is graphite-web's, which no test runs.
        'ENABLE_TAGS = False',
        // The sink's reconnects show in the log a failing test prints.
        'LOG_LISTENER_CONN_SUCCESS = True',
        '',
      ].join('\n'),
    );
    writeFileSync(
      path.join(this.conf, 'storage-schemas.conf'),
      ['[everything]', 'pattern = .*', `retentions = ${CARBON_STEP}s:1h`, ''].join('\n'),
    );
    writeFileSync(path.join(this.conf, 'storage-aggregation.conf'), '');
  }

  async start(): Promise<void> {
    const p = startProcess(
      this.bin,
      [`--config=${path.join(this.conf, 'carbon.conf')}`, '--nodaemon', 'start'],
      { cwd: this.dir },
    );
    this.process = p;
    await p.waitForStdout((out) => out.includes(`CarbonReceiverFactory starting on ${this.port}`), 30_000);
  }

  /** SIGTERM; a carbon that does not exit within 20 s is killed, and the stop fails. */
  async stop(): Promise<void> {
    const p = this.process;
    this.process = undefined;
    if (p === undefined) return;
    await p.stop('SIGTERM', 20_000).catch((e: unknown) => {
      p.kill();
      throw e;
    });
  }

  /**
   * The whisper file of a plain path or of a tagged series `name;k=v;...` (tags sorted, as
   * carbon normalises them): carbon's TaggedSeries.encode stores the latter under _tagged/ by the
   * SHA-256 of that text.
   */
  file(series: string): string {
    if (!series.includes(';')) return path.join(this.whisper, ...series.split('.')) + '.wsp';
    const hash = createHash('sha256').update(series).digest('hex');
    return path.join(this.whisper, '_tagged', hash.slice(0, 3), hash.slice(3, 6), `${hash}.wsp`);
  }

  /** Every whisper file carbon has created, relative to the storage directory. */
  files(): string[] {
    if (!existsSync(this.whisper)) return [];
    return (readdirSync(this.whisper, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.wsp'))
      .sort();
  }

  /** The points of a series, by timestamp (see readFile). */
  read(series: string): Map<number, number> {
    return this.readFile(this.file(series));
  }

  /**
   * The points of a whisper file by timestamp: a 16-byte header (aggregation, max retention,
   * xFilesFactor, archive count), 12 bytes per archive (offset, seconds per point, points),
   * then per point a u32 timestamp and a double, big-endian (whisper.py's formats). Only the
   * first archive is read; this config has one.
   */
  readFile(file: string): Map<number, number> {
    const out = new Map<number, number>();
    if (!existsSync(file)) return out;
    const buf = readFileSync(file);
    if (buf.length < 28) return out;
    const offset = buf.readUInt32BE(16);
    const points = buf.readUInt32BE(24);
    for (let i = 0; i < points; i++) {
      const at = offset + i * 12;
      if (at + 12 > buf.length) break;
      const ts = buf.readUInt32BE(at);
      if (ts !== 0) out.set(ts, buf.readDoubleBE(at + 4));
    }
    return out;
  }

  /** whisper-fetch's answer for [from, until]: timestamp → value, nulls left out. */
  fetch(series: string, from: number, until: number): Promise<Map<number, number>> {
    const bin = this.whisperFetch;
    if (bin === undefined) return Promise.reject(new Error('Carbon was made without whisper-fetch'));
    return new Promise((resolve, reject) => {
      execFile(
        bin,
        ['--json', `--from=${from}`, `--until=${until}`, this.file(series)],
        { timeout: 20_000 },
        (error, stdout, stderr) => {
          if (error !== null) {
            reject(new Error(`whisper-fetch ${series} failed: ${error.message}\n${stderr}`));
            return;
          }
          const json = JSON.parse(stdout) as { start: number; step: number; values: (number | null)[] };
          const out = new Map<number, number>();
          json.values.forEach((v, i) => {
            if (v !== null) out.set(json.start + i * json.step, v);
          });
          resolve(out);
        },
      );
    });
  }

  /** Waits until the series holds `expected` (every timestamp, exactly those values). */
  async waitForPoints(series: string, expected: Map<number, number>, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      () => {
        const got = this.read(series);
        for (const [ts, v] of expected) if (got.get(ts) !== v) return undefined;
        return true;
      },
      {
        timeoutMs,
        intervalMs: 50,
        what: `${expected.size} points in ${this.file(series)}`,
        describe: () =>
          `${JSON.stringify([...this.read(series)])}\ncarbon: ${this.process?.stdout().slice(-1500)}`,
        failIf: () => this.process?.diedReason(),
      },
    );
  }
}
