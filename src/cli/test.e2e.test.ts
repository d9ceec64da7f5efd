/** `sluice test` as an operator runs it: the built CLI, the built-in config, this machine's /proc. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sluiceCommand, startProcess } from '../testing/processes.js';

async function sluiceTest(args: string[]) {
  const p = startProcess(...sluiceCommand(['test', ...args]), {
    env: { SLUICE_HOSTNAME: 'testbox' },
  });
  return p.wait(30_000);
}

test('sluice test runs the built-in polled sources once, prints their metrics with tags, and exits 0', async () => {
  const r = await sluiceTest([]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^# statsd \(statsd\): skipped/m);
  assert.match(r.stderr, /^# linux \(linux\): \d+ metrics in [\d.]+ ms$/m);
  assert.match(r.stderr, /^# internal \(internal\): \d+ metrics in [\d.]+ ms$/m);
  const lines = r.stdout.trim().split('\n');
  assert.ok(lines.length > 20, `only ${lines.length} lines`);
  // Every line is "<time> <kind> <name>{tags} value=..." and carries the host tag.
  for (const line of lines) assert.match(line, /^\S+Z (counter|gauge) \S+\{.*host=testbox.*\} value=/);
  assert.ok(lines.some((l) => l.includes(' system_cpu_seconds{') && l.includes('state=user')));
  assert.ok(lines.some((l) => l.includes(' sluice_process_resident_memory_bytes{')));
});

test('sluice test --format influx prints line protocol', async () => {
  const r = await sluiceTest(['--format', 'influx']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  for (const line of lines) assert.match(line, /^[^ ,]+(,[^ ]+)? [^ ]+=[^ ]+ \d+$/);
  assert.ok(lines.some((l) => l.startsWith('system_load1,host=testbox value=')));
});

test('sluice test names the config problem and exits 1', async () => {
  const r = await sluiceTest(['/nonexistent/sluice.yaml']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no such file/);
});
