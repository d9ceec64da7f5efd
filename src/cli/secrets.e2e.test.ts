/**
 * No secret in any output. Every secret option gets a marker value; then the built agent runs
 * every command and failure path this can reach, and no output may contain a marker:
 * - `validate`, `explain` and `test` on the config, and `validate` on a broken config whose
 *   URLs carry passwords;
 * - the agent itself, its sinks pointed at a server that answers 401 and echoes the request's
 *   headers and URL back (as some proxies do), a Kafka sink whose broker refuses connections;
 *   its logs, the admin endpoint's status page data, history and /metrics, and its exit.
 * The echo server must have received the markers, so the test knows the secrets were in play.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  freePort,
  httpGet,
  listeningOn,
  sluiceCommand,
  startSluice,
  waitFor,
  type SluiceProcess,
} from '../testing/processes.js';
import { sendStatsd } from '../testing/udp.js';

const MARKERS = {
  RW_TOKEN: 'mK1-rw-bearer-token-7Q',
  RW_PASSWORD: 'mK2-rw-basic-pass-4Z',
  INFLUX_PASSWORD: 'mK3-influx-pass-9X',
  INFLUX_TOKEN: 'mK4-influx-token-2W',
  KAFKA_PASSWORD: 'mK5-kafka-pass-6V',
  // Only ever inside URLs (a broken config): masked there too.
  URL_PASSWORD: 'mK6-url-pass-3U',
  // A number-looking secret: it must reach the server as written, and nowhere else.
  NUM_PASSWORD: '00918273',
};

/** Every marker found in `text`, with a few characters of context. */
function leaks(text: string): string[] {
  const out: string[] = [];
  for (const [name, marker] of Object.entries(MARKERS)) {
    let at = text.indexOf(marker);
    while (at >= 0) {
      out.push(`${name}: …${text.slice(Math.max(0, at - 60), at + marker.length + 20)}…`);
      at = text.indexOf(marker, at + 1);
    }
    // Basic credentials (user:password in base64) are secrets too.
    for (const user of ['sluice', 'num']) {
      const basic = Buffer.from(`${user}:${marker}`).toString('base64');
      if (text.includes(basic)) out.push(`${name} (Basic ${user}) in output`);
    }
  }
  return out;
}

describe('secrets never appear in logs, errors, command output or pages', { timeout: 120_000 }, () => {
  let tmp = '';
  let echo: Server | undefined;
  let echoPort = 0;
  const received: string[] = [];
  let config = '';
  let env: Record<string, string> = {};

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-secrets-'));
    echo = createServer((req, res) => {
      const text = `${req.method} ${req.url}\n${JSON.stringify(req.headers)}\n`;
      received.push(text);
      req.resume();
      // A 401 that echoes the request back, Authorization included.
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end(`unauthorized: ${text}`);
    });
    await new Promise<void>((resolve) => echo?.listen(0, '127.0.0.1', resolve));
    echoPort = (echo.address() as { port: number }).port;
    const kafkaPort = await freePort('tcp'); // nothing listens: refused
    const adminPort = await freePort('tcp');
    const statsdPort = await freePort('udp');
    env = {
      RW_TOKEN: MARKERS.RW_TOKEN,
      RW_PASSWORD: MARKERS.RW_PASSWORD,
      INFLUX_PASSWORD: MARKERS.INFLUX_PASSWORD,
      NUM_PASSWORD: MARKERS.NUM_PASSWORD,
    };
    config = `agent:
  admin_listen: 127.0.0.1:${adminPort}
sources:
  statsd:
    type: statsd
    listen: udp://127.0.0.1:${statsdPort}
    flush_interval: 200ms
sinks:
  rw_bearer:
    type: prometheus_remote_write
    urls: ['http://127.0.0.1:${echoPort}/api/v1/write']
    bearer_token_env: RW_TOKEN
    flush_interval: 200ms
    retry_initial: 100ms
  rw_basic:
    type: prometheus_remote_write
    urls: ['http://localhost:${echoPort}/push']
    basic_auth: { username: sluice, password_env: RW_PASSWORD }
    flush_interval: 200ms
    retry_initial: 100ms
  influx_v1:
    type: influxdb
    urls: ['http://127.0.0.1:${echoPort}']
    database: db
    username: sluice
    password: \${INFLUX_PASSWORD}
    flush_interval: 200ms
    retry_initial: 100ms
  influx_v2:
    type: influxdb
    urls: ['http://localhost:${echoPort}']
    api: v2
    organization: org
    bucket: b
    token: ${MARKERS.INFLUX_TOKEN}
    flush_interval: 200ms
    retry_initial: 100ms
  influx_num:
    type: influxdb
    urls: ['http://[::ffff:127.0.0.1]:${echoPort}']
    database: db
    username: num
    password: \${NUM_PASSWORD}
    flush_interval: 200ms
    retry_initial: 100ms
  kafka:
    type: kafka
    brokers: ['127.0.0.1:${kafkaPort}']
    topic: metrics
    sasl: { mechanism: plain, username: sluice, password: '${MARKERS.KAFKA_PASSWORD}' }
`;
    void statsdPort;
  });

  after(async () => {
    await new Promise<void>((resolve) => (echo === undefined ? resolve() : echo.close(() => resolve())));
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  });

  function run(args: string[], input?: string): string {
    const r = spawnSync(...sluiceCommand(args), {
      env: { ...process.env, ...env },
      input,
      encoding: 'utf8',
      timeout: 30_000,
    });
    return `${r.stdout}${r.stderr}`;
  }

  it('validate, explain and test show none, and a URL with a password is masked in errors', () => {
    const file = path.join(tmp, 'sluice.yaml');
    writeFileSync(file, config);
    const outputs = [
      run(['validate', file]),
      run(['explain', '--config', file, 'app.hits:1|c']),
      run(['explain', '--config', file, '--json', 'app.hits:1|c']),
      run(['test', file]),
    ];
    const broken = path.join(tmp, 'broken.yaml');
    writeFileSync(
      broken,
      `sinks:
  rw:
    type: prometheus_remote_write
    urls: ['http://user:${MARKERS.URL_PASSWORD}@127.0.0.1:9/api/v1/write']
  influx:
    type: influxdb
    urls: ['http://bob:${MARKERS.URL_PASSWORD}@127.0.0.1:8086']
  kafka:
    type: kafka
    brokers: ['127.0.0.1:9092']
    topic: 5
    sasl: { mechanism: plain, username: '', password: '${MARKERS.KAFKA_PASSWORD}' }
`,
    );
    const invalid = run(['validate', broken]);
    assert.match(invalid, /holds credentials|has credentials/);
    assert.match(invalid, /bob:\*\*\*@/, 'the URL is shown with its password masked');
    outputs.push(invalid);
    assert.deepEqual(leaks(outputs.join('\n')), []);
  });

  it('the running agent: logs of rejected requests, refused connections, status, history, /metrics', async () => {
    const sluice: SluiceProcess = startSluice({ config, env });
    try {
      const logs = (): string => sluice.stderr() + sluice.stdout();
      const adminPort = Number(/admin_listen: 127\.0\.0\.1:(\d+)/.exec(config)?.[1]);
      const statsdPort = Number(/udp:\/\/127\.0\.0\.1:(\d+)/.exec(config)?.[1]);
      await sluice.waitForLog(listeningOn(statsdPort), 20_000);
      await sendStatsd(statsdPort, ['app.hits:1|c|#env:test', 'app.latency:12|d']);
      // Every HTTP sink has been refused with its secret echoed back, and logged it.
      await waitFor(
        async () => {
          const seen = received.join('\n');
          const all = [
            MARKERS.RW_TOKEN,
            Buffer.from(`sluice:${MARKERS.RW_PASSWORD}`).toString('base64'),
            Buffer.from(`sluice:${MARKERS.INFLUX_PASSWORD}`).toString('base64'),
            MARKERS.INFLUX_TOKEN,
            Buffer.from(`num:${MARKERS.NUM_PASSWORD}`).toString('base64'),
          ];
          return all.every((m) => seen.includes(m)) && /401/.test(logs()) ? true : undefined;
        },
        {
          timeoutMs: 30_000,
          what: 'every HTTP sink to be refused with its credentials echoed, and the refusal logged',
          describe: () => `${received.length} requests; logs:\n${logs().slice(-2000)}`,
        },
      );
      await waitFor(
        async () => (/kafka/i.test(logs()) && /ECONNREFUSED|connect/i.test(logs()) ? true : undefined),
        {
          timeoutMs: 30_000,
          what: 'the Kafka sink to log its refused connection',
        },
      );
      const pages: string[] = [];
      for (const p of ['/', '/api/v1/status', '/api/v1/history', '/api/v1/components', '/metrics'])
        pages.push((await httpGet(`http://127.0.0.1:${adminPort}${p}`)).body.toString('utf8'));
      await sluice.stop('SIGTERM');
      assert.deepEqual(leaks([logs(), ...pages].join('\n')), []);
    } finally {
      await sluice.kill();
    }
  });
});
