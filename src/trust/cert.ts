// trust/cert.ts: parse an X.509 certificate (RFC 5280 §4.1, §4.2) into a frozen Cert.
//
// Only what the verifier and the diagnostics need is decoded. Signatures are not checked here:
// `tbs` is handed out for that. Everything is read with the strict reader in der.ts; Names are
// read by dn.ts, the key and signature algorithms by cert-algorithms.ts, the extensions by
// cert-extensions.ts. Their DerErrors get the context (where) added here.
import { createHash } from 'node:crypto';
import { DerError, DerReader, TAG, contextTag, decodeBitString, decodeInteger, mismatch } from './der.ts';
import { parseSignatureAlgorithm, parseSpki, type KeyType, type SignatureHash } from './cert-algorithms.ts';
import { EXTENSION_READERS, HANDLED_CRITICAL, type BasicConstraints, type Extensions, type KeyUsage, type SanEntry } from './cert-extensions.ts';
import { parseName } from './dn.ts';
import { readExtensions } from './extensions.ts';

/** Thrown for a certificate or PEM text that cannot be used; the message says expected / got / where. */
export class CertError extends Error {
  override name = 'CertError';
}

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
  readonly keyType: KeyType;
  readonly keyBits: number;
  readonly curveOid?: string;
  readonly basicConstraints?: BasicConstraints;
  readonly keyUsage?: ReadonlySet<KeyUsage>;
  readonly extKeyUsage?: readonly string[];
  readonly subjectKeyId?: Buffer;
  readonly authorityKeyId?: Buffer; // keyIdentifier [0] only
  readonly san: readonly SanEntry[];
  readonly hasNameConstraints: boolean;
  readonly unhandledCriticalExtensions: readonly string[];
  readonly pin: string; // 'sha256/' + base64(SHA-256(spki)), as in RFC 7469 §2.4
}

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
      if (version > 3) mismatch('version v1, v2 or v3 (0..2)', String(version - 1), at);
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
      if (uid && head.version < 2) mismatch(`no uniqueIdentifier in a v${head.version} certificate`, `[${n}]`, uid.start);
      if (uid) decodeBitString(uid);
    }
    const at = r.offset;
    const e = r.explicit(3);
    if (e && head.version < 3) mismatch(`no extensions in a v${head.version} certificate`, 'extensions [3]', at);
    r.end('end of TBSCertificate');
    return parseExtensions(e);
  });
  return { ...head, issuer, notBefore, notAfter, subject, spki, extensions };
}

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
