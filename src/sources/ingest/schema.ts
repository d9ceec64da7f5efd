/** The `workers` option of the sources that ingest on worker threads (statsd, json_udp). */
import { s } from '../../config/schema.js';

/** `workers`: a count, or `auto` for one per CPU. */
function parseWorkers(value: unknown): { ok: true; value: number | 'auto' } | { ok: false; message: string } {
  if (value === 'auto') return { ok: true, value };
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 64)
    return { ok: true, value };
  return { ok: false, message: `expected auto or a whole number from 0 to 64, got ${JSON.stringify(value)}` };
}

export const workersFields = {
  workers: s.custom('auto or a number', parseWorkers, {
    default: 'auto' as number | 'auto',
    doc: "Threads that receive, parse and aggregate, apart from the agent's flushes, sinks and scrapes: auto = one per CPU. Each udp:// address is bound by every worker (SO_REUSEPORT, Node >= 22.12; one worker on older Node); stream and unixgram listeners run on the first. 0 ingests on the main thread.",
  }),
};

/** The option as sample YAML lines, indented for a component block. */
export const workersSample = `    # Threads that receive, parse and aggregate, apart from flushes, sinks and scrapes:
    # auto = one per CPU; 0 = on the main thread. udp:// addresses are shared by all of
    # them (SO_REUSEPORT, Node >= 22.12); other listeners run on the first.
    workers: auto
`;
