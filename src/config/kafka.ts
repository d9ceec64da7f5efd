/**
 * What a Kafka client of sluice is configured with, for the kafka sink (a producer) and the kafka
 * source (an aggregator's consumer) alike: brokers, TLS and SASL, and the client options built
 * from them (TLS files are read once, when the component is created).
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { parseEndpoint, type Endpoint } from './endpoint.js';
import { INVALID, s, type InferFields, type ObjectSchema } from './schema.js';

export const KAFKA_PORT = 9092;
export const SASL_MECHANISMS = ['none', 'plain', 'scram-sha-256', 'scram-sha-512'] as const;

export const kafkaBroker = s.custom<Endpoint>(
  'a broker like "kafka1.example.com:9092" or "[::1]:9092"',
  (v) => {
    if (typeof v !== 'string') return { ok: false };
    const parsed = parseEndpoint(v, KAFKA_PORT);
    return typeof parsed === 'string' ? { ok: false, message: parsed } : { ok: true, value: parsed };
  },
);

const tlsFields = {
  enabled: s.boolean({ default: false, doc: 'Connect to the brokers over TLS.' }),
  ca_file: s.string({
    default: '',
    doc: 'PEM file of the certificate authorities to trust; empty: the system store.',
  }),
  cert_file: s.string({
    default: '',
    doc: 'PEM client certificate, for brokers that require one (mutual TLS).',
  }),
  key_file: s.string({ default: '', doc: 'PEM private key of cert_file (unencrypted).' }),
  server_name: s.string({
    default: '',
    doc: 'Name to expect in the broker certificates (and to send as SNI); empty: the broker host.',
  }),
  insecure_skip_verify: s.boolean({
    default: false,
    doc: 'Accept any broker certificate. For tests only: anyone on the path can read and change the data.',
  }),
};

const tlsBase = s.object(tlsFields, { doc: 'TLS to the brokers.' });

export const kafkaTls: ObjectSchema<typeof tlsFields> = {
  ...tlsBase,
  parse(value, path, issues) {
    const parsed = tlsBase.parse(value, path, issues);
    if (parsed === INVALID) return parsed;
    if ((parsed.cert_file === '') !== (parsed.key_file === '')) {
      issues.push({
        path: [...path, parsed.cert_file === '' ? 'cert_file' : 'key_file'],
        message: 'cert_file and key_file go together',
      });
      return INVALID;
    }
    return parsed;
  },
};

const saslFields = {
  mechanism: s.oneOf(SASL_MECHANISMS, {
    default: 'none',
    doc: 'SASL authentication: none, plain, scram-sha-256 or scram-sha-512.',
  }),
  username: s.string({ default: '', doc: 'SASL user name.' }),
  password: s.string({
    default: '',
    secret: true,
    doc: 'SASL password; write "${KAFKA_PASSWORD}" to take it from the environment.',
  }),
};

const saslBase = s.object(saslFields, { doc: 'SASL authentication.' });

export const kafkaSasl: ObjectSchema<typeof saslFields> = {
  ...saslBase,
  parse(value, path, issues) {
    const parsed = saslBase.parse(value, path, issues);
    if (parsed === INVALID) return parsed;
    if (parsed.mechanism !== 'none' && (parsed.username === '' || parsed.password === '')) {
      issues.push({
        path: [...path, parsed.username === '' ? 'username' : 'password'],
        message: `is required with mechanism ${parsed.mechanism}`,
      });
      return INVALID;
    }
    return parsed;
  },
};

/** The sample lines of `tls` and `sasl`, as the kafka sink's and source's samples show them. */
export const KAFKA_TLS_SASL_SAMPLE = `    # TLS to the brokers: ca_file (PEM CAs; '' for the system store), cert_file and
    # key_file (PEM, for mutual TLS), server_name (expected in certificates; '' for the
    # broker host); insecure_skip_verify accepts any certificate (tests only).
    tls:
      enabled: false
      ca_file: ''
      cert_file: ''
      key_file: ''
      server_name: ''
      insecure_skip_verify: false
    # SASL authentication: mechanism none, plain, scram-sha-256 or scram-sha-512, with
    # username and password (write '\${KAFKA_PASSWORD}' to read it from the environment).
    sasl:
      mechanism: none
      username: ''
      password: ''
`;

export type KafkaTlsConfig = InferFields<typeof tlsFields>;
export type KafkaSaslConfig = InferFields<typeof saslFields>;

/** The client options for brokers, TLS and SASL (@platformatic/kafka's BaseOptions subset). */
export interface KafkaConnection {
  bootstrapBrokers: { host: string; port: number }[];
  tls?: TlsOptions;
  tlsServerName?: string;
  sasl?: { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string };
}

export function kafkaConnection(config: {
  readonly brokers: readonly Endpoint[];
  readonly tls: KafkaTlsConfig;
  readonly sasl: KafkaSaslConfig;
}): KafkaConnection {
  // Objects, not "host:port" strings, so IPv6 addresses need no bracket parsing.
  const out: KafkaConnection = {
    bootstrapBrokers: config.brokers.map((b) => ({ host: b.host, port: b.port })),
  };
  const t = config.tls;
  if (t.enabled) {
    const tls: TlsOptions = { rejectUnauthorized: !t.insecure_skip_verify };
    if (t.ca_file !== '') tls.ca = readFileSync(t.ca_file);
    if (t.cert_file !== '') tls.cert = readFileSync(t.cert_file);
    if (t.key_file !== '') tls.key = readFileSync(t.key_file);
    if (t.server_name !== '') tls.servername = t.server_name;
    out.tls = tls;
    if (t.server_name !== '') out.tlsServerName = t.server_name;
  }
  if (config.sasl.mechanism !== 'none') {
    const mechanism = config.sasl.mechanism.toUpperCase() as NonNullable<
      KafkaConnection['sasl']
    >['mechanism'];
    out.sasl = { mechanism, username: config.sasl.username, password: config.sasl.password };
  }
  return out;
}
