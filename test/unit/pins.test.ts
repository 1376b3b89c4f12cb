// pins.test.ts: SPKI pins (RFC 7469 §2.4): every accepted spelling, every refusal and its message,
// matching at each depth of a validated path (§2.6), and the Public-Key-Pins header (§2.1).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { parseCertificate, type Cert } from '../../src/trust/cert.ts';
import { ACCEPTED_FORMS, PinError, checkPins, formatPin, hpkpHeader, parsePins, pinFromSpki } from '../../src/trust/pins.ts';
import type { Pin } from '../../src/trust/policy.ts';
import { fixturePki, type FixturePki } from '../helpers/pki.ts';

// Three fixed hashes; B begins with 0xff, so its base64 begins with '/', the curl/OkHttp edge.
const A = Buffer.alloc(32, 0xa1);
const B = Buffer.concat([Buffer.from([0xff]), Buffer.alloc(31, 0x42)]);
const C = Buffer.alloc(32, 0x07);
const b64 = (h: Buffer): string => h.toString('base64');
const texts = (pins: Pin[]): string[] => pins.map((p) => p.text);

describe('parsePins accepts', () => {
  const cases: [string, string, Buffer[]][] = [
    ['curl', `sha256//${b64(A)}`, [A]],
    ['OkHttp', `sha256/${b64(A)}`, [A]],
    ['HPKP, quoted', `pin-sha256="${b64(A)}"`, [A]],
    ['HPKP, unquoted token', `pin-sha256=${b64(A)}`, [A]],
    ['HPKP with the directive name in any case (RFC 7469 §2.1 rule 3)', `Pin-SHA256="${b64(A)}"`, [A]],
    ['blanks around a single pin', `  \tsha256/${b64(A)}  `, [A]],
    ['a list mixing the forms, in order', ` sha256//${b64(A)} ;sha256/${b64(C)};  pin-sha256="${b64(B)}" `, [A, C, B]],
    ['OkHttp with base64 that begins with /', `sha256/${b64(B)}`, [B]],
    ['curl with base64 that begins with /', `sha256//${b64(B)}`, [B]],
    ['duplicates in different forms collapse to the first', `sha256/${b64(C)}; sha256//${b64(A)}; pin-sha256="${b64(C)}"; sha256/${b64(A)}`, [C, A]],
  ];
  for (const [name, text, hashes] of cases) {
    test(name, () => {
      const pins = parsePins(text, '--pin');
      assert.deepEqual(texts(pins), hashes.map((h) => `sha256/${b64(h)}`));
      for (const [i, pin] of pins.entries()) {
        assert.equal(pin.algorithm, 'sha256');
        assert.ok(pin.hash.equals(hashes[i]!));
        assert.ok(Object.isFrozen(pin));
      }
    });
  }
});

describe('parsePins refuses, saying expected / got / where and listing the accepted forms', () => {
  const good = b64(A);
  const cases: [string, string, RegExp][] = [
    ['an empty text', '', /^--pin: expected a pin, got an empty entry/],
    ['only blanks', '   ', /^--pin: expected a pin, got an empty entry/],
    ['an empty entry inside a list', `sha256/${good};;sha256/${b64(C)}`, /^--pin: pin 2 of 3: expected a pin, got an empty entry/],
    ['a trailing ;', `sha256/${good};`, /^--pin: pin 2 of 2: expected a pin, got an empty entry/],
    ['sha1 (OkHttp form)', `sha1/${b64(A.subarray(0, 20))}`, /^--pin: tlsify pins SHA-256 only, got sha1;/],
    ['sha1 (curl form)', `sha1//${b64(A.subarray(0, 20))}`, /tlsify pins SHA-256 only, got sha1;/],
    ['sha1 (HPKP form)', `pin-sha1="${b64(A.subarray(0, 20))}"`, /tlsify pins SHA-256 only, got sha1;/],
    ['sha384', `sha384/${b64(randomBytes(48))}`, /tlsify pins SHA-256 only, got sha384;/],
    ['pin- with no algorithm', `pin-="${good}"`, /tlsify pins SHA-256 only, got no algorithm;/],
    ['url-safe base64, with a hint', `sha256/${b64(B).replaceAll('/', '_').replaceAll('+', '-')}`, /expected standard base64 \(A-Z a-z 0-9 \+ \/\), got url-safe base64 '.*': replace '-' with '\+' and '_' with '\/'/],
    ['31 bytes', `sha256/${b64(Buffer.alloc(31, 1))}`, /expected 32 bytes \(a SHA-256 hash\), got 31 bytes/],
    ['33 bytes', `sha256//${b64(Buffer.alloc(33, 1))}`, /expected 32 bytes \(a SHA-256 hash\), got 33 bytes/],
    ['20 bytes in HPKP form', `pin-sha256="${b64(Buffer.alloc(20, 1))}"`, /got 20 bytes/],
    ['base64 without its padding', `sha256/${good.slice(0, -1)}`, /expected padded base64 \(a multiple of 4 characters; 44 for SHA-256\), got 43 characters/],
    ['a character outside base64', `sha256/${good.slice(0, 10)}*${good.slice(11)}`, /expected standard base64 \(A-Z a-z 0-9 \+ \/, '=' padding\), got '\*' at character 11/],
    ['= in the middle', `sha256/${good.slice(0, 10)}=${good.slice(11)}`, /got '=' before the end/],
    ['a non-canonical last character', `sha256/${good.slice(0, 42)}F=`, /expected canonical base64, got '.*F=' whose last character sets unused bits \(did you mean .*E=\?\)/],
    ['an unclosed quote', `pin-sha256="${good}`, /expected a closing '"' after the base64/],
    ['the algorithm and nothing else', 'sha256/', /expected base64 after the algorithm, got nothing/],
    ['a bare hash, with the fix', good, new RegExp(`expected a pin with its algorithm, got '.*': write sha256/${good.replace(/[+/]/g, '\\$&')}`)],
    ['a hex certificate fingerprint, with what a pin is', createHash('sha256').update('x').digest('hex').toUpperCase().match(/../g)!.join(':'), /which looks like a hex fingerprint: a pin is the base64 SHA-256 of the public key \(SPKI\)/],
    ['an HPKP header with max-age', `pin-sha256="${good}"; max-age=600`, /^--pin: pin 2 of 2: expected a pin, got 'max-age=600': only pin directives are read here/],
    ['space around = in HPKP form', `pin-sha256 = "${good}"`, /expected a pin, got 'pin-sha256 = ".*"'/],
  ];
  for (const [name, text, message] of cases) {
    test(name, () => {
      assert.throws(
        () => parsePins(text, '--pin'),
        (err: unknown) => {
          assert.ok(err instanceof PinError, `expected a PinError, got ${String(err)}`);
          assert.match(err.message, message);
          assert.ok(err.message.endsWith(`; accepted: ${ACCEPTED_FORMS}`), err.message);
          return true;
        },
      );
    });
  }

  test('control characters in the echoed text are shown as ?', () => {
    assert.throws(() => parsePins('bad\x1b[2Jpin', 'pins.txt line 3'), /^PinError: pins.txt line 3: expected a pin, got 'bad\?\[2Jpin'/);
  });
});

test('property: every hash round-trips through each printed form', () => {
  for (let i = 0; i < 300; i++) {
    const pin = pinFromSpki(randomBytes(1 + (i % 200)));
    for (const form of ['tlsify', 'curl', 'hpkp'] as const) {
      const [back] = parsePins(formatPin(pin, form), 'property');
      assert.equal(back!.text, pin.text);
      assert.ok(back!.hash.equals(pin.hash));
    }
  }
});

test('formatPin writes the three spellings', () => {
  const [pin] = parsePins(`sha256/${b64(A)}`, 't');
  assert.equal(formatPin(pin!, 'tlsify'), `sha256/${b64(A)}`);
  assert.equal(formatPin(pin!, 'curl'), `sha256//${b64(A)}`);
  assert.equal(formatPin(pin!, 'hpkp'), `pin-sha256="${b64(A)}"`);
});

describe('checkPins over a validated path (RFC 7469 §2.6)', () => {
  let pki: FixturePki;
  let path: Cert[]; // good leaf, intermediate, root
  const pinOf = (c: Cert): Pin => pinFromSpki(c.spki);
  before(async () => {
    pki = await fixturePki();
    path = [pki.good.issued, pki.intermediate, pki.root].map((i) => parseCertificate(i.der));
  });
  after(() => pki.cleanup());

  test('pinFromSpki agrees with the certificate parser and the PKI generator', () => {
    assert.equal(pinOf(path[0]!).text, path[0]!.pin);
    assert.equal(pinOf(path[0]!).text, pki.good.issued.spkiPin);
  });

  for (const [depth, name] of [[0, 'leaf'], [1, 'intermediate'], [2, 'anchor']] as const) {
    test(`a pin on the ${name} (depth ${depth}) matches`, () => {
      const pin = pinOf(path[depth]!);
      const r = checkPins([pinFromSpki(randomBytes(64)), pin], path);
      assert.deepEqual(r, { ok: true, matched: [{ pin, depth }] });
    });
  }

  test('every match is reported, leaf first', () => {
    const pins = [pinOf(path[2]!), pinOf(path[0]!)];
    const r = checkPins(pins, path);
    assert.ok(r.ok);
    assert.deepEqual(r.matched.map((m) => [m.depth, m.pin.text]), [[0, pins[1]!.text], [2, pins[0]!.text]]);
  });

  test('no match: says what was wanted and what each depth had', () => {
    const wanted = [pinFromSpki(randomBytes(64))];
    const r = checkPins(wanted, path);
    assert.deepEqual(r, { ok: false, wanted, seen: path.map((c, depth) => ({ depth, pin: c.pin })) });
  });

  test('a certificate the server sent that is not on the path is not consulted', () => {
    // The caller passes only the validated path; a decoy's pin does not rescue it.
    const decoy = parseCertificate(pki.untrustedRoot.der);
    assert.equal(checkPins([pinOf(decoy)], path).ok, false);
  });

  test('an empty pin set or path is a caller bug, not a verdict', () => {
    assert.throws(() => checkPins([], path), /expected at least one pin, got none/);
    assert.throws(() => checkPins([pinOf(path[0]!)], []), /expected a validated path, got an empty one/);
  });
});

describe('hpkpHeader (RFC 7469 §2.1)', () => {
  const [a, b, c] = [A, B, C].map((h) => parsePins(`sha256/${b64(h)}`, 't')[0]!) as [Pin, Pin, Pin];

  test('pins, then max-age, then includeSubDomains', () => {
    assert.equal(hpkpHeader([a, b], 5184000, true), `pin-sha256="${b64(A)}"; pin-sha256="${b64(B)}"; max-age=5184000; includeSubDomains`);
  });

  test('without includeSubDomains; max-age=0 is allowed (it clears the policy, §2.3.1)', () => {
    assert.equal(hpkpHeader([a, b, c], 0, false), `pin-sha256="${b64(A)}"; pin-sha256="${b64(B)}"; pin-sha256="${b64(C)}"; max-age=0`);
  });

  test('duplicates collapse', () => {
    assert.equal(hpkpHeader([a, b, a], 60, false), `pin-sha256="${b64(A)}"; pin-sha256="${b64(B)}"; max-age=60`);
  });

  test('fewer than two distinct pins is refused: no backup (§4.3)', () => {
    assert.throws(() => hpkpHeader([a, a], 60, false), /expected at least two distinct pins, one of them a backup \(RFC 7469 §4.3\), got 1/);
  });

  test('max-age must be whole seconds', () => {
    for (const bad of [-1, 1.5, Number.NaN, Infinity]) assert.throws(() => hpkpHeader([a, b], bad, false), RangeError);
  });
});
