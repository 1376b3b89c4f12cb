// tack/tack.ts: the 166-byte TACK (draft-perrin-tls-tack-00 §4.1, §4.2.1; tackpy 0.9.7 Tack.py):
// decode, encode, sign and verify. Expiration is in minutes since 1970-01-01T00:00Z.
//
//   0  64  public_key      x ‖ y
//  64   1  min_generation
//  65   1  generation      >= min_generation
//  66   4  expiration      uint32 big-endian, minutes
//  70  32  target_hash     SHA-256 of the server certificate's DER SubjectPublicKeyInfo
// 102  64  signature       r ‖ s over "tack_sig" ‖ bytes 0..101
import { TackError } from './error.ts';
import { assertPublicKeyLength, fingerprint } from './key.ts';
import { isValidPoint, sign, verify } from './p256.ts';

export const TACK_LENGTH = 166;
const SIGNED_LENGTH = 102;
const TACK_SIG_LABEL = Buffer.from('tack_sig', 'ascii');
export const MAX_EXPIRATION = 0xffffffff;

export interface TackFields {
  readonly publicKey: Buffer;
  readonly minGeneration: number;
  readonly generation: number;
  /** Minutes since the epoch, leap seconds not counted. */
  readonly expiration: number;
  readonly targetHash: Buffer;
}

export interface Tack extends TackFields {
  readonly signature: Buffer;
}

/** Splits 166 bytes into fields. Checks nothing but the length: see parseTack and check.ts. */
export function decodeTack(bytes: Uint8Array): Tack {
  if (bytes.length !== TACK_LENGTH) throw new TackError(`TACK: expected ${TACK_LENGTH} bytes, got ${bytes.length}`);
  const b = Buffer.from(bytes);
  return Object.freeze({
    publicKey: b.subarray(0, 64),
    minGeneration: b[64]!,
    generation: b[65]!,
    expiration: b.readUInt32BE(66),
    targetHash: b.subarray(70, 102),
    signature: b.subarray(102, 166),
  });
}

export function encodeTack(tack: Tack): Buffer {
  if (tack.signature.length !== 64) throw new TackError(`TACK signature: expected 64 bytes (r ‖ s), got ${tack.signature.length}`);
  return Buffer.concat([encodeSigned(tack), tack.signature]);
}

/** The signed message: "tack_sig" ‖ the first 102 bytes (draft-00 §4.2.1). */
export function tackSignedData(fields: TackFields): Buffer {
  return Buffer.concat([TACK_SIG_LABEL, encodeSigned(fields)]);
}

function encodeSigned(f: TackFields): Buffer {
  assertPublicKeyLength(f.publicKey, 'TACK public_key');
  checkGeneration(f.minGeneration, 'min_generation');
  checkGeneration(f.generation, 'generation');
  if (!Number.isInteger(f.expiration) || f.expiration < 0 || f.expiration > MAX_EXPIRATION) {
    throw new TackError(`TACK expiration: expected whole minutes from 0 to ${MAX_EXPIRATION}, got ${f.expiration}`);
  }
  if (f.targetHash.length !== 32) throw new TackError(`TACK target_hash: expected 32 bytes (SHA-256), got ${f.targetHash.length}`);
  const out = Buffer.alloc(SIGNED_LENGTH);
  Buffer.from(f.publicKey).copy(out, 0);
  out[64] = f.minGeneration;
  out[65] = f.generation;
  out.writeUInt32BE(f.expiration, 66);
  Buffer.from(f.targetHash).copy(out, 70);
  return out;
}

function checkGeneration(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new TackError(`TACK ${what}: expected 0 to 255, got ${n}`);
}

/** Signs the fields with the private scalar matching fields.publicKey. */
export function signTack(fields: TackFields, privateKey: Uint8Array): Tack {
  if (fields.generation < fields.minGeneration) {
    throw new TackError(`TACK generation: expected >= min_generation ${fields.minGeneration}, got ${fields.generation}`);
  }
  const signature = sign(tackSignedData(fields), privateKey);
  return Object.freeze({ ...fields, signature });
}

export function verifyTackSignature(tack: Tack): boolean {
  return verify(tackSignedData(tack), tack.signature, tack.publicKey);
}

/**
 * Decodes and checks what tackpy 0.9.7's parser checks, with its messages (Tack.py `__init__`):
 * the length, generation >= min_generation, and the signature; plus a valid point, which tackpy
 * only asserts (draft-00 §5.3.1). Expiry and target_hash are the client's business: check.ts.
 */
export function parseTack(bytes: Uint8Array): Tack {
  const tack = decodeTack(bytes);
  if (tack.generation < tack.minGeneration) throw new TackError('Generation less than min_generation');
  if (!isValidPoint(tack.publicKey)) throw new TackError('TACK public_key is not a valid P-256 point');
  if (!verifyTackSignature(tack)) throw new TackError('TACK has bad signature');
  return tack;
}

export function tackId(tack: { readonly publicKey: Buffer }): string {
  return fingerprint(tack.publicKey);
}
