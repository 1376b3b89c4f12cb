// trust/path.ts: certification path building and validation that tlsify owns (RFC 5280 §6,
// the parts a TLS client needs): from the leaf through the certificates the peer sent to an
// anchor, with signatures checked. The path it returns is the one pins and reports use.
import crypto from 'node:crypto';
import type { Anchor, AnchorSet } from './anchors.ts';
import type { Cert } from './cert.ts';

export type PathResult =
  | { readonly ok: true; readonly path: readonly Cert[]; readonly anchor: Anchor }
  | { readonly ok: false; readonly code: 'untrusted' | 'expired'; readonly message: string };

/** What the leaf is for: a TLS server (connect) or a TLS client (accept with client auth). */
export type Purpose = 'serverAuth' | 'clientAuth';
const EKU: Record<Purpose, string> = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' };
const ANY_EKU = '2.5.29.37.0';
const MAX_DEPTH = 8;
const MIN_RSA_BITS = 2048;

type Fail = Extract<PathResult, { ok: false }>;

/** Validate `leaf` at time `now`. `presented` are the other certificates the peer sent. */
export function validatePath(leaf: Cert, presented: readonly Cert[], anchors: AnchorSet, now: Date, purpose: Purpose = 'serverAuth'): PathResult {
  const builder = new Builder(presented, anchors, now, purpose);
  const direct = anchors.byDer(leaf.der);
  if (direct) {
    // The peer's own certificate is a configured anchor (a self-signed server and --ca).
    return builder.check([leaf], direct) ?? { ok: true, path: [leaf], anchor: direct };
  }
  return builder.extend([leaf]) ?? builder.failure(leaf);
}

class Builder {
  private firstFailure: Fail | undefined;
  private nearMiss: string | undefined;

  constructor(
    private readonly presented: readonly Cert[],
    private readonly anchors: AnchorSet,
    private readonly now: Date,
    private readonly purpose: Purpose,
  ) {}

  /** Depth-first search with backtracking; returns the first path that passes every check. */
  extend(path: Cert[]): Extract<PathResult, { ok: true }> | undefined {
    const child = path[path.length - 1]!;
    for (const anchor of this.anchors.bySubject(child.issuerDer)) {
      if (!this.issued(child, anchor.cert)) continue;
      const complete = [...path, anchor.cert];
      const failure = this.check(complete, anchor);
      if (!failure) return { ok: true, path: complete, anchor };
      this.firstFailure ??= failure;
    }
    if (path.length >= MAX_DEPTH) return undefined;
    for (const candidate of this.presented) {
      if (path.includes(candidate) || !candidate.subjectDer.equals(child.issuerDer)) continue;
      if (!this.issued(child, candidate)) continue;
      const found = this.extend([...path, candidate]);
      if (found) return found;
    }
    return undefined;
  }

  /** Why no path was accepted: the first complete path's failure, else what was missing. */
  failure(leaf: Cert): Fail {
    if (this.firstFailure) return this.firstFailure;
    const why = this.nearMiss ?? `no certificate named '${leaf.issuer}' (the issuer of '${leaf.subject}') is among the ${this.anchors.size} trusted certificates of ${this.anchors.name} or the ${this.presented.length} other certificates the peer sent`;
    return { ok: false, code: 'untrusted', message: `no path to a trusted anchor: ${why}` };
  }

  /** RFC 5280 §4.2.1.1/§4.2.1.2: key identifiers must agree when both are present; then the signature. */
  private issued(child: Cert, issuer: Cert): boolean {
    if (child.authorityKeyId && issuer.subjectKeyId && !child.authorityKeyId.equals(issuer.subjectKeyId)) return false;
    if (verifySignature(child, issuer)) return true;
    this.nearMiss ??= `the signature on '${child.subject}' does not verify with the key of '${issuer.subject}'`;
    return false;
  }

  /** Checks on a complete path (leaf first, anchor last); undefined when it passes. */
  check(path: readonly Cert[], anchor: Anchor): Fail | undefined {
    for (let depth = 0; depth < path.length; depth++) {
      const cert = path[depth]!;
      const where = `certificate at depth ${depth} ('${cert.subject}')`;
      const isAnchor = cert === anchor.cert;
      if (this.now < cert.notBefore) {
        return { ok: false, code: 'expired', message: `${where} is not valid before ${iso(cert.notBefore)}; now is ${iso(this.now)}` };
      }
      if (this.now > cert.notAfter) {
        return { ok: false, code: 'expired', message: `${where} expired at ${iso(cert.notAfter)}; now is ${iso(this.now)}` };
      }
      const weak = weakness(cert, isAnchor);
      if (weak) return untrusted(`${where} ${weak}`);
      if (depth > 0) {
        const notCa = issuerProblem(cert, depth - 1, isAnchor);
        if (notCa) return untrusted(`${where} ${notCa}`);
      }
      if (cert.extKeyUsage && !cert.extKeyUsage.includes(EKU[this.purpose]) && !cert.extKeyUsage.includes(ANY_EKU)) {
        const role = this.purpose === 'serverAuth' ? 'servers' : 'clients';
        return untrusted(`${where} is not for TLS ${role}: its extended key usage lacks ${this.purpose}`);
      }
      if (!isAnchor && cert.unhandledCriticalExtensions.length > 0) {
        return untrusted(`${where} has critical extensions tlsify does not handle: ${cert.unhandledCriticalExtensions.join(', ')}`);
      }
    }
    return undefined;
  }
}

function untrusted(message: string): Fail {
  return { ok: false, code: 'untrusted', message };
}

/** SHA-1/MD5 signatures and RSA keys under 2048 bits are refused (an anchor's self-signature does not matter). */
function weakness(cert: Cert, isAnchor: boolean): string | undefined {
  if (!isAnchor && (cert.signatureHash === 'sha1' || cert.signatureHash === 'md5')) {
    return `is signed with ${cert.signatureHash.toUpperCase()}, which is refused`;
  }
  if (cert.keyType === 'rsa' && cert.keyBits < MIN_RSA_BITS) {
    return `has an RSA key of ${cert.keyBits} bits; at least ${MIN_RSA_BITS} are required`;
  }
  return undefined;
}

/** RFC 5280 §4.2.1.9 and §4.2.1.3: an issuer must be a CA allowed to sign certificates. */
function issuerProblem(cert: Cert, intermediatesBelow: number, isAnchor: boolean): string | undefined {
  const bc = cert.basicConstraints;
  // Version 1 roots carry no extensions; they are accepted only as configured anchors.
  if (!bc && !(isAnchor && cert.version === 1)) return 'issued a certificate but is not a CA (no basicConstraints CA:TRUE)';
  if (bc && !bc.ca) return 'issued a certificate but is not a CA (basicConstraints CA:FALSE)';
  if (cert.keyUsage && !cert.keyUsage.has('keyCertSign')) return 'issued a certificate but its key usage lacks keyCertSign';
  if (bc?.pathLen !== undefined && intermediatesBelow > bc.pathLen) {
    return `allows ${bc.pathLen} intermediate certificates below it (pathLen), but the path has ${intermediatesBelow}`;
  }
  return undefined;
}

/**
 * Signatures that verified, keyed by the child's whole DER and the issuer's whole SPKI: the
 * answer is a function of those bytes alone, so a long-lived process (the daemon) that sees the
 * same chain again need not parse and verify it again (~0.4 ms a connection). Failures are not
 * kept. At most VERIFIED_MAX entries, oldest dropped first.
 */
const VERIFIED_MAX = 1024;
const verified = new Map<string, true>();

function verifySignature(child: Cert, issuer: Cert): boolean {
  const key = `${child.der.toString('latin1')}\0${issuer.spki.toString('latin1')}`;
  if (verified.has(key)) return true;
  let ok: boolean;
  try {
    ok = new crypto.X509Certificate(child.der).verify(crypto.createPublicKey({ key: issuer.spki, format: 'der', type: 'spki' }));
  } catch {
    ok = false;
  }
  if (ok) {
    verified.set(key, true);
    if (verified.size > VERIFIED_MAX) verified.delete(verified.keys().next().value!);
  }
  return ok;
}

function iso(d: Date): string {
  return d.toISOString().replace(/\.000Z$/, 'Z');
}
