// tack-vectors.test.ts: tackpy 0.9.7's own test vectors (test/vectors/tack/README.md; facts §1.10)
// decode, verify and view exactly as tack.py shows them.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { brokenTackId, decodeBreakSig, parseBreakSig, verifyBreakSig } from '../../src/tack/break-sig.ts';
import { defaultExpiration, readCertificate } from '../../src/tack/certificate.ts';
import { fingerprint } from '../../src/tack/key.ts';
import { decodeKeyFile, openKeyFile } from '../../src/tack/keyfile.ts';
import { decodePem, decodePemBlocks } from '../../src/tack/pem.ts';
import { decodeTack, parseTack, tackSignedData, verifyTackSignature } from '../../src/tack/tack.ts';
import { minutesToText } from '../../src/tack/time.ts';
import { viewFile } from '../../src/tack/view.ts';

const dir = path.resolve(__dirname, '../vectors/tack');
const vector = (name: string): Buffer => readFileSync(path.join(dir, name));
const hex = (s: string): Buffer => Buffer.from(s, 'hex');

// tests/Structures_Test.py test_Tack
const TACK_KEY = hex('4c09ac019229cd1f8c63042bb2e8cb85eb2fa6eddd45ce513a17e0c92a94564535a7585d5e8f8fc10ae6690a3d07dfa885e711ad6125877c9387081841181b4b');
const TACK_TARGET = hex('31de0cb19f2adbb0d1cd7b1b31ef8ee3eb59b74459aef94b480beeeeb85c64c9');
const TACK_SIG = hex('414b730305c858e910110d0145495bcdc1846bd6b53c18639a6585345fa4180b3084b9d7739a8be32fd93c3515d2bcc82188d73f9f13e69a6118a4602e52b703');
// test_BreakSig
const BREAK_SIG = hex('41f29d34029ab638f2826c42d6ab48ca319d13581da698397c2ef7ee2eafc997c232a1200f5f5d6371b8fef766889c53ea82e1b66330df962aecbb93c6d24196');
// test_KeyFile
const KEY_PUBLIC = hex('87301842fe0feb8edbbf1279881e852e4fddf8f225de79139a2d544f74dab0afee4a11f8ed4d8eee5c0e909a14549fe5e60de3ca46e7111d891c41a14f9f3825');
const KEY_PRIVATE = hex('fc815de8b1de13a436e9cd69742cbf2cd4c1c9bb33e023401d9291cf2781b754');

describe('tackpy test_Tack', () => {
  const bytes = decodePem(vector('tack.pem').toString('latin1'), 'TACK');

  test('decodes to the fields the test asserts', () => {
    const t = decodeTack(bytes);
    assert.deepEqual(t.publicKey, TACK_KEY);
    assert.equal(t.minGeneration, 0);
    assert.equal(t.generation, 0);
    assert.equal(t.expiration, 26025024);
    assert.equal(minutesToText(t.expiration), '2019-06-25T22:24Z');
    assert.deepEqual(t.targetHash, TACK_TARGET);
    assert.deepEqual(t.signature, TACK_SIG);
    assert.equal(fingerprint(t.publicKey), 'nkufh.czttd.5cmlw.7cxtv.k6srn');
  });

  test('the signature verifies over "tack_sig" and bytes 0..101', () => {
    const t = parseTack(bytes);
    assert.ok(verifyTackSignature(t));
    assert.deepEqual(tackSignedData(t), Buffer.concat([Buffer.from('tack_sig'), bytes.subarray(0, 102)]));
  });

  test('one flipped bit in any field after the key breaks the signature', () => {
    // (a flipped key byte usually leaves no point at all: tack-check.test covers that)
    for (const at of [64, 65, 66, 69, 70, 101, 102, 133, 134, 165]) {
      const bad = Buffer.from(bytes);
      bad[at]! ^= 0x01;
      assert.equal(verifyTackSignature(decodeTack(bad)), false, `byte ${at}`);
    }
  });

  test('view prints what tack.py view prints', () => {
    assert.deepEqual(viewFile(vector('tack.pem')), {
      kind: 'tack',
      text:
        'TACK ID        = nkufh.czttd.5cmlw.7cxtv.k6srn\n' +
        'min_generation = 0\n' +
        'generation     = 0\n' +
        'expiration     = 2019-06-25T22:24Z\n' +
        'target_hash    = 31de0cb19f2adbb0d1cd7b1b31ef8ee3\n' +
        '                 eb59b74459aef94b480beeeeb85c64c9\n',
    });
  });
});

describe('tackpy test_BreakSig and test_BreakSigList', () => {
  test('the break signature decodes, verifies over "tack_break_sig", and names the TACK key', () => {
    const [bytes] = decodePemBlocks(vector('break-sig.pem').toString('latin1'), 'TACK BREAK SIG');
    const sig = parseBreakSig(bytes!);
    assert.deepEqual(sig.publicKey, TACK_KEY);
    assert.deepEqual(sig.signature, BREAK_SIG);
    assert.equal(brokenTackId(sig), 'nkufh.czttd.5cmlw.7cxtv.k6srn');
    const flipped = Buffer.from(bytes!);
    flipped[100]! ^= 0x80;
    assert.equal(verifyBreakSig(decodeBreakSig(flipped)), false);
  });

  test('the list reads both blocks past the comment lines between them', () => {
    const blocks = decodePemBlocks(vector('break-sig-list.pem').toString('latin1'), 'TACK BREAK SIG');
    assert.deepEqual(blocks.map((b) => brokenTackId(parseBreakSig(b))), ['nkufh.czttd.5cmlw.7cxtv.k6srn', '6xwgu.ydz7m.7cki3.kizmd.pt2f2']);
  });

  test('view prints one "Breaks TACK ID" line per block', () => {
    assert.deepEqual(viewFile(vector('break-sig.pem')), { kind: 'break-sigs', text: 'Breaks TACK ID = nkufh.czttd.5cmlw.7cxtv.k6srn\n' });
    assert.equal(viewFile(vector('break-sig-list.pem')).text, 'Breaks TACK ID = nkufh.czttd.5cmlw.7cxtv.k6srn\nBreaks TACK ID = 6xwgu.ydz7m.7cki3.kizmd.pt2f2\n');
  });
});

describe('tackpy test_KeyFile (password asdf)', () => {
  const kf = decodeKeyFile(decodePem(vector('key-asdf.pem').toString('latin1'), 'TACK PRIVATE KEY'));

  test('reads the indented PEM; the public key is in clear; 8192 iterations', () => {
    assert.equal(kf.iterations, 8192);
    assert.deepEqual(kf.publicKey, KEY_PUBLIC);
  });

  test('asdf decrypts the private scalar the test asserts', () => {
    assert.deepEqual(openKeyFile(kf, 'asdf'), KEY_PRIVATE);
  });

  test('another password is refused as a wrong password', () => {
    assert.throws(() => openKeyFile(kf, 'asdg'), (e: Error & { kind?: string }) => e.kind === 'password' && /password incorrect/.test(e.message));
  });

  test('view shows the TACK ID without a password', () => {
    assert.deepEqual(viewFile(vector('key-asdf.pem')), { kind: 'key', text: `TACK ID        = ${fingerprint(KEY_PUBLIC)}\n` });
    assert.equal(fingerprint(KEY_PUBLIC), 'wumcc.wxggz.ndszh.hgxxi.lptur');
  });
});

describe('tackpy Certificate_Test', () => {
  const pem = vector('godaddy-trevp-net.pem');

  test('key_sha256, the certificate hash and notAfter are the asserted ones', () => {
    const c = readCertificate(pem);
    assert.equal(c.keySha256.toString('hex'), 'ffd30bcb84dbbc211a510875694354c58863d84fb7fc5853dfe36f4be2eb2e50');
    assert.equal(c.notAfter.toISOString(), '2012-07-08T00:19:57.000Z');
    const der = decodePem(pem.toString('latin1'), 'CERTIFICATE');
    assert.equal(createHash('sha256').update(der).digest('hex'), '1a50e3de3a153f33b314b67c1aacc2f59fc99c49b8449c33dcc3665663e2bff1');
    assert.deepEqual(readCertificate(der), c, 'DER reads the same as PEM');
  });

  test('the default TACK expiration is notAfter rounded up to the minute (facts §1.9)', () => {
    assert.equal(minutesToText(defaultExpiration(readCertificate(pem))), '2012-07-08T00:20Z');
  });

  test('view prints key_sha256 on two lines and notAfter with seconds', () => {
    assert.deepEqual(viewFile(pem), {
      kind: 'certificate',
      text: 'key_sha256     = ffd30bcb84dbbc211a510875694354c5\n                 8863d84fb7fc5853dfe36f4be2eb2e50\nnotAfter       = 2012-07-08T00:19:57Z\n',
    });
    assert.deepEqual(viewFile(decodePem(pem.toString('latin1'), 'CERTIFICATE')), viewFile(pem), 'a DER file views the same');
  });
});
