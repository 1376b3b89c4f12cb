// crl.ts: X.509 CRLs (RFC 5280 §5) read with der.ts, and the revocation check of a validated path
// against them (RFC 5280 §6.3, for complete, direct CRLs; delta and indirect CRLs are refused).
//
// Also here, shared with ocsp.ts: access to a certificate's raw extensions (`certExtension`),
// which cert.ts does not expose. Signatures are checked by signed.ts.
import fs from 'node:fs';
import { TlsifyError } from '../codes.ts';
import { CertError, type Cert } from './cert.ts';
import { pemBlocks } from './pem.ts';
import { DerError, DerReader, TAG, contextTag, decodeBitString, decodeBoolean, decodeInteger, describeTag, mismatch, type Tlv } from './der.ts';
import { readExtensions, type RawExtension } from './extensions.ts';
import { verifySignedData } from './signed.ts';

/** A CRL that cannot be used at all; the message says expected / got / at which byte. */
export class CrlError extends Error {
  override name = 'CrlError';
}

// RFC 5280 §5.3.1 CRLReason; 7 is not used.
const REASONS = ['unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'certificateHold', undefined, 'removeFromCRL', 'privilegeWithdrawn', 'aACompromise'] as const;
export type CrlReason = Exclude<(typeof REASONS)[number], undefined>;

export interface RevokedEntry {
  readonly serialHex: string; // normalised like Cert.serialHex
  readonly revokedAt: Date;
  readonly reason?: CrlReason;
}

/** What issuingDistributionPoint (RFC 5280 §5.2.5) says the CRL covers; all false/absent for a full CRL. */
export interface CrlScope {
  readonly distributionPoints?: readonly Buffer[]; // fullName GeneralNames, each as its DER
  readonly onlyUserCerts: boolean;
  readonly onlyCaCerts: boolean;
  readonly onlySomeReasons: boolean;
}

export interface Crl {
  readonly der: Buffer;
  readonly tbs: Buffer; // TBSCertList DER, what the signature covers
  readonly issuerDer: Buffer;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  readonly crlNumber?: bigint;
  readonly revoked: ReadonlyMap<string, RevokedEntry>; // by serialHex
  readonly scope: CrlScope;
  readonly signatureAlgorithm: Buffer; // the AlgorithmIdentifier DER, parameters included
  readonly signature: Buffer;
}

export type RevocationResult =
  | { readonly depth: number; readonly status: 'revoked'; readonly revokedAt: Date; readonly reason?: CrlReason; readonly detail: string }
  | { readonly depth: number; readonly status: 'good' | 'no-crl' | 'unusable'; readonly detail: string };

const EXT = {
  crlNumber: '2.5.29.20',
  reasonCode: '2.5.29.21',
  deltaCrlIndicator: '2.5.29.27',
  issuingDistributionPoint: '2.5.29.28',
  certificateIssuer: '2.5.29.29',
  crlDistributionPoints: '2.5.29.31',
} as const;

const ENUMERATED = 0x0a;


/** Parses one DER CRL. The input is copied, so the returned views cannot change under it. */
export function parseCrl(der: Uint8Array): Crl {
  try {
    return parse(Buffer.from(der));
  } catch (e) {
    if (e instanceof DerError) throw new CrlError(e.message);
    throw e;
  }
}

function parse(buf: Buffer): Crl {
  const outer = new DerReader(buf);
  const listTlv = outer.expect(TAG.SEQUENCE, 'CertificateList SEQUENCE');
  outer.end('end of CRL');
  const list = outer.into(listTlv);
  const tbsTlv = list.expect(TAG.SEQUENCE, 'TBSCertList SEQUENCE');
  const algTlv = list.expect(TAG.SEQUENCE, 'signatureAlgorithm SEQUENCE');
  const sigTlv = list.expect(TAG.BIT_STRING, 'signatureValue BIT STRING');
  list.end('end of CertificateList');

  const t = list.into(tbsTlv);
  let version = 1;
  if (t.peek() === TAG.INTEGER) {
    const at = t.offset;
    version = t.smallInteger('version INTEGER') + 1;
    // §5.1.2.1: when present, version MUST be v2.
    if (version !== 2) mismatch('version v2 (1) when present', `${version - 1}`, at);
  }
  const innerAlg = t.expect(TAG.SEQUENCE, 'signature AlgorithmIdentifier SEQUENCE');
  // §5.1.1.2: the outer signatureAlgorithm MUST equal the one inside the signed part.
  if (!innerAlg.raw.equals(algTlv.raw)) mismatch('signatureAlgorithm equal to TBSCertList.signature (RFC 5280 §5.1.1.2)', 'a different one', algTlv.start);
  const issuerTlv = t.expect(TAG.SEQUENCE, 'issuer Name SEQUENCE');
  // §5.1.2.3: the issuer field MUST contain a non-empty distinguished name.
  if (issuerTlv.value.length === 0) mismatch('a non-empty issuer Name', 'an empty one', issuerTlv.start);
  const thisUpdate = t.time('thisUpdate UTCTime or GeneralizedTime');
  const next = t.peek();
  const nextUpdate = next === TAG.UTC_TIME || next === TAG.GENERALIZED_TIME ? t.time('nextUpdate UTCTime or GeneralizedTime') : undefined;
  const revoked = new Map<string, RevokedEntry>();
  const entries = t.optional(TAG.SEQUENCE);
  if (entries) {
    const e = t.into(entries);
    while (!e.done) {
      const entry = readEntry(e, version);
      if (!revoked.has(entry.serialHex)) revoked.set(entry.serialHex, entry);
    }
  }
  const extAt = t.offset;
  const ext = t.explicit(0);
  t.end('end of TBSCertList');
  if (ext && version < 2) mismatch('no crlExtensions in a v1 CRL', 'crlExtensions [0]', extAt);
  const { crlNumber, scope } = readCrlExtensions(ext);
  return Object.freeze({
    der: listTlv.raw,
    tbs: tbsTlv.raw,
    issuerDer: issuerTlv.raw,
    thisUpdate,
    ...(nextUpdate && { nextUpdate }),
    ...(crlNumber !== undefined && { crlNumber }),
    revoked,
    scope,
    signatureAlgorithm: algTlv.raw,
    signature: bitStringOctets(sigTlv, 'signatureValue'),
  });
}

/** One revokedCertificates entry (§5.1.2.6) with its entry extensions (§5.3). */
function readEntry(e: DerReader, version: number): RevokedEntry {
  const s = e.sequence('revoked certificate SEQUENCE');
  const serialTlv = s.expect(TAG.INTEGER, 'userCertificate INTEGER');
  decodeInteger(serialTlv); // minimal encoding
  const serialHex = serialOf(serialTlv);
  const revokedAt = s.time('revocationDate UTCTime or GeneralizedTime');
  let reason: CrlReason | undefined;
  if (!s.done) {
    if (version < 2) mismatch('no crlEntryExtensions in a v1 CRL', describeTag(s.peek()!), s.offset);
    for (const x of readExtensions(s.sequence('crlEntryExtensions SEQUENCE'), 'crlEntryExtensions')) {
      if (x.oid === EXT.reasonCode) reason = readCrlReason(x.value);
      else if (x.oid === EXT.certificateIssuer) mismatch('a direct CRL', 'an entry with certificateIssuer (an indirect CRL, RFC 5280 §5.3.3), which tlsify does not use', x.at);
      else if (x.critical) mismatch('only critical entry extensions tlsify handles', `critical extension ${x.oid}`, x.at);
    }
  }
  s.end('end of revoked certificate');
  return Object.freeze(reason === undefined ? { serialHex, revokedAt } : { serialHex, revokedAt, reason });
}

/** crlExtensions (§5.2): CRL number, issuingDistributionPoint; delta CRLs and unknown critical ones refused. */
function readCrlExtensions(ext: DerReader | undefined): { crlNumber?: bigint; scope: CrlScope } {
  let crlNumber: bigint | undefined;
  let scope: CrlScope = { onlyUserCerts: false, onlyCaCerts: false, onlySomeReasons: false };
  if (!ext) return { scope: Object.freeze(scope) };
  const list = ext.sequence('crlExtensions SEQUENCE');
  ext.end('end of crlExtensions [0]');
  for (const x of readExtensions(list, 'crlExtensions')) {
    if (x.oid === EXT.deltaCrlIndicator) mismatch('a complete CRL', 'a delta CRL (deltaCRLIndicator, RFC 5280 §5.2.4), which tlsify does not use', x.at);
    if (x.oid === EXT.crlNumber) crlNumber = x.value.integer('CRLNumber INTEGER');
    else if (x.oid === EXT.issuingDistributionPoint) scope = readIdp(x.value);
    else if (x.critical) mismatch('only critical CRL extensions tlsify handles', `critical extension ${x.oid}`, x.at);
    else continue; // RFC 5280 §5.2: a non-critical extension we do not know is ignored
    x.value.end(`end of extension ${x.oid}`);
  }
  return { ...(crlNumber !== undefined && { crlNumber }), scope: Object.freeze(scope) };
}

/**
 * IssuingDistributionPoint ::= SEQUENCE { distributionPoint [0] DistributionPointName OPTIONAL,
 * onlyContainsUserCerts [1] BOOLEAN DEFAULT FALSE, onlyContainsCACerts [2] BOOLEAN DEFAULT FALSE,
 * onlySomeReasons [3] ReasonFlags OPTIONAL, indirectCRL [4] BOOLEAN DEFAULT FALSE,
 * onlyContainsAttributeCerts [5] BOOLEAN DEFAULT FALSE } (RFC 5280 §5.2.5, implicit tags).
 */
function readIdp(r: DerReader): CrlScope {
  const idp = r.sequence('IssuingDistributionPoint SEQUENCE');
  const dp = idp.explicit(0);
  const distributionPoints = dp && readDistributionPointName(dp);
  const flag = (n: number): boolean => {
    const tlv = idp.optional(contextTag(n, false));
    return tlv !== undefined && decodeBoolean(tlv); // [n] IMPLICIT BOOLEAN: the same content octet
  };
  const onlyUserCerts = flag(1);
  const onlyCaCerts = flag(2);
  const onlySomeReasons = idp.optional(contextTag(3, false)) !== undefined;
  const indirectAt = idp.offset;
  if (flag(4)) mismatch('a direct CRL', 'indirectCRL TRUE (RFC 5280 §5.2.5), which tlsify does not use', indirectAt);
  const attrAt = idp.offset;
  if (flag(5)) mismatch('a CRL for public-key certificates', 'onlyContainsAttributeCerts TRUE', attrAt);
  idp.end('end of IssuingDistributionPoint');
  return { ...(distributionPoints && { distributionPoints }), onlyUserCerts, onlyCaCerts, onlySomeReasons };
}

/** DistributionPointName ::= CHOICE { fullName [0] GeneralNames, nameRelativeToCRLIssuer [1] RDN }. */
function readDistributionPointName(r: DerReader): Buffer[] {
  const at = r.offset;
  const full = r.optional(contextTag(0, true));
  if (!full) return mismatch('a distributionPoint fullName [0]', r.done ? 'nothing' : `${describeTag(r.peek()!)} (nameRelativeToCRLIssuer is not supported)`, at);
  r.end('end of DistributionPointName');
  const names = r.into(full);
  const out: Buffer[] = [];
  while (!names.done) out.push(Buffer.from(names.read().raw));
  if (out.length === 0) mismatch('at least one GeneralName in fullName', 'none', full.start);
  return out;
}

/** CRLReason ::= ENUMERATED (RFC 5280 §5.3.1); RFC 6960 RevokedInfo uses it too. */
export function readCrlReason(r: DerReader): CrlReason {
  const tlv = r.expect(ENUMERATED, 'CRLReason ENUMERATED');
  const n = decodeInteger(tlv);
  const name = n >= 0n && n < BigInt(REASONS.length) ? REASONS[Number(n)] : undefined;
  if (name === undefined) mismatch('a CRLReason 0..10 other than 7 (RFC 5280 §5.3.1)', `${n}`, tlv.start);
  return name;
}

/** Serial as Cert.serialHex writes it: lowercase hex, the DER sign byte 00 dropped. */
export function serialOf(tlv: Tlv): string {
  const s = tlv.value;
  return (s.length > 1 && s[0] === 0 ? s.subarray(1) : s).toString('hex');
}

/** The octets of a BIT STRING that holds a signature: whole octets only. */
export function bitStringOctets(tlv: Tlv, what: string): Buffer {
  const bits = decodeBitString(tlv);
  if (bits.unusedBits !== 0) mismatch(`whole octets in ${what}`, `${bits.unusedBits} unused bits`, tlv.valueStart);
  return bits.bytes;
}

// ---- reading a CRL file ---------------------------------------------------------------------

/** Every `X509 CRL` PEM block of `file`, or the file as one DER CRL. Failures are config errors. */
export function loadCrlFile(file: string): Crl[] {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new TlsifyError('config', `${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  const ders = bytes.includes('-----BEGIN') ? pemCrls(file, bytes.toString('latin1')) : [bytes];
  if (ders.length === 0 || ders[0]!.length === 0) {
    throw new TlsifyError('config', `${file}: expected PEM CRLs (-----BEGIN X509 CRL-----) or one DER CRL, got ${bytes.length === 0 ? 'an empty file' : 'no CRL'}`);
  }
  return ders.map((der, i) => {
    try {
      return parseCrl(der);
    } catch (err) {
      if (err instanceof CrlError) throw new TlsifyError('config', `${file}: CRL ${i + 1}: ${err.message}`, { cause: err });
      throw err;
    }
  });
}

function pemCrls(file: string, text: string): Buffer[] {
  let blocks;
  try {
    blocks = pemBlocks(text);
  } catch (err) {
    if (err instanceof CertError) throw new TlsifyError('config', `${file}: ${err.message}`, { cause: err });
    throw err;
  }
  // Strict: a certificate in a CRL file is a mix-up worth hearing about, not something to skip.
  blocks.forEach((b, i) => {
    if (b.label !== 'X509 CRL') throw new TlsifyError('config', `${file}: PEM block ${i + 1}: expected -----BEGIN X509 CRL-----, got -----BEGIN ${b.label}-----`);
  });
  return blocks.map((b) => b.der);
}

// ---- checking a path ------------------------------------------------------------------------

/**
 * The revocation status of each certificate of a validated `path` (leaf first, anchor last),
 * except the anchor. A CRL counts for path[i] when its issuer is path[i]'s issuer name and its
 * signature verifies with path[i + 1]'s key.
 *
 * A CRL whose signature does not verify is ignored, so it gives 'no-crl', not 'unusable': anyone
 * can write an issuer name, and a forgery must not change the verdict compared with no file at
 * all. 'unusable' is kept for authentic CRLs that cannot vouch for now (stale, not yet valid, no
 * nextUpdate, or covering only some reasons).
 */
export function checkCrls(path: readonly Cert[], crls: readonly Crl[], now: Date): RevocationResult[] {
  const results: RevocationResult[] = [];
  for (let depth = 0; depth < path.length - 1; depth++) {
    results.push(Object.freeze(checkOne(depth, path[depth]!, path[depth + 1]!, crls, now)));
  }
  return results;
}

function checkOne(depth: number, cert: Cert, issuer: Cert, crls: readonly Crl[], now: Date): RevocationResult {
  const named = crls.filter((c) => c.issuerDer.equals(cert.issuerDer));
  const who = `'${cert.subject}' (serial ${cert.serialHex})`;
  if (named.length === 0) return { depth, status: 'no-crl', detail: `no CRL from '${cert.issuer}' among the ${crls.length} loaded` };
  const ignored: string[] = [];
  const unusable: string[] = [];
  let good: Crl | undefined;
  for (const crl of named) {
    const forged = authenticity(crl, issuer);
    if (forged) {
      ignored.push(forged);
      continue;
    }
    const outOfScope = scopeProblem(crl, cert);
    if (outOfScope) {
      ignored.push(outOfScope);
      continue;
    }
    const untimely = timeProblem(crl, now);
    const entry = crl.revoked.get(cert.serialHex);
    // The issuer signed that it revoked the certificate; age makes a 'good' stale, not a
    // revocation. A hold (certificateHold) can be released, so only a current CRL says it.
    if (entry && (!untimely || entry.reason !== 'certificateHold')) {
      const why = entry.reason ? ` (reason ${entry.reason})` : '';
      const detail = `${who} was revoked at ${iso(entry.revokedAt)}${why}: listed in the CRL of '${issuer.subject}' issued ${iso(crl.thisUpdate)}`;
      return { depth, status: 'revoked', revokedAt: entry.revokedAt, ...(entry.reason && { reason: entry.reason }), detail };
    }
    if (untimely) unusable.push(untimely);
    else if (crl.scope.onlySomeReasons) unusable.push(`the CRL of '${issuer.subject}' issued ${iso(crl.thisUpdate)} covers only some reasons (onlySomeReasons), so it cannot show that ${who} is not revoked`);
    else good ??= crl;
  }
  if (good) {
    return { depth, status: 'good', detail: `${who} is not listed in the CRL of '${issuer.subject}' valid ${iso(good.thisUpdate)} to ${iso(good.nextUpdate!)}` };
  }
  if (unusable.length > 0) return { depth, status: 'unusable', detail: unusable.join('; ') };
  return { depth, status: 'no-crl', detail: `no usable CRL from '${cert.issuer}': ignored ${named.length} that ${named.length === 1 ? 'names' : 'name'} it: ${ignored.join('; ')}` };
}

/** Why this CRL is not the issuer's, or undefined when its signature verifies with the issuer's key. */
function authenticity(crl: Crl, issuer: Cert): string | undefined {
  // RFC 5280 §6.3.3 (f): the CRL issuer's key usage, when present, must allow cRLSign.
  if (issuer.keyUsage && !issuer.keyUsage.has('cRLSign')) return `'${issuer.subject}' may not sign CRLs: its key usage lacks cRLSign`;
  const bad = verifySignedData(crl.tbs, crl.signatureAlgorithm, crl.signature, issuer.spki, `'${issuer.subject}'`);
  return bad && `the CRL issued ${iso(crl.thisUpdate)}: ${bad}`;
}

/** RFC 5280 §6.3.3 (b)(2): does the issuingDistributionPoint cover `cert`? */
function scopeProblem(crl: Crl, cert: Cert): string | undefined {
  const { scope } = crl;
  const ca = cert.basicConstraints?.ca === true;
  const which = `the CRL issued ${iso(crl.thisUpdate)}`;
  if (scope.onlyUserCerts && ca) return `${which} covers only end-entity certificates (onlyContainsUserCerts), and '${cert.subject}' is a CA`;
  if (scope.onlyCaCerts && !ca) return `${which} covers only CA certificates (onlyContainsCACerts), and '${cert.subject}' is not a CA`;
  if (scope.distributionPoints) {
    const mine = crlDistributionPointNames(cert);
    if (!scope.distributionPoints.some((n) => mine.some((m) => m.equals(n)))) {
      return `${which} is a partition (issuingDistributionPoint) that none of the cRLDistributionPoints of '${cert.subject}' names`;
    }
  }
  return undefined;
}

function timeProblem(crl: Crl, now: Date): string | undefined {
  const which = `the CRL issued ${iso(crl.thisUpdate)}`;
  if (now < crl.thisUpdate) return `${which} is not yet valid: expected thisUpdate at or before now (${iso(now)}), got ${iso(crl.thisUpdate)}`;
  // §5.1.2.5: conforming CRL issuers MUST include nextUpdate; without it freshness is unknowable.
  if (!crl.nextUpdate) return `${which} has no nextUpdate, so tlsify cannot tell whether it is current`;
  if (now > crl.nextUpdate) return `${which} is stale: expected nextUpdate at or after now (${iso(now)}), got ${iso(crl.nextUpdate)}`;
  return undefined;
}

/** The fullName GeneralNames (as DER) of the certificate's cRLDistributionPoints (RFC 5280 §4.2.1.13). */
function crlDistributionPointNames(cert: Cert): Buffer[] {
  const ext = certExtension(cert, EXT.crlDistributionPoints);
  if (!ext) return [];
  const out: Buffer[] = [];
  try {
    const points = ext.value.sequence('CRLDistributionPoints SEQUENCE');
    while (!points.done) {
      const dp = points.sequence('DistributionPoint SEQUENCE');
      const name = dp.explicit(0);
      dp.optional(contextTag(1, false)); // reasons
      // A point with a cRLIssuer is served by an indirect CRL, which tlsify does not use.
      const indirect = dp.optional(contextTag(2, true)) !== undefined;
      if (!indirect && name?.peek() === contextTag(0, true)) out.push(...readDistributionPointName(name));
    }
  } catch (e) {
    if (!(e instanceof DerError)) throw e;
    return []; // an unreadable CRLDP names nothing, so no partitioned CRL covers it
  }
  return out;
}

// ---- shared with ocsp.ts --------------------------------------------------------------------

/** One extension of a parsed certificate, found by walking `cert.tbs` (cert.ts keeps only the decoded ones). */
export function certExtension(cert: Cert, oid: string): { critical: boolean; value: DerReader } | undefined {
  const r = new DerReader(cert.tbs).sequence('TBSCertificate SEQUENCE');
  r.explicit(0); // version
  for (let i = 0; i < 6; i++) r.read(); // serial, signature, issuer, validity, subject, spki
  r.optional(contextTag(1, false));
  r.optional(contextTag(2, false));
  const exts = r.explicit(3);
  if (!exts) return undefined;
  const found = readExtensions(exts.sequence('Extensions SEQUENCE'), 'certificate extensions').find((x) => x.oid === oid);
  return found && { critical: found.critical, value: found.value };
}

function iso(d: Date): string {
  return d.toISOString().replace(/\.000Z$/, 'Z');
}
