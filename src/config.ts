// config.ts: argv -> a frozen, validated Command: the types the commands take, and the dispatch
// to one builder per command in src/config/ (flags.ts is the yargs-parser door).
import { acceptConfig } from './config/accept.ts';
import { connectConfig } from './config/connect.ts';
import { commandFlags, commands, readArgv, usage, type CommandName, type LogLevel } from './config/flags.ts';
import { pinConfig, verifyConfig } from './config/verify-pin.ts';
import type { StoreSpec } from './pinstore/location.ts';
import type { ResumeMode } from './tls/sessions.ts';
import type { TrustPolicy } from './trust/policy.ts';

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
  readonly sni: readonly SniCert[];
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
/** --sni NAME=CERT,KEY: the certificate served to clients that ask for NAME. */
export interface SniCert {
  readonly name: string;
  readonly cert: string;
  readonly key: string;
}

export interface LaunchFacts {
  /** Undefined when tlsify was started without the launcher: then no fd is assumed open. */
  readonly openFds: ReadonlySet<number> | undefined;
  /** A daemon request: commands (--hold's accept/reject) come on the client's own socket, not an fd. */
  readonly controlInBand?: boolean;
}

const commandList = commands.join(', ');

/** Parse argv (without node and script). Throws TlsifyError('usage') on anything off. */
export function parseArgs(argv: readonly string[], facts: LaunchFacts): Command {
  const { positional, rest, flags } = readArgv(argv);
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
  const name = command as CommandName;
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
