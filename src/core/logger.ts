/**
 * Structured logs: one JSON object per line on stderr (stdout belongs to the console sink).
 * Messages are sentences; context goes in fields; an error is logged under the key `error`.
 */
import { redactSecrets } from './secrets.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose lines all carry `bindings` (for example `{ component: 'statsd' }`). */
  child(bindings: LogFields): Logger;
  isEnabled(level: LogLevel): boolean;
}

export type LogWrite = (line: string) => void;

const defaultWrite: LogWrite = (line) => {
  process.stderr.write(line);
};

function errorToJson(e: unknown): unknown {
  if (e instanceof Error) {
    const out: Record<string, unknown> = { message: e.message, name: e.name };
    const code = (e as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    if (e.stack !== undefined) out.stack = e.stack;
    return out;
  }
  return e;
}

export function createLogger(
  options: { level?: LogLevel; write?: LogWrite; clock?: () => number } = {},
): Logger {
  const threshold = RANK[options.level ?? 'info'];
  const write = options.write ?? defaultWrite;
  const now = options.clock ?? Date.now;
  // Bindings are serialised once per child, not per line (pino's trick).
  const make = (bound: string): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
      if (RANK[level] < threshold) return;
      let line = `{"time":"${new Date(now()).toISOString()}","level":"${level}"${bound},"msg":${JSON.stringify(msg)}`;
      if (fields !== undefined) {
        for (const key of Object.keys(fields)) {
          const value = key === 'error' ? errorToJson(fields[key]) : fields[key];
          line += `,${JSON.stringify(key)}:${safeStringify(value)}`;
        }
      }
      write(redactSecrets(line + '}\n'));
    };
    return {
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      isEnabled: (level) => RANK[level] >= threshold,
      child: (bindings) => {
        let extra = bound;
        for (const key of Object.keys(bindings))
          extra += `,${JSON.stringify(key)}:${safeStringify(bindings[key])}`;
        return make(extra);
      },
    };
  };
  return make('');
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return JSON.stringify(String(value));
  }
}

/** A logger that drops everything, for tests and tools that must print nothing. */
export const silentLogger: Logger = createLogger({ level: 'silent', write: () => {} });
