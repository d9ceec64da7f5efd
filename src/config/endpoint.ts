/** `host:port` endpoints, as configs name servers (push sinks' endpoints, Kafka brokers). */
import net from 'node:net';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** `host:port`, with IPv6 addresses in brackets: how endpoints appear in logs and stat labels. */
export function formatEndpoint(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

function parsePort(text: string): number | undefined {
  if (text.length === 0 || text.length > 5) return undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
  }
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

function validHost(host: string): boolean {
  if (host.length === 0) return false;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x2f || c === 0x5b || c === 0x5d) return false;
  }
  return true;
}

/**
 * Parses `host:port`, `[v6]:port`, or a host alone (then `defaultPort`). A bare IPv6 address
 * (more than one colon, no brackets) is a host without a port. Returns an error message instead
 * when the text is not an endpoint.
 */
export function parseEndpoint(text: string, defaultPort: number): Endpoint | string {
  const value = text.trim();
  let host: string;
  let port = defaultPort;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close === -1) return `"${text}" has "[" without "]"`;
    host = value.slice(1, close);
    const rest = value.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return `"${text}" has text after "]" that is not ":port"`;
      const p = parsePort(rest.slice(1));
      if (p === undefined) return `"${text}" has a bad port (expected 1 to 65535)`;
      port = p;
    }
    if (net.isIPv6(host) === false) return `"${host}" in brackets is not an IPv6 address`;
  } else {
    const first = value.indexOf(':');
    if (first !== -1 && first === value.lastIndexOf(':')) {
      host = value.slice(0, first);
      const p = parsePort(value.slice(first + 1));
      if (p === undefined) return `"${text}" has a bad port (expected 1 to 65535)`;
      port = p;
    } else {
      host = value; // no colon, or a bare IPv6 address
      if (first !== -1 && !net.isIPv6(host)) return `"${text}" is neither host:port nor an IPv6 address`;
    }
  }
  if (!validHost(host)) return `"${text}" has no valid host name`;
  return { host, port };
}
