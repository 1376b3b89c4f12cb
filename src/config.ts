// config.ts: argv -> a frozen, validated Command. The only module that imports yargs-parser.
// Every error says what was expected, what came, and for which flag (STYLE habit 4).
import parser from 'yargs-parser';
import { TlsifyError } from './codes.ts';
import { parseTlsa } from './trust/dane.ts';
import { dnsReference, srvReference, uriReference, type ReferenceId } from './trust/names.ts';
import { parsePins } from './trust/pins.ts';
import type { CaSet, Pin, TrustPolicy } from './trust/policy.ts';
import { parseCaSet } from './trust/store.ts';
import { checkSecretSpec } from './secret.ts';
import { parseResumeMode, type ResumeMode } from './tls/sessions.ts';
import { DEFAULT_MAX_AGE_CAP } from './pinstore/hpkp.ts';
import { parseStoreSpec, STORE_FORMS, type StoreSpec } from './pinstore/location.ts';

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export interface ConnectConfig {
  readonly host: string;
  /** Undefined only with --net-fd, where HOST[:PORT] just names the peer. */
  readonly port: number | undefined;
  /** SNI to send; undefined for IP identities (RFC 6066 §3: SNI cannot carry an address). */
  readonly sni: string | undefined;
  readonly policy: TrustPolicy;
  readonly alpn: readonly string[];
  readonly minTls: 'TLSv1.2' | 'TLSv1.3';
  readonly connectTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  /** Where stored pins come from and go to (protocol/pin-store.md §2). */
  readonly pinStore: StoreSpec;
  /** Trust on first use: off (default; stored pins are still enforced), learn, strict. */
  readonly tofu: 'off' | 'learn' | 'strict';
  /** TACKs (tackpy PEM files) and break signatures for this peer, obtained out of band. */
  readonly tackFiles: readonly string[];
  readonly tackBreakFiles: readonly string[];
  /** Let TACK pins be learned and activated (draft-perrin-tls-tack-00 §5.3). */
  readonly tackActivate: boolean;
  /** Seconds: a noted HPKP max-age is capped to this (RFC 7469 §2.3.3). */
  readonly hpkpMaxAge: number;
  /** --hold: wait this long for the parent's accept/reject after tlsify's own checks pass. */
  readonly holdMs: number | undefined;
  readonly netFd: number | undefined;
  readonly controlFd: number | undefined;
  readonly closeOnEof: boolean;
  readonly logLevel: LogLevel;
  /** --cert/--key pairs, --pkcs12, --pass, as given: tls/identity.ts reads them (issue 5). */
  readonly identity: { readonly certs: readonly string[]; readonly keys: readonly string[]; readonly pkcs12: readonly string[]; readonly passes: readonly string[] };
  readonly resume: ResumeMode;
  /** --resume-from env:VAR|fd:N|file:PATH: a blob from an earlier run (--resume caller only). */
  readonly resumeFrom: string | undefined;
  readonly keylog: string | undefined;
  /** The launcher's view of open fds, for fd:N secrets (facts §5.7). */
  readonly openFds: ReadonlySet<number> | undefined;
}

export interface VerifyConfig {
  readonly chainFile: string;
  readonly policy: TrustPolicy;
  readonly at: Date | undefined;
  readonly logLevel: LogLevel;
}

export interface ServerCredential {
  readonly cert: string;
  readonly key: string;
}

export interface AcceptConfig {
  /** The accepted socket: fd N, or undefined for fds 0 and 1 (inetd/UCSPI style). */
  readonly netFd: number | undefined;
  /** `-- PROGRAM ARGS...`: run it with plaintext pipes; else plaintext is stdin/stdout (with --net-fd). */
  readonly program: readonly string[] | undefined;
  /** --cert/--key pairs, in order (e.g. one RSA and one ECDSA). */
  readonly credentials: readonly ServerCredential[];
  readonly pkcs12: readonly string[];
  /** Where the key passphrase comes from: env:VAR, fd:N or file:PATH, never argv. */
  readonly pass: string | undefined;
  /** --sni NAME=CERT,KEY: certificates chosen by the client's SNI. */
  readonly sni: readonly { readonly name: string; readonly cert: string; readonly key: string }[];
  readonly alpn: readonly string[];
  readonly minTls: 'TLSv1.2' | 'TLSv1.3';
  readonly ocspStaple: string | undefined;
  readonly clientAuth: 'none' | 'optional' | 'require';
  /** How client certificates are verified (purpose clientAuth; references from --client-name/--client-uri-id). */
  readonly clientPolicy: TrustPolicy;
  /** --tickets file:KEYFILE: stateless tickets with a 48-byte key shared across processes. */
  readonly ticketKeyFile: string | undefined;
  readonly handshakeTimeoutMs: number;
  readonly controlFd: number | undefined;
  readonly closeOnEof: boolean;
  readonly logLevel: LogLevel;
}

export type PinConfig =
  | { readonly mode: 'files'; readonly files: readonly string[]; readonly hpkp: boolean; readonly backup: readonly string[]; readonly maxAge: number; readonly includeSubDomains: boolean }
  | { readonly mode: 'connect'; readonly connect: ConnectConfig };

export type Topic = 'main' | 'connect' | 'accept' | 'verify' | 'pin' | 'demo';

export type Command =
  | { readonly kind: 'help'; readonly topic: Topic }
  | { readonly kind: 'version' }
  | { readonly kind: 'demo'; readonly logLevel: LogLevel }
  | { readonly kind: 'connect'; readonly config: ConnectConfig }
  | { readonly kind: 'accept'; readonly config: AcceptConfig }
  | { readonly kind: 'verify'; readonly config: VerifyConfig }
  | { readonly kind: 'pin'; readonly config: PinConfig };

/** What the launcher (bin/tlsify) saw before Node started: which inherited fds were open. */
export interface LaunchFacts {
  /** Undefined when tlsify was started without the launcher: then no fd is assumed open. */
  readonly openFds: ReadonlySet<number> | undefined;
}

const trustFlags = ['ca', 'ca-set', 'pin', 'tlsa', 'crl', 'ocsp', 'srv-id', 'uri-id', 'pin-only', 'pin-report-only'] as const;
const connectFlags = ['servername', 'alpn', 'min-tls', 'connect-timeout', 'handshake-timeout', 'net-fd', 'control-fd', 'close-on-eof', 'hold', 'hold-timeout', 'pin-store', 'tofu', 'hpkp-max-age', 'tack', 'tack-break', 'tack-activate', 'cert', 'key', 'pkcs12', 'pass', 'resume', 'resume-from', 'keylog'] as const;

/** Which flags each command takes; anything else is a usage error, not a silent no-op. */
const serverFlags = ['cert', 'key', 'pkcs12', 'pass', 'sni', 'ocsp-staple', 'client-auth', 'client-name', 'client-uri-id', 'tickets'] as const;

const commandFlags: Record<(typeof commands)[number], readonly string[]> = {
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

function usage(message: string): TlsifyError {
  return new TlsifyError('usage', message);
}

const commands = ['connect', 'accept', 'verify', 'pin', 'demo'] as const;
const commandList = commands.join(', ');

/** A timeout option's value: seconds above 0 and at most a day, as whole milliseconds. */
export function secondsToMs(flag: string, v: string): number {
  if (!/^\d+(\.\d+)?$/.test(v) || Number(v) <= 0 || Number(v) > 86400) {
    throw usage(`${flag}: expected seconds, a number above 0 and at most 86400, got '${v}'`);
  }
  return Math.ceil(Number(v) * 1000);
}

/** Parse argv (without node and script). Throws TlsifyError('usage') on anything off. */
export function parseArgs(argv: readonly string[], facts: LaunchFacts): Command {
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

  const flags = new Flags(parsed);
  const [command, ...args] = positional;
  if (flags.bool('version')) return { kind: 'version' };
  if (command === undefined) {
    if (flags.bool('help')) return { kind: 'help', topic: 'main' };
    throw usage(`expected a command (${commandList}), got nothing; try 'tlsify --help'`);
  }
  if (command === 'help') {
    const topic = (commands as readonly string[]).includes(args[0] ?? '') ? (args[0] as Topic) : 'main';
    return { kind: 'help', topic };
  }
  if (!(commands as readonly string[]).includes(command)) {
    throw usage(`expected a command (${commandList}), got '${command}'`);
  }
  const name = command as (typeof commands)[number];
  if (flags.bool('help')) return { kind: 'help', topic: name };
  flags.allowOnly(commandFlags[name], name);
  if (rest.length > 0 && name !== 'accept') throw usage(`unexpected arguments after '--': ${rest.join(' ')} (only 'accept' runs a program)`);
  switch (name) {
    case 'accept':
      return { kind: 'accept', config: acceptConfig(args, rest, flags, facts) };
    case 'connect':
      return { kind: 'connect', config: connectConfig(args, flags, facts) };
    case 'verify':
      return { kind: 'verify', config: verifyConfig(args, flags) };
    case 'pin':
      return { kind: 'pin', config: pinConfig(args, flags, facts) };
    case 'demo':
      if (args.length > 0) throw usage(`demo takes no arguments, got '${args.join(' ')}'`);
      return { kind: 'demo', logLevel: flags.logLevel() };
  }
}

/** Typed access to the parsed flags; each getter validates its own value. */
class Flags {
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

/** Run a parser from another module and turn its error into a usage error for `flag`. */
function asUsage<T>(flag: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof TlsifyError) throw err;
    if (err instanceof Error && err.name !== 'TypeError' && err.name !== 'RangeError') throw usage(`${flag}: ${err.message}`);
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

/**
 * The trust options shared by connect, verify and pin. `primary` is the DNS-ID or IP-ID from
 * HOST/--servername (or --host/--ip); --srv-id and --uri-id add reference identifiers.
 */
function trustPolicy(flags: Flags, primary: ReferenceId[]): TrustPolicy {
  const caSets = [
    ...flags.list('ca', 'a PEM file of trusted certificates').map((path): CaSet => ({ kind: 'file', path })),
    ...flags.list('ca-set', 'a CA set').map((text) => parseCaSet(text)),
  ];
  const pins = dedupe(flags.list('pin', 'one or more pins').flatMap((text) => asUsage('--pin', () => parsePins(text, '--pin'))));
  const tlsa = flags.list('tlsa', "a TLSA record 'U S M HEX'").map((text) => asUsage('--tlsa', () => parseTlsa(text)));
  const pinOnly = flags.bool('pin-only');
  const reportOnly = flags.bool('pin-report-only');
  if (pinOnly && reportOnly) throw usage('--pin-only and --pin-report-only exclude each other: pins either authenticate or only report');
  if ((pinOnly || reportOnly) && pins.length === 0) throw usage(`--${pinOnly ? 'pin-only' : 'pin-report-only'} needs at least one --pin`);
  if (pinOnly && (caSets.length > 0 || tlsa.length > 0)) throw usage('--pin-only replaces CA validation: do not combine it with --ca, --ca-set or --tlsa');
  // RFC 7671 §4: usable TLSA records that do not match fail the connection; no fallback to a CA.
  if (tlsa.length > 0 && caSets.length > 0) throw usage('--tlsa authenticates by DANE alone (RFC 7671): do not combine it with --ca or --ca-set');

  // What authenticates: TLSA records alone (DANE-TA/EE are not PKIX); or pins alone with
  // --pin-only; or the CA sets given, the system store by default.
  const sets: CaSet[] = caSets.length > 0 ? caSets : tlsa.length > 0 || pinOnly ? [{ kind: 'none' }] : [{ kind: 'system' }];
  const none = sets.some((set) => set.kind === 'none');
  if (none && sets.length > 1) throw usage("--ca-set none cannot be combined with another CA set");
  if (none && tlsa.length === 0 && !pinOnly) {
    throw usage('--ca-set none trusts no CA: give --tlsa records, or pins with --pin-only, to authenticate the peer');
  }

  const srv = flags.list('srv-id', 'an SRV-ID like _xmpp-client.example.com').map((id) => asUsage('--srv-id', () => srvReference(id)));
  const uri = flags.list('uri-id', 'a URI-ID like sip:example.com').map((id) => asUsage('--uri-id', () => uriReference(id)));
  const ocsp = flags.string('ocsp', 'off, check or require') ?? 'off';
  if (ocsp !== 'off' && ocsp !== 'check' && ocsp !== 'require') throw usage(`--ocsp: expected off, check or require, got '${ocsp}'`);
  return Object.freeze({
    purpose: 'serverAuth' as const,
    caSets: Object.freeze(sets),
    references: Object.freeze([...primary, ...srv, ...uri]),
    pins: Object.freeze(pins),
    pinMode: pinOnly ? 'pin-only' : reportOnly ? 'report-only' : 'enforce',
    tlsa: Object.freeze(tlsa),
    crlFiles: Object.freeze(flags.list('crl', 'a file of CRLs')),
    ocsp,
  });
}

function dedupe(pins: Pin[]): Pin[] {
  return pins.filter((pin, i) => pins.findIndex((p) => p.text === pin.text) === i);
}

function connectConfig(args: string[], flags: Flags, facts: LaunchFacts): ConnectConfig {
  const netFd = flags.fd('net-fd');
  if (netFd === 'none') throw usage("--net-fd: expected a descriptor number, got 'none'");
  if (args.length !== 1) {
    throw usage(`connect: expected one HOST:PORT, got ${args.length === 0 ? 'none' : `'${args.join(' ')}'`}`);
  }
  const { host, port } = parseTarget(args[0]!, netFd !== undefined);
  const servername = flags.string('servername', 'a host name or IP address');
  const ref = servername !== undefined ? asUsage('--servername', () => dnsReference(servername)) : asUsage('HOST', () => dnsReference(host));

  // fd 3 is the control channel by default, unless --net-fd already claims it.
  const controlFlag = flags.fd('control-fd');
  const controlFd = controlFlag === undefined && netFd === 3 ? undefined : resolveControlFd(controlFlag, facts);
  if (netFd !== undefined) requireOpen(netFd, '--net-fd', facts);
  if (netFd !== undefined && netFd === controlFd) throw usage(`--net-fd and --control-fd name the same fd ${netFd}`);
  const hold = flags.bool('hold');
  if (!hold && flags.given('hold-timeout')) throw usage('--hold-timeout goes with --hold');
  if (hold && controlFd === undefined) throw usage('--hold waits for accept or reject on the control channel, but there is none (pass fd 3, or --control-fd N)');
  const certs = flags.list('cert', 'a certificate file (PEM or DER, leaf first)');
  const keys = flags.list('key', 'a private key file, or fd:N');
  if (certs.length !== keys.length) throw usage(`--cert and --key come in pairs: got ${certs.length} --cert and ${keys.length} --key`);
  const pass = flags.string('pass', 'env:VAR, fd:N or file:PATH');
  const resume = asUsage('--resume', () => parseResumeMode(flags.string('resume', 'off, caller or file:PATH') ?? 'off'));
  const resumeFrom = flags.string('resume-from', 'env:VAR, fd:N or file:PATH');
  if (resumeFrom !== undefined && resume.kind !== 'caller') throw usage('--resume-from goes with --resume caller');
  for (const [flag, spec] of [['--pass', pass], ['--resume-from', resumeFrom]] as const) if (spec !== undefined) checkSecretSpec(spec, flag);

  const store = flags.string('pin-store', STORE_FORMS);
  const pinStore = store === undefined ? ({ kind: 'default' } as const) : parseStoreSpec(store);
  const tofu = flags.string('tofu', 'off, learn or strict') ?? 'off';
  if (tofu !== 'off' && tofu !== 'learn' && tofu !== 'strict') throw usage(`--tofu: expected off, learn or strict, got '${tofu}'`);
  if (tofu !== 'off' && pinStore.kind === 'none') throw usage(`--tofu ${tofu} keeps pins in the pin store, but --pin-store is none`);
  if (flags.bool('tack-activate') && !flags.given('tack')) throw usage('--tack-activate goes with --tack FILE');
  if (flags.bool('tack-activate') && pinStore.kind === 'none') throw usage('--tack-activate keeps TACK pins in the pin store, but --pin-store is none');
  const maxAgeText = flags.string('hpkp-max-age', 'whole seconds') ?? String(DEFAULT_MAX_AGE_CAP);
  if (!/^\d{1,10}$/.test(maxAgeText) || Number(maxAgeText) < 1) throw usage(`--hpkp-max-age: expected whole seconds of 1 or more, got '${maxAgeText}'`);

  return Object.freeze({
    host,
    port,
    sni: ref.type === 'dns' ? ref.name : undefined,
    pinStore,
    tofu,
    tackFiles: Object.freeze(flags.list('tack', 'a TACK file')),
    tackBreakFiles: Object.freeze(flags.list('tack-break', 'a file of TACK break signatures')),
    tackActivate: flags.bool('tack-activate'),
    hpkpMaxAge: Number(maxAgeText),
    policy: trustPolicy(flags, [ref]),
    alpn: Object.freeze(alpnList(flags)),
    minTls: minTls(flags),
    connectTimeoutMs: flags.seconds('connect-timeout', 10),
    handshakeTimeoutMs: flags.seconds('handshake-timeout', 10),
    holdMs: hold ? flags.seconds('hold-timeout', 30) : undefined,
    netFd,
    controlFd,
    closeOnEof: flags.bool('close-on-eof'),
    logLevel: flags.logLevel(),
    identity: Object.freeze({ certs: Object.freeze(certs), keys: Object.freeze(keys), pkcs12: Object.freeze(flags.list('pkcs12', 'a PKCS#12 file, or fd:N')), passes: Object.freeze(pass === undefined ? [] : [pass]) }),
    resume,
    resumeFrom,
    keylog: flags.string('keylog', 'a file to append NSS key log lines to'),
    openFds: facts.openFds,
  });
}

function acceptConfig(args: string[], program: string[], flags: Flags, facts: LaunchFacts): AcceptConfig {
  if (args.length > 0) throw usage(`accept takes no arguments before '--', got '${args.join(' ')}'`);
  const netFd = flags.fd('net-fd');
  if (netFd === 'none') throw usage("--net-fd: expected a descriptor number, got 'none'");
  if (netFd !== undefined) requireOpen(netFd, '--net-fd', facts);
  if (program.length === 0 && netFd === undefined) {
    throw usage('accept: with the network on fds 0 and 1 (inetd style), plaintext needs a program: accept [options] -- PROGRAM ARGS...; or give --net-fd N to use stdin/stdout');
  }
  const certs = flags.list('cert', 'a PEM certificate file (leaf first, chain after)');
  const keys = flags.list('key', 'a PEM private key file');
  if (certs.length !== keys.length) throw usage(`--cert and --key come in pairs: got ${certs.length} --cert and ${keys.length} --key`);
  const pkcs12 = flags.list('pkcs12', 'a PKCS#12 file');
  if (certs.length + pkcs12.length === 0) throw usage('accept: expected a server certificate: --cert FILE --key FILE, or --pkcs12 FILE');
  const sni = flags.list('sni', 'NAME=CERT,KEY').map((spec) => {
    const m = /^([^=]+)=([^,]+),(.+)$/.exec(spec);
    if (!m) throw usage(`--sni: expected NAME=CERT,KEY, got '${spec}'`);
    const ref = asUsage('--sni', () => dnsReference(m[1]!.replace(/^\*\./, 'wildcard.')));
    if (ref.type !== 'dns') throw usage(`--sni: SNI names are host names, got '${m[1]}'`);
    return { name: m[1]!.toLowerCase(), cert: m[2]!, key: m[3]! };
  });
  const clientAuth = flags.string('client-auth', 'none, optional or require') ?? 'none';
  if (clientAuth !== 'none' && clientAuth !== 'optional' && clientAuth !== 'require') {
    throw usage(`--client-auth: expected none, optional or require, got '${clientAuth}'`);
  }
  if (clientAuth === 'none') {
    for (const name of [...trustFlags, 'client-name', 'client-uri-id']) {
      if (flags.given(name)) throw usage(`--${name} verifies client certificates: it goes with --client-auth optional|require`);
    }
  }
  const names = flags.list('client-name', 'a DNS name or IP address').map((n) => asUsage('--client-name', () => dnsReference(n)));
  const uris = flags.list('client-uri-id', 'a URI-ID like spiffe://example.org/x').map((u) => asUsage('--client-uri-id', () => uriReference(u)));
  const tickets = flags.string('tickets', 'file:KEYFILE');
  if (tickets !== undefined && !tickets.startsWith('file:')) throw usage(`--tickets: expected file:KEYFILE, got '${tickets}'`);
  // A resumed session keeps only the client's leaf: its path could not be validated again.
  if (tickets !== undefined && clientAuth !== 'none') throw usage('--tickets cannot be combined with --client-auth: a resumed session carries no client chain to verify again');
  if (flags.given('ocsp')) throw usage('--ocsp checks a staple from a server; TLS clients do not staple, so it does not apply to accept');
  if (flags.given('ocsp-staple') && (certs.length !== 1 || pkcs12.length > 0)) {
    throw usage(`--ocsp-staple goes with exactly one --cert/--key pair (node:tls staples for the last certificate loaded), got ${certs.length} pairs and ${pkcs12.length} --pkcs12`);
  }
  const pass = flags.string('pass', 'env:VAR, fd:N or file:PATH');
  if (pass !== undefined && !/^(env|fd|file):./.test(pass)) {
    throw usage(`--pass: expected env:VAR, fd:N or file:PATH, got '${pass.replace(/./g, '*')}': a passphrase on the command line is visible to every user (ps, /proc)`);
  }
  const controlFlag = flags.fd('control-fd');
  const controlFd = controlFlag === undefined && netFd === 3 ? undefined : resolveControlFd(controlFlag, facts);
  return Object.freeze({
    netFd,
    program: program.length > 0 ? Object.freeze([...program]) : undefined,
    credentials: Object.freeze(certs.map((cert, i) => ({ cert, key: keys[i]! }))),
    pkcs12: Object.freeze(pkcs12),
    pass,
    sni: Object.freeze(sni),
    alpn: Object.freeze(alpnList(flags)),
    minTls: minTls(flags),
    ocspStaple: flags.string('ocsp-staple', 'a DER OCSP response file'),
    clientAuth,
    clientPolicy: { ...trustPolicy(flags, [...names, ...uris]), purpose: 'clientAuth' as const },
    ticketKeyFile: tickets?.slice('file:'.length),
    handshakeTimeoutMs: flags.seconds('handshake-timeout', 10),
    controlFd,
    closeOnEof: flags.bool('close-on-eof'),
    logLevel: flags.logLevel(),
  });
}

function verifyConfig(args: string[], flags: Flags): VerifyConfig {
  if (args.length > 0) throw usage(`verify takes no arguments, got '${args.join(' ')}' (use --chain FILE)`);
  const chainFile = flags.string('chain', 'a PEM file with the chain, leaf first');
  if (chainFile === undefined) throw usage('verify: expected --chain FILE (PEM, leaf first)');
  const host = flags.string('host', 'a host name');
  const ip = flags.string('ip', 'an IP address');
  if (host !== undefined && ip !== undefined) throw usage('verify: give --host or --ip, not both');
  const primary = host !== undefined ? [asUsage('--host', () => dnsReference(host))] : ip !== undefined ? [ipReference(ip)] : [];
  if (primary.length === 0 && !flags.given('srv-id') && !flags.given('uri-id')) {
    throw usage('verify: expected an identity to check: --host NAME, --ip ADDR, --srv-id or --uri-id');
  }
  return Object.freeze({ chainFile, policy: trustPolicy(flags, primary), at: atTime(flags), logLevel: flags.logLevel() });
}

function ipReference(ip: string): ReferenceId {
  const ref = asUsage('--ip', () => dnsReference(ip));
  if (ref.type !== 'ip') throw usage(`--ip: expected an IPv4 or IPv6 address, got '${ip}'`);
  return ref;
}

function atTime(flags: Flags): Date | undefined {
  const v = flags.string('at', 'an ISO 8601 time like 2027-03-01T00:00:00Z');
  if (v === undefined) return undefined;
  // ISO 8601 with a date and, if there is a time, an explicit zone: no guessing of local time.
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(v) || Number.isNaN(Date.parse(v))) {
    throw usage(`--at: expected an ISO 8601 time like 2027-03-01 or 2027-03-01T12:00:00Z, got '${v}'`);
  }
  return new Date(v);
}

function pinConfig(args: string[], flags: Flags, facts: LaunchFacts): PinConfig {
  const target = flags.string('connect', 'HOST:PORT');
  if (target !== undefined) {
    if (args.length > 0) throw usage(`pin --connect takes no files, got '${args.join(' ')}'`);
    if (flags.bool('hpkp')) throw usage('--hpkp goes with pin FILE, not --connect');
    return { mode: 'connect', connect: connectConfig([target], flags, facts) };
  }
  for (const name of [...trustFlags, ...connectFlags]) {
    if (flags.given(name)) throw usage(`--${name} applies to 'pin --connect' only`);
  }
  const hpkp = flags.bool('hpkp');
  const backup = flags.list('backup', 'a file with a backup key or certificate');
  if (!hpkp && (backup.length > 0 || flags.given('max-age') || flags.given('include-subdomains'))) {
    throw usage('--backup, --max-age and --include-subdomains go with --hpkp');
  }
  const maxAgeText = flags.string('max-age', 'seconds') ?? '5184000';
  if (!/^\d{1,10}$/.test(maxAgeText)) throw usage(`--max-age: expected whole seconds, got '${maxAgeText}'`);
  return Object.freeze({
    mode: 'files' as const,
    files: Object.freeze(args.length > 0 ? args : ['-']),
    hpkp,
    backup: Object.freeze(backup),
    maxAge: Number(maxAgeText),
    includeSubDomains: flags.bool('include-subdomains'),
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
