/** Helpers for the listener tests: a started listener set that records what it delivers. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDeflate } from 'node:zlib';
import type { ComponentContext } from '../../core/component.js';
import { recordingLogger, testContext } from '../../testing/context.js';
import { parseListenAddresses } from './address.js';
import { createListeners, type ListenerDeps, type Listeners } from './listeners.js';
import type { TransportConfig } from './schema.js';

export interface Harness {
  readonly listeners: Listeners;
  readonly ctx: ComponentContext & { readonly failures: unknown[] };
  /** Each `onDatagram` call, decoded as latin1 (a copy: the buffer may be reused). */
  readonly deliveries: string[];
  readonly logs: Record<string, unknown>[];
  /** Every line delivered so far, in order, empty ones left out. */
  lines(): string[];
  counter(name: string): number;
  gauge(name: string): number | undefined;
}

export async function listen(
  addresses: string | string[],
  options: Partial<TransportConfig> = {},
  deps: ListenerDeps = {},
  onDatagram?: (buf: Buffer) => void,
): Promise<Harness> {
  const parsed = parseListenAddresses(addresses);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.message);
  const { log, lines: logs } = recordingLogger();
  const ctx = testContext({ log, type: 'statsd' });
  const deliveries: string[] = [];
  const listeners = createListeners(
    parsed.value,
    options,
    ctx,
    (buf) => {
      deliveries.push(buf.toString('latin1'));
      onDatagram?.(buf);
    },
    deps,
  );
  await listeners.start();
  return {
    listeners,
    ctx,
    deliveries,
    logs,
    lines: () => deliveries.flatMap((d) => d.split('\n')).filter((l) => l !== ''),
    counter: (name) => ctx.stats.total(name),
    gauge: (name) =>
      (ctx.stats.toMetrics(0).find((m) => m.name === `sluice_${name}`) as { value?: number } | undefined)
        ?.value,
  };
}

/** Waits (bounded) until `check` holds; socket delivery is fast but asynchronous. */
export async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A fresh temporary directory, removed by the returned cleanup function. */
export function tempDir(): { dir: string; path(name: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-transport-'));
  return {
    dir,
    path: (name) => join(dir, name),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * A zlib "bomb": `bytes` zeros deflated at level 9 (about 1/1000 of the size), streamed from
 * one reused 1 MiB buffer so building it holds no more than that in memory.
 */
export async function zlibBomb(bytes: number): Promise<Buffer> {
  const deflate = createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (b: Buffer) => parts.push(b));
  const done = new Promise<void>((resolve, reject) => {
    deflate.on('end', resolve);
    deflate.on('error', reject);
  });
  const zeros = Buffer.alloc(1024 * 1024);
  for (let left = bytes; left > 0; left -= zeros.length) {
    const ok = deflate.write(left >= zeros.length ? zeros : zeros.subarray(0, left));
    if (!ok) await new Promise((r) => deflate.once('drain', r));
  }
  deflate.end();
  await done;
  return Buffer.concat(parts);
}
