/**
 * What an install reads from beside its modules, found also inside the single executable.
 *
 * An npm, image or Debian install runs dist/ from disk: the status page, package.json and the
 * ingest workers' scripts are files next to the modules that read them. The single executable
 * (scripts/sea/build.sh) is one bundled script inside a Node binary, so those files travel in it
 * as SEA assets under the keys below, and `asset()` reads them from there instead.
 */
import { readFileSync } from 'node:fs';
import { getAsset, isSea } from 'node:sea';

/** True inside the single executable. */
export const singleExecutable = isSea();

/**
 * A file shipped with the agent: `url` on disk, `key` among the single executable's assets
 * (scripts/sea/build.sh embeds each key listed in scripts/sea/assets.json).
 */
export interface Shipped {
  readonly url: URL;
  readonly key: string;
}

/** The file's bytes, from the single executable's assets there and from disk elsewhere. */
export function shippedBytes(file: Shipped): Buffer {
  return singleExecutable ? Buffer.from(getAsset(file.key)) : readFileSync(file.url);
}

export function shippedText(file: Shipped): string {
  return singleExecutable ? getAsset(file.key, 'utf8') : readFileSync(file.url, 'utf8');
}

let version: string | undefined;

/** The agent's version, from its package.json. */
export function agentVersion(): string {
  if (version === undefined) {
    const pkg = JSON.parse(
      shippedText({ url: new URL('../../package.json', import.meta.url), key: 'package.json' }),
    ) as { version?: string };
    version = pkg.version ?? 'unknown';
  }
  return version;
}
