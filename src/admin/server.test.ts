import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recordingLogger } from '../testing/context.js';
import { AdminServer, type AdminTarget } from './server.js';

test('readiness follows the agent; a reload is POST only; a large body is refused', async () => {
  let ready = false;
  let reloads = 0;
  const target: AdminTarget = {
    ready: () => ready,
    components: () => [],
    tap: () => () => {},
    reload: async () => {
      reloads++;
      return { ok: true, result: { unchanged: [] } };
    },
  };
  const admin = new AdminServer({ host: '127.0.0.1', port: 0 }, target, recordingLogger().log);
  await admin.start();
  try {
    const base = (admin.url() as string).replace(/\/$/, '');
    assert.equal((await fetch(`${base}/-/ready`)).status, 503, 'not ready while starting');
    ready = true;
    assert.equal((await fetch(`${base}/-/ready`)).status, 200);
    assert.equal((await fetch(`${base}/-/healthy`, { method: 'POST' })).status, 405);
    assert.equal((await fetch(`${base}/-/reload`)).status, 405);
    assert.equal(reloads, 0, 'a GET never reloads');
    const big = await fetch(`${base}/-/reload`, { method: 'POST', body: 'x'.repeat(10_000) });
    assert.equal(big.status, 413);
    assert.equal(reloads, 0);
    const ok = await fetch(`${base}/-/reload`, { method: 'POST' });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { ok: true, result: { unchanged: [] } });
    assert.equal(reloads, 1);
  } finally {
    await admin.stop();
  }
});
