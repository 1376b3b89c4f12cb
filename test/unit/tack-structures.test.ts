// tack-structures.test.ts: every TACK object survives encode → decode, and what it signs verifies
// (ECDSA is randomised, so new signatures are verified, never compared: facts §1.2). Also each
// decoder's refusals and their messages.
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { describe, test } from 'node:test';
import { decodeBreakSig, encodeBreakSig, parseBreakSig, signBreakSig, verifyBreakSig } from '../../src/tack/break-sig.ts';
import { hmacSha256, pbkdf2Sha256 } from '../../src/tack/digest.ts';
import { decodeTackExtension, encodeTackExtension } from '../../src/tack/extension.ts';
import { base32, fingerprint } from '../../src/tack/key.ts';
import { decodeKeyFile, encodeKeyFile, openKeyFile, sealKeyFile, type KeyFile } from '../../src/tack/keyfile.ts';
import { isValidPoint, publicKeyOf, randomScalar } from '../../src/tack/p256.ts';
import { containsPem, decodePem, decodePemBlocks, encodePem, pemComments } from '../../src/tack/pem.ts';
import { decodeTack, encodeTack, parseTack, signTack, verifyTackSignature, type TackFields } from '../../src/tack/tack.ts';

const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n; // P-256 group order
const privateKey = randomScalar();
const publicKey = publicKeyOf(privateKey);
const fields: TackFields = { publicKey, minGeneration: 3, generation: 7, expiration: 30_000_000, targetHash: Buffer.alloc(32, 0xab) };
const message = (e: unknown): string => (e as Error).message;

describe('TACK', () => {
  test('sign → encode → decode gives the same fields and a signature that verifies', () => {
    const bytes = encodeTack(signTack(fields, privateKey));
    assert.equal(bytes.length, 166);
    const back = parseTack(bytes);
    assert.deepEqual({ ...back, signature: undefined }, { ...fields, signature: undefined });
    assert.ok(verifyTackSignature(back));
    assert.deepEqual(encodeTack(back), bytes);
  });

  test('signing twice gives two signatures that both verify', () => {
    const a = signTack(fields, privateKey);
    const b = signTack(fields, privateKey);
    assert.ok(verifyTackSignature(a) && verifyTackSignature(b));
  });

  test('a high-S signature verifies (tackpy and OpenSSL do not normalise s)', () => {
    const t = signTack(fields, privateKey);
    const s = BigInt(`0x${t.signature.subarray(32).toString('hex')}`);
    const high = Buffer.from((N - s).toString(16).padStart(64, '0'), 'hex');
    const flipped = { ...t, signature: Buffer.concat([t.signature.subarray(0, 32), high]) };
    assert.ok(verifyTackSignature(flipped));
  });

  test('a signature by another key does not verify', () => {
    const other = randomScalar();
    const t = signTack({ ...fields, publicKey: publicKeyOf(other) }, privateKey);
    assert.equal(verifyTackSignature(t), false);
    assert.throws(() => parseTack(encodeTack(t)), { message: 'TACK has bad signature' });
  });

  test('parseTack refuses generation < min_generation with tackpy message', () => {
    const t = signTack({ ...fields, minGeneration: 5, generation: 5 }, privateKey);
    const bytes = encodeTack(t);
    bytes[65] = 4;
    assert.throws(() => parseTack(bytes), { message: 'Generation less than min_generation' });
    assert.throws(() => signTack({ ...fields, minGeneration: 5, generation: 4 }, privateKey), /expected >= min_generation 5, got 4/);
  });

  test('decode and encode refuse what does not fit', () => {
    assert.throws(() => decodeTack(Buffer.alloc(165)), { message: 'TACK: expected 166 bytes, got 165' });
    assert.throws(() => encodeTack({ ...fields, generation: 256, signature: Buffer.alloc(64) }), /generation: expected 0 to 255, got 256/);
    assert.throws(() => encodeTack({ ...fields, expiration: 2 ** 32, signature: Buffer.alloc(64) }), /expiration: expected whole minutes from 0 to 4294967295/);
    assert.throws(() => encodeTack({ ...fields, targetHash: Buffer.alloc(20), signature: Buffer.alloc(64) }), /target_hash: expected 32 bytes/);
    assert.throws(() => encodeTack({ ...fields, publicKey: Buffer.alloc(65), signature: Buffer.alloc(64) }), /expected 64 bytes \(x ‖ y\), got 65/);
  });

  test('the largest expiration (2^32 - 1 minutes) round-trips', () => {
    const t = signTack({ ...fields, expiration: 0xffffffff }, privateKey);
    assert.equal(decodeTack(encodeTack(t)).expiration, 0xffffffff);
  });
});

describe('break signature', () => {
  test('sign → encode → decode round-trips and verifies', () => {
    const sig = signBreakSig(publicKey, privateKey);
    const bytes = encodeBreakSig(sig);
    assert.equal(bytes.length, 128);
    assert.deepEqual(parseBreakSig(bytes), sig);
    assert.ok(verifyBreakSig(decodeBreakSig(bytes)));
  });

  test('a signature over the key of another pair does not verify', () => {
    const sig = signBreakSig(publicKeyOf(randomScalar()), privateKey);
    assert.throws(() => parseBreakSig(encodeBreakSig(sig)), { message: 'TACK_Break_Sig has bad signature' });
  });

  test('a wrong length is refused', () => {
    assert.throws(() => decodeBreakSig(Buffer.alloc(129)), { message: 'break signature: expected 128 bytes, got 129' });
  });
});

describe('TACK_Extension (draft-00 §4.1)', () => {
  const tack = signTack(fields, privateKey);
  const sigs = [signBreakSig(publicKey, privateKey), signBreakSig(publicKey, privateKey)];

  test('a TACK, two break signatures and pin_activation round-trip', () => {
    const bytes = encodeTackExtension({ tack, breakSigs: sigs, pinActivation: true });
    assert.equal(bytes.length, 1 + 166 + 2 + 256 + 1);
    const back = decodeTackExtension(bytes);
    assert.deepEqual(back.tack, decodeTack(encodeTack(tack)));
    assert.deepEqual(back.breakSigs.map(encodeBreakSig), sigs.map(encodeBreakSig));
    assert.equal(back.pinActivation, true);
    assert.deepEqual(encodeTackExtension(back), bytes);
  });

  test('an empty extension is four bytes', () => {
    const bytes = encodeTackExtension({ tack: undefined, breakSigs: [], pinActivation: false });
    assert.deepEqual(bytes, Buffer.from([0, 0, 0, 0]));
    assert.deepEqual(decodeTackExtension(bytes), { tack: undefined, breakSigs: [], pinActivation: false });
  });

  test('malformed extensions are refused, each with its reason', () => {
    const cases: [string, Buffer, RegExp][] = [
      ['tack length 165', Buffer.from([165]), /tack length of 0 or 166, got 165/],
      ['break_sigs not a multiple of 128', Buffer.from([0, 0, 127]), /multiple of 128 up to 1024, got 127/],
      ['more than 8 break sigs', Buffer.from([0, 0x04, 0x80]), /got 1152/],
      ['pin_activation 2', Buffer.from([0, 0, 0, 2]), /pin_activation 0 \(disabled\) or 1 \(enabled\), got 2/],
      ['excess bytes', Buffer.from([0, 0, 0, 0, 9]), /got 1 excess bytes/],
      ['truncated', Buffer.from([0, 0]), /expected 2 bytes of break_sigs length at byte 1, got 1/],
    ];
    for (const [name, bytes, re] of cases) assert.throws(() => decodeTackExtension(bytes), re, name);
  });
});

describe('key file (149 bytes)', () => {
  const salt = Buffer.alloc(16, 7);

  test('seal → encode → decode → open returns the scalar; the public key is stored in clear', () => {
    const kf = sealKeyFile(privateKey, 'pw', salt);
    const bytes = encodeKeyFile(kf);
    assert.equal(bytes.length, 149);
    assert.equal(bytes[0], 1);
    assert.equal(bytes.readUInt32BE(1), 8192);
    const back = decodeKeyFile(bytes);
    assert.deepEqual(back, kf);
    assert.deepEqual(back.publicKey, publicKey);
    assert.deepEqual(openKeyFile(back, 'pw'), privateKey);
  });

  test('a wrong password, or a changed ciphertext or public key, fails the MAC', () => {
    const kf = sealKeyFile(privateKey, 'pw', salt);
    const isPassword = (e: unknown): boolean => (e as { kind?: string }).kind === 'password';
    assert.throws(() => openKeyFile(kf, 'pW'), isPassword);
    const bytes = encodeKeyFile(kf);
    bytes[30]! ^= 1;
    assert.throws(() => openKeyFile(decodeKeyFile(bytes), 'pw'), isPassword);
  });

  test('a MAC-valid file whose scalar is not the stored key is refused', () => {
    // Built by hand: encrypt one scalar, store another key, MAC both (what a broken writer would do).
    const other = publicKeyOf(randomScalar());
    const master = pbkdf2Sha256(Buffer.from('pw'), salt, 8192);
    const enc = hmacSha256(master, Buffer.from([1]));
    const auth = hmacSha256(master, Buffer.from([2]));
    const c = createCipheriv('aes-256-cbc', enc, Buffer.alloc(16)).setAutoPadding(false);
    const ciphertext = Buffer.concat([c.update(privateKey), c.final()]);
    const kf: KeyFile = { iterations: 8192, salt, ciphertext, publicKey: other, mac: hmacSha256(auth, Buffer.concat([ciphertext, other])) };
    assert.throws(() => openKeyFile(kf, 'pw'), /does not match the public key stored beside it/);
  });

  test('decoding refuses a wrong size, version, iteration count or public key', () => {
    const good = encodeKeyFile(sealKeyFile(privateKey, 'pw', salt));
    const with_ = (at: number, value: number): Buffer => {
      const b = Buffer.from(good);
      b[at] = value;
      return b;
    };
    assert.throws(() => decodeKeyFile(good.subarray(1)), { message: 'TACK key file: expected 149 bytes, got 148' });
    assert.throws(() => decodeKeyFile(with_(0, 2)), /expected version 1, got 2/);
    assert.throws(() => decodeKeyFile(Buffer.concat([good.subarray(0, 1), Buffer.alloc(4), good.subarray(5)])), /iteration count from 1 to \d+, got 0/);
    assert.throws(() => decodeKeyFile(Buffer.concat([good.subarray(0, 1), Buffer.from([0xff, 0xff, 0xff, 0xff]), good.subarray(5)])), /got 4294967295/);
    assert.throws(() => decodeKeyFile(Buffer.concat([good.subarray(0, 53), Buffer.alloc(64), good.subarray(117)])), /not a valid P-256 point/);
  });

  test('a non-ASCII password is refused: tackpy could not use it', () => {
    assert.throws(() => sealKeyFile(privateKey, 'pässword', salt), /expected ASCII characters only/);
  });
});

describe('TACK ID and P-256 points', () => {
  test('base32 is RFC 4648 §10 in lower case', () => {
    const cases: [string, string][] = [['', ''], ['f', 'my'], ['fo', 'mzxq'], ['foo', 'mzxw6'], ['foob', 'mzxw6yq'], ['fooba', 'mzxw6ytb'], ['foobar', 'mzxw6ytboi']];
    for (const [input, out] of cases) assert.equal(base32(Buffer.from(input)), out);
  });

  test('a fingerprint is 5 groups of 5 base32 characters', () => {
    assert.match(fingerprint(publicKey), /^[a-z2-7]{5}(\.[a-z2-7]{5}){4}$/);
  });

  test('points off the curve, and x or y at or above p, are not valid', () => {
    assert.ok(isValidPoint(publicKey));
    const off = Buffer.from(publicKey);
    off[63]! ^= 1;
    assert.equal(isValidPoint(off), false);
    assert.equal(isValidPoint(Buffer.alloc(64)), false);
    assert.equal(isValidPoint(Buffer.alloc(64, 0xff)), false);
    assert.equal(isValidPoint(publicKey.subarray(1)), false);
  });
});

describe('PEM armour (tackpy PEMEncoder / PEMDecoder)', () => {
  test('64-character lines, \\n endings, and a round trip', () => {
    const der = Buffer.alloc(166, 0x5a);
    const pem = encodePem('TACK', der);
    const lines = pem.split('\n');
    assert.equal(lines[0], '-----BEGIN TACK-----');
    assert.ok(lines.slice(1, -2).every((l, i, all) => (i < all.length - 1 ? l.length === 64 : l.length <= 64)));
    assert.equal(lines.at(-2), '-----END TACK-----');
    assert.equal(lines.at(-1), '');
    assert.deepEqual(decodePem(pem, 'TACK'), der);
  });

  test('the comment lines are tackpy\'s two, and readers skip them', () => {
    const text = pemComments('tlsify 0.1.0', new Date('2013-01-02T03:04:05.678Z')) + encodePem('TACK', Buffer.alloc(3, 1));
    assert.ok(text.startsWith('Created by tlsify 0.1.0\nCreated at 2013-01-02T03:04:05Z\n-----BEGIN TACK-----\n'));
    assert.deepEqual(decodePem(text, 'TACK'), Buffer.alloc(3, 1));
  });

  test('a TACK label does not match a TACK BREAK SIG block', () => {
    const text = encodePem('TACK BREAK SIG', Buffer.alloc(3));
    assert.equal(containsPem(text, 'TACK'), false);
    assert.deepEqual(decodePemBlocks(text, 'TACK'), []);
    assert.throws(() => decodePem(text, 'TACK'), /expected a -----BEGIN TACK----- block, got none/);
  });

  test('a block without its END, or with text that is not base64, is refused', () => {
    assert.throws(() => decodePemBlocks('-----BEGIN TACK-----\nAAAA\n', 'TACK'), /expected -----END TACK----- after -----BEGIN TACK-----, got end of text/);
    assert.throws(() => decodePemBlocks('-----BEGIN TACK-----\nAA*A\n-----END TACK-----\n', 'TACK'), /expected base64, got '\*'/);
    assert.throws(() => decodePemBlocks('-----BEGIN TACK-----\nAAA\n-----END TACK-----\n', 'TACK'), /groups of 4/);
    assert.throws(() => decodePemBlocks('-----BEGIN TACK-----\n-----END TACK-----\n', 'TACK'), (e) => /empty block/.test(message(e)));
  });
});
