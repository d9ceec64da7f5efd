/**
 * The scheduling options every polled source shares (Linux, Docker, commands, the agent's own
 * metrics): its interval, and whether the first collection waits a random delay of up to half
 * the interval (Spoon's start jitter) so that a fleet restarted at once does not poll in step.
 * The supervisor does the scheduling (src/core/supervisor.ts); a source only passes these on.
 */
import { s } from '../../config/schema.js';

export function pollingFields(defaultIntervalMs: number, minMs = 100) {
  return {
    interval: s.duration({
      doc: 'How often to collect. Ticks keep a constant rate; a collection that overruns it skips the next tick (counted).',
      default: defaultIntervalMs,
      minMs,
    }),
    start_jitter: s.boolean({
      doc: 'Wait a random delay of up to half the interval before the first collection, so agents started together do not poll in step.',
      default: true,
    }),
  };
}

/** The sample lines for pollingFields, indented for a component block. */
export function pollingSample(interval: string, what = 'collect'): string {
  return [
    `    # How often to ${what}. Ticks keep a constant rate, without drift; a`,
    '    # collection that overruns the interval skips the next tick (counted in',
    '    # sluice_collection_skipped).',
    `    interval: ${interval}`,
    '    # Wait a random delay of up to half the interval before the first collection, so agents',
    '    # restarted together do not all poll in step (false: collect at once).',
    '    start_jitter: true',
  ].join('\n');
}
