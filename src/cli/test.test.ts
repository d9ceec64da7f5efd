import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { loadConfig, type Registry } from '../config/load.js';
import { s } from '../config/schema.js';
import { systemClock } from '../core/clock.js';
import { defineSource } from '../core/definition.js';
import { silentLogger } from '../core/logger.js';
import { runTest } from './test.js';

const polled = defineSource({
  type: 'polled',
  description: '',
  schema: s.object({ fail: s.boolean({ default: false }), hang: s.boolean({ default: false }) }),
  sample: '',
  create: (config) => ({
    mode: 'polled',
    intervalMs: 1000,
    collect: () => {
      if (config.hang) return new Promise(() => {});
      if (config.fail) return Promise.reject(new Error('cannot read'));
      return Promise.resolve([
        { kind: 'gauge', name: 'b', tags: [['k', 'v']], value: 2, timestamp: 0 },
        { kind: 'gauge', name: 'a', tags: [], value: 1, timestamp: 0 },
        { kind: 'gauge', name: 'dropme', tags: [], value: 1, timestamp: 0 },
      ]);
    },
  }),
});
const listening = defineSource({
  type: 'listening',
  description: '',
  schema: s.object({}),
  sample: '',
  create: () => ({
    mode: 'listening',
    start: () => Promise.reject(new Error('must not be started')),
    stop: async () => {},
  }),
});
const registry = { sources: [polled, listening], sinks: [] } as unknown as Registry;

async function run(yaml: string): Promise<{ status: number; out: string; notes: string }> {
  const config = loadConfig(yaml, { file: 't', env: {}, registry, defaultHostname: 'box' });
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  let notes = '';
  const status = await runTest(config, {
    format: 'text',
    out,
    note: (t) => (notes += t),
    log: silentLogger,
    clock: systemClock,
    timeoutMs: 200,
  });
  return { status, out: text, notes };
}

test('metrics go through filters and metadata, sorted by name; listening sources are skipped', async () => {
  const r = await run(`
sources:
  p: { type: polled }
  l: { type: listening }
filters:
  - { action: drop, name: dropme }
`);
  assert.equal(r.status, 0);
  assert.deepEqual(
    r.out
      .trim()
      .split('\n')
      .map((l) => l.split(' ').slice(1).join(' ')),
    ['gauge a{host=box} value=1', 'gauge b{host=box,k=v} value=2'],
  );
  assert.match(r.notes, /^# p \(polled\): 2 metrics in [\d.]+ ms$/m);
  assert.match(r.notes, /^# l \(listening\): skipped/m);
});

test('a failing or hanging collection is reported and makes the status 1; the others still run', async () => {
  const r = await run(`
sources:
  bad: { type: polled, fail: true }
  stuck: { type: polled, hang: true }
  good: { type: polled }
`);
  assert.equal(r.status, 1);
  assert.match(r.notes, /^# bad \(polled\): collection failed: cannot read$/m);
  assert.match(r.notes, /^# stuck \(polled\): collection failed: did not finish within 200 ms$/m);
  assert.match(r.notes, /^# good \(polled\): 3 metrics/m);
});
