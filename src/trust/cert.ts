// cert.ts: parse an X.509 certificate (RFC 5280 §4.1, §4.2) into a frozen Cert; split PEM text (RFC 7468).
//
// Only what the verifier and the diagnostics need is decoded. Signatures are not checked here:
// `tbs` is handed out for that. Everything is read with the strict reader in der.ts.
import { createHash } from 'node:crypto';
import { DerError, DerReader, TAG, contextTag, decodeBitString, decodeInteger, decodeOid, decodeString, describeTag, isStringTag, type Tlv } from './der.ts';
import { readExtensions } from './extensions.ts';

/** Thrown for a certificate or PEM text that cannot be used; the message says expected / got / where. */
export class CertError extends Error {
  override name = 'CertError';
}

export type SanEntry =
  | { type: 'dns'; value: string } // as presented (IA5String)
  | { type: 'ip'; bytes: Buffer; value: string } // value: v4 dotted, v6 compressed (RFC 5952)
  | { type: 'uri'; value: string }
  | { type: 'srv'; value: string } // otherName SRVName, RFC 4985
  | { type: 'email'; value: string }
  // Any other GeneralName. `oid` is the otherName type-id or the registeredID, '' for the forms without one.
  | { type: 'other'; form: GeneralNameForm; oid: string };

export type GeneralNameForm = 'otherName' | 'x400Address' | 'directoryName' | 'ediPartyName' | 'registeredID';

export type KeyUsage = 'digitalSignature' | 'nonRepudiation' | 'keyEncipherment' | 'dataEncipherment' | 'keyAgreement' | 'keyCertSign' | 'cRLSign' | 'encipherOnly' | 'decipherOnly';

export type SignatureHash = 'md5' | 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512' | 'intrinsic' | 'unknown';

export interface Cert {
  readonly der: Buffer;
  readonly tbs: Buffer; // the TBSCertificate DER, for signature checks
  readonly version: number; // 1..3
  readonly serialHex: string; // lowercase hex of the magnitude (the DER sign byte 00 dropped)
  readonly signatureOid: string;
  readonly signatureHash: SignatureHash;
  readonly issuerDer: Buffer;
  readonly subjectDer: Buffer;
  readonly issuer: string; // RFC 4514, most specific RDN first
  readonly subject: string;
  readonly subjectCommonNames: string[]; // diagnostics only: RFC 9525 never matches on the CN
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Buffer;
  readonly keyType: 'rsa' | 'ec' | 'ed25519' | 'ed448' | 'dsa' | 'other';
  readonly keyBits: number;
  readonly curveOid?: string;
  readonly basicConstraints?: { readonly ca: boolean; readonly pathLen?: number; readonly critical: boolean };
  readonly keyUsage?: ReadonlySet<KeyUsage>;
  readonly extKeyUsage?: readonly string[];
  readonly subjectKeyId?: Buffer;
  readonly authorityKeyId?: Buffer; // keyIdentifier [0] only
  readonly san: readonly SanEntry[];
  readonly hasNameConstraints: boolean;
  readonly unhandledCriticalExtensions: readonly string[];
  readonly pin: string; // 'sha256/' + base64(SHA-256(spki)), as in RFC 7469 §2.4
}

/** Short names for attribute types in RFC 4514 display strings (RFC 4514 §3, RFC 4519, PKCS #9). */
export const oidNames: ReadonlyMap<string, string> = new Map([
  ['2.5.4.3', 'CN'],
  ['2.5.4.4', 'SN'],
  ['2.5.4.5', 'serialNumber'],
  ['2.5.4.6', 'C'],
  ['2.5.4.7', 'L'],
  ['2.5.4.8', 'ST'],
  ['2.5.4.9', 'STREET'],
  ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'],
  ['2.5.4.12', 'title'],
  ['2.5.4.15', 'businessCategory'],
  ['2.5.4.17', 'postalCode'],
  ['2.5.4.42', 'GN'],
  ['2.5.4.43', 'initials'],
  ['2.5.4.44', 'generationQualifier'],
  ['2.5.4.46', 'dnQualifier'],
  ['2.5.4.65', 'pseudonym'],
  ['2.5.4.97', 'organizationIdentifier'],
  ['0.9.2342.19200300.100.1.1', 'UID'],
  ['0.9.2342.19200300.100.1.25', 'DC'],
  ['1.2.840.113549.1.9.1', 'emailAddress'],
  ['1.3.6.1.4.1.311.60.2.1.1', 'jurisdictionL'],
  ['1.3.6.1.4.1.311.60.2.1.2', 'jurisdictionST'],
  ['1.3.6.1.4.1.311.60.2.1.3', 'jurisdictionC'],
]);

const OID = {
  commonName: '2.5.4.3',
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsaPss: '1.2.840.113549.1.1.10',
  ecPublicKey: '1.2.840.10045.2.1',
  dsa: '1.2.840.10040.4.1',
  ed25519: '1.3.101.112',
  ed448: '1.3.101.113',
  srvName: '1.3.6.1.5.5.7.8.7',
} as const;

// Signature algorithms -> hash (RFC 3279, RFC 4055, RFC 5758, RFC 8410).
const SIGNATURE_HASH: ReadonlyMap<string, SignatureHash> = new Map([
  ['1.2.840.113549.1.1.4', 'md5'],
  ['1.2.840.113549.1.1.5', 'sha1'],
  ['1.2.840.113549.1.1.14', 'sha224'],
  ['1.2.840.113549.1.1.11', 'sha256'],
  ['1.2.840.113549.1.1.12', 'sha384'],
  ['1.2.840.113549.1.1.13', 'sha512'],
  ['1.2.840.10045.4.1', 'sha1'],
  ['1.2.840.10045.4.3.1', 'sha224'],
  ['1.2.840.10045.4.3.2', 'sha256'],
  ['1.2.840.10045.4.3.3', 'sha384'],
  ['1.2.840.10045.4.3.4', 'sha512'],
  ['1.2.840.10040.4.3', 'sha1'],
  ['2.16.840.1.101.3.4.3.1', 'sha224'],
  ['2.16.840.1.101.3.4.3.2', 'sha256'],
  [OID.ed25519, 'intrinsic'],
  [OID.ed448, 'intrinsic'],
]);

// Hash algorithm identifiers, for RSASSA-PSS parameters (RFC 4055 §2.1, §3.1).
const HASH: ReadonlyMap<string, SignatureHash> = new Map([
  ['1.2.840.113549.2.5', 'md5'],
  ['1.3.14.3.2.26', 'sha1'],
  ['2.16.840.1.101.3.4.2.4', 'sha224'],
  ['2.16.840.1.101.3.4.2.1', 'sha256'],
  ['2.16.840.1.101.3.4.2.2', 'sha384'],
  ['2.16.840.1.101.3.4.2.3', 'sha512'],
]);

// Named curves -> field size in bits (RFC 5480 §2.1.1.1, SEC 2, RFC 5639).
const CURVE_BITS: ReadonlyMap<string, number> = new Map([
  ['1.2.840.10045.3.1.1', 192],
  ['1.3.132.0.33', 224],
  ['1.2.840.10045.3.1.7', 256],
  ['1.3.132.0.10', 256],
  ['1.3.132.0.34', 384],
  ['1.3.132.0.35', 521],
  ['1.3.36.3.3.2.8.1.1.7', 256],
  ['1.3.36.3.3.2.8.1.1.11', 384],
  ['1.3.36.3.3.2.8.1.1.13', 512],
]);

// RFC 5280 §4.2.1.3 bit order.
const KEY_USAGE_BITS: readonly KeyUsage[] = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];

// Critical extensions the verifier knows what to do with (listed in the design); any other
// critical one makes the certificate unusable (RFC 5280 §4.2).
const HANDLED_CRITICAL: ReadonlySet<string> = new Set(['2.5.29.19', '2.5.29.15', '2.5.29.37', '2.5.29.17', '2.5.29.30', '2.5.29.32', '2.5.29.36', '2.5.29.54']);

/** Runs `fn`, turning a DerError into a CertError that says where (the innermost context wins). */
function within<T>(context: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof DerError) throw new CertError(`certificate: ${context}: ${e.message}`);
    throw e;
  }
}

/** A schema mismatch inside DER that is itself well formed; `within` adds the context. */
function fail(expected: string, got: string, at: number): never {
  throw new DerError(`expected ${expected}, got ${got} at byte ${at}`, at);
}

/** Parses one DER certificate. The input is copied, so the returned views cannot change under it. */
export function parseCertificate(der: Uint8Array): Cert {
  const buf = Buffer.from(der);
  const outer = new DerReader(buf);
  const { certTlv, tbsTlv, sigAlgTlv } = within('Certificate', () => {
    const certTlv = outer.expect(TAG.SEQUENCE, 'Certificate SEQUENCE');
    outer.end('end of certificate');
    const c = outer.into(certTlv);
    const tbsTlv = c.expect(TAG.SEQUENCE, 'TBSCertificate SEQUENCE');
    const sigAlgTlv = c.expect(TAG.SEQUENCE, 'signatureAlgorithm SEQUENCE');
    c.bitString('signatureValue BIT STRING');
    c.end('end of Certificate');
    return { certTlv, tbsTlv, sigAlgTlv };
  });
  const tbs = parseTbs(outer.into(tbsTlv));
  // RFC 5280 §4.1.1.2: the outer algorithm MUST equal the one inside the signed part.
  if (!tbs.sigAlgTlv.raw.equals(sigAlgTlv.raw)) {
    throw new CertError(`certificate: signatureAlgorithm: expected the same AlgorithmIdentifier as TBSCertificate.signature (RFC 5280 §4.1.1.2), got a different one at byte ${sigAlgTlv.start}`);
  }
  const sig = within('signatureAlgorithm', () => parseSignatureAlgorithm(outer.into(sigAlgTlv)));
  const ext = tbs.extensions;
  return Object.freeze({
    der: certTlv.raw,
    tbs: tbsTlv.raw,
    version: tbs.version,
    serialHex: tbs.serialHex,
    signatureOid: sig.oid,
    signatureHash: sig.hash,
    issuerDer: tbs.issuer.der,
    subjectDer: tbs.subject.der,
    issuer: tbs.issuer.text,
    subject: tbs.subject.text,
    subjectCommonNames: Object.freeze(tbs.subject.commonNames) as string[],
    notBefore: tbs.notBefore,
    notAfter: tbs.notAfter,
    spki: tbs.spki.der,
    keyType: tbs.spki.keyType,
    keyBits: tbs.spki.keyBits,
    ...(tbs.spki.curveOid !== undefined && { curveOid: tbs.spki.curveOid }),
    ...(ext.basicConstraints && { basicConstraints: ext.basicConstraints }),
    ...(ext.keyUsage && { keyUsage: ext.keyUsage }),
    ...(ext.extKeyUsage && { extKeyUsage: ext.extKeyUsage }),
    ...(ext.subjectKeyId && { subjectKeyId: ext.subjectKeyId }),
    ...(ext.authorityKeyId && { authorityKeyId: ext.authorityKeyId }),
    san: ext.san ?? Object.freeze([]),
    hasNameConstraints: ext.hasNameConstraints,
    unhandledCriticalExtensions: Object.freeze(ext.unhandledCritical),
    pin: 'sha256/' + createHash('sha256').update(tbs.spki.der).digest('base64'),
  });
}

function parseTbs(r: DerReader) {
  const head = within('TBSCertificate', () => {
    // version [0] EXPLICIT DEFAULT v1. DER omits a default, but Go and OpenSSL accept an
    // explicit v1, and so do we.
    const v = r.explicit(0);
    let version = 1;
    if (v) {
      const at = v.offset;
      version = v.smallInteger('version INTEGER') + 1;
      v.end('end of version');
      if (version > 3) fail('version v1, v2 or v3 (0..2)', String(version - 1), at);
    }
    const serialTlv = r.expect(TAG.INTEGER, 'serialNumber INTEGER');
    decodeInteger(serialTlv); // checks the encoding is minimal
    const s = serialTlv.value;
    const serialHex = (s.length > 1 && s[0] === 0 ? s.subarray(1) : s).toString('hex');
    const sigAlgTlv = r.expect(TAG.SEQUENCE, 'signature AlgorithmIdentifier SEQUENCE');
    return { version, serialHex, sigAlgTlv };
  });
  const issuer = within('issuer', () => parseName(r));
  const { notBefore, notAfter } = within('validity', () => {
    const v = r.sequence('Validity SEQUENCE');
    const notBefore = v.time('notBefore UTCTime or GeneralizedTime');
    const notAfter = v.time('notAfter UTCTime or GeneralizedTime');
    v.end('end of Validity');
    return { notBefore, notAfter };
  });
  const subject = within('subject', () => parseName(r));
  const spki = within('subjectPublicKeyInfo', () => parseSpki(r));
  const extensions = within('TBSCertificate', () => {
    // RFC 5280 §4.1.2.8: unique identifiers only in v2 and v3; §4.1.2.9: extensions only in v3.
    for (const n of [1, 2]) {
      const uid = r.optional(contextTag(n, false));
      if (uid && head.version < 2) fail(`no uniqueIdentifier in a v${head.version} certificate`, `[${n}]`, uid.start);
      if (uid) decodeBitString(uid);
    }
    const at = r.offset;
    const e = r.explicit(3);
    if (e && head.version < 3) fail(`no extensions in a v${head.version} certificate`, 'extensions [3]', at);
    r.end('end of TBSCertificate');
    return parseExtensions(e);
  });
  return { ...head, issuer, notBefore, notAfter, subject, spki, extensions };
}

interface Name {
  der: Buffer;
  text: string;
  commonNames: string[];
}

/** Name ::= SEQUENCE OF RDN; shown per RFC 4514 §2.1, last RDN first. */
function parseName(r: DerReader): Name {
  const nameTlv = r.expect(TAG.SEQUENCE, 'Name SEQUENCE');
  const n = r.into(nameTlv);
  const rdns: string[] = [];
  const commonNames: string[] = [];
  while (!n.done) {
    const set = n.set('RelativeDistinguishedName SET');
    if (set.done) fail('at least one AttributeTypeAndValue', 'an empty SET', set.offset);
    const parts: string[] = [];
    while (!set.done) {
      const atv = set.sequence('AttributeTypeAndValue SEQUENCE');
      const type = atv.oid('attribute type OID');
      const value = atv.read();
      atv.end('end of AttributeTypeAndValue');
      parts.push(formatAttribute(type, value));
      if (type === OID.commonName && isStringTag(value.tag)) commonNames.push(decodeString(value));
    }
    rdns.push(parts.join('+'));
  }
  return { der: nameTlv.raw, text: rdns.reverse().join(','), commonNames };
}

/** RFC 4514 §2.3-2.4: known types by short name; unknown types, or non-string values, as #hex of the BER. */
function formatAttribute(type: string, value: Tlv): string {
  const name = oidNames.get(type);
  if (name !== undefined && isStringTag(value.tag)) return `${name}=${escapeValue(decodeString(value))}`;
  return `${name ?? type}=#${value.raw.toString('hex')}`;
}

/** RFC 4514 §2.4 escaping. Control characters are also hex-escaped, so a name cannot forge log lines. */
export function escapeValue(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    const code = c.charCodeAt(0);
    if ('"+,;<>\\'.includes(c) || (i === 0 && (c === ' ' || c === '#')) || (i === s.length - 1 && c === ' ')) out += '\\' + c;
    else if (code < 0x20 || code === 0x7f) out += '\\' + code.toString(16).padStart(2, '0');
    else out += c;
  }
  return out;
}

interface Spki {
  der: Buffer;
  keyType: Cert['keyType'];
  keyBits: number;
  curveOid?: string;
}

/** SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) and the key size the policy needs. */
function parseSpki(r: DerReader): Spki {
  const spkiTlv = r.expect(TAG.SEQUENCE, 'SubjectPublicKeyInfo SEQUENCE');
  const s = r.into(spkiTlv);
  const alg = s.sequence('AlgorithmIdentifier SEQUENCE');
  const oid = alg.oid('algorithm OID');
  const params = alg.done ? undefined : alg.read();
  alg.end('end of AlgorithmIdentifier');
  const der = spkiTlv.raw;
  switch (oid) {
    case OID.rsaEncryption:
    case OID.rsaPss: {
      // RFC 8017 A.1.1: RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
      const key = s.bitStringContents('subjectPublicKey BIT STRING').sequence('RSAPublicKey SEQUENCE');
      const keyBits = positiveIntegerBits(key.expect(TAG.INTEGER, 'modulus INTEGER'));
      positiveIntegerBits(key.expect(TAG.INTEGER, 'publicExponent INTEGER'));
      key.end('end of RSAPublicKey');
      s.end('end of SubjectPublicKeyInfo');
      return { der, keyType: 'rsa', keyBits };
    }
    case OID.ecPublicKey: {
      s.bitString('subjectPublicKey BIT STRING');
      s.end('end of SubjectPublicKeyInfo');
      // RFC 5480 §2.1.1: namedCurve; implicit or explicit curves give keyBits 0.
      if (params?.tag !== TAG.OID) return { der, keyType: 'ec', keyBits: 0 };
      const curveOid = decodeOid(params);
      return { der, keyType: 'ec', keyBits: CURVE_BITS.get(curveOid) ?? 0, curveOid };
    }
    case OID.dsa: {
      s.bitString('subjectPublicKey BIT STRING');
      s.end('end of SubjectPublicKeyInfo');
      // RFC 3279 §2.3.2: Dss-Parms ::= SEQUENCE { p, q, g }; the size is that of p.
      if (params?.tag !== TAG.SEQUENCE) return { der, keyType: 'dsa', keyBits: 0 };
      const p = r.into(params).expect(TAG.INTEGER, 'Dss-Parms p INTEGER');
      return { der, keyType: 'dsa', keyBits: positiveIntegerBits(p) };
    }
    default: {
      s.bitString('subjectPublicKey BIT STRING');
      s.end('end of SubjectPublicKeyInfo');
      // RFC 8410; sizes as OpenSSL reports them (ED25519_BITS 256, ED448_BITS 456).
      if (oid === OID.ed25519) return { der, keyType: 'ed25519', keyBits: 256 };
      if (oid === OID.ed448) return { der, keyType: 'ed448', keyBits: 456 };
      return { der, keyType: 'other', keyBits: 0 };
    }
  }
}

/** Bit length of a positive INTEGER; a leading sign byte 0x00 adds no bits (clz32(0) is 32). */
function positiveIntegerBits(tlv: Tlv): number {
  if (decodeInteger(tlv) <= 0n) fail('a positive INTEGER', 'zero or a negative one', tlv.start);
  const v = tlv.value;
  return (v.length - 1) * 8 + (32 - Math.clz32(v[0]!));
}

/** AlgorithmIdentifier of the signature; RSASSA-PSS names its hash in the parameters. */
function parseSignatureAlgorithm(r: DerReader): { oid: string; hash: SignatureHash } {
  const oid = r.oid('algorithm OID');
  const params = r.done ? undefined : r.read();
  r.end('end of AlgorithmIdentifier');
  if (oid !== OID.rsaPss) return { oid, hash: SIGNATURE_HASH.get(oid) ?? 'unknown' };
  // RFC 4055 §3.1: RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] DEFAULT sha1, ... }
  if (params === undefined || params.tag !== TAG.SEQUENCE) {
    return fail('RSASSA-PSS-params SEQUENCE', params ? describeTag(params.tag) : 'no parameters', params?.start ?? r.offset);
  }
  const hashAlg = r.into(params).explicit(0);
  if (hashAlg === undefined) return { oid, hash: 'sha1' };
  const hashOid = hashAlg.sequence('HashAlgorithm SEQUENCE').oid('hash OID');
  return { oid, hash: HASH.get(hashOid) ?? 'unknown' };
}

interface Extensions {
  basicConstraints?: Cert['basicConstraints'];
  keyUsage?: ReadonlySet<KeyUsage>;
  extKeyUsage?: readonly string[];
  subjectKeyId?: Buffer;
  authorityKeyId?: Buffer;
  san?: readonly SanEntry[];
  hasNameConstraints: boolean;
  unhandledCritical: string[];
}

type ExtensionReader = (r: DerReader, critical: boolean, out: Extensions) => void;

// The extensions we decode (RFC 5280 §4.2.1.x). Each reader must consume the whole value.
const EXTENSION_READERS: ReadonlyMap<string, ExtensionReader> = new Map<string, ExtensionReader>([
  ['2.5.29.19', readBasicConstraints],
  ['2.5.29.15', readKeyUsage],
  ['2.5.29.37', readExtKeyUsage],
  ['2.5.29.14', readSubjectKeyId],
  ['2.5.29.35', readAuthorityKeyId],
  ['2.5.29.17', readSubjectAltName],
  ['2.5.29.30', readNameConstraints],
]);

/** Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension (RFC 5280 §4.1.2.9). */
function parseExtensions(e: DerReader | undefined): Extensions {
  const out: Extensions = { hasNameConstraints: false, unhandledCritical: [] };
  if (e === undefined) return out;
  const list = e.sequence('Extensions SEQUENCE');
  e.end('end of extensions [3]');
  // RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular extension."
  const duplicate = (oid: string, at: number): never => {
    throw new CertError(`certificate: extension ${oid}: expected each extension at most once (RFC 5280 §4.2), got a second one at byte ${at}`);
  };
  for (const { oid, critical, value } of readExtensions(list, '', duplicate)) {
    const read = EXTENSION_READERS.get(oid);
    if (read) {
      within(`extension ${oid}`, () => {
        read(value, critical, out);
        value.end(`end of extension ${oid}`);
      });
    }
    if (critical && !HANDLED_CRITICAL.has(oid)) out.unhandledCritical.push(oid);
  }
  return out;
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL } */
function readBasicConstraints(r: DerReader, critical: boolean, out: Extensions): void {
  const bc = r.sequence('BasicConstraints SEQUENCE');
  // An explicit cA FALSE breaks DER's DEFAULT rule but is common in the wild; accept it.
  const ca = bc.peek() === TAG.BOOLEAN ? bc.boolean('cA BOOLEAN') : false;
  const pathLen = bc.peek() === TAG.INTEGER ? bc.smallInteger('pathLenConstraint INTEGER') : undefined;
  bc.end('end of BasicConstraints');
  out.basicConstraints = Object.freeze(pathLen === undefined ? { ca, critical } : { ca, pathLen, critical });
}

/** KeyUsage ::= BIT STRING, named bits in RFC 5280 §4.2.1.3 order. */
function readKeyUsage(r: DerReader, _critical: boolean, out: Extensions): void {
  const { bytes } = r.bitString('KeyUsage BIT STRING');
  const usages = new Set<KeyUsage>();
  KEY_USAGE_BITS.forEach((name, bit) => {
    if (((bytes[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1) usages.add(name);
  });
  out.keyUsage = usages; // typed ReadonlySet; a Set cannot be frozen
}

/** ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId (RFC 5280 §4.2.1.12). */
function readExtKeyUsage(r: DerReader, _critical: boolean, out: Extensions): void {
  const seq = r.sequence('SEQUENCE of KeyPurposeId');
  if (seq.done) fail('at least one KeyPurposeId', 'an empty SEQUENCE', seq.offset);
  const oids: string[] = [];
  while (!seq.done) oids.push(seq.oid('KeyPurposeId OID'));
  out.extKeyUsage = Object.freeze(oids);
}

/** SubjectKeyIdentifier ::= KeyIdentifier ::= OCTET STRING (RFC 5280 §4.2.1.2). */
function readSubjectKeyId(r: DerReader, _critical: boolean, out: Extensions): void {
  out.subjectKeyId = r.octetString('KeyIdentifier OCTET STRING');
}

/** NameConstraints (RFC 5280 §4.2.1.10): only its presence is reported; the verifier decides. */
function readNameConstraints(r: DerReader, _critical: boolean, out: Extensions): void {
  r.sequence('NameConstraints SEQUENCE');
  out.hasNameConstraints = true;
}

/** AuthorityKeyIdentifier (RFC 5280 §4.2.1.1): keyIdentifier [0], certIssuer [1], serial [2]. */
function readAuthorityKeyId(r: DerReader, _critical: boolean, out: Extensions): void {
  const aki = r.sequence('AuthorityKeyIdentifier SEQUENCE');
  const keyId = aki.optional(contextTag(0, false));
  aki.optional(contextTag(1, true));
  aki.optional(contextTag(2, false));
  aki.end('end of AuthorityKeyIdentifier');
  if (keyId) out.authorityKeyId = keyId.value;
}

/** SubjectAltName ::= GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName (RFC 5280 §4.2.1.6). */
function readSubjectAltName(r: DerReader, _critical: boolean, out: Extensions): void {
  const seq = r.sequence('SEQUENCE of GeneralName');
  if (seq.done) fail('at least one GeneralName', 'an empty SEQUENCE', seq.offset);
  const names: SanEntry[] = [];
  while (!seq.done) names.push(Object.freeze(readGeneralName(seq)));
  out.san = Object.freeze(names);
}

/**
 * One GeneralName. The IA5String forms are read as latin1 without checking the character set:
 * RFC 9525 §6.3 says a malformed presented identifier is ignored by the matcher, not that the
 * whole certificate is unreadable.
 */
function readGeneralName(r: DerReader): SanEntry {
  const tlv = r.read();
  switch (tlv.tag) {
    case 0xa0:
      return readOtherName(r.into(tlv));
    case 0x81:
      return { type: 'email', value: tlv.value.toString('latin1') };
    case 0x82:
      return { type: 'dns', value: tlv.value.toString('latin1') };
    case 0x86:
      return { type: 'uri', value: tlv.value.toString('latin1') };
    case 0x87: {
      // In a SAN an iPAddress is 4 or 16 octets; 8 and 32 (with a mask) only occur in name constraints.
      if (tlv.value.length !== 4 && tlv.value.length !== 16) fail('an iPAddress of 4 or 16 bytes', `${tlv.value.length} bytes`, tlv.start);
      const bytes = tlv.value;
      return { type: 'ip', bytes, value: formatIp(bytes) };
    }
    case 0xa3:
      return { type: 'other', form: 'x400Address', oid: '' };
    case 0xa4:
      r.into(tlv).expect(TAG.SEQUENCE, 'directoryName Name SEQUENCE'); // Name is a CHOICE, so [4] is EXPLICIT
      return { type: 'other', form: 'directoryName', oid: '' };
    case 0xa5:
      return { type: 'other', form: 'ediPartyName', oid: '' };
    case 0x88:
      return { type: 'other', form: 'registeredID', oid: decodeOid(tlv) };
    default:
      return fail('a GeneralName ([0]..[8])', describeTag(tlv.tag), tlv.start);
  }
}

/** OtherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY } (the outer [0] is IMPLICIT). */
function readOtherName(r: DerReader): SanEntry {
  const oid = r.oid('otherName type-id OID');
  const value = r.explicit(0);
  if (value === undefined) fail('otherName value [0]', r.done ? 'end of otherName' : describeTag(r.peek()!), r.offset);
  r.end('end of otherName');
  if (oid !== OID.srvName) return { type: 'other', form: 'otherName', oid };
  // RFC 4985 §2: SRVName ::= IA5String (SIZE (1..MAX))
  const tlv = value.expect(TAG.IA5_STRING, 'SRVName IA5String');
  value.end('end of SRVName');
  if (tlv.value.length === 0) fail('a non-empty SRVName', 'an empty one', tlv.start);
  return { type: 'srv', value: decodeString(tlv) };
}

/** IPv4 dotted quad, or IPv6 in RFC 5952 form (lowercase, longest zero run as '::', v4-mapped as ::ffff:a.b.c.d). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.length !== 16) throw new RangeError(`formatIp: expected 4 or 16 bytes, got ${bytes.length}`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952 §5: v4-mapped addresses keep the dotted tail.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${bytes.subarray(12).join('.')}`;
  let best = -1;
  let bestLen = 1; // §4.2.2: a single zero group is not shortened
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
