/**
 * One run of a command: spawn it without a shell, collect stdout (up to a cap) and the tail of
 * stderr, and make sure it ends. The command is the leader of its own process group (spawned
 * detached, so setsid()), and every kill goes to the whole group: a shell script's children
 * (`sleep`, a hung `curl`) die with it instead of piling up one per interval.
 *
 * Ending is bounded: at the timeout (or past the output cap, or at shutdown) the group gets
 * SIGTERM, and SIGKILL after the grace period, when the pipes are also closed on our side so a
 * process that escaped the group (setsid) and kept stdout open cannot hold the run forever. Only
 * a process stuck in the kernel (uninterruptible sleep) can outlive SIGKILL; the run then waits
 * for it, and the supervisor skips the ticks meanwhile (counted in collection_skipped).
 *
 * When the command exits, anything left in its group (background jobs it did not wait for)
 * gets SIGTERM: a run owns its processes only for its own duration.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface RunOptions {
  /** Program and arguments; argv[0] is looked up in env.PATH when it has no slash. */
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string | undefined;
  readonly timeoutMs: number;
  readonly killGraceMs: number;
  readonly maxOutputBytes: number;
}

/** How much of stderr is kept (the end of it: the last message explains most failures). */
export const STDERR_KEEP_BYTES = 2048;

export type RunResult =
  | { readonly outcome: 'ok'; readonly stdout: Buffer; readonly stderr: string }
  | {
      readonly outcome: 'exit';
      readonly code: number | null;
      readonly signal: NodeJS.Signals | null;
      readonly stderr: string;
    }
  | { readonly outcome: 'timeout' | 'too_large' | 'stopped'; readonly stderr: string }
  | { readonly outcome: 'spawn'; readonly error: Error };

type KillReason = 'timeout' | 'too_large' | 'stopped';

export class CommandRun {
  readonly done: Promise<RunResult>;
  private resolve!: (r: RunResult) => void;
  private child: ChildProcess | undefined;
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private stderr: Buffer = Buffer.alloc(0);
  private killedFor: KillReason | undefined;
  private timer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private finished = false;
  private spawnError: Error | undefined;

  constructor(private readonly options: RunOptions) {
    this.done = new Promise((resolve) => {
      this.resolve = resolve;
    });
    const [program, ...args] = options.argv;
    let child: ChildProcess;
    try {
      child = spawn(program as string, args, {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: options.env,
        cwd: options.cwd,
        windowsHide: true,
      });
    } catch (e) {
      // Arguments spawn refuses outright (a NUL byte in one): no process was started.
      this.finish({ outcome: 'spawn', error: e instanceof Error ? e : new Error(String(e)) });
      return;
    }
    this.child = child;
    child.on('error', (e) => {
      // Only a failed spawn leaves no pid; other errors (a failed kill) change nothing.
      if (child.pid === undefined) {
        this.spawnError = e;
        this.finish({ outcome: 'spawn', error: e });
      }
    });
    child.stdout?.on('data', (chunk: Buffer) => this.onStdout(chunk));
    child.stderr?.on('data', (chunk: Buffer) => this.onStderr(chunk));
    child.on('close', (code, signal) => this.onClose(code, signal));
    this.timer = setTimeout(() => this.kill('timeout'), options.timeoutMs);
  }

  /** The process id of the command (and of its process group), once spawned. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Ends the run early (at shutdown); the result is `stopped`. */
  stop(): Promise<RunResult> {
    this.kill('stopped');
    return this.done;
  }

  private onStdout(chunk: Buffer): void {
    if (this.killedFor !== undefined) return;
    if (this.size + chunk.length > this.options.maxOutputBytes) {
      this.kill('too_large');
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  private onStderr(chunk: Buffer): void {
    const joined = this.stderr.length === 0 ? chunk : Buffer.concat([this.stderr, chunk]);
    this.stderr =
      joined.length > STDERR_KEEP_BYTES
        ? Buffer.from(joined.subarray(joined.length - STDERR_KEEP_BYTES))
        : joined;
  }

  private stderrText(): string {
    return this.stderr.toString('utf8').trim();
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // ESRCH: nothing is left in the group.
    }
  }

  private kill(reason: KillReason): void {
    if (this.finished || this.killedFor !== undefined) return;
    this.killedFor = reason;
    if (this.child?.pid === undefined) return;
    this.signalGroup('SIGTERM');
    this.graceTimer = setTimeout(() => {
      this.signalGroup('SIGKILL');
      // A process outside the group may still hold the pipes: stop waiting for them.
      this.child?.stdout?.destroy();
      this.child?.stderr?.destroy();
    }, this.options.killGraceMs);
  }

  private onClose(code: number | null, signal: NodeJS.Signals | null): void {
    const child = this.child;
    if (child?.pid === undefined) {
      this.finish({
        outcome: 'spawn',
        error: this.spawnError ?? new Error('The command could not be started.'),
      });
      return;
    }
    // Background jobs the command left behind share its group; after a kill they have had
    // their SIGTERM already.
    this.signalGroup(this.killedFor === undefined ? 'SIGTERM' : 'SIGKILL');
    const stderr = this.stderrText();
    if (this.killedFor !== undefined) this.finish({ outcome: this.killedFor, stderr });
    else if (code === 0)
      this.finish({ outcome: 'ok', stdout: Buffer.concat(this.chunks, this.size), stderr });
    else this.finish({ outcome: 'exit', code, signal, stderr });
  }

  private finish(result: RunResult): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.graceTimer !== undefined) clearTimeout(this.graceTimer);
    this.chunks.length = 0;
    this.resolve(result);
  }
}
