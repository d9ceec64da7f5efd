/**
 * `sluice top` in a real terminal: tmux runs it against a live agent, the test reads the screen
 * with capture-pane while StatsD traffic flows, then presses q. Needs tmux (Debian: tmux); skipped
 * without it, except under CI=true, where its absence fails the test.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { freePort, sluiceCommand, startSluice, waitFor } from '../testing/processes.js';
import { sendStatsd } from '../testing/udp.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const skip = !hasTmux && process.env.CI !== 'true' ? 'tmux is not installed' : false;

test(
  'sluice top shows components, their rates and the busiest names, refreshed in place; q quits',
  { skip },
  async (t) => {
    const statsdPort = await freePort('udp');
    const adminPort = await freePort('tcp');
    const sluice = startSluice({
      owner: t,
      config: `agent:
  admin_listen: 127.0.0.1:${adminPort}
sources:
  statsd:
    type: statsd
    listen: 127.0.0.1:${statsdPort}
    flush_interval: 200ms
sinks:
  out:
    type: prometheus_exporter
    listen: 127.0.0.1:0
`,
    });
    await sluice.waitForLog((l) => l.msg === 'sluice started.');
    // A tmux server of its own, so the test never touches a user's sessions.
    const socket = `sluice-top-test-${process.pid}`;
    const tmux = (...args: string[]): string =>
      execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
    t.after(() => spawnSync('tmux', ['-L', socket, 'kill-server']));
    tmux(
      'new-session',
      '-d',
      '-s',
      'top',
      '-x',
      '160',
      '-y',
      '40',
      [...sluiceCommand(['top', '--admin', `http://127.0.0.1:${adminPort}`, '--interval', '0.5'])]
        .flat()
        .join(' '),
    );
    let screen = '';
    // Bounded: traffic every 100 ms until the screen shows the statsd row with a rate and the name.
    await waitFor(
      async () => {
        await sendStatsd(statsdPort, Array<string>(50).fill('top.metric:1|c'), { perDatagram: 10 });
        screen = tmux('capture-pane', '-p', '-t', 'top');
        const row = screen.split('\n').find((l) => l.startsWith('statsd '));
        const inRate = Number(row?.trim().split(/\s+/)[4]);
        return inRate > 0 && /^\s+top\.metric\s+\d/m.test(screen) ? true : undefined;
      },
      {
        timeoutMs: 20_000,
        intervalMs: 100,
        what: 'the statsd row with a rate and top.metric among the busiest names',
        describe: () => screen,
      },
    );
    assert.match(screen, /^sluice top — http:\/\/127\.0\.0\.1:\d+/m);
    assert.match(screen, /^out\s+sink\s+prometheus_exporter\s+running/m);
    assert.match(screen, /statsd: series held\s+1$/m);
    // Refreshed in place: one header on the screen, not a scrolling log.
    assert.equal(screen.split('\n').filter((l) => l.startsWith('sluice top')).length, 1);
    tmux('send-keys', '-t', 'top', 'q');
    await waitFor(
      async () =>
        spawnSync('tmux', ['-L', socket, 'has-session', '-t', 'top']).status !== 0 ? true : undefined,
      {
        timeoutMs: 10_000,
        what: 'sluice top to quit on q',
      },
    );
    assert.equal((await sluice.stop('SIGTERM')).code, 0);
  },
);
