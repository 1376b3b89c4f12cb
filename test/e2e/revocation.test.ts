// test/e2e/revocation.test.ts: revocation and DANE against real node:tls peers: a revoked leaf
// via CRL (several CRLs in one file), stapled OCSP good/revoked, must-staple without a staple,
// --ocsp require, and DANE-EE / DANE-TA records given by the caller.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { codes } from '../../src/codes.ts';
import { issue, type Issued } from '../../src/pki/generate.ts';
import { parseCertificate } from '../../src/trust/cert.ts';
import { fixturePki, type FixturePki } from '../helpers/pki.ts';
import { makeCrl, makeOcspResponse, opensslIssue } from '../helpers/revocation.ts';
import { echoUpper, runOnce, tlsPeer, type Peer } from '../helpers/tlsify.ts';

let pki: FixturePki;
let dir: string;
const peers: Peer[] = [];
before(async () => {
  pki = await fixturePki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-revocation-e2e-'));
});
after(async () => {
  await Promise.all(peers.map((p) => p.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

// As tlsify's parser writes it (Cert.serialHex): node's serialNumber may begin with a single 0
// nibble, and stripping it gave an odd-length hex the CRL builder refused (1 run in ~16).
const serialOf = (i: Issued) => parseCertificate(i.der).serialHex;

/** Serve `leaf` (under the fixture intermediate), stapling `staple` when the client asks. */
async function serve(leaf: Issued, staple?: Buffer): Promise<Peer> {
  const peer = await tlsPeer({ key: leaf.keyPem, cert: leaf.certPem + pki.intermediate.certPem }, echoUpper);
  if (staple) {
    // node:tls servers staple from the 'OCSPRequest' event.
    peer.server.on('OCSPRequest', (_cert: Buffer, _issuer: Buffer, cb: (err: Error | null, resp: Buffer) => void) => cb(null, staple));
  }
  peers.push(peer);
  return peer;
}
const connect = (port: number, ...more: string[]) => runOnce(['connect', `127.0.0.1:${port}`, '--servername', 'localhost', '--ca', pki.caFile, ...more], 'ping\n');

describe('CRLs', () => {
  test('a revoked leaf is refused; several CRLs in one file are all read', async () => {
    const leaf = await issue({ subject: 'CN=localhost', issuer: pki.intermediate, dns: ['localhost'] });
    const other = await issue({ subject: 'CN=localhost', issuer: pki.intermediate, dns: ['localhost'] });
    const crlFile = path.join(dir, 'crls.pem');
    // One CRL from the root (about the intermediate: not revoked), one from the intermediate.
    fs.writeFileSync(crlFile, makeCrl(pki.root, []) + makeCrl(pki.intermediate, [serialOf(leaf)]));
    const revoked = await connect((await serve(leaf)).port, '--crl', crlFile);
    assert.equal(revoked.status, codes.revoked.exit, revoked.stderr);
    assert.equal(revoked.stdout.length, 0);
    const crlLines = revoked.events.filter((e) => e.name === 'revocation');
    assert.deepEqual(crlLines.map((e) => [e.fields.depth, e.fields.status]), [['0', 'revoked']]);

    const fine = await connect((await serve(other)).port, '--crl', crlFile);
    assert.equal(fine.status, 0, fine.stderr);
    assert.deepEqual(fine.events.filter((e) => e.name === 'revocation').map((e) => [e.fields.depth, e.fields.status]), [['0', 'good'], ['1', 'good']]);
  });

  test('a CRL file that does not parse is a config error naming it', async () => {
    const bad = path.join(dir, 'bad-crl.pem');
    fs.writeFileSync(bad, pki.root.certPem);
    const r = await connect(1, '--crl', bad);
    assert.equal(r.status, codes.config.exit);
    assert.match(r.stderr, /bad-crl\.pem/);
  });
});

describe('stapled OCSP', () => {
  test('good passes, revoked is refused, and the control channel says so', async () => {
    const leaf = await issue({ subject: 'CN=localhost', issuer: pki.intermediate, dns: ['localhost'] });
    const good = await connect((await serve(leaf, makeOcspResponse({ leaf, issuer: pki.intermediate, status: 'good' }))).port, '--ocsp', 'check');
    assert.equal(good.status, 0, good.stderr);
    assert.equal(good.events.find((e) => e.name === 'ocsp')!.fields.status, 'good');
    const revoked = await connect((await serve(leaf, makeOcspResponse({ leaf, issuer: pki.intermediate, status: 'revoked' }))).port, '--ocsp', 'check');
    assert.equal(revoked.status, codes.revoked.exit, revoked.stderr);
    assert.equal(revoked.stdout.length, 0);
  });

  test('--ocsp require without a staple is refused; check without one passes', async () => {
    const p = await serve(pki.good.issued);
    const required = await connect(p.port, '--ocsp', 'require');
    assert.equal(required.status, codes.revoked.exit);
    assert.match(required.events.at(-1)!.fields.message!, /stapled no OCSP response/);
    const checked = await connect(p.port, '--ocsp', 'check');
    assert.equal(checked.status, 0, checked.stderr);
    assert.equal(checked.events.find((e) => e.name === 'ocsp')!.fields.status, 'none');
  });

  test('a must-staple certificate without a staple is refused under --ocsp check', async () => {
    const leaf = opensslIssue(pki.intermediate, '/CN=localhost', ['subjectAltName=DNS:localhost', 'tlsfeature=status_request', 'extendedKeyUsage=serverAuth']);
    const p = await serve(leaf);
    const r = await connect(p.port, '--ocsp', 'check');
    assert.equal(r.status, codes.revoked.exit, r.stderr);
    assert.match(r.events.at(-1)!.fields.message!, /must-staple/);
  });
});

describe('DANE (records supplied by the caller)', () => {
  const spkiSha256 = (i: Issued) => crypto.createHash('sha256').update(new crypto.X509Certificate(i.der).publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
  const certSha256 = (i: Issued) => crypto.createHash('sha256').update(i.der).digest('hex');

  test('DANE-EE 3 1 1 authenticates even a wrong-name, self-signed leaf; another key does not', async () => {
    const self = await issue({ subject: 'CN=dane box', dns: ['elsewhere.example'] });
    const peer = await tlsPeer({ key: self.keyPem, cert: self.certPem }, echoUpper);
    peers.push(peer);
    const ok = await runOnce(['connect', `127.0.0.1:${peer.port}`, '--servername', 'localhost', '--tlsa', `3 1 1 ${spkiSha256(self)}`], 'x');
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.events.find((e) => e.name === 'verified')!.fields.by, 'dane-ee');
    assert.equal(ok.events.find((e) => e.name === 'tlsa')!.fields.result, 'match');
    const bad = await runOnce(['connect', `127.0.0.1:${peer.port}`, '--servername', 'localhost', '--tlsa', `3 1 1 ${spkiSha256(pki.root)}`], 'x');
    assert.equal(bad.status, codes.untrusted.exit);
  });

  test('DANE-TA 2 0 1 on the intermediate: path to it validated, names checked', async () => {
    const record = `2 0 1 ${certSha256(pki.intermediate)}`;
    const p = await serve(pki.good.issued);
    const ok = await runOnce(['connect', `127.0.0.1:${p.port}`, '--servername', 'localhost', '--tlsa', record], 'x');
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.events.find((e) => e.name === 'verified')!.fields.by, 'dane-ta');
    const wrongName = await runOnce(['connect', `127.0.0.1:${p.port}`, '--servername', 'other.example', '--tlsa', record], 'x');
    assert.equal(wrongName.status, codes['name-mismatch'].exit);
  });
});
