/** Who is writing: a host name and a random id drawn once per process, so a restart is someone new. */
import { randomBytes } from 'node:crypto';
import os from 'node:os';

let identity: string | undefined;

export function processIdentity(): string {
  identity ??= `${os.hostname()}/${randomBytes(4).toString('hex')}`;
  return identity;
}
