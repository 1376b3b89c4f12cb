// ocsp.ts: check a stapled OCSP response (RFC 6960 §4.2, §4.2.2.2) for the leaf, and read the
// TLS Feature "must staple" extension (RFC 7633). Node hands the staple over unverified (facts §5.5).
//
// Nothing here throws for a bad response: every problem becomes { status: 'unusable', reason },
// so the caller decides what a missing or broken staple means for the connection.
import crypto from 'node:crypto';
import { CertError, parseCertificate, type Cert } from './cert.ts';
import { bitStringOctets, certExtension, readCrlReason, serialOf, type CrlReason } from './crl.ts';
import { verifySignedData } from './signed.ts';
import { readExtensions } from './extensions.ts';
import { DerError, DerReader, TAG, contextTag, decodeInteger, decodeTime, describeTag, type Tlv } from './der.ts';

export type OcspResult =
  | {
      readonly status: 'good' | 'revoked' | 'unknown';
      readonly thisUpdate: Date;
      readonly nextUpdate?: Date;
      readonly revokedAt?: Date;
      readonly revocationReason?: CrlReason;
      readonly producedAt: Date;
      readonly responder: 'issuer' | 'delegated';
    }
  | { readonly status: 'unusable'; readonly reason: string };

const OID = {
  ocspBasic: '1.3.6.1.5.5.7.48.1.1',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
  tlsFeature: '1.3.6.1.5.5.7.1.24',
} as const;

// RFC 6960 §4.2.1 OCSPResponseStatus; 4 is not used.
const RESPONSE_STATUS = ['successful', 'malformedRequest', 'internalError', 'tryLater', undefined, 'sigRequired', 'unauthorized'];

// CertID hash algorithms: RFC 6960 §4.1.1 examples use SHA-1, RFC 5019 §2.1.1 too; SHA-256 is
// common since. The hash only names the certificate here; the response signature carries trust.
const CERT_ID_HASHES: ReadonlyMap<string, string> = new Map([
  ['1.3.14.3.2.26', 'sha1'],
  ['2.16.840.1.101.3.4.2.1', 'sha256'],
  ['2.16.840.1.101.3.4.2.2', 'sha384'],
  ['2.16.840.1.101.3.4.2.3', 'sha512'],
]);

const SKEW_MS = 5 * 60_000;
// RFC 6960 §4.2.2.1: without nextUpdate, "newer revocation information is available all the
// time", which gives no bound at all. We bound it ourselves: a staple whose thisUpdate is more than
// 7 days old is refused. 7 days is the CA/Browser Forum Baseline Requirements' limit (§4.9.10) on
// how long an OCSP response for a subscriber certificate may be valid, so no honest staple needs more.
const NO_NEXT_UPDATE_MAX_AGE_MS = 7 * 86_400_000;

const ENUMERATED = 0x0a;

/** Raised inside the check to stop with a reason; never escapes checkOcspStaple. */
class Unusable extends Error {}

function unusable(reason: string): never {
  throw new Unusable(reason);
}

/**
 * Checks the DER of a stapled OCSP response for `leaf`, whose issuer on the validated path is
 * `issuer`, at time `now`. Nothing stapled (node:tls hands over null) is the caller's case.
 */
export function checkOcspStaple(der: Buffer, leaf: Cert, issuer: Cert, now: Date): OcspResult {
  try {
    return check(Buffer.from(der), leaf, issuer, now);
  } catch (e) {
    if (e instanceof Unusable) return { status: 'unusable', reason: e.message };
    if (e instanceof DerError || e instanceof CertError) return { status: 'unusable', reason: `malformed OCSP response: ${e.message}` };
    throw e;
  }
}

function check(buf: Buffer, leaf: Cert, issuer: Cert, now: Date): OcspResult {
  const basic = readBasicResponse(buf);
  const data = readResponseData(basic.tbs);
  const responder = authenticate(basic, data.responderId, issuer, now);
  const single = findSingleResponse(data.responses, leaf, issuer);
  const { thisUpdate, nextUpdate } = single;
  // RFC 6960 §3.2 (5), (6): thisUpdate sufficiently recent, nextUpdate not passed; both with skew.
  if (thisUpdate.getTime() > now.getTime() + SKEW_MS) {
    unusable(`OCSP response not yet valid: expected thisUpdate at or before now (${iso(now)}) + 5 min, got ${iso(thisUpdate)}`);
  }
  if (nextUpdate && nextUpdate < thisUpdate) unusable(`OCSP response: expected nextUpdate after thisUpdate ${iso(thisUpdate)}, got ${iso(nextUpdate)}`);
  if (nextUpdate && now.getTime() > nextUpdate.getTime() + SKEW_MS) {
    unusable(`OCSP response stale: expected nextUpdate at or after now (${iso(now)}) - 5 min, got ${iso(nextUpdate)}`);
  }
  if (!nextUpdate && now.getTime() - thisUpdate.getTime() > NO_NEXT_UPDATE_MAX_AGE_MS) {
    unusable(`OCSP response stale: it has no nextUpdate, so expected thisUpdate within 7 days before now (${iso(now)}), got ${iso(thisUpdate)}`);
  }
  return Object.freeze({
    status: single.status,
    thisUpdate,
    ...(nextUpdate && { nextUpdate }),
    ...(single.revokedAt && { revokedAt: single.revokedAt }),
    ...(single.reason && { revocationReason: single.reason }),
    producedAt: data.producedAt,
    responder,
  });
}

interface BasicResponse {
  tbs: Tlv; // tbsResponseData, what the signature covers
  algorithm: Buffer;
  signature: Buffer;
  certs: Cert[];
}

/** OCSPResponse (§4.2.1) down to the BasicOCSPResponse it carries. */
function readBasicResponse(buf: Buffer): BasicResponse {
  const outer = new DerReader(buf);
  const response = outer.sequence('OCSPResponse SEQUENCE');
  outer.end('end of OCSP response');
  const statusTlv = response.expect(ENUMERATED, 'responseStatus ENUMERATED');
  const status = decodeInteger(statusTlv);
  if (status !== 0n) {
    const name = status >= 0n && status < BigInt(RESPONSE_STATUS.length) ? RESPONSE_STATUS[Number(status)] : undefined;
    unusable(`OCSP response: expected responseStatus successful (0), got ${name ?? 'unknown'} (${status})`);
  }
  const bytes = response.explicit(0);
  if (!bytes) unusable('OCSP response: expected responseBytes after a successful responseStatus, got none');
  response.end('end of OCSPResponse');
  const rb = bytes.sequence('ResponseBytes SEQUENCE');
  bytes.end('end of responseBytes [0]');
  const type = rb.oid('responseType OID');
  if (type !== OID.ocspBasic) unusable(`OCSP response: expected responseType id-pkix-ocsp-basic (${OID.ocspBasic}), got ${type}`);
  const octets = rb.expect(TAG.OCTET_STRING, 'response OCTET STRING');
  rb.end('end of ResponseBytes');
  const inner = rb.into(octets);
  const b = inner.sequence('BasicOCSPResponse SEQUENCE');
  inner.end('end of the response OCTET STRING');
  const tbs = b.expect(TAG.SEQUENCE, 'tbsResponseData SEQUENCE');
  const algorithm = b.expect(TAG.SEQUENCE, 'signatureAlgorithm SEQUENCE').raw;
  const signature = bitStringOctets(b.expect(TAG.BIT_STRING, 'signature BIT STRING'), 'signature');
  const certs: Cert[] = [];
  const list = b.explicit(0);
  if (list) {
    const seq = list.sequence('certs SEQUENCE');
    list.end('end of certs [0]');
    while (!seq.done) certs.push(parseCertificate(seq.expect(TAG.SEQUENCE, 'Certificate SEQUENCE').raw));
  }
  b.end('end of BasicOCSPResponse');
  return { tbs, algorithm, signature, certs };
}

type ResponderId = { byName: Buffer } | { byKey: Buffer };

interface SingleResponse {
  certId: { hashOid: string; nameHash: Buffer; keyHash: Buffer; serialHex: string };
  status: 'good' | 'revoked' | 'unknown';
  revokedAt?: Date;
  reason?: CrlReason;
  thisUpdate: Date;
  nextUpdate?: Date;
}

/** ResponseData ::= SEQUENCE { version [0] DEFAULT v1, responderID, producedAt, responses, responseExtensions [1] } */
function readResponseData(tbs: Tlv): { responderId: ResponderId; producedAt: Date; responses: SingleResponse[] } {
  const r = new DerReader(tbs.raw).sequence('ResponseData SEQUENCE');
  const v = r.explicit(0);
  if (v) {
    const at = v.offset;
    const version = v.smallInteger('version INTEGER');
    v.end('end of version [0]');
    if (version !== 0) unusable(`OCSP response: expected ResponseData version v1 (0), got ${version} at byte ${at}`);
  }
  const responderId = readResponderId(r);
  const producedAt = generalizedTime(r, 'producedAt');
  const list = r.sequence('responses SEQUENCE');
  const responses: SingleResponse[] = [];
  while (!list.done) responses.push(readSingleResponse(list.sequence('SingleResponse SEQUENCE')));
  const ext = r.explicit(1);
  if (ext) {
    refuseCritical(ext.sequence('responseExtensions SEQUENCE'), 'responseExtensions');
    ext.end('end of responseExtensions [1]');
  }
  r.end('end of ResponseData');
  return { responderId, producedAt, responses };
}

/** ResponderID ::= CHOICE { byName [1] Name, byKey [2] KeyHash } (explicit tags, §4.2.1). */
function readResponderId(r: DerReader): ResponderId {
  const byName = r.explicit(1);
  if (byName) {
    const name = byName.expect(TAG.SEQUENCE, 'responderID byName Name SEQUENCE');
    byName.end('end of responderID byName');
    return { byName: name.raw };
  }
  const byKey = r.explicit(2);
  if (!byKey) return unusable(`OCSP response: expected responderID byName [1] or byKey [2], got ${r.done ? 'end of data' : describeTag(r.peek()!)}`);
  const hash = byKey.octetString('responderID byKey KeyHash OCTET STRING');
  byKey.end('end of responderID byKey');
  return { byKey: hash };
}

/** SingleResponse (§4.2.1): certID, certStatus, thisUpdate, nextUpdate [0], singleExtensions [1]. */
function readSingleResponse(r: DerReader): SingleResponse {
  const id = r.sequence('CertID SEQUENCE');
  const alg = id.sequence('hashAlgorithm SEQUENCE');
  const hashOid = alg.oid('hashAlgorithm OID');
  if (!alg.done) alg.null('hashAlgorithm parameters NULL');
  alg.end('end of hashAlgorithm');
  const nameHash = id.octetString('issuerNameHash OCTET STRING');
  const keyHash = id.octetString('issuerKeyHash OCTET STRING');
  const serialTlv = id.expect(TAG.INTEGER, 'serialNumber INTEGER');
  decodeInteger(serialTlv);
  id.end('end of CertID');
  const certId = { hashOid, nameHash, keyHash, serialHex: serialOf(serialTlv) };

  // CertStatus ::= CHOICE { good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo, unknown [2] IMPLICIT NULL }
  const at = r.offset;
  const statusTlv = r.read();
  let status: SingleResponse['status'];
  let revokedAt: Date | undefined;
  let reason: CrlReason | undefined;
  if (statusTlv.tag === contextTag(0, false) || statusTlv.tag === contextTag(2, false)) {
    if (statusTlv.value.length !== 0) unusable(`malformed OCSP response: expected an empty NULL in certStatus, got ${statusTlv.value.length} bytes at byte ${at}`);
    status = statusTlv.tag === contextTag(0, false) ? 'good' : 'unknown';
  } else if (statusTlv.tag === contextTag(1, true)) {
    status = 'revoked';
    const info = r.into(statusTlv);
    revokedAt = generalizedTime(info, 'revocationTime');
    const why = info.explicit(0);
    if (why) {
      reason = readCrlReason(why);
      why.end('end of revocationReason [0]');
    }
    info.end('end of RevokedInfo');
  } else {
    return unusable(`malformed OCSP response: expected certStatus good [0], revoked [1] or unknown [2], got ${describeTag(statusTlv.tag)} at byte ${at}`);
  }
  const thisUpdate = generalizedTime(r, 'thisUpdate');
  const next = r.explicit(0);
  const nextUpdate = next && generalizedTime(next, 'nextUpdate');
  next?.end('end of nextUpdate [0]');
  const ext = r.explicit(1);
  if (ext) {
    refuseCritical(ext.sequence('singleExtensions SEQUENCE'), 'singleExtensions');
    ext.end('end of singleExtensions [1]');
  }
  r.end('end of SingleResponse');
  return { certId, status, thisUpdate, ...(revokedAt && { revokedAt }), ...(reason && { reason }), ...(nextUpdate && { nextUpdate }) };
}

/** RFC 6960 §4.4 lists only non-critical extensions; a critical one we do not know makes the response unusable. */
function refuseCritical(list: DerReader, what: string): void {
  for (const x of readExtensions(list, what)) {
    if (x.critical) unusable(`OCSP response: expected only non-critical ${what}, got critical extension ${x.oid}`);
  }
}

// X.690 §11.7 DER GeneralizedTime: Zulu, '.' before a fraction that has no trailing zeros.
const FRACTION = /^(\d{14})\.(\d*[1-9])Z$/;

/**
 * RFC 6960 times are GeneralizedTime (§4.2.1). Unlike RFC 5280 §4.1.2.5.2 it does not forbid
 * fractional seconds, and responders built on asn1js write them (OpenSSL and Go read them), so a
 * DER fraction is accepted here; everything else follows der.ts's RFC 5280 rules.
 */
function generalizedTime(r: DerReader, what: string): Date {
  const tlv = r.expect(TAG.GENERALIZED_TIME, `${what} GeneralizedTime`);
  const m = FRACTION.exec(tlv.value.toString('latin1'));
  if (!m) return decodeTime(tlv);
  const whole = decodeTime({ ...tlv, value: Buffer.from(`${m[1]}Z`, 'latin1') });
  return new Date(whole.getTime() + Number(m[2]!.padEnd(3, '0').slice(0, 3))); // milliseconds; finer is dropped
}

/**
 * RFC 6960 §4.2.2.2: the signer is the issuer itself, or a certificate in `certs` that the issuer
 * signed and that carries id-kp-OCSPSigning. The responderID says which key signed (as OpenSSL's
 * OCSP_basic_verify finds the signer by it), and the signature must verify with that key.
 */
function authenticate(basic: BasicResponse, id: ResponderId, issuer: Cert, now: Date): 'issuer' | 'delegated' {
  const names = (c: Cert): boolean => ('byName' in id ? id.byName.equals(c.subjectDer) : id.byKey.equals(keyHash(c, 'sha1')));
  let signer: Cert;
  let responder: 'issuer' | 'delegated';
  if (names(issuer)) {
    [signer, responder] = [issuer, 'issuer'];
  } else {
    const delegate = basic.certs.find(names);
    const shown = 'byName' in id ? `byName (a name that is not '${issuer.subject}')` : `byKey ${id.byKey.toString('hex')}`;
    if (!delegate) unusable(`OCSP response: expected it signed by the issuer '${issuer.subject}' or a responder certificate it includes, got responderID ${shown}, which names neither`);
    const problem = delegationProblem(delegate, issuer, now);
    if (problem) unusable(`OCSP responder '${delegate.subject}' ${problem}`);
    [signer, responder] = [delegate, 'delegated'];
  }
  const bad = verifySignedData(basic.tbs.raw, basic.algorithm, basic.signature, signer.spki, `'${signer.subject}'`);
  if (bad) unusable(`OCSP response signature: ${bad}`);
  return responder;
}

/**
 * Why `responder` may not answer for `issuer`'s certificates (RFC 6960 §4.2.2.2), or undefined.
 * The responder's own revocation status is not checked (§4.2.2.2.1 leaves it to local policy,
 * and CAs mark such certificates id-pkix-ocsp-nocheck); its short life is what limits the risk.
 */
function delegationProblem(responder: Cert, issuer: Cert, now: Date): string | undefined {
  if (!responder.extKeyUsage?.includes(OID.ocspSigning)) {
    return `is not authorised: expected extended key usage id-kp-OCSPSigning (${OID.ocspSigning}), got ${responder.extKeyUsage ? responder.extKeyUsage.join(', ') : 'no extended key usage'}`;
  }
  if (!responder.issuerDer.equals(issuer.subjectDer)) return `is not authorised: expected it issued by '${issuer.subject}', got issuer '${responder.issuer}'`;
  if (responder.signatureHash === 'sha1' || responder.signatureHash === 'md5') return `is signed with ${responder.signatureHash.toUpperCase()}, which is refused`;
  if (!signedBy(responder, issuer)) return `is not authorised: its signature does not verify with the key of '${issuer.subject}'`;
  if (now < responder.notBefore || now > responder.notAfter) {
    return `is not valid now (${iso(now)}): expected ${iso(responder.notBefore)} to ${iso(responder.notAfter)}`;
  }
  if (responder.unhandledCriticalExtensions.length > 0) return `has critical extensions tlsify does not handle: ${responder.unhandledCriticalExtensions.join(', ')}`;
  return undefined;
}

function signedBy(child: Cert, issuer: Cert): boolean {
  try {
    return new crypto.X509Certificate(child.der).verify(crypto.createPublicKey({ key: issuer.spki, format: 'der', type: 'spki' }));
  } catch {
    return false;
  }
}

/** The SingleResponse whose CertID (§4.1.1) names `leaf`, hashing the issuer's name and key as it asks. */
function findSingleResponse(responses: readonly SingleResponse[], leaf: Cert, issuer: Cert): SingleResponse {
  const hashes = new Map<string, { name: Buffer; key: Buffer }>();
  for (const single of responses) {
    const { hashOid, nameHash, keyHash: kh, serialHex } = single.certId;
    const hash = CERT_ID_HASHES.get(hashOid);
    if (!hash || serialHex !== leaf.serialHex) continue;
    let mine = hashes.get(hash);
    if (!mine) {
      // issuerNameHash: the hash of the issuer's DN as the leaf encodes it; issuerKeyHash: of
      // the issuer's subjectPublicKey BIT STRING value, without tag, length and unused-bits byte.
      mine = { name: crypto.createHash(hash).update(leaf.issuerDer).digest(), key: keyHash(issuer, hash) };
      hashes.set(hash, mine);
    }
    if (mine.name.equals(nameHash) && mine.key.equals(kh)) return single;
  }
  const got = responses.length === 0 ? 'no SingleResponse' : `SingleResponses for ${responses.map(describeCertId).join(', ')}`;
  return unusable(`OCSP response: expected a SingleResponse for serial ${leaf.serialHex} issued by '${issuer.subject}', got ${got}`);
}

function describeCertId(s: SingleResponse): string {
  const hash = CERT_ID_HASHES.get(s.certId.hashOid) ?? `unsupported hash ${s.certId.hashOid}`;
  return `serial ${s.certId.serialHex} (${hash})`;
}

/** Hash of the subjectPublicKey BIT STRING contents (RFC 6960 §4.1.1 issuerKeyHash, §4.2.1 KeyHash). */
function keyHash(cert: Cert, hash: string): Buffer {
  const spki = new DerReader(cert.spki).sequence('SubjectPublicKeyInfo SEQUENCE');
  spki.read(); // algorithm
  const key = spki.bitString('subjectPublicKey BIT STRING');
  return crypto.createHash(hash).update(key.bytes).digest();
}

/**
 * RFC 7633 §4.2: does `cert` carry the TLS Feature extension with status_request (5)? Then a
 * client must get a stapled OCSP response ("must staple"). An extension that cannot be read counts
 * as must-staple: the CA asked for something, and failing closed is the safe reading.
 */
export function mustStaple(cert: Cert): boolean {
  let ext: ReturnType<typeof certExtension>;
  try {
    ext = certExtension(cert, OID.tlsFeature);
    if (!ext) return false;
    // Features ::= SEQUENCE OF INTEGER (RFC 7633 §6)
    const features = ext.value.sequence('Features SEQUENCE');
    while (!features.done) if (features.integer('TLS feature INTEGER') === 5n) return true;
    ext.value.end('end of TLS Feature extension');
    return false;
  } catch (e) {
    if (e instanceof DerError) return true;
    throw e;
  }
}

function iso(d: Date): string {
  return d.toISOString().replace(/\.000Z$/, 'Z');
}
