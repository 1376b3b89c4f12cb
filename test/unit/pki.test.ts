// test/unit/pki.test.ts — proves the fixture PKI (test/helpers/pki.ts) is what it claims, checked by node:crypto, openssl and node:tls.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { issue } from '../../src/pki/generate.ts';
import { SERVER_FIXTURES, fixturePki, serverOptions, type FixturePki, type ServerFixture } from '../helpers/pki.ts';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

let pki: FixturePki;
before(async () => {
  pki = await fixturePki();
});
after(() => pki.cleanup());

const cert = (file: string): X509Certificate => new X509Certificate(readFileSync(file));
const leaf = (f: ServerFixture): X509Certificate => cert(f.certFile);

function openssl(args: string[]): { ok: boolean; output: string } {
  const run = spawnSync('openssl', args, { encoding: 'utf8' });
  return { ok: run.status === 0, output: run.stdout + run.stderr };
}

function opensslVerify(f: ServerFixture, extra: string[] = []): { ok: boolean; output: string } {
  const untrusted = f.intermediateFile ? ['-untrusted', f.intermediateFile] : [];
  return openssl(['verify', '-CAfile', pki.caFile, ...untrusted, ...extra, f.certFile]);
}

describe('fixture PKI', () => {
  // Speed belongs in benchmarks, not in timed tests: the build time is only reported.
  test('is built once per process (build time reported)', async (t) => {
    t.diagnostic(`fixture PKI built in ${pki.buildMs.toFixed(0)} ms`);
    assert.equal(await fixturePki(), pki);
  });

  test('every server fixture has a leaf, a matching PKCS#8 key and a leaf-first chain', () => {
    for (const name of SERVER_FIXTURES) {
      const f = pki[name];
      const keyPem = readFileSync(f.keyFile, 'utf8');
      assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n/, `${name}: key`);
      assert.ok(leaf(f).checkPrivateKey(createPrivateKey(keyPem)), `${name}: key matches cert`);
      assert.equal(statSync(f.keyFile).mode & 0o077, 0, `${name}: key file private`);
      assert.ok(readFileSync(f.chainFile, 'utf8').startsWith(f.issued.certPem), `${name}: chain starts with leaf`);
      assert.equal(leaf(f).ca, false, `${name}: leaf is not a CA`);
    }
  });

  test('roots and intermediates are CAs; ca.pem holds both trusted roots and not the untrusted one', () => {
    const trusted = readFileSync(pki.caFile, 'utf8');
    for (const ca of [pki.root, pki.rsaRoot, pki.untrustedRoot, pki.intermediate, pki.expiredIntermediate]) {
      assert.equal(new X509Certificate(ca.der).ca, true, ca.subject);
    }
    assert.ok(trusted.includes(pki.root.certPem) && trusted.includes(pki.rsaRoot.certPem));
    assert.ok(!trusted.includes(pki.untrustedRoot.certPem));
  });

  test('chains carry the intermediate only when there is one', () => {
    const count = (pem: string): number => pem.split('BEGIN CERTIFICATE').length - 1;
    assert.equal(count(pki.good.chainPem), 2);
    assert.equal(count(pki.underExpiredIntermediate.chainPem), 2);
    assert.ok(pki.underExpiredIntermediate.chainPem.endsWith(pki.expiredIntermediate.certPem));
    assert.equal(count(pki.rsa.chainPem), 1);
    assert.equal(count(pki.untrusted.chainPem), 1);
  });

  test('spkiPin is sha256 over the SubjectPublicKeyInfo', () => {
    const spki = leaf(pki.good).publicKey.export({ type: 'spki', format: 'der' });
    assert.equal(pki.good.issued.spkiPin, 'sha256/' + createHash('sha256').update(spki).digest('base64'));
  });
});

describe('fixture contents', () => {
  test('good names localhost, 127.0.0.1 and ::1', () => {
    const c = leaf(pki.good);
    assert.equal(c.subject, 'CN=localhost');
    assert.equal(c.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.equal(c.checkHost('localhost'), 'localhost');
    assert.equal(c.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(c.checkIP('::1'), '::1');
    assert.deepEqual(c.keyUsage, [SERVER_AUTH]);
  });

  test('wrongName names other.example and not localhost', () => {
    const c = leaf(pki.wrongName);
    assert.equal(c.subjectAltName, 'DNS:other.example');
    assert.equal(c.checkHost('localhost'), undefined);
  });

  test('expired ended in the past; notYetValid starts in the future', () => {
    const now = Date.now();
    assert.ok(Date.parse(leaf(pki.expired).validTo) < now);
    assert.ok(Date.parse(leaf(pki.notYetValid).validFrom) > now);
  });

  test('underExpiredIntermediate is in date but its intermediate is not', () => {
    const now = Date.now();
    const c = leaf(pki.underExpiredIntermediate);
    assert.ok(Date.parse(c.validFrom) < now && now < Date.parse(c.validTo));
    assert.ok(Date.parse(cert(pki.expiredIntermediateFile).validTo) < now);
    assert.equal(c.issuer, 'CN=tlsify expired intermediate');
  });

  test('cnOnly has CN=localhost and no SAN extension', () => {
    const c = leaf(pki.cnOnly);
    assert.equal(c.subject, 'CN=localhost');
    assert.equal(c.subjectAltName, undefined);
  });

  test('untrusted is signed by untrustedRoot', () => {
    assert.ok(leaf(pki.untrusted).verify(cert(pki.untrustedCaFile).publicKey));
  });

  test('wildcard names *.a.example', () => {
    assert.equal(leaf(pki.wildcard).subjectAltName, 'DNS:*.a.example');
  });

  test('srv carries SRVName _xmpp-client.localhost and URI sip:localhost, and no DNS-ID', () => {
    const text = openssl(['x509', '-noout', '-text', '-in', pki.srv.certFile]).output;
    assert.ok(text.includes('SRVName::_xmpp-client.localhost'), text);
    assert.ok(text.includes('URI:sip:localhost'), text);
    assert.ok(!text.includes('DNS:'), text);
  });

  test('clientOnly has EKU clientAuth only', () => {
    assert.deepEqual(leaf(pki.clientOnly).keyUsage, [CLIENT_AUTH]);
  });

  test('rsa and rsa1024 have RSA keys of 2048 and 1024 bits', () => {
    assert.equal(leaf(pki.rsa).publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(leaf(pki.rsa1024).publicKey.asymmetricKeyDetails?.modulusLength, 1024);
  });

  test('sha1 is signed with sha1WithRSAEncryption by the RSA root', () => {
    const text = openssl(['x509', '-noout', '-text', '-in', pki.sha1.certFile]).output;
    assert.match(text, /Signature Algorithm: sha1WithRSAEncryption/);
    assert.ok(leaf(pki.sha1).verify(new X509Certificate(pki.rsaRoot.der).publicKey));
  });
});

describe('openssl verify against ca.pem', () => {
  for (const name of ['good', 'rsa', 'wrongName', 'wildcard', 'srv', 'cnOnly'] as const) {
    test(`${name} verifies`, () => {
      const r = opensslVerify(pki[name]);
      assert.ok(r.ok, r.output);
      assert.match(r.output, /: OK/);
    });
  }

  const failures = [
    ['expired', 'certificate has expired'],
    ['notYetValid', 'certificate is not yet valid'],
    ['underExpiredIntermediate', 'certificate has expired'],
    ['untrusted', 'unable to get local issuer certificate'],
  ] as const;
  for (const [name, reason] of failures) {
    test(`${name} fails: ${reason}`, () => {
      const r = opensslVerify(pki[name]);
      assert.equal(r.ok, false, r.output);
      assert.ok(r.output.includes(reason), r.output);
    });
  }

  test('wrongName fails a localhost host name check', () => {
    const r = opensslVerify(pki.wrongName, ['-verify_hostname', 'localhost']);
    assert.equal(r.ok, false, r.output);
    assert.ok(r.output.includes('hostname mismatch'), r.output);
  });
});

describe('generate', () => {
  test('ed25519 keys sign certificates node:crypto accepts', async () => {
    const ca = await issue({ subject: 'CN=ed root', key: 'ed25519', ca: true });
    const child = await issue({ subject: 'CN=ed leaf', issuer: ca, dns: ['ed.example'] });
    assert.equal(new X509Certificate(ca.der).publicKey.asymmetricKeyType, 'ed25519');
    assert.ok(new X509Certificate(child.der).verify(new X509Certificate(ca.der).publicKey));
  });

  test('an empty subject makes the SAN critical', async () => {
    const c = await issue({ subject: '', dns: ['x.example'] });
    const text = spawnSync('openssl', ['x509', '-noout', '-text'], { input: c.certPem, encoding: 'utf8' }).stdout;
    assert.match(text, /Subject Alternative Name: critical/);
  });

  test('key and keyPem together are an error', async () => {
    const first = await issue({ subject: 'CN=a' });
    await assert.rejects(issue({ subject: 'CN=b', key: 'p256', keyPem: first.keyPem }), /expected one of key or keyPem/);
  });

  test('pathLen on a leaf and an inverted validity are errors', async () => {
    await assert.rejects(issue({ subject: 'CN=a', pathLen: 0 }), /pathLen: expected only with ca: true/);
    const notBefore = new Date();
    await assert.rejects(issue({ subject: 'CN=a', notBefore, notAfter: notBefore }), /notAfter: expected after notBefore/);
  });
});

describe('node:tls with the good fixture', () => {
  test('a client trusting ca.pem is authorized for servername localhost', async () => {
    const server = tls.createServer(serverOptions(pki.good), (socket) => socket.end('hello'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const ca = readFileSync(pki.caFile);
      const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
      await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      assert.equal(socket.authorized, true, String(socket.authorizationError));
      socket.destroy();
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
