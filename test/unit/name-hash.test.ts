// name-hash.test.ts: opensslNameHash (trust/name-hash.ts) against OpenSSL itself: every root of the
// system bundle, and hand-built Names whose values exercise x_name.c's canonical form.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { parseCertificate } from '../../src/trust/cert.ts';
import { pemBlocks } from '../../src/trust/pem.ts';
import { DerError } from '../../src/trust/der.ts';
import { opensslNameHash } from '../../src/trust/name-hash.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-name-hash-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// ---- a tiny DER writer: Names by hand, so every string type and order can be had -------------

function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const n = body.length;
  const len: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) len.unshift(v & 0xff);
  return Buffer.concat([Buffer.from(n < 0x80 ? [tag, n] : [tag, 0x80 | len.length, ...len]), body]);
}
const T = { UTF8: 0x0c, NUMERIC: 0x12, PRINTABLE: 0x13, T61: 0x14, IA5: 0x16, VISIBLE: 0x1a, UNIVERSAL: 0x1c, BMP: 0x1e } as const;
const OID = { CN: '0603550403', C: '0603550406', O: '060355040a', OU: '060355040b', email: '06092a864886f70d010901' } as const;
type Attr = keyof typeof OID;

/** One AttributeTypeAndValue; a string value is written as latin1 bytes unless a Buffer is given. */
const atv = (type: Attr, tag: number, value: string | Buffer): Buffer => tlv(0x30, Buffer.from(OID[type], 'hex'), tlv(tag, typeof value === 'string' ? Buffer.from(value, 'latin1') : value));
const rdn = (...atvs: Buffer[]): Buffer => tlv(0x31, ...atvs);
const name = (...rdns: Buffer[]): Buffer => tlv(0x30, ...rdns);
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const bmp = (s: string): Buffer => Buffer.from(s, 'utf16le').swap16();
const u32 = (n: number): Buffer => Buffer.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
const ucs4 = (s: string): Buffer => Buffer.concat([...s].map((c) => u32(c.codePointAt(0)!)));
const cn = (tag: number, value: string | Buffer): Buffer => name(rdn(atv('CN', tag, value)));

/** A certificate openssl will read, with `subject` as subject and issuer (the signature is junk: -subject_hash does not check it). */
const spki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
function certWith(subject: Buffer): Buffer {
  const alg = tlv(0x30, Buffer.from('06092a864886f70d01010b0500', 'hex')); // sha256WithRSAEncryption, NULL
  const time = (s: string) => tlv(0x17, Buffer.from(s));
  const tbs = tlv(0x30, tlv(0xa0, tlv(0x02, Buffer.from([2]))), tlv(0x02, Buffer.from([1])), alg, subject, tlv(0x30, time('200101000000Z'), time('300101000000Z')), subject, spki);
  return tlv(0x30, tbs, alg, tlv(0x03, Buffer.from([0, 1, 2, 3])));
}
const opensslSubjectHash = (der: Buffer): string => execFileSync('openssl', ['x509', '-inform', 'DER', '-noout', '-subject_hash'], { input: der, stdio: ['pipe', 'pipe', 'pipe'] }).toString().trim();

// ---- vectors --------------------------------------------------------------------------------

// Expected hashes from `openssl x509 -noout -subject_hash` (OpenSSL 3.0.19) on certWith(name);
// each test also asks the local openssl again. `same` lists Names that must share the hash
// because their canonical forms are equal, `other` Names whose canonical forms differ.
const vectors: { what: string; name: Buffer; hash: string; same?: Buffer[]; other?: Buffer[] }[] = [
  { what: 'an empty Name hashes the empty string (SHA-1 da39a3ee...)', name: name(), hash: 'eea339da' },
  {
    what: 'white space: trimmed, inner runs (\\t \\n \\v \\f \\r too) made one space',
    name: cn(T.UTF8, ' \t Hello \t\n\v\f\r World \r\n'),
    hash: '72c73c2b',
    same: [cn(T.UTF8, 'hello world'), cn(T.PRINTABLE, 'Hello World')],
    other: [cn(T.UTF8, 'helloworld'), cn(T.UTF8, utf8('hello world\u00a0'))],
  },
  {
    what: 'ASCII upper case folded; the type becomes UTF8String',
    name: cn(T.PRINTABLE, 'EXAMPLE Corp'),
    hash: '5486d840',
    same: [cn(T.UTF8, 'example corp'), cn(T.IA5, 'Example CORP'), cn(T.VISIBLE, 'eXAMPLE cORP')],
  },
  {
    what: 'BMPString to UTF-8; letters beyond ASCII keep their case',
    name: cn(T.BMP, bmp('Ünïcode ÄB')),
    hash: 'b5b2b9ae',
    same: [cn(T.UTF8, utf8('Ünïcode Äb'))],
    other: [cn(T.UTF8, utf8('ünïcode äb'))],
  },
  {
    what: 'T61String bytes read as Latin-1 (0xE9 is é)',
    name: cn(T.T61, Buffer.from('  Caf\xe9  NOIR ', 'latin1')),
    hash: '04ea0804',
    same: [cn(T.UTF8, utf8('café noir'))],
  },
  {
    what: 'UniversalString (UCS-4) to UTF-8, beyond the BMP too',
    name: cn(T.UNIVERSAL, ucs4('\u{1F600}  X ')),
    hash: '6b4f6a90',
    same: [cn(T.UTF8, utf8('\u{1F600} x'))],
  },
  { what: 'IA5String emailAddress folded like any string', name: name(rdn(atv('email', T.IA5, 'Admin@Example.COM'))), hash: '8fa7d0f5', same: [name(rdn(atv('email', T.UTF8, 'admin@example.com')))] },
  {
    what: 'NumericString is not in ASN1_MASK_CANON: hashed as encoded',
    name: cn(T.NUMERIC, ' 12  34 '),
    hash: '9c9cb9ab',
    other: [cn(T.NUMERIC, '12 34'), cn(T.UTF8, '12 34')],
  },
  {
    what: 'a multi-valued RDN: one SET, its members sorted after canonicalisation',
    name: name(rdn(atv('C', T.PRINTABLE, 'DE')), rdn(atv('O', T.UTF8, 'Org'), atv('OU', T.PRINTABLE, 'Unit'), atv('CN', T.UTF8, 'Multi'))),
    hash: '75fdac91',
    same: [name(rdn(atv('C', T.PRINTABLE, 'de')), rdn(atv('CN', T.UTF8, 'multi'), atv('OU', T.UTF8, 'unit'), atv('O', T.UTF8, 'org')))],
    other: [name(rdn(atv('C', T.PRINTABLE, 'DE')), rdn(atv('O', T.UTF8, 'Org')), rdn(atv('OU', T.PRINTABLE, 'Unit')), rdn(atv('CN', T.UTF8, 'Multi')))],
  },
  {
    what: 'the SET is sorted again: canonicalising can swap two members',
    // DER order puts UTF8String 'b' (tag 0x0c) before PrintableString 'A' (0x13); canonical 'a' < 'b'.
    name: name(rdn(atv('CN', T.UTF8, 'b'), atv('CN', T.PRINTABLE, 'A'))),
    hash: '3881cc6b',
    same: [name(rdn(atv('CN', T.UTF8, 'a'), atv('CN', T.UTF8, 'b')))],
  },
  {
    what: 'lengths re-encoded: 140 bytes (long form) shrink to 100 (short form)',
    name: cn(T.PRINTABLE, ' '.repeat(20) + 'X'.repeat(100) + ' '.repeat(20)),
    hash: 'eb1bea90',
    same: [cn(T.UTF8, 'x'.repeat(100))],
  },
  { what: 'a value of white space only becomes an empty UTF8String', name: cn(T.PRINTABLE, ' \t '), hash: '5da78770', same: [cn(T.UTF8, '')] },
  { what: 'control bytes other than white space are kept', name: cn(T.UTF8, 'A\x00B\x1f'), hash: '74f0435c', other: [cn(T.UTF8, 'ab')] },
  { what: 'an empty RDN adds nothing (x509_name_ex_d2i makes no entry of it)', name: name(rdn(), rdn(atv('CN', T.UTF8, 'x'))), hash: '82965258', same: [cn(T.UTF8, 'x')] },
  { what: 'a value that is not a string is copied as it is', name: cn(0x30, tlv(0x0c, utf8('AB'))), hash: '36297b9f' },
];

describe('opensslNameHash: hand-built Names', () => {
  for (const v of vectors) {
    test(v.what, () => {
      const ours = opensslNameHash(v.name);
      assert.match(ours, /^[0-9a-f]{8}$/);
      assert.equal(ours, opensslSubjectHash(certWith(v.name)), 'the local openssl');
      assert.equal(ours, v.hash, 'recorded from OpenSSL 3.0.19');
      for (const s of v.same ?? []) assert.equal(opensslNameHash(s), ours, `same canonical form: ${s.toString('hex')}`);
      for (const o of v.other ?? []) assert.notEqual(opensslNameHash(o), ours, `another canonical form: ${o.toString('hex')}`);
    });
  }

  test('property: any mix of case and white space hashes as its canonical form, written with regexes', () => {
    // mulberry32, seeded, so a failure can be replayed.
    let seed = 20240611;
    const rand = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const alphabet = [...'aZ9 \t\n\v\f\r-é\u00a0Ä'];
    for (let i = 0; i < 300; i++) {
      const s = Array.from({ length: Math.floor(rand() * 12) }, () => alphabet[Math.floor(rand() * alphabet.length)]!).join('');
      const canon = s.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '').replace(/[ \t\n\v\f\r]+/g, ' ').replace(/[A-Z]/g, (c) => c.toLowerCase());
      assert.equal(opensslNameHash(cn(T.UTF8, utf8(s))), opensslNameHash(cn(T.UTF8, utf8(canon))), JSON.stringify(s));
      assert.equal(opensslNameHash(cn(T.BMP, bmp(s))), opensslNameHash(cn(T.UTF8, utf8(canon))), `BMPString ${JSON.stringify(s)}`);
    }
  });

  test('a Name made by `openssl req -subj -multivalue-rdn -utf8` hashes as openssl says', () => {
    const der = execFileSync(
      'openssl',
      ['req', '-x509', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-keyout', path.join(tmp, 'k.pem'), '-days', '1', '-outform', 'DER', '-utf8', '-multivalue-rdn', '-subj', '/C=DE/O=Übung  GmbH+OU=Zentrale/CN=Mixed   CASE\tName'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    assert.equal(opensslNameHash(parseCertificate(der).subjectDer), opensslSubjectHash(der));
  });

  test('what OpenSSL cannot decode throws a DerError naming the byte', () => {
    const bad: [Buffer, RegExp][] = [
      [cn(T.BMP, Buffer.from('004100', 'hex')), /^expected a length that is a multiple of 2, got 3 at byte 11$/],
      [cn(T.BMP, Buffer.from('d83dde00', 'hex')), /^expected Unicode characters, got U\+D83D at byte 11$/], // BMPString is UCS-2: no surrogate pairs
      [cn(T.UNIVERSAL, u32(0x110000)), /^expected Unicode characters, got U\+110000 at byte 11$/],
      [cn(T.UTF8, Buffer.from('c1bf', 'hex')), /^expected a UTF8String of valid UTF-8, got invalid bytes at byte 11$/],
      [Buffer.from('3100', 'hex'), /^expected Name SEQUENCE, got tag 0x31 \(SET\) at byte 0$/],
      [Buffer.concat([name(), Buffer.from([0])]), /^expected end of Name, got trailing/],
    ];
    for (const [input, message] of bad) {
      assert.throws(() => opensslNameHash(input), (e: unknown) => e instanceof DerError && message.test(e.message), input.toString('hex'));
      // OpenSSL refuses such a certificate outright, so no hashed file can hold one.
      if (input[0] === 0x30 && input.length > 2) assert.throws(() => opensslSubjectHash(certWith(input)));
    }
  });
});

// ---- every root of the system bundle ------------------------------------------------------

const BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

describe('opensslNameHash: the system bundle', { skip: !fs.existsSync(BUNDLE) && `no ${BUNDLE} here` }, () => {
  // `openssl rehash` names each file by X509_NAME_hash_ex, the function behind -subject_hash,
  // in one process; -subject_hash itself costs ~25 ms a run, so it checks a sample below.
  const ders = fs.existsSync(BUNDLE) ? pemBlocks(fs.readFileSync(BUNDLE, 'latin1')).map((b) => b.der) : [];

  test('every certificate: subject and issuer hash equal the name openssl rehash gives it', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'bundle-'));
    ders.forEach((der, i) => fs.writeFileSync(path.join(dir, `c${i}.pem`), `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`));
    execFileSync('openssl', ['rehash', dir], { stdio: 'pipe' });
    const theirs = new Map<string, string>();
    for (const link of fs.readdirSync(dir).filter((f) => /^[0-9a-f]{8}\.\d+$/.test(f))) theirs.set(fs.readlinkSync(path.join(dir, link)), link.slice(0, 8));
    assert.ok(ders.length > 100, `expected the ~144 roots of ${BUNDLE}, got ${ders.length}`);
    assert.equal(theirs.size, ders.length, 'openssl rehash linked every certificate once');
    ders.forEach((der, i) => {
      const cert = parseCertificate(der);
      assert.equal(opensslNameHash(cert.subjectDer), theirs.get(`c${i}.pem`), cert.subject);
      if (cert.issuerDer.equals(cert.subjectDer)) return;
      assert.equal(opensslNameHash(cert.issuerDer), execFileSync('openssl', ['x509', '-inform', 'DER', '-noout', '-issuer_hash'], { input: der }).toString().trim(), cert.issuer);
    });
  });

  test('a sample of 12 also equals `openssl x509 -noout -subject_hash`', () => {
    const step = Math.max(1, Math.floor(ders.length / 12));
    for (let i = 0; i < ders.length; i += step) {
      const der = ders[i]!;
      assert.equal(opensslNameHash(parseCertificate(der).subjectDer), opensslSubjectHash(der), `certificate ${i + 1}`);
    }
  });
});
