// config/flags.ts: the flag reader: which flags exist and which command takes which, argv -> Flags.
// The only module that imports yargs-parser. Every error says what was expected, what came,
// and for which flag (STYLE habit 4).
import parser from 'yargs-parser';
import { TlsifyError } from '../codes.ts';

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export const commands = ['connect', 'accept', 'verify', 'pin', 'demo'] as const;
export type CommandName = (typeof commands)[number];

export const trustFlags = ['ca', 'ca-set', 'pin', 'tlsa', 'crl', 'ocsp', 'srv-id', 'uri-id', 'pin-only', 'pin-report-only'] as const;
export const connectFlags = ['servername', 'alpn', 'min-tls', 'connect-timeout', 'handshake-timeout', 'net-fd', 'control-fd', 'close-on-eof', 'hold', 'hold-timeout', 'pin-store', 'tofu', 'hpkp-max-age', 'tack', 'tack-break', 'tack-activate', 'cert', 'key', 'pkcs12', 'pass', 'resume', 'resume-from', 'keylog'] as const;

const serverFlags = ['cert', 'key', 'pkcs12', 'pass', 'sni', 'ocsp-staple', 'client-auth', 'client-name', 'client-uri-id', 'tickets'] as const;

/** Which flags each command takes; anything else is a usage error, not a silent no-op. */
export const commandFlags: Record<CommandName, readonly string[]> = {
  accept: [...trustFlags, ...serverFlags, 'alpn', 'min-tls', 'handshake-timeout', 'net-fd', 'control-fd', 'close-on-eof', 'log-level'],
  connect: [...trustFlags, ...connectFlags, 'log-level'],
  verify: [...trustFlags, 'chain', 'host', 'ip', 'at', 'log-level'],
  pin: [...trustFlags, ...connectFlags, 'connect', 'hpkp', 'backup', 'max-age', 'include-subdomains', 'log-level'],
  demo: ['log-level'],
};

const stringFlags = ['pin-store', 'tofu', 'hpkp-max-age', 'pass', 'ocsp-staple', 'client-auth', 'tickets', 'servername', 'alpn', 'min-tls', 'connect-timeout', 'handshake-timeout', 'net-fd', 'control-fd', 'log-level', 'ocsp', 'hold-timeout', 'chain', 'host', 'ip', 'at', 'connect', 'max-age', 'resume', 'resume-from', 'keylog'] as const;
/** Flags that may be given more than once; each value may itself be a list where noted. */
const arrayFlags = ['ca', 'ca-set', 'pin', 'tlsa', 'crl', 'srv-id', 'uri-id', 'backup', 'cert', 'key', 'pkcs12', 'sni', 'client-name', 'client-uri-id', 'tack', 'tack-break'] as const;
const booleanFlags = ['help', 'version', 'close-on-eof', 'pin-only', 'pin-report-only', 'hold', 'hpkp', 'include-subdomains', 'tack-activate'] as const;

const parserConfig: Partial<parser.Configuration> = {
  'unknown-options-as-args': true,
  'camel-case-expansion': false,
  'dot-notation': false,
  'parse-numbers': false,
  'parse-positional-numbers': false,
  'boolean-negation': false,
  'duplicate-arguments-array': true,
  'flatten-duplicate-arrays': true,
  'greedy-arrays': false,
  'short-option-groups': false,
  'strip-aliased': true,
  'populate--': true,
};

export function usage(message: string): TlsifyError {
  return new TlsifyError('usage', message);
}

/** Run a parser from another module and turn its error into a usage error for `flag`. */
export function asUsage<T>(flag: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof TlsifyError) throw err;
    if (err instanceof Error && err.name !== 'TypeError' && err.name !== 'RangeError') throw usage(`${flag}: ${err.message}`);
    throw err;
  }
}

/** A timeout option's value: seconds above 0 and at most a day, as whole milliseconds. */
function secondsToMs(flag: string, v: string): number {
  if (!/^\d+(\.\d+)?$/.test(v) || Number(v) <= 0 || Number(v) > 86400) {
    throw usage(`${flag}: expected seconds, a number above 0 and at most 86400, got '${v}'`);
  }
  return Math.ceil(Number(v) * 1000);
}

/** argv (without node and script) -> the positional words, the words after `--`, and the flags. */
export function readArgv(argv: readonly string[]): { positional: string[]; rest: string[]; flags: Flags } {
  const booleanValue = new RegExp(`^--(${booleanFlags.join('|')})=`);
  const given = argv.find((a) => booleanValue.test(a));
  if (given !== undefined) throw usage(`--${given.slice(2, given.indexOf('='))} takes no value, got '${given}'`);
  const parsed = parser([...argv], {
    string: [...stringFlags, ...arrayFlags],
    boolean: [...booleanFlags],
    alias: { help: ['h'], version: ['V'] },
    configuration: parserConfig,
  });
  const positional = parsed._.map(String);
  const unknown = positional.find((a) => a.startsWith('-') && a !== '-');
  if (unknown !== undefined) {
    throw usage(`unknown option '${unknown}' (see 'tlsify --help' for the options)`);
  }
  const rest = (parsed['--'] as string[] | undefined) ?? [];
  return { positional, rest, flags: new Flags(parsed) };
}

/** Typed access to the parsed flags; each getter validates its own value. */
export class Flags {
  constructor(private readonly parsed: parser.Arguments) {}

  given(name: string): boolean {
    const v = this.parsed[name];
    return v !== undefined && v !== false && !(Array.isArray(v) && v.length === 0);
  }

  bool(name: (typeof booleanFlags)[number]): boolean {
    const v = this.parsed[name];
    return Array.isArray(v) ? v.some(Boolean) : v === true;
  }

  string(name: (typeof stringFlags)[number], what: string): string | undefined {
    const v = this.parsed[name];
    if (v === undefined) return undefined;
    if (Array.isArray(v)) throw usage(`--${name} given ${v.length} times; expected it once`);
    const s = String(v);
    if (s === '') throw usage(`--${name}: expected ${what}, got nothing`);
    return s;
  }

  /** Every value of a repeatable flag, in order. */
  list(name: (typeof arrayFlags)[number], what: string): string[] {
    const v = this.parsed[name];
    if (v === undefined) return [];
    const values = (Array.isArray(v) ? v : [v]).map(String);
    if (values.includes('')) throw usage(`--${name}: expected ${what}, got nothing`);
    return values;
  }

  allowOnly(allowed: readonly string[], command: string): void {
    for (const name of [...stringFlags, ...arrayFlags, ...booleanFlags]) {
      if (name === 'help' || name === 'version') continue;
      if (!allowed.includes(name) && this.given(name)) throw usage(`--${name} does not apply to '${command}'`);
    }
  }

  logLevel(): LogLevel {
    const v = this.string('log-level', `one of ${logLevels.join('|')}`) ?? 'warn';
    if (!(logLevels as readonly string[]).includes(v)) {
      throw usage(`--log-level: expected one of ${logLevels.join('|')}, got '${v}'`);
    }
    return v as LogLevel;
  }

  seconds(name: 'connect-timeout' | 'handshake-timeout' | 'hold-timeout', fallback: number): number {
    const v = this.string(name, 'a number of seconds');
    return v === undefined ? fallback * 1000 : secondsToMs(`--${name}`, v);
  }

  fd(name: 'net-fd' | 'control-fd'): number | 'none' | undefined {
    const v = this.string(name, 'a file descriptor number');
    if (v === undefined) return undefined;
    if (name === 'control-fd' && v === 'none') return 'none';
    const expected = name === 'control-fd' ? 'a descriptor number of 3 or more, or none' : 'a descriptor number of 3 or more';
    if (!/^\d{1,9}$/.test(v) || Number(v) < 3) throw usage(`--${name}: expected ${expected}, got '${v}'`);
    return Number(v);
  }
}
