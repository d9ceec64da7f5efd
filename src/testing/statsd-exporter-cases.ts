/**
 * statsd_exporter's exporter test cases (src/sources/statsd/testdata/statsd_exporter/
 * exporter-cases.json: its events and the Prometheus series it expects, taken as facts), and
 * what both the in-process and the real-Prometheus tests make of them: the mapping file of a
 * case, and each event as the StatsD line a client would send.
 */
import { readFileSync } from 'node:fs';

export interface ExporterEvent {
  type: 'counter' | 'gauge' | 'observer';
  name: string;
  value: number;
  labels: Record<string, string>;
}

export interface ExporterExpect {
  name: string;
  labels: Record<string, string>;
  type?: 'counter' | 'gauge' | 'histogram' | 'summary';
  present?: boolean;
  value?: number;
  sum?: number;
  increase?: number;
  quantilesNonEmpty?: boolean;
}

export interface ExporterCase {
  test: string;
  mapping: string | null;
  mapperDefaults?: Record<string, string>;
  events: ExporterEvent[];
  expect: ExporterExpect[];
  steps?: { clock: string; events: ExporterEvent[]; expect: ExporterExpect[] }[];
}

export const exporterCases = JSON.parse(
  readFileSync(
    new URL('../../src/sources/statsd/testdata/statsd_exporter/exporter-cases.json', import.meta.url),
    'utf8',
  ),
) as ExporterCase[];

/** The case's mapping file: its YAML, or its mapper defaults as one. */
export function mappingText(c: ExporterCase): string {
  const defaults = Object.entries(c.mapperDefaults ?? {})
    .map(([k, v]) => `  ${k}: ${v}\n`)
    .join('');
  return c.mapping ?? (defaults === '' ? '' : `defaults:\n${defaults}`);
}

/** An event as the StatsD line a client would send for it (observations already in seconds: `h`). */
export function statsdLine(e: ExporterEvent): string {
  const type = e.type === 'counter' ? 'c' : e.type === 'gauge' ? 'g' : 'h';
  const tags = Object.entries(e.labels).map(([k, v]) => `${k}:${v}`);
  return `${e.name}:${e.value}|${type}${tags.length > 0 ? `|#${tags.join(',')}` : ''}`;
}
