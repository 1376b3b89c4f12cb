// config/verify-pin.ts: `verify` and `pin` flags -> a frozen VerifyConfig or PinConfig.
// verify checks a chain file offline; pin reads the keys in files (--hpkp: as a Public-Key-Pins
// header) or, with --connect, takes every connect option and pins the server's validated chain.
import type { LaunchFacts, PinConfig, VerifyConfig } from '../config.ts';
import { dnsReference, type ReferenceId } from '../trust/names.ts';
import { connectConfig } from './connect.ts';
import { asUsage, connectFlags, trustFlags, usage, type Flags } from './flags.ts';
import { trustPolicy } from './trust.ts';

export function verifyConfig(args: string[], flags: Flags): VerifyConfig {
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

export function pinConfig(args: string[], flags: Flags, facts: LaunchFacts): PinConfig {
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
