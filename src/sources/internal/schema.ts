import { s, type InferFields } from '../../config/schema.js';
import { pollingFields, pollingSample } from '../polling/index.js';

export const schema = s.object(
  {
    ...pollingFields(10_000),
    components: s.boolean({
      doc: "Report every source's and sink's counters (received, rejected by reason, sent, dropped, restarts, ...).",
      default: true,
    }),
    process: s.boolean({
      doc: "Report the agent process's CPU, memory, heap, event-loop delay and uptime.",
      default: true,
    }),
  },
  { allowKeys: ['type'] },
);

export type InternalConfig = InferFields<typeof schema.fields>;

export const sample = `  internal:
    type: internal
${pollingSample('10s', "report the agent's own metrics")}
    # Every source's and sink's counters, labelled component and component_type:
    # received, rejected by reason, sent, dropped by reason, retries, restarts, ...
    components: true
    # The agent process: CPU seconds, resident memory, V8 heap, event-loop delay and
    # utilisation, uptime.
    process: true
`;
