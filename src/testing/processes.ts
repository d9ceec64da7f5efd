/**
 * Child processes for end-to-end and integration tests: the built sluice CLI, and third-party
 * servers (Prometheus, ...) started the same way. Every process started here is killed when its
 * test ends, when the test file's process exits, or when that process is told to stop, so a
 * failing test never leaves a daemon behind. Every wait is bounded and, when it times out,
 * says what the process printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from dist/testing/processes.js. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** The CLI entry point; SLUICE_BIN points the tests at another build (an installed package, say). */
export const sluiceBin = process.env.SLUICE_BIN ?? path.join(repoRoot, 'bin', 'sluice.js');

/**
 * The command line that runs the CLI with `args`: `node bin/sluice.js …`, or SLUICE_BIN itself
 * when it names an executable rather than a script (the single executable, scripts/sea/build.mjs),
 * so the end-to-end tests can run against either.
 */
export function sluiceCommand(args: readonly string[]): [command: string, args: string[]] {
  return /\.[cm]?js$/.test(sluiceBin) ? [process.execPath, [sluiceBin, ...args]] : [sluiceBin, [...args]];
}

export type LogLine = Record<string, unknown>;

export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Anything with node:test's `after` (a TestContext): the process is killed when it ends. */
export interface Owner {
  after(fn: () => unknown): void;
}

export interface ProcessOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  owner?: Owner;
  /** Written to the child's stdin, which is then closed. By default stdin is closed at once. */
  stdin?: string | Buffer;
}

// Processes not yet cleaned up (running, or exited by themselves with cleanups still to run).
const live = new Set<RunningProcess>();
let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  // 'exit' handlers must be synchronous; kill() and rmSync() are.
  process.on('exit', () => {
    for (const p of live) p.killNow();
  });
  // The test runner ends a file that overran its timeout with SIGTERM: clean up, then die by
  // the same signal so the exit status is unchanged.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const p of live) p.killNow();
      process.kill(process.pid, signal);
    });
  }
}

export class RunningProcess {
  readonly child: ChildProcess;
  /** Exit code and output once the process has ended, never rejects. */
  readonly exited: Promise<ExitResult>;
  private out = '';
  private err = '';
  private errPartial = '';
  private readonly lines: LogLine[] = [];
  private result: ExitResult | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly cleanups: (() => void)[] = [];

  constructor(
    readonly command: string,
    readonly args: readonly string[],
    options: ProcessOptions = {},
  ) {
    installExitHooks();
    this.child = spawn(command, args, {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdin?.on('error', () => {}); // EPIPE if the child exits before reading.
    this.child.stdin?.end(options.stdin);
    this.child.stdout?.setEncoding('utf8');
    this.child.stderr?.setEncoding('utf8');
    this.child.stdout?.on('data', (chunk: string) => {
      this.out += chunk;
      this.notify();
    });
    this.child.stderr?.on('data', (chunk: string) => this.onStderr(chunk));
    this.exited = new Promise((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.result !== undefined) return;
        this.result = { code, signal, stdout: this.out, stderr: this.err };
        this.notify();
        resolve(this.result);
      };
      // 'close' comes after the pipes are drained, so the result holds all the output.
      this.child.on('close', finish);
      this.child.on('error', (e) => {
        this.err += `spawn failed: ${e.message}\n`;
        finish(null, null);
      });
    });
    live.add(this);
    // A forgotten process must not keep the test file alive: the pipes and the child do not hold
    // the event loop open, and the exit hook kills what is left.
    this.child.unref();
    for (const stream of [this.child.stdout, this.child.stderr]) (stream as unknown as net.Socket)?.unref?.();
    options.owner?.after(() => this.kill());
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The exit, once the process has ended (and its output is drained); undefined before. */
  exitResult(): ExitResult | undefined {
    return this.result;
  }

  /** For `waitFor`'s `failIf`: a reason to stop waiting once this process has died. */
  diedReason(): string | undefined {
    return this.result === undefined ? undefined : `${this.describe()} exited.\n${tail(this.result)}`;
  }

  stdout(): string {
    return this.out;
  }

  stderr(): string {
    return this.err;
  }

  /** The stderr lines that parsed as JSON objects (the agent's log), in order. */
  logs(): readonly LogLine[] {
    return this.lines;
  }

  /** Runs `fn` at `kill()`, or when the test file's process exits (temp dirs, say). */
  onCleanup(fn: () => void): void {
    this.cleanups.push(fn);
  }

  /** Resolves with the first log line (already seen or still to come) that matches. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    return this.waitUntil(
      () => this.lines.find(predicate),
      timeoutMs,
      `a log line matching ${predicate.toString()}`,
    );
  }

  /** Resolves with all of stdout so far, once `predicate` accepts it. */
  waitForStdout(predicate: (stdout: string) => boolean, timeoutMs = 10_000): Promise<string> {
    return this.waitUntil(
      () => (predicate(this.out) ? this.out : undefined),
      timeoutMs,
      `stdout matching ${predicate.toString()}`,
    );
  }

  /**
   * Sends `signal` and waits for the exit (see `wait`): a graceful stop that hangs is a bug
   * worth a failed test.
   */
  stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<ExitResult> {
    if (this.result !== undefined) return Promise.resolve(this.result);
    this.child.kill(signal);
    return this.wait(timeoutMs, ` of ${signal}`);
  }

  /** Waits for the process to end by itself; after `timeoutMs` it is killed and this rejects. */
  async wait(timeoutMs = 15_000, context = ''): Promise<ExitResult> {
    if (this.result !== undefined) return this.result;
    // This timer is what keeps the loop alive while we wait (the child itself is unref'd).
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const first = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (first !== 'timeout') return first;
    const result = await this.kill();
    throw new Error(
      `${this.describe()} did not exit within ${timeoutMs} ms${context}; killed.\n${tail(result)}`,
    );
  }

  /** SIGKILL (if still running), wait for the exit, run the cleanups. Never rejects. */
  async kill(): Promise<ExitResult> {
    this.killNow();
    const timer = setTimeout(() => {}, 10_000); // keeps the loop alive until 'close'
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Synchronous part of kill(), safe in an 'exit' handler. */
  killNow(): void {
    if (this.result === undefined && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
    }
    for (const fn of this.cleanups.splice(0)) {
      try {
        fn();
      } catch {
        // Best effort: cleanup must not hide the test's own failure.
      }
    }
    live.delete(this);
  }

  describe(): string {
    return `${path.basename(this.command)} ${this.args.join(' ')} (pid ${this.pid ?? '?'})`;
  }

  private onStderr(chunk: string): void {
    this.err += chunk;
    const text = this.errPartial + chunk;
    let start = 0;
    let nl = text.indexOf('\n');
    while (nl !== -1) {
      this.parseLine(text.slice(start, nl));
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    this.errPartial = text.slice(start);
    this.notify();
  }

  private parseLine(line: string): void {
    if (!line.startsWith('{')) return;
    try {
      const parsed: unknown = JSON.parse(line);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
        this.lines.push(parsed as LogLine);
      }
    } catch {
      // Not a log line (a stack trace, say); it stays in stderr().
    }
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private waitUntil<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined = undefined;
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(poll);
      };
      const poll = (): void => {
        let found: T | undefined;
        try {
          found = check();
        } catch (e) {
          done();
          reject(e as Error);
          return;
        }
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (this.result !== undefined) {
          done();
          reject(new Error(`${this.describe()} exited before ${what}.\n${tail(this.result)}`));
        }
      };
      timer = setTimeout(() => {
        done();
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.\n${tail(this.snapshot())}`));
      }, timeoutMs);
      this.waiters.add(poll);
      poll();
    });
  }

  private snapshot(): ExitResult {
    return this.result ?? { code: null, signal: null, stdout: this.out, stderr: this.err };
  }
}

function tail(r: ExitResult, max = 4000): string {
  const cut = (s: string): string => (s.length > max ? `…${s.slice(-max)}` : s);
  return `exit code ${r.code}, signal ${r.signal}\n--- stdout ---\n${cut(r.stdout)}\n--- stderr ---\n${cut(r.stderr)}`;
}

/** Starts any program (a third-party server, say) with the same bookkeeping as startSluice. */
export function startProcess(
  command: string,
  args: readonly string[],
  options: ProcessOptions = {},
): RunningProcess {
  return new RunningProcess(command, args, options);
}

export interface SluiceOptions extends ProcessOptions {
  /** The YAML config, written to a temp file passed as `--config`. */
  config: string;
  /** More CLI arguments, after `--config FILE`. */
  args?: readonly string[];
}

export interface SluiceProcess extends RunningProcess {
  readonly configPath: string;
}

/** Spawns the built CLI (sluiceCommand) with `--config <tmp file>`. */
export function startSluice(options: SluiceOptions): SluiceProcess {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-test-'));
  const configPath = path.join(dir, 'sluice.yaml');
  writeFileSync(configPath, options.config);
  const p = startProcess(...sluiceCommand(['--config', configPath, ...(options.args ?? [])]), options);
  p.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return Object.assign(p, { configPath });
}

/**
 * A log-line predicate for "this component is listening on this port". The agent's listener
 * lines carry `port`; an `address` of the form `host:port` is accepted too.
 */
export function listeningOn(port: number, component?: string): (line: LogLine) => boolean {
  const suffix = `:${port}`;
  return (line) =>
    (component === undefined || line.component === component) &&
    (line.port === port || (typeof line.address === 'string' && line.address.endsWith(suffix)));
}

/**
 * A port that was free a moment ago on 127.0.0.1. Another process could take it before the
 * test binds it, a small race accepted for components whose config needs a number.
 */
export function freePort(kind: 'udp' | 'tcp'): Promise<number> {
  return new Promise((resolve, reject) => {
    if (kind === 'udp') {
      const socket = dgram.createSocket('udp4');
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        const { port } = socket.address();
        socket.close(() => resolve(port));
      });
    } else {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    }
  });
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One GET without keep-alive; rejects on a network error or after `timeoutMs`. */
export function httpGet(
  url: string,
  headers: Record<string, string> = {},
  timeoutMs = 5_000,
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    const timer = setTimeout(
      () => req.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/**
 * Calls `check` every `intervalMs` until it returns something other than undefined, and
 * resolves with that. After `timeoutMs` it rejects, quoting the last value `describe` gives
 * (or the last error `check` threw), so a failed poll says what it saw. `failIf` returning a
 * reason ends the wait at once (a process the answer depends on has died, say).
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined> | T | undefined,
  options: {
    timeoutMs: number;
    intervalMs?: number;
    what: string;
    describe?: () => string;
    failIf?: () => string | undefined;
  },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    const reason = options.failIf?.();
    if (reason !== undefined) throw new Error(`Gave up waiting for ${options.what}: ${reason}`);
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 250));
  }
  const seen =
    lastError !== undefined
      ? `last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`
      : `last seen: ${options.describe?.() ?? 'nothing'}`;
  throw new Error(`Timed out after ${options.timeoutMs} ms waiting for ${options.what}; ${seen}`);
}

/** The executable `name` on PATH, or undefined. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface ServerPrograms {
  /** Each program's path, where found. */
  readonly paths: Readonly<Record<string, string | undefined>>;
  /** The programs not found, as "a and b"; '' when all are there. */
  readonly missing: string;
  /**
   * node:test's `skip` option: a reason outside CI when a program is missing, false otherwise.
   * With CI=true the tests run and must fail on `missing` (call `assertInstalled` in `before`).
   */
  readonly skip: string | false;
  assertInstalled(): void;
}

/** Finds the third-party servers an integration test needs, the project's skip rule applied. */
export function serverPrograms(names: readonly string[], installHint: string): ServerPrograms {
  const paths = Object.fromEntries(names.map((n) => [n, onPath(n)]));
  const missing = names.filter((n) => paths[n] === undefined).join(' and ');
  const skip =
    missing !== '' && process.env.CI !== 'true'
      ? `${missing} not installed (${installHint}); CI=true makes this a failure`
      : false;
  return {
    paths,
    missing,
    skip,
    assertInstalled: () => {
      if (missing !== '')
        throw new Error(`${missing} not found on PATH, and CI=true requires this test to run.`);
    },
  };
}

/** The value of the first sample line of a Prometheus page that starts with `prefix` (name and labels). */
export function sampleValue(body: string, prefix: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}
