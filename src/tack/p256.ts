// tack/p256.ts: ECDSA over NIST P-256 with SHA-256 (FIPS 186-4 §6, SEC 1 §2.3.3) in TACK's raw
// forms: public keys are x ‖ y (64 bytes, SEC 1 uncompressed without the 0x04), signatures r ‖ s
// (64 bytes), private keys a 32-byte big-endian scalar (facts §1.1, §1.2).
// The one module that imports @noble/curves. Keep it off start-up paths: only TACK modules import it (tack/key.ts says why).
import { p256 } from '@noble/curves/nist.js';

const UNCOMPRESSED = 0x04;

function sec1(raw: Uint8Array): Uint8Array {
  const point = new Uint8Array(65);
  point[0] = UNCOMPRESSED;
  point.set(raw, 1);
  return point;
}

/** True when x ‖ y is a point of the curve (coordinates below p, on the curve, not infinity). */
export function isValidPoint(raw: Uint8Array): boolean {
  if (raw.length !== 64) return false;
  try {
    p256.Point.fromBytes(sec1(raw)).assertValidity();
    return true;
  } catch {
    return false;
  }
}

/** True when the scalar is in [1, n-1]. */
export function isValidScalar(scalar: Uint8Array): boolean {
  return scalar.length === 32 && p256.utils.isValidSecretKey(scalar);
}

/** x ‖ y of scalar·G. */
export function publicKeyOf(scalar: Uint8Array): Buffer {
  return Buffer.from(p256.getPublicKey(scalar, false).subarray(1));
}

/** A fresh private scalar from the CSPRNG (noble reduces 48 random bytes mod n-1, FIPS 186-5 A.2.1). */
export function randomScalar(): Buffer {
  return Buffer.from(p256.utils.randomSecretKey());
}

/**
 * r ‖ s over SHA-256(message). Hedged: RFC 6979 k mixed with fresh randomness, so signing the
 * same message twice gives different bytes, as tackpy's did (facts §1.2: verify, never compare).
 */
export function sign(message: Uint8Array, scalar: Uint8Array): Buffer {
  return Buffer.from(p256.sign(message, scalar, { prehash: true, extraEntropy: true, format: 'compact' }));
}

/**
 * Checks r ‖ s over SHA-256(message) for the key x ‖ y. High-S signatures are accepted: tackpy and
 * OpenSSL do not normalise s (facts §1.2), so `lowS: false` is needed to read their signatures.
 */
export function verify(message: Uint8Array, signature: Uint8Array, raw: Uint8Array): boolean {
  if (signature.length !== 64 || !isValidPoint(raw)) return false;
  try {
    return p256.verify(signature, message, sec1(raw), { prehash: true, lowS: false, format: 'compact' });
  } catch {
    return false;
  }
}
