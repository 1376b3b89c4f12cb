// tls/identity.ts: client certificates (RFC 8446 §4.4.2, RFC 5246 §7.4.6): --cert/--key pairs
// and --pkcs12 files, loaded and checked before dialling, as node:tls key/cert/pfx options.
// node:tls has no CertificateRequest callback (facts §5.6): OpenSSL picks among the identities
// by the server's signature_algorithms (TLS 1.3) or sends the last one given (TLS 1.2); the
// server's certificate_authorities hint cannot be used to choose.
// Reading and decrypting the files is identity-keys.ts; the handshake's verdict on the client
// certificate is client-cert-status.ts.
import { X509Certificate, createHash, type KeyObject } from 'node:crypto';
import tls from 'node:tls';
import { TlsifyError } from '../codes.ts';
import { readSecret, type SecretOptions } from '../secret.ts';
import type { Cert } from '../trust/cert.ts';
import { certChain, parseCert, pkcs12Leaf, privateKey, readCertFile, readKeyMaterial, spkiOf, toPem } from './identity-keys.ts';

/** OpenSSL keeps one certificate per slot (SSL_PKEY_*): a second of a kind replaces the first. */
export type KeyType = 'rsa' | 'rsa-pss' | 'ec' | 'ed25519' | 'ed448' | 'dsa';
const KEY_TYPES: readonly string[] = ['rsa', 'rsa-pss', 'ec', 'ed25519', 'ed448', 'dsa'];

export interface ClientIdentity {
  /** Where it came from, for messages and the control channel: 'cert=PATH key=PATH' or 'pkcs12=PATH'. */
  readonly source: string;
  /** 'sha256:' + lowercase hex SHA-256 of the leaf's DER (not an SPKI pin). */
  readonly fingerprint: string;
  readonly subject: string;
  readonly keyType: KeyType;
  /** OpenSSL's curve name for EC keys ('prime256v1', 'secp384r1', ...). */
  readonly curve: string | undefined;
  readonly notAfter: Date;
  /** Problems a server will likely refuse (no clientAuth EKU, out of date); for `warning` events. */
  readonly warnings: readonly string[];
  readonly material: { readonly kind: 'pem'; readonly key: string; readonly cert: string } | { readonly kind: 'pfx'; readonly pfx: Buffer; readonly passphrase: string | undefined };
}

export interface IdentitySpecs {
  /** --cert FILE (PEM or DER; leaf first, then its chain), paired in order with --key. */
  readonly certs: readonly string[];
  /** --key FILE or fd:N (PKCS#8, encrypted PKCS#8, PKCS#1 or SEC1; PEM or DER). */
  readonly keys: readonly string[];
  /** --pkcs12 FILE or fd:N. */
  readonly pkcs12: readonly string[];
  /** --pass env:VAR|fd:N|file:PATH: none, one for every identity, or one per identity in order (pairs first, then --pkcs12). */
  readonly passes: readonly string[];
}

export interface IdentityOptions extends SecretOptions {
  /** For the validity warnings. */
  readonly now?: Date;
}

const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const OID_ANY_EKU = '2.5.29.37.0';

/** Load and check every identity; a wrong passphrase or a key that does not fit is a config error now, not a failed handshake later. */
export function loadIdentities(specs: IdentitySpecs, env: NodeJS.ProcessEnv, opts: IdentityOptions = {}): ClientIdentity[] {
  if (specs.certs.length !== specs.keys.length) {
    throw usage(`--cert and --key come in pairs, in order: got ${specs.certs.length} --cert and ${specs.keys.length} --key`);
  }
  const count = specs.certs.length + specs.pkcs12.length;
  if (specs.passes.length > 0 && count === 0) throw usage('--pass goes with --key or --pkcs12, but neither was given');
  if (specs.passes.length > 1 && specs.passes.length !== count) {
    throw usage(`--pass: expected one for all identities or one per identity (${count}), got ${specs.passes.length}`);
  }
  const secrets = new Map<string, Buffer>(); // each spec is read once: an fd can only be read to EOF once
  const passFor = (i: number): Buffer | undefined => {
    const spec = specs.passes.length === 1 ? specs.passes[0] : specs.passes[i];
    if (spec === undefined) return undefined;
    if (!secrets.has(spec)) secrets.set(spec, readSecret(spec, '--pass', env, opts));
    return secrets.get(spec);
  };
  const used = new Set<number>();
  try {
    const ids: ClientIdentity[] = [];
    specs.certs.forEach((certFile, i) => {
      const keySpec = specs.keys[i]!;
      const pass = passFor(i);
      const id = identityFromParts(readCertFile(certFile), readKeyMaterial('--key', keySpec, opts), pass, { cert: certFile, key: keySpec }, opts.now);
      if (pass && id.usedPassphrase) used.add(i);
      ids.push(id.identity);
    });
    specs.pkcs12.forEach((file, j) => {
      const i = specs.certs.length + j;
      const pass = passFor(i);
      if (pass) used.add(i);
      ids.push(identityFromPkcs12(readKeyMaterial('--pkcs12', file, opts), pass, file, opts.now));
    });
    if (specs.passes.length > 0 && used.size === 0) throw usage('--pass was given, but no --key is encrypted and no --pkcs12 was given');
    checkSlots(ids);
    validateTogether(ids);
    return ids;
  } finally {
    for (const b of secrets.values()) b.fill(0);
  }
}

/**
 * One identity from bytes: a certificate file's content and a key's. For keys that come another
 * way than a file (an inherited fd, the control channel). `where` names them in errors.
 */
export function identityFromParts(
  certData: Buffer,
  keyData: Buffer,
  passphrase: Buffer | undefined,
  where: { readonly cert: string; readonly key: string },
  now: Date = new Date(),
): { identity: ClientIdentity; usedPassphrase: boolean } {
  const chain = certChain(certData, `--cert ${where.cert}`);
  const { key, encrypted } = privateKey(keyData, passphrase, `--key ${where.key}`);
  const leaf = chain[0]!;
  const x509 = new X509Certificate(leaf.der);
  if (!x509.checkPrivateKey(key)) {
    const keyPin = 'sha256/' + createHash('sha256').update(spkiOf(key)).digest('base64');
    throw config(`--key ${where.key}: expected the key of the certificate in ${where.cert} (${leaf.pin}), got the key ${keyPin}`);
  }
  const identity = freeze({
    source: `cert=${where.cert} key=${where.key}`,
    leaf,
    key,
    material: { kind: 'pem', key: key.export({ type: 'pkcs8', format: 'pem' }) as string, cert: chain.map((c) => toPem(c.der)).join('') },
    warnings: [...certWarnings(leaf, now), ...chainWarnings(chain)],
  });
  return { identity, usedPassphrase: encrypted };
}

/** A PKCS#12 file: node:tls opens it itself (pfx); a SecureContext built now proves the passphrase. */
export function identityFromPkcs12(data: Buffer, passphrase: Buffer | undefined, file: string, now: Date = new Date()): ClientIdentity {
  const where = `--pkcs12 ${file}`;
  const pass = passphrase?.toString('utf8');
  const leafDer = pkcs12Leaf(data, pass, where);
  const leaf = parseCert(leafDer, `${where}: certificate 1`);
  const key = new X509Certificate(leafDer).publicKey;
  return freeze({ source: `pkcs12=${file}`, leaf, key, material: { kind: 'pfx', pfx: data, passphrase: pass }, warnings: certWarnings(leaf, now) });
}

/** The node:tls options that carry the identities: spread them into tls.connect. */
export function tlsCredentials(ids: readonly ClientIdentity[]): Pick<tls.ConnectionOptions, 'key' | 'cert' | 'pfx'> {
  const pem = ids.flatMap((id) => (id.material.kind === 'pem' ? [id.material] : []));
  const pfx = ids.flatMap((id) => (id.material.kind === 'pfx' ? [{ buf: id.material.pfx, ...(id.material.passphrase !== undefined ? { passphrase: id.material.passphrase } : {}) }] : []));
  return {
    ...(pem.length > 0 ? { key: pem.map((m) => m.key), cert: pem.map((m) => m.cert) } : {}),
    ...(pfx.length > 0 ? { pfx } : {}),
  };
}

export function fingerprintOf(der: Buffer): string {
  return 'sha256:' + createHash('sha256').update(der).digest('hex');
}

function freeze(parts: { source: string; leaf: Cert; key: KeyObject; material: ClientIdentity['material']; warnings: string[] }): ClientIdentity {
  const keyType = parts.key.asymmetricKeyType ?? 'unknown';
  if (!KEY_TYPES.includes(keyType)) {
    throw config(`${parts.source}: expected an RSA, RSA-PSS, ECDSA, Ed25519, Ed448 or DSA key, got ${keyType}, which cannot sign a CertificateVerify`);
  }
  return Object.freeze({
    source: parts.source,
    fingerprint: fingerprintOf(parts.leaf.der),
    subject: parts.leaf.subject,
    keyType: keyType as KeyType,
    curve: parts.key.asymmetricKeyDetails?.namedCurve,
    notAfter: parts.leaf.notAfter,
    warnings: Object.freeze(parts.warnings),
    material: Object.freeze(parts.material),
  });
}

function checkSlots(ids: readonly ClientIdentity[]): void {
  for (const [i, id] of ids.entries()) {
    const other = ids.slice(0, i).find((o) => o.keyType === id.keyType);
    if (other) {
      throw usage(
        `two client identities with ${id.keyType} keys (${other.source} and ${id.source}): node:tls (OpenSSL) keeps one ` +
          'certificate per key type, so the second would silently replace the first; give at most one each of RSA, RSA-PSS, ECDSA, Ed25519, Ed448',
      );
    }
  }
}

/** One SecureContext with all of them, as tls.connect will build it: any conflict shows now. */
function validateTogether(ids: readonly ClientIdentity[]): void {
  if (ids.length === 0) return;
  try {
    tls.createSecureContext(tlsCredentials(ids));
  } catch (err) {
    throw config(`the client identities (${ids.map((id) => id.source).join('; ')}) do not load together: ${(err as Error).message}`);
  }
}

function certWarnings(leaf: Cert, now: Date): string[] {
  const out: string[] = [];
  const eku = leaf.extKeyUsage;
  if (eku && !eku.includes(OID_CLIENT_AUTH) && !eku.includes(OID_ANY_EKU)) {
    out.push(`the certificate '${leaf.subject}' does not allow client authentication: expected extended key usage clientAuth, got ${eku.join(', ')}`);
  }
  if (now > leaf.notAfter) out.push(`the certificate '${leaf.subject}' expired at ${leaf.notAfter.toISOString()}`);
  if (now < leaf.notBefore) out.push(`the certificate '${leaf.subject}' is not valid before ${leaf.notBefore.toISOString()}`);
  return out;
}

function chainWarnings(chain: readonly Cert[]): string[] {
  const out: string[] = [];
  for (let i = 1; i < chain.length; i++) {
    if (!chain[i - 1]!.issuerDer.equals(chain[i]!.subjectDer)) {
      out.push(`certificate ${i + 1} ('${chain[i]!.subject}') did not issue certificate ${i} ('${chain[i - 1]!.subject}'): the chain should go leaf first, then each issuer`);
    }
  }
  return out;
}

function usage(message: string): TlsifyError {
  return new TlsifyError('usage', message);
}

function config(message: string): TlsifyError {
  return new TlsifyError('config', message);
}
