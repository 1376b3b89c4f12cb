// tack-check.test.ts: the client's checks on a TACK and a break signature (draft-00 §5.3): each
// refusal with its reason and alert, the clock tolerance at its edges, generation revocation.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { encodeBreakSig, signBreakSig } from '../../src/tack/break-sig.ts';
import { TACK_CLOCK_TOLERANCE_MINUTES, applyGeneration, breaksKey, checkBreakSig, checkTack, type AcceptedTack } from '../../src/tack/check.ts';
import { sha256 } from '../../src/tack/digest.ts';
import { fingerprint } from '../../src/tack/key.ts';
import { publicKeyOf, randomScalar, sign } from '../../src/tack/p256.ts';
import { decodePem } from '../../src/tack/pem.ts';
import { encodeTack, signTack, tackSignedData, type TackFields } from '../../src/tack/tack.ts';

const privateKey = randomScalar();
const publicKey = publicKeyOf(privateKey);
const leafSpki = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004' + 'ab'.repeat(64), 'hex'); // any bytes: only its hash counts
const otherSpki = Buffer.from(leafSpki).fill(0xcd, 27);
const EXP = 27_000_000; // minutes: 2021-05-03T00:00Z
const at = (minutes: number, seconds = 0): Date => new Date(minutes * 60_000 + seconds * 1000);
const fields: TackFields = { publicKey, minGeneration: 1, generation: 2, expiration: EXP, targetHash: sha256(leafSpki) };
const tackBytes = (f: Partial<TackFields> = {}): Buffer => encodeTack(signTack({ ...fields, ...f }, privateKey));

function accepted(r: ReturnType<typeof checkTack>): AcceptedTack {
  assert.ok(r.ok, r.ok ? '' : r.message);
  return r;
}

describe('checkTack accepts', () => {
  test('a well-formed TACK for this SPKI before its expiration, and says what it holds', () => {
    const r = accepted(checkTack(tackBytes(), leafSpki, at(EXP - 60)));
    assert.equal(r.keyFingerprint, fingerprint(publicKey));
    assert.deepEqual(r.publicKey, publicKey);
    assert.equal(r.minGeneration, 1);
    assert.equal(r.generation, 2);
    assert.equal(r.expiration.toISOString(), at(EXP).toISOString());
  });

  test('a decoded Tack as well as its bytes', () => {
    const t = signTack(fields, privateKey);
    assert.ok(checkTack(t, leafSpki, at(EXP)).ok);
  });

  test('up to the clock tolerance past the expiration, and not a second more', () => {
    assert.equal(TACK_CLOCK_TOLERANCE_MINUTES, 10);
    assert.ok(checkTack(tackBytes(), leafSpki, at(EXP + 10)).ok);
    const late = checkTack(tackBytes(), leafSpki, at(EXP + 10, 1));
    assert.deepEqual(late.ok ? late : { reason: late.reason, alert: late.alert }, { reason: 'expired', alert: 'certificate_expired' });
    assert.ok(checkTack(tackBytes(), leafSpki, at(EXP, 1), { toleranceMinutes: 0 }).ok === false);
    assert.ok(checkTack(tackBytes(), leafSpki, at(EXP + 60), { toleranceMinutes: 60 }).ok);
  });

  test("tackpy's own test TACK, at a time before 2019-06-25T22:24Z, for its target hash", () => {
    const bytes = decodePem(readFileSync(path.resolve(__dirname, '../vectors/tack/tack.pem'), 'latin1'), 'TACK');
    // The SPKI behind target_hash 31de0cb1… is not known, so only the refusal for another one is checked.
    const r = checkTack(bytes, otherSpki, new Date('2019-01-01T00:00Z'));
    assert.ok(!r.ok && r.reason === 'wrong-target');
    assert.match(r.message, /got 31de0cb19f2adbb0d1cd7b1b31ef8ee3eb59b74459aef94b480beeeeb85c64c9$/);
  });
});

describe('checkTack refuses', () => {
  const refusal = (r: ReturnType<typeof checkTack>): { reason: string; alert: string; message: string } => {
    assert.equal(r.ok, false);
    return r as never;
  };

  test('a TACK for another SPKI (illegal_parameter)', () => {
    const r = refusal(checkTack(tackBytes(), otherSpki, at(EXP - 1)));
    assert.equal(r.reason, 'wrong-target');
    assert.equal(r.alert, 'illegal_parameter');
    assert.match(r.message, new RegExp(`expected target_hash ${sha256(otherSpki).toString('hex')}`));
  });

  test('an expired TACK (certificate_expired), with the time it expired', () => {
    const r = refusal(checkTack(tackBytes(), leafSpki, at(EXP + 1440)));
    assert.equal(r.reason, 'expired');
    assert.match(r.message, /expired at 2021-05-03T00:00Z$/);
  });

  test('generation < min_generation (decode_error), even with a good signature over it', () => {
    // signTack refuses such fields, so sign them by hand, as a careless signer could.
    const bad = { ...fields, minGeneration: 9, generation: 8 };
    const bytes = encodeTack({ ...bad, signature: sign(tackSignedData(bad), privateKey) });
    const r = refusal(checkTack(bytes, leafSpki, at(EXP - 1)));
    assert.deepEqual([r.reason, r.alert], ['generation', 'decode_error']);
    assert.match(r.message, /expected generation >= min_generation 9, got 8/);
  });

  test('a bad signature (decrypt_error)', () => {
    const bytes = tackBytes();
    bytes[150]! ^= 0x10;
    const r = refusal(checkTack(bytes, leafSpki, at(EXP - 1)));
    assert.deepEqual([r.reason, r.alert], ['bad-signature', 'decrypt_error']);
  });

  test('a changed field under the signature (here the expiration, to look valid longer)', () => {
    const bytes = tackBytes();
    bytes.writeUInt32BE(EXP + 525_600, 66);
    assert.equal(refusal(checkTack(bytes, leafSpki, at(EXP - 1))).reason, 'bad-signature');
  });

  test('a public key that is not a P-256 point (decrypt_error)', () => {
    const bytes = tackBytes();
    bytes.fill(0, 0, 64);
    const r = refusal(checkTack(bytes, leafSpki, at(EXP - 1)));
    assert.deepEqual([r.reason, r.alert], ['invalid-key', 'decrypt_error']);
  });

  test('a wrong length (decode_error)', () => {
    const r = refusal(checkTack(tackBytes().subarray(1), leafSpki, at(EXP - 1)));
    assert.deepEqual([r.reason, r.alert, r.message], ['malformed', 'decode_error', 'TACK: expected 166 bytes, got 165']);
  });

  test('a tolerance outside 0..1440 minutes is a programming error', () => {
    assert.throws(() => checkTack(tackBytes(), leafSpki, at(EXP), { toleranceMinutes: -1 }), RangeError);
    assert.throws(() => checkTack(tackBytes(), leafSpki, at(EXP), { toleranceMinutes: 1.5 }), RangeError);
  });
});

describe('applyGeneration (draft-00 §5.3.2)', () => {
  const tack = accepted(checkTack(tackBytes({ minGeneration: 3, generation: 5 }), leafSpki, at(EXP - 1)));

  test('no key record yet: the record starts at the TACK min_generation', () => {
    assert.deepEqual(applyGeneration(undefined, tack), { ok: true, minGeneration: 3 });
  });

  test('a record below the TACK min_generation is raised to it', () => {
    assert.deepEqual(applyGeneration(1, tack), { ok: true, minGeneration: 3 });
  });

  test('a record above the TACK min_generation but not above its generation stays', () => {
    assert.deepEqual(applyGeneration(5, tack), { ok: true, minGeneration: 5 });
  });

  test('a generation below the record is revoked (certificate_revoked)', () => {
    const r = applyGeneration(6, tack);
    assert.ok(!r.ok);
    assert.deepEqual([r.reason, r.alert], ['revoked', 'certificate_revoked']);
    assert.match(r.message, /expected generation >= 6 .*got 5/);
  });
});

describe('checkBreakSig and breaksKey (draft-00 §5.3.5)', () => {
  test('a good break signature verifies and breaks its own key only', () => {
    const r = checkBreakSig(encodeBreakSig(signBreakSig(publicKey, privateKey)));
    assert.ok(r.ok);
    assert.equal(r.keyFingerprint, fingerprint(publicKey));
    assert.ok(breaksKey(r, publicKey));
    assert.equal(breaksKey(r, publicKeyOf(randomScalar())), false);
  });

  test('tackpy\'s two break signatures verify', () => {
    const text = readFileSync(path.resolve(__dirname, '../vectors/tack/break-sig-list.pem'), 'latin1');
    const blocks = text.split('-----BEGIN TACK BREAK SIG-----').slice(1).map((b) => decodePem(`-----BEGIN TACK BREAK SIG-----${b}`, 'TACK BREAK SIG'));
    assert.deepEqual(blocks.map((b) => { const r = checkBreakSig(b); return r.ok && r.keyFingerprint; }), ['nkufh.czttd.5cmlw.7cxtv.k6srn', '6xwgu.ydz7m.7cki3.kizmd.pt2f2']);
  });

  test('a break signature made by another key, a non-point and a wrong length are refused', () => {
    const forged = encodeBreakSig(signBreakSig(publicKey, randomScalar()));
    const bad = checkBreakSig(forged);
    assert.ok(!bad.ok && bad.reason === 'bad-signature');
    const notPoint = Buffer.concat([Buffer.alloc(64), forged.subarray(64)]);
    const np = checkBreakSig(notPoint);
    assert.ok(!np.ok && np.reason === 'invalid-key');
    const short = checkBreakSig(forged.subarray(0, 127));
    assert.ok(!short.ok && short.reason === 'malformed');
  });
});
