// ocsp.test.ts: stapled OCSP responses (RFC 6960) checked for the leaf, built by
// test/helpers/revocation.ts and, as an independent encoder, by `openssl ocsp`; must-staple (RFC 7633).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { issue, type Issued } from '../../src/pki/generate.ts';
import { parseCertificate, type Cert } from '../../src/trust/cert.ts';
import { checkOcspStaple, mustStaple, type OcspResult } from '../../src/trust/ocsp.ts';
import { makeOcspResponse, opensslIssue, type OcspOptions } from '../helpers/revocation.ts';

const MIN = 60_000;
const DAY = 86_400_000;
const dir = mkdtempSync(join(tmpdir(), 'tlsify-ocsp-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let root: Issued;
let leaf: Issued;
let otherLeaf: Issued;
let responder: Issued; // EKU OCSPSigning, issued by root
let notResponder: Issued; // issued by root, EKU serverAuth only
let strangerResponder: Issued; // EKU OCSPSigning, issued by another CA
const cert = (i: Issued): Cert => parseCertificate(i.der);

before(async () => {
  root = await issue({ subject: 'CN=OCSP Root', ca: true });
  const other = await issue({ subject: 'CN=Other Root', ca: true });
  [leaf, otherLeaf, notResponder] = await Promise.all([
    issue({ subject: 'CN=ocsp leaf', issuer: root, dns: ['leaf.example'] }),
    issue({ subject: 'CN=other leaf', issuer: root, dns: ['other.example'] }),
    issue({ subject: 'CN=Not A Responder', issuer: root }),
  ]);
  // generate.ts has no OCSPSigning EKU, so these two come from the openssl CLI.
  responder = opensslIssue(root, '/CN=OCSP Responder', ['extendedKeyUsage=OCSPSigning', 'keyUsage=critical,digitalSignature', 'basicConstraints=CA:FALSE']);
  strangerResponder = opensslIssue(other, '/CN=OCSP Responder', ['extendedKeyUsage=OCSPSigning']);
});

/** Builds a response for `leaf` from `root` with `opts` and checks it at `now`. */
function staple(opts: Partial<OcspOptions> = {}, now = new Date()): OcspResult {
  const der = makeOcspResponse({ leaf, issuer: root, status: 'good', ...opts });
  return checkOcspStaple(der, cert(leaf), cert(root), now);
}

function reasonOf(r: OcspResult): string {
  assert.equal(r.status, 'unusable', `expected unusable, got ${JSON.stringify(r)}`);
  return r.status === 'unusable' ? r.reason : '';
}

// ---- statuses -------------------------------------------------------------------------------

test('good, signed by the issuer: status, times and responder are reported', () => {
  const thisUpdate = new Date(Date.now() - 30 * MIN);
  const nextUpdate = new Date(Date.now() + DAY);
  const r = staple({ thisUpdate, nextUpdate });
  assert.equal(r.status, 'good', JSON.stringify(r));
  assert.ok(r.status === 'good');
  assert.equal(r.responder, 'issuer');
  assert.equal(r.thisUpdate.getTime(), thisUpdate.getTime());
  assert.equal(r.nextUpdate?.getTime(), nextUpdate.getTime());
  assert.equal(r.producedAt.getTime(), thisUpdate.getTime());
  assert.equal(r.revokedAt, undefined);
});

test('revoked: revocation time and reason are reported', () => {
  const revokedAt = new Date(Date.now() - 3 * DAY);
  const r = staple({ status: 'revoked', revokedAt, reason: 1 });
  assert.ok(r.status === 'revoked', JSON.stringify(r));
  assert.equal(r.revokedAt?.getTime(), revokedAt.getTime());
  assert.equal(r.revocationReason, 'keyCompromise');
});

test('unknown is its own status, not unusable', () => {
  assert.equal(staple({ status: 'unknown' }).status, 'unknown');
});

test('CertID with SHA-256 and responderID byKey are understood', () => {
  const r = staple({ hashAlg: 'SHA-256', responderId: 'key' });
  assert.equal(r.status, 'good', JSON.stringify(r));
});

// ---- who signed -----------------------------------------------------------------------------

test('a delegated responder with id-kp-OCSPSigning, issued by the issuer, is accepted', () => {
  for (const responderId of ['name', 'key'] as const) {
    const r = staple({ signer: responder, responderId });
    assert.ok(r.status === 'good', JSON.stringify(r));
    assert.equal(r.responder, 'delegated');
  }
});

test('a delegated responder without id-kp-OCSPSigning is refused, saying expected / got', () => {
  assert.match(reasonOf(staple({ signer: notResponder })), /OCSP responder 'CN=Not A Responder' is not authorised: expected extended key usage id-kp-OCSPSigning \(1\.3\.6\.1\.5\.5\.7\.3\.9\), got 1\.3\.6\.1\.5\.5\.7\.3\.1/);
});

test('a responder with id-kp-OCSPSigning from another CA is refused', () => {
  assert.match(reasonOf(staple({ signer: strangerResponder })), /is not authorised: expected it issued by 'CN=OCSP Root', got issuer 'CN=Other Root'/);
});

test('a bad signature is unusable', () => {
  assert.match(reasonOf(staple({ signingKey: otherLeaf })), /OCSP response signature: its ecdsa-with-SHA256 signature does not verify with the key of 'CN=OCSP Root'/);
  assert.match(reasonOf(staple({ signer: responder, signingKey: root })), /does not verify with the key of 'CN=OCSP Responder'/);
});

test('a signature with SHA-1 is refused as weak', () => {
  assert.match(reasonOf(staple({ hash: 'sha1' })), /signature algorithm refused: expected SHA-256 or stronger, got ecdsa-with-SHA1, which is weak/);
});

test('Ed25519 and RSA-PSS issuers are verified', async () => {
  for (const [key, hash] of [['ed25519', undefined], ['rsa2048', 'pss'], ['rsa2048', 'sha384']] as const) {
    const ca = await issue({ subject: `CN=${key} OCSP CA`, ca: true, key });
    const child = await issue({ subject: 'CN=child', issuer: ca });
    const der = makeOcspResponse({ leaf: child, issuer: ca, status: 'good', ...(hash && { hash }) });
    const r = checkOcspStaple(der, cert(child), cert(ca), new Date());
    assert.equal(r.status, 'good', `${key} ${hash}: ${JSON.stringify(r)}`);
  }
});

// ---- which certificate ----------------------------------------------------------------------

test('a response about another leaf is unusable: no SingleResponse matches', () => {
  const der = makeOcspResponse({ leaf: otherLeaf, issuer: root, status: 'good' });
  const reason = reasonOf(checkOcspStaple(der, cert(leaf), cert(root), new Date()));
  assert.match(reason, new RegExp(`expected a SingleResponse for serial ${cert(leaf).serialHex} issued by 'CN=OCSP Root', got SingleResponses for serial ${cert(otherLeaf).serialHex} \\(sha1\\)`));
});

test('a CertID naming another issuer key for the same serial does not match', async () => {
  const twin = await issue({ subject: 'CN=OCSP Root', ca: true }); // same name, other key
  // Signed by the real issuer, but the CertID hashes the twin's key: only issuerKeyHash differs.
  const der = makeOcspResponse({ leaf, issuer: twin, signingKey: root, status: 'good' });
  assert.match(reasonOf(checkOcspStaple(der, cert(leaf), cert(root), new Date())), /expected a SingleResponse for serial/);
});

// ---- time -----------------------------------------------------------------------------------

test('stale: nextUpdate more than 5 minutes ago is unusable; within the skew it is accepted', () => {
  const thisUpdate = new Date(Date.now() - 2 * DAY);
  assert.match(reasonOf(staple({ thisUpdate, nextUpdate: new Date(Date.now() - 10 * MIN) })), /OCSP response stale: expected nextUpdate at or after now \(.*\) - 5 min, got /);
  assert.equal(staple({ thisUpdate, nextUpdate: new Date(Date.now() - 2 * MIN) }).status, 'good');
});

test('thisUpdate in the future beyond 5 minutes is unusable; within the skew it is accepted', () => {
  const nextUpdate = new Date(Date.now() + DAY);
  assert.match(reasonOf(staple({ thisUpdate: new Date(Date.now() + 10 * MIN), nextUpdate })), /not yet valid: expected thisUpdate at or before now \(.*\) \+ 5 min, got /);
  assert.equal(staple({ thisUpdate: new Date(Date.now() + 2 * MIN), nextUpdate }).status, 'good');
});

test('without nextUpdate, thisUpdate must be within 7 days', () => {
  assert.equal(staple({ thisUpdate: new Date(Date.now() - 6 * DAY), nextUpdate: null }).status, 'good');
  assert.match(reasonOf(staple({ thisUpdate: new Date(Date.now() - 8 * DAY), nextUpdate: null })), /it has no nextUpdate, so expected thisUpdate within 7 days before now/);
});

test('time is passed in: the same response is good now and stale later', () => {
  const der = makeOcspResponse({ leaf, issuer: root, status: 'good', nextUpdate: new Date(Date.now() + DAY) });
  assert.equal(checkOcspStaple(der, cert(leaf), cert(root), new Date()).status, 'good');
  assert.equal(checkOcspStaple(der, cert(leaf), cert(root), new Date(Date.now() + 2 * DAY)).status, 'unusable');
});

// ---- malformed input never throws -----------------------------------------------------------

test('malformed DER is unusable, not a throw', () => {
  for (const junk of [Buffer.alloc(0), Buffer.from('not der at all'), Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x00]), Buffer.from([0x30, 0x80, 0x00, 0x00])]) {
    const r = checkOcspStaple(junk, cert(leaf), cert(root), new Date());
    assert.equal(r.status, 'unusable', junk.toString('hex'));
  }
  assert.match(reasonOf(checkOcspStaple(Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x00]), cert(leaf), cert(root), new Date())), /expected responseBytes after a successful responseStatus, got none/);
});

test('an error responseStatus is unusable and named', () => {
  assert.match(reasonOf(staple({ responseStatus: 3 })), /expected responseStatus successful \(0\), got tryLater \(3\)/);
  assert.match(reasonOf(staple({ responseStatus: 6 })), /got unauthorized \(6\)/);
});

test('every truncation and every single flipped bit (low and high) of a response is unusable', () => {
  const der = makeOcspResponse({ leaf, issuer: root, status: 'revoked', reason: 1, signer: responder });
  const now = new Date();
  for (let n = 0; n < der.length; n++) assert.equal(checkOcspStaple(der.subarray(0, n), cert(leaf), cert(root), now).status, 'unusable', `truncated to ${n}`);
  for (let i = 0; i < der.length; i++) {
    for (const mask of [0x01, 0x80]) {
      const bad = Buffer.from(der);
      bad[i] = bad[i]! ^ mask;
      const r = checkOcspStaple(bad, cert(leaf), cert(root), now);
      // Every byte is either structure the strict reader checks or under a signature.
      assert.equal(r.status, 'unusable', `byte ${i} ^ ${mask}: ${JSON.stringify(r)}`);
    }
  }
});

// ---- an independent encoder: openssl ocsp -----------------------------------------------------

test('responses made by `openssl ocsp` (good and revoked, issuer-signed and delegated) are read', () => {
  const d = mkdtempSync(join(dir, 'openssl-'));
  const write = (name: string, text: string): void => writeFileSync(join(d, name), text);
  write('ca.pem', root.certPem);
  write('ca.key', root.keyPem);
  write('resp.pem', responder.certPem);
  write('resp.key', responder.keyPem);
  write('leaf.pem', leaf.certPem);
  write('other.pem', otherLeaf.certPem);
  const serial = (i: Issued): string => cert(i).serialHex.toUpperCase();
  write('index.txt', `R\t301231000000Z\t250101000000Z,keyCompromise\t${serial(leaf)}\tunknown\t/CN=ocsp leaf\nV\t301231000000Z\t\t${serial(otherLeaf)}\tunknown\t/CN=other leaf\n`);
  const run = (args: string[]): void => void execFileSync('openssl', ['ocsp', ...args], { cwd: d, stdio: 'pipe' });
  const answer = (certFile: string, signer: 'ca' | 'resp'): Buffer => {
    run(['-issuer', 'ca.pem', '-cert', certFile, '-no_nonce', '-reqout', 'req.der']);
    run(['-index', 'index.txt', '-CA', 'ca.pem', '-rsigner', `${signer}.pem`, '-rkey', `${signer}.key`, '-reqin', 'req.der', '-respout', 'resp.der', '-ndays', '1']);
    return readFileSync(join(d, 'resp.der'));
  };
  const revoked = checkOcspStaple(answer('leaf.pem', 'ca'), cert(leaf), cert(root), new Date());
  assert.ok(revoked.status === 'revoked', JSON.stringify(revoked));
  assert.equal(revoked.revokedAt?.toISOString(), '2025-01-01T00:00:00.000Z');
  assert.equal(revoked.revocationReason, 'keyCompromise');
  const good = checkOcspStaple(answer('other.pem', 'resp'), cert(otherLeaf), cert(root), new Date());
  assert.ok(good.status === 'good' && good.responder === 'delegated', JSON.stringify(good));
});

// ---- must staple ----------------------------------------------------------------------------

test('mustStaple: true with the TLS Feature status_request, false without it or with only status_request_v2', () => {
  const make = (name: string, ext: string[]): Cert => {
    const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', `/CN=${name}`, '-days', '1', '-outform', 'DER'];
    execFileSync('openssl', [...args, ...ext.flatMap((e) => ['-addext', e])], { cwd: dir, stdio: 'pipe' });
    return parseCertificate(readFileSync(join(dir, `${name}.pem`)));
  };
  assert.equal(mustStaple(make('staple', ['tlsfeature=status_request'])), true);
  assert.equal(mustStaple(make('both', ['tlsfeature=status_request_v2,status_request'])), true);
  assert.equal(mustStaple(make('v2only', ['tlsfeature=status_request_v2'])), false);
  assert.equal(mustStaple(make('plain', ['subjectAltName=DNS:a.example'])), false);
  assert.equal(mustStaple(cert(leaf)), false);
});
