// tack/digest.ts: SHA-256, HMAC-SHA256 and PBKDF2-HMAC-SHA256 (FIPS 180-4, RFC 2104, RFC 8018 §5.2).
// The one module that imports @noble/hashes. Keep it off start-up paths: only TACK modules import it (tack/key.ts says why).
import { hmac } from '@noble/hashes/hmac.js';
import { pbkdf2 } from '@noble/hashes/pbkdf2.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

export function sha256(data: Uint8Array): Buffer {
  return Buffer.from(nobleSha256(data));
}

export function hmacSha256(key: Uint8Array, data: Uint8Array): Buffer {
  return Buffer.from(hmac(nobleSha256, key, data));
}

/** One 32-byte block of PBKDF2-HMAC-SHA256: all a TACK key file needs (tackpy PBKDF2.py). */
export function pbkdf2Sha256(password: Uint8Array, salt: Uint8Array, iterations: number): Buffer {
  return Buffer.from(pbkdf2(nobleSha256, password, salt, { c: iterations, dkLen: 32 }));
}
