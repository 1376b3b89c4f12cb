// trust/store.ts: reads trust anchors from disk: the system store (OpenSSL's conventions,
// SSL_CERT_FILE / SSL_CERT_DIR honoured) or a PEM file given with --ca.
import fs from 'node:fs';
import path from 'node:path';
import { TlsifyError } from '../codes.ts';
import type { TrustSource } from '../config.ts';
import { anchorSet, type AnchorInput, type AnchorSet } from './anchors.ts';
import { pemBlocks } from './cert.ts';

/**
 * Where distributions keep the bundle OpenSSL would use (as Go's crypto/x509 root_linux.go
 * lists them); the first that exists wins, as with OpenSSL's single default file.
 */
const SYSTEM_FILES = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Gentoo, Arch
  '/etc/pki/tls/certs/ca-bundle.crt', // Fedora, RHEL
  '/etc/ssl/ca-bundle.pem', // openSUSE
  '/etc/pki/tls/cacert.pem', // OpenELEC
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem', // CentOS, RHEL 7
  '/etc/ssl/cert.pem', // Alpine, macOS, BSDs
];

export type SkipBad = (where: string, why: string) => void;

export function loadAnchors(source: TrustSource, skipBad: SkipBad, env: NodeJS.ProcessEnv = process.env): AnchorSet {
  if (source.kind === 'file') {
    return anchorSet(`file:${source.path}`, readPemFile(source.path, `--ca ${source.path}`, true));
  }
  return systemAnchors(env, skipBad);
}

function systemAnchors(env: NodeJS.ProcessEnv, skipBad: SkipBad): AnchorSet {
  const inputs: AnchorInput[] = [];
  const file = env.SSL_CERT_FILE;
  const dir = env.SSL_CERT_DIR;
  if (file) inputs.push(...readPemFile(file, `SSL_CERT_FILE=${file}`, false));
  if (dir) {
    for (const d of dir.split(':').filter(Boolean)) inputs.push(...readPemDir(d));
  }
  if (!file && !dir) {
    const found = SYSTEM_FILES.find((f) => fs.existsSync(f));
    if (found) inputs.push(...readPemFile(found, found, false));
    else inputs.push(...readPemDir('/etc/ssl/certs'));
  }
  if (inputs.length === 0) {
    throw new TlsifyError('config', `the system trust store is empty: expected certificates in SSL_CERT_FILE, SSL_CERT_DIR or one of ${SYSTEM_FILES.join(', ')}; use --ca FILE`);
  }
  return anchorSet('system', inputs, skipBad);
}

function readPemFile(file: string, where: string, strict: boolean): AnchorInput[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'latin1');
  } catch (err) {
    throw new TlsifyError('config', `${where}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  let blocks;
  try {
    blocks = pemBlocks(text);
  } catch (err) {
    throw new TlsifyError('config', `${where}: ${(err as Error).message}`, { cause: err });
  }
  const certs = blocks.filter((b) => b.label === 'CERTIFICATE');
  if (strict && certs.length === 0) {
    throw new TlsifyError('config', `${where}: expected PEM certificates (-----BEGIN CERTIFICATE-----), found none`);
  }
  return certs.map((b) => ({ der: b.der, source: `file:${file}` }));
}

/** A directory of PEM files, hashed (OpenSSL c_rehash links) or not; unreadable entries are skipped. */
function readPemDir(dir: string): AnchorInput[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: AnchorInput[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      if (!fs.statSync(file).isFile()) continue;
      out.push(...readPemFile(file, file, false).map((a) => ({ ...a, source: `dir:${dir}` })));
    } catch {
      // OpenSSL also ignores files it cannot use in a hashed directory.
    }
  }
  return out;
}
