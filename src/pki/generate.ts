// src/pki/generate.ts — issues X.509 v3 certificates (RFC 5280) for `tlsify demo` and the test PKI; the one door to @peculiar/x509.
import 'reflect-metadata'; // must load before @peculiar/x509: tsyringe throws without a Reflect polyfill
import * as x509 from '@peculiar/x509';
import { AsnConvert } from '@peculiar/asn1-schema';
import { GeneralName, GeneralNames, OtherName } from '@peculiar/asn1-x509';
import { createHash, createPrivateKey, createPublicKey, webcrypto, type KeyObject } from 'node:crypto';

type WebAlgorithm = webcrypto.Algorithm;
type CryptoKey = webcrypto.CryptoKey;

// Explicit rather than relying on the constructor's globalThis.crypto default; the d.ts names the DOM `Crypto` type.
x509.cryptoProvider.set(webcrypto as ReturnType<typeof x509.cryptoProvider.get>);

export type KeySpec = 'p256' | 'p384' | 'rsa2048' | 'rsa1024' | 'ed25519';
export type Hash = 'SHA-256' | 'SHA-1';
export type Eku = 'serverAuth' | 'clientAuth' | 'codeSigning';
export type KeyUsage = 'digitalSignature' | 'keyEncipherment' | 'keyAgreement' | 'keyCertSign' | 'cRLSign';

export interface Issued {
  certPem: string;
  keyPem: string; // PKCS#8, label 'PRIVATE KEY'
  der: Buffer;
  spkiPin: string; // 'sha256/' + base64(sha256(SPKI DER)), as in RFC 7469
  subject: string;
}

export interface IssueOptions {
  subject: string; // RFC 4514 string, e.g. 'CN=leaf.example'; '' makes an empty subject (SAN then critical)
  key?: KeySpec; // a fresh key of this kind; default p256
  keyPem?: string; // reuse this PKCS#8 key instead (fixtures share keys for speed); excludes `key`
  issuer?: Issued; // omit for self-signed
  ca?: boolean;
  pathLen?: number;
  notBefore?: Date; // default now - 1 h
  notAfter?: Date; // default now + 30 d
  dns?: string[];
  ip?: string[];
  uri?: string[];
  srv?: string[]; // RFC 4985 SRVName, e.g. '_xmpp-client.example'
  email?: string[];
  eku?: Eku[]; // default: serverAuth for leaves, none for CAs; [] writes no extension
  keyUsage?: KeyUsage[]; // default: CA keyCertSign+cRLSign; leaf digitalSignature (+keyEncipherment for RSA)
  hash?: Hash; // signature hash, default SHA-256 (SHA-1 for a weak-signature fixture); leave unset for Ed25519 signers
  skipAki?: boolean; // omit authorityKeyIdentifier (SKI is always written)
}

const HOUR = 3600_000;
const SRV_NAME_OID = '1.3.6.1.5.5.7.8.7'; // RFC 4985 id-on-dnsSRV
const SAN_OID = '2.5.29.17';

const KEY_ALGORITHMS: Record<KeySpec, WebAlgorithm> = {
  p256: { name: 'ECDSA', namedCurve: 'P-256' } as webcrypto.EcKeyGenParams,
  p384: { name: 'ECDSA', namedCurve: 'P-384' } as webcrypto.EcKeyGenParams,
  rsa2048: rsaParams(2048),
  rsa1024: rsaParams(1024),
  ed25519: { name: 'Ed25519' },
};

function rsaParams(modulusLength: number): webcrypto.RsaHashedKeyGenParams {
  const publicExponent = new Uint8Array([1, 0, 1]);
  return { name: 'RSASSA-PKCS1-v1_5', modulusLength, publicExponent, hash: 'SHA-256' };
}

/** Issues one certificate, signed by `opts.issuer`'s key or, when self-signed, by its own. */
export async function issue(opts: IssueOptions): Promise<Issued> {
  checkOptions(opts);
  const keyPem = await subjectKeyPem(opts);
  const subjectPub = createPublicKey(keyPem);
  const signerPem = opts.issuer?.keyPem ?? keyPem;
  const hash = signatureHash(signerPem, opts.hash);
  const signingKey = await importSigningKey(signerPem, hash);
  const issuerCert = opts.issuer ? new x509.X509Certificate(opts.issuer.der) : undefined;
  const cert = await x509.X509CertificateGenerator.create({
    subject: new x509.Name(opts.subject),
    issuer: issuerCert ? issuerCert.subjectName : new x509.Name(opts.subject),
    notBefore: opts.notBefore ?? new Date(Date.now() - HOUR),
    notAfter: opts.notAfter ?? new Date(Date.now() + 30 * 24 * HOUR),
    publicKey: spkiDer(subjectPub),
    signingKey,
    signingAlgorithm: signingAlgorithm(signingKey, hash),
    extensions: await extensions(opts, subjectPub, issuerCert),
  });
  return issued(cert, keyPem);
}

function checkOptions(opts: IssueOptions): void {
  if (opts.pathLen !== undefined && opts.ca !== true) {
    throw new Error(`pathLen: expected only with ca: true, got pathLen=${opts.pathLen}`);
  }
  const { notBefore, notAfter } = opts;
  if (notBefore && notAfter && notAfter <= notBefore) {
    throw new Error(`notAfter: expected after notBefore ${notBefore.toISOString()}, got ${notAfter.toISOString()}`);
  }
}

async function subjectKeyPem(opts: IssueOptions): Promise<string> {
  if (opts.keyPem !== undefined) {
    if (opts.key !== undefined) throw new Error(`issue: expected one of key or keyPem, got both (key=${opts.key})`);
    return opts.keyPem;
  }
  return generateKeyPem(opts.key ?? 'p256');
}

/** A fresh extractable key pair from node:crypto webcrypto, returned as a PKCS#8 PEM. */
export async function generateKeyPem(spec: KeySpec): Promise<string> {
  const algorithm = KEY_ALGORITHMS[spec];
  if (!algorithm) throw new Error(`key: expected one of ${Object.keys(KEY_ALGORITHMS).join('|')}, got '${spec}'`);
  const pair = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', pair.privateKey));
  return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }) as string;
}

function signatureHash(signerPem: string, hash: Hash | undefined): Hash | undefined {
  const ed = createPrivateKey(signerPem).asymmetricKeyType === 'ed25519';
  if (ed && hash !== undefined) throw new Error(`hash: expected none for an Ed25519 signer (RFC 8410 fixes it), got ${hash}`);
  return ed ? undefined : (hash ?? 'SHA-256');
}

/** Imports the signer for webcrypto. RSA keys carry their hash, and x509 lets the key's hash win, so import with the one wanted. */
async function importSigningKey(pem: string, hash: Hash | undefined): Promise<CryptoKey> {
  const key = createPrivateKey(pem);
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', pkcs8, importAlgorithm(key, hash), false, ['sign']);
}

function importAlgorithm(key: KeyObject, hash: Hash | undefined): WebAlgorithm {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return { name: 'ECDSA', namedCurve: curveName(key) } as webcrypto.EcKeyImportParams;
    case 'rsa':
      return { name: 'RSASSA-PKCS1-v1_5', hash } as webcrypto.RsaHashedImportParams;
    case 'ed25519':
      return { name: 'Ed25519' };
    default:
      throw new Error(`signing key: expected ec|rsa|ed25519, got ${key.asymmetricKeyType}`);
  }
}

function curveName(key: KeyObject): string {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const names: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };
  const name = curve === undefined ? undefined : names[curve];
  if (!name) throw new Error(`signing key: expected curve P-256|P-384|P-521, got ${curve}`);
  return name;
}

function signingAlgorithm(key: CryptoKey, hash: Hash | undefined): WebAlgorithm {
  return hash === undefined ? { name: key.algorithm.name } : ({ name: key.algorithm.name, hash } as webcrypto.EcdsaParams);
}

function spkiDer(pub: KeyObject): Buffer {
  return pub.export({ type: 'spki', format: 'der' });
}

async function extensions(opts: IssueOptions, pub: KeyObject, issuerCert?: x509.X509Certificate): Promise<x509.Extension[]> {
  const ca = opts.ca === true;
  const ski = await x509.SubjectKeyIdentifierExtension.create(spkiDer(pub));
  const list: x509.Extension[] = [
    new x509.BasicConstraintsExtension(ca, ca ? opts.pathLen : undefined, true),
    new x509.KeyUsagesExtension(keyUsageFlags(opts, pub), true),
    ski,
  ];
  if (!opts.skipAki) list.push(new x509.AuthorityKeyIdentifierExtension(issuerKeyId(issuerCert) ?? ski.keyId));
  const eku = opts.eku ?? (ca ? [] : ['serverAuth']);
  if (eku.length > 0) list.push(new x509.ExtendedKeyUsageExtension(eku.map((e) => x509.ExtendedKeyUsage[e])));
  const san = subjectAltName(opts);
  if (san) list.push(san);
  return list;
}

function issuerKeyId(cert?: x509.X509Certificate): string | undefined {
  return cert?.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
}

function keyUsageFlags(opts: IssueOptions, pub: KeyObject): number {
  const rsa = pub.asymmetricKeyType === 'rsa';
  const fallback: KeyUsage[] = opts.ca ? ['keyCertSign', 'cRLSign'] : rsa ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'];
  return (opts.keyUsage ?? fallback).reduce((flags, name) => flags | x509.KeyUsageFlags[name], 0);
}

/** RFC 5280 §4.2.1.6; critical when the subject is empty. SRVName is an otherName x509's high-level API cannot write. */
function subjectAltName(opts: IssueOptions): x509.Extension | undefined {
  const plain: x509.JsonGeneralName[] = [
    ...(opts.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(opts.ip ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(opts.uri ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(opts.email ?? []).map((value) => ({ type: 'email' as const, value })),
  ];
  const srv = opts.srv ?? [];
  if (plain.length === 0 && srv.length === 0) return undefined;
  const names = AsnConvert.parse(new x509.GeneralNames(plain).rawData, GeneralNames);
  for (const name of srv) names.push(srvGeneralName(name));
  return new x509.Extension(SAN_OID, opts.subject === '', AsnConvert.serialize(names));
}

function srvGeneralName(name: string): GeneralName {
  return new GeneralName({ otherName: new OtherName({ typeId: SRV_NAME_OID, value: derIa5String(name) }) });
}

/** DER IA5String TLV (tag 0x16), short or one-/two-byte long length form. */
function derIa5String(text: string): ArrayBuffer {
  if (!/^[\x00-\x7f]+$/.test(text)) throw new Error(`srv: expected a non-empty ASCII name, got '${text}'`);
  const body = Buffer.from(text, 'latin1');
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  const der = Buffer.concat([Buffer.from([0x16, ...length]), body]);
  return der.buffer.slice(der.byteOffset, der.byteOffset + der.length) as ArrayBuffer;
}

function issued(cert: x509.X509Certificate, keyPem: string): Issued {
  const der = Buffer.from(cert.rawData);
  const spki = Buffer.from(cert.publicKey.rawData);
  return {
    certPem: cert.toString('pem') + '\n',
    keyPem,
    der,
    spkiPin: 'sha256/' + createHash('sha256').update(spki).digest('base64'),
    subject: cert.subject,
  };
}
