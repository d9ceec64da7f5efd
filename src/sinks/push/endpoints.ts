/**
 * Where a push sink sends: `host:port` endpoints, and the resolution of their host names.
 *
 * Names are looked up when the sink starts and again every `resolve_interval` (Bucky3 re-resolved
 * every three minutes), so a backend that moves to a new address is followed without a restart.
 * The sink connects to the resolved addresses itself rather than handing the name to the socket,
 * so it knows when they change and can reconnect.
 */
import dns from 'node:dns';
import net from 'node:net';

export { formatEndpoint, parseEndpoint, type Endpoint } from '../../config/endpoint.js';
import type { Endpoint } from '../../config/endpoint.js';

/** Looks up every address of a host name, in the resolver's order of preference. */
export type Lookup = (host: string) => Promise<string[]>;

export const systemLookup: Lookup = async (host) => {
  // getaddrinfo, as connect() would use: /etc/hosts, nsswitch and search domains all apply.
  const found = await dns.promises.lookup(host, { all: true });
  return found.map((a) => a.address);
};

/** Addresses of an endpoint: IP literals need no lookup. */
export async function resolveEndpoint(endpoint: Endpoint, lookup: Lookup): Promise<string[]> {
  if (net.isIP(endpoint.host) !== 0) return [endpoint.host];
  const addresses = await lookup(endpoint.host);
  if (addresses.length === 0) throw new Error(`${endpoint.host} resolved to no address`);
  return addresses;
}

/** Whether two address lists hold the same addresses, in any order (round-robin DNS reorders). */
export function sameAddresses(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  for (const x of b) if (!set.has(x)) return false;
  return true;
}
