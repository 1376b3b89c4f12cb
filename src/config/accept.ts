// config/accept.ts: `accept` flags -> a frozen AcceptConfig: the server's credentials and SNI
// certificates, client authentication, tickets, the fds, and the program to run.
import type { AcceptConfig, LaunchFacts } from '../config.ts';
import { dnsReference, uriReference } from '../trust/names.ts';
import { alpnList, minTls, requireOpen, resolveControlFd } from './endpoint.ts';
import { asUsage, trustFlags, usage, type Flags } from './flags.ts';
import { trustPolicy } from './trust.ts';

export function acceptConfig(args: string[], program: string[], flags: Flags, facts: LaunchFacts): AcceptConfig {
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
