// test/bench/pki.ts: the benchmark's throw-away PKI (a P-256 root and a localhost / 127.0.0.1
// leaf, made by tlsify's own src/pki/generate.ts, so no tool is needed for it), the files the
// rows read (CA, a "system" bundle, a pin store) and the SPKI pins.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issue } from '../../src/pki/generate.ts';

/** The distribution's bundle, which `SSL_CERT_FILE` replaces for the system-store row. */
const DISTRO_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

export interface BenchPki {
  readonly caFile: string; // the root alone
  readonly certFile: string; // the leaf
  readonly keyFile: string;
  /** The distribution's roots plus ours: what `system` reads via SSL_CERT_FILE in that row. */
  readonly systemFile: string;
  readonly systemNote: string;
  readonly leafPin: string; // sha256/BASE64
  readonly caPin: string;
}

export async function makePki(dir: string): Promise<BenchPki> {
  const day = 86_400_000;
  const root = await issue({ subject: 'CN=tlsify bench root', ca: true, notAfter: new Date(Date.now() + 7 * day) });
  const leaf = await issue({ subject: 'CN=localhost', issuer: root, dns: ['localhost'], ip: ['127.0.0.1'] });
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const distro = existsSync(DISTRO_BUNDLE) ? readFileSync(DISTRO_BUNDLE, 'utf8') : '';
  const roots = (distro.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;
  return {
    caFile: file('ca.pem', root.certPem),
    certFile: file('leaf.pem', leaf.certPem),
    keyFile: file('leaf.key', leaf.keyPem),
    systemFile: file('system.pem', `${distro}\n${root.certPem}`),
    systemNote: distro
      ? `SSL_CERT_FILE = ${DISTRO_BUNDLE} (${roots} roots) + the bench root`
      : `SSL_CERT_FILE = the bench root alone (${DISTRO_BUNDLE} not found, so this row is cheaper than a real system store)`,
    leafPin: leaf.spkiPin,
    caPin: root.spkiPin,
  };
}

/**
 * A pin store (protocol/pin-store.md, format 1) whose entry for localhost:PORT pins the leaf and
 * the root, among `others` entries for other hosts, as a store in use would hold.
 */
export function writePinStore(dir: string, pki: BenchPki, port: number, others: number): string {
  const lines = ['tlsify-pin-store 1'];
  for (let i = 0; i < others; i++) lines.push(`host-${i}.example source=static pins=${pki.caPin}`);
  lines.push(`localhost:${port} source=static pins=${pki.leafPin},${pki.caPin}`);
  const path = join(dir, 'pins');
  writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 });
  return path;
}
