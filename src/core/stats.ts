/**
 * Self-telemetry: every component counts what it received, sent, dropped and rejected (by
 * reason). Counters are plain objects with a numeric field so hot paths increment a property,
 * not a map entry.
 */
import type { Metric } from './metric.js';
import { makeTags, type Tags } from './tags.js';

abstract class Stat {
  value = 0;
  constructor(
    readonly name: string,
    readonly tags: Tags,
    readonly help: string,
    /** The labels given at registration (the component's own come from the registry). */
    readonly labels: Readonly<Record<string, string>> = {},
  ) {}
}

/** One stat's current value, as another thread's registry reports it (see ComponentStats.snapshot). */
export interface StatSnapshot {
  readonly kind: 'counter' | 'gauge';
  readonly name: string;
  readonly help: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export class StatCounter extends Stat {
  inc(by = 1): void {
    this.value += by;
  }
}

export class StatGauge extends Stat {
  set(v: number): void {
    this.value = v;
  }
}

/** The stats of one component, registered under its id and type. */
export class ComponentStats {
  private readonly counters = new Map<string, StatCounter>();
  private readonly gauges = new Map<string, StatGauge>();

  constructor(
    readonly componentId: string,
    readonly componentType: string,
  ) {}

  /** Returns the counter named `name` with these extra labels, creating it on first use. */
  counter(name: string, help: string, labels: Readonly<Record<string, string>> = {}): StatCounter {
    return this.stat(this.counters, StatCounter, name, help, labels);
  }

  gauge(name: string, help: string, labels: Readonly<Record<string, string>> = {}): StatGauge {
    return this.stat(this.gauges, StatGauge, name, help, labels);
  }

  /**
   * Replaces every gauge named `name` with one per entry, labelled `label` = the entry's name:
   * for a ranking (the top names of something) whose label values change, so that gauges of
   * values that left it do not pile up as stats that never go away.
   */
  replaceGauges(
    name: string,
    help: string,
    label: string,
    entries: Iterable<readonly [labelValue: string, value: number]>,
  ): void {
    for (const [key, g] of this.gauges) if (g.name === name) this.gauges.delete(key);
    for (const [labelValue, value] of entries) this.gauge(name, help, { [label]: labelValue }).set(value);
  }

  private stat<S extends Stat>(
    map: Map<string, S>,
    Kind: new (name: string, tags: Tags, help: string, labels: Readonly<Record<string, string>>) => S,
    name: string,
    help: string,
    labels: Readonly<Record<string, string>>,
  ): S {
    const key = name + JSON.stringify(labels);
    let s = map.get(key);
    if (s === undefined) {
      const tags = makeTags({ component: this.componentId, component_type: this.componentType, ...labels });
      s = new Kind(name, tags, help, labels);
      map.set(key, s);
    }
    return s;
  }

  /** Current values as cumulative counters and gauges, named `sluice_<name>`. */
  toMetrics(timestamp: number): Metric[] {
    const out: Metric[] = [];
    for (const c of this.counters.values()) {
      out.push({
        kind: 'counter',
        temporality: 'cumulative',
        name: `sluice_${c.name}`,
        tags: c.tags,
        value: c.value,
        intervalMs: 0,
        timestamp,
        help: c.help,
      });
    }
    for (const g of this.gauges.values()) {
      out.push({
        kind: 'gauge',
        name: `sluice_${g.name}`,
        tags: g.tags,
        value: g.value,
        timestamp,
        help: g.help,
      });
    }
    return out;
  }

  /** Every stat's current value, to mirror this registry in another thread's. */
  snapshot(): StatSnapshot[] {
    const out: StatSnapshot[] = [];
    for (const c of this.counters.values())
      out.push({ kind: 'counter', name: c.name, help: c.help, labels: c.labels, value: c.value });
    for (const g of this.gauges.values())
      out.push({ kind: 'gauge', name: g.name, help: g.help, labels: g.labels, value: g.value });
    return out;
  }

  /** Value of a counter summed over all its labels (for tests and `sluice` status output). */
  total(name: string): number {
    let sum = 0;
    for (const c of this.counters.values()) if (c.name === name) sum += c.value;
    return sum;
  }
}
