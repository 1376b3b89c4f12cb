// log.ts: pino to fd 2, JSON lines. The only module that imports pino, and only on the first
// message at an enabled level: the default level (warn) costs no module load on a clean run.
import type { Logger } from 'pino';
import type { LogLevel } from './config.ts';

export type Fields = Record<string, unknown>;

export interface Log {
  error(fields: Fields, msg: string): void;
  warn(fields: Fields, msg: string): void;
  info(fields: Fields, msg: string): void;
  debug(fields: Fields, msg: string): void;
}

const rank: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

// Field names that could ever carry key material; pino replaces their values.
const redact = ['key', 'passphrase', 'session', 'ticket', 'secret', 'blob', '*.key', '*.passphrase', '*.session', '*.ticket', '*.secret', '*.blob'];

export function createLog(level: LogLevel): Log {
  let logger: Logger | undefined;
  const get = (): Logger => {
    if (logger) return logger;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pino = require('pino') as typeof import('pino');
    logger = pino.default(
      { level, base: { pid: process.pid, name: 'tlsify' }, redact: { paths: redact, censor: '[redacted]' } },
      pino.destination({ fd: 2, sync: true }),
    );
    return logger;
  };
  const at = (l: LogLevel) => (fields: Fields, msg: string): void => {
    if (rank[l] >= rank[level]) get()[l as 'info'](fields, msg);
  };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}
