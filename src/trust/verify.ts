// trust/verify.ts: the verdict. Only this module can mint a `Verified`, and the data pump takes
// nothing else, so plaintext cannot flow past a skipped check (the rustls habit).
// Authentication: a CA path tlsify validated itself AND OpenSSL's own verification, or DANE
// (RFC 7671), or pins alone (--pin-only). Then: RFC 9525 names, pins, CRLs, OCSP staple.
import { TlsifyError } from '../codes.ts';
import type { Fields } from '../control/frame.ts';
import type { Anchor, AnchorSet } from './anchors.ts';
import { CertError, parseCertificate, type Cert } from './cert.ts';
import { checkCrls, type Crl } from './crl.ts';
import { daneVerify } from './dane.ts';
import { describeReference, matchIdentity, type IdentityMatch, type ReferenceId } from './names.ts';
import { checkOcspStaple, mustStaple } from './ocsp.ts';
import { validatePath } from './path.ts';
import { checkPins, formatPin } from './pins.ts';
import type { TrustPolicy } from './policy.ts';
import type { PinEntry } from '../pinstore/doc.ts';
import { reportFields, storedCheckFields } from '../pinstore/events.ts';
import { reportFor } from '../pinstore/hpkp.ts';
import { checkStored } from '../pinstore/policy.ts';

declare const verifiedBrand: unique symbol;

/** 'none': a server's client that presented no certificate, where none was required. */
export type Authenticator = 'ca' | 'dane-ee' | 'dane-ta' | 'pin-only' | 'none';

export interface Verified {
  readonly [verifiedBrand]: true;
  readonly by: Authenticator;
  /** The validated path, leaf first. Nothing the peer sent off this path is here. */
  readonly path: readonly Cert[];
  /** The CA anchor, when a CA set authenticated the peer. */
  readonly anchor: Anchor | undefined;
  /** Undefined where names are not checked: DANE-EE, --pin-only (RFC 7671 §5.1), and client
   * certificates when no --client-name/--client-uri-id was given. */
  readonly identity: IdentityMatch | undefined;
}

/** A policy with its files read: anchors, CRLs, and the pin store's entries for this peer. */
export interface LoadedPolicy {
  readonly policy: TrustPolicy;
  readonly anchors: AnchorSet;
  readonly crls: readonly Crl[];
  /** Stored pins that apply to this host and port (protocol/pin-store.md §5.1), and for whom. */
  readonly stored: { readonly entries: readonly PinEntry[]; readonly host: string; readonly port: number | undefined } | undefined;
}

export interface PeerEvidence {
  /** The certificates node:tls linked from the leaf (leaf first); facts §5.2 says why this is only a pool. */
  readonly chain: readonly Buffer[];
  /** OpenSSL's verdict against the same anchors; undefined offline (tlsify verify). */
  readonly openssl: { readonly authorized: boolean; readonly error: string | undefined } | undefined;
  /** The stapled OCSP response: undefined when not asked for, null when none came. */
  readonly ocspStaple: Buffer | null | undefined;
}

export type Report = (event: string, fields: Fields) => void;

export function verifyPeer(lp: LoadedPolicy, evidence: PeerEvidence, now: Date, report: Report): Verified {
  const { policy } = lp;
  const [leafDer, ...rest] = evidence.chain;
  if (!leafDer) throw new TlsifyError('tls', 'the peer sent no certificate');
  const leaf = parse(leafDer, 0);
  const presented = rest.map((der, i) => parse(der, i + 1));

  const auth = authenticate(lp, leaf, presented, evidence, now, report);
  let identity: IdentityMatch | undefined;
  if ((auth.by === 'ca' || auth.by === 'dane-ta') && policy.references.length > 0) {
    identity = matchIdentity(policy.references, leaf.san);
    if (!identity) throw new TlsifyError('name-mismatch', nameMismatch(policy.references, leaf));
  }
  if (policy.pinMode !== 'pin-only' && policy.pins.length > 0) enforcePins(policy, auth.path, report);
  if (lp.stored && lp.stored.entries.length > 0) enforceStored(lp.stored, auth.path, evidence, now, report);
  checkRevocation(lp, auth.path, evidence, now, report);
  return Object.freeze({ by: auth.by, path: Object.freeze(auth.path), anchor: auth.anchor, identity }) as Verified;
}

/**
 * `tlsify accept --client-auth`: whether a client certificate is asked for, and must come. The
 * policy comes with the modes that can use it, so a certificate cannot go unchecked for want of one.
 */
export type ClientCheck = { readonly mode: 'none' } | { readonly mode: 'optional' | 'require'; readonly lp: LoadedPolicy };

/**
 * The server's verdict on its client. A certificate, when one was asked for and came, gets
 * verifyPeer's full verdict under the same policy (purpose clientAuth): a bad certificate is
 * refused even under `optional`. No certificate authenticates nobody: `by: 'none'` with an
 * empty path, which `require` refuses.
 */
export function verifyClient(check: ClientCheck, evidence: PeerEvidence, now: Date, report: Report): Verified {
  if (check.mode !== 'none' && evidence.chain.length > 0) return verifyPeer(check.lp, evidence, now, report);
  if (check.mode === 'require') throw new TlsifyError('untrusted', 'expected a client certificate (--client-auth require), got none');
  return Object.freeze({ by: 'none' as const, path: Object.freeze([] as Cert[]), anchor: undefined, identity: undefined }) as Verified;
}

interface Authenticated {
  readonly by: Authenticator;
  readonly path: Cert[];
  readonly anchor: Anchor | undefined;
}

function authenticate(lp: LoadedPolicy, leaf: Cert, presented: Cert[], evidence: PeerEvidence, now: Date, report: Report): Authenticated {
  const { policy } = lp;
  if (policy.pinMode === 'pin-only') {
    // The pin authenticates the key directly, as DANE-EE does: no CA path, no name, no expiry.
    const check = checkPins(policy.pins, [leaf]);
    report('pins', { mode: 'pin-only', result: check.ok ? 'match' : 'mismatch', depth: check.ok ? 0 : undefined, pin: leaf.pin });
    if (!check.ok) throw new TlsifyError('pin-mismatch', `--pin-only: the peer's key ${leaf.pin} matches none of ${policy.pins.map((p) => p.text).join(', ')}`);
    return { by: 'pin-only', path: [leaf], anchor: undefined };
  }
  if (policy.tlsa.length > 0) {
    // RFC 7671: with TLSA records, DANE alone decides; config/trust.ts refuses CA sets beside them.
    const dane = daneVerify(policy.tlsa, leaf, presented, now);
    report('tlsa', dane.ok ? { result: 'match', usage: dane.usage, record: dane.record.text, depth: dane.depth } : { result: 'mismatch', message: dane.message });
    if (!dane.ok) throw new TlsifyError(dane.code, `DANE: ${dane.message}`);
    return { by: dane.usage === 3 ? 'dane-ee' : 'dane-ta', path: [...dane.path], anchor: undefined };
  }
  if (lp.anchors.size === 0 && lp.anchors.hashedDirs.length === 0) throw new TlsifyError('untrusted', 'no CA set, TLSA record or pin can authenticate the peer');
  const result = validatePath(leaf, presented, lp.anchors, now, policy.purpose);
  if (!result.ok) throw new TlsifyError(result.code, result.message);
  // Belt and braces: OpenSSL built its own path from the same anchors. Both must agree.
  if (evidence.openssl && !evidence.openssl.authorized) {
    const err = evidence.openssl.error ?? 'unknown error';
    const code = /EXPIRED|NOT_YET_VALID/.test(err) ? 'expired' : 'untrusted';
    throw new TlsifyError(code, `OpenSSL rejected the chain that tlsify accepted: ${err}`);
  }
  return { by: 'ca', path: [...result.path], anchor: result.anchor };
}

/** RFC 7469 §2.6: some SPKI on the validated path (anchor included) must match. */
function enforcePins(policy: TrustPolicy, path: readonly Cert[], report: Report): void {
  if (policy.pins.length === 1) {
    report('warning', { code: 'no-backup-pin', message: 'only one pin is configured: losing that key locks you out (RFC 7469 §4.3)' });
  }
  const check = checkPins(policy.pins, path);
  if (check.ok) {
    report('pins', { mode: policy.pinMode, result: 'match', matched: check.matched.map((m) => `${m.pin.text}@${m.depth}`).join(',') });
    return;
  }
  const seen = check.seen.map((s) => `${s.pin}@${s.depth}`).join(',');
  report('pins', { mode: policy.pinMode, result: 'mismatch', wanted: check.wanted.map((p) => formatPin(p, 'tlsify')).join(','), seen });
  if (policy.pinMode === 'enforce') {
    throw new TlsifyError('pin-mismatch', `no SPKI on the validated path matches a pin: expected one of ${check.wanted.map((p) => p.text).join(', ')}, got ${seen}`);
  }
}

/** Stored pins combine with --pin by AND; an entry with a report-uri that fails yields a report. */
function enforceStored(stored: NonNullable<LoadedPolicy['stored']>, path: readonly Cert[], evidence: PeerEvidence, now: Date, report: Report): void {
  const pathPins = path.map((c) => c.pin);
  const verdict = checkStored(stored.entries, pathPins, now);
  for (const check of verdict.checks) {
    report('stored-pins', storedCheckFields(check, pathPins));
    if (check.result !== 'mismatch') continue;
    const r = reportFor(check.entry, { now, hostname: stored.host, port: stored.port, served: [...evidence.chain], validated: [...path] });
    if (r) report('pin-report', reportFields(r));
  }
  if (verdict.failure) throw new TlsifyError('pin-mismatch', verdict.failure.message);
}

function checkRevocation(lp: LoadedPolicy, path: readonly Cert[], evidence: PeerEvidence, now: Date, report: Report): void {
  if (lp.crls.length > 0) {
    for (const r of checkCrls(path, lp.crls, now)) {
      report('revocation', { depth: r.depth, method: 'crl', status: r.status, detail: r.detail });
      if (r.status === 'revoked') throw new TlsifyError('revoked', `certificate at depth ${r.depth} ('${path[r.depth]!.subject}') is revoked: ${r.detail}`);
      if (r.status === 'unusable') throw new TlsifyError('untrusted', `the CRL for depth ${r.depth} cannot be used: ${r.detail}`);
    }
  }
  const mode = lp.policy.ocsp;
  const leaf = path[0]!;
  const required = mode === 'require' || (mode === 'check' && mustStaple(leaf));
  if (mode === 'off') return;
  const staple = evidence.ocspStaple;
  const issuer = path[1];
  if (!staple || !issuer) {
    const why = !staple ? 'the peer stapled no OCSP response' : 'the leaf has no issuer on the path to check a response against';
    report('ocsp', { status: 'none', required, message: why });
    if (required) throw new TlsifyError('revoked', `${why}, but one is required (${mode === 'require' ? '--ocsp require' : 'the certificate is must-staple, RFC 7633'})`);
    return;
  }
  const r = checkOcspStaple(staple, leaf, issuer, now);
  if (r.status === 'unusable') {
    report('ocsp', { status: 'unusable', required, message: r.reason });
    if (required) throw new TlsifyError('revoked', `the stapled OCSP response cannot be used: ${r.reason}`);
    return;
  }
  report('ocsp', { status: r.status, responder: r.responder, 'this-update': r.thisUpdate.toISOString(), 'next-update': r.nextUpdate?.toISOString() });
  if (r.status === 'revoked') throw new TlsifyError('revoked', `the stapled OCSP response says the leaf was revoked at ${r.revokedAt?.toISOString() ?? 'an unknown time'}`);
  if (r.status === 'unknown' && required) throw new TlsifyError('revoked', "the stapled OCSP response says 'unknown' for the leaf");
}

/**
 * Certificates parsed, by their DER: a Cert is frozen and a function of those bytes alone, so a
 * long-lived process (the daemon) parses a chain it has seen before only once. At most
 * PARSED_MAX entries, oldest dropped first; certificates that do not parse are not kept.
 */
const PARSED_MAX = 1024;
const parsed = new Map<string, Cert>();

function parse(der: Buffer, depth: number): Cert {
  try {
    const key = der.toString('latin1');
    let cert = parsed.get(key);
    if (!cert) {
      cert = parseCertificate(der);
      parsed.set(key, cert);
      if (parsed.size > PARSED_MAX) parsed.delete(parsed.keys().next().value!);
    }
    return cert;
  } catch (err) {
    if (err instanceof CertError) throw new TlsifyError('tls', `the peer's certificate ${depth} does not parse: ${err.message}`);
    throw err;
  }
}

function nameMismatch(refs: readonly ReferenceId[], leaf: Cert): string {
  const wanted = refs.map(describeReference).join(' or ');
  const presented = leaf.san.map((s) => (s.type === 'other' ? `other:${s.oid || s.form}` : `${s.type}:${s.value}`));
  if (presented.length === 0) {
    const cn = leaf.subjectCommonNames.length > 0 ? ` (its CN '${leaf.subjectCommonNames.join(',')}' is not an identity: RFC 9525 §6.3 has no CN fallback)` : '';
    return `expected ${wanted}, got a certificate with no subjectAltName${cn}`;
  }
  return `expected ${wanted}, got a certificate for ${presented.join(', ')}`;
}
