// tack/break-sig.ts: the 128-byte break signature (draft-perrin-tls-tack-00 §4.1, §4.2.2; tackpy
// 0.9.7 TackBreakSig.py): public_key (64, x ‖ y) ‖ signature (64, r ‖ s) over the 14 ASCII bytes
// "tack_break_sig". The message does not depend on the key. Removed in draft-01.
import { TackError } from './error.ts';
import { assertPublicKeyLength, fingerprint } from './key.ts';
import { isValidPoint, sign, verify } from './p256.ts';

export const BREAK_SIG_LENGTH = 128;
const BREAK_MESSAGE = Buffer.from('tack_break_sig', 'ascii');

export interface BreakSig {
  readonly publicKey: Buffer;
  readonly signature: Buffer;
}

export function decodeBreakSig(bytes: Uint8Array): BreakSig {
  if (bytes.length !== BREAK_SIG_LENGTH) {
    throw new TackError(`break signature: expected ${BREAK_SIG_LENGTH} bytes, got ${bytes.length}`);
  }
  const b = Buffer.from(bytes);
  return Object.freeze({ publicKey: b.subarray(0, 64), signature: b.subarray(64, 128) });
}

export function encodeBreakSig(sig: BreakSig): Buffer {
  assertPublicKeyLength(sig.publicKey, 'break signature public_key');
  if (sig.signature.length !== 64) throw new TackError(`break signature: expected a 64-byte r ‖ s, got ${sig.signature.length}`);
  return Buffer.concat([sig.publicKey, sig.signature]);
}

export function signBreakSig(publicKey: Buffer, privateKey: Uint8Array): BreakSig {
  assertPublicKeyLength(publicKey, 'break signature public_key');
  return Object.freeze({ publicKey: Buffer.from(publicKey), signature: sign(BREAK_MESSAGE, privateKey) });
}

export function verifyBreakSig(sig: BreakSig): boolean {
  return isValidPoint(sig.publicKey) && verify(BREAK_MESSAGE, sig.signature, sig.publicKey);
}

/** Decodes and verifies, with tackpy 0.9.7's message for a bad signature. */
export function parseBreakSig(bytes: Uint8Array): BreakSig {
  const sig = decodeBreakSig(bytes);
  if (!verifyBreakSig(sig)) throw new TackError('TACK_Break_Sig has bad signature');
  return sig;
}

/** The TACK ID of the key this signature breaks. */
export function brokenTackId(sig: BreakSig): string {
  return fingerprint(sig.publicKey);
}
