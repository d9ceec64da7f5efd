import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from './logger.js';

test('writes one JSON object per line with bindings, fields and errors spelled out', () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', write: (l) => lines.push(l), clock: () => 0 }).child({
    component: 'statsd',
  });
  log.debug('hidden');
  log.info('Listening.', { port: 8125 });
  log.error('Failed.', { error: Object.assign(new Error('boom'), { code: 'EADDRINUSE' }) });
  assert.equal(lines.length, 2);
  assert.ok(lines.every((l) => l.endsWith('}\n')));
  const first = JSON.parse(lines[0] as string) as Record<string, unknown>;
  assert.deepEqual(first, {
    time: '1970-01-01T00:00:00.000Z',
    level: 'info',
    component: 'statsd',
    msg: 'Listening.',
    port: 8125,
  });
  const second = JSON.parse(lines[1] as string) as { error: { message: string; code: string } };
  assert.equal(second.error.message, 'boom');
  assert.equal(second.error.code, 'EADDRINUSE');
});

test('a value that cannot be serialised does not break the line', () => {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l) });
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  log.warn('odd', { cyclic, big: 10n });
  assert.doesNotThrow(() => JSON.parse(lines[0] as string));
});

test('silent level writes nothing', () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'silent', write: (l) => lines.push(l) });
  log.error('x');
  assert.equal(lines.length, 0);
  assert.equal(log.isEnabled('error'), false);
});
