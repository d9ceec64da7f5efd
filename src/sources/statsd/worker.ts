/** Entry module of a statsd ingest worker thread: the StatsD receive path in the shared runtime. */
import { runIngestWorker } from '../ingest/runtime.js';
import { RejectionLog } from '../../protocols/statsd/parser.js';
import { StatsdIngest } from './ingest.js';
import type { StatsdConfig } from './schema.js';

/** One log for the worker's life: the rejected lines outlive a reload's new receive path. */
const rejections = new RejectionLog(16, 256);

runIngestWorker<StatsdConfig>((config, ctx, outputs, shared) => {
  const ingest = new StatsdIngest(config, ctx, outputs, 'partial', shared.seriesCount, rejections);
  return {
    receive: (buf, from) => ingest.receive(buf, from),
    rejections,
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
