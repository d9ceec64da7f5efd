/**
 * The `sluice` command: run the agent, or help an operator check and write its config.
 * This is the only place that ends the process; components never call process.exit.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG } from '../config/defaults.js';
import { ConfigError, formatProblem, loadConfig, type AgentConfig } from '../config/load.js';
import { AdminServer, type ComponentView, type ReloadOutcome } from '../admin/server.js';
import { StatusCollector, type ComponentState } from '../admin/status.js';
import type { ClientIo } from './admin-client.js';
import { tapCommand } from './tap.js';
import { topCommand } from './top.js';
import { Agent, StartupError } from '../core/agent.js';
import { systemClock } from '../core/clock.js';
import { agentVersion } from '../core/embedded.js';
import { createLogger } from '../core/logger.js';
import { registry } from '../registry.js';
import { explainData, explainJson, explainText, unescapeDatagram } from './explain.js';
import {
  STATSD_DIALECTS,
  STATSD_MODES,
  type StatsdDialect,
  type StatsdMode,
} from '../protocols/statsd/parser.js';
import { generateConfig } from './generate.js';
import { runTest, type TestFormat } from './test.js';
import { redactSecrets } from '../core/secrets.js';

const HELP = `Usage:
  sluice [--config FILE]       run the agent (built-in config when no FILE is given)
  sluice validate FILE         check a config file; exit 0 if valid, 1 with every problem listed if not
  sluice generate              print a complete, commented example config
  sluice test [FILE] [--format text|influx|json]
                               run every polled source of the config (built-in when no FILE)
                               once, print what it collected, with filters and tags applied,
                               and exit (listening sources are listed as skipped)
  sluice explain [--config FILE] [--source NAME] [--dialect D] [--mode M] [--json] DATAGRAM
                               show what a StatsD datagram parses into (with each name), which
                               mapping rule it hits, what the aggregator refuses, and what each
                               configured sink would send for it, in bytes (\\n separates lines;
                               - reads the datagram from stdin; --json for machines)
  sluice tap [--name PATTERN]  print what a running agent hands its sinks, as it flows (sluice tap --help)
  sluice top                   a live view of a running agent: components, busiest names (sluice top --help)
  sluice --version             print the version
  sluice --help                print this help

Environment: \${VAR} and \${VAR:-default} in the config read the environment.
Signals: SIGTERM or SIGINT flush what the aggregators hold, drain the sinks and exit
(0 when everything was delivered within agent.shutdown_timeout, 1 when a sink dropped
anything while stopping or had not finished). SIGHUP re-reads the config file: an invalid one
changes nothing (its problems are logged); a valid one rebuilds only the components it changes.

Sources: ${registry.sources.map((d) => `${d.type} (${d.description})`).join('; ')}
Sinks: ${registry.sinks.map((d) => `${d.type} (${d.description})`).join('; ')}
`;

interface Io {
  out(text: string): void;
  err(text: string): void;
}

const stdio: Io = {
  out: (t) => process.stdout.write(redactSecrets(t)),
  err: (t) => process.stderr.write(redactSecrets(t)),
};

function readConfig(file: string | undefined): { text: string; name: string } {
  if (file === undefined) return { text: DEFAULT_CONFIG, name: '(built-in config)' };
  return { text: readFileSync(file, 'utf8'), name: file };
}

function load(file: string | undefined): AgentConfig {
  const { text, name } = readConfig(file);
  return loadConfig(text, { file: name, env: process.env, registry, defaultHostname: hostname() });
}

/** Runs a subcommand that ends with an exit code (everything but the agent itself). */
export interface TestCommand {
  readonly test: string | undefined;
  readonly format: TestFormat;
}

export function runCommand(argv: readonly string[], io: Io = stdio): number | 'run' | TestCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        source: { type: 'string' },
        dialect: { type: 'string' },
        mode: { type: 'string' },
        json: { type: 'boolean' },
        format: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    });
  } catch (e) {
    io.err(`sluice: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    io.out(HELP);
    return 0;
  }
  if (values.version === true) {
    io.out(`sluice ${agentVersion()}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  switch (command) {
    case undefined:
    case 'run':
      if (rest.length > 0) break;
      return 'run';
    case 'validate': {
      const file = rest[0] ?? values.config;
      if (file === undefined || rest.length > 1) break;
      try {
        load(file);
        io.out(`${file}: valid\n`);
        return 0;
      } catch (e) {
        io.err(describeError(e, file));
        return 1;
      }
    }
    case 'generate':
      if (rest.length > 0) break;
      io.out(generateConfig(registry));
      return 0;
    case 'help':
      io.out(HELP);
      return 0;
    case 'test': {
      if (rest.length > 1) break;
      const format = values.format ?? 'text';
      if (format !== 'text' && format !== 'influx' && format !== 'json') {
        io.err(`sluice test: --format must be text, influx or json, not ${JSON.stringify(format)}\n`);
        return 2;
      }
      return { test: rest[0] ?? values.config, format };
    }
    case 'explain': {
      if (rest.length !== 1) break;
      let config: AgentConfig;
      try {
        config = load(values.config);
      } catch (e) {
        io.err(describeError(e, values.config));
        return 1;
      }
      const dialect = values.dialect;
      const mode = values.mode;
      if (dialect !== undefined && !(STATSD_DIALECTS as readonly string[]).includes(dialect)) {
        io.err(
          `sluice explain: --dialect is one of ${STATSD_DIALECTS.join(', ')}, not ${JSON.stringify(dialect)}\n`,
        );
        return 2;
      }
      if (mode !== undefined && !(STATSD_MODES as readonly string[]).includes(mode)) {
        io.err(`sluice explain: --mode is one of ${STATSD_MODES.join(', ')}, not ${JSON.stringify(mode)}\n`);
        return 2;
      }
      const text = rest[0] as string;
      const datagram = text === '-' ? readFileSync(0) : unescapeDatagram(text);
      const result = explainData(datagram, config, {
        source: values.source,
        dialect: dialect as StatsdDialect | undefined,
        mode: mode as StatsdMode | undefined,
      });
      if ('error' in result) {
        io.err(`sluice explain: ${result.error}\n`);
        return 1;
      }
      io.out(values.json === true ? explainJson(result) : explainText(result));
      return 0;
    }
  }
  io.err(`sluice: unexpected arguments: ${positionals.join(' ')}\n\n${HELP}`);
  return 2;
}

function describeError(e: unknown, file: string | undefined): string {
  if (e instanceof ConfigError) return `${e.message}\n`;
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return `${file ?? 'config'}: no such file\n`;
  return `${file ?? 'config'}: ${err.message}\n`;
}

/**
 * Runs a command that lasts until the user quits (tap, top), then exits with its code. Quitting
 * is SIGINT or SIGTERM, and with `keys` q in a terminal (raw mode turns Ctrl-C into a byte).
 */
async function untilQuit(run: (io: ClientIo) => Promise<number>, options: { keys: boolean }): Promise<void> {
  const keys = options.keys && process.stdin.isTTY;
  const quit = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
    if (!keys) return;
    process.stdin.setRawMode(true);
    process.stdin.on('data', (key: Buffer) => {
      if (key[0] === 0x71 || key[0] === 0x51 || key[0] === 0x03) resolve(); // q, Q, Ctrl-C
    });
  });
  process.exitCode = await run({
    out: (t) => process.stdout.write(redactSecrets(t)),
    err: (t) => process.stderr.write(redactSecrets(t)),
    quit,
  });
  if (keys) process.stdin.setRawMode(false);
  process.exit();
}

export async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === 'top') await untilQuit((io) => topCommand(argv.slice(1), io), { keys: true });
  if (argv[0] === 'tap') await untilQuit((io) => tapCommand(argv.slice(1), io), { keys: false });
  const result = runCommand(argv);
  if (typeof result === 'number') {
    process.exitCode = result;
    return;
  }
  if (result !== 'run') {
    process.exitCode = await testCommand(result);
    return;
  }
  let config: AgentConfig;
  const file = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: { config: { type: 'string', short: 'c' } },
  }).values.config;
  try {
    config = load(file);
  } catch (e) {
    process.stderr.write(redactSecrets(describeError(e, file)));
    process.exitCode = 1;
    return;
  }
  await runAgent(config, file);
}

async function testCommand(command: TestCommand): Promise<number> {
  let config: AgentConfig;
  try {
    config = load(command.test);
  } catch (e) {
    process.stderr.write(redactSecrets(describeError(e, command.test)));
    return 1;
  }
  // Warnings (a file the Linux source cannot read) matter here; info chatter does not.
  const log = createLogger({ level: 'warn' });
  return runTest(config, {
    format: command.format,
    out: process.stdout,
    note: (t) => process.stderr.write(redactSecrets(t)),
    log,
    clock: systemClock,
  });
}

/** Signals this soon after the first are the same stop request, delivered twice. */
const DUPLICATE_SIGNAL_MS = 1000;

async function runAgent(config: AgentConfig, file: string | undefined): Promise<void> {
  const log = createLogger({ level: config.agent.logLevel });
  const agent = new Agent(config, log, systemClock);
  let signalledAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalledAt !== undefined) {
      // Ctrl-C under `npm start` arrives twice at once: from the terminal, which signals its
      // whole foreground group, and from npm, which forwards what it gets. Only a signal sent
      // after that (a person insisting) stops without waiting.
      if (performance.now() - signalledAt < DUPLICATE_SIGNAL_MS) return;
      log.warn('Second signal: exiting without waiting for sinks.', { signal });
      process.exit(1);
    }
    signalledAt = performance.now();
    log.info('Stopping: flushing sources and draining sinks.', { signal });
    void agent.stop().then((r) => {
      const delivered = r.drained && Object.keys(r.lost).length === 0;
      if (delivered) log.info('Stopped.', { drained: true });
      else
        log.error('Stopped; data was lost (exit 1).', {
          drained: r.drained,
          pending: r.pending,
          lost: r.lost,
        });
      // Exit explicitly: a socket a misbehaving client holds open must not keep us alive.
      process.stdout.write('', () => process.exit(delivered ? 0 : 1));
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  /** SIGHUP and POST /-/reload: re-read the file; an invalid one changes nothing. */
  const reloadFromFile = async (why: string): Promise<ReloadOutcome> => {
    log.info(`${why}: reloading the config.`, { file: file ?? '(built-in config)' });
    let next: AgentConfig;
    try {
      next = load(file);
    } catch (e) {
      const problems =
        e instanceof ConfigError ? e.problems.map(formatProblem) : [describeError(e, file).trim()];
      agent.reloadFailed(problems);
      log.error('Reload refused: the config is invalid; the running config stays.', { problems });
      return { ok: false, problems };
    }
    try {
      const result = await agent.reload(next);
      log.info('Reloaded.', { ...result });
      return { ok: true, result };
    } catch (error) {
      log.error('Reload failed.', { error });
      agent.reloadFailed([(error as Error).message]);
      return { ok: false, problems: [(error as Error).message] };
    }
  };
  process.on('SIGHUP', () => {
    if (signalledAt === undefined) void reloadFromFile('SIGHUP');
  });
  // Components report their own failures to the supervisor; anything that still escapes is a
  // bug. Log it and keep serving rather than lose every other component's data.
  process.on('uncaughtException', (error) =>
    log.error('Uncaught exception (a bug; please report it).', { error }),
  );
  process.on('unhandledRejection', (error) =>
    log.error('Unhandled rejection (a bug; please report it).', { error }),
  );
  const listen = config.agent.adminListen;
  if (listen !== undefined) {
    const status = new StatusCollector(
      {
        version: agentVersion(),
        startedAt: Date.now() - process.uptime() * 1000,
        ready: () => agent.ready,
        lastReload: () => agent.lastReload,
        components: () => componentStates(agent),
        telemetry: (now) => agent.telemetry(now),
        tap: (listener) => agent.pipeline.tap(listener),
        globalScope: (name) => agent.globalScope(name),
      },
      systemClock,
    );
    const admin = new AdminServer(
      listen,
      {
        ready: () => agent.ready,
        components: () => componentViews(agent),
        tap: (listener) => agent.pipeline.tap(listener),
        tapRaw: (listener) => agent.pipeline.tapRaw(listener),
        reload: () =>
          signalledAt !== undefined
            ? Promise.resolve({ ok: false, problems: ['stopping'] })
            : reloadFromFile('POST /-/reload'),
        status: () => status.status(),
        history: () => status.history(),
      },
      log,
      config.agent.adminWebConfig,
    );
    status.start();
    try {
      await admin.start();
    } catch (error) {
      log.error((error as Error).message);
      process.stdout.write('', () => process.exit(1));
      return;
    }
  }
  try {
    await agent.start();
  } catch (error) {
    if (!(error instanceof StartupError)) throw error;
    log.error(error.message, { failures: error.failures });
    process.stdout.write('', () => process.exit(1));
  }
}

/** Every runner's state, and the sources' last rejected lines, as the status page shows them. */
function componentStates(agent: Agent): ComponentState[] {
  return [
    ...agent.sources.map((r) => ({
      id: r.id,
      kind: 'source' as const,
      type: r.type,
      state: r.state,
      rejections: r.recentRejections(),
    })),
    ...agent.sinks.map((r) => ({ id: r.id, kind: 'sink' as const, type: r.type, state: r.state })),
  ];
}

/** Every runner as the admin API shows it. */
function componentViews(agent: Agent): ComponentView[] {
  const view = (
    kind: 'source' | 'sink',
    r: Agent['sources'][number] | Agent['sinks'][number],
  ): ComponentView => ({
    id: r.id,
    kind,
    type: r.type,
    state: r.state,
    stats: Object.fromEntries(
      r.stats.snapshot().map((st) => {
        const labels = Object.entries(st.labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
        return [labels.length === 0 ? st.name : `${st.name}{${labels.join(',')}}`, st.value];
      }),
    ),
  });
  return [...agent.sources.map((r) => view('source', r)), ...agent.sinks.map((r) => view('sink', r))];
}
