// trust/verify.ts: the verdict. Only this module can mint a `Verified`, and the data pump takes
// nothing else, so plaintext cannot flow past a skipped check (the rustls habit).
// Verdict = tlsify's own path validation AND RFC 9525 identity AND OpenSSL's own verification.
import { TlsifyError } from '../codes.ts';
import type { Anchor, AnchorSet } from './anchors.ts';
import { CertError, parseCertificate, type Cert } from './cert.ts';
import { describeReference, matchIdentity, type IdentityMatch, type ReferenceId } from './names.ts';
import { validatePath } from './path.ts';

declare const verifiedBrand: unique symbol;

export interface Verified {
  readonly [verifiedBrand]: true;
  /** The validated path, leaf first, the anchor last. Nothing the peer sent off this path is here. */
  readonly path: readonly Cert[];
  readonly anchor: Anchor;
  readonly anchorSet: string;
  readonly identity: IdentityMatch;
}

export interface Policy {
  readonly anchors: AnchorSet;
  readonly references: readonly ReferenceId[];
}

export interface PeerEvidence {
  /** The certificates node:tls linked from the leaf (leaf first); facts §5.2 says why this is only a pool. */
  readonly chain: readonly Buffer[];
  /** OpenSSL's verdict against the same anchors (`authorized`, `authorizationError`). */
  readonly opensslAuthorized: boolean;
  readonly opensslError: string | undefined;
}

export function verifyPeer(policy: Policy, evidence: PeerEvidence, now: Date): Verified {
  const [leafDer, ...rest] = evidence.chain;
  if (!leafDer) throw new TlsifyError('tls', 'the peer sent no certificate');
  const leaf = parse(leafDer, 0);
  const presented = rest.map((der, i) => parse(der, i + 1));

  const result = validatePath(leaf, presented, policy.anchors, now);
  if (!result.ok) throw new TlsifyError(result.code, result.message);

  const identity = matchIdentity(policy.references, leaf.san);
  if (!identity) throw new TlsifyError('name-mismatch', nameMismatch(policy.references, leaf));

  // Belt and braces: OpenSSL built its own path from the same anchors. Both must agree.
  if (!evidence.opensslAuthorized) {
    const err = evidence.opensslError ?? 'unknown error';
    const code = /EXPIRED|NOT_YET_VALID/.test(err) ? 'expired' : 'untrusted';
    throw new TlsifyError(code, `OpenSSL rejected the chain that tlsify accepted: ${err}`);
  }
  return Object.freeze({ path: Object.freeze(result.path), anchor: result.anchor, anchorSet: policy.anchors.name, identity }) as Verified;
}

function parse(der: Buffer, depth: number): Cert {
  try {
    return parseCertificate(der);
  } catch (err) {
    if (err instanceof CertError) throw new TlsifyError('tls', `the peer's certificate ${depth} does not parse: ${err.message}`);
    throw err;
  }
}

function nameMismatch(refs: readonly ReferenceId[], leaf: Cert): string {
  const wanted = refs.map(describeReference).join(' or ');
  const presented = leaf.san.map((s) => (s.type === 'other' ? `other:${s.oid}` : `${s.type}:${s.value}`));
  if (presented.length === 0) {
    const cn = leaf.subjectCommonNames.length > 0 ? ` (its CN '${leaf.subjectCommonNames.join(',')}' is not an identity: RFC 9525 §6.3 has no CN fallback)` : '';
    return `expected ${wanted}, got a certificate with no subjectAltName${cn}`;
  }
  return `expected ${wanted}, got a certificate for ${presented.join(', ')}`;
}
