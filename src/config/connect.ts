// config/connect.ts: `connect` flags -> a frozen ConnectConfig: the peer, its identity and trust
// policy, the fds, the pin store and TOFU, TACKs, client credentials, and session resumption.
import type { ConnectConfig, LaunchFacts } from '../config.ts';
import { DEFAULT_MAX_AGE_CAP } from '../pinstore/hpkp.ts';
import { parseStoreSpec, STORE_FORMS } from '../pinstore/location.ts';
import { checkSecretSpec } from '../secret.ts';
import { parseResumeMode } from '../tls/sessions.ts';
import { dnsReference } from '../trust/names.ts';
import { alpnList, minTls, requireOpen, resolveControlFd } from './endpoint.ts';
import { asUsage, usage, type Flags } from './flags.ts';
import { trustPolicy } from './trust.ts';

export function connectConfig(args: string[], flags: Flags, facts: LaunchFacts): ConnectConfig {
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
  if (hold && controlFd === undefined && !facts.controlInBand) throw usage('--hold waits for accept or reject on the control channel, but there is none (pass fd 3, or --control-fd N)');
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
