/** What `sluice tap` and `sluice top` share: reading the agent's admin endpoint. */
import { registerSecret } from '../core/secrets.js';

/** A command that runs until the user quits. */
export interface ClientIo {
  out(text: string): void;
  err(text: string): void;
  /** Resolves when the user quits (Ctrl-C, SIGTERM; q in `top`). */
  quit: Promise<void>;
}

/** Why the admin endpoint at `base` could not be reached, and what usually fixes it. */
export function unreachable(command: string, base: string, error: unknown): string {
  const e = error as Error;
  const why = e.cause instanceof Error ? e.cause.message : e.message;
  return `sluice ${command}: cannot reach the admin endpoint at ${base} (${why}); is agent.admin_listen set?\n`;
}

/** Hands each complete line of a newline-delimited response body to `onLines`, as it comes. */
export async function readLines(
  body: AsyncIterable<Uint8Array>,
  onLines: (lines: string[]) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of body) {
    pending += decoder.decode(chunk, { stream: true });
    const end = pending.lastIndexOf('\n');
    if (end < 0) continue;
    onLines(pending.slice(0, end).split('\n'));
    pending = pending.slice(end + 1);
  }
}

/**
 * The admin endpoint as `--admin` names it: https:// works (a private CA through
 * NODE_EXTRA_CA_CERTS), and credentials for its basic auth come from the URL's user:password
 * (taken out of it, since fetch refuses such URLs) or SLUICE_ADMIN_USER / SLUICE_ADMIN_PASSWORD.
 * `shown` is the URL without the password, for messages.
 */
export interface AdminEndpoint {
  readonly base: URL;
  readonly shown: string;
  readonly headers: Readonly<Record<string, string>>;
}

export function adminEndpoint(text: string, env: NodeJS.ProcessEnv = process.env): AdminEndpoint {
  const base = new URL(text);
  const user = decodeURIComponent(base.username) || (env.SLUICE_ADMIN_USER ?? '');
  const password = decodeURIComponent(base.password) || (env.SLUICE_ADMIN_PASSWORD ?? '');
  base.username = '';
  base.password = '';
  const headers: Record<string, string> = {};
  if (user !== '' || password !== '') {
    registerSecret(password);
    headers.Authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }
  return { base, shown: base.href.replace(/\/$/, ''), headers };
}
