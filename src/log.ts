// log.ts: pino to fd 2, JSON lines for programs; one plain line per message when fd 2 is a
// terminal, for people. The only module that imports pino, and only on the first message at an
// enabled level: the default level (warn) costs no module load on a clean run.
import fs from 'node:fs';
import tty from 'node:tty';
import type { Logger } from 'pino';
import type { LogLevel } from './config/flags.ts';

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

export function createLog(level: LogLevel, terminal = tty.isatty(2)): Log {
  if (terminal) return plainLog(level);
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

/** `tlsify: error: cannot resolve 'x': ENOTFOUND (code=resolve exit=4)`: no JSON for a person. */
function plainLog(level: LogLevel): Log {
  const at = (l: LogLevel) => (fields: Fields, msg: string): void => {
    if (rank[l] < rank[level]) return;
    const extra = Object.entries(fields)
      .filter(([k, v]) => v !== undefined && k !== 'stack' && !redact.includes(k) && typeof v !== 'object')
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    try {
      fs.writeSync(2, `tlsify: ${l}: ${msg}${extra ? ` (${extra})` : ''}\n`);
    } catch {
      // stderr closed: nothing more to say
    }
  };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}
