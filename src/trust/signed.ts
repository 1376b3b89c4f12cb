// trust/signed.ts: detached signature checks on DER-signed data (CRLs, OCSP responses): the
// signature algorithm read from its AlgorithmIdentifier (RFC 5758, RFC 4055, RFC 8410), weak or
// unknown ones refused by name, then node:crypto's verify against the signer's SPKI.
import crypto from 'node:crypto';
import { DerError, DerReader, TAG, describeTag, mismatch, type Tlv } from './der.ts';
import { HASH_OIDS } from './cert-algorithms.ts';


type Hash = 'sha256' | 'sha384' | 'sha512';

/** A signature algorithm tlsify will not check (weak, unknown, or parameters node:crypto cannot honour). */
class Refused extends Error {}
interface SigAlg {
  readonly name: string;
  readonly hash: Hash | null; // null: the algorithm fixes it (EdDSA)
  readonly keyTypes: readonly string[]; // KeyObject.asymmetricKeyType values it works with
  readonly params: 'absent' | 'null-or-absent';
}

// RFC 5758 §3.2 (ECDSA: parameters absent), RFC 4055 §5 (RSA: NULL), RFC 8410 §3 (EdDSA: absent).
const SIG_ALGS: ReadonlyMap<string, SigAlg> = new Map<string, SigAlg>([
  ['1.2.840.10045.4.3.2', { name: 'ecdsa-with-SHA256', hash: 'sha256', keyTypes: ['ec'], params: 'absent' }],
  ['1.2.840.10045.4.3.3', { name: 'ecdsa-with-SHA384', hash: 'sha384', keyTypes: ['ec'], params: 'absent' }],
  ['1.2.840.10045.4.3.4', { name: 'ecdsa-with-SHA512', hash: 'sha512', keyTypes: ['ec'], params: 'absent' }],
  ['1.2.840.113549.1.1.11', { name: 'sha256WithRSAEncryption', hash: 'sha256', keyTypes: ['rsa'], params: 'null-or-absent' }],
  ['1.2.840.113549.1.1.12', { name: 'sha384WithRSAEncryption', hash: 'sha384', keyTypes: ['rsa'], params: 'null-or-absent' }],
  ['1.2.840.113549.1.1.13', { name: 'sha512WithRSAEncryption', hash: 'sha512', keyTypes: ['rsa'], params: 'null-or-absent' }],
  ['1.3.101.112', { name: 'Ed25519', hash: null, keyTypes: ['ed25519'], params: 'absent' }],
  ['1.3.101.113', { name: 'Ed448', hash: null, keyTypes: ['ed448'], params: 'absent' }],
]);

const WEAK: ReadonlyMap<string, string> = new Map([
  ['1.2.840.113549.1.1.2', 'md2WithRSAEncryption'],
  ['1.2.840.113549.1.1.4', 'md5WithRSAEncryption'],
  ['1.2.840.113549.1.1.5', 'sha1WithRSAEncryption'],
  ['1.2.840.10045.4.1', 'ecdsa-with-SHA1'],
  ['1.2.840.10040.4.3', 'dsa-with-sha1'],
]);

const RSA_PSS = '1.2.840.113549.1.1.10';
const MGF1 = '1.2.840.113549.1.1.8';
/**
 * Checks a detached signature (CRL, OCSP response) over `data` with the key in `spki`; `signer`
 * names that key's owner in the message. Returns undefined when it verifies, else why not.
 * SHA-1 and MD5 are refused as weak, and so is anything not listed above.
 */
export function verifySignedData(data: Buffer, algorithmDer: Buffer, signature: Buffer, spki: Buffer, signer: string): string | undefined {
  let alg: ReturnType<typeof signatureAlgorithm>;
  try {
    alg = signatureAlgorithm(algorithmDer);
  } catch (e) {
    if (e instanceof DerError || e instanceof Refused) return `signature algorithm refused: ${e.message}`;
    throw e;
  }
  let key: crypto.KeyObject;
  try {
    key = crypto.createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch {
    return `node:crypto cannot load the key of ${signer}`;
  }
  const keyType = key.asymmetricKeyType ?? 'unknown';
  if (!alg.keyTypes.includes(keyType)) return `signature algorithm ${alg.name}: expected a ${alg.keyTypes.join(' or ')} key, got the ${keyType} key of ${signer}`;
  const pss = alg.saltLength !== undefined ? { padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: alg.saltLength } : {};
  let ok: boolean;
  try {
    ok = crypto.verify(alg.hash, data, { key, ...pss }, signature);
  } catch {
    ok = false; // e.g. an ECDSA signature that is not a DER SEQUENCE of two INTEGERs
  }
  return ok ? undefined : `its ${alg.name} signature does not verify with the key of ${signer}`;
}

function signatureAlgorithm(der: Buffer): { name: string; hash: Hash | null; keyTypes: readonly string[]; saltLength?: number } {
  const r = new DerReader(der).sequence('AlgorithmIdentifier SEQUENCE');
  const oid = r.oid('algorithm OID');
  const params = r.done ? undefined : r.read();
  r.end('end of AlgorithmIdentifier');
  const weak = WEAK.get(oid);
  if (weak) throw new Refused(`expected SHA-256 or stronger, got ${weak}, which is weak`);
  if (oid === RSA_PSS) return pssParams(params);
  const alg = SIG_ALGS.get(oid);
  if (!alg) throw new Refused(`expected ECDSA, RSA (PKCS #1 v1.5 or PSS) or EdDSA with SHA-256/384/512, got OID ${oid}`);
  if (params && !(alg.params === 'null-or-absent' && params.tag === TAG.NULL && params.value.length === 0)) {
    mismatch(`${alg.params === 'absent' ? 'no parameters' : 'NULL parameters'} for ${alg.name}`, describeTag(params.tag), params.start);
  }
  return alg;
}

/**
 * RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] DEFAULT sha1, maskGenAlgorithm [1] DEFAULT
 * mgf1SHA1, saltLength [2] INTEGER DEFAULT 20, trailerField [3] INTEGER DEFAULT 1 } (RFC 4055 §3.1).
 * node:crypto's verify cannot set a separate MGF1 hash, so it must equal the message hash.
 */
function pssParams(params: Tlv | undefined): { name: string; hash: Hash; keyTypes: readonly string[]; saltLength: number } {
  if (!params || params.tag !== TAG.SEQUENCE) return mismatch('RSASSA-PSS-params SEQUENCE', params ? describeTag(params.tag) : 'no parameters', params?.start ?? 0);
  const p = new DerReader(params.raw).sequence('RSASSA-PSS-params SEQUENCE');
  const hashOf = (r: DerReader | undefined, what: string): string => {
    if (!r) return 'sha1';
    const a = r.sequence(`${what} SEQUENCE`);
    const oid = a.oid(`${what} OID`);
    if (!a.done) a.null(`${what} parameters NULL`);
    return HASH_OIDS.get(oid) ?? `OID ${oid}`;
  };
  const hash = hashOf(p.explicit(0), 'hashAlgorithm');
  const mgf = p.explicit(1);
  let mgfHash = 'sha1';
  if (mgf) {
    const m = mgf.sequence('maskGenAlgorithm SEQUENCE');
    const mgfOid = m.oid('maskGenAlgorithm OID');
    if (mgfOid !== MGF1) throw new Refused(`expected MGF1 for RSASSA-PSS, got OID ${mgfOid}`);
    mgfHash = hashOf(m, 'MGF1 hash');
  }
  const salt = p.explicit(2);
  const saltLength = salt ? salt.smallInteger('saltLength INTEGER') : 20;
  const trailer = p.explicit(3);
  const trailerField = trailer ? trailer.smallInteger('trailerField INTEGER') : 1;
  if (trailerField !== 1) throw new Refused(`expected RSASSA-PSS trailerField 1 (RFC 4055 §3.1), got ${trailerField}`);
  p.end('end of RSASSA-PSS-params');
  if (hash === 'sha1' || hash === 'md5') throw new Refused(`expected SHA-256 or stronger, got RSASSA-PSS with ${hash}, which is weak`);
  if (hash !== 'sha256' && hash !== 'sha384' && hash !== 'sha512') throw new Refused(`expected RSASSA-PSS with SHA-256/384/512, got ${hash}`);
  if (mgfHash !== hash) throw new Refused(`expected the MGF1 hash to equal the RSASSA-PSS hash ${hash}, got ${mgfHash}`);
  return { name: `RSASSA-PSS with ${hash}`, hash, keyTypes: ['rsa', 'rsa-pss'], saltLength };
}
