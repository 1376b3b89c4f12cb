// config/endpoint.ts: the options both connect and accept take: ALPN, the TLS floor, and which
// inherited fds carry the network and the control channel (facts §5.7).
import type { LaunchFacts } from '../config.ts';
import { usage, type Flags } from './flags.ts';

export function alpnList(flags: Flags): string[] {
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

export function minTls(flags: Flags): 'TLSv1.2' | 'TLSv1.3' {
  const v = flags.string('min-tls', '1.2 or 1.3') ?? '1.2';
  if (v === '1.2') return 'TLSv1.2';
  if (v === '1.3') return 'TLSv1.3';
  throw usage(`--min-tls: expected 1.2 or 1.3, got '${v}'`);
}

export function requireOpen(fd: number, flag: string, facts: LaunchFacts): void {
  // Node opens its own descriptors at the lowest free numbers before any JavaScript runs, so
  // only the launcher can tell whether the parent passed this fd (facts §5.7).
  if (facts.openFds !== undefined && !facts.openFds.has(fd)) {
    throw usage(`${flag} ${fd}: expected a descriptor the parent passed to tlsify, but fd ${fd} was not open`);
  }
}

/** --control-fd N or none; without it, fd 3 if the parent passed it. */
export function resolveControlFd(flag: number | 'none' | undefined, facts: LaunchFacts): number | undefined {
  if (flag === 'none') return undefined;
  if (flag === undefined) return facts.openFds?.has(3) ? 3 : undefined;
  requireOpen(flag, '--control-fd', facts);
  return flag;
}
