// tls/client-cert-status.ts: what became of the client certificate in a handshake (RFC 8446
// §4.3.2, §4.4.2; RFC 5246 §7.4.4): not asked, sent, or asked with none to send. node:tls reports
// no CertificateRequest (facts §5.6), so this is read back from the signature algorithms shared
// and the certificate OpenSSL left current.
import { fingerprintOf, type ClientIdentity } from './identity.ts';

/** What the handshake says about client authentication; collected in 'secureConnect'. */
export interface ClientCertFacts {
  readonly resumed: boolean;
  /** TLSv1.2 or TLSv1.3. */
  readonly version: string;
  /** socket.getSharedSigalgs(): empty on the client unless the server sent CertificateRequest. */
  readonly sharedSigalgs: readonly string[];
  /** socket.getCertificate()?.raw: OpenSSL's current certificate, sent or not. */
  readonly local: Buffer | undefined;
}

/**
 * not-asked: no CertificateRequest. sent: `identity` went out. none-configured: asked, and we had
 * none (an empty Certificate went out). none-suitable: asked, but no identity fits the server's
 * signature algorithms. resumed: an abbreviated handshake; the original one's identity stands.
 */
export type ClientCertStatus = 'not-asked' | 'sent' | 'none-configured' | 'none-suitable' | 'resumed';

export function clientCertStatus(facts: ClientCertFacts, ids: readonly ClientIdentity[]): { status: ClientCertStatus; identity: ClientIdentity | undefined } {
  if (facts.resumed) return { status: 'resumed', identity: undefined };
  // The client only learns signature algorithms from a CertificateRequest (checked on Node 20.20.2).
  if (facts.sharedSigalgs.length === 0) return { status: 'not-asked', identity: undefined };
  if (ids.length === 0) return { status: 'none-configured', identity: undefined };
  const fp = facts.local && facts.local.length > 0 ? fingerprintOf(facts.local) : undefined;
  const identity = ids.find((id) => id.fingerprint === fp);
  // OpenSSL leaves its current certificate in place when none fits, and sends an empty
  // Certificate: so "sent" needs a shared algorithm this key can sign with too.
  if (identity && facts.sharedSigalgs.some((alg) => canSign(identity, alg, facts.version))) return { status: 'sent', identity };
  return { status: 'none-suitable', identity: undefined };
}

/** Node's sigalg names ('ECDSA+SHA256', 'RSA-PSS+SHA256', 'Ed25519+UNDEF') against a key. */
function canSign(id: ClientIdentity, alg: string, version: string): boolean {
  const [scheme, hash] = alg.split('+');
  switch (id.keyType) {
    case 'rsa':
      // rsa_pss_rsae_* and, in TLS 1.2, rsa_pkcs1_*; TLS 1.3 signs with PSS only (RFC 8446 §4.2.3).
      return scheme === 'RSA-PSS' || (scheme === 'RSA' && version !== 'TLSv1.3');
    case 'rsa-pss':
      return scheme === 'RSA-PSS';
    case 'ec':
      // TLS 1.3 ties the curve to the hash (RFC 8446 §4.2.3); TLS 1.2 does not.
      return scheme === 'ECDSA' && (version !== 'TLSv1.3' || TLS13_CURVE_HASH[id.curve ?? ''] === hash);
    case 'ed25519':
      return scheme === 'Ed25519';
    case 'ed448':
      return scheme === 'Ed448';
    case 'dsa':
      return scheme === 'DSA' && version !== 'TLSv1.3';
  }
}

const TLS13_CURVE_HASH: Record<string, string> = { prime256v1: 'SHA256', secp384r1: 'SHA384', secp521r1: 'SHA512' };
