// Keeps docs/protocol.md and the code in step: every ```statsd example is parsed (or, marked
// `aggregate`, parsed and aggregated) and must give what the table below says, every example must
// have an entry there and every entry an example; the dialect table is recomputed cell by cell.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Metric } from '../../core/metric.js';
import { StatsdAggregator } from '../../aggregation/aggregator.js';
import { explainDatagram } from './explain.js';
import {
  REJECT_REASONS,
  REPAIR_REASONS,
  STATSD_DIALECTS,
  StatsdParser,
  type StatsdDialect,
  type StatsdMode,
} from './parser.js';

/** 2022-06-30T09:30:00Z, as the doc says its examples assume. */
const NOW = 1656581400_000;
const INTERVAL = 10_000;

function readDoc(): string {
  // From <outDir>/protocols/statsd/ in a build beside the sources; from the working directory otherwise.
  const besideBuild = new URL('../../../docs/protocol.md', import.meta.url);
  return readFileSync(existsSync(besideBuild) ? besideBuild : path.resolve('docs/protocol.md'), 'utf8');
}

/** What each example block gives; the key is the block's info string after `statsd`, a newline, and its text. */
const EXPECTED: Record<string, readonly string[]> = {
  '\npage.views:1|c\nfuel.level:0.5|g\n\n_e{5,4}:Title|Text\nbad line': [
    'c 1',
    'g 0.5',
    'event "Title"',
    '✗ missing_value',
  ],
  '\napi.requests:1|c\nfuel.level:0.5|g\ndb.query:320|ms\nresponse.size:512|h\nusers.online:alice|s\nrequest.latency:12.5|d':
    ['c 1', 'g 0.5', 'ms 320', 'h 512', 's "alice"', 'd 12.5'],
  '\nrequest.latency:12:15.5:9|d|@0.5|#env:prod': [
    'd 12 ×2 {env=prod}',
    'd 15.5 ×2 {env=prod}',
    'd 9 ×2 {env=prod}',
  ],
  'dialect=etsy\nqueue.length:10|g\nqueue.length:+5|g\nqueue.length:-3|g': ['g 10', 'g Δ+5', 'g Δ-3'],
  '\napi.requests:1|c|@0.1': ['c 1 ×10'],
  '\napi.requests:1|c|#env:prod,region=eu,canary,\napi.requests:1|c|#region:eu,env=prod,canary': [
    'c 1 {env=prod, region=eu, canary}',
    'c 1 {region=eu, env=prod, canary}',
  ],
  'dialect=bucky\nlogin:1|c|#path=C:\\\\temp,list=a\\,b,msg=two\\nlines': [
    'c 1 {path=C:\\temp, list=a,b, msg=two\nlines}',
  ],
  '\npage.views:5|c|T1656581300': ['c 5 at 1656581300'],
  'dialect=bucky\npage.views:5|c|#timestamp=1656581300': ['c 5 at 1656581300'],
  '\npage.views:1|c|#env:prod|c:83c0a99c0a54': ['c 1 {env=prod, container_id=83c0a99c0a54}'],
  'dialect=bucky\nlogin:1|c|#bucket=auth,team=web': ['c 1 {team=web} bucket auth'],
  '\n_e{14,25}:Deploy started|Version 1.2\\nrolling out.|p:low|t:info|#service:api': [
    'event "Deploy started" {service=api}',
  ],
  '\n_sc|db.replication|2|h:db1|#env:prod|m:Replica 3 is 120 s behind': [
    'service check "db.replication" 2 {env=prod}',
  ],
  '\n:1|c\na:abc|c\na:1|c|@x\na:1|c|T1000000000\n_sc|name|7': [
    '✗ empty_name',
    '✗ bad_value',
    '✗ bad_sample_rate',
    '✗ timestamp_out_of_window',
    '✗ bad_service_check',
  ],
  // Aggregated, flushed once, 10 s after the interval began.
  'aggregate\ntemperature:21|g\ntemperature:1|c|#room:kitchen': ['✗ type_conflict', 'gauge temperature 21'],
  'aggregate\nhits:1|c\nhits:2|c|@0.5\nhits:1|c|@0.1': ['counter hits 15 (1.5/s)'],
  'aggregate\ntemperature:20|g\ntemperature:21.5|g': ['gauge temperature 21.5'],
  'aggregate\ndb.query:10|ms\ndb.query:2|ms\ndb.query:4|ms\ndb.query:4|ms|@0.5\ndb.query:5|ms': [
    'summary db.query count 6, samples 5, sum 25, sumSquares 161, min 2, max 10, mean 5, median 4, ' +
      'stdev 2.68328, p50 4 (count 3, sum 10, mean 3.33333), p90 10 (count 5, sum 25, mean 5)',
  ],
  'aggregate\nresponse.size:5|h\nresponse.size:50|h\nresponse.size:500|h|@0.5': [
    'histogram response.size count 4, sum 1055, min 5, max 500, le 5: 1, le 50: 1, le 500: 2',
  ],
  'aggregate\nrequest.latency:10:20:30:40|d': [
    'distribution request.latency count 4, sum 100, min 10, max 40, p50 ≈20, p90 ≈30.1',
  ],
  'aggregate\nusers.online:alice|s\nusers.online:bob|s\nusers.online:alice|s': ['gauge users.online 2'],
  'aggregate\npage.views:1|c\npage.views:5|c|T1656581300': [
    'counter page.views 5 (0.5/s) at 1656581300',
    'counter page.views 1 (0.1/s)',
  ],
  'aggregate dialect=bucky\nlogin:1|c|#bucket=auth': ['counter auth {name=login} 1 (0.1/s)'],
};

interface Example {
  readonly info: string;
  readonly text: string;
}

function examples(doc: string): Example[] {
  const out: Example[] = [];
  const re = /^```statsd([^\n]*)\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(doc); m !== null; m = re.exec(doc)) {
    out.push({ info: (m[1] ?? '').trim(), text: (m[2] ?? '').replace(/\n$/, '') });
  }
  return out;
}

function attributes(info: string): { aggregate: boolean; dialect: StatsdDialect; mode: StatsdMode } {
  let dialect: StatsdDialect = 'dogstatsd';
  let mode: StatsdMode = 'lenient';
  let aggregate = false;
  for (const word of info.split(/\s+/).filter((w) => w !== '')) {
    if (word === 'aggregate') aggregate = true;
    else if (word.startsWith('dialect=')) dialect = word.slice(8) as StatsdDialect;
    else if (word.startsWith('mode=')) mode = word.slice(5) as StatsdMode;
    else assert.fail(`unknown attribute ${word} on a statsd block`);
  }
  return { aggregate, dialect, mode };
}

const fmt = (v: number): string => String(Number(v.toPrecision(6)));

function tagText(m: Metric): string {
  return m.tags.length === 0 ? '' : ` {${m.tags.map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join(', ')}}`;
}

function describeMetric(m: Metric, flushedAt: number): string {
  const head = `${m.kind} ${m.name}${tagText(m)}`;
  const at = m.timestamp !== flushedAt ? ` at ${m.timestamp / 1000}` : '';
  switch (m.kind) {
    case 'counter':
      return `${head} ${fmt(m.value)} (${fmt((m.value * 1000) / m.intervalMs)}/s)${at}`;
    case 'gauge':
      return `${head} ${fmt(m.value)}${at}`;
    case 'summary': {
      const s = m.summary;
      const qs = s.quantiles.map(
        (q) =>
          `p${fmt(q.quantile * 100)} ${fmt(q.value)}` +
          (q.count === undefined
            ? ''
            : ` (count ${q.count}, sum ${fmt(q.sum ?? NaN)}, mean ${fmt(q.mean ?? NaN)})`),
      );
      return (
        `${head} count ${fmt(s.count)}, samples ${s.samples}, sum ${fmt(s.sum)}, sumSquares ${fmt(s.sumSquares)}, ` +
        `min ${fmt(s.min)}, max ${fmt(s.max)}, mean ${fmt(s.mean)}, median ${fmt(s.median)}, stdev ${fmt(s.stdev)}, ` +
        qs.join(', ') +
        at
      );
    }
    case 'histogram': {
      const h = m.histogram;
      const bins = h.bins.filter((b) => b.count > 0).map((b) => `le ${b.le}: ${fmt(b.count)}`);
      return `${head} count ${fmt(h.count)}, sum ${fmt(h.sum)}, min ${fmt(h.min)}, max ${fmt(h.max)}, ${bins.join(', ')}${at}`;
    }
    case 'distribution': {
      const d = m.distribution;
      const qs = d.quantiles.map((q) => `p${fmt(q.quantile * 100)} ≈${Number(q.value.toPrecision(3))}`);
      return `${head} count ${fmt(d.count)}, sum ${fmt(d.sum)}, min ${fmt(d.min)}, max ${fmt(d.max)}, ${qs.join(', ')}${at}`;
    }
  }
}

function aggregate(text: string, dialect: StatsdDialect, mode: StatsdMode): string[] {
  const out: string[] = [];
  const agg = new StatsdAggregator(
    {
      flushIntervalMs: INTERVAL,
      percentiles: [50, 90],
      expiryMs: 300_000,
      timestamps: dialect === 'dogstatsd' ? 'forward' : 'aggregate',
    },
    () => NOW,
  );
  new StatsdParser({ dialect, mode, now: () => NOW }).parse(Buffer.from(text), {
    point: (l) => {
      const r = agg.add(l);
      if (r !== undefined) out.push(`✗ ${r}`);
    },
    reject: (r) => out.push(`✗ ${r}`),
  });
  const flushedAt = NOW + INTERVAL;
  for (const m of agg.flush(flushedAt)) out.push(describeMetric(m, flushedAt));
  return out;
}

/** A markdown table row's cells, split at unescaped `|`, with `\|` unescaped and trimmed. */
function cells(row: string): string[] {
  const out: string[] = [];
  let cell = '';
  for (let i = 1; i < row.length; i++) {
    const ch = row.charAt(i);
    if (ch === '\\' && row.charAt(i + 1) === '|') {
      cell += '|';
      i++;
    } else if (ch === '|') {
      out.push(cell.trim());
      cell = '';
    } else {
      cell += ch;
    }
  }
  return out;
}

/** The line of a table cell: a code span where `\xNN` is a byte. */
function lineBytes(cell: string): Buffer {
  assert.match(cell, /^`.*`$/, `the line cell ${cell} is not a code span`);
  const text = cell.slice(1, -1);
  return Buffer.from(
    text.replace(/\\x([0-9a-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
    'latin1',
  );
}

function explainCell(line: Buffer, dialect: StatsdDialect): string {
  const lenient = explainDatagram(line, { dialect, now: () => NOW }).join(', ');
  const strict = explainDatagram(line, { dialect, mode: 'strict', now: () => NOW }).join(', ');
  return lenient === strict ? lenient : `${lenient}; strict: ${strict}`;
}

describe('docs/protocol.md', () => {
  const doc = readDoc();

  describe('statsd examples', () => {
    const found = examples(doc);
    it('has examples, each with an expected result, and no expectation without its example', () => {
      assert.ok(found.length >= 20, `only ${found.length} examples`);
      const keys = new Set(found.map((e) => `${e.info}\n${e.text}`));
      for (const k of keys) assert.ok(k in EXPECTED, `no expectation for the example:\n${k}`);
      for (const k of Object.keys(EXPECTED)) assert.ok(keys.has(k), `no example in the doc for:\n${k}`);
    });
    for (const e of found) {
      it(`${e.info === '' ? '' : `[${e.info}] `}${JSON.stringify(e.text)}`, () => {
        const expected = EXPECTED[`${e.info}\n${e.text}`];
        assert.ok(expected !== undefined, 'no expectation');
        const { aggregate: agg, dialect, mode } = attributes(e.info);
        const got = agg
          ? aggregate(e.text, dialect, mode)
          : explainDatagram(Buffer.from(e.text), { dialect, mode, now: () => NOW });
        assert.deepEqual(got, expected);
      });
    }
  });

  describe('dialect table', () => {
    const start = doc.indexOf('<!-- dialect-table -->');
    const end = doc.indexOf('<!-- /dialect-table -->');
    assert.ok(start >= 0 && end > start, 'the dialect table markers are missing');
    const rows = doc
      .slice(start, end)
      .split('\n')
      .filter((l) => l.startsWith('|'));
    const header = cells(rows[0] ?? '');
    const body = rows.slice(2);

    it('has a column per dialect', () => {
      assert.deepEqual(header, ['case', 'line', ...STATSD_DIALECTS]);
    });

    it('covers every disputed case', () => {
      const cases = body.map((r) => cells(r)[0]);
      for (const required of [
        'Gauge with a `+` sign',
        'Gauge with a `-` sign',
        'Sample rate 0',
        'Sample rate above 1',
        'Negative sample rate',
        'Sample rate not a number',
        'Packed counter values',
        'Packed values on a set',
        'Valueless tag',
        'Empty tag value',
        'Unknown field',
        '`T` timestamp field',
        'Type `d`',
        'Type `h`',
      ])
        assert.ok(cases.includes(required), `no row for ${required}`);
    });

    for (const row of body) {
      const [what, line, ...expected] = cells(row);
      it(`${what}: ${line}`, () => {
        const bytes = lineBytes(line as string);
        assert.deepEqual(
          STATSD_DIALECTS.map((d) => explainCell(bytes, d)),
          expected,
        );
      });
    }
  });

  it('lists every rejection reason and every repair', () => {
    for (const reason of REJECT_REASONS)
      assert.ok(doc.includes(`| \`${reason}\``), `${reason} is not documented`);
    for (const repair of REPAIR_REASONS)
      assert.ok(doc.includes(`| \`${repair}\``), `${repair} is not documented`);
  });
});
