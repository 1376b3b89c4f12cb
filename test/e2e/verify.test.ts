// test/e2e/verify.test.ts: real handshakes against node:tls peers with the fixture PKI: what
// passes, what fails with which code, and that a rejected peer exchanges no plaintext.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { codes } from '../../src/codes.ts';
import { fixturePki, serverOptions, type FixturePki, type ServerFixtureName } from '../helpers/pki.ts';
import { echoUpper, runOnce, tlsPeer, type Peer } from '../helpers/tlsify.ts';

let pki: FixturePki;
const peers: Peer[] = [];

before(async () => {
  pki = await fixturePki();
});
after(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

async function peerFor(name: ServerFixtureName, host = '127.0.0.1'): Promise<Peer> {
  // A server that still presents weak certificates (SHA-1, RSA-1024) needs OpenSSL's level 0.
  const weak = name === 'sha1' || name === 'rsa1024' ? { ciphers: 'DEFAULT@SECLEVEL=0' } : {};
  const peer = await tlsPeer({ ...serverOptions(pki[name]), ...weak }, echoUpper, host);
  peers.push(peer);
  return peer;
}

describe('a good peer', () => {
  test('relays the request and the reply, and reports the validated path', async () => {
    const peer = await peerFor('good');
    const r = await runOnce(['connect', `127.0.0.1:${peer.port}`, '--ca', pki.caFile, '--servername', 'localhost'], 'hello\n');
    assert.equal(r.stdout.toString(), 'HELLO\n');
    assert.equal(r.status, 0, r.stderr);
    const names = r.events.map((e) => e.name);
    assert.deepEqual(names, ['hello', 'trust', 'connected', 'handshake', 'cert', 'cert', 'cert', 'verified', 'ready', 'close-sent', 'end']);
    const certs = r.events.filter((e) => e.name === 'cert');
    assert.deepEqual(certs.map((c) => c.fields.role), ['leaf', 'intermediate', 'anchor']);
    assert.equal(certs[0]!.fields.pin, pki.good.issued.spkiPin);
    assert.equal(certs[1]!.fields.pin, pki.intermediate.spkiPin);
    assert.equal(certs[2]!.fields.pin, pki.root.spkiPin);
    assert.equal(Buffer.from(certs[0]!.fields.der!, 'base64').toString('base64'), pki.good.issued.der.toString('base64'));
    const hs = r.events.find((e) => e.name === 'handshake')!;
    assert.equal(hs.fields.version, 'TLSv1.3');
    assert.equal(hs.fields.sni, 'localhost');
    assert.equal(hs.fields.resumed, 'no');
    assert.deepEqual(r.events.at(-1)!.fields, { code: 'ok', exit: '0', message: 'the peer sent close_notify' });
  });

  test('an IP identity is verified against the IP SAN and no SNI is sent', async () => {
    let sni: string | false | null | undefined;
    const peer = await tlsPeer(serverOptions(pki.good), (s, n) => {
      sni = s.servername;
      echoUpper(s, n);
    });
    peers.push(peer);
    const r = await runOnce(['connect', `127.0.0.1:${peer.port}`, '--ca', pki.caFile], 'ip\n');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'IP\n');
    const v = r.events.find((e) => e.name === 'verified')!;
    assert.equal(v.fields.identity, 'ip:127.0.0.1');
    assert.equal(v.fields.matched, 'ip:127.0.0.1');
    assert.equal(sni, false);
  });

  test('IPv6 literals in brackets dial and verify', async () => {
    const peer = await peerFor('good', '::1');
    const r = await runOnce(['connect', `[::1]:${peer.port}`, '--ca', pki.caFile], 'six\n');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'SIX\n');
    assert.equal(r.events.find((e) => e.name === 'verified')!.fields.identity, 'ip:::1');
  });

  test('an RSA chain verifies too', async () => {
    const peer = await peerFor('rsa');
    const r = await runOnce(['connect', `127.0.0.1:${peer.port}`, '--ca', pki.caFile, '--servername', 'localhost'], 'rsa\n');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'RSA\n');
  });
});

// Each row: the fixture the server presents, the expected code, and a phrase the message must carry.
const rejected: [ServerFixtureName, keyof typeof codes, RegExp, string[]?][] = [
  ['wrongName', 'name-mismatch', /expected dns:localhost, got a certificate for dns:other\.example/],
  ['untrusted', 'untrusted', /no path to a trusted anchor/],
  ['expired', 'expired', /depth 0 .* expired at/],
  ['notYetValid', 'expired', /depth 0 .* is not valid before/],
  ['underExpiredIntermediate', 'expired', /depth 1 .* expired at/],
  ['cnOnly', 'name-mismatch', /no subjectAltName .*no CN fallback/],
  ['clientOnly', 'untrusted', /lacks serverAuth/],
  ['rsa1024', 'untrusted', /RSA key of 1024 bits/],
  ['sha1', 'untrusted', /signed with SHA1/],
];

describe('a peer that must be rejected', () => {
  for (const [fixture, code, message] of rejected) {
    test(`${fixture}: exit ${codes[code].exit} (${code}), no plaintext either way`, async () => {
      const peer = await peerFor(fixture);
      const r = await runOnce(['connect', `127.0.0.1:${peer.port}`, '--ca', pki.caFile, '--servername', 'localhost'], 'secret request\n');
      assert.equal(r.status, codes[code].exit, r.stderr);
      assert.equal(r.stdout.length, 0);
      const end = r.events.at(-1)!;
      assert.equal(end.name, 'end');
      assert.equal(end.fields.code, code);
      assert.match(end.fields.message!, message);
      assert.ok(!r.events.some((e) => e.name === 'ready'));
      await new Promise((res) => setTimeout(res, 50));
      assert.equal(peer.received(), 0, 'the peer received plaintext from a rejected connection');
    });
  }

  test('incomplete chain (the server omits its intermediate): untrusted', async () => {
    const peer = await tlsPeer({ key: pki.good.issued.keyPem, cert: pki.good.issued.certPem }, echoUpper);
    peers.push(peer);
    const r = await runOnce(['connect', `127.0.0.1:${peer.port}`, '--ca', pki.caFile, '--servername', 'localhost'], 'x\n');
    assert.equal(r.status, codes.untrusted.exit, r.stderr);
    assert.equal(r.stdout.length, 0);
    assert.match(r.events.at(-1)!.fields.message!, /no certificate named 'CN=tlsify test intermediate|no path to a trusted anchor/);
  });

  test('the default store (system) does not trust the fixture root', async () => {
    const peer = await peerFor('good');
    const r = await runOnce(['connect', `127.0.0.1:${peer.port}`, '--servername', 'localhost'], 'x\n');
    assert.equal(r.status, codes.untrusted.exit, r.stderr);
    assert.equal(r.events.find((e) => e.name === 'trust')!.fields.set, 'system');
  });

  test('the peer never sees plaintext and the parent never sees the peer\'s early data', async () => {
    // The server speaks first (as SMTP or a greeting banner would) with a wrong-name certificate.
    const peer = await tlsPeer(serverOptions(pki.wrongName), (s, n) => {
      s.write('BANNER\n');
      s.on('data', (c: Buffer) => n(c.length));
    });
    peers.push(peer);
    const r = await runOnce(['connect', `127.0.0.1:${peer.port}`, '--ca', pki.caFile, '--servername', 'localhost'], 'secret\n');
    assert.equal(r.status, codes['name-mismatch'].exit);
    assert.equal(r.stdout.length, 0);
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(peer.received(), 0);
  });
});

describe('facts §5.2: node:tls links sent certificates without checking signatures', () => {
  // Two intermediates named alike; G is expired, E signed the leaf (which has no AKI).
  // node:tls links the leaf to whichever comes first, so when G comes first E never reaches us.
  async function twins() {
    const { issue } = await import('../../src/pki/generate.ts');
    const DAY = 86400_000;
    const root = await issue({ subject: 'CN=Twin Root', ca: true });
    const g = await issue({ subject: 'CN=Shared Int', ca: true, issuer: root, notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY) });
    const e = await issue({ subject: 'CN=Shared Int', ca: true, issuer: root });
    const leaf = await issue({ subject: 'CN=localhost', issuer: e, dns: ['localhost'], skipAki: true });
    const caFile = `${pki.dir}/twin-root.pem`;
    require('node:fs').writeFileSync(caFile, root.certPem);
    return { g, e, leaf, caFile };
  }

  test('the reported path is the one that validates: E, never the decoy G', async () => {
    const { g, e, leaf, caFile } = await twins();
    const peer = await tlsPeer({ key: leaf.keyPem, cert: leaf.certPem + e.certPem + g.certPem }, echoUpper);
    peers.push(peer);
    const r = await runOnce(['connect', `127.0.0.1:${peer.port}`, '--ca', caFile, '--servername', 'localhost'], 'x\n');
    assert.equal(r.status, 0, r.stderr);
    const pins = r.events.filter((ev) => ev.name === 'cert').map((ev) => ev.fields.pin);
    assert.equal(pins[1], e.spkiPin);
    assert.ok(!pins.includes(g.spkiPin));
  });

  test('decoy first: tlsify fails closed (untrusted) rather than report or pin G', async () => {
    const { g, e, leaf, caFile } = await twins();
    const peer = await tlsPeer({ key: leaf.keyPem, cert: leaf.certPem + g.certPem + e.certPem }, echoUpper);
    peers.push(peer);
    const r = await runOnce(['connect', `127.0.0.1:${peer.port}`, '--ca', caFile, '--servername', 'localhost'], 'x\n');
    assert.equal(r.status, codes.untrusted.exit);
    assert.equal(r.stdout.length, 0);
    assert.match(r.events.at(-1)!.fields.message!, /does not verify with the key of 'CN=Shared Int'/);
  });
});
