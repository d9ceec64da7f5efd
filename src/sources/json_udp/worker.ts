/** Entry module of a json_udp ingest worker thread: the JSON receive path in the shared runtime. */
import { runIngestWorker } from '../ingest/runtime.js';
import { JsonRejectionLog } from '../../protocols/json/parser.js';
import { JsonIngest, type JsonUdpConfig } from './source.js';

/** One log for the worker's life: the rejected lines outlive a reload's new receive path. */
const rejections = new JsonRejectionLog(16, 256);

runIngestWorker<JsonUdpConfig>((config, ctx, _outputs, shared) => {
  const ingest = new JsonIngest(config, ctx, 'partial', shared.seriesCount, rejections);
  return {
    receive: (buf, from) => ingest.receive(buf, from),
    rejections,
    aggregator: ingest.aggregator,
    get linesParsed() {
      return ingest.linesParsed;
    },
    // The untyped fields' points of the interval, as [gauge name, point] pairs.
    intervalClosed: (now) => [...ingest.intervalClosed(now)],
  };
});
