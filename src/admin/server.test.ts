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
    tapRaw: () => () => {},
    reload: async () => {
      reloads++;
      return { ok: true, result: { unchanged: [] } };
    },
    status: () => {
      throw new Error('not asked here');
    },
    history: () => ({ interval_ms: 5000, t: [], series: {} }),
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

test('serves the status page and its files from the build, under a policy that forbids inline and outside code', async () => {
  const target: AdminTarget = {
    ready: () => true,
    components: () => [],
    tap: () => () => {},
    tapRaw: () => () => {},
    reload: async () => ({ ok: true, result: {} }),
    status: () => {
      throw new Error('a bug in the status');
    },
    history: () => ({ interval_ms: 5000, t: [1, 2], series: { 'in:statsd': [null, 3] } }),
  };
  const { log, lines } = recordingLogger();
  const admin = new AdminServer({ host: '127.0.0.1', port: 0 }, target, log);
  await admin.start();
  try {
    const base = (admin.url() as string).replace(/\/$/, '');
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/, 'no unsafe-inline, no other origin');
    const html = await page.text();
    assert.match(html, /<script type="module" src="status.js"><\/script>/);
    assert.doesNotMatch(html, /https?:\/\//, 'nothing loaded from elsewhere');
    for (const [file, type] of [
      ['status.js', /^text\/javascript/],
      ['status.css', /^text\/css/],
    ] as const) {
      const r = await fetch(`${base}/${file}`);
      assert.equal(r.status, 200, file);
      assert.match(r.headers.get('content-type') ?? '', type);
      assert.doesNotMatch(
        await r.text(),
        /https?:\/\/(?!www\.w3\.org\/2000\/svg)/,
        `${file} loads nothing from elsewhere`,
      );
    }
    assert.deepEqual(await (await fetch(`${base}/api/v1/history`)).json(), {
      interval_ms: 5000,
      t: [1, 2],
      series: { 'in:statsd': [null, 3] },
    });
    const failed = await fetch(`${base}/api/v1/status`);
    assert.equal(failed.status, 500, 'a failing status is an error answer, not a dead server');
    assert.ok(lines.some((l) => l.msg === 'Admin request failed.'));
    assert.equal((await fetch(`${base}/-/healthy`)).status, 200);
  } finally {
    await admin.stop();
  }
});
