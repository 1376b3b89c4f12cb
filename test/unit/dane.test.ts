// test/unit/dane.test.ts: TLSA parsing (RFC 6698 §2) and DANE-EE / DANE-TA checks (RFC 7671
// §5.1, §5.2) against a PKI generated at test time.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { issue, type Issued } from '../../src/pki/generate.ts';
import { parseCertificate, type Cert } from '../../src/trust/cert.ts';
import { daneVerify, parseTlsa, TlsaError, type DaneResult } from '../../src/trust/dane.ts';
import type { Tlsa } from '../../src/trust/policy.ts';

const DAY = 86400_000;
const now = new Date();
let root: Issued;
let int: Issued;
let leaf: Issued;
let stranger: Issued;
let expiredLeaf: Issued;
let wrongNameLeaf: Issued;
const cert = (i: Issued): Cert => parseCertificate(i.der);

before(async () => {
  root = await issue({ subject: 'CN=DANE Root', ca: true });
  int = await issue({ subject: 'CN=DANE Int', ca: true, issuer: root });
  leaf = await issue({ subject: 'CN=leaf', issuer: int, dns: ['mail.example'] });
  stranger = await issue({ subject: 'CN=leaf', issuer: int, dns: ['mail.example'] });
  expiredLeaf = await issue({ subject: 'CN=old leaf', issuer: int, dns: ['mail.example'], notBefore: new Date(now.getTime() - 60 * DAY), notAfter: new Date(now.getTime() - DAY) });
  wrongNameLeaf = await issue({ subject: 'CN=other', issuer: int, dns: ['other.example'] });
});

/** The record 'U S M hex' for `issued`, computed here independently of dane.ts. */
function record(usage: number, selector: 0 | 1, matching: 0 | 1 | 2, issued: Issued): Tlsa {
  const c = cert(issued);
  const selected = selector === 0 ? c.der : c.spki;
  const data = matching === 0 ? selected : createHash(matching === 1 ? 'sha256' : 'sha512').update(selected).digest();
  return parseTlsa(`${usage} ${selector} ${matching} ${data.toString('hex')}`);
}

function assertOk(r: DaneResult): asserts r is Extract<DaneResult, { ok: true }> {
  assert.ok(r.ok, r.ok ? '' : `expected ok, got ${r.code}: ${r.message}`);
}

function assertFail(r: DaneResult): asserts r is Extract<DaneResult, { ok: false }> {
  assert.equal(r.ok, false, 'expected a failure, got ok');
}

const pins = (path: readonly Cert[]): string[] => path.map((c) => c.pin);

describe('DANE-EE (usage 3, RFC 7671 §5.1)', () => {
  for (const [selector, matching] of [[1, 1], [0, 1], [1, 2], [0, 0]] as const) {
    test(`3 ${selector} ${matching} for the leaf matches, with the path just the leaf`, () => {
      const r = daneVerify([record(3, selector, matching, leaf)], cert(leaf), [cert(int)], now);
      assertOk(r);
      assert.equal(r.usage, 3);
      assert.equal(r.depth, 0);
      assert.deepEqual(pins(r.path), [leaf.spkiPin]);
      assert.equal(r.record.text.slice(0, 6), `3 ${selector} ${matching} `);
    });
  }

  test('3 1 1 for another key fails, and the message shows both hashes', () => {
    const rec = record(3, 1, 1, stranger);
    const r = daneVerify([rec], cert(leaf), [cert(int)], now);
    assertFail(r);
    assert.equal(r.code, 'untrusted');
    const ours = createHash('sha256').update(cert(leaf).spki).digest('hex').slice(0, 8);
    assert.equal(r.message, `no TLSA record matched: 3 1 1 ${rec.data.toString('hex').slice(0, 8)}… vs leaf SPKI sha256 ${ours}…`);
  });

  test('an expired leaf passes: DANE-EE ignores expiry', () => {
    const r = daneVerify([record(3, 1, 1, expiredLeaf)], cert(expiredLeaf), [cert(int)], now);
    assertOk(r);
    assert.equal(r.usage, 3);
  });

  test('a leaf without the wanted name passes: names are not checked for DANE-EE', () => {
    const r = daneVerify([record(3, 0, 1, wrongNameLeaf)], cert(wrongNameLeaf), [], now);
    assertOk(r);
  });

  test('a leaf nobody could chain (no intermediate sent) still passes', () => {
    const r = daneVerify([record(3, 1, 1, leaf)], cert(leaf), [], now);
    assertOk(r);
  });
});

describe('DANE-TA (usage 2, RFC 7671 §5.2)', () => {
  test('2 0 1 on the intermediate passes with the path leaf -> intermediate', () => {
    const r = daneVerify([record(2, 0, 1, int)], cert(leaf), [cert(int), cert(root)], now);
    assertOk(r);
    assert.equal(r.usage, 2);
    assert.deepEqual(pins(r.path), [leaf.spkiPin, int.spkiPin]);
    assert.equal(r.depth, 1);
  });

  test('2 1 1 on the root passes when the chain carries the root', () => {
    const r = daneVerify([record(2, 1, 1, root)], cert(leaf), [cert(int), cert(root)], now);
    assertOk(r);
    assert.deepEqual(pins(r.path), [leaf.spkiPin, int.spkiPin, root.spkiPin]);
    assert.equal(r.depth, 2);
  });

  test('2 1 1 on the root fails when the chain does not carry it, naming what was sent', () => {
    const r = daneVerify([record(2, 1, 1, root)], cert(leaf), [cert(int)], now);
    assertFail(r);
    assert.equal(r.code, 'untrusted');
    assert.match(r.message, /^no TLSA record matched: 2 1 1 [0-9a-f]{8}… vs 'CN=DANE Int' SPKI sha256 [0-9a-f]{8}…$/);
  });

  test('2 0 0 with the anchor only in the record (not sent) passes', () => {
    const r = daneVerify([record(2, 0, 0, root)], cert(leaf), [cert(int)], now);
    assertOk(r);
    assert.deepEqual(pins(r.path), [leaf.spkiPin, int.spkiPin, root.spkiPin]);
    assert.ok(r.path[r.depth]!.der.equals(root.der));
  });

  test('an expired leaf under DANE-TA fails as expired, saying which record matched', () => {
    const r = daneVerify([record(2, 0, 1, int)], cert(expiredLeaf), [cert(int)], now);
    assertFail(r);
    assert.equal(r.code, 'expired');
    assert.match(r.message, /^TLSA 2 0 1 [0-9a-f]{8}… matched 'CN=DANE Int', but the path from the leaf to it does not validate: certificate at depth 0 \('CN=old leaf'\) expired at /);
  });

  test('a record for the leaf itself is not a trust anchor', () => {
    const r = daneVerify([record(2, 1, 1, leaf)], cert(leaf), [cert(int)], now);
    assertFail(r);
    assert.equal(r.code, 'untrusted');
    assert.match(r.message, /the leaf itself matches, but DANE-TA names an issuer/);
  });

  test('a sent CA that matches but did not sign the chain fails with the path error', async () => {
    const other = await issue({ subject: 'CN=Other CA', ca: true });
    const r = daneVerify([record(2, 0, 1, other)], cert(leaf), [cert(int), cert(other)], now);
    assertFail(r);
    assert.equal(r.code, 'untrusted');
    assert.match(r.message, /matched 'CN=Other CA', but the path from the leaf to it does not validate: no path to a trusted anchor/);
  });
});

describe('several records', () => {
  test('every record is tried: a failing DANE-TA does not hide a matching DANE-EE', () => {
    const r = daneVerify([record(2, 0, 1, int), record(3, 1, 1, expiredLeaf)], cert(expiredLeaf), [cert(int)], now);
    assertOk(r);
    assert.equal(r.usage, 3);
  });

  test('the first record that succeeds wins', () => {
    const records = [record(3, 1, 1, stranger), record(2, 0, 1, int), record(3, 1, 1, leaf)];
    const r = daneVerify(records, cert(leaf), [cert(int)], now);
    assertOk(r);
    assert.equal(r.record, records[1]);
  });

  test('with none matching, the message lists each record tried', () => {
    const r = daneVerify([record(3, 1, 1, stranger), record(2, 1, 2, root)], cert(leaf), [cert(int)], now);
    assertFail(r);
    assert.match(r.message, /^no TLSA record matched: 3 1 1 [0-9a-f]{8}… vs leaf SPKI sha256 [0-9a-f]{8}…; 2 1 2 [0-9a-f]{8}… vs 'CN=DANE Int' SPKI sha512 [0-9a-f]{8}…$/);
  });

  test('a path failure is reported ahead of records that did not match', () => {
    const r = daneVerify([record(3, 1, 1, stranger), record(2, 0, 1, int)], cert(expiredLeaf), [cert(int)], now);
    assertFail(r);
    assert.equal(r.code, 'expired');
    assert.match(r.message, /; no other record matched: 3 1 1 /);
  });

  test('no records at all is a failure, not a pass', () => {
    const r = daneVerify([], cert(leaf), [cert(int)], now);
    assertFail(r);
    assert.equal(r.code, 'untrusted');
  });
});

describe('parseTlsa', () => {
  const h32 = 'ab'.repeat(32);
  const h64 = 'cd'.repeat(64);

  test('normalises blanks and case, keeping the bytes', () => {
    const t = parseTlsa(`  3\t1   1 ${h32.toUpperCase()}\n`);
    assert.deepEqual({ usage: t.usage, selector: t.selector, matching: t.matching }, { usage: 3, selector: 1, matching: 1 });
    assert.equal(t.text, `3 1 1 ${h32}`);
    assert.ok(t.data.equals(Buffer.from(h32, 'hex')));
    assert.equal(parseTlsa(t.text).text, t.text);
    assert.equal(parseTlsa(`2 0 2 ${h64}`).data.length, 64);
  });

  const cases: [string, string, RegExp][] = [
    ['usage 0 (PKIX-TA)', `0 1 1 ${h32}`, /usage: expected 2 \(DANE-TA\) or 3 \(DANE-EE\), got 0 \(PKIX-TA\): tlsify supports DANE-TA\(2\) and DANE-EE\(3\) only, since PKIX-TA\(0\) and PKIX-EE\(1\) need the DNS context/],
    ['usage 1 (PKIX-EE)', `1 1 1 ${h32}`, /got 1 \(PKIX-EE\): tlsify supports DANE-TA\(2\) and DANE-EE\(3\) only/],
    ['usage 255 (PrivCert)', `255 1 1 ${h32}`, /got 255 \(PrivCert\)/],
    ['usage 4', `4 1 1 ${h32}`, /usage: expected 2 \(DANE-TA\) or 3 \(DANE-EE\), got 4:/],
    ['usage not a number', `x 1 1 ${h32}`, /usage: expected a number 0\.\.255, got 'x'/],
    ['usage over 255', `256 1 1 ${h32}`, /usage: expected a number 0\.\.255, got '256'/],
    ['selector 2', `3 2 1 ${h32}`, /selector: expected 0 \(Cert\) or 1 \(SPKI\), got 2/],
    ['matching 3', `3 1 3 ${h32}`, /matching type: expected 0 \(Full\), 1 \(SHA2-256\) or 2 \(SHA2-512\), got 3/],
    ['SHA-256 data of 31 bytes', `3 1 1 ${h32.slice(2)}`, /expected 32 bytes for matching type 1 \(SHA2-256\), got 31/],
    ['SHA-256 data of 64 bytes', `3 1 1 ${h64}`, /expected 32 bytes for matching type 1 \(SHA2-256\), got 64/],
    ['SHA-512 data of 32 bytes', `3 1 2 ${h32}`, /expected 64 bytes for matching type 2 \(SHA2-512\), got 32/],
    ['odd hex', `3 1 1 ${h32}a`, /expected an even number of hex digits, got 65/],
    ['non-hex', `3 1 1 ${h32.slice(2)}zz`, /expected hex digits 0-9a-f, got 'z' at character 63/],
    ['colons in the hex', `3 1 1 ab:cd`, /expected hex digits 0-9a-f, got ':' at character 3/],
    ['three fields', `3 1 ${h32}`, /expected 4 fields 'usage selector matching hex' separated by blanks, got 3/],
    ['empty', '   ', /expected 4 fields .* got 0/],
    ['3 0 0 with data that is not a certificate', `3 0 0 ${h32}`, /expected a DER certificate for selector 0 matching type 0, got: certificate: /],
  ];
  test('accepts hex split by blanks, as dig prints it (RFC 6698 §2.2)', () => {
    assert.equal(parseTlsa(`3 1 1 ${h32.slice(0, 32)} ${h32.slice(32)}`).text, `3 1 1 ${h32.toLowerCase()}`);
  });
  for (const [name, text, message] of cases) {
    test(`rejects ${name}`, () => {
      assert.throws(() => parseTlsa(text), (e: unknown) => {
        assert.ok(e instanceof TlsaError, `expected a TlsaError, got ${String(e)}`);
        assert.match(e.message, /^TLSA record '/);
        assert.match(e.message, message);
        return true;
      });
    });
  }
});
