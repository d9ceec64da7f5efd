/**
 * The optional `node-unix-socket` package, which unixgram:// listeners need (Node's dgram has no
 * AF_UNIX). It is not a declared dependency: the npm registry lacks some of its per-platform
 * packages, and `npm ci` refuses a lockfile that names one it cannot fetch. So it is installed
 * on top, without touching package.json or the lockfile.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { singleExecutable } from '../../core/embedded.js';

/** The parts of `node-unix-socket` used here (its `DgramSocket`, a SOCK_DGRAM AF_UNIX socket). */
export interface UnixDgramSocket {
  bind(path: string): void;
  sendTo(buf: Buffer, offset: number, length: number, path: string, onWrite?: (error?: Error) => void): void;
  setRecvBufferSize(size: number): void;
  getRecvBufferSize(): number;
  close(): void;
  on(event: 'data', listener: (buf: Buffer, from: string) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
}
export interface UnixSocketModule {
  DgramSocket: new () => UnixDgramSocket;
}

/** Installs the package without touching package.json or package-lock.json (so `npm ci` still works). */
export const INSTALL_NODE_UNIX_SOCKET = 'npm install --no-save --ignore-scripts node-unix-socket@0.2.7';

const require = createRequire(import.meta.url);

/** Loads the package; throws an error that names it and the command that installs it. */
export function loadNodeUnixSocket(id = 'node-unix-socket'): UnixSocketModule {
  try {
    return require(id) as UnixSocketModule;
  } catch (error) {
    throw new Error(unixSocketMissing(error), { cause: error });
  }
}

/** Why unixgram:// cannot run on this install, or undefined when it can. */
export function unixgramUnavailable(id = 'node-unix-socket'): string | undefined {
  try {
    require(id);
    return undefined;
  } catch (error) {
    return unixSocketMissing(error);
  }
}

function unixSocketMissing(error: unknown): string {
  return (
    'unixgram:// listeners need the optional package "node-unix-socket" (prebuilt for Linux and macOS), ' +
    `which could not be loaded here (${String((error as Error).message).split('\n')[0]}). ` +
    (singleExecutable
      ? // The single executable's require() looks in node_modules beside the executable.
        `Install it beside this executable with "cd ${path.dirname(process.execPath)} && ${INSTALL_NODE_UNIX_SOCKET}", `
      : `Install it with "${INSTALL_NODE_UNIX_SOCKET}" (npm ci removes it again; run it after), `) +
    'or listen on udp:// or unix:// instead.'
  );
}
