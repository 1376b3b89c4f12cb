// trust/cert-algorithms.ts: a certificate's algorithms: the subject key (SubjectPublicKeyInfo,
// RFC 5280 §4.1.2.7) with the size the policy needs, and the signature's hash (RFC 3279, RFC 4055).
import { TAG, decodeInteger, decodeOid, describeTag, mismatch, type DerReader, type Tlv } from './der.ts';

export type SignatureHash = 'md5' | 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512' | 'intrinsic' | 'unknown';

export type KeyType = 'rsa' | 'ec' | 'ed25519' | 'ed448' | 'dsa' | 'other';

const OID = {
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsaPss: '1.2.840.113549.1.1.10',
  ecPublicKey: '1.2.840.10045.2.1',
  dsa: '1.2.840.10040.4.1',
  ed25519: '1.3.101.112',
  ed448: '1.3.101.113',
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

/** Hash algorithm identifiers, for RSASSA-PSS parameters (RFC 4055 §2.1, §3.1); signed.ts reads them too. */
export const HASH_OIDS: ReadonlyMap<string, 'md5' | 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512'> = new Map([
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

export interface Spki {
  readonly der: Buffer;
  readonly keyType: KeyType;
  readonly keyBits: number;
  readonly curveOid?: string;
}

/** SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) and the key size the policy needs. */
export function parseSpki(r: DerReader): Spki {
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
  if (decodeInteger(tlv) <= 0n) mismatch('a positive INTEGER', 'zero or a negative one', tlv.start);
  const v = tlv.value;
  return (v.length - 1) * 8 + (32 - Math.clz32(v[0]!));
}

/** AlgorithmIdentifier of the signature; RSASSA-PSS names its hash in the parameters. */
export function parseSignatureAlgorithm(r: DerReader): { oid: string; hash: SignatureHash } {
  const oid = r.oid('algorithm OID');
  const params = r.done ? undefined : r.read();
  r.end('end of AlgorithmIdentifier');
  if (oid !== OID.rsaPss) return { oid, hash: SIGNATURE_HASH.get(oid) ?? 'unknown' };
  // RFC 4055 §3.1: RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] DEFAULT sha1, ... }
  if (params === undefined || params.tag !== TAG.SEQUENCE) {
    return mismatch('RSASSA-PSS-params SEQUENCE', params ? describeTag(params.tag) : 'no parameters', params?.start ?? r.offset);
  }
  const hashAlg = r.into(params).explicit(0);
  if (hashAlg === undefined) return { oid, hash: 'sha1' };
  const hashOid = hashAlg.sequence('HashAlgorithm SEQUENCE').oid('hash OID');
  return { oid, hash: HASH_OIDS.get(hashOid) ?? 'unknown' };
}

/** A schema mismatch inside DER that is itself well formed; the caller's context is added by cert.ts. */
