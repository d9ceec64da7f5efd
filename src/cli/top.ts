/**
 * `sluice top`: a live view of a running agent in the terminal, refreshed in place: each
 * component's rates (in, out, rejected, dropped) and state, the metric names that reach the
 * sinks most often, and the names creating most new series. It reads the admin endpoint:
 * /api/v1/components every interval (rates are the counters' differences) and the
 * /api/v1/tap stream for the names.
 */
import { parseArgs } from 'node:util';
import { adminEndpoint, readLines, unreachable, type ClientIo } from './admin-client.js';

export const TOP_HELP = `Usage: sluice top [--admin URL] [--interval SECONDS]

A live view of a running sluice: components with their rates and state, the busiest metric
names and the names creating most series. Needs the agent's admin endpoint (agent.admin_listen).
q or Ctrl-C quits.

  --admin URL         the admin endpoint (default http://127.0.0.1:8126); https:// and
                      https://user:password@host:port for one behind admin_web_config_file (or
                      SLUICE_ADMIN_USER and SLUICE_ADMIN_PASSWORD; a private CA via NODE_EXTRA_CA_CERTS)
  --interval SECONDS  refresh period (default 2)
`;

interface Component {
  id: string;
  kind: 'source' | 'sink';
  type: string;
  state: string;
  stats: Record<string, number>;
}

const ROWS = 10;

/** Sum of a counter over all its labels (`name` and `name{...}` keys). */
function total(stats: Record<string, number>, name: string): number | undefined {
  let sum: number | undefined;
  for (const [key, value] of Object.entries(stats))
    if (key === name || key.startsWith(`${name}{`)) sum = (sum ?? 0) + value;
  return sum;
}

/** What a component counts as taken in and handed on, by kind. */
function inOut(c: Component): { in?: number; out?: number; rejected?: number; dropped?: number } {
  if (c.kind === 'source')
    return {
      in: total(c.stats, 'lines_received') ?? total(c.stats, 'metrics_emitted'),
      out: total(c.stats, 'metrics_emitted'),
      rejected: total(c.stats, 'lines_rejected'),
      dropped: total(c.stats, 'udp_socket_drops'),
    };
  return {
    in: total(c.stats, 'metrics_received'),
    out: total(c.stats, 'points_sent') ?? total(c.stats, 'metrics_sent'),
    dropped: total(c.stats, 'dropped_metrics'),
  };
}

const rate = (now: number | undefined, before: number | undefined, seconds: number): string =>
  now === undefined ? '-' : before === undefined ? '…' : ((now - before) / seconds).toFixed(1);

const pad = (s: string, n: number): string => (s.length >= n ? s.slice(0, n - 1) + ' ' : s.padEnd(n));
const padStart = (s: string, n: number): string => s.padStart(n);

export async function topCommand(argv: readonly string[], io: ClientIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        admin: { type: 'string', default: 'http://127.0.0.1:8126' },
        interval: { type: 'string', default: '2' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    io.err(`sluice top: ${(e as Error).message}\n\n${TOP_HELP}`);
    return 2;
  }
  if (values.help === true) {
    io.out(TOP_HELP);
    return 0;
  }
  const intervalS = Number(values.interval);
  if (!(intervalS >= 0.2 && intervalS <= 3600)) {
    io.err('sluice top: --interval is a number of seconds in [0.2, 3600]\n');
    return 2;
  }
  let admin;
  try {
    admin = adminEndpoint(values.admin);
  } catch {
    io.err(`sluice top: --admin ${JSON.stringify(values.admin)} is not a URL\n`);
    return 2;
  }
  const base = admin.base;
  const abort = new AbortController();
  let quitting = false;
  void io.quit.then(() => {
    quitting = true;
    abort.abort();
  });

  // Names that reach the sinks, counted from the tap stream between two refreshes.
  const names = new Map<string, number>();
  const tapping = (async () => {
    const response = await fetch(new URL('/api/v1/tap', base), {
      signal: abort.signal,
      headers: admin.headers,
    });
    if (!response.ok || response.body === null) return;
    await readLines(response.body, (lines) => {
      for (const line of lines) {
        const m = JSON.parse(line) as { name?: string };
        if (m.name !== undefined) names.set(m.name, (names.get(m.name) ?? 0) + 1);
      }
    });
  })().catch(() => {});

  let previous = new Map<string, ReturnType<typeof inOut>>();
  let previousAt = 0;
  while (!quitting) {
    let components: Component[];
    try {
      const r = await fetch(new URL('/api/v1/components', base), {
        signal: abort.signal,
        headers: admin.headers,
      });
      components = (await r.json()) as Component[];
    } catch (e) {
      if (quitting) break;
      io.err(unreachable('top', admin.shown, e));
      abort.abort();
      return 1;
    }
    const now = Date.now();
    const seconds = previousAt === 0 ? 1 : (now - previousAt) / 1000;
    const lines: string[] = [];
    lines.push(
      `sluice top — ${admin.shown}   every ${intervalS} s, q quits   ${new Date(now).toISOString()}`,
    );
    lines.push('');
    lines.push(
      pad('COMPONENT', 18) +
        pad('KIND', 7) +
        pad('TYPE', 20) +
        pad('STATE', 9) +
        padStart('IN/s', 11) +
        padStart('OUT/s', 11) +
        padStart('REJECTED/s', 12) +
        padStart('DROPPED/s', 11),
    );
    const current = new Map<string, ReturnType<typeof inOut>>();
    for (const c of components) {
      const v = inOut(c);
      current.set(c.id, v);
      const p = previous.get(c.id) ?? {};
      lines.push(
        pad(c.id, 18) +
          pad(c.kind, 7) +
          pad(c.type, 20) +
          pad(c.state, 9) +
          padStart(rate(v.in, p.in, seconds), 11) +
          padStart(rate(v.out, p.out, seconds), 11) +
          padStart(rate(v.rejected, p.rejected, seconds), 12) +
          padStart(rate(v.dropped, p.dropped, seconds), 11),
      );
    }
    lines.push('');
    lines.push(`BUSIEST METRIC NAMES (to the sinks, per second)`);
    const busiest = [...names].sort((a, b) => b[1] - a[1]).slice(0, ROWS);
    if (busiest.length === 0) lines.push('  (none since the last refresh)');
    for (const [name, n] of busiest)
      lines.push('  ' + pad(name, 50) + padStart((n / seconds).toFixed(1), 10));
    names.clear();
    lines.push('');
    lines.push('NAMES CREATING MOST SERIES (per source, last interval)');
    let any = false;
    for (const c of components) {
      const top = Object.entries(c.stats)
        .filter(([k]) => k.startsWith('series_new_top_names{'))
        .sort((a, b) => b[1] - a[1])
        .slice(0, ROWS);
      for (const [key, n] of top) {
        any = true;
        const name = /name="((?:[^"\\]|\\.)*)"/.exec(key)?.[1] ?? key;
        lines.push('  ' + pad(`${c.id}: ${name}`, 50) + padStart(String(n), 10));
      }
      const held = c.stats.series;
      if (held !== undefined) lines.push('  ' + pad(`${c.id}: series held`, 50) + padStart(String(held), 10));
    }
    if (!any && !components.some((c) => c.stats.series !== undefined))
      lines.push('  (no aggregating source)');
    // Home, clear, draw: the view is replaced in place.
    io.out('\x1b[H\x1b[2J' + lines.join('\n') + '\n');
    previous = current;
    previousAt = now;
    await Promise.race([new Promise((r) => setTimeout(r, intervalS * 1000)), io.quit]);
  }
  abort.abort();
  await tapping;
  return 0;
}
