/**
 * The `kafka` source: a sluice aggregator. It joins a consumer group on the state topic agents
 * publish to (the kafka sink's `format: state`), merges their interval state per partition and
 * window (windows.ts), and hands each closed window's global series to the sinks.
 *
 * Each cycle (a quarter of a window, at most a second): the due windows close and are emitted;
 * once every sink has delivered them (SourceContext.delivered), a marker per closed window goes
 * into its partition, and then the offsets are committed. A crash before the commit loses
 * nothing: whoever gets the partition reads the state of every open window again, and skips
 * the windows whose markers it finds (docs/fleet.md, "Delivery").
 *
 * At shutdown the windows already closed are delivered and committed; open ones are left to the
 * next owner of their partitions (emitting them early would emit them twice).
 */
import type * as KafkaClient from '@platformatic/kafka';
import type { Consumer, Message, MessagesStream, Producer } from '@platformatic/kafka';
import { kafkaConnection } from '../../config/kafka.js';
import type { ListeningSource, SourceContext } from '../../core/component.js';
import type { StatCounter, StatGauge } from '../../core/stats.js';
import { StateWriter } from '../../protocols/state/codec.js';
import { processIdentity } from '../../core/identity.js';
import type { KafkaSourceConfig } from './schema.js';
import { WindowStore, type Outcome } from './windows.js';

type KafkaModule = typeof KafkaClient;
let kafkaModule: Promise<KafkaModule> | undefined;
function loadKafka(): Promise<KafkaModule> {
  kafkaModule ??= import('@platformatic/kafka');
  return kafkaModule;
}

type Bytes = Buffer;

export class KafkaAggregatorSource implements ListeningSource {
  readonly mode = 'listening';
  private consumer: Consumer<Bytes, Bytes, Bytes, Bytes> | undefined;
  private producer: Producer<Bytes, Bytes, Bytes, Bytes> | undefined;
  private stream: MessagesStream<Bytes, Bytes, Bytes, Bytes> | undefined;
  private readonly store: WindowStore;
  private readonly id = processIdentity();
  private readonly writer = new StateWriter({ agent: this.id, setExactLimit: 0, sketchMaxBins: 0 });
  private timer: NodeJS.Timeout | undefined;
  /** Messages that arrived while an assignment was being set up. */
  private held: Message<Bytes, Bytes, Bytes, Bytes>[] | undefined = [];
  private generation = 0;
  private cycling: Promise<void> | undefined;
  private mergeScheduled = false;
  private stopping = false;
  private readonly outcomes: Record<Outcome, StatCounter>;
  private readonly windowsEmitted: StatCounter;
  private readonly seriesEmitted: StatCounter;
  private readonly duplicateSeries: StatCounter;
  private readonly mergeSeconds: StatCounter;
  private readonly commits: StatCounter;
  private readonly commitFailures: StatCounter;
  private readonly openWindows: StatGauge;
  private readonly assignedPartitions: StatGauge;
  private readonly lag = new Map<number, StatGauge>();
  private counted = { duplicateSeries: 0, mergeMs: 0 };

  constructor(
    private readonly config: KafkaSourceConfig,
    private readonly ctx: SourceContext,
  ) {
    this.store = new WindowStore({
      windowMs: config.window,
      latenessMs: config.allowed_lateness,
      late: config.late,
      aggregator: { percentiles: config.percentiles, maxSeries: config.max_series },
    });
    const st = ctx.stats;
    const help = 'State messages read from Kafka, by what became of them.';
    this.outcomes = Object.fromEntries(
      (Object.keys(this.store.counts) as Outcome[]).map((outcome) => [
        outcome,
        st.counter('state_messages', help, { outcome }),
      ]),
    ) as Record<Outcome, StatCounter>;
    this.windowsEmitted = st.counter(
      'windows_emitted',
      'Global windows closed and handed to the sinks (one per partition).',
    );
    this.seriesEmitted = st.counter('global_series_emitted', 'Merged global series handed to the sinks.');
    this.duplicateSeries = st.counter(
      'duplicate_state',
      'Series state read again for a window another aggregator had delivered (its marker), and not merged twice.',
    );
    this.mergeSeconds = st.counter('merge_seconds', 'Time spent merging agents\u2019 state.');
    this.commits = st.counter('offset_commits', 'Offset commits after delivered windows.');
    this.commitFailures = st.counter(
      'offset_commit_failures',
      'Offset commits the group refused (a rebalance).',
    );
    this.openWindows = st.gauge('open_windows', 'Windows open, over all assigned partitions.');
    this.assignedPartitions = st.gauge(
      'assigned_partitions',
      'Partitions of the state topic this aggregator owns.',
    );
  }

  async start(): Promise<void> {
    const { Consumer, Producer } = await loadKafka();
    const connection = kafkaConnection(this.config);
    const consumer = new Consumer<Bytes, Bytes, Bytes, Bytes>({
      clientId: this.config.client_id,
      ...connection,
      groupId: this.config.group,
      sessionTimeout: this.config.session_timeout,
      heartbeatInterval: Math.max(500, Math.floor(this.config.session_timeout / 3)),
      rebalanceTimeout: this.config.session_timeout,
      autocommit: false,
    });
    this.consumer = consumer;
    this.producer = new Producer<Bytes, Bytes, Bytes, Bytes>({
      clientId: this.config.client_id,
      ...connection,
    });
    consumer.on('consumer:group:join', () => void this.onJoin());
    consumer.on('consumer:lag', (offsets) => this.onLag(offsets.get(this.config.topic) ?? []));
    const stream = await consumer.consume({
      topics: [this.config.topic],
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: false,
      maxWaitTime: 500,
    });
    this.stream = stream;
    stream.on('data', (m: Message<Bytes, Bytes, Bytes, Bytes>) => this.onMessage(m));
    stream.on('error', (e: unknown) => this.ctx.fail(e));
    consumer.startLagMonitoring({ topics: [this.config.topic] }, 5_000);
    const tick = Math.min(1000, Math.max(100, Math.floor(this.config.window / 4)));
    this.timer = setInterval(() => void this.cycle(), tick);
    this.ctx.log.info('Aggregator joined its group.', {
      group: this.config.group,
      topic: this.config.topic,
      window_ms: this.config.window,
      id: this.id,
    });
  }

  /** A new assignment: set the store up from committed offsets and the partitions' ends. */
  private async onJoin(): Promise<void> {
    const consumer = this.consumer;
    if (consumer === undefined) return;
    const generation = ++this.generation;
    this.held ??= [];
    const partitions = (consumer.assignments ?? [])
      .filter((a) => a.topic === this.config.topic)
      .flatMap((a) => a.partitions);
    try {
      const committed =
        partitions.length === 0
          ? new Map()
          : await consumer.listCommittedOffsets({
              topics: [{ topic: this.config.topic, partitions }],
            });
      const ends =
        partitions.length === 0 ? new Map() : await consumer.listOffsets({ topics: [this.config.topic] });
      if (generation !== this.generation) return;
      const c = committed.get(this.config.topic) ?? [];
      const e = ends.get(this.config.topic) ?? [];
      const assigned = new Map<number, { committed: bigint; end: bigint }>();
      for (const p of partitions) assigned.set(p, { committed: c[p] ?? -1n, end: e[p] ?? 0n });
      this.store.assign(assigned);
      this.assignedPartitions.set(partitions.length);
      this.ctx.log.info('Partitions assigned.', { partitions: partitions.join(',') || '(none)' });
    } catch (error) {
      this.ctx.fail(error);
      return;
    }
    const held = this.held ?? [];
    this.held = undefined;
    for (const m of held) this.take(m);
    this.scheduleMerge();
  }

  private onMessage(m: Message<Bytes, Bytes, Bytes, Bytes>): void {
    if (m.topic !== this.config.topic) return;
    if (this.held !== undefined) {
      this.held.push(m);
      return;
    }
    this.take(m);
    this.scheduleMerge();
  }

  private take(m: Message<Bytes, Bytes, Bytes, Bytes>): void {
    const outcome = this.store.add(m.partition, m.offset, m.value);
    this.outcomes[outcome].inc();
  }

  /** Merges once the messages of this read are all taken. */
  private scheduleMerge(): void {
    if (this.mergeScheduled) return;
    this.mergeScheduled = true;
    setImmediate(() => {
      this.mergeScheduled = false;
      this.store.mergePending();
      this.updateStats();
    });
  }

  private updateStats(): void {
    const s = this.store;
    this.duplicateSeries.inc(s.duplicateSeries - this.counted.duplicateSeries);
    this.mergeSeconds.inc((s.mergeMs - this.counted.mergeMs) / 1000);
    this.counted = { duplicateSeries: s.duplicateSeries, mergeMs: s.mergeMs };
    this.openWindows.set(s.openWindows);
  }

  private onLag(perPartition: readonly bigint[]): void {
    perPartition.forEach((lag, partition) => {
      let g = this.lag.get(partition);
      if (g === undefined) {
        g = this.ctx.stats.gauge('consumer_lag', 'Messages of the partition not yet read.', {
          partition: String(partition),
        });
        this.lag.set(partition, g);
      }
      g.set(Number(lag));
    });
  }

  /** Closes due windows, emits them, and once delivered marks them and commits. */
  private cycle(): Promise<void> {
    this.cycling ??= this.runCycle().finally(() => (this.cycling = undefined));
    return this.cycling;
  }

  private async runCycle(): Promise<void> {
    if (this.held !== undefined || this.consumer === undefined) return;
    const generation = this.generation;
    const { batch, closed, conflicts } = this.store.closeDue(this.ctx.clock.now());
    if (conflicts > 0)
      this.ctx.log.warn(
        'Some state could not be merged: a histogram counted in other bins, or a sketch of another accuracy.',
        {
          conflicts,
        },
      );
    if (batch.length > 0) this.ctx.emit(batch);
    this.windowsEmitted.inc(closed.length);
    this.seriesEmitted.inc(batch.length);
    this.updateStats();
    try {
      await this.ctx.delivered?.();
      if (closed.length > 0 && this.producer !== undefined) {
        await this.producer.send({
          messages: closed.map((w) => ({
            topic: this.config.topic,
            partition: w.partition,
            value: this.writer.window(this.id, w.partition, w.start, w.end),
          })),
          acks: -1,
        });
      }
      if (generation !== this.generation) return;
      const offsets = [...this.store.commitOffsets()].map(([partition, offset]) => ({
        topic: this.config.topic,
        partition,
        offset,
        leaderEpoch: -1,
      }));
      if (offsets.length > 0) {
        await this.consumer.commit({ offsets });
        this.commits.inc();
      }
    } catch (error) {
      this.commitFailures.inc();
      if (!this.stopping)
        this.ctx.log.warn('Could not mark or commit delivered windows; the next cycle tries again.', {
          error,
        });
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.cycling;
    // What closed already is delivered, marked and committed; open windows wait for the next owner.
    await this.cycle();
    const consumer = this.consumer;
    this.consumer = undefined;
    consumer?.stopLagMonitoring();
    await this.stream?.close().catch(() => {});
    await consumer?.close().catch(() => {});
    await this.producer?.close().catch(() => {});
    this.producer = undefined;
  }
}
