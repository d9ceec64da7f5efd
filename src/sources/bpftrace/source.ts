/**
 * The I/O shell of the bpftrace source: bytes come from a followed file or from bpftrace's
 * stdout, go through the incremental parser (src/protocols/bpftrace), and every block it
 * completes becomes one gauge per bucket, emitted at once with the time it was read (or the
 * script's last time line). A stream that ends (rotation, truncation, the process exiting)
 * ends the parser too, so a block cut by it is counted and dropped, never emitted in part.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { ListeningSource, SourceContext } from '../../core/component.js';
import type { GaugeMetric } from '../../core/metric.js';
import type { StatCounter } from '../../core/stats.js';
import {
  HistParser,
  REJECT_REASONS,
  type BpftraceItem,
  type RejectReason,
  type TimeOfDay,
} from '../../protocols/bpftrace/hist.js';
import { FileFollower, type SwitchReason } from './follow.js';
import { BlockConverter } from './metrics.js';
import type { BpftraceConfig } from './schema.js';

/** A time line up to this far in the future is taken as today's (clocks differ a little). */
const FUTURE_SLACK_MS = 60_000;
const STDERR_LOG_LINES = 10;
const REJECTION_LOG_GAP_MS = 60_000;

/**
 * The instant a `time()` line names: its date, or else the latest such time of day not after
 * `now` (plus a minute of slack), in local time.
 */
export function resolveTime(t: TimeOfDay, now: number): number {
  const h = Math.floor(t.seconds / 3600);
  const m = Math.floor((t.seconds % 3600) / 60);
  const s = t.seconds % 60;
  if (t.date !== undefined) return new Date(t.date.year, t.date.month - 1, t.date.day, h, m, s).getTime();
  const today = new Date(now);
  today.setHours(h, m, s, 0);
  // setDate keeps the wall-clock time across a change of daylight saving time.
  if (today.getTime() > now + FUTURE_SLACK_MS) today.setDate(today.getDate() - 1);
  return today.getTime();
}

export class BpftraceSource implements ListeningSource {
  readonly mode = 'listening';
  private readonly parser: HistParser;
  private readonly converter: BlockConverter;
  private readonly blocks: StatCounter;
  private readonly ignoredLines: StatCounter;
  private readonly rejected: Record<RejectReason, StatCounter>;
  private readonly synced: Record<RejectReason, number>;
  private readonly switches: Record<SwitchReason, StatCounter>;
  private lastTime: number | undefined;
  private ignoredSynced = 0;
  private lastRejectionLog = -Infinity;
  private follower: FileFollower | undefined;
  private child: ChildProcess | undefined;
  private childClosed: Promise<void> | undefined;
  private stopping = false;
  private problemLogged = '';

  constructor(
    private readonly config: BpftraceConfig,
    private readonly ctx: SourceContext,
  ) {
    this.parser = new HistParser({ format: config.format });
    this.converter = new BlockConverter({
      maps: config.maps,
      names: config.names,
      fillZeros: config.fill_zeros,
    });
    const st = ctx.stats;
    this.blocks = st.counter('blocks_received', 'Complete hist()/lhist() blocks read, of every map.');
    this.ignoredLines = st.counter(
      'lines_ignored',
      'Lines outside any histogram (probe messages, printf output, scalar maps).',
    );
    this.rejected = {} as Record<RejectReason, StatCounter>;
    this.synced = {} as Record<RejectReason, number>;
    for (const reason of REJECT_REASONS) {
      this.rejected[reason] = st.counter('blocks_rejected', 'Blocks or lines dropped, by reason.', {
        reason,
      });
      this.synced[reason] = 0;
    }
    this.switches = {
      truncated: st.counter(
        'file_truncations',
        'Times the followed file was truncated and read again from its start.',
      ),
      rotated: st.counter('file_rotations', 'Times the followed path was replaced by a new file.'),
    };
  }

  async start(): Promise<void> {
    if (this.config.mode === 'file') await this.startFile();
    else await this.startCommand();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.follower !== undefined) {
      await this.follower.stop();
      this.follower = undefined;
    }
    if (this.child !== undefined) await this.stopChild(this.child);
  }

  private async startFile(): Promise<void> {
    const follower = new FileFollower(
      this.config.file,
      { fromBeginning: this.config.from_beginning, pollIntervalMs: this.config.poll_interval },
      {
        data: (chunk) => this.handle(this.parser.push(chunk)),
        switched: (reason) => {
          this.switches[reason].inc();
          this.lastTime = undefined;
          this.handle(this.parser.end());
          this.ctx.log.info(
            reason === 'rotated'
              ? 'The followed file was replaced; reading the new one from its start.'
              : 'The followed file was truncated; reading it again from its start.',
            { file: this.config.file },
          );
        },
        problem: (error) => {
          // Once per distinct problem: a missing permission would otherwise log every poll.
          const what = `${error.code ?? ''} ${error.message}`;
          if (what === this.problemLogged) return;
          this.problemLogged = what;
          this.ctx.log.warn('Cannot read the followed file; trying again every poll_interval.', {
            file: this.config.file,
            error: error.message,
          });
        },
      },
    );
    this.follower = follower;
    await follower.start();
    this.ctx.log.info('Following a bpftrace log.', { file: this.config.file });
  }

  private async startCommand(): Promise<void> {
    const [program, ...args] = this.config.command as [string, ...string[]];
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let spawned = false;
    let stderrTail = '';
    let stderrLines = 0;
    let partial = '';
    child.stdout.on('data', (chunk: Buffer) => this.handle(this.parser.push(chunk)));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      stderrTail = (stderrTail + text).slice(-2000);
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '' || stderrLines++ >= STDERR_LOG_LINES) continue;
        this.ctx.log.warn('bpftrace wrote to stderr.', { line, pid: child.pid });
      }
    });
    this.childClosed = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        this.handle(this.parser.end());
        this.child = undefined;
        resolve();
        // A program that never started was reported by start() rejecting.
        if (this.stopping || !spawned) return;
        const how = signal !== null ? `signal ${signal}` : `code ${code}`;
        this.ctx.fail(new Error(`${program} exited with ${how}: ${stderrTail.trim().slice(-500)}`));
      });
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => {
        spawned = true;
        resolve();
      });
      child.on('error', (e) => {
        if (spawned) {
          this.ctx.log.warn('Cannot signal bpftrace.', { error: e.message, pid: child.pid });
          return;
        }
        this.child = undefined;
        reject(new Error(`cannot run ${program}: ${e.message}`));
      });
    });
    this.ctx.log.info('Started bpftrace.', { command: this.config.command, pid: child.pid });
  }

  /** SIGINT makes bpftrace print its maps and exit; those blocks are still read and emitted. */
  private async stopChild(child: ChildProcess): Promise<void> {
    const closed = this.childClosed ?? Promise.resolve();
    child.kill('SIGINT');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.config.stop_timeout);
    });
    const first = await Promise.race([closed, late]);
    clearTimeout(timer);
    if (first === 'late') {
      this.ctx.log.warn('bpftrace did not exit within stop_timeout after SIGINT; killing it.', {
        pid: child.pid,
      });
      child.kill('SIGKILL');
      await closed;
    }
  }

  private handle(items: readonly BpftraceItem[]): void {
    this.syncStats();
    if (items.length === 0) return;
    const now = this.ctx.clock.now();
    const out: GaugeMetric[] = [];
    for (const item of items) {
      if (item.type === 'time') {
        if (this.config.timestamp === 'time_line') this.lastTime = resolveTime(item.time, now);
        continue;
      }
      this.blocks.inc();
      this.converter.convert(item.block, this.lastTime ?? now, out);
    }
    if (out.length > 0) this.ctx.emit(out);
  }

  private syncStats(): void {
    const p = this.parser;
    if (p.ignored !== this.ignoredSynced) {
      this.ignoredLines.inc(p.ignored - this.ignoredSynced);
      this.ignoredSynced = p.ignored;
    }
    let grew = false;
    for (const reason of REJECT_REASONS) {
      const n = p.rejections.counts[reason];
      if (n === this.synced[reason]) continue;
      this.rejected[reason].inc(n - this.synced[reason]);
      this.synced[reason] = n;
      grew = true;
    }
    const now = this.ctx.clock.now();
    if (grew && now - this.lastRejectionLog >= REJECTION_LOG_GAP_MS) {
      this.lastRejectionLog = now;
      this.ctx.log.warn('Dropped malformed bpftrace output (counted in blocks_rejected by reason).', {
        recent: p.rejections.recent(),
      });
    }
  }
}
