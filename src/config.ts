// config.ts: argv -> a frozen, validated Command. The only module that imports yargs-parser.
// Every error says what was expected, what came, and for which flag (STYLE habit 4).
import parser from 'yargs-parser';
import { TlsifyError } from './codes.ts';
import { dnsReference, NameError, type ReferenceId } from './trust/names.ts';

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export type TrustSource = { readonly kind: 'system' } | { readonly kind: 'file'; readonly path: string };

export interface ConnectConfig {
  readonly host: string;
  /** Undefined only with --net-fd, where HOST[:PORT] just names the peer. */
  readonly port: number | undefined;
  /** The identity the certificate must carry (RFC 9525 reference identifier). */
  readonly reference: ReferenceId;
  /** SNI to send; undefined for IP identities (RFC 6066 §3: SNI cannot carry an address). */
  readonly sni: string | undefined;
  readonly trust: TrustSource;
  readonly alpn: readonly string[];
  readonly minTls: 'TLSv1.2' | 'TLSv1.3';
  readonly connectTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly netFd: number | undefined;
  readonly controlFd: number | undefined;
  readonly closeOnEof: boolean;
  readonly logLevel: LogLevel;
}

export type Command =
  | { readonly kind: 'help'; readonly topic: 'main' | 'connect' | 'demo' }
  | { readonly kind: 'version' }
  | { readonly kind: 'demo'; readonly logLevel: LogLevel }
  | { readonly kind: 'connect'; readonly config: ConnectConfig };

/** What the launcher (bin/tlsify) saw before Node started: which inherited fds were open. */
export interface LaunchFacts {
  /** Undefined when tlsify was started without the launcher: then no fd is assumed open. */
  readonly openFds: ReadonlySet<number> | undefined;
}

const stringFlags = ['ca', 'servername', 'alpn', 'min-tls', 'connect-timeout', 'handshake-timeout', 'net-fd', 'control-fd', 'log-level'] as const;
const booleanFlags = ['help', 'version', 'close-on-eof'] as const;

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

function usage(message: string): TlsifyError {
  return new TlsifyError('usage', message);
}

/** Parse argv (without node and script). Throws TlsifyError('usage') on anything off. */
export function parseArgs(argv: readonly string[], facts: LaunchFacts): Command {
  for (const arg of argv) {
    const m = /^--(help|version|close-on-eof)=(.*)$/s.exec(arg);
    if (m) throw usage(`--${m[1]} takes no value, got '${arg}'`);
  }
  const parsed = parser([...argv], {
    string: [...stringFlags],
    boolean: [...booleanFlags],
    alias: { help: ['h'], version: ['V'] },
    configuration: parserConfig,
  });
  const positional = parsed._.map(String);
  const unknown = positional.find((a) => a.startsWith('-') && a !== '-');
  if (unknown !== undefined) {
    throw usage(`unknown option '${unknown}' (see 'tlsify --help' for the options)`);
  }
  const rest = parsed['--'] as string[] | undefined;
  if (rest && rest.length > 0) throw usage(`unexpected arguments after '--': ${rest.join(' ')}`);

  const flags = new Flags(parsed);
  const [command, ...args] = positional;
  if (flags.bool('version')) return { kind: 'version' };
  if (command === undefined) {
    if (flags.bool('help')) return { kind: 'help', topic: 'main' };
    throw usage("expected a command (connect, demo), got nothing; try 'tlsify --help'");
  }
  switch (command) {
    case 'help':
      return { kind: 'help', topic: args[0] === 'connect' || args[0] === 'demo' ? args[0] : 'main' };
    case 'connect':
      if (flags.bool('help')) return { kind: 'help', topic: 'connect' };
      return { kind: 'connect', config: connectConfig(args, flags, facts) };
    case 'demo':
      if (flags.bool('help')) return { kind: 'help', topic: 'demo' };
      flags.allowOnly(['log-level'], 'demo');
      if (args.length > 0) throw usage(`demo takes no arguments, got '${args.join(' ')}'`);
      return { kind: 'demo', logLevel: flags.logLevel() };
    default:
      throw usage(`expected a command (connect, demo), got '${command}'`);
  }
}

/** Typed access to the parsed flags; each getter validates its own value. */
class Flags {
  constructor(private readonly parsed: parser.Arguments) {}

  given(name: string): boolean {
    return this.parsed[name] !== undefined && this.parsed[name] !== false;
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

  allowOnly(allowed: readonly string[], command: string): void {
    for (const name of [...stringFlags, 'close-on-eof']) {
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

  seconds(name: 'connect-timeout' | 'handshake-timeout', fallback: number): number {
    const v = this.string(name, 'a number of seconds');
    if (v === undefined) return fallback * 1000;
    if (!/^\d+(\.\d+)?$/.test(v) || Number(v) <= 0 || Number(v) > 86400) {
      throw usage(`--${name}: expected seconds, a number above 0 and at most 86400, got '${v}'`);
    }
    return Math.ceil(Number(v) * 1000);
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

/** Split HOST:PORT, [IPv6]:PORT; the port is optional only when `portOptional`. */
export function parseTarget(text: string, portOptional: boolean): { host: string; port: number | undefined } {
  const expected = portOptional ? 'HOST[:PORT] or [IPv6][:PORT]' : 'HOST:PORT or [IPv6]:PORT';
  let host: string;
  let portText: string | undefined;
  const bracket = /^\[([^\]]*)\](?::(.*))?$/s.exec(text);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2];
  } else if (text.split(':').length > 2) {
    throw usage(`expected ${expected}, got '${text}' (an IPv6 address needs brackets: [${text}]:443)`);
  } else {
    const colon = text.indexOf(':');
    host = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
  }
  if (host === '') throw usage(`expected ${expected}, got '${text}' (no host)`);
  if (portText === undefined) {
    if (portOptional) return { host, port: undefined };
    throw usage(`expected ${expected}, got '${text}' (no port)`);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    throw usage(`expected a port from 1 to 65535 in '${text}', got '${portText}'`);
  }
  return { host, port: Number(portText) };
}

function reference(name: string, flag: string): ReferenceId {
  try {
    return dnsReference(name);
  } catch (err) {
    if (err instanceof NameError) throw usage(`${flag}: ${err.message}`);
    throw err;
  }
}

function alpnList(flags: Flags): string[] {
  const v = flags.string('alpn', 'a comma-separated list of protocol names, like h2,http/1.1');
  if (v === undefined) return [];
  const list = v.split(',');
  for (const p of list) {
    if (p === '' || Buffer.byteLength(p) > 255 || !/^[\x21-\x7e]+$/.test(p)) {
      throw usage(`--alpn: expected comma-separated protocol names of 1 to 255 printable ASCII bytes, got '${v}'`);
    }
  }
  return list;
}

function minTls(flags: Flags): 'TLSv1.2' | 'TLSv1.3' {
  const v = flags.string('min-tls', '1.2 or 1.3') ?? '1.2';
  if (v === '1.2') return 'TLSv1.2';
  if (v === '1.3') return 'TLSv1.3';
  throw usage(`--min-tls: expected 1.2 or 1.3, got '${v}'`);
}

function connectConfig(args: string[], flags: Flags, facts: LaunchFacts): ConnectConfig {
  const netFd = flags.fd('net-fd');
  if (netFd === 'none') throw usage("--net-fd: expected a descriptor number, got 'none'");
  if (args.length !== 1) {
    throw usage(`connect: expected one HOST:PORT, got ${args.length === 0 ? 'none' : `'${args.join(' ')}'`}`);
  }
  const { host, port } = parseTarget(args[0]!, netFd !== undefined);
  const servername = flags.string('servername', 'a host name or IP address');
  const ref = servername !== undefined ? reference(servername, '--servername') : reference(host, 'HOST');

  // fd 3 is the control channel by default, unless --net-fd already claims it.
  const controlFlag = flags.fd('control-fd');
  const controlFd = controlFlag === undefined && netFd === 3 ? undefined : resolveControlFd(controlFlag, facts);
  if (netFd !== undefined) requireOpen(netFd, '--net-fd', facts);
  if (netFd !== undefined && netFd === controlFd) throw usage(`--net-fd and --control-fd name the same fd ${netFd}`);

  const ca = flags.string('ca', 'a PEM file of trusted certificates');
  return Object.freeze({
    host,
    port,
    reference: ref,
    sni: ref.type === 'dns' ? ref.name : undefined,
    trust: ca === undefined ? { kind: 'system' as const } : { kind: 'file' as const, path: ca },
    alpn: Object.freeze(alpnList(flags)),
    minTls: minTls(flags),
    connectTimeoutMs: flags.seconds('connect-timeout', 10),
    handshakeTimeoutMs: flags.seconds('handshake-timeout', 10),
    netFd,
    controlFd,
    closeOnEof: flags.bool('close-on-eof'),
    logLevel: flags.logLevel(),
  });
}

function requireOpen(fd: number, flag: string, facts: LaunchFacts): void {
  // Node opens its own descriptors at the lowest free numbers before any JavaScript runs, so
  // only the launcher can tell whether the parent passed this fd (facts §5.7).
  if (facts.openFds !== undefined && !facts.openFds.has(fd)) {
    throw usage(`${flag} ${fd}: expected a descriptor the parent passed to tlsify, but fd ${fd} was not open`);
  }
}

function resolveControlFd(flag: number | 'none' | undefined, facts: LaunchFacts): number | undefined {
  if (flag === 'none') return undefined;
  if (flag === undefined) return facts.openFds?.has(3) ? 3 : undefined;
  requireOpen(flag, '--control-fd', facts);
  return flag;
}
