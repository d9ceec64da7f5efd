/**
 * Config options of the transport layer, as a fields object that listening sources spread into
 * their own `s.object({...})`, next to a `listen: listenSchema({...})` field.
 */
import { s, type InferFields } from '../../config/schema.js';
import { serverTlsSchema } from '../../config/tls.js';

export const DECOMPRESS_MODES = ['none', 'auto'] as const;
export type DecompressMode = (typeof DECOMPRESS_MODES)[number];

const SOCKET_MODE_EXPECTED = 'a file mode as a quoted octal string, like "0660"';

/**
 * chmod-style octal, from a string only: YAML 1.2 reads an unquoted 0660 as the number 660 and
 * 0o660 as 432, so a number cannot say which was meant.
 */
export function parseSocketMode(
  value: unknown,
): { ok: true; value: number } | { ok: false; message: string } {
  if (typeof value === 'number')
    return {
      ok: false,
      message: `expected ${SOCKET_MODE_EXPECTED}, got the number ${value} (YAML reads an unquoted 0660 as 660): quote it`,
    };
  if (typeof value !== 'string') return { ok: false, message: `expected ${SOCKET_MODE_EXPECTED}` };
  const digits = value.startsWith('0o') ? value.slice(2) : value;
  if (!/^[0-7]{3,4}$/.test(digits))
    return { ok: false, message: `expected ${SOCKET_MODE_EXPECTED}, got ${JSON.stringify(value)}` };
  const mode = parseInt(digits, 8);
  if (mode > 0o777)
    return {
      ok: false,
      message: `${JSON.stringify(value)}: setuid, setgid and sticky bits mean nothing on a socket`,
    };
  return { ok: true, value: mode };
}

export const transportOptionsSchema = {
  receive_buffer_bytes: s.number({
    default: 8 * 1024 * 1024,
    integer: true,
    min: 0,
    doc: 'Socket receive buffer to request (SO_RCVBUF) for udp:// and unixgram:// listeners, in bytes; 0 keeps the system default. Linux caps it at sysctl net.core.rmem_max.',
  }),
  max_line_bytes: s.number({
    default: 65_536,
    integer: true,
    min: 64,
    max: 16 * 1024 * 1024,
    doc: 'Longest line accepted on tcp:// and unix:// streams, in bytes; a longer line is dropped up to its newline and counted. It also bounds the memory of each connection.',
  }),
  max_connections: s.number({
    default: 256,
    integer: true,
    min: 1,
    max: 65_536,
    doc: 'Most concurrent connections per tcp:// or unix:// listener. When all are taken, a new connection closes the one that has received nothing for longest, if that one has been silent for 1 s at least (counted in transport_connections_shed); otherwise the new one is closed at once (counted in transport_connections_refused).',
  }),
  idle_timeout: s.duration({
    default: 300_000,
    doc: 'A tcp:// or unix:// connection that sends nothing for this long is closed. 0 never closes one.',
  }),
  socket_mode: s.custom('a file mode like "0660"', parseSocketMode, {
    default: 0o660,
    doc: 'Permissions of the socket file of unixgram:// and unix:// listeners (chmod octal, quoted): who may send.',
  }),
  decompress: s.oneOf(DECOMPRESS_MODES, {
    default: 'none',
    doc: 'auto inflates udp:// and unixgram:// datagrams that start with a zlib or gzip header; none takes every datagram as text. Streams are always text.',
  }),
  tls: serverTlsSchema,
  max_decompressed_bytes: s.number({
    default: 1024 * 1024,
    integer: true,
    min: 1024,
    max: 64 * 1024 * 1024,
    doc: 'Largest inflated size of one compressed datagram, in bytes; a larger one (a compression bomb) is dropped and counted.',
  }),
};

export type TransportConfig = InferFields<typeof transportOptionsSchema>;

/** The defaults, for callers (tests, tools) that build options without parsing a config. */
export const TRANSPORT_DEFAULTS: TransportConfig = {
  receive_buffer_bytes: 8 * 1024 * 1024,
  max_line_bytes: 65_536,
  max_connections: 256,
  idle_timeout: 300_000,
  socket_mode: 0o660,
  decompress: 'none',
  tls: { cert_file: '', key_file: '', client_auth_type: 'NoClientCert', client_ca_file: '' },
  max_decompressed_bytes: 1024 * 1024,
};

/**
 * The options as sample YAML lines, indented for a component block (four spaces), each with
 * its comment, for a listening source's sample config to embed after its `listen:` line.
 */
export const transportSample = `    # Socket receive buffer (SO_RCVBUF) for udp:// and unixgram://; 0 = system default.
    # Linux caps it at net.core.rmem_max: raise that sysctl for bigger bursts.
    receive_buffer_bytes: 8388608
    # Longest line on tcp:// and unix:// streams; longer ones are dropped and counted.
    max_line_bytes: 65536
    # Most concurrent connections per tcp:// or unix:// listener. When full, a newcomer closes
    # the connection silent longest (if silent 1s+; counted as shed), else it is refused.
    max_connections: 256
    # Close a tcp:// or unix:// connection silent for this long; 0 = never.
    idle_timeout: 5m
    # Permissions of unixgram:// and unix:// socket files (chmod octal, quoted).
    socket_mode: '0660'
    # auto = inflate zlib/gzip-compressed datagrams; none = all datagrams are plain text.
    decompress: none
    # TLS on tcp:// listeners: a certificate and key (clients then connect with TLS), and
    # RequireAndVerifyClientCert with client_ca_file to accept only clients holding a
    # certificate of that CA. Empty: plain TCP.
    tls:
      cert_file: ''
      key_file: ''
      client_auth_type: NoClientCert
      client_ca_file: ''
    # Cap on the inflated size of one compressed datagram; bigger ones are dropped and counted.
    max_decompressed_bytes: 1048576
`;
