// tls/identity.ts: client certificates (RFC 8446 §4.4.2, RFC 5246 §7.4.6): --cert/--key pairs
// and --pkcs12 files, loaded and checked before dialling, as node:tls key/cert/pfx options.
// node:tls has no CertificateRequest callback (facts §5.6): OpenSSL picks among the identities
// by the server's signature_algorithms (TLS 1.3) or sends the last one given (TLS 1.2); the
// server's certificate_authorities hint cannot be used to choose.
import { X509Certificate, createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import tls from 'node:tls';
import { TlsifyError } from '../codes.ts';
import { readFd, readPrivateFile, readSecret, type SecretOptions } from '../secret.ts';
import { CertError, parseCertificate, type Cert } from '../trust/cert.ts';
import { pemBlocks } from '../trust/pem.ts';

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

const MAX_FILE = 1024 * 1024;
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
  let leafDer: Buffer;
  try {
    const ctx = tls.createSecureContext({ pfx: [{ buf: data, ...(pass !== undefined ? { passphrase: pass } : {}) }] });
    leafDer = secureContextLeaf(ctx, where);
  } catch (err) {
    if (err instanceof TlsifyError) throw err;
    throw config(`${where}: ${pkcs12Problem(err as NodeJS.ErrnoException, pass !== undefined)}`);
  }
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

/** What the handshake says about client authentication; collected in 'secureConnect'. */
export interface ClientCertFacts {
  readonly resumed: boolean;
  /** TLSv1.2 or TLSv1.3. */
  readonly version: string;
  /** socket.getSharedSigalgs(): empty on the client unless the server sent CertificateRequest. */
  readonly sharedSigalgs: readonly string[];
  /** socket.getCertificate()?.raw: OpenSSL's current certificate, sent or not. */
  readonly local: Buffer | undefined;
}

/**
 * not-asked: no CertificateRequest. sent: `identity` went out. none-configured: asked, and we had
 * none (an empty Certificate went out). none-suitable: asked, but no identity fits the server's
 * signature algorithms. resumed: an abbreviated handshake; the original one's identity stands.
 */
export type ClientCertStatus = 'not-asked' | 'sent' | 'none-configured' | 'none-suitable' | 'resumed';

export function clientCertStatus(facts: ClientCertFacts, ids: readonly ClientIdentity[]): { status: ClientCertStatus; identity: ClientIdentity | undefined } {
  if (facts.resumed) return { status: 'resumed', identity: undefined };
  // The client only learns signature algorithms from a CertificateRequest (checked on Node 20.20.2).
  if (facts.sharedSigalgs.length === 0) return { status: 'not-asked', identity: undefined };
  if (ids.length === 0) return { status: 'none-configured', identity: undefined };
  const fp = facts.local && facts.local.length > 0 ? fingerprintOf(facts.local) : undefined;
  const identity = ids.find((id) => id.fingerprint === fp);
  // OpenSSL leaves its current certificate in place when none fits, and sends an empty
  // Certificate: so "sent" needs a shared algorithm this key can sign with too.
  if (identity && facts.sharedSigalgs.some((alg) => canSign(identity, alg, facts.version))) return { status: 'sent', identity };
  return { status: 'none-suitable', identity: undefined };
}

export function fingerprintOf(der: Buffer): string {
  return 'sha256:' + createHash('sha256').update(der).digest('hex');
}

/** Node's sigalg names ('ECDSA+SHA256', 'RSA-PSS+SHA256', 'Ed25519+UNDEF') against a key. */
function canSign(id: ClientIdentity, alg: string, version: string): boolean {
  const [scheme, hash] = alg.split('+');
  switch (id.keyType) {
    case 'rsa':
      // rsa_pss_rsae_* and, in TLS 1.2, rsa_pkcs1_*; TLS 1.3 signs with PSS only (RFC 8446 §4.2.3).
      return scheme === 'RSA-PSS' || (scheme === 'RSA' && version !== 'TLSv1.3');
    case 'rsa-pss':
      return scheme === 'RSA-PSS';
    case 'ec':
      // TLS 1.3 ties the curve to the hash (RFC 8446 §4.2.3); TLS 1.2 does not.
      return scheme === 'ECDSA' && (version !== 'TLSv1.3' || TLS13_CURVE_HASH[id.curve ?? ''] === hash);
    case 'ed25519':
      return scheme === 'Ed25519';
    case 'ed448':
      return scheme === 'Ed448';
    case 'dsa':
      return scheme === 'DSA' && version !== 'TLSv1.3';
  }
}

const TLS13_CURVE_HASH: Record<string, string> = { prime256v1: 'SHA256', secp384r1: 'SHA384', secp521r1: 'SHA512' };

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

function readCertFile(file: string): Buffer {
  // A certificate is public: no permission rules, just a size bound.
  try {
    const data = fs.readFileSync(file);
    if (data.length > MAX_FILE) throw config(`--cert ${file}: expected at most ${MAX_FILE} bytes, got ${data.length}`);
    return data;
  } catch (err) {
    if (err instanceof TlsifyError) throw err;
    throw config(`--cert ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** A key or PKCS#12 file (private: permissions checked), or fd:N from the parent. */
function readKeyMaterial(flag: '--key' | '--pkcs12', spec: string, opts: SecretOptions): Buffer {
  if (spec.startsWith('fd:')) return readFd(spec.slice(3), flag, opts, MAX_FILE);
  return readPrivateFile(spec, `${flag} ${spec}`, MAX_FILE);
}

function looksPem(data: Buffer): boolean {
  return data.includes('-----BEGIN ');
}

/** PEM (leaf first, then the chain) or a single DER certificate. */
function certChain(data: Buffer, where: string): Cert[] {
  if (!looksPem(data)) return [parseCert(data, `${where} (DER)`)];
  let blocks: { label: string; der: Buffer }[];
  try {
    blocks = pemBlocks(data.toString('latin1'));
  } catch (err) {
    if (err instanceof CertError) throw config(`${where}: ${err.message}`);
    throw err;
  }
  const other = blocks.find((b) => b.label !== 'CERTIFICATE');
  if (other) {
    const hint = /PRIVATE KEY/.test(other.label) ? ': give the key with --key' : '';
    throw config(`${where}: expected only CERTIFICATE blocks, got a ${other.label} block${hint}`);
  }
  if (blocks.length === 0) throw config(`${where}: expected a PEM or DER certificate, got no CERTIFICATE block`);
  return blocks.map((b, i) => parseCert(b.der, `${where}: certificate ${i + 1}`));
}

function parseCert(der: Buffer, where: string): Cert {
  try {
    return parseCertificate(der);
  } catch (err) {
    if (err instanceof CertError) throw config(`${where}: ${err.message}`);
    throw err;
  }
}

const PEM_LABEL = /-----BEGIN ([A-Z0-9 ]+)-----/;
const KEY_FORMS = 'a private key: PKCS#8 (plain or encrypted), PKCS#1 or SEC1, in PEM or DER';

/** Any of the usual private key forms; `encrypted` says whether the passphrase was needed. */
function privateKey(data: Buffer, passphrase: Buffer | undefined, where: string): { key: KeyObject; encrypted: boolean } {
  if (looksPem(data)) {
    const text = data.toString('latin1');
    const label = PEM_LABEL.exec(text)?.[1] ?? '';
    if (!/PRIVATE KEY$/.test(label)) {
      const hint = label === 'CERTIFICATE' ? ': did you swap --cert and --key?' : '';
      throw config(`${where}: expected ${KEY_FORMS}, got a ${label || 'malformed'} block${hint}`);
    }
    // Checked here: OpenSSL would otherwise ask its own (absent) prompt and fail obscurely.
    const encrypted = label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,ENCRYPTED/.test(text);
    if (encrypted && !passphrase) throw needPassphrase(where);
    try {
      return { key: createPrivateKey({ key: data, format: 'pem', ...(encrypted ? { passphrase } : {}) }), encrypted };
    } catch (err) {
      throw keyProblem(err as NodeJS.ErrnoException, where, encrypted);
    }
  }
  // DER: PKCS#8 first (it says whether it is encrypted), then PKCS#1 and SEC1.
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try {
      return { key: createPrivateKey({ key: data, format: 'der', type }), encrypted: false };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (type === 'pkcs8' && code === 'ERR_MISSING_PASSPHRASE') {
        if (!passphrase) throw needPassphrase(where);
        try {
          return { key: createPrivateKey({ key: data, format: 'der', type, passphrase }), encrypted: true };
        } catch (err2) {
          throw keyProblem(err2 as NodeJS.ErrnoException, where, true);
        }
      }
    }
  }
  throw config(`${where}: expected ${KEY_FORMS}, got ${data.length} bytes that are none of these`);
}

function needPassphrase(where: string): TlsifyError {
  return config(`${where}: the key is encrypted; expected a passphrase via --pass env:VAR|fd:N|file:PATH, got none`);
}

function keyProblem(err: NodeJS.ErrnoException, where: string, encrypted: boolean): TlsifyError {
  if (encrypted && (err.code === 'ERR_OSSL_BAD_DECRYPT' || /bad decrypt/i.test(err.message))) {
    return config(`${where}: the passphrase does not decrypt the key (wrong passphrase?)`);
  }
  return config(`${where}: expected ${KEY_FORMS}, got one OpenSSL cannot read (${err.code ?? err.message})`);
}

function pkcs12Problem(err: NodeJS.ErrnoException, hadPass: boolean): string {
  const msg = err.message ?? '';
  if (/mac verify failure/i.test(msg)) {
    return hadPass ? 'the passphrase does not open it (MAC verify failure: wrong passphrase?)' : 'expected a passphrase via --pass env:VAR|fd:N|file:PATH: the file does not open without one (MAC verify failure)';
  }
  if (err.code === 'ERR_CRYPTO_UNSUPPORTED_OPERATION' || /unsupported/i.test(msg)) {
    return (
      'it uses algorithms OpenSSL 3 keeps in its legacy provider (RC2-40 or 3DES, the default of OpenSSL 1.x and older Windows exports); ' +
      're-export it with AES: openssl pkcs12 -legacy -in OLD.p12 -nodes | openssl pkcs12 -export -out NEW.p12'
    );
  }
  if (/wrong tag|asn1|header too long|not enough data/i.test(msg)) return `expected a PKCS#12 (PFX) file in DER, got something else (${msg})`;
  return `cannot be used: ${msg}`;
}

/** The leaf node:tls took from a pfx. SecureContext's native getCertificate() is not in @types/node. */
function secureContextLeaf(ctx: tls.SecureContext, where: string): Buffer {
  const native = (ctx as unknown as { context?: { getCertificate?: () => Buffer | null } }).context;
  const der = native?.getCertificate?.();
  if (!Buffer.isBuffer(der)) throw new TlsifyError('internal', `${where}: node:tls loaded the file but did not give its certificate back (SecureContext.getCertificate)`);
  return der;
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

function spkiOf(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: 'spki', format: 'der' });
}

function toPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

function usage(message: string): TlsifyError {
  return new TlsifyError('usage', message);
}

function config(message: string): TlsifyError {
  return new TlsifyError('config', message);
}
