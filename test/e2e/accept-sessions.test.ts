// test/e2e/accept-sessions.test.ts: what `tlsify accept` serves: certificates by key type and by
// SNI, ALPN, an OCSP staple, encrypted keys, and session resumption (off unless --tickets, then
// across processes sharing the key file), checked with openssl s_client and tlsify connect.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { codes } from '../../src/codes.ts';
import { acceptor, envLines, sClient, type Acceptor } from '../helpers/acceptor.ts';
import { fixturePki, type FixturePki } from '../helpers/pki.ts';
import { makeOcspResponse } from '../helpers/revocation.ts';
import { runOnce } from '../helpers/tlsify.ts';

const ECHO = path.resolve(__dirname, '../fixtures/tls-env-echo.sh');
let pki: FixturePki;
let dir: string;
const acceptors: Acceptor[] = [];
before(async () => {
  pki = await fixturePki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-accept-'));
});
after(async () => {
  await Promise.all(acceptors.map((a) => a.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function serve(...args: string[]): Promise<Acceptor> {
  const a = await acceptor(['accept', ...args]);
  acceptors.push(a);
  return a;
}
const good = () => ['--cert', pki.good.chainFile, '--key', pki.good.keyFile];

/** One connection: s_client with `client` options, and tlsify's side of it. */
async function once(a: Acceptor, client: string[]) {
  const c = sClient(a.port, ['-CAfile', pki.caFile, ...client], 'hi\n');
  const r = await (await a.next()).done;
  return { r, out: (await c).out };
}

describe('which certificate is served', () => {
  test('an RSA and an ECDSA pair: the client\'s signature algorithms choose', async () => {
    const a = await serve(...good(), '--cert', pki.rsa.chainFile, '--key', pki.rsa.keyFile, '--', ECHO, 'once');
    const ec = await once(a, []);
    const rsa = await once(a, ['-sigalgs', 'RSA-PSS+SHA256']);
    assert.match(ec.out, /Peer signature type: ECDSA/);
    assert.match(rsa.out, /Peer signature type: RSA-PSS/);
    assert.match(rsa.out, /issuer=CN = tlsify test RSA root/);
    assert.equal(rsa.r.status, 0, rsa.r.stderr);
  });

  test('--sni with a wildcard name: the client\'s SNI picks it, others get the default', async () => {
    const a = await serve(...good(), '--sni', `*.a.example=${pki.wildcard.chainFile},${pki.wildcard.keyFile}`, '--', ECHO, 'once');
    const named = await once(a, ['-servername', 'x.a.example']);
    const other = await once(a, ['-servername', 'localhost']);
    assert.match(named.out, /subject=CN = \*\.a\.example/);
    assert.equal(envLines(named.out).SSL_TLS_SNI_SERVERNAME, 'x.a.example');
    assert.match(other.out, /subject=CN = localhost/);
    assert.equal(named.r.events.find((e) => e.name === 'handshake')!.fields.sni, 'x.a.example');
  });

  test('two pairs of one key type are refused: OpenSSL would keep only the last', async () => {
    const r = await runOnce(['accept', ...good(), '--cert', pki.wildcard.chainFile, '--key', pki.wildcard.keyFile, '--', 'cat']);
    assert.equal(r.status, codes.config.exit, r.stderr);
    assert.match(r.stderr, /expected one server certificate per key type .* got two ec ones/);
  });

  test('an encrypted key with --pass env:VAR; PROGRAM does not inherit VAR', async () => {
    const keyFile = path.join(dir, 'encrypted.key.pem');
    const encrypted = crypto.createPrivateKey(pki.good.issued.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'correct horse' });
    fs.writeFileSync(keyFile, encrypted, { mode: 0o600 });
    const a = await acceptor(['accept', '--cert', pki.good.chainFile, '--key', keyFile, '--pass', 'env:TLSIFY_TEST_SECRET', '--', ECHO, 'once'], { env: { ...process.env, TLSIFY_TEST_SECRET: 'correct horse' } });
    acceptors.push(a);
    const { r, out } = await once(a, []);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(envLines(out).TLSIFY_TEST_SECRET, '-');
    const wrong = await runOnce(['accept', '--cert', pki.good.chainFile, '--key', keyFile, '--pass', 'env:TLSIFY_TEST_SECRET', '--', 'cat'], '', { env: { ...process.env, TLSIFY_TEST_SECRET: 'wrong' } });
    assert.equal(wrong.status, codes.config.exit);
    assert.match(wrong.stderr, /--key .*encrypted\.key\.pem: the passphrase does not decrypt the key/);
  });
});

describe('ALPN and OCSP stapling', () => {
  test('--alpn h2,http/1.1: the server\'s preference among what the client offers', async () => {
    const a = await serve(...good(), '--alpn', 'h2,http/1.1', '--', ECHO, 'once');
    const { r, out } = await once(a, ['-alpn', 'http/1.1,h2']);
    assert.match(out, /ALPN protocol: h2/);
    assert.equal(envLines(out).TLSIFY_ALPN, 'h2');
    assert.equal(r.events.find((e) => e.name === 'handshake')!.fields.alpn, 'h2');
  });

  test('--ocsp-staple: tlsify connect --ocsp require accepts the stapled response', async () => {
    const staple = path.join(dir, 'good.ocsp.der');
    fs.writeFileSync(staple, makeOcspResponse({ leaf: pki.good.issued, issuer: pki.intermediate, status: 'good' }));
    const a = await serve(...good(), '--ocsp-staple', staple, '--', ECHO, 'once');
    const client = runOnce(['connect', `127.0.0.1:${a.port}`, '--ca', pki.caFile, '--servername', 'localhost', '--ocsp', 'require'], 'hi\n');
    const [c, r] = await Promise.all([client, (await a.next()).done]);
    assert.equal(c.status, 0, c.stderr);
    assert.equal(c.events.find((e) => e.name === 'ocsp')!.fields.status, 'good');
    assert.equal(r.status, 0, r.stderr);
  });

  test('--ocsp-staple with a response for another certificate is a config error', async () => {
    const staple = path.join(dir, 'wrong.ocsp.der');
    fs.writeFileSync(staple, makeOcspResponse({ leaf: pki.wildcard.issued, issuer: pki.intermediate, status: 'good' }));
    const r = await runOnce(['accept', ...good(), '--ocsp-staple', staple, '--', 'cat']);
    assert.equal(r.status, codes.config.exit, r.stderr);
    assert.match(r.stderr, /--ocsp-staple .*wrong\.ocsp\.der: expected a DER OCSP response for 'CN=localhost'/);
  });
});

describe('session resumption', () => {
  const ticketKey = (mode: number, size = 48): string => {
    const file = path.join(dir, `tickets-${mode.toString(8)}-${size}.key`);
    fs.writeFileSync(file, crypto.randomBytes(size), { mode });
    fs.chmodSync(file, mode);
    return file;
  };
  const twice = async (a: Acceptor, name: string) => {
    const sess = path.join(dir, `${name}.sess`);
    const first = await once(a, ['-sess_out', sess]);
    const second = await once(a, ['-sess_in', sess]);
    return { first, second };
  };

  test('off by default: a second connection is a full handshake', async () => {
    const a = await serve(...good(), '--', ECHO, 'once');
    const { first, second } = await twice(a, 'none');
    assert.match(first.out, /^New, TLSv1\.3/m);
    assert.match(second.out, /^New, TLSv1\.3/m);
    assert.equal(second.r.events.find((e) => e.name === 'handshake')!.fields.resumed, 'no');
  });

  test('--tickets file:KEY resumes across two tlsify processes sharing the key', async () => {
    const a = await serve(...good(), '--tickets', `file:${ticketKey(0o600)}`, '--', ECHO, 'once');
    const { first, second } = await twice(a, 'tickets');
    assert.notEqual(first.r.events[0]!.fields.pid, second.r.events[0]!.fields.pid);
    assert.match(second.out, /^Reused, TLSv1\.3/m);
    assert.equal(second.r.events.find((e) => e.name === 'handshake')!.fields.resumed, 'yes');
    assert.equal(second.r.status, 0, second.r.stderr);
  });

  test('a key file others can read, or not 48 bytes, is refused', async () => {
    const open = await runOnce(['accept', ...good(), '--tickets', `file:${ticketKey(0o644)}`, '--', 'cat']);
    assert.equal(open.status, codes.config.exit);
    assert.match(open.stderr, /expected a file other users cannot read, got mode 0644/);
    const short = await runOnce(['accept', ...good(), '--tickets', `file:${ticketKey(0o600, 32)}`, '--', 'cat']);
    assert.match(short.stderr, /expected exactly 48 bytes .* got 32/);
  });

  test('--tickets with --client-auth is a usage error: a resumed session has no chain to check', async () => {
    const r = await runOnce(['accept', ...good(), '--tickets', `file:${ticketKey(0o600)}`, '--client-auth', 'require', '--ca', pki.caFile, '--', 'cat']);
    assert.equal(r.status, codes.usage.exit, r.stderr);
  });
});
