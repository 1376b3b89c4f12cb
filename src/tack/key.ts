// tack/key.ts: the TACK public key (64 bytes x ‖ y, draft-perrin-tls-tack-00 §4.2.1) and its
// fingerprint, the "TACK ID" (draft-00 §7; tackpy 0.9.7 Python_ECPublicKey.getFingerprint).
//
// Loading: tack/digest.ts and tack/p256.ts are the doors to @noble/hashes and @noble/curves,
// which are ESM-only packages that the CommonJS bundle loads with require() when a module that
// imports them is first evaluated. esbuild evaluates a bundled module lazily when it is reached
// through `await import()`, so a command that needs TACK code must import it that way, and no
// module connect loads at start-up may import anything under src/tack/ statically.
import { sha256 } from './digest.ts';
import { TackError } from './error.ts';

export const PUBLIC_KEY_LENGTH = 64;

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'; // RFC 4648 §6, written in lower case as tackpy does

/** RFC 4648 §6 base32 without padding, lower case. */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/**
 * The TACK ID: base32 of SHA-256(x ‖ y), first 25 characters, in 5 groups of 5 joined by '.',
 * e.g. nkufh.czttd.5cmlw.7cxtv.k6srn (facts §1.5).
 */
export function fingerprint(publicKey: Uint8Array): string {
  assertPublicKeyLength(publicKey, 'TACK public key');
  const s = base32(sha256(publicKey)).slice(0, 25);
  return [0, 5, 10, 15, 20].map((i) => s.slice(i, i + 5)).join('.');
}

export function assertPublicKeyLength(publicKey: Uint8Array, what: string): void {
  if (publicKey.length !== PUBLIC_KEY_LENGTH) {
    throw new TackError(`${what}: expected ${PUBLIC_KEY_LENGTH} bytes (x ‖ y), got ${publicKey.length}`);
  }
}
