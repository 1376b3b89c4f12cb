// tack/keyfile.ts: the 149-byte `TACK PRIVATE KEY` file of tackpy 0.9.7 (TackKeyFile.py; facts §1.7).
//
//   0   1  version     0x01
//   1   4  iter_count  uint32 big-endian; tackpy writes 8192
//   5  16  salt
//  21  32  ciphertext  AES-256-CBC of the private scalar, IV = 16 zero bytes, no padding
//  53  64  public key  x ‖ y, in clear (view shows the TACK ID without a password)
// 117  32  mac         HMAC-SHA256(authKey, ciphertext ‖ public key)
//
// masterKey = PBKDF2-HMAC-SHA256(password as ASCII, salt, iter_count, 32 bytes)
// encKey = HMAC-SHA256(masterKey, 0x01); authKey = HMAC-SHA256(masterKey, 0x02)
//
// Hashes come from @noble/hashes (digest.ts), the cipher from node:crypto: noble-hashes has no
// AES, and one 32-byte CBC encryption does not justify a third library (@noble/ciphers).
import { createCipheriv, createDecipheriv, timingSafeEqual } from 'node:crypto';
import { hmacSha256, pbkdf2Sha256 } from './digest.ts';
import { TackError } from './error.ts';
import { assertPublicKeyLength } from './key.ts';
import { isValidPoint, isValidScalar, publicKeyOf } from './p256.ts';

export const KEY_FILE_LENGTH = 149;
export const DEFAULT_ITERATIONS = 8192;
/** Far above tackpy's 8192; stops a crafted file from making PBKDF2 run for hours. */
export const MAX_ITERATIONS = 1 << 22;
const ZERO_IV = Buffer.alloc(16);

export interface KeyFile {
  readonly iterations: number;
  readonly salt: Buffer;
  readonly ciphertext: Buffer;
  readonly publicKey: Buffer;
  readonly mac: Buffer;
}

/** Splits the 149 bytes; needs no password (tackpy `view` shows the TACK ID of a key file). */
export function decodeKeyFile(bytes: Uint8Array): KeyFile {
  if (bytes.length !== KEY_FILE_LENGTH) throw new TackError(`TACK key file: expected ${KEY_FILE_LENGTH} bytes, got ${bytes.length}`);
  const b = Buffer.from(bytes);
  if (b[0] !== 1) throw new TackError(`TACK key file: expected version 1, got ${b[0]} (tackpy: "Bad version in Key File")`);
  const iterations = b.readUInt32BE(1);
  if (iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new TackError(`TACK key file: expected an iteration count from 1 to ${MAX_ITERATIONS}, got ${iterations}`);
  }
  const publicKey = b.subarray(53, 117);
  if (!isValidPoint(publicKey)) throw new TackError('TACK key file: the public key is not a valid P-256 point');
  return Object.freeze({ iterations, salt: b.subarray(5, 21), ciphertext: b.subarray(21, 53), publicKey, mac: b.subarray(117, 149) });
}

export function encodeKeyFile(kf: KeyFile): Buffer {
  const head = Buffer.alloc(5);
  head[0] = 1;
  head.writeUInt32BE(kf.iterations, 1);
  const out = Buffer.concat([head, kf.salt, kf.ciphertext, kf.publicKey, kf.mac]);
  if (out.length !== KEY_FILE_LENGTH) throw new TackError(`TACK key file: expected ${KEY_FILE_LENGTH} bytes, got ${out.length}`);
  return out;
}

/** tackpy encodes the password as ASCII and fails on anything else (PBKDF2.py), so we refuse it. */
export function passwordBytes(password: string): Buffer {
  const bad = password.search(/[^\x00-\x7f]/);
  if (bad >= 0) throw new TackError('password: expected ASCII characters only (tackpy 0.9.7 reads passwords as ASCII), got a non-ASCII character');
  return Buffer.from(password, 'ascii');
}

function deriveKeys(password: string, salt: Buffer, iterations: number): { encKey: Buffer; authKey: Buffer } {
  const master = pbkdf2Sha256(passwordBytes(password), salt, iterations);
  return { encKey: hmacSha256(master, Buffer.from([1])), authKey: hmacSha256(master, Buffer.from([2])) };
}

function aes(mode: 'encrypt' | 'decrypt', key: Buffer, block: Buffer): Buffer {
  const c = mode === 'encrypt' ? createCipheriv('aes-256-cbc', key, ZERO_IV) : createDecipheriv('aes-256-cbc', key, ZERO_IV);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

/** Encrypts a private scalar under a password. `salt` is 16 random bytes, passed in to keep this pure. */
export function sealKeyFile(privateKey: Uint8Array, password: string, salt: Uint8Array, iterations = DEFAULT_ITERATIONS): KeyFile {
  if (!isValidScalar(privateKey)) throw new TackError('TACK private key: expected a 32-byte scalar from 1 to n-1');
  if (salt.length !== 16) throw new TackError(`TACK key file salt: expected 16 bytes, got ${salt.length}`);
  const publicKey = publicKeyOf(privateKey);
  const { encKey, authKey } = deriveKeys(password, Buffer.from(salt), iterations);
  const ciphertext = aes('encrypt', encKey, Buffer.from(privateKey));
  const mac = hmacSha256(authKey, Buffer.concat([ciphertext, publicKey]));
  return Object.freeze({ iterations, salt: Buffer.from(salt), ciphertext, publicKey, mac });
}

/**
 * The private scalar, or a TackError of kind 'password' when the MAC does not match (a wrong
 * password; the MAC is compared in constant time, as tackpy's Util.constTimeCompare does).
 * Also checks what tackpy does not: the scalar is in range and belongs to the stored public key.
 */
export function openKeyFile(kf: KeyFile, password: string): Buffer {
  assertPublicKeyLength(kf.publicKey, 'TACK key file public key');
  const { encKey, authKey } = deriveKeys(password, kf.salt, kf.iterations);
  const mac = hmacSha256(authKey, Buffer.concat([kf.ciphertext, kf.publicKey]));
  if (kf.mac.length !== mac.length || !timingSafeEqual(mac, kf.mac)) throw new TackError('password incorrect (the key file MAC does not match)', 'password');
  const privateKey = aes('decrypt', encKey, kf.ciphertext);
  if (!isValidScalar(privateKey) || !publicKeyOf(privateKey).equals(kf.publicKey)) {
    throw new TackError('TACK key file: the decrypted private key does not match the public key stored beside it');
  }
  return privateKey;
}
