// test/helpers/revocation.ts — builds CRLs (RFC 5280 §5) and OCSP responses (RFC 6960 §4.2) for unit and e2e tests.
//
// Encoded with @peculiar/asn1-x509 / asn1-ocsp and signed with node:crypto, so nothing here shares
// code with src/trust/crl.ts or ocsp.ts: the CertID hashes in particular are computed independently.
// (@peculiar/x509's X509CrlGenerator would also do for CRLs, but src/pki/generate.ts is that
// package's one door, and building both kinds the same way lets tests forge the odd cases.)
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, CRLReason, Certificate, CertificateList, Extension, RevokedCertificate, TBSCertList, Time, Version } from '@peculiar/asn1-x509';
import { BasicOCSPResponse, CertID, CertStatus, KeyHash, OCSPResponse, ResponderID, ResponseBytes, ResponseData, RevokedInfo, SingleResponse, id_pkix_ocsp_basic } from '@peculiar/asn1-ocsp';
import { execFileSync } from 'node:child_process';
import { constants, createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Issued } from '../../src/pki/generate.ts';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** How to sign: the key's usual algorithm with this hash; 'pss' is RSASSA-PSS with SHA-256 (RSA keys). */
export type SignWith = 'sha256' | 'sha384' | 'sha512' | 'sha1' | 'pss';

export interface ExtraExtension {
  oid: string;
  critical: boolean;
  der: Buffer; // the extnValue contents
}

export interface CrlOptions {
  thisUpdate?: Date; // default now - 1 h
  nextUpdate?: Date | null; // default now + 7 d; null leaves it out
  revokedAt?: Date; // every entry's revocationDate; default now - 1 h
  reason?: number; // CRLReason (RFC 5280 §5.3.1) for every entry; default none
  signingKey?: Issued; // sign with this key instead of the issuer's, keeping the issuer's name (a forgery)
  hash?: SignWith;
  extensions?: ExtraExtension[]; // crlExtensions after the CRL number
}

/** A v2 CRL from `issuer` listing `revokedSerials` (lowercase hex like Cert.serialHex), as PEM. */
export function makeCrl(issuer: Issued, revokedSerials: string[], opts: CrlOptions = {}): string {
  const now = Date.now();
  const s = signer((opts.signingKey ?? issuer).keyPem, opts.hash);
  const revokedAt = new Time(opts.revokedAt ?? new Date(now - HOUR));
  const entryExtensions = opts.reason === undefined ? undefined : [ext('2.5.29.21', false, Buffer.from([0x0a, 0x01, opts.reason]))];
  const nextUpdate = opts.nextUpdate === null ? undefined : new Time(opts.nextUpdate ?? new Date(now + 7 * DAY));
  const tbs = new TBSCertList({
    version: Version.v2,
    signature: s.algorithm,
    issuer: parseCert(issuer).tbsCertificate.subject,
    thisUpdate: new Time(opts.thisUpdate ?? new Date(now - HOUR)),
    ...(nextUpdate && { nextUpdate }),
    ...(revokedSerials.length > 0 && {
      revokedCertificates: revokedSerials.map((serial) => new RevokedCertificate({ userCertificate: serialBytes(serial), revocationDate: revokedAt, ...(entryExtensions && { crlEntryExtensions: entryExtensions }) })),
    }),
    crlExtensions: [ext('2.5.29.20', false, Buffer.from([0x02, 0x01, 0x01])), ...(opts.extensions ?? []).map((e) => ext(e.oid, e.critical, e.der))],
  });
  const signature = s.sign(Buffer.from(AsnConvert.serialize(tbs)));
  const der = Buffer.from(AsnConvert.serialize(new CertificateList({ tbsCertList: tbs, signatureAlgorithm: s.algorithm, signature: toArrayBuffer(signature) })));
  return toPem('X509 CRL', der);
}

export interface OcspOptions {
  leaf: Issued;
  issuer: Issued;
  status: 'good' | 'revoked' | 'unknown';
  thisUpdate?: Date; // default now - 1 h
  nextUpdate?: Date | null; // default now + 1 d; null leaves it out
  producedAt?: Date; // default thisUpdate
  revokedAt?: Date; // default now - 2 h
  reason?: number; // revocationReason, default none
  signer?: Issued; // a delegated responder: signs, is named by responderID and is included in certs
  signingKey?: Issued; // sign with this key instead, changing nothing else (a bad signature)
  hash?: SignWith;
  hashAlg?: 'SHA-1' | 'SHA-256'; // CertID hash, default SHA-1 (RFC 5019 §2.1.1)
  responderId?: 'name' | 'key'; // default name
  responseStatus?: number; // anything but 0 gives a bare error response
}

const HASH_OIDS = { 'SHA-1': '1.3.14.3.2.26', 'SHA-256': '2.16.840.1.101.3.4.2.1' } as const;

/** A DER OCSPResponse holding one BasicOCSPResponse for `leaf`. */
export function makeOcspResponse(o: OcspOptions): Buffer {
  if (o.responseStatus !== undefined && o.responseStatus !== 0) {
    return Buffer.from(AsnConvert.serialize(new OCSPResponse({ responseStatus: o.responseStatus })));
  }
  const now = Date.now();
  const responder = o.signer ?? o.issuer;
  const s = signer((o.signingKey ?? responder).keyPem, o.hash);
  const thisUpdate = o.thisUpdate ?? new Date(now - HOUR);
  const nextUpdate = o.nextUpdate === null ? undefined : (o.nextUpdate ?? new Date(now + DAY));
  const single = new SingleResponse({ certID: certId(o.leaf, o.issuer, o.hashAlg ?? 'SHA-1'), certStatus: certStatus(o, now), thisUpdate, ...(nextUpdate && { nextUpdate }) });
  const responderCert = parseCert(responder).tbsCertificate;
  const responderID =
    o.responderId === 'key' ? new ResponderID({ byKey: new KeyHash(sha('sha1', responderCert.subjectPublicKeyInfo.subjectPublicKey)) }) : new ResponderID({ byName: responderCert.subject });
  const data = new ResponseData({ responderID, producedAt: o.producedAt ?? thisUpdate, responses: [single] });
  const signature = s.sign(Buffer.from(AsnConvert.serialize(data)));
  const basic = new BasicOCSPResponse({
    tbsResponseData: data,
    signatureAlgorithm: s.algorithm,
    signature: toArrayBuffer(signature),
    ...(o.signer && { certs: [parseCert(o.signer)] }),
  });
  const bytes = new ResponseBytes({ responseType: id_pkix_ocsp_basic, response: new OctetString(AsnConvert.serialize(basic)) });
  return Buffer.from(AsnConvert.serialize(new OCSPResponse({ responseStatus: 0, responseBytes: bytes })));
}

/** RFC 6960 §4.1.1: hashes of the issuer's DN as the leaf encodes it and of the issuer key's BIT STRING value. */
function certId(leaf: Issued, issuer: Issued, hashAlg: 'SHA-1' | 'SHA-256'): CertID {
  const hash = hashAlg === 'SHA-1' ? 'sha1' : 'sha256';
  const leafTbs = parseCert(leaf).tbsCertificate;
  const issuerKey = parseCert(issuer).tbsCertificate.subjectPublicKeyInfo.subjectPublicKey;
  return new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: HASH_OIDS[hashAlg], parameters: null }),
    issuerNameHash: new OctetString(sha(hash, AsnConvert.serialize(leafTbs.issuer))),
    issuerKeyHash: new OctetString(sha(hash, issuerKey)),
    serialNumber: leafTbs.serialNumber,
  });
}

function certStatus(o: OcspOptions, now: number): CertStatus {
  if (o.status === 'good') return new CertStatus({ good: null });
  if (o.status === 'unknown') return new CertStatus({ unknown: null });
  const revocationTime = o.revokedAt ?? new Date(now - 2 * HOUR);
  return new CertStatus({ revoked: new RevokedInfo({ revocationTime, ...(o.reason !== undefined && { revocationReason: new CRLReason(o.reason) }) }) });
}

// ---- shared pieces --------------------------------------------------------------------------

const ALG = {
  ec: { sha256: '1.2.840.10045.4.3.2', sha384: '1.2.840.10045.4.3.3', sha512: '1.2.840.10045.4.3.4', sha1: '1.2.840.10045.4.1' },
  rsa: { sha256: '1.2.840.113549.1.1.11', sha384: '1.2.840.113549.1.1.12', sha512: '1.2.840.113549.1.1.13', sha1: '1.2.840.113549.1.1.5' },
} as const;
const NULL_DER = Buffer.from('0500', 'hex');
// RSASSA-PSS-params { SHA-256, MGF1 with SHA-256, saltLength 32 } (RFC 4055 §3.1)
const PSS_SHA256_PARAMS = Buffer.from('3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120', 'hex');

/** An AlgorithmIdentifier and a signing function for the PKCS#8 key `keyPem`. */
function signer(keyPem: string, hash: SignWith = 'sha256'): { algorithm: AlgorithmIdentifier; sign(data: Buffer): Buffer } {
  const key = createPrivateKey(keyPem);
  const type = key.asymmetricKeyType;
  if (type === 'ed25519') {
    return { algorithm: new AlgorithmIdentifier({ algorithm: '1.3.101.112' }), sign: (data) => sign(null, data, key) };
  }
  if (type === 'rsa' && hash === 'pss') {
    const algorithm = new AlgorithmIdentifier({ algorithm: '1.2.840.113549.1.1.10', parameters: toArrayBuffer(PSS_SHA256_PARAMS) });
    return { algorithm, sign: (data) => sign('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }) };
  }
  if ((type !== 'ec' && type !== 'rsa') || hash === 'pss') throw new Error(`signer: expected an ec, rsa or ed25519 key (pss only with rsa), got ${type} with ${hash}`);
  const algorithm = new AlgorithmIdentifier({ algorithm: ALG[type][hash], ...(type === 'rsa' && { parameters: toArrayBuffer(NULL_DER) }) });
  return { algorithm, sign: (data) => sign(hash, data, key) };
}

function ext(oid: string, critical: boolean, der: Buffer): Extension {
  return new Extension({ extnID: oid, critical, extnValue: new OctetString(toArrayBuffer(der)) });
}

/** A positive INTEGER's content octets from lowercase hex (a 00 sign byte added when needed). */
function serialBytes(hex: string): ArrayBuffer {
  if (!/^([0-9a-f]{2})+$/.test(hex)) throw new Error(`serial: expected lowercase hex of whole bytes, got '${hex}'`);
  const bytes = Buffer.from(hex, 'hex');
  return toArrayBuffer(bytes[0]! >= 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

const parsed = new WeakMap<Issued, Certificate>();
function parseCert(i: Issued): Certificate {
  let c = parsed.get(i);
  if (!c) {
    c = AsnConvert.parse(i.der, Certificate);
    parsed.set(i, c);
  }
  return c;
}

function sha(hash: 'sha1' | 'sha256', data: ArrayBuffer): ArrayBuffer {
  return toArrayBuffer(createHash(hash).update(Buffer.from(data)).digest());
}

function toArrayBuffer(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
}

export function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

// ---- certificates generate.ts cannot make ---------------------------------------------------

/**
 * A P-256 certificate for `subject` (e.g. '/CN=OCSP Responder') signed by `issuer` with the
 * openssl CLI, carrying the x509v3 config lines `extensions` (e.g. 'extendedKeyUsage=OCSPSigning',
 * 'crlDistributionPoints=URI:http://crl.example/a.crl'). Valid from now for `days`
 * (OpenSSL 3.0's `x509 -req` cannot backdate notBefore).
 */
export function opensslIssue(issuer: Issued, subject: string, extensions: string[], days = 2): Issued {
  const dir = mkdtempSync(join(tmpdir(), 'tlsify-revocation-'));
  try {
    writeFileSync(join(dir, 'ca.pem'), issuer.certPem);
    writeFileSync(join(dir, 'ca.key'), issuer.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'ext.cnf'), extensions.join('\n') + '\n');
    const run = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    run(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'leaf.key', '-subj', subject, '-out', 'leaf.csr']);
    run(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', String(days), '-sha256', '-extfile', 'ext.cnf', '-out', 'leaf.pem']);
    const certPem = readFileSync(join(dir, 'leaf.pem'), 'utf8');
    const der = Buffer.from(certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const spki = createPublicKey(certPem).export({ type: 'spki', format: 'der' });
    return { certPem, keyPem: readFileSync(join(dir, 'leaf.key'), 'utf8'), der, spkiPin: 'sha256/' + createHash('sha256').update(spki).digest('base64'), subject: subject.slice(1).split('/').join(', ') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
