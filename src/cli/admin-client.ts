/** What `sluice tap` and `sluice top` share: reading the agent's admin endpoint. */

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
