/**
 * Listen addresses of the listening sources: a URL-ish string per socket.
 *
 *   udp://127.0.0.1:8125   udp://[::1]:8125   tcp://127.0.0.1:8125
 *   unixgram:///run/sluice/statsd.sock       unix:///run/sluice/statsd.sock
 *   127.0.0.1:8125  (no scheme: UDP, as configs written before TCP and Unix sockets were)
 *
 * Parsed once, at config time; the listeners only ever see a `ListenEndpoint`.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { s, type Schema } from '../../config/schema.js';
import { unixgramUnavailable } from './unix-socket.js';

export const TRANSPORTS = ['udp', 'tcp', 'unixgram', 'unix'] as const;
export type Transport = (typeof TRANSPORTS)[number];

export interface NetworkEndpoint {
  readonly transport: 'udp' | 'tcp';
  /** An IP address, or a host name the system resolves at bind time. */
  readonly host: string;
  /** 0 asks the system for a free port (tests). */
  readonly port: number;
  /** 6 for an IPv6 literal (a `udp6` socket), 4 otherwise. */
  readonly family: 4 | 6;
  /** The address in canonical form, for logs and messages. */
  readonly url: string;
}

export interface UnixEndpoint {
  readonly transport: 'unixgram' | 'unix';
  /** Absolute path of the socket file. */
  readonly path: string;
  readonly url: string;
}

export type ListenEndpoint = NetworkEndpoint | UnixEndpoint;

export type AddressResult = { ok: true; value: ListenEndpoint } | { ok: false; message: string };

/**
 * Linux's `sun_path` holds 108 bytes including the terminating NUL (unix(7)); macOS allows 104.
 * A longer path fails at bind time with a less helpful message, so it is refused here.
 */
export const MAX_UNIX_PATH_BYTES = 107;

const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

function fail(message: string): AddressResult {
  return { ok: false, message };
}

function parseHostPort(transport: 'udp' | 'tcp', rest: string, input: string): AddressResult {
  let host: string;
  let portText: string;
  let family: 4 | 6 = 4;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) return fail(`"${input}": missing "]" after the IPv6 address`);
    host = rest.slice(1, close);
    if (!isIPv6(host)) return fail(`"${input}": "${host}" is not an IPv6 address`);
    if (rest[close + 1] !== ':') return fail(`"${input}": missing ":port" after "[${host}]"`);
    portText = rest.slice(close + 2);
    family = 6;
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon < 0) return fail(`"${input}": missing ":port" (for example ${transport}://127.0.0.1:8125)`);
    host = rest.slice(0, colon);
    portText = rest.slice(colon + 1);
    if (host.includes(':'))
      return fail(`"${input}": an IPv6 address must be in brackets, as in ${transport}://[::1]:8125`);
    // ":8125" meant all IPv4 interfaces in the original `listen` option; it still does.
    if (host === '') host = '0.0.0.0';
    else if (!isIPv4(host)) {
      if (/^[0-9.]+$/.test(host)) return fail(`"${input}": "${host}" is not an IPv4 address`);
      if (!HOSTNAME.test(host)) return fail(`"${input}": "${host}" is not an IP address or a host name`);
    }
  }
  if (portText === '') return fail(`"${input}": missing port number`);
  if (!/^[0-9]{1,5}$/.test(portText)) {
    const slash = portText.indexOf('/');
    if (slash >= 0) return fail(`"${input}": a ${transport} address takes no path`);
    return fail(`"${input}": "${portText}" is not a port number`);
  }
  const port = Number(portText);
  if (port > 65535) return fail(`"${input}": port ${port} is out of range (0 to 65535)`);
  const url = `${transport}://${family === 6 ? `[${host}]` : host}:${port}`;
  return { ok: true, value: { transport, host, port, family, url } };
}

function parseUnixPath(transport: 'unixgram' | 'unix', path: string, input: string): AddressResult {
  if (path === '')
    return fail(`"${input}": missing socket path, as in ${transport}:///run/sluice/statsd.sock`);
  if (!path.startsWith('/'))
    return fail(
      `"${input}": the socket path must be absolute; write three slashes, as in ${transport}:///run/sluice/statsd.sock`,
    );
  if (path.endsWith('/')) return fail(`"${input}": the socket path names a directory`);
  if (path.includes('\0')) return fail(`"${input}": the socket path contains a NUL byte`);
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_UNIX_PATH_BYTES)
    return fail(
      `"${input}": the socket path is ${bytes} bytes long; Unix sockets allow at most ${MAX_UNIX_PATH_BYTES}`,
    );
  return { ok: true, value: { transport, path, url: `${transport}://${path}` } };
}

/** Parses one address. Never throws; the message quotes the input and says what to write. */
export function parseListenAddress(input: string): AddressResult {
  const text = input.trim();
  if (text === '') return fail('empty address; expected for example udp://127.0.0.1:8125');
  const sep = text.indexOf('://');
  if (sep < 0) {
    if (text.startsWith('/'))
      return fail(`"${input}": a socket path needs a scheme: unixgram://${text} or unix://${text}`);
    return parseHostPort('udp', text, input);
  }
  const scheme = text.slice(0, sep).toLowerCase();
  const rest = text.slice(sep + 3);
  switch (scheme) {
    case 'udp':
    case 'tcp':
      return parseHostPort(scheme, rest, input);
    case 'unixgram':
    case 'unix':
      return parseUnixPath(scheme, rest, input);
    default:
      return fail(`"${input}": unknown transport "${scheme}"; expected one of ${TRANSPORTS.join(', ')}`);
  }
}

/** Parses `listen`: one address or a non-empty list of distinct addresses. */
export function parseListenAddresses(
  value: unknown,
): { ok: true; value: ListenEndpoint[] } | { ok: false; message: string } {
  const single = !Array.isArray(value);
  const items: unknown[] = single ? [value] : (value as unknown[]);
  if (items.length === 0) return { ok: false, message: 'expected at least one address, got an empty list' };
  const out: ListenEndpoint[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const where = single ? '' : `item ${i}: `;
    if (typeof item !== 'string') {
      const got = item === null ? 'null' : typeof item === 'object' ? 'a mapping' : String(item);
      return {
        ok: false,
        message: `${where}expected an address string like "udp://127.0.0.1:8125", got ${got}`,
      };
    }
    const r = parseListenAddress(item);
    if (!r.ok) return { ok: false, message: where + r.message };
    if (seen.has(r.value.url)) return { ok: false, message: `${where}"${item}" is listed twice` };
    seen.add(r.value.url);
    out.push(r.value);
  }
  return { ok: true, value: out };
}

export const LISTEN_EXPECTED =
  'an address like "udp://127.0.0.1:8125", "tcp://[::1]:8125", "unixgram:///run/sluice/statsd.sock", or a list of them';

/**
 * The `listen` option of a listening source. `default` is written as in the config (one
 * address or a list) and is validated here, so a bad default fails at startup of the program,
 * not in a user's config.
 */
export function listenSchema(opts: {
  default: string | readonly string[];
  doc?: string;
  /** The module unixgram:// needs (tests name a missing one). */
  unixSocketModule?: string;
}): Schema<ListenEndpoint[]> {
  const def = parseListenAddresses(opts.default);
  if (!def.ok) throw new Error(`bad default listen address: ${def.message}`);
  const check = (value: unknown): ReturnType<typeof parseListenAddresses> => {
    const parsed = parseListenAddresses(value);
    if (!parsed.ok || !parsed.value.some((e) => e.transport === 'unixgram')) return parsed;
    // A transport this install cannot run is a config error: validate says so with the fix.
    const missing = unixgramUnavailable(opts.unixSocketModule);
    return missing === undefined ? parsed : { ok: false, message: missing };
  };
  return s.custom<ListenEndpoint[]>(LISTEN_EXPECTED, check, {
    default: def.value,
    doc:
      opts.doc ??
      'Where to listen: one address or a list. udp://host:port, tcp://host:port, unixgram:///path, unix:///path; a bare host:port is UDP; IPv6 in brackets.',
  });
}
