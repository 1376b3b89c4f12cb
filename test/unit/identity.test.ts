// identity.test.ts: client identities (tls/identity.ts): every key form node:crypto reads (PKCS#8,
// encrypted PKCS#8, PKCS#1, SEC1; PEM and DER), PKCS#12 through node:tls itself, the refusals and
// their messages, one identity per OpenSSL key slot, and which certificate a real handshake sent.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { TlsifyError } from '../../src/codes.ts';
import { fails } from '../helpers/fails.ts';
import { issue, type Issued } from '../../src/pki/generate.ts';
import { clientCertStatus } from '../../src/tls/client-cert-status.ts';
import { fingerprintOf, loadIdentities, tlsCredentials, type ClientIdentity, type IdentitySpecs } from '../../src/tls/identity.ts';
import { privateKey } from '../../src/tls/identity-keys.ts';
import { fixturePki, serverOptions, type FixturePki } from '../helpers/pki.ts';

let pki: FixturePki;
let dir: string;
let rsaClient: Issued; // RSA-2048, clientAuth, under the RSA root
let p384Client: Issued;
before(async () => {
  pki = await fixturePki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-identity-'));
  [rsaClient, p384Client] = await Promise.all([
    issue({ subject: 'CN=rsa client', key: 'rsa2048', issuer: pki.rsaRoot, eku: ['clientAuth'] }),
    issue({ subject: 'CN=p384 client', key: 'p384', issuer: pki.root, eku: ['clientAuth'] }),
  ]);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: string | Buffer, mode = 0o600): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  fs.chmodSync(p, mode);
  return p;
}
const specs = (s: Partial<IdentitySpecs>): IdentitySpecs => ({ certs: [], keys: [], pkcs12: [], passes: [], ...s });
const client = () => pki.clientOnly;
const sha256hex = (der: Buffer) => 'sha256:' + createHash('sha256').update(der).digest('hex');

describe('--cert with --key', () => {
  test('PEM leaf + chain and a PKCS#8 key: fingerprint of the leaf DER, no warnings for a clientAuth leaf', () => {
    const [id] = loadIdentities(specs({ certs: [client().chainFile], keys: [client().keyFile] }), {});
    assert.equal(id!.fingerprint, sha256hex(client().issued.der));
    assert.equal(id!.keyType, 'ec');
    assert.equal(id!.curve, 'prime256v1');
    assert.equal(id!.subject, 'CN=localhost');
    assert.deepEqual(id!.warnings, []);
    assert.equal(id!.material.kind, 'pem');
    if (id!.material.kind === 'pem') assert.equal((id!.material.cert.match(/BEGIN CERTIFICATE/g) ?? []).length, 2, 'leaf and intermediate');
    assert.ok(Object.isFrozen(id));
  });

  const ec = () => createPrivateKey(client().issued.keyPem);
  const rsa = () => createPrivateKey(rsaClient.keyPem);
  const forms: [string, () => Buffer | string, () => Issued][] = [
    ['SEC1 PEM', () => ec().export({ type: 'sec1', format: 'pem' }), () => client().issued],
    ['SEC1 DER', () => ec().export({ type: 'sec1', format: 'der' }), () => client().issued],
    ['PKCS#8 DER', () => ec().export({ type: 'pkcs8', format: 'der' }), () => client().issued],
    ['PKCS#1 PEM', () => rsa().export({ type: 'pkcs1', format: 'pem' }), () => rsaClient],
    ['PKCS#1 DER', () => rsa().export({ type: 'pkcs1', format: 'der' }), () => rsaClient],
  ];
  for (const [name, key, issued] of forms) {
    test(`key as ${name}; certificate as DER`, () => {
      const certFile = write(`${name}.crt.der`, issued().der);
      const keyFile = write(`${name}.key`, key());
      const [id] = loadIdentities(specs({ certs: [certFile], keys: [keyFile] }), {});
      assert.equal(id!.fingerprint, fingerprintOf(issued().der));
    });
  }

  describe('encrypted keys and --pass', () => {
    let pemFile: string;
    let derFile: string;
    let oldPemFile: string;
    before(() => {
      pemFile = write('enc.pk8.pem', ec().export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'correct horse' }));
      derFile = write('enc.pk8.der', ec().export({ type: 'pkcs8', format: 'der', cipher: 'aes-256-cbc', passphrase: 'correct horse' }));
      oldPemFile = write('enc.pk1.pem', rsa().export({ type: 'pkcs1', format: 'pem', cipher: 'aes-128-cbc', passphrase: 'correct horse' }));
    });
    test('encrypted PKCS#8 PEM, passphrase from env', () => {
      const [id] = loadIdentities(specs({ certs: [client().certFile], keys: [pemFile], passes: ['env:KEYPASS'] }), { KEYPASS: 'correct horse' });
      assert.equal(id!.fingerprint, fingerprintOf(client().issued.der));
    });
    test('encrypted PKCS#8 DER, passphrase from a file (trailing newline stripped)', () => {
      const pass = write('pass.txt', 'correct horse\n');
      loadIdentities(specs({ certs: [client().certFile], keys: [derFile], passes: [`file:${pass}`] }), {});
    });
    test('encrypted PKCS#1 PEM (Proc-Type: 4,ENCRYPTED), passphrase from an fd', () => {
      const fd = fs.openSync(write('pass-fd.txt', 'correct horse'), 'r');
      loadIdentities(specs({ certs: [write('rsa.pem', rsaClient.certPem)], keys: [oldPemFile], passes: [`fd:${fd}`] }), {});
    });
    test('no passphrase: a config error that names the key and the forms', () => {
      for (const f of [pemFile, derFile, oldPemFile]) {
        fails(() => loadIdentities(specs({ certs: [client().certFile], keys: [f] }), {}), 'config', new RegExp(`--key ${f}: the key is encrypted; expected a passphrase via --pass env:VAR\\|fd:N\\|file:PATH, got none`));
      }
    });
    test('wrong passphrase: a config error before any dialling', () => {
      for (const f of [pemFile, derFile]) {
        fails(() => loadIdentities(specs({ certs: [client().certFile], keys: [f], passes: ['env:P'] }), { P: 'wrong' }), 'config', /the passphrase does not decrypt the key \(wrong passphrase\?\)/);
      }
    });
    test('a literal --pass is refused with the reason', () => {
      fails(() => loadIdentities(specs({ certs: [client().certFile], keys: [pemFile], passes: ['correct horse'] }), {}), 'usage', /A secret on the command line can be read by every local user/);
    });
    test('--pass with nothing encrypted is an error, not a silent no-op', () => {
      fails(() => loadIdentities(specs({ certs: [client().certFile], keys: [client().keyFile], passes: ['env:P'] }), { P: 'x' }), 'usage', /--pass was given, but no --key is encrypted/);
    });
  });

  test('--key fd:N: a key the parent hands over on a descriptor (read to EOF, then closed)', () => {
    const fd = fs.openSync(client().keyFile, 'r');
    const [id] = loadIdentities(specs({ certs: [client().certFile], keys: [`fd:${fd}`] }), {});
    assert.equal(id!.fingerprint, fingerprintOf(client().issued.der));
    assert.equal(id!.source, `cert=${client().certFile} key=fd:${fd}`);
    assert.throws(() => fs.fstatSync(fd), /EBADF/);
    fails(() => loadIdentities(specs({ certs: [client().certFile], keys: ['fd:9'] }), {}, { openFds: new Set([3]) }), 'config', /--key fd:9: expected a descriptor the parent passed/);
  });
  test('a key that does not belong to the certificate: both pins in the message', () => {
    const keyFile = write('other.key', rsaClient.keyPem);
    fails(() => loadIdentities(specs({ certs: [client().certFile], keys: [keyFile] }), {}), 'config', /expected the key of the certificate in .* \(sha256\/[^)]+\), got the key sha256\//);
  });
  test('swapped --cert and --key get a hint', () => {
    const keyAsCert = write('cert-as-key.pem', client().issued.certPem);
    fails(() => loadIdentities(specs({ certs: [client().keyFile], keys: [keyAsCert] }), {}), 'config', /expected only CERTIFICATE blocks, got a PRIVATE KEY block: give the key with --key/);
    fails(() => loadIdentities(specs({ certs: [client().certFile], keys: [keyAsCert] }), {}), 'config', /got a CERTIFICATE block: did you swap --cert and --key\?/);
  });
  test('garbage in either file', () => {
    const junk = write('junk', Buffer.from('not a certificate at all'));
    fails(() => loadIdentities(specs({ certs: [junk], keys: [client().keyFile] }), {}), 'config', /--cert .*junk \(DER\)/);
    fails(() => loadIdentities(specs({ certs: [client().certFile], keys: [junk] }), {}), 'config', /--key .*junk: expected a private key: PKCS#8 \(plain or encrypted\), PKCS#1 or SEC1, in PEM or DER, got 24 bytes/);
  });
  test('a key file other users can read is refused; a certificate file may be public', () => {
    const open = write('open.key', client().issued.keyPem, 0o644);
    fails(() => loadIdentities(specs({ certs: [client().certFile], keys: [open] }), {}), 'config', /--key .*open.key: expected a file other users cannot read, got mode 0644/);
  });
  test('--cert and --key pair up in order', () => {
    fails(() => loadIdentities(specs({ certs: [client().certFile, client().certFile], keys: [client().keyFile] }), {}), 'usage', /come in pairs, in order: got 2 --cert and 1 --key/);
  });
  test('warnings: a serverAuth-only leaf, an expired leaf', () => {
    const [good] = loadIdentities(specs({ certs: [pki.good.certFile], keys: [pki.good.keyFile] }), {});
    assert.match(good!.warnings.join('\n'), /does not allow client authentication: expected extended key usage clientAuth, got 1\.3\.6\.1\.5\.5\.7\.3\.1/);
    const [expired] = loadIdentities(specs({ certs: [pki.expired.certFile], keys: [pki.expired.keyFile] }), {});
    assert.match(expired!.warnings.join('\n'), /expired at/);
  });
  test('a chain out of order is a warning', () => {
    const swapped = write('swapped.pem', pki.intermediate.certPem + client().issued.certPem);
    assert.throws(() => loadIdentities(specs({ certs: [swapped], keys: [client().keyFile] }), {}), /expected the key of the certificate/);
    const backwards = write('backwards.pem', client().issued.certPem + pki.rsaRoot.certPem);
    const [id] = loadIdentities(specs({ certs: [backwards], keys: [client().keyFile] }), {});
    assert.match(id!.warnings.join('\n'), /certificate 2 \('CN=tlsify test RSA root'\) did not issue certificate 1/);
  });
});

describe('several identities', () => {
  test('RSA and ECDSA together: arrays for node:tls, one SecureContext builds', () => {
    const rsaCert = write('rsa-client.pem', rsaClient.certPem);
    const rsaKey = write('rsa-client.key', rsaClient.keyPem);
    const ids = loadIdentities(specs({ certs: [rsaCert, client().chainFile], keys: [rsaKey, client().keyFile] }), {});
    assert.deepEqual(ids.map((i) => i.keyType), ['rsa', 'ec']);
    const creds = tlsCredentials(ids);
    assert.equal((creds.key as string[]).length, 2);
    assert.equal((creds.cert as string[]).length, 2);
    tls.createSecureContext(creds);
  });
  test('two ECDSA identities are refused: OpenSSL keeps one per key type (P-256 and P-384 share it)', () => {
    const p384 = write('p384.pem', p384Client.certPem);
    const p384Key = write('p384.key', p384Client.keyPem);
    fails(() => loadIdentities(specs({ certs: [client().certFile, p384], keys: [client().keyFile, p384Key] }), {}), 'usage', /two client identities with ec keys .* keeps one certificate per key type, so the second would silently replace the first/);
  });
  test('--pass: one for all, or one per identity', () => {
    fails(() => loadIdentities(specs({ certs: [client().certFile], keys: [client().keyFile], passes: ['env:A', 'env:B'] }), { A: 'a', B: 'b' }), 'usage', /expected one for all identities or one per identity \(1\), got 2/);
  });
});

describe('--pkcs12', () => {
  const pkcs12 = (name: string, pass: string, extra: string[] = []): string => {
    const out = path.join(dir, name);
    const r = spawnSync('openssl', ['pkcs12', '-export', '-in', client().certFile, '-inkey', client().keyFile, '-certfile', pki.intermediateFile, '-passout', `pass:${pass}`, '-out', out, ...extra]);
    assert.equal(r.status, 0, r.stderr.toString());
    fs.chmodSync(out, 0o600);
    return out;
  };
  test('opens with the passphrase; the fingerprint is the leaf it holds', () => {
    const f = pkcs12('id.p12', 'p12 pass');
    const [id] = loadIdentities(specs({ pkcs12: [f], passes: ['env:P'] }), { P: 'p12 pass' });
    assert.equal(id!.fingerprint, fingerprintOf(client().issued.der));
    assert.equal(id!.keyType, 'ec');
    assert.equal(id!.material.kind, 'pfx');
    tls.createSecureContext(tlsCredentials([id!]));
  });
  test('wrong or missing passphrase: clear config errors before dialling', () => {
    const f = pkcs12('id2.p12', 'p12 pass');
    fails(() => loadIdentities(specs({ pkcs12: [f], passes: ['env:P'] }), { P: 'nope' }), 'config', /--pkcs12 .*id2.p12: the passphrase does not open it \(MAC verify failure: wrong passphrase\?\)/);
    fails(() => loadIdentities(specs({ pkcs12: [f] }), {}), 'config', /expected a passphrase via --pass .*: the file does not open without one/);
  });
  test('a legacy (RC2/3DES) file says how to re-export it', () => {
    const f = pkcs12('legacy.p12', 'p12 pass', ['-legacy']);
    fails(() => loadIdentities(specs({ pkcs12: [f], passes: ['env:P'] }), { P: 'p12 pass' }), 'config', /legacy provider .* re-export it with AES/);
  });
  test('not a PKCS#12 file', () => {
    fails(() => loadIdentities(specs({ pkcs12: [write('notp12', client().issued.certPem)], passes: ['env:P'] }), { P: 'x' }), 'config', /--pkcs12 .*notp12/);
  });
});

describe('clientCertStatus (what the handshake says about the client certificate)', () => {
  let ec: ClientIdentity;
  let rsa: ClientIdentity;
  let p384: ClientIdentity;
  before(() => {
    [rsa, ec] = loadIdentities(specs({ certs: [write('s-rsa.pem', rsaClient.certPem), client().certFile], keys: [write('s-rsa.key', rsaClient.keyPem), client().keyFile] }), {}) as [ClientIdentity, ClientIdentity];
    [p384] = loadIdentities(specs({ certs: [write('s-p384.pem', p384Client.certPem)], keys: [write('s-p384.key', p384Client.keyPem)] }), {}) as [ClientIdentity];
  });
  const facts = (version: string, sharedSigalgs: string[], local: Issued | undefined, resumed = false) => ({ version, sharedSigalgs, local: local?.der, resumed });
  const cases: [string, () => ReturnType<typeof facts>, () => ClientIdentity[], string, (() => ClientIdentity) | undefined][] = [
    ['no CertificateRequest', () => facts('TLSv1.3', [], client().issued), () => [ec], 'not-asked', undefined],
    ['asked, none configured', () => facts('TLSv1.3', ['ECDSA+SHA256'], undefined), () => [], 'none-configured', undefined],
    ['asked, ECDSA P-256 fits', () => facts('TLSv1.3', ['RSA-PSS+SHA256', 'ECDSA+SHA256'], client().issued), () => [rsa, ec], 'sent', () => ec],
    ['asked for RSA only, OpenSSL left the EC one current: nothing was sent', () => facts('TLSv1.3', ['RSA-PSS+SHA256', 'RSA+SHA256'], client().issued), () => [ec], 'none-suitable', undefined],
    ['TLS 1.3 ties the curve to the hash: P-384 cannot answer ECDSA+SHA256', () => facts('TLSv1.3', ['ECDSA+SHA256'], p384Client), () => [p384], 'none-suitable', undefined],
    ['TLS 1.2 does not: P-384 with ECDSA+SHA256', () => facts('TLSv1.2', ['ECDSA+SHA256'], p384Client), () => [p384], 'sent', () => p384],
    ['TLS 1.3 RSA needs PSS', () => facts('TLSv1.3', ['RSA+SHA256'], rsaClient), () => [rsa], 'none-suitable', undefined],
    ['TLS 1.2 RSA PKCS#1', () => facts('TLSv1.2', ['RSA+SHA256'], rsaClient), () => [rsa], 'sent', () => rsa],
    ['resumed: no CertificateRequest in an abbreviated handshake', () => facts('TLSv1.3', [], undefined, true), () => [ec], 'resumed', undefined],
  ];
  for (const [name, f, ids, status, identity] of cases) {
    test(name, () => {
      const got = clientCertStatus(f(), ids());
      assert.equal(got.status, status);
      assert.equal(got.identity, identity?.());
    });
  }
});

describe('against a real node:tls server (the facts clientCertStatus relies on)', () => {
  async function handshake(serverExtra: tls.TlsOptions, ids: ClientIdentity[], maxVersion: tls.SecureVersion) {
    let seen: string | undefined;
    const server = tls.createServer({ ...serverOptions(pki.good), ca: fs.readFileSync(pki.caFile), rejectUnauthorized: false, ...serverExtra }, (s) => {
      const raw = s.getPeerCertificate().raw;
      seen = raw ? fingerprintOf(raw) : 'none';
      s.end();
    });
    server.on('tlsClientError', () => {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const facts = await new Promise<Parameters<typeof clientCertStatus>[0]>((resolve, reject) => {
        const s = tls.connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1', ca: fs.readFileSync(pki.caFile), servername: 'localhost', maxVersion, ...tlsCredentials(ids) });
        s.on('error', reject);
        s.on('secureConnect', () => {
          const local = s.getCertificate();
          resolve({ version: s.getProtocol()!, sharedSigalgs: s.getSharedSigalgs(), local: local && 'raw' in local ? local.raw : undefined, resumed: s.isSessionReused() });
          s.on('data', () => {});
          s.on('end', () => s.end());
        });
      });
      await new Promise((r) => setTimeout(r, 50));
      return { facts, seen };
    } finally {
      server.close();
    }
  }
  for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
    test(`${v}: not asked, then asked and sent; the fingerprint is what the server saw`, async () => {
      const ids = loadIdentities(specs({ certs: [client().chainFile], keys: [client().keyFile] }), {});
      const quiet = await handshake({}, ids, v);
      assert.equal(clientCertStatus(quiet.facts, ids).status, 'not-asked');
      const asked = await handshake({ requestCert: true }, ids, v);
      const got = clientCertStatus(asked.facts, ids);
      assert.equal(got.status, 'sent');
      assert.equal(got.identity!.fingerprint, asked.seen);
    });
  }
});

test('a wrong passphrase that happens to leave valid CBC padding still reads as a wrong passphrase', () => {
  const { privateKey: pem } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const encrypted = Buffer.from(pem.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'right' }) as string);
  // About one wrong passphrase in 256 decrypts to valid padding; OpenSSL then fails decoding, not decrypting.
  let odd: string | undefined;
  for (let i = 0; i < 5000 && odd === undefined; i++) {
    try {
      createPrivateKey({ key: encrypted, format: 'pem', passphrase: `wrong${i}` });
    } catch (err) {
      if (!/bad decrypt/i.test((err as Error).message)) odd = `wrong${i}`;
    }
  }
  assert.ok(odd, 'no wrong passphrase in 5000 left valid padding');
  assert.throws(() => privateKey(encrypted, Buffer.from(odd!), '--key k.pem'), (err: unknown) => err instanceof TlsifyError && err.code === 'config' && /--key k\.pem: the passphrase does not decrypt the key/.test(err.message));
});
