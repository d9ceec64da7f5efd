/**
 * The pipeline between sources and sinks: applies the configured filter, adds the agent's
 * metadata tags (host, env, …) so no source has to, and fans each batch out to every sink.
 * Sinks receive the same frozen array; none may mutate it.
 */
import type { RawLinesHandler, RawOutlet, RawProtocol } from './component.js';
import type { Event } from './event.js';
import type { Filter } from './filter.js';
import type { Batch, Metric } from './metric.js';
import { mergeTags, type Tags } from './tags.js';

export interface BatchConsumer {
  write(batch: Batch): void;
  /** Whether this consumer carries events; `writeEvents` is only called when it does. */
  readonly carriesEvents: boolean;
  writeEvents(events: readonly Event[]): void;
}

/** A sink that takes one protocol's raw lines (SinkDefinition.rawProtocols). */
export interface RawRoute {
  readonly protocol: RawProtocol;
  readonly sink: { writeRaw(protocol: RawProtocol, lines: readonly string[]): void };
}

/** Sees every batch the sinks get, with the id of the source that emitted it (sluice tap). */
export type Tap = (batch: readonly Metric[], source: string | undefined) => void;

/** Sees the raw lines sources receive, before parsing (sluice tap --raw). */
export type RawTap = (lines: readonly string[], source: string, protocol: RawProtocol) => void;

interface Outlet extends RawOutlet {
  /** Whether a sink relays its lines (then they are always wanted). */
  readonly relays: boolean;
}

export class Pipeline {
  /** Listeners of `sluice tap`; when there are none a batch pays one size check. */
  private readonly taps = new Set<Tap>();
  private readonly rawTaps = new Set<RawTap>();
  /** Outlets handed to sources, to flip their `wanted` flag as raw taps come and go. */
  private readonly outlets = new Set<WeakRef<Outlet>>();
  /** Metrics that entered the pipeline and that left it, for self-telemetry. */
  received = 0;
  delivered = 0;
  /** Events received, and events no sink could carry. */
  eventsReceived = 0;
  eventsIgnored = 0;

  constructor(
    private filter: Filter,
    private metadata: Tags,
    private sinks: readonly BatchConsumer[],
    private rawRoutes: readonly RawRoute[] = [],
  ) {}

  /**
   * A reloaded config's filter, tags and sinks, for every batch from now on. Raw-line handlers
   * already handed to sources keep their sinks (a source that relays is rebuilt when they change).
   */
  reconfigure(
    filter: Filter,
    metadata: Tags,
    sinks: readonly BatchConsumer[],
    rawRoutes: readonly RawRoute[],
  ): void {
    this.filter = filter;
    this.metadata = metadata;
    this.sinks = sinks;
    this.rawRoutes = rawRoutes;
  }

  /** Raw lines handed to sinks (see `rawLines`), for self-telemetry. */
  rawReceived = 0;

  /**
   * The handler a source gets for `protocol`'s raw lines: straight to the sinks that declared
   * them, without filter or metadata tags (a repeater forwards what it received). Undefined
   * when no sink takes them, so that sources skip the work.
   */
  rawLines(protocol: RawProtocol): RawLinesHandler | undefined {
    const sinks = this.rawRoutes.filter((r) => r.protocol === protocol).map((r) => r.sink);
    if (sinks.length === 0) return undefined;
    return (lines) => {
      if (lines.length === 0) return;
      this.rawReceived += lines.length;
      Object.freeze(lines);
      for (const sink of sinks) sink.writeRaw(protocol, lines);
    };
  }

  /**
   * A source's outlet for raw lines: the relaying sinks of now (as `rawLines`), and whatever
   * raw taps listen, at any time.
   */
  rawOutlet(protocol: RawProtocol, source: string): RawOutlet {
    const relay = this.rawLines(protocol);
    const outlet: Outlet = {
      relays: relay !== undefined,
      wanted: new Int32Array(new SharedArrayBuffer(4)),
      write: (lines) => {
        if (relay !== undefined) relay(lines);
        if (this.rawTaps.size > 0 && lines.length > 0)
          for (const tap of this.rawTaps) tap(lines, source, protocol);
      },
    };
    outlet.wanted[0] = outlet.relays || this.rawTaps.size > 0 ? 1 : 0;
    this.outlets.add(new WeakRef(outlet));
    return outlet;
  }

  /** Adds a raw tap; returns the function that removes it. Sources decode lines only while one listens. */
  tapRaw(listener: RawTap): () => void {
    this.rawTaps.add(listener);
    this.updateOutlets();
    return () => {
      this.rawTaps.delete(listener);
      this.updateOutlets();
    };
  }

  private updateOutlets(): void {
    const tapped = this.rawTaps.size > 0;
    for (const ref of this.outlets) {
      const outlet = ref.deref();
      if (outlet === undefined) this.outlets.delete(ref);
      else Atomics.store(outlet.wanted, 0, outlet.relays || tapped ? 1 : 0);
    }
  }

  /** The counts above as cumulative `sluice_pipeline_*` counters. */
  toMetrics(timestamp: number): Metric[] {
    const counter = (name: string, value: number, help: string): Metric => ({
      kind: 'counter',
      temporality: 'cumulative',
      name: `sluice_pipeline_${name}`,
      tags: [],
      value,
      intervalMs: 0,
      timestamp,
      help,
    });
    return [
      counter('metrics_received', this.received, 'Metrics the sources handed to the pipeline.'),
      counter('metrics_delivered', this.delivered, 'Metrics handed to the sinks after filtering.'),
      counter('events_received', this.eventsReceived, 'Events and service checks the sources handed over.'),
      counter('events_ignored', this.eventsIgnored, 'Events no configured sink can carry.'),
      counter('raw_lines_received', this.rawReceived, 'Raw lines handed to the sinks that relay them.'),
    ];
  }

  /** Adds a tap; returns the function that removes it. */
  tap(listener: Tap): () => void {
    this.taps.add(listener);
    return () => this.taps.delete(listener);
  }

  push(batch: Batch, source?: string): void {
    this.received += batch.length;
    const out: Metric[] = [];
    for (const metric of batch) {
      const kept = this.filter.isEmpty ? metric : this.filter.apply(metric);
      if (kept === undefined) continue;
      out.push(this.metadata.length === 0 ? kept : { ...kept, tags: mergeTags(kept.tags, this.metadata) });
    }
    if (out.length === 0) return;
    Object.freeze(out);
    this.delivered += out.length;
    for (const sink of this.sinks) sink.write(out);
    if (this.taps.size > 0) for (const tap of this.taps) tap(out, source);
  }

  pushEvents(events: readonly Event[]): void {
    if (events.length === 0) return;
    this.eventsReceived += events.length;
    const out: Event[] = [];
    for (const e of events) {
      out.push(this.metadata.length === 0 ? e : { ...e, tags: mergeTags(e.tags, this.metadata) });
    }
    Object.freeze(out);
    let carried = false;
    for (const sink of this.sinks) {
      if (!sink.carriesEvents) continue;
      carried = true;
      sink.writeEvents(out);
    }
    if (!carried) this.eventsIgnored += out.length;
  }
}
