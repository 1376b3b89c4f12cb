// crl.test.ts: CRL parsing (RFC 5280 §5) and the per-depth revocation check of a path, with CRLs
// built by test/helpers/revocation.ts and, as an independent encoder, by `openssl ca -gencrl`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TlsifyError } from '../../src/codes.ts';
import { issue, type Issued } from '../../src/pki/generate.ts';
import { parseCertificate, type Cert } from '../../src/trust/cert.ts';
import { pemBlocks } from '../../src/trust/pem.ts';
import { CrlError, checkCrls, loadCrlFile, parseCrl, type Crl, type RevocationResult } from '../../src/trust/crl.ts';
import { makeCrl, opensslIssue } from '../helpers/revocation.ts';

const DAY = 86_400_000;
const dir = mkdtempSync(join(tmpdir(), 'tlsify-crl-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let root: Issued;
let inter: Issued;
let leaf: Issued;
let impostor: Issued; // same name as `inter`, another key
let path: Cert[]; // leaf, inter, root
const cert = (i: Issued): Cert => parseCertificate(i.der);
const crlOf = (pem: string): Crl => parseCrl(pemBlocks(pem)[0]!.der);
const status = (results: RevocationResult[]): string[] => results.map((r) => r.status);

before(async () => {
  root = await issue({ subject: 'CN=CRL Root', ca: true });
  [inter, impostor] = await Promise.all([issue({ subject: 'CN=CRL Int', ca: true, issuer: root }), issue({ subject: 'CN=CRL Int', ca: true })]);
  leaf = await issue({ subject: 'CN=crl leaf', issuer: inter, dns: ['leaf.example'] });
  path = [cert(leaf), cert(inter), cert(root)];
});

// ---- the check ------------------------------------------------------------------------------

test('a leaf listed in its issuer CRL is revoked, with date and reason; the anchor is not checked', () => {
  const revokedAt = new Date(Date.now() - 2 * DAY);
  const results = checkCrls(path, [crlOf(makeCrl(inter, [path[0]!.serialHex], { reason: 1, revokedAt })), crlOf(makeCrl(root, []))], new Date());
  assert.deepEqual(status(results), ['revoked', 'good']);
  const r = results[0]!;
  assert.ok(r.status === 'revoked');
  assert.equal(r.revokedAt.getTime(), Math.floor(revokedAt.getTime() / 1000) * 1000);
  assert.equal(r.reason, 'keyCompromise');
  assert.match(r.detail, /'CN=crl leaf' \(serial [0-9a-f]+\) was revoked at .* \(reason keyCompromise\): listed in the CRL of 'CN=CRL Int'/);
});

test('one PEM file with a CRL per issuer: every block is read and each is used for its own issuer', () => {
  const file = join(dir, 'both.pem');
  writeFileSync(file, makeCrl(root, [path[1]!.serialHex]) + makeCrl(inter, []));
  const crls = loadCrlFile(file);
  assert.equal(crls.length, 2);
  const results = checkCrls(path, crls, new Date());
  assert.deepEqual(status(results), ['good', 'revoked']);
  assert.match(results[0]!.detail, /not listed in the CRL of 'CN=CRL Int'/);
  assert.match(results[1]!.detail, /'CN=CRL Int' .* was revoked/);
});

test('a CRL signed by another key under the same name is ignored: no-crl, because a forgery must not count as data', () => {
  const forged = crlOf(makeCrl(inter, [path[0]!.serialHex], { signingKey: impostor }));
  const [r] = checkCrls(path, [forged], new Date());
  assert.equal(r!.status, 'no-crl');
  assert.match(r!.detail, /ignored 1 that names it: .*signature does not verify with the key of 'CN=CRL Int'/);
});

test('a genuine CRL beside a forged one is used', () => {
  const forged = crlOf(makeCrl(inter, [], { signingKey: impostor }));
  const real = crlOf(makeCrl(inter, [path[0]!.serialHex]));
  assert.equal(checkCrls(path, [forged, real], new Date())[0]!.status, 'revoked');
});

test('a stale CRL is unusable, and the detail says expected / got', () => {
  const stale = crlOf(makeCrl(inter, [], { thisUpdate: new Date(Date.now() - 10 * DAY), nextUpdate: new Date(Date.now() - DAY) }));
  const [r] = checkCrls(path, [stale], new Date());
  assert.equal(r!.status, 'unusable');
  assert.match(r!.detail, /is stale: expected nextUpdate at or after now \(.*\), got /);
});

test('a CRL not yet valid is unusable', () => {
  const future = crlOf(makeCrl(inter, [], { thisUpdate: new Date(Date.now() + DAY), nextUpdate: new Date(Date.now() + 8 * DAY) }));
  const [r] = checkCrls(path, [future], new Date());
  assert.equal(r!.status, 'unusable');
  assert.match(r!.detail, /not yet valid: expected thisUpdate at or before now/);
});

test('a CRL without nextUpdate is unusable (RFC 5280 §5.1.2.5 requires it)', () => {
  const [r] = checkCrls(path, [crlOf(makeCrl(inter, [], { nextUpdate: null }))], new Date());
  assert.equal(r!.status, 'unusable');
  assert.match(r!.detail, /has no nextUpdate/);
});

test('a stale CRL still proves a revocation, but not a hold', () => {
  const old = { thisUpdate: new Date(Date.now() - 10 * DAY), nextUpdate: new Date(Date.now() - DAY) };
  assert.equal(checkCrls(path, [crlOf(makeCrl(inter, [path[0]!.serialHex], old))], new Date())[0]!.status, 'revoked');
  const hold = crlOf(makeCrl(inter, [path[0]!.serialHex], { ...old, reason: 6 }));
  assert.equal(checkCrls(path, [hold], new Date())[0]!.status, 'unusable');
});

test('no CRL for an issuer gives no-crl; a one-certificate path has nothing to check', () => {
  const results = checkCrls(path, [crlOf(makeCrl(root, []))], new Date());
  assert.deepEqual(status(results), ['no-crl', 'good']);
  assert.match(results[0]!.detail, /no CRL from 'CN=CRL Int' among the 1 loaded/);
  assert.deepEqual(checkCrls([path[2]!], [], new Date()), []);
});

test('an issuer whose key usage lacks cRLSign cannot vouch with a CRL', async () => {
  const noCrlSign = await issue({ subject: 'CN=No CRLSign', ca: true, issuer: root, keyUsage: ['keyCertSign'] });
  const child = await issue({ subject: 'CN=child', issuer: noCrlSign });
  const [r] = checkCrls([cert(child), cert(noCrlSign), path[2]!], [crlOf(makeCrl(noCrlSign, []))], new Date());
  assert.equal(r!.status, 'no-crl');
  assert.match(r!.detail, /may not sign CRLs: its key usage lacks cRLSign/);
});

// ---- signature algorithms -------------------------------------------------------------------

test('CRLs signed with ECDSA P-384/SHA-384, RSA PKCS #1, RSA-PSS and Ed25519 verify', async () => {
  const [rsa, ed, p384] = await Promise.all([issue({ subject: 'CN=RSA CA', ca: true, key: 'rsa2048' }), issue({ subject: 'CN=Ed CA', ca: true, key: 'ed25519' }), issue({ subject: 'CN=P384 CA', ca: true, key: 'p384' })]);
  const cases: [Issued, Parameters<typeof makeCrl>[2]][] = [
    [p384, { hash: 'sha384' }],
    [rsa, { hash: 'sha512' }],
    [rsa, { hash: 'pss' }],
    [ed, {}],
  ];
  for (const [ca, opts] of cases) {
    const child = await issue({ subject: 'CN=child', issuer: ca });
    const c = cert(child);
    const [r] = checkCrls([c, cert(ca)], [crlOf(makeCrl(ca, [c.serialHex], opts))], new Date());
    assert.equal(r!.status, 'revoked', `${ca.subject} ${JSON.stringify(opts)}: ${r!.detail}`);
  }
});

test('a CRL signed with SHA-1 is refused as weak, so it is ignored', () => {
  const [r] = checkCrls(path, [crlOf(makeCrl(inter, [path[0]!.serialHex], { hash: 'sha1' }))], new Date());
  assert.equal(r!.status, 'no-crl');
  assert.match(r!.detail, /signature algorithm refused: expected SHA-256 or stronger, got ecdsa-with-SHA1, which is weak/);
});

// ---- scope: issuingDistributionPoint (RFC 5280 §5.2.5, §6.3.3 (b)(2)) ------------------------

/** IssuingDistributionPoint DER: SEQUENCE { [0] { [0] { [6] uri } } } plus raw trailing fields. */
function idp(uri: string | undefined, tail: number[] = []): Buffer {
  const parts: number[] = [];
  if (uri !== undefined) {
    const u = [...Buffer.from(uri, 'latin1')];
    const gn = [0x86, u.length, ...u];
    const full = [0xa0, gn.length, ...gn];
    parts.push(0xa0, full.length, ...full);
  }
  parts.push(...tail);
  return Buffer.from([0x30, parts.length, ...parts]);
}

test('a partitioned CRL counts only for certificates whose cRLDistributionPoints name its partition', () => {
  const a = 'http://crl.example/a.crl';
  const inA = opensslIssue(inter, '/CN=in partition a', [`crlDistributionPoints=URI:${a}`, 'basicConstraints=CA:FALSE']);
  const inB = opensslIssue(inter, '/CN=in partition b', ['crlDistributionPoints=URI:http://crl.example/b.crl']);
  const partA = crlOf(makeCrl(inter, [], { extensions: [{ oid: '2.5.29.28', critical: true, der: idp(a) }] }));
  assert.equal(partA.scope.distributionPoints?.length, 1);
  assert.equal(checkCrls([cert(inA), path[1]!], [partA], new Date())[0]!.status, 'good');
  const [r] = checkCrls([cert(inB), path[1]!], [partA], new Date());
  assert.equal(r!.status, 'no-crl');
  assert.match(r!.detail, /partition \(issuingDistributionPoint\) that none of the cRLDistributionPoints of 'CN=in partition b' names/);
  // The fixture leaf has no cRLDistributionPoints at all, so no partition covers it either.
  assert.equal(checkCrls(path, [partA], new Date())[0]!.status, 'no-crl');
});

test('onlyContainsUserCerts / onlyContainsCACerts limit which certificates a CRL covers', () => {
  const userOnly = crlOf(makeCrl(inter, [], { extensions: [{ oid: '2.5.29.28', critical: true, der: idp(undefined, [0x81, 0x01, 0xff]) }] }));
  const caOnly = crlOf(makeCrl(root, [], { extensions: [{ oid: '2.5.29.28', critical: true, der: idp(undefined, [0x82, 0x01, 0xff]) }] }));
  assert.deepEqual(status(checkCrls(path, [userOnly, caOnly], new Date())), ['good', 'good']);
  const crossed = checkCrls(path, [crlOf(makeCrl(inter, [], { extensions: [{ oid: '2.5.29.28', critical: true, der: idp(undefined, [0x82, 0x01, 0xff]) }] }))], new Date());
  assert.equal(crossed[0]!.status, 'no-crl');
  assert.match(crossed[0]!.detail, /covers only CA certificates \(onlyContainsCACerts\), and 'CN=crl leaf' is not a CA/);
});

test('a CRL with onlySomeReasons can show a revocation but not that a certificate is good', () => {
  const some = { extensions: [{ oid: '2.5.29.28', critical: true, der: idp(undefined, [0x83, 0x02, 0x07, 0x80]) }] };
  assert.equal(checkCrls(path, [crlOf(makeCrl(inter, [], some))], new Date())[0]!.status, 'unusable');
  assert.equal(checkCrls(path, [crlOf(makeCrl(inter, [path[0]!.serialHex], some))], new Date())[0]!.status, 'revoked');
});

// ---- parsing --------------------------------------------------------------------------------

const der = (pem: string): Buffer => pemBlocks(pem)[0]!.der;

test('delta CRLs are refused, and the error says so', () => {
  const delta = makeCrl(inter, [], { extensions: [{ oid: '2.5.29.27', critical: true, der: Buffer.from([0x02, 0x01, 0x01]) }] });
  assert.throws(() => parseCrl(der(delta)), { name: 'CrlError', message: /expected a complete CRL, got a delta CRL \(deltaCRLIndicator, RFC 5280 §5.2.4\)/ });
});

test('indirect CRLs (issuingDistributionPoint indirectCRL TRUE) are refused', () => {
  const indirect = makeCrl(inter, [], { extensions: [{ oid: '2.5.29.28', critical: true, der: idp(undefined, [0x84, 0x01, 0xff]) }] });
  assert.throws(() => parseCrl(der(indirect)), { name: 'CrlError', message: /expected a direct CRL, got indirectCRL TRUE/ });
});

test('an unknown critical CRL extension is refused; an unknown non-critical one is ignored', () => {
  const ext = (critical: boolean): string => makeCrl(inter, [], { extensions: [{ oid: '1.2.3.4', critical, der: Buffer.from([0x05, 0x00]) }] });
  assert.throws(() => parseCrl(der(ext(true))), { name: 'CrlError', message: /expected only critical CRL extensions tlsify handles, got critical extension 1\.2\.3\.4 at byte \d+/ });
  assert.equal(parseCrl(der(ext(false))).revoked.size, 0);
});

test('revoked serials are normalised like Cert.serialHex (the DER sign byte dropped)', () => {
  const serials = ['01', '7f', '80', 'ff', '0100', '80ff', 'deadbeef', '8000000000000000000000000000000001'];
  assert.deepEqual([...parseCrl(der(makeCrl(inter, serials))).revoked.keys()], serials);
  // property: any positive serial of 1..20 bytes comes back as written
  for (let i = 0; i < 50; i++) {
    const bytes = randomBytes(1 + (i % 20));
    if (bytes[0] === 0) bytes[0] = 1 + i;
    const hex = bytes.toString('hex');
    assert.ok(parseCrl(der(makeCrl(inter, [hex]))).revoked.has(hex), hex);
  }
});

test('every truncation and many byte flips of a CRL throw CrlError, never something else', () => {
  const good = der(makeCrl(inter, [path[0]!.serialHex], { reason: 1 }));
  for (let n = 0; n < good.length; n++) assert.throws(() => parseCrl(good.subarray(0, n)), CrlError, `truncated to ${n}`);
  for (let i = 0; i < good.length; i++) {
    const bad = Buffer.from(good);
    bad[i] = bad[i]! ^ 0xff;
    try {
      const crl = parseCrl(bad);
      // It parsed: then it must not be accepted as the issuer's unless the flip missed the signed part... which it cannot.
      const [r] = checkCrls(path, [crl], new Date());
      assert.notEqual(r!.status, 'good', `byte ${i} flipped`);
    } catch (e) {
      assert.ok(e instanceof CrlError, `byte ${i}: ${(e as Error).name} ${(e as Error).message}`);
    }
  }
});

// ---- loadCrlFile ----------------------------------------------------------------------------

test('loadCrlFile reads one DER CRL too', () => {
  const file = join(dir, 'one.crl');
  writeFileSync(file, der(makeCrl(inter, [path[0]!.serialHex])));
  assert.equal(checkCrls(path, loadCrlFile(file), new Date())[0]!.status, 'revoked');
});

test('loadCrlFile errors are config errors naming the file and the CRL number', () => {
  const file = join(dir, 'bad.pem');
  const bogus = `-----BEGIN X509 CRL-----\n${Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05]).toString('base64')}\n-----END X509 CRL-----\n`;
  writeFileSync(file, makeCrl(inter, []) + bogus);
  assert.throws(() => loadCrlFile(file), (e: unknown) => e instanceof TlsifyError && e.code === 'config' && e.message.startsWith(`${file}: CRL 2: expected TBSCertList SEQUENCE, got tag 0x02 (INTEGER)`));
  writeFileSync(file, makeCrl(inter, []) + readFileSync(join(dir, 'both.pem'), 'utf8').replace(/X509 CRL/g, 'CERTIFICATE'));
  assert.throws(() => loadCrlFile(file), { code: 'config', message: `${file}: PEM block 2: expected -----BEGIN X509 CRL-----, got -----BEGIN CERTIFICATE-----` });
  writeFileSync(file, '');
  assert.throws(() => loadCrlFile(file), { code: 'config', message: `${file}: expected PEM CRLs (-----BEGIN X509 CRL-----) or one DER CRL, got an empty file` });
  assert.throws(() => loadCrlFile(join(dir, 'missing.pem')), { code: 'config', message: /missing\.pem: cannot read: ENOENT/ });
});

// ---- an independent encoder: openssl ca -gencrl -----------------------------------------------

test('a CRL made by `openssl ca -gencrl` parses and revokes the listed serial', () => {
  const d = mkdtempSync(join(dir, 'openssl-'));
  writeFileSync(join(d, 'ca.pem'), inter.certPem);
  writeFileSync(join(d, 'ca.key'), inter.keyPem);
  const serial = path[0]!.serialHex.toUpperCase();
  writeFileSync(join(d, 'index.txt'), `R\t301231000000Z\t250101000000Z,keyCompromise\t${serial}\tunknown\t/CN=crl leaf\n`);
  writeFileSync(join(d, 'ca.cnf'), '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ndefault_md = sha256\ndefault_crl_days = 7\ncrlnumber = crlnumber\n');
  writeFileSync(join(d, 'crlnumber'), '1000\n');
  execFileSync('openssl', ['ca', '-gencrl', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-out', 'crl.pem'], { cwd: d, stdio: 'pipe' });
  const [crl] = loadCrlFile(join(d, 'crl.pem'));
  assert.equal(crl!.crlNumber, 0x1000n);
  assert.equal(crl!.revoked.get(path[0]!.serialHex)?.reason, 'keyCompromise');
  const [r] = checkCrls(path, [crl!], new Date());
  assert.equal(r!.status, 'revoked');
  assert.ok(r!.status === 'revoked' && r!.revokedAt.toISOString() === '2025-01-01T00:00:00.000Z');
});
