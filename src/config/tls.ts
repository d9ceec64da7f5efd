/**
 * Client TLS options of a sink that connects over HTTPS (remote write, InfluxDB): which
 * certificate authorities to trust, a client certificate for servers that require one (mutual
 * TLS), and the name to expect in the server's certificate. The schema checks that each file is
 * readable, so `sluice validate` reports a wrong path; the files are read when the sink starts.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import type { ConnectionOptions, TlsOptions } from 'node:tls';
import { INVALID, s, type InferFields, type Issue, type ObjectSchema, type Path } from './schema.js';

const fields = {
  ca_file: s.string({
    default: '',
    doc: 'PEM file of the certificate authorities to trust (a private CA); empty: the system store.',
  }),
  cert_file: s.string({
    default: '',
    doc: 'PEM client certificate, for servers that require one (mutual TLS).',
  }),
  key_file: s.string({ default: '', doc: 'PEM private key of cert_file (unencrypted).' }),
  server_name: s.string({
    default: '',
    doc: "Name to expect in the server's certificate (and to send as SNI); empty: the URL's host.",
  }),
  insecure_skip_verify: s.boolean({
    default: false,
    doc: 'Accept any server certificate. For tests only: anyone on the path can read and change the data.',
  }),
};

export type ClientTlsConfig = InferFields<typeof fields>;

const base = s.object(fields, { doc: 'TLS for https:// URLs.' });

/**
 * What both sides' blocks must satisfy: a certificate goes with its key, and every file named is
 * readable now (so `sluice validate` reports a wrong path). Pushes the problems to `issues`.
 */
function checkFiles<K extends string>(
  parsed: Readonly<Record<K | 'cert_file' | 'key_file', string>>,
  files: readonly K[],
  path: Path,
  issues: Issue[],
): void {
  if ((parsed.cert_file === '') !== (parsed.key_file === ''))
    issues.push({
      path: [...path, parsed.cert_file === '' ? 'cert_file' : 'key_file'],
      message: 'cert_file and key_file go together',
    });
  for (const key of files) {
    const file = parsed[key];
    if (file === '') continue;
    try {
      accessSync(file, constants.R_OK);
    } catch (e) {
      issues.push({
        path: [...path, key],
        message: `cannot read ${file}: ${(e as NodeJS.ErrnoException).code}`,
      });
    }
  }
}

/** The `tls:` block of an HTTPS sink. */
export const clientTlsSchema: ObjectSchema<typeof fields> = {
  ...base,
  parse(value, path, issues) {
    const parsed = base.parse(value, path, issues);
    if (parsed === INVALID) return parsed;
    const before = issues.length;
    checkFiles(parsed, ['ca_file', 'cert_file', 'key_file'], path, issues);
    return issues.length > before ? INVALID : parsed;
  },
};

export const clientTlsSample = (
  indent: string,
): string => `${indent}# For https:// URLs: a private CA to trust (empty: the system store), a client
${indent}# certificate and key for servers that require one, the name to expect in the
${indent}# server's certificate (empty: the URL's host).
${indent}tls:
${indent}  ca_file: ''
${indent}  cert_file: ''
${indent}  key_file: ''
${indent}  server_name: ''
${indent}  insecure_skip_verify: false
`;

/** Node's TLS options for this config, the files read now. */
export function clientTlsOptions(t: ClientTlsConfig): ConnectionOptions {
  const out: ConnectionOptions = { rejectUnauthorized: !t.insecure_skip_verify };
  if (t.ca_file !== '') out.ca = readFileSync(t.ca_file);
  if (t.cert_file !== '') out.cert = readFileSync(t.cert_file);
  if (t.key_file !== '') out.key = readFileSync(t.key_file);
  if (t.server_name !== '') out.servername = t.server_name;
  return out;
}

// ---- server side: a listener's TLS (tcp:// StatsD and JSON streams) ---------------------------

export const STREAM_CLIENT_AUTH = ['NoClientCert', 'RequireAndVerifyClientCert'] as const;

const serverFields = {
  cert_file: s.string({ default: '', doc: "PEM certificate of the listener; '' serves plain TCP." }),
  key_file: s.string({ default: '', doc: 'PEM private key of cert_file (unencrypted).' }),
  client_auth_type: s.oneOf(STREAM_CLIENT_AUTH, {
    default: 'NoClientCert',
    doc: 'RequireAndVerifyClientCert accepts only clients presenting a certificate of client_ca_file (mutual TLS); NoClientCert any client (names as in the Prometheus exporter toolkit).',
  }),
  client_ca_file: s.string({
    default: '',
    doc: 'PEM file of the CAs whose client certificates are accepted.',
  }),
};

export type ServerTlsConfig = InferFields<typeof serverFields>;

const serverBase = s.object(serverFields, { doc: 'TLS for tcp:// listeners.' });

/** The `tls:` block of a listening source: TLS on its tcp:// listeners. */
export const serverTlsSchema: ObjectSchema<typeof serverFields> = {
  ...serverBase,
  parse(value, path, issues) {
    const parsed = serverBase.parse(value, path, issues);
    if (parsed === INVALID) return parsed;
    const before = issues.length;
    checkFiles(parsed, ['cert_file', 'key_file', 'client_ca_file'], path, issues);
    if (parsed.client_auth_type === 'RequireAndVerifyClientCert' && parsed.client_ca_file === '')
      issues.push({
        path: [...path, 'client_ca_file'],
        message: 'RequireAndVerifyClientCert needs client_ca_file',
      });
    if (parsed.cert_file === '' && parsed.client_auth_type !== 'NoClientCert')
      issues.push({ path: [...path, 'client_auth_type'], message: 'needs cert_file and key_file (TLS)' });
    return issues.length > before ? INVALID : parsed;
  },
};

/** Node's TLS server options for this config (files read now), or undefined for plain TCP. */
export function serverTlsOptions(t: ServerTlsConfig): TlsOptions | undefined {
  if (t.cert_file === '') return undefined;
  const verify = t.client_auth_type === 'RequireAndVerifyClientCert';
  return {
    cert: readFileSync(t.cert_file),
    key: readFileSync(t.key_file),
    ca: t.client_ca_file === '' ? undefined : readFileSync(t.client_ca_file),
    requestCert: verify,
    rejectUnauthorized: verify,
    minVersion: 'TLSv1.2',
  };
}
