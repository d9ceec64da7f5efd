/**
 * The I/O shell of the Docker source: asks the daemon for its running containers, then for
 * each one's statistics (a few at a time), and hands the JSON to the pure functions of
 * stats.ts. Nothing here throws out of collect(): a daemon that is absent or restarting gives
 * an empty collection, counted and warned about at most every few minutes; a container that
 * stops between the list and its statistics is skipped; any other failed request is counted
 * and skips that container only.
 */
import type { PolledSource, SourceContext } from '../../core/component.js';
import { compilePattern } from '../../core/filter.js';
import type { Batch, Metric } from '../../core/metric.js';
import type { Tags } from '../../core/tags.js';
import { DockerApiError, DockerClient, ONE_SHOT_API_VERSION, compareApiVersions } from './client.js';
import type { DockerConfig } from './schema.js';
import {
  containerMetrics,
  containerTags,
  cpuPercent,
  parseContainerList,
  parseStats,
  type ContainerStats,
  type ContainerSummary,
  type CpuSample,
} from './stats.js';

/** While the daemon stays unreachable, the warning is repeated at most this often. */
export const UNAVAILABLE_WARN_EVERY_MS = 5 * 60_000;
/** Past this many distinct problems, forget which were already warned about. */
const MAX_WARNED = 1000;

interface Known {
  readonly tags: Tags;
  cpu: CpuSample | undefined;
}

type StatsResult =
  | { ok: true; stats: ContainerStats }
  | { ok: false; gone: true }
  | { ok: false; gone: false; error: DockerApiError };

export class DockerSource implements PolledSource {
  readonly mode = 'polled';
  readonly intervalMs: number;
  readonly startJitter: boolean;
  private readonly client: DockerClient;
  private readonly concurrency: number;
  private readonly include: readonly RegExp[];
  private readonly exclude: readonly RegExp[];
  private readonly labels: readonly RegExp[];
  /** Per container ID: its tags (labels never change on a container) and last CPU sample. */
  private readonly known = new Map<string, Known>();
  private readonly warned = new Set<string>();
  /** undefined while connected (or before the first try); otherwise when we last warned. */
  private lastUnavailableWarn: number | undefined;
  private connected = false;

  constructor(
    config: DockerConfig,
    private readonly ctx: SourceContext,
  ) {
    this.intervalMs = config.interval;
    this.startJitter = config.start_jitter;
    this.concurrency = config.concurrency;
    this.client = new DockerClient(config.socket, config.timeout, config.concurrency);
    this.include = config.include_names.map((p) => compilePattern(p).regex);
    this.exclude = config.exclude_names.map((p) => compilePattern(p).regex);
    this.labels = config.labels.map((p) => compilePattern(p).regex);
  }

  async collect(): Promise<Batch> {
    const timestamp = this.ctx.clock.now();
    let containers: ContainerSummary[];
    let apiVersion: string;
    try {
      const body = await this.client.get('/containers/json');
      const list = parseContainerList(body);
      if (list === undefined) {
        this.requestFailed(new DockerApiError('The container list is not a JSON array.', 'body', 'bad_body'));
        return [];
      }
      if (list.malformed > 0) {
        this.ctx.stats
          .counter('docker_malformed_containers', 'Entries of the container list without an ID (skipped).')
          .inc(list.malformed);
      }
      containers = list.containers.filter((c) => this.wanted(c.name));
      apiVersion = await this.client.apiVersion();
    } catch (e) {
      this.unavailable(e);
      return [];
    }
    this.available(apiVersion);

    const oneShot = compareApiVersions(apiVersion, ONE_SHOT_API_VERSION) >= 0;
    const results = await this.statsOf(containers, oneShot);
    const out: Metric[] = [];
    const listed = new Set<string>();
    let reported = 0;
    let lostDaemon = false;
    for (let i = 0; i < containers.length; i++) {
      const c = containers[i] as ContainerSummary;
      const r = results[i] as StatsResult;
      listed.add(c.id);
      if (!r.ok) {
        if (r.gone) {
          this.ctx.stats
            .counter(
              'docker_containers_vanished',
              'Containers listed as running that had stopped when asked.',
            )
            .inc();
        } else {
          if (r.error.kind === 'unavailable') lostDaemon = true;
          this.requestFailed(r.error, c);
        }
        continue;
      }
      let k = this.known.get(c.id);
      if (k === undefined) {
        k = { tags: containerTags(c, this.labels), cpu: undefined };
        this.known.set(c.id, k);
      }
      const percent = k.cpu === undefined ? undefined : cpuPercent(k.cpu, r.stats.cpu);
      k.cpu = r.stats.cpu;
      containerMetrics(out, k.tags, r.stats, percent, timestamp);
      reported++;
    }
    for (const id of this.known.keys()) if (!listed.has(id)) this.known.delete(id);
    this.ctx.stats.gauge('docker_containers', 'Containers reported by the last collection.').set(reported);
    // The daemon went away mid-collection: negotiate again on the next one.
    if (lostDaemon) this.client.reset();
    return out;
  }

  async stop(): Promise<void> {
    this.client.close();
    this.known.clear();
  }

  private wanted(name: string): boolean {
    if (this.include.length > 0 && !this.include.some((r) => r.test(name))) return false;
    return !this.exclude.some((r) => r.test(name));
  }

  /** Each container's statistics, `concurrency` requests at a time, in the list's order. */
  private async statsOf(containers: readonly ContainerSummary[], oneShot: boolean): Promise<StatsResult[]> {
    const results: StatsResult[] = new Array<StatsResult>(containers.length);
    // stream=false alone makes the daemon wait for a second sample (about 1 s) to fill
    // precpu_stats; CPU % is computed here from the previous collection instead.
    const query = oneShot ? '?stream=false&one-shot=true' : '?stream=false';
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < containers.length) {
        const i = next++;
        const c = containers[i] as ContainerSummary;
        results[i] = await this.statsOfOne(c.id, query);
      }
    };
    const workers: Promise<void>[] = [];
    for (let w = 0; w < Math.min(this.concurrency, containers.length); w++) workers.push(worker());
    await Promise.all(workers);
    return results;
  }

  private async statsOfOne(id: string, query: string): Promise<StatsResult> {
    let body: unknown;
    try {
      body = await this.client.get(`/containers/${encodeURIComponent(id)}/stats${query}`);
    } catch (e) {
      const error = e instanceof DockerApiError ? e : new DockerApiError(String(e), 'unavailable', 'error');
      // 404: removed since the list; 409: not running any more.
      if (error.status === 404 || error.status === 409) return { ok: false, gone: true };
      return { ok: false, gone: false, error };
    }
    const stats = parseStats(body);
    if (stats !== undefined) return { ok: true, stats };
    // An object without CPU time is the zeroed sample of a container that has stopped.
    if (body !== null && typeof body === 'object' && !Array.isArray(body)) return { ok: false, gone: true };
    return {
      ok: false,
      gone: false,
      error: new DockerApiError('Stats body is not an object.', 'body', 'bad_body'),
    };
  }

  private unavailable(e: unknown): void {
    const error = e instanceof DockerApiError ? e : new DockerApiError(String(e), 'unavailable', 'error');
    if (error.kind !== 'unavailable' && error.kind !== 'timeout') {
      // The daemon answered, but not as expected (an HTTP error on the list, say; a 400 if it
      // was downgraded under us): count it, and negotiate again next time.
      this.client.reset();
      this.requestFailed(error);
      return;
    }
    this.client.reset();
    this.connected = false;
    this.ctx.stats
      .counter('docker_unavailable', 'Collections skipped because the Docker daemon could not be reached.', {
        reason: error.reason,
      })
      .inc();
    const now = this.ctx.clock.now();
    const fields = { socket: this.client.socketPath, reason: error.reason, error: error.message };
    if (
      this.lastUnavailableWarn === undefined ||
      now - this.lastUnavailableWarn >= UNAVAILABLE_WARN_EVERY_MS
    ) {
      this.lastUnavailableWarn = now;
      this.ctx.log.warn(
        'Cannot reach the Docker daemon; no container metrics until it answers (check the socket option).',
        fields,
      );
    } else {
      this.ctx.log.debug('Docker daemon still unreachable.', fields);
    }
  }

  private available(apiVersion: string): void {
    if (this.connected) return;
    this.connected = true;
    this.lastUnavailableWarn = undefined;
    this.ctx.log.info('Connected to the Docker daemon.', { socket: this.client.socketPath, apiVersion });
  }

  private requestFailed(error: DockerApiError, c?: ContainerSummary): void {
    this.ctx.stats
      .counter('docker_request_errors', 'Docker API requests that failed, by reason.', {
        reason: error.reason,
      })
      .inc();
    const key = `${error.reason}`;
    const fields = { reason: error.reason, error: error.message, container: c?.name };
    if (this.warned.has(key)) {
      this.ctx.log.debug('A Docker API request failed.', fields);
      return;
    }
    if (this.warned.size >= MAX_WARNED) this.warned.clear();
    this.warned.add(key);
    this.ctx.log.warn('A Docker API request failed; skipped what it was for.', fields);
  }
}
