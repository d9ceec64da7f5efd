/** Entry module of a json_udp ingest worker thread: the JSON receive path in the shared runtime. */
import { runIngestWorker } from '../ingest/runtime.js';
import { JsonIngest, type JsonUdpConfig } from './source.js';

runIngestWorker<JsonUdpConfig>((config, ctx, _outputs, shared) => {
  const ingest = new JsonIngest(config, ctx, 'partial', shared.seriesCount);
  return {
    receive: (buf) => ingest.receive(buf),
    aggregator: ingest.aggregator,
    get linesParsed() {
      return ingest.linesParsed;
    },
    // The untyped fields' points of the interval, as [gauge name, point] pairs.
    intervalClosed: (now) => [...ingest.intervalClosed(now)],
  };
});
