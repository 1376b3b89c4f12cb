// tack-client.test.ts: the client side of TACK (draft-perrin-tls-tack-00 §5, facts §1.8) on an
// injected clock: TACK checks against the leaf's SPKI, the pin activation timeline of §5.3.4,
// generation revocation and raises (§5.3.2), break signatures (§5.3.5), the store lines and the
// control events, and tackpy 0.9.7's vectors (test/vectors/tack/README.md).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { TlsifyError } from '../../src/codes.ts';
import { runPins } from '../../src/commands/pins.ts';
import { formatLine } from '../../src/control/frame.ts';
import { entriesOf, type PinEntry, type StoreDoc } from '../../src/pinstore/doc.ts';
import { VERSION_LINE, parseStore, serializeStore } from '../../src/pinstore/format.ts';
import { decideTackPin, enforceTackPins } from '../../src/pinstore/tack.ts';
import { encodeBreakSig, signBreakSig } from '../../src/tack/break-sig.ts';
import { readCertificate } from '../../src/tack/certificate.ts';
import { checkTack } from '../../src/tack/check.ts';
import { judgeTacks, processTacks, readTackFiles, splitBreakSigs, splitTacks, type TackDecision, type TackRequest } from '../../src/tack/client.ts';
import { sha256 } from '../../src/tack/digest.ts';
import { fingerprint } from '../../src/tack/key.ts';
import { publicKeyOf, randomScalar } from '../../src/tack/p256.ts';
import { LABELS, encodePem } from '../../src/tack/pem.ts';
import { encodeTack, parseTack, signTack, type TackFields } from '../../src/tack/tack.ts';

const VECTORS = path.resolve(__dirname, '../vectors/tack');
const HOUR = 3600_000;
const DAY = 24 * HOUR;
const T0 = new Date('2026-11-23T12:00:00Z');
const at = (ms: number): Date => new Date(T0.getTime() + ms);
const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

interface Key {
  readonly priv: Buffer;
  readonly pub: Buffer;
  readonly id: string;
}
function newKey(): Key {
  const priv = randomScalar();
  const pub = publicKeyOf(priv);
  return { priv, pub, id: fingerprint(pub) };
}
const A = newKey();
const B = newKey();
const leafSpki = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004' + '5a'.repeat(64), 'hex');
const otherSpki = Buffer.from(leafSpki).fill(0x77, 27);
const EXPIRES = Math.floor(at(365 * DAY).getTime() / 60_000);

/** A TACK in tackpy's PEM, comment lines included. */
function tackPem(key: Key, f: Partial<TackFields> = {}): string {
  const fields: TackFields = { publicKey: key.pub, minGeneration: 0, generation: 0, expiration: EXPIRES, targetHash: sha256(leafSpki), ...f };
  return 'Created by test\nCreated at 2026-11-23T12:00:00Z\n' + encodePem(LABELS.tack, encodeTack(signTack(fields, key.priv)));
}
const breakPem = (key: Key): string => encodePem(LABELS.breakSig, encodeBreakSig(signBreakSig(key.pub, key.priv)));

const scope = { host: 'Example.COM', port: 443 };
const doc = (...lines: string[]): StoreDoc => parseStore(Buffer.from([VERSION_LINE, ...lines].join('\n') + '\n'), 'F');
const reparse = (d: StoreDoc): StoreDoc => parseStore(Buffer.from(serializeStore(d)), 'next'); // what a later run reads

function judge(store: StoreDoc, now: Date, opts: { tacks?: string[]; breaks?: string[]; activate?: boolean; spki?: Buffer } = {}): TackDecision {
  const req: TackRequest = {
    tacks: (opts.tacks ?? []).map((data, i) => ({ from: `t${i}.pem`, data })),
    breakSigs: (opts.breaks ?? []).map((data, i) => ({ from: `b${i}.pem`, data })),
    leafSpki: opts.spki ?? leafSpki,
    scope,
    activate: opts.activate ?? true,
    now,
  };
  return judgeTacks(req, store);
}
const tackEntries = (d: StoreDoc): PinEntry[] => entriesOf(d).filter((e) => e.source === 'tack');
const events = (d: TackDecision): string[] => d.events.map(([name, fields]) => formatLine(name, fields).trimEnd());

describe('pin activation timeline (draft-00 §5.3.4) on an injected clock', () => {
  let store = doc();
  const step = (now: Date, key: Key, activate = true): TackDecision => {
    const d = judge(store, now, { tacks: [tackPem(key)], activate });
    if (d.next) store = reparse(d.next);
    return d;
  };

  test('first seen: a new inactive pin is learned; the connection is unpinned', () => {
    const d = step(T0, A);
    assert.equal(d.outcome, 'unpinned');
    assert.equal(d.pin.kind, 'learned');
    assert.equal(d.tacks[0]!.result, 'unpinned');
    assert.equal(d.failure, undefined);
    assert.equal(serializeStore(store), `${VERSION_LINE}\nexample.com:443 source=tack first-seen=2026-11-23T12:00:00Z last-seen=2026-11-23T12:00:00Z tack-id=${A.id} min-generation=0\n`);
  });

  test('seen again after 1 h: activated for 1 h, and accepted by the now active pin', () => {
    const d = step(at(HOUR), A);
    assert.equal(d.pin.kind, 'activated');
    assert.equal(d.outcome, 'accepted');
    assert.equal(d.tacks[0]!.result, 'accepted');
    assert.equal(iso(tackEntries(store)[0]!.activeUntil!), iso(at(2 * HOUR)));
    assert.deepEqual(events(d).at(-1), `tack-pin decision=activated outcome=accepted host=example.com:443 id=${A.id} first-seen=2026-11-23T12:00:00Z active-until=2026-11-23T14:00:00Z min-generation=0`);
  });

  test('a key change while active is rejected with pin-mismatch, and nothing is written', () => {
    const d = step(at(HOUR + 60_000), B);
    assert.equal(d.outcome, 'rejected');
    assert.equal(d.pin.kind, 'rejected');
    assert.equal(d.next, undefined);
    assert.deepEqual(d.failure && { code: d.failure.code, reason: d.failure.reason }, { code: 'pin-mismatch', reason: 'active-pin-mismatch' });
    assert.match(d.failure!.message, new RegExp(`expected a TACK by ${A.id} \\(pin active until 2026-11-23T14:00:00Z\\), got TACKs by ${B.id}`));
    assert.equal(d.tacks[0]!.result, 'rejected');
    assert.equal(d.tacks[0]!.alert, 'access_denied');
  });

  test('pinstore/tack.ts imports nothing from src/tack/: enforcing a pin never loads @noble', () => {
    assert.doesNotMatch(fs.readFileSync(path.resolve(__dirname, '../../src/pinstore/tack.ts'), 'utf8'), /from '\.\.\/tack\//);
  });

  test('no TACK at all while active is rejected too (enforceTackPins, without src/tack)', () => {
    const r = enforceTackPins(entriesOf(store), scope, at(HOUR + 60_000))!;
    assert.equal(r.outcome, 'rejected');
    assert.equal(r.decision.kind === 'rejected' && r.decision.reason, 'no-tack');
    assert.equal(enforceTackPins(entriesOf(store), { host: 'other.example', port: 443 }, at(HOUR)), undefined);
    assert.equal(enforceTackPins(entriesOf(store), { host: 'example.com', port: 8443 }, at(HOUR)), undefined, 'pins are kept per port');
  });

  test('seen after 40 days: the active period is capped at 30 days', () => {
    const d = step(at(40 * DAY), A);
    assert.equal(d.pin.kind, 'activated'); // it had gone inactive at T0 + 2 h
    assert.equal(iso(tackEntries(store)[0]!.activeUntil!), iso(at(70 * DAY)));
    const e = step(at(41 * DAY), A);
    assert.equal(e.pin.kind, 'extended');
    assert.equal(iso(tackEntries(store)[0]!.activeUntil!), iso(at(71 * DAY)));
  });

  test('without --tack-activate an active pin still accepts, and nothing is extended', () => {
    const d = step(at(42 * DAY), A, false);
    assert.equal(d.outcome, 'accepted');
    assert.equal(d.pin.kind, 'unchanged');
    assert.equal(d.next, undefined);
  });

  test('a key change once the pin is inactive again: replaced by a new inactive pin', () => {
    const d = step(at(72 * DAY), B);
    assert.equal(d.pin.kind, 'replaced');
    assert.equal(d.outcome, 'unpinned');
    const [e, ...rest] = tackEntries(store);
    assert.equal(rest.length, 0, 'one name record per name');
    assert.equal(e!.tackId, B.id);
    assert.equal(iso(e!.firstSeen!), iso(at(72 * DAY)));
    assert.equal(e!.activeUntil, undefined);
    assert.match(events(d).at(-1)!, new RegExp(`^tack-pin decision=replaced outcome=unpinned host=example.com:443 id=${B.id} .* previous=${A.id}$`));
  });

  test('seen again within the same second changes nothing', () => {
    const d = step(new Date(at(72 * DAY).getTime() + 400), B);
    assert.equal(d.pin.kind, 'unchanged');
    assert.equal(d.next, undefined);
  });
});

describe('without --tack-activate the pin store is only read', () => {
  test('no pin is learned, and an inactive pin for another key is kept', () => {
    const d = judge(doc(), T0, { tacks: [tackPem(A)], activate: false });
    assert.deepEqual([d.outcome, d.pin.kind, d.next], ['unpinned', 'unchanged', undefined]);
    const inactive = doc(`example.com:443 source=tack first-seen=2026-11-01T00:00:00Z tack-id=${A.id}`);
    const e = judge(inactive, T0, { tacks: [tackPem(B)], activate: false });
    assert.deepEqual([e.outcome, e.pin.kind, e.next], ['unpinned', 'unchanged', undefined]);
  });

  test('an inactive pin and no TACK: kept without the flag, deleted with it (§5.3.4)', () => {
    const inactive = doc(`example.com:443 source=tack first-seen=2026-11-01T00:00:00Z tack-id=${A.id}`);
    assert.equal(decideTackPin(inactive, scope, [], false, T0).decision.kind, 'unchanged');
    const r = decideTackPin(inactive, scope, [], true, T0);
    assert.equal(r.decision.kind, 'deleted');
    assert.equal(tackEntries(r.next!).length, 0);
  });
});

describe('generation (draft-00 §5.3.2)', () => {
  const twoHosts = (minGen: number) =>
    doc(
      `example.com:443 source=tack first-seen=2026-11-01T00:00:00Z active-until=2026-12-01T00:00:00Z tack-id=${A.id} min-generation=${minGen}`,
      `mirror.example.com:443 source=tack first-seen=2026-11-01T00:00:00Z tack-id=${A.id} min-generation=${minGen}`,
    );

  test('a TACK whose generation is below the key record min_generation is revoked: rejected', () => {
    const d = judge(twoHosts(3), T0, { tacks: [tackPem(A, { minGeneration: 2, generation: 2 })] });
    assert.equal(d.outcome, 'rejected');
    assert.equal(d.tacks[0]!.reason, 'revoked');
    assert.equal(d.tacks[0]!.alert, 'certificate_revoked');
    assert.equal(d.failure!.code, 'pin-mismatch');
    assert.match(d.failure!.message, /^TACK t0\.pem: expected generation >= 3 .* got 2$/);
    assert.equal(d.next, undefined);
  });

  test('generation equal to min_generation passes', () => {
    assert.equal(judge(twoHosts(3), T0, { tacks: [tackPem(A, { minGeneration: 0, generation: 3 })] }).outcome, 'accepted');
  });

  test('a valid TACK with a higher min_generation raises the key record: every name of the key', () => {
    const d = judge(twoHosts(1), T0, { tacks: [tackPem(A, { minGeneration: 4, generation: 5 })] });
    assert.equal(d.outcome, 'accepted');
    assert.deepEqual(d.raised, [{ id: A.id, from: 1, to: 4 }]);
    assert.deepEqual(tackEntries(reparse(d.next!)).map((e) => e.minGeneration), [4, 4]);
    assert.ok(events(d).includes(`tack-pin decision=raised id=${A.id} min-generation=4 was=1`));
    // Now generation 3 of that key is revoked.
    assert.equal(judge(reparse(d.next!), T0, { tacks: [tackPem(A, { minGeneration: 3, generation: 3 })] }).tacks[0]!.reason, 'revoked');
  });

  test('a new pin for a known key reuses its key record: the higher min_generation', () => {
    const known = doc(`mirror.example.com:443 source=tack first-seen=2026-11-01T00:00:00Z tack-id=${A.id} min-generation=7`);
    const d = judge(known, T0, { tacks: [tackPem(A, { minGeneration: 2, generation: 7 })] });
    assert.equal(d.pin.kind, 'learned');
    assert.equal(d.pin.kind === 'learned' && d.pin.entry.minGeneration, 7);
  });
});

describe('break signatures (draft-00 §5.3.5)', () => {
  const store = doc(
    '# kept comment',
    `example.com:443 source=tack first-seen=2026-11-01T00:00:00Z active-until=2026-12-01T00:00:00Z tack-id=${A.id} min-generation=0`,
    `mirror.example.com:443 source=tack first-seen=2026-11-01T00:00:00Z tack-id=${A.id}`,
    `other.example:443 source=tack first-seen=2026-11-01T00:00:00Z tack-id=${B.id}`,
  );

  test("a verified break signature deletes every pin of the broken key, the key record with them", () => {
    const d = judge(store, T0, { breaks: [breakPem(A)], tacks: [tackPem(B)] });
    const next = reparse(d.next!);
    // A's two names are gone; B's pin is kept, and B's TACK starts a new inactive pin (below).
    assert.deepEqual(tackEntries(next).map((e) => `${e.host} ${e.tackId}`), [`other.example ${B.id}`, `example.com ${B.id}`]);
    assert.ok(serializeStore(next).includes('# kept comment'));
    assert.deepEqual(d.breaks.map((b) => [b.result, b.id, b.removed.length]), [['verified', A.id, 2]]);
    assert.ok(events(d).includes(`tack-pin decision=broken id=${A.id} removed=2 hosts=example.com:443,mirror.example.com:443`));
    // The active pin of A is gone, so B's TACK starts a new inactive pin instead of being rejected.
    assert.equal(d.outcome, 'unpinned');
    assert.equal(d.pin.kind, 'learned');
  });

  test("the broken key's TACKs are unusable: rejected, though the pins are still deleted", () => {
    const d = judge(store, T0, { breaks: [breakPem(A)], tacks: [tackPem(A)] });
    assert.equal(d.outcome, 'rejected');
    assert.equal(d.tacks[0]!.reason, 'broken');
    assert.deepEqual(tackEntries(reparse(d.next!)).map((e) => e.tackId), [B.id]);
  });

  test('a break signature that does not verify rejects the connection and deletes nothing', () => {
    const bad = encodeBreakSig(signBreakSig(A.pub, A.priv));
    bad[100]! ^= 1;
    const d = judge(store, T0, { breaks: [encodePem(LABELS.breakSig, bad)], tacks: [tackPem(A)] });
    assert.equal(d.outcome, 'rejected');
    assert.equal(d.breaks[0]!.reason, 'bad-signature');
    assert.equal(d.next, undefined);
  });
});

describe('TACK checks against the validated leaf (draft-00 §5.3.1, §5.3.3)', () => {
  test('a TACK for another SPKI is rejected (wrong-target), and learns nothing', () => {
    const d = judge(doc(), T0, { tacks: [tackPem(A)], spki: otherSpki });
    assert.equal(d.outcome, 'rejected');
    assert.deepEqual([d.tacks[0]!.reason, d.tacks[0]!.alert], ['wrong-target', 'illegal_parameter']);
    assert.equal(d.next, undefined);
    assert.equal(d.failure!.code, 'pin-mismatch');
  });

  test('an expired TACK is rejected (expired), past the clock tolerance', () => {
    const exp = Math.floor(T0.getTime() / 60_000) - 11;
    const d = judge(doc(), T0, { tacks: [tackPem(A, { expiration: exp })] });
    assert.deepEqual([d.outcome, d.tacks[0]!.reason, d.tacks[0]!.alert], ['rejected', 'expired', 'certificate_expired']);
    assert.equal(judge(doc(), T0, { tacks: [tackPem(A, { expiration: exp + 2 })] }).outcome, 'unpinned');
  });

  test('an expired TACK of the pinned key is rejected even while the pin is active', () => {
    const active = doc(`example.com:443 source=tack first-seen=2026-11-01T00:00:00Z active-until=2026-12-01T00:00:00Z tack-id=${A.id}`);
    const d = judge(active, T0, { tacks: [tackPem(A, { expiration: 1 })] });
    assert.equal(d.outcome, 'rejected');
    assert.match(events(d).at(-1)!, /^tack-pin decision=rejected outcome=rejected host=example.com:443 id=\S+ .*reason=expired/);
  });

  test('a tampered signature is rejected (bad-signature)', () => {
    const raw = encodeTack(signTack({ publicKey: A.pub, minGeneration: 0, generation: 0, expiration: EXPIRES, targetHash: sha256(leafSpki) }, A.priv));
    raw[120]! ^= 1;
    assert.equal(judge(doc(), T0, { tacks: [raw.toString('latin1')] }).tacks[0]!.reason, 'malformed'); // not PEM text: a string is never raw
    const d = judgeTacks({ tacks: [{ from: 'control', data: raw }], breakSigs: [], leafSpki, scope, activate: true, now: T0 }, doc());
    assert.equal(d.tacks[0]!.reason, 'bad-signature');
  });

  test('two TACKs of two keys for one leaf (rollover): the pinned one accepts, the other is unpinned', () => {
    const active = doc(`example.com:443 source=tack first-seen=2026-11-01T00:00:00Z active-until=2026-12-01T00:00:00Z tack-id=${B.id}`);
    const d = judge(active, T0, { tacks: [tackPem(A), tackPem(B)], activate: false });
    assert.equal(d.outcome, 'accepted');
    assert.deepEqual(d.tacks.map((t) => t.result), ['unpinned', 'accepted']);
  });

  test('the per-TACK event carries its key, generations and expiration', () => {
    const d = judge(doc(), T0, { tacks: [tackPem(A, { minGeneration: 1, generation: 2 })], activate: false });
    assert.equal(events(d)[0], `tack kind=tack from=t0.pem id=${A.id} result=unpinned generation=2 min-generation=1 expires=${iso(new Date(EXPIRES * 60_000))}`);
  });
});

describe("tackpy 0.9.7's vectors", () => {
  const read = (name: string) => fs.readFileSync(path.join(VECTORS, name), 'latin1');

  test("the TACK decodes and verifies, and its target_hash is not the GoDaddy certificate's SPKI hash", () => {
    const [bytes, ...more] = splitTacks(read('tack.pem'));
    assert.equal(more.length, 0);
    const tack = parseTack(bytes!); // signature verified while parsing, as tackpy does
    assert.equal(fingerprint(tack.publicKey), 'nkufh.czttd.5cmlw.7cxtv.k6srn');
    assert.equal(tack.targetHash.toString('hex'), '31de0cb19f2adbb0d1cd7b1b31ef8ee3eb59b74459aef94b480beeeeb85c64c9');
    const cert = readCertificate(Buffer.from(read('godaddy-trevp-net.pem'), 'latin1'));
    assert.match(cert.keySha256.toString('hex'), /^ffd30bcb.*e2eb2e50$/);
    const r = checkTack(bytes!, cert.spki, new Date('2012-06-01T00:00:00Z'));
    assert.ok(!r.ok && r.reason === 'wrong-target');
    assert.equal(r.message, `expected target_hash ${cert.keySha256.toString('hex')} (SHA-256 of the server's SPKI), got ${tack.targetHash.toString('hex')}`);
    const d = judgeTacks({ tacks: [{ from: 'tack.pem', data: read('tack.pem') }], breakSigs: [], leafSpki: cert.spki, scope, activate: true, now: new Date('2012-06-01T00:00:00Z') }, doc());
    assert.deepEqual([d.outcome, d.tacks[0]!.reason, d.tacks[0]!.id], ['rejected', 'wrong-target', undefined]);
  });

  test("the break signatures break that key: a pin of nkufh.… is deleted by break-sig.pem", () => {
    assert.equal(splitBreakSigs(read('break-sig-list.pem')).length, 2);
    const pinned = doc('example.com:443 source=tack first-seen=2012-05-01T00:00:00Z tack-id=nkufh.czttd.5cmlw.7cxtv.k6srn');
    const d = judge(pinned, new Date('2012-06-01T00:00:00Z'), { breaks: [read('break-sig-list.pem')] });
    assert.deepEqual(d.breaks.map((b) => b.id), ['nkufh.czttd.5cmlw.7cxtv.k6srn', '6xwgu.ydz7m.7cki3.kizmd.pt2f2']);
    assert.equal(tackEntries(d.next!).length, 0);
  });
});

describe('inputs', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-tack-client-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('raw TACK bytes and PEM text are both read; a file of another kind is refused', () => {
    const raw = splitTacks(tackPem(A))[0]!;
    assert.equal(splitTacks(Buffer.concat([raw, raw])).length, 2);
    assert.throws(() => splitTacks(breakPem(A)), /expected -----BEGIN TACK----- blocks .*got a PEM block of another kind \(TACK BREAK SIG\)/);
    assert.throws(() => splitBreakSigs(Buffer.alloc(100)), /got 100 bytes/);
  });

  test('readTackFiles: a missing or foreign file is a config error naming the flag and file', async () => {
    const good = path.join(tmp, 'tack.pem');
    fs.writeFileSync(good, tackPem(A));
    const r = await readTackFiles([good], [path.join(VECTORS, 'break-sig.pem')]);
    assert.deepEqual([r.tacks.length, r.breakSigs.length], [1, 1]);
    const isConfig = (re: RegExp) => (err: unknown) => err instanceof TlsifyError && err.code === 'config' && re.test(err.message);
    await assert.rejects(readTackFiles([path.join(tmp, 'missing.pem')], []), isConfig(/^--tack .*missing\.pem: expected a readable file, got ENOENT$/));
    await assert.rejects(readTackFiles([path.join(VECTORS, 'break-sig.pem')], []), isConfig(/^--tack .*break-sig\.pem: expected -----BEGIN TACK-----/));
    const short = path.join(tmp, 'short.pem');
    fs.writeFileSync(short, encodePem(LABELS.tack, Buffer.alloc(100)));
    await assert.rejects(readTackFiles([short], []), isConfig(/block 1: expected a TACK of 166 bytes, got 100/));
  });
});

describe('processTacks: decide, then decide again under the lock', () => {
  test('writes what it decides on the locked document; never with --pin-store none', async () => {
    const req: TackRequest = { tacks: [{ from: 'a', data: tackPem(A) }], breakSigs: [], leafSpki, scope, activate: true, now: T0 };
    let written: StoreDoc | undefined;
    // Another process learned B for this name between our read and our lock.
    const locked = doc(`example.com:443 source=tack first-seen=2026-11-23T11:59:00Z tack-id=${B.id}`);
    const d = await processTacks({ file: 'F', read: () => doc(), update: async (change) => (written = change(locked) ?? locked) }, req);
    assert.equal(d.pin.kind, 'replaced');
    assert.deepEqual(tackEntries(written!).map((e) => e.tackId), [A.id]);
    let updates = 0;
    const none = await processTacks({ file: undefined, read: () => doc(), update: async () => (updates++, doc()) }, req);
    assert.equal(none.pin.kind, 'learned');
    assert.equal(updates, 0);
  });
});

describe('tlsify pins list shows TACK pins', () => {
  test('with their state, TACK ID and active period', async () => {
    const env = { XDG_STATE_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-tack-list-')) };
    try {
      fs.mkdirSync(path.join(env.XDG_STATE_HOME, 'tlsify'), { mode: 0o700 });
      let store = judge(doc(), T0, { tacks: [tackPem(A)] }).next!;
      store = judge(reparse(store), at(HOUR), { tacks: [tackPem(A)] }).next!;
      fs.writeFileSync(path.join(env.XDG_STATE_HOME, 'tlsify', 'pins'), serializeStore(store), { mode: 0o600 });
      let out = '';
      assert.equal(await runPins(['list'], { out: (s) => (out += s), env, now: () => at(HOUR) }), 0);
      assert.equal(out, `example.com:443 state=active source=tack first-seen=2026-11-23T12:00:00Z last-seen=2026-11-23T13:00:00Z active-until=2026-11-23T14:00:00Z tack-id=${A.id} min-generation=0\n`);
    } finally {
      fs.rmSync(env.XDG_STATE_HOME, { recursive: true, force: true });
    }
  });
});
