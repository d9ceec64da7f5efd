/**
 * `sluice tap`: prints what a running agent hands its sinks, as it flows (after filters and the
 * agent's tags), or with --raw the lines its StatsD sources receive before parsing, read from the
 * admin endpoint's /api/v1/tap until interrupted. The agent pays nothing while nobody taps.
 */
import { parseArgs } from 'node:util';
import { adminEndpoint, readLines, unreachable, type ClientIo } from './admin-client.js';

export const TAP_HELP = `Usage: sluice tap [--admin URL] [--component ID] [--name PATTERN] [--tag KEY:PATTERN]... [--raw] [--format text|json]

Prints the metrics a running sluice hands its sinks, as they flow, until interrupted (Ctrl-C).
Needs the agent's admin endpoint (agent.admin_listen). Patterns are globs (* and ?) or /regex/.

  --admin URL        the admin endpoint (default http://127.0.0.1:8126); https:// and
                     https://user:password@host:port for one behind admin_web_config_file (or
                     SLUICE_ADMIN_USER and SLUICE_ADMIN_PASSWORD; a private CA via NODE_EXTRA_CA_CERTS)
  --component ID     only what this source emitted
  --name PATTERN     only metrics whose name matches
  --tag KEY:PATTERN  only metrics with this tag matching (repeatable; all must match)
  --raw              the lines StatsD sources receive instead, before parsing, valid or not
                     (--name then matches the text before the ':')
  --format FORMAT    text (default: source, name, tags, value) or json (one object per line)
`;

export async function tapCommand(argv: readonly string[], io: ClientIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        admin: { type: 'string', default: 'http://127.0.0.1:8126' },
        component: { type: 'string' },
        name: { type: 'string' },
        tag: { type: 'string', multiple: true },
        raw: { type: 'boolean' },
        format: { type: 'string', default: 'text' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    io.err(`sluice tap: ${(e as Error).message}\n\n${TAP_HELP}`);
    return 2;
  }
  if (values.help === true) {
    io.out(TAP_HELP);
    return 0;
  }
  if (values.format !== 'text' && values.format !== 'json') {
    io.err(`sluice tap: --format is text or json, not ${values.format}\n`);
    return 2;
  }
  let admin;
  try {
    admin = adminEndpoint(values.admin);
  } catch {
    io.err(`sluice tap: --admin ${JSON.stringify(values.admin)} is not a URL\n`);
    return 2;
  }
  const url = new URL('/api/v1/tap', admin.base);
  if (values.component !== undefined) url.searchParams.set('component', values.component);
  if (values.name !== undefined) url.searchParams.set('name', values.name);
  for (const t of values.tag ?? []) url.searchParams.append('tag', t);
  if (values.raw === true) url.searchParams.set('raw', '1');
  const abort = new AbortController();
  void io.quit.then(() => abort.abort());
  let response: Response;
  try {
    response = await fetch(url, { signal: abort.signal, headers: admin.headers });
  } catch (e) {
    if (abort.signal.aborted) return 0;
    io.err(unreachable('tap', admin.shown, e));
    return 1;
  }
  if (!response.ok || response.body === null) {
    io.err(`sluice tap: ${url.pathname} answered ${response.status}: ${await response.text()}\n`);
    return 1;
  }
  try {
    await readLines(response.body, (lines) =>
      io.out(values.format === 'json' ? lines.join('\n') + '\n' : lines.map(asText).join('')),
    );
  } catch (e) {
    if (!abort.signal.aborted) {
      io.err(`sluice tap: the stream ended: ${(e as Error).message}\n`);
      return 1;
    }
  }
  return 0;
}

/** One tapped metric as a line a person reads: source, name{tags} and its value(s). */
function asText(line: string): string {
  const m = JSON.parse(line) as Record<string, unknown>;
  if (typeof m.dropped === 'number')
    return `# ${m.dropped} lines dropped: this terminal reads slower than they come\n`;
  if (typeof m.line === 'string') return `${String(m.source ?? '-')} ${m.line}\n`;
  const tags = Object.entries((m.tags ?? {}) as Record<string, string>)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',');
  const value =
    m.value !== undefined
      ? String(m.value)
      : JSON.stringify(m.summary ?? m.histogram ?? m.distribution ?? m.set ?? null);
  return `${String(m.source ?? '-')} ${String(m.kind)} ${String(m.name)}${tags === '' ? '' : `{${tags}}`} ${value}\n`;
}
