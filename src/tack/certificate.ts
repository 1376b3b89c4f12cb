// tack/certificate.ts: the two facts TACK needs from a server certificate, PEM or DER: the SHA-256
// of its DER SubjectPublicKeyInfo (the TACK target_hash, draft-00 §4.2.1) and its notAfter
// (tackpy 0.9.7 TlsCertificate.py: `createFromBytes` tries PEM first, then DER).
import { CertError, parseCertificate } from '../trust/cert.ts';
import { sha256 } from './digest.ts';
import { TackError } from './error.ts';
import { LABELS, containsPem, decodePem } from './pem.ts';

export interface CertificateFacts {
  readonly spki: Buffer;
  readonly keySha256: Buffer;
  readonly notAfter: Date;
}

export function readCertificate(bytes: Buffer): CertificateFacts {
  const text = bytes.toString('latin1');
  const der = containsPem(text, LABELS.certificate) ? decodePem(text, LABELS.certificate) : bytes;
  if (der.length === 0) throw new TackError('certificate: expected PEM or DER, got an empty file');
  if (der[0] !== 0x30) throw new TackError('certificate: expected a -----BEGIN CERTIFICATE----- block or DER (a SEQUENCE, byte 0x30), got neither');
  try {
    const cert = parseCertificate(der);
    return Object.freeze({ spki: cert.spki, keySha256: sha256(cert.spki), notAfter: cert.notAfter });
  } catch (err) {
    if (err instanceof CertError) throw new TackError(err.message);
    throw err;
  }
}

/** tackpy 0.9.7's default TACK expiration: the notAfter rounded up to the whole minute (facts §1.9). */
export function defaultExpiration(cert: CertificateFacts): number {
  return Math.ceil(cert.notAfter.getTime() / 60_000);
}
