/**
 * TLS and basic authentication for the HTTP endpoints sluice serves (the Prometheus exporter,
 * the admin endpoint), configured by a web configuration file in the format of the Prometheus
 * exporter toolkit (prometheus/exporter-toolkit, docs/web-configuration.md), so the file an
 * exporter already has, and Prometheus' scrape config for it, work as they are:
 *
 *   tls_server_config:
 *     cert_file: server.crt          # or cert: <PEM text>
 *     key_file: server.key           # or key: <PEM text>
 *     client_auth_type: RequireAndVerifyClientCert   # NoClientCert (default), RequestClientCert,
 *                                    # RequireAnyClientCert, VerifyClientCertIfGiven
 *     client_ca_file: ca.crt
 *     client_allowed_sans: [scraper.example]
 *     min_version: TLS12             # TLS10 to TLS13
 *     max_version: TLS13
 *     prefer_server_cipher_suites: true
 *   http_server_config:
 *     headers: { X-Frame-Options: deny }
 *   basic_auth_users:
 *     prometheus: $2y$10$…           # bcrypt hashes (htpasswd -nBC 10 "" | tr -d ':\n')
 *
 * What differs: `cipher_suites` and `curve_preferences` name Go's constants and are refused
 * (Node's defaults are used); HTTP/2 (`http2`) is read but HTTP/1.1 is served. Every other key
 * is an error naming the file, line and key, as a bad value is.
 *
 * bcrypt is slow on purpose (about 100 ms at cost 10), so a success is cached by a hash of the
 * user and password, as the exporter toolkit does: a scraper pays once, not per scrape.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import bcrypt from 'bcryptjs';
import { isMap, isScalar, LineCounter, parseDocument, type Node } from 'yaml';
import { s, type Schema } from '../config/schema.js';
import { registerSecret } from './secrets.js';

export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

const TLS_VERSIONS = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;

export interface WebTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly clientAuth: ClientAuthType;
  readonly clientCa: Buffer | undefined;
  readonly allowedSans: readonly string[];
  readonly minVersion: (typeof TLS_VERSIONS)[keyof typeof TLS_VERSIONS];
  readonly maxVersion: (typeof TLS_VERSIONS)[keyof typeof TLS_VERSIONS] | undefined;
  readonly preferServerCiphers: boolean;
}

export interface WebConfig {
  readonly file: string;
  readonly tls: WebTls | undefined;
  /** User → bcrypt hash; empty: no authentication. */
  readonly users: ReadonlyMap<string, string>;
  readonly headers: Readonly<Record<string, string>>;
}

export class WebConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'WebConfigError';
  }
}

const TOP_KEYS = ['tls_server_config', 'http_server_config', 'basic_auth_users'];
const TLS_KEYS = [
  'cert_file',
  'key_file',
  'cert',
  'key',
  'client_auth_type',
  'client_ca_file',
  'client_ca',
  'client_allowed_sans',
  'min_version',
  'max_version',
  'prefer_server_cipher_suites',
  'cipher_suites',
  'curve_preferences',
];
const HTTP_KEYS = ['http2', 'headers'];
/** Headers the exporter toolkit refuses to let a config set, as they would break the protocol. */
const FORBIDDEN_HEADERS = [
  'authorization',
  'content-length',
  'content-encoding',
  'content-type',
  'www-authenticate',
];
/** bcrypt hashes: $2a$, $2b$ or $2y$, a two-digit cost, 53 characters of salt and hash. */
const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

/**
 * Parses a web configuration file's text. `file` names it in errors and anchors relative paths
 * (the exporter toolkit resolves them against the file's directory). Throws a WebConfigError
 * listing every problem as `file:line:col: path: message`.
 */
export function parseWebConfig(text: string, file: string): WebConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: string[] = [];
  const at = (node: Node | undefined, where: string, message: string): void => {
    const offset = node?.range?.[0];
    const pos = offset === undefined ? undefined : lines.linePos(offset);
    problems.push(`${file}${pos === undefined ? '' : `:${pos.line}:${pos.col}`}: ${where}: ${message}`);
  };
  for (const e of doc.errors) {
    const pos = lines.linePos(e.pos[0]);
    problems.push(`${file}:${pos.line}:${pos.col}: YAML syntax error: ${e.message.split('\n')[0]}`);
  }
  if (problems.length > 0) throw new WebConfigError(problems);
  const dir = path.dirname(file);
  const root = doc.contents as Node | null;
  if (root !== null && !isMap(root)) at(root, '(top level)', 'expected a mapping');
  const entries = (node: Node | null | undefined, where: string, known: readonly string[]) => {
    const out = new Map<string, { key: Node; value: Node | null }>();
    if (node === null || node === undefined) return out;
    if (!isMap(node)) {
      at(node, where, 'expected a mapping');
      return out;
    }
    for (const pair of node.items) {
      const key = pair.key as Node;
      const name = isScalar(key) ? String(key.value) : String(key);
      if (known.length > 0 && !known.includes(name))
        at(
          key,
          where === '' ? name : `${where}.${name}`,
          `unknown or unsupported key; known keys: ${known.join(', ')}`,
        );
      else out.set(name, { key, value: pair.value as Node | null });
    }
    return out;
  };
  const str = (e: { value: Node | null } | undefined, where: string): string | undefined => {
    if (e === undefined || e.value === null) return undefined;
    if (!isScalar(e.value) || typeof e.value.value !== 'string') {
      at(e.value, where, 'expected a string');
      return undefined;
    }
    return e.value.value;
  };
  const readPem = (
    fileEntry: string | undefined,
    inline: string | undefined,
    where: string,
    node: Node | undefined,
  ): Buffer | undefined => {
    if (fileEntry !== undefined && inline !== undefined) {
      at(node, where, 'give the file or the text, not both');
      return undefined;
    }
    if (inline !== undefined) return Buffer.from(inline);
    if (fileEntry === undefined || fileEntry === '') return undefined;
    try {
      return readFileSync(path.resolve(dir, fileEntry));
    } catch (e) {
      at(
        node,
        where,
        `cannot read ${fileEntry}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
      return undefined;
    }
  };

  const top = entries(root, '', TOP_KEYS);
  let tls: WebTls | undefined;
  const tlsEntry = top.get('tls_server_config');
  if (tlsEntry !== undefined && tlsEntry.value !== null) {
    const t = entries(tlsEntry.value, 'tls_server_config', TLS_KEYS);
    const w = (k: string) => `tls_server_config.${k}`;
    for (const k of ['cipher_suites', 'curve_preferences'])
      if (t.has(k))
        at(
          t.get(k)?.key,
          w(k),
          "names Go's constants, which Node cannot use: remove it (Node's defaults apply)",
        );
    const cert = readPem(
      str(t.get('cert_file'), w('cert_file')),
      str(t.get('cert'), w('cert')),
      w('cert_file'),
      t.get('cert_file')?.value ?? t.get('cert')?.value ?? tlsEntry.key,
    );
    const keyText = str(t.get('key'), w('key'));
    if (keyText !== undefined) registerSecret(keyText);
    const key = readPem(
      str(t.get('key_file'), w('key_file')),
      keyText,
      w('key_file'),
      t.get('key_file')?.value ?? t.get('key')?.value ?? tlsEntry.key,
    );
    if (cert === undefined || key === undefined)
      at(tlsEntry.key, 'tls_server_config', 'needs cert_file (or cert) and key_file (or key)');
    const authText = str(t.get('client_auth_type'), w('client_auth_type')) ?? 'NoClientCert';
    const clientAuth = (CLIENT_AUTH_TYPES as readonly string[]).includes(authText)
      ? (authText as ClientAuthType)
      : undefined;
    if (clientAuth === undefined)
      at(
        t.get('client_auth_type')?.value ?? undefined,
        w('client_auth_type'),
        `expected one of ${CLIENT_AUTH_TYPES.join(', ')}`,
      );
    const clientCa = readPem(
      str(t.get('client_ca_file'), w('client_ca_file')),
      str(t.get('client_ca'), w('client_ca')),
      w('client_ca_file'),
      t.get('client_ca_file')?.value ?? undefined,
    );
    if (
      (clientAuth === 'RequireAndVerifyClientCert' || clientAuth === 'VerifyClientCertIfGiven') &&
      clientCa === undefined
    )
      at(
        t.get('client_auth_type')?.value ?? undefined,
        w('client_auth_type'),
        `${clientAuth} needs client_ca_file`,
      );
    const version = (k: 'min_version' | 'max_version') => {
      const v = str(t.get(k), w(k));
      if (v === undefined) return undefined;
      if (v in TLS_VERSIONS) return TLS_VERSIONS[v as keyof typeof TLS_VERSIONS];
      at(t.get(k)?.value ?? undefined, w(k), `expected one of ${Object.keys(TLS_VERSIONS).join(', ')}`);
      return undefined;
    };
    const sansNode = t.get('client_allowed_sans')?.value;
    const allowedSans: string[] = [];
    if (sansNode !== null && sansNode !== undefined) {
      const list = (sansNode as { items?: unknown[] }).items;
      if (!Array.isArray(list)) at(sansNode, w('client_allowed_sans'), 'expected a list of names');
      else for (const item of list) if (isScalar(item)) allowedSans.push(String(item.value));
    }
    const prefer = t.get('prefer_server_cipher_suites')?.value;
    if (cert !== undefined && key !== undefined && clientAuth !== undefined)
      tls = {
        cert,
        key,
        clientAuth,
        clientCa,
        allowedSans,
        minVersion: version('min_version') ?? 'TLSv1.2',
        maxVersion: version('max_version'),
        preferServerCiphers: isScalar(prefer) ? prefer.value === true : true,
      };
  }
  const headers: Record<string, string> = {};
  const httpEntry = top.get('http_server_config');
  if (httpEntry !== undefined && httpEntry.value !== null) {
    const h = entries(httpEntry.value, 'http_server_config', HTTP_KEYS);
    for (const [name, e] of entries(h.get('headers')?.value, 'http_server_config.headers', [])) {
      const v = str(e, `http_server_config.headers.${name}`);
      if (FORBIDDEN_HEADERS.includes(name.toLowerCase()))
        at(e.key, `http_server_config.headers.${name}`, 'is set by the server; it cannot be configured');
      else if (v !== undefined) headers[name] = v;
    }
  }
  const users = new Map<string, string>();
  for (const [name, e] of entries(top.get('basic_auth_users')?.value, 'basic_auth_users', [])) {
    const hash = str(e, `basic_auth_users.${name}`);
    if (hash === undefined) continue;
    registerSecret(hash);
    if (!BCRYPT.test(hash))
      at(
        e.value ?? e.key,
        `basic_auth_users.${name}`,
        'expected a bcrypt hash ($2y$10$… as htpasswd -B makes)',
      );
    else users.set(name, hash);
  }
  if (problems.length > 0) throw new WebConfigError(problems);
  return { file, tls, users, headers };
}

/** Reads and parses a web configuration file (see parseWebConfig). */
export function loadWebConfig(file: string): WebConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new WebConfigError([
      `${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    ]);
  }
  return parseWebConfig(text, file);
}

/** Most cached successful logins; the cache is emptied when full (scrapers are few). */
const AUTH_CACHE_SIZE = 1024;

/** Checks `Authorization: Basic` against bcrypt hashes, caching successes. */
export class BasicAuth {
  private readonly ok = new Set<string>();

  constructor(private readonly users: ReadonlyMap<string, string>) {}

  get enabled(): boolean {
    return this.users.size > 0;
  }

  async check(header: string | undefined): Promise<boolean> {
    if (!this.enabled) return true;
    if (header === undefined || !/^basic /i.test(header)) return false;
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const hash = this.users.get(user);
    // An unknown user costs a bcrypt comparison too, so timing does not tell users apart.
    const key = createHash('sha256')
      .update(`${user}\0${password}\0${hash ?? ''}`)
      .digest('hex');
    if (hash !== undefined && this.ok.has(key)) return true;
    const good = await bcrypt.compare(password, hash ?? DUMMY_HASH);
    if (!good || hash === undefined) return false;
    if (this.ok.size >= AUTH_CACHE_SIZE) this.ok.clear();
    this.ok.add(key);
    return true;
  }
}

/** A hash of nothing anyone sends, for comparing unknown users in the same time. */
const DUMMY_HASH = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';

/** Whether a client certificate passes `client_auth_type` and `client_allowed_sans`. */
export function clientCertAllowed(socket: TLSSocket, tls: WebTls): boolean {
  if (tls.clientAuth === 'NoClientCert' || tls.clientAuth === 'RequestClientCert') return true;
  const cert = socket.getPeerCertificate();
  const present = cert !== null && Object.keys(cert).length > 0;
  if (!present) return tls.clientAuth === 'VerifyClientCertIfGiven';
  if (tls.clientAuth !== 'RequireAnyClientCert' && !socket.authorized) return false;
  if (tls.allowedSans.length === 0) return true;
  const sans = (cert.subjectaltname ?? '').split(',').map((s) => s.trim().replace(/^[A-Za-z ]+:/, ''));
  return tls.allowedSans.some((a) => sans.includes(a));
}

/**
 * An HTTP server, or an HTTPS one under `config.tls`, whose requests pass basic auth and the
 * client-certificate rules before reaching `handler`; refused ones get 401 (with
 * `WWW-Authenticate`) or 403. The configured headers go on every answer.
 */
export function createWebServer(
  config: WebConfig | undefined,
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): http.Server {
  if (config === undefined) return http.createServer(handler);
  const auth = new BasicAuth(config.users);
  const guarded = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    for (const [name, value] of Object.entries(config.headers)) res.setHeader(name, value);
    if (config.tls !== undefined && !clientCertAllowed(req.socket as TLSSocket, config.tls)) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('A client certificate this server accepts is required.\n');
      return;
    }
    if (!auth.enabled) return handler(req, res);
    auth.check(req.headers.authorization).then(
      (ok) => {
        if (ok) return handler(req, res);
        res.writeHead(401, {
          'content-type': 'text/plain; charset=utf-8',
          'www-authenticate': 'Basic realm="sluice"',
        });
        res.end('Unauthorized.\n');
      },
      () => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('Internal error.\n');
      },
    );
  };
  if (config.tls === undefined) return http.createServer(guarded);
  const t = config.tls;
  return https.createServer(
    {
      cert: t.cert,
      key: t.key,
      ca: t.clientCa,
      requestCert: t.clientAuth !== 'NoClientCert',
      rejectUnauthorized: t.clientAuth === 'RequireAndVerifyClientCert',
      minVersion: t.minVersion,
      maxVersion: t.maxVersion,
      honorCipherOrder: t.preferServerCiphers,
    },
    guarded,
  );
}

/**
 * A config option naming a web configuration file (the exporter toolkit's `--web.config.file`):
 * read and checked with the config, so `sluice validate` and a reload report its problems with
 * their file:line; '' for none (plain HTTP, no authentication).
 */
export function webConfigFileSchema(doc: string): Schema<WebConfig | undefined> {
  return s.custom<WebConfig | undefined>(
    'the path of a web configuration file (YAML)',
    (value) => {
      if (typeof value !== 'string') return { ok: false };
      if (value === '') return { ok: true, value: undefined };
      try {
        return { ok: true, value: loadWebConfig(value) };
      } catch (e) {
        if (e instanceof WebConfigError) return { ok: false, message: `invalid web config:\n${e.message}` };
        throw e;
      }
    },
    { optional: true, doc },
  );
}
