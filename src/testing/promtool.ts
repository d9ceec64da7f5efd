/**
 * `promtool check metrics` on a page a test scraped: its problems, one per line. promtool comes
 * with Debian's prometheus package; without it the check is skipped (an empty list), except
 * under CI=true, where its absence is an error.
 */
import { spawnSync } from 'node:child_process';

export const hasPromtool = spawnSync('promtool', ['--version']).error === undefined;

/**
 * promtool's complaints about `page` (text 0.0.4 or OpenMetrics), less those matching `allowed`;
 * a page it cannot parse is one problem with its message.
 */
export function promtoolProblems(page: string, allowed: readonly RegExp[] = []): string[] {
  if (!hasPromtool) {
    if (process.env.CI === 'true') throw new Error('promtool is missing (apt-get install prometheus)');
    return [];
  }
  const r = spawnSync('promtool', ['check', 'metrics'], { input: page, encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`;
  // 0: clean; 3: lint problems, one per line; anything else: the page did not parse.
  if (r.status !== 0 && r.status !== 3) return [`promtool exited ${r.status}: ${out.trim()}`];
  return out.split('\n').filter((l) => l.trim() !== '' && !allowed.some((a) => a.test(l)));
}
