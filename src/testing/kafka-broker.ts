/**
 * A real Apache Kafka for integration tests: one KRaft node (broker and controller in one JVM),
 * run from the Maven Central jars that scripts/kafka/install.sh puts in
 * .cache/kafka/<version>/libs (or KAFKA_LIBS), with Java 17:
 *
 *   java -cp '<libs>/*' kafka.tools.StorageTool format -t <cluster id> -c server.properties ...
 *   java -cp '<libs>/*' kafka.Kafka server.properties
 *
 * on free 127.0.0.1 ports, in a temporary directory. It listens four ways, so one broker serves
 * every test: PLAINTEXT; SASL_PLAINTEXT with PLAIN and SCRAM-SHA-256/512 users (the SCRAM
 * credentials are written by `format --add-scram`); SSL with a throwaway CA (made with openssl)
 * that requires a client certificate; and the controller's own listener. `stop()` and `start()`
 * again keep the ports and the log directory, for outage tests.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Admin } from '@platformatic/kafka';
import {
  freePort,
  repoRoot,
  serverPrograms,
  startProcess,
  waitFor,
  type RunningProcess,
} from './processes.js';

/** The version scripts/kafka/install.sh installs by default. */
export const KAFKA_VERSION = process.env.KAFKA_VERSION ?? '4.1.0';

export const SASL_USERS = {
  plain: { username: 'alice', password: 'alice-secret' },
  'scram-sha-256': { username: 'bob', password: 'bob-secret' },
  'scram-sha-512': { username: 'carol', password: 'carol-secret' },
} as const;

export interface KafkaRequirements {
  readonly libs: string;
  readonly java: string | undefined;
  readonly kcat: string | undefined;
  readonly openssl: string | undefined;
  /** node:test's skip: a reason outside CI when something is missing, false otherwise. */
  readonly skip: string | false;
  /** Throws when something is missing (for CI=true, where the tests must fail instead). */
  assertInstalled(): void;
}

/** Finds the jars, java, kcat and openssl, with the project's skip rule. */
export function kafkaRequirements(): KafkaRequirements {
  const libs = process.env.KAFKA_LIBS ?? path.join(repoRoot, '.cache', 'kafka', KAFKA_VERSION, 'libs');
  const jar = path.join(libs, `kafka_2.13-${KAFKA_VERSION}.jar`);
  const haveLibs = process.env.KAFKA_LIBS !== undefined ? existsSync(libs) : existsSync(jar);
  const programs = serverPrograms(
    ['java', 'kcat', 'openssl'],
    'apt-get install openjdk-17-jre-headless kcat openssl',
  );
  const missing = [...(haveLibs ? [] : [`the Kafka jars in ${libs} (run scripts/kafka/install.sh)`])];
  if (programs.missing !== '') missing.push(programs.missing);
  const what = missing.join(' and ');
  const skip =
    what !== '' && process.env.CI !== 'true' ? `${what} not found; CI=true makes this a failure` : false;
  return {
    libs,
    java: programs.paths.java,
    kcat: programs.paths.kcat,
    openssl: programs.paths.openssl,
    skip,
    assertInstalled: () => {
      if (what !== '') throw new Error(`${what} not found, and CI=true requires this test to run.`);
    },
  };
}

function run(command: string, args: readonly string[], cwd: string, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null)
          reject(
            new Error(`${path.basename(command)} ${args.join(' ')} failed: ${error.message}\n${stderr}`),
          );
        else resolve(stdout);
      },
    );
  });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files. */
async function makeCertificates(openssl: string, dir: string): Promise<KafkaBroker['certs']> {
  const f = (name: string): string => path.join(dir, name);
  const days = ['-days', '2'];
  await run(
    openssl,
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      f('ca.key'),
      '-out',
      f('ca.crt'),
      ...days,
      '-subj',
      '/CN=sluice test CA',
    ],
    dir,
  );
  for (const who of ['server', 'client']) {
    await run(
      openssl,
      [
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        f(`${who}.key`),
        '-out',
        f(`${who}.csr`),
        '-subj',
        `/CN=sluice test ${who}`,
      ],
      dir,
    );
  }
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const sign = ['x509', '-req', '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', ...days];
  await run(
    openssl,
    [...sign, '-in', f('server.csr'), '-out', f('server.crt'), '-extfile', f('server.ext')],
    dir,
  );
  await run(openssl, [...sign, '-in', f('client.csr'), '-out', f('client.crt')], dir);
  // Kafka's PEM key store: the (unencrypted PKCS#8) key, then the certificate, in one file.
  writeFileSync(
    f('server.pem'),
    readFileSync(f('server.key'), 'utf8') + readFileSync(f('server.crt'), 'utf8'),
  );
  return { ca: f('ca.crt'), clientCert: f('client.crt'), clientKey: f('client.key') };
}

export interface KafkaBrokerOptions {
  /** Partitions of auto-created topics. */
  readonly partitions?: number;
}

export class KafkaBroker {
  process: RunningProcess | undefined;
  /** How long each start took, from spawning the JVM to "Kafka Server started". */
  readonly startTimesMs: number[] = [];
  formatMs = 0;

  private constructor(
    readonly req: KafkaRequirements,
    readonly dir: string,
    readonly ports: { plaintext: number; sasl: number; ssl: number; controller: number },
    readonly certs: { ca: string; clientCert: string; clientKey: string },
  ) {}

  /** `127.0.0.1:port` of the PLAINTEXT listener. */
  get bootstrap(): string {
    return `127.0.0.1:${this.ports.plaintext}`;
  }

  get saslBootstrap(): string {
    return `127.0.0.1:${this.ports.sasl}`;
  }

  get sslBootstrap(): string {
    return `127.0.0.1:${this.ports.ssl}`;
  }

  get logDir(): string {
    return path.join(this.dir, 'data');
  }

  /** Creates the directory, certificates and configuration, formats the storage, and starts. */
  static async create(req: KafkaRequirements, options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
    req.assertInstalled();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-kafka-'));
    try {
      const ports = {
        plaintext: await freePort('tcp'),
        sasl: await freePort('tcp'),
        ssl: await freePort('tcp'),
        controller: await freePort('tcp'),
      };
      const certs = await makeCertificates(req.openssl as string, dir);
      const broker = new KafkaBroker(req, dir, ports, certs);
      broker.writeConfig(options.partitions ?? 3);
      await broker.format();
      await broker.start();
      return broker;
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  private writeConfig(partitions: number): void {
    const p = this.ports;
    const jaas = (module: string, extra = ''): string =>
      `org.apache.kafka.common.security.${module} required${extra};`;
    const plainUser = SASL_USERS.plain;
    writeFileSync(
      path.join(this.dir, 'server.properties'),
      [
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@127.0.0.1:${p.controller}`,
        `listeners=PLAINTEXT://127.0.0.1:${p.plaintext},SASL_PLAINTEXT://127.0.0.1:${p.sasl},SSL://127.0.0.1:${p.ssl},CONTROLLER://127.0.0.1:${p.controller}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${p.plaintext},SASL_PLAINTEXT://127.0.0.1:${p.sasl},SSL://127.0.0.1:${p.ssl}`,
        'controller.listener.names=CONTROLLER',
        'inter.broker.listener.name=PLAINTEXT',
        'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT',
        'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
        `listener.name.sasl_plaintext.plain.sasl.jaas.config=${jaas('plain.PlainLoginModule', ` user_${plainUser.username}="${plainUser.password}"`)}`,
        `listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=${jaas('scram.ScramLoginModule')}`,
        `listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=${jaas('scram.ScramLoginModule')}`,
        'listener.name.ssl.ssl.keystore.type=PEM',
        `listener.name.ssl.ssl.keystore.location=${path.join(this.dir, 'server.pem')}`,
        'listener.name.ssl.ssl.truststore.type=PEM',
        `listener.name.ssl.ssl.truststore.location=${this.certs.ca}`,
        'listener.name.ssl.ssl.client.auth=required',
        `log.dirs=${this.logDir}`,
        `num.partitions=${partitions}`,
        'auto.create.topics.enable=true',
        'offsets.topic.replication.factor=1',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        'share.coordinator.state.topic.replication.factor=1',
        'share.coordinator.state.topic.min.isr=1',
        'group.initial.rebalance.delay.ms=0',
        '',
      ].join('\n'),
    );
    writeFileSync(
      path.join(this.dir, 'log4j2.properties'),
      [
        'rootLogger.level=INFO',
        'rootLogger.appenderRef.stdout.ref=STDOUT',
        'appender.stdout.type=Console',
        'appender.stdout.name=STDOUT',
        'appender.stdout.layout.type=PatternLayout',
        'appender.stdout.layout.pattern=[%d] %p %m (%c)%n',
        '',
      ].join('\n'),
    );
  }

  private javaArgs(main: string, args: readonly string[]): string[] {
    return [
      // A test broker holds a few MB; a small heap, one GC thread and the C1 compiler alone
      // start faster and leave the machine's two cores to the tests.
      '-Xmx512m',
      '-Xms64m',
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${path.join(this.dir, 'log4j2.properties')}`,
      '-cp',
      `${this.req.libs}/*`,
      main,
      ...args,
    ];
  }

  /** Runs a Kafka tool class (kafka.tools.DumpLogSegments, say) with the broker's jars. */
  tool(main: string, args: readonly string[]): Promise<string> {
    return run(this.req.java as string, this.javaArgs(main, args), this.dir, 120_000);
  }

  private async format(): Promise<void> {
    const started = Date.now();
    // A cluster id is 16 random bytes in URL-safe base64 without padding (Kafka's Uuid).
    const clusterId = randomBytes(16).toString('base64url');
    const scram = (mechanism: 'scram-sha-256' | 'scram-sha-512'): string[] => {
      const u = SASL_USERS[mechanism];
      return ['--add-scram', `${mechanism.toUpperCase()}=[name="${u.username}",password="${u.password}"]`];
    };
    mkdirSync(this.logDir, { recursive: true });
    await this.tool('kafka.tools.StorageTool', [
      'format',
      // Joined to its option: an id starting with "-" (one in 64) would read as an option.
      `--cluster-id=${clusterId}`,
      '-c',
      path.join(this.dir, 'server.properties'),
      ...scram('scram-sha-256'),
      ...scram('scram-sha-512'),
    ]);
    this.formatMs = Date.now() - started;
  }

  /** Starts the broker (again, after stop(): same ports, same data) and waits until it serves. */
  async start(timeoutMs = 90_000): Promise<void> {
    if (this.process !== undefined) throw new Error('The broker is already running.');
    const started = Date.now();
    const p = startProcess(
      this.req.java as string,
      this.javaArgs('kafka.Kafka', [path.join(this.dir, 'server.properties')]),
      { cwd: this.dir },
    );
    this.process = p;
    p.onCleanup(() => {
      // The test file's process is ending: the temporary directory goes with the broker.
      if (this.process === p) rmSync(this.dir, { recursive: true, force: true });
    });
    await p.waitForStdout((out) => out.includes('Kafka Server started'), timeoutMs);
    this.startTimesMs.push(Date.now() - started);
  }

  /** Stops the broker (SIGTERM: a controlled shutdown) and waits for the JVM to exit. */
  async stop(): Promise<void> {
    const p = this.process;
    if (p === undefined) return;
    try {
      await p.stop('SIGTERM', 60_000);
    } finally {
      this.process = undefined;
    }
  }

  /** Stops the broker for good and removes its directory. */
  async destroy(): Promise<void> {
    const p = this.process;
    this.process = undefined;
    if (p !== undefined) await p.stop('SIGTERM', 30_000).catch(() => p.kill());
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Creates a topic and waits until every partition has a leader. */
  async createTopic(topic: string, partitions: number): Promise<void> {
    const admin = new Admin({ clientId: 'sluice-test-admin', bootstrapBrokers: [this.bootstrap] });
    try {
      await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
      await waitFor(
        async () => {
          const meta = await admin.metadata({ topics: [topic], forceUpdate: true });
          const t = meta.topics.get(topic);
          return t !== undefined && t.partitions.every((p) => p.leader >= 0) ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100, what: `topic ${topic} to have leaders` },
      );
    } finally {
      await admin.close();
    }
  }

  /** Whether the JVM died by itself; for waitFor's failIf. */
  diedReason(): string | undefined {
    return this.process?.diedReason();
  }

  /** The last lines the broker logged, for failure messages. */
  logTail(chars = 3000): string {
    return this.process?.stdout().slice(-chars) ?? '(not running)';
  }
}

/** One message as `kcat -C -J` prints it. */
export interface ConsumedMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** The message timestamp (CreateTime: the producer's), in milliseconds. */
  readonly ts: number;
  readonly key: string | null;
  readonly payload: string | null;
}

/**
 * Every message in `topic`, from the beginning to the current end of each partition, read with
 * kcat (librdkafka: a consumer that shares no code with the producer under test). A topic that
 * does not exist yet reads as empty.
 */
export async function consumeAll(
  req: KafkaRequirements,
  bootstrap: string,
  topic: string,
): Promise<ConsumedMessage[]> {
  return new Promise((resolve, reject) => {
    execFile(
      req.kcat as string,
      [
        '-b',
        bootstrap,
        '-C',
        '-t',
        topic,
        '-o',
        'beginning',
        '-e',
        '-q',
        '-J',
        '-X',
        'topic.metadata.refresh.interval.ms=1000',
      ],
      { timeout: 60_000, maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null) {
          if (/Unknown topic or partition/.test(stderr)) resolve([]);
          else reject(new Error(`kcat failed: ${error.message}\n${stderr}`));
          return;
        }
        const out: ConsumedMessage[] = [];
        for (const line of stdout.split('\n'))
          if (line.trim() !== '') out.push(JSON.parse(line) as ConsumedMessage);
        resolve(out);
      },
    );
  });
}
