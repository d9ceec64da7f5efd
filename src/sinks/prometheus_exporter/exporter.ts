/**
 * The exporter sink: `write` updates the state, a scrape renders it. The HTTP server is a thin
 * shell around `handle`, which tests call directly without a socket.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createWebServer } from '../../core/web.js';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { ComponentContext, Sink } from '../../core/component.js';
import type { Batch, Metric } from '../../core/metric.js';
import type { StatCounter, StatGauge } from '../../core/stats.js';
import type { PrometheusExporterConfig } from './schema.js';
import {
  ExporterState,
  REJECT_REASONS,
  renderExpositionBuffer,
  renderOpenMetricsBuffer,
  renderProtobuf,
  type RejectReason,
} from './state.js';
import { OPENMETRICS_CONTENT_TYPE, openMetricsQuality } from '../../protocols/prometheus/text.js';
import { PROTOBUF_CONTENT_TYPE, protobufQuality } from '../../protocols/prometheus/protobuf.js';

const gzip = promisify(gzipCallback);

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A log line per reject reason at most this often; the counters have the exact numbers. */
const REJECT_LOG_INTERVAL_MS = 60_000;
/** Expired series are also swept on this period, so memory is freed when nobody scrapes. */
const MAX_SWEEP_INTERVAL_MS = 60_000;

const REJECT_MESSAGES: Record<RejectReason, string> = {
  type_conflict:
    'A metric was dropped: its Prometheus name is already used by a metric of another type. Rename one of them.',
  name_conflict:
    "A metric was dropped: its Prometheus sample names clash with another family's (a summary's or histogram's _sum, _count or _bucket, or a counter's _total). Rename one of them.",
  negative_counter: 'A delta counter with a negative value was dropped: Prometheus counters only go up.',
  invalid_value: 'A metric with a NaN or infinite value was dropped: it would stick in the running total.',
};

export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** Whether an Accept-Encoding header allows gzip (RFC 9110 §12.5.3: `q=0` means "not acceptable"). */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  for (const part of header.split(',')) {
    const [coding = '', ...params] = part.split(';');
    if (coding.trim().toLowerCase() !== 'gzip') continue;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
      if (m !== null && Number(m[1]) === 0) return false;
    }
    return true;
  }
  return false;
}

function text(status: number, body: string, extra: Record<string, string> = {}): Reply {
  const buf = Buffer.from(body);
  return {
    status,
    headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(buf.length), ...extra },
    body: buf,
  };
}

interface Rendering {
  readonly plain: Buffer;
  gzipped: Promise<Buffer> | undefined;
}

/** The page of one state version, in each format asked for so far (each rendered once). */
interface Page {
  readonly version: number;
  text: Rendering | undefined;
  /** null: this version cannot be OpenMetrics (two families' names collide there). */
  openMetrics: Rendering | null | undefined;
  protobuf: Rendering | undefined;
}

export class PrometheusExporter implements Sink {
  readonly state: ExporterState;
  private server: Server | undefined;
  private sweeper: ReturnType<typeof setInterval> | undefined;
  private boundPort = 0;
  private page: Page | undefined;
  private readonly rejected: Record<RejectReason, StatCounter>;
  private readonly lastRejectLog: Record<RejectReason, number>;
  private readonly scrapes: StatCounter;
  private readonly resets: StatCounter;
  private lastResetLog = -Infinity;
  private readonly seriesGauge: StatGauge;
  private readonly openMetricsFallbacks: StatCounter;

  constructor(
    private readonly config: PrometheusExporterConfig,
    private readonly ctx: ComponentContext,
  ) {
    this.state = new ExporterState(
      config.expiry,
      (reason, m) => this.reject(reason, m),
      (m) => this.reset(m),
      config.counter_suffix,
      config.native_histograms ? { maxBuckets: config.native_histogram_max_buckets } : undefined,
    );
    const rejected = {} as Record<RejectReason, StatCounter>;
    const last = {} as Record<RejectReason, number>;
    for (const reason of REJECT_REASONS) {
      rejected[reason] = ctx.stats.counter('dropped_metrics', 'Metrics dropped before reaching the sink.', {
        reason,
      });
      last[reason] = -Infinity;
    }
    this.rejected = rejected;
    this.lastRejectLog = last;
    this.scrapes = ctx.stats.counter('scrapes', 'Metrics pages served.');
    this.openMetricsFallbacks = ctx.stats.counter(
      'openmetrics_fallbacks',
      'Pages served as text 0.0.4 to a scraper that asked for OpenMetrics, because two families would share a name there (a counter x beside a gauge x).',
    );
    this.resets = ctx.stats.counter(
      'bucket_layout_resets',
      'Histogram series started again from zero because their bins changed.',
    );
    this.seriesGauge = ctx.stats.gauge('exported_series', 'Series currently exported.');
  }

  /** The port the server is bound to (useful with port 0), or 0 before start. */
  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    const server = createWebServer(this.config.web_config_file, (req, res) => this.serve(req, res));
    const { host, port } = this.config.listen;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.ctx.fail(e));
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
    const address = `${host.includes(':') ? `[${host}]` : host}:${this.boundPort}`;
    this.ctx.log.info('Prometheus exporter listening.', {
      address,
      port: this.boundPort,
      url: `${this.config.web_config_file?.tls === undefined ? 'http' : 'https'}://${address}${this.config.path}`,
    });
    if (this.config.expiry > 0) {
      this.sweeper = setInterval(() => this.expire(), Math.min(this.config.expiry, MAX_SWEEP_INTERVAL_MS));
      this.sweeper.unref();
    }
  }

  write(batch: Batch): void {
    this.state.write(batch, this.ctx.clock.now());
    this.seriesGauge.set(this.state.seriesCount);
  }

  async stop(): Promise<void> {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Idle keep-alive connections would hold close() open until they time out.
      server.closeAllConnections();
    });
  }

  private expire(): void {
    this.state.expire(this.ctx.clock.now());
    this.seriesGauge.set(this.state.seriesCount);
  }

  /** The current page, rendered (and gzipped) at most once per state version. */
  private currentPage(): Page {
    this.expire();
    if (this.page === undefined || this.page.version !== this.state.version)
      this.page = {
        version: this.state.version,
        text: undefined,
        openMetrics: undefined,
        protobuf: undefined,
      };
    return this.page;
  }

  /**
   * The page in the format the scraper asked for: protobuf when it is offered at least as
   * warmly as OpenMetrics (Prometheus with native histograms on offers it first) and
   * native_histograms is on; else OpenMetrics when offered (Prometheus does by default), unless
   * counters keep their names (`counter_suffix: false`, which OpenMetrics cannot express) or two
   * families' names would collide there; else text 0.0.4.
   */
  private rendering(page: Page, accept: string | undefined): { body: Rendering; type: string } {
    const om = this.config.counter_suffix ? openMetricsQuality(accept) : 0;
    const pb = this.config.native_histograms ? protobufQuality(accept) : 0;
    if (pb > 0 && pb >= om) {
      // From now on distributions keep native buckets (a new series to Prometheus, from zero).
      this.state.activateNative();
      page.protobuf ??= { plain: renderProtobuf(this.state), gzipped: undefined };
      return { body: page.protobuf, type: PROTOBUF_CONTENT_TYPE };
    }
    if (om > 0) {
      if (page.openMetrics === undefined) {
        const plain = renderOpenMetricsBuffer(this.state);
        page.openMetrics = plain === undefined ? null : { plain, gzipped: undefined };
        if (plain === undefined) this.openMetricsFallbacks.inc();
      }
      if (page.openMetrics !== null) return { body: page.openMetrics, type: OPENMETRICS_CONTENT_TYPE };
    }
    page.text ??= { plain: renderExpositionBuffer(this.state), gzipped: undefined };
    return { body: page.text, type: CONTENT_TYPE };
  }

  /** Answers one request. */
  async handle(
    method: string,
    url: string,
    acceptEncoding: string | undefined,
    accept?: string,
  ): Promise<Reply> {
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const known = path === this.config.path || path === '/';
    if (!known) return text(404, 'Not found.\n');
    if (method !== 'GET' && method !== 'HEAD')
      return text(405, 'Method not allowed.\n', { Allow: 'GET, HEAD' });
    const head = method === 'HEAD';
    if (path !== this.config.path) {
      const reply = text(200, `sluice Prometheus exporter\n\nMetrics are at ${this.config.path}\n`);
      return head ? { ...reply, body: Buffer.alloc(0) } : reply;
    }
    this.scrapes.inc();
    const { body: page, type } = this.rendering(this.currentPage(), accept);
    const headers: Record<string, string> = { 'Content-Type': type, Vary: 'Accept, Accept-Encoding' };
    let body = page.plain;
    if (acceptsGzip(acceptEncoding)) {
      if (page.gzipped === undefined) {
        const pending = gzip(page.plain);
        page.gzipped = pending;
        // A failed compression is not cached: the next scrape tries again.
        pending.catch(() => {
          if (page.gzipped === pending) page.gzipped = undefined;
        });
      }
      body = await page.gzipped;
      headers['Content-Encoding'] = 'gzip';
    }
    headers['Content-Length'] = String(body.length);
    return { status: 200, headers, body: head ? Buffer.alloc(0) : body };
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    this.handle(req.method ?? 'GET', req.url ?? '/', req.headers['accept-encoding'], req.headers.accept).then(
      (reply) => {
        res.writeHead(reply.status, reply.headers);
        res.end(reply.body);
      },
      (e: unknown) => {
        this.ctx.log.error('A scrape failed.', { error: e });
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('Internal error.\n');
      },
    );
  }

  private reset(m: Metric): void {
    this.resets.inc();
    const now = this.ctx.clock.now();
    if (now - this.lastResetLog < REJECT_LOG_INTERVAL_MS) return;
    this.lastResetLog = now;
    this.ctx.log.warn(
      'A histogram series changed bins and starts again from zero: give each metric one set of bins (histogram_bins in the source).',
      { metric: m.name },
    );
  }

  private reject(reason: RejectReason, m: Metric): void {
    this.rejected[reason].inc();
    const now = this.ctx.clock.now();
    if (now - this.lastRejectLog[reason] < REJECT_LOG_INTERVAL_MS) return;
    this.lastRejectLog[reason] = now;
    this.ctx.log.warn(REJECT_MESSAGES[reason], { reason, metric: m.name, kind: m.kind });
  }
}
