/** Entry module of a statsd ingest worker thread: the StatsD receive path in the shared runtime. */
import { runIngestWorker } from '../ingest/runtime.js';
import { StatsdIngest } from './ingest.js';
import type { StatsdConfig } from './schema.js';

runIngestWorker<StatsdConfig>((config, ctx, outputs, shared) => {
  const ingest = new StatsdIngest(config, ctx, outputs, 'partial', shared.seriesCount);
  return {
    receive: (buf) => ingest.receive(buf),
    aggregator: ingest.aggregator,
    get linesParsed() {
      return ingest.linesParsed;
    },
    intervalClosed: (now) => {
      ingest.intervalClosed();
      ingest.warnAboutRejections(now);
      return undefined;
    },
  };
});
