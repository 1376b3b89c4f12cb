// test/e2e/trust.test.ts: the trust policy against real node:tls peers: CA sets, identities
// (wildcards, IPs, SRV-ID, URI-ID), issuer rules, pins on the validated path, pin-only,
// report-only, --hold, and `tlsify verify` agreeing with `connect`.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { codes } from '../../src/codes.ts';
import { issue, type Issued } from '../../src/pki/generate.ts';
import { fixturePki, serverOptions, type FixturePki } from '../helpers/pki.ts';
import { echoUpper, runOnce, runTlsify, tlsPeer, TLSIFY, type Peer } from '../helpers/tlsify.ts';

let pki: FixturePki;
let dir: string;
const peers: Peer[] = [];
before(async () => {
  pki = await fixturePki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-trust-'));
});
after(async () => {
  await Promise.all(peers.map((p) => p.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function serve(key: string, chain: Issued[] | string, extra: object = {}): Promise<Peer> {
  const cert = typeof chain === 'string' ? chain : chain.map((c) => c.certPem).join('');
  const peer = await tlsPeer({ key, cert, ...extra }, echoUpper);
  peers.push(peer);
  return peer;
}
const good = () => serve(pki.good.issued.keyPem, pki.good.chainPem);
const connect = (port: number, ...more: string[]) => runOnce(['connect', `127.0.0.1:${port}`, '--servername', 'localhost', ...more], 'ping\n');
const last = (r: { events: { fields: Record<string, string> }[] }) => r.events.at(-1)!.fields;

describe('CA sets', () => {
  test('file:PATH is --ca; the anchor and its set are reported', async () => {
    const p = await good();
    const r = await connect(p.port, '--ca-set', `file:${pki.caFile}`);
    assert.equal(r.status, 0, r.stderr);
    const v = r.events.find((e) => e.name === 'verified')!.fields;
    assert.equal(v['ca-set'], `file:${pki.caFile}`);
    assert.equal(v.anchor, 'CN=tlsify test root');
  });

  test('@NAME reads $XDG_CONFIG_HOME/tlsify/ca-sets/NAME.pem', async () => {
    const p = await good();
    fs.mkdirSync(path.join(dir, 'cfg/tlsify/ca-sets'), { recursive: true });
    fs.copyFileSync(pki.caFile, path.join(dir, 'cfg/tlsify/ca-sets/our-org.pem'));
    const r = await runOnce(['connect', `127.0.0.1:${p.port}`, '--servername', 'localhost', '--ca-set', '@our-org'], 'x', { env: { ...process.env, XDG_CONFIG_HOME: path.join(dir, 'cfg') } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.events.find((e) => e.name === 'verified')!.fields['anchor-source'], '@our-org');
  });

  test('the union of sets: system + the fixture file', async () => {
    const p = await good();
    const r = await connect(p.port, '--ca-set', 'system', '--ca', pki.caFile);
    assert.equal(r.status, 0, r.stderr);
  });

  test('none without pins or TLSA refuses to start', async () => {
    const r = await connect(1, '--ca-set', 'none');
    assert.equal(r.status, codes.usage.exit);
    assert.match(r.stderr, /--ca-set none trusts no CA/);
  });

  test('a misspelt set is a usage error that lists the forms', async () => {
    const r = await connect(1, '--ca-set', 'sytem');
    assert.equal(r.status, codes.usage.exit);
    assert.match(r.stderr, /expected one of system\|bundled\|system-no-local\|file:PATH\|dir:PATH\|@NAME\|none, got 'sytem'/);
  });
});

describe('identities', () => {
  test('wildcard *.a.example matches b.a.example, not a.example, not c.b.a.example', async () => {
    const p = await serve(pki.wildcard.issued.keyPem, pki.wildcard.chainPem);
    const ok = await runOnce(['connect', `127.0.0.1:${p.port}`, '--ca', pki.caFile, '--servername', 'b.a.example'], 'x');
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.events.find((e) => e.name === 'verified')!.fields.how, 'wildcard');
    for (const name of ['a.example', 'c.b.a.example']) {
      const r = await runOnce(['connect', `127.0.0.1:${p.port}`, '--ca', pki.caFile, '--servername', name], 'x');
      assert.equal(r.status, codes['name-mismatch'].exit, name);
    }
  });

  test('IDN: a U-label on the command line is sent and compared as its A-label', async () => {
    const leaf = await issue({ subject: 'CN=idn', issuer: pki.intermediate, dns: ['xn--bcher-kva.example'] });
    let sni: string | false | null | undefined;
    const peer = await tlsPeer({ key: leaf.keyPem, cert: leaf.certPem + pki.intermediate.certPem }, (sock, n) => {
      sni = sock.servername;
      echoUpper(sock, n);
    });
    peers.push(peer);
    const r = await runOnce(['connect', `127.0.0.1:${peer.port}`, '--ca', pki.caFile, '--servername', 'bücher.example'], 'x');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(sni, 'xn--bcher-kva.example');
    assert.equal(r.events.find((e) => e.name === 'verified')!.fields.identity, 'dns:xn--bcher-kva.example');
  });

  test('SRV-ID and URI-ID: matched when asked for, and the control channel says which', async () => {
    const p = await serve(pki.srv.issued.keyPem, pki.srv.chainPem);
    const base = ['connect', `127.0.0.1:${p.port}`, '--ca', pki.caFile, '--servername', 'localhost'];
    const plain = await runOnce(base, 'x');
    assert.equal(plain.status, codes['name-mismatch'].exit, 'no DNS-ID in this certificate');
    const srv = await runOnce([...base, '--srv-id', '_xmpp-client.localhost'], 'x');
    assert.equal(srv.status, 0, srv.stderr);
    assert.equal(srv.events.find((e) => e.name === 'verified')!.fields.identity, 'srv:_xmpp-client.localhost');
    const uri = await runOnce([...base, '--uri-id', 'sip:localhost'], 'x');
    assert.equal(uri.status, 0, uri.stderr);
    assert.equal(uri.events.find((e) => e.name === 'verified')!.fields.identity, 'uri:sip:localhost');
    const otherScheme = await runOnce([...base, '--uri-id', 'sips://localhost'], 'x');
    assert.equal(otherScheme.status, codes['name-mismatch'].exit, 'the scheme is part of a URI-ID');
    const wrongService = await runOnce([...base, '--srv-id', '_imaps.localhost'], 'x');
    assert.equal(wrongService.status, codes['name-mismatch'].exit);
  });
});

describe('issuer rules', () => {
  test('a CA:FALSE certificate used as an issuer, a pathLen exceeded, a SHA-1 intermediate: untrusted', async () => {
    const notCa = await issue({ subject: 'CN=not a CA', issuer: pki.root, dns: ['x.example'] });
    const underNotCa = await issue({ subject: 'CN=localhost', issuer: notCa, dns: ['localhost'] });
    const sub = await issue({ subject: 'CN=sub of pathlen 0', ca: true, issuer: pki.intermediate });
    const underSub = await issue({ subject: 'CN=localhost', issuer: sub, dns: ['localhost'] });
    const sha1Int = await issue({ subject: 'CN=sha1 int', ca: true, issuer: pki.rsaRoot, key: 'rsa2048', hash: 'SHA-1' });
    const underSha1 = await issue({ subject: 'CN=localhost', issuer: sha1Int, dns: ['localhost'] });
    const cases: [Issued[], RegExp][] = [
      [[underNotCa, notCa], /is not a CA/],
      [[underSub, sub, pki.intermediate], /allows 0 intermediate certificates below it/],
      [[underSha1, sha1Int], /signed with SHA1/],
    ];
    for (const [i, [chain, message]] of cases.entries()) {
      const p = await serve(chain[0]!.keyPem, chain, { ciphers: 'DEFAULT@SECLEVEL=0' });
      const r = await connect(p.port, '--ca', pki.caFile);
      assert.equal(r.status, codes.untrusted.exit, chain[0]!.subject);
      // node:tls drops a sent certificate that cannot issue (facts §5.2), so the reason is
      // checked offline, where tlsify sees the whole chain.
      const file = path.join(dir, `issuer-rule-${i}.pem`);
      fs.writeFileSync(file, chain.map((c) => c.certPem).join(''));
      const v = spawnSync(TLSIFY, ['verify', '--chain', file, '--host', 'localhost', '--ca', pki.caFile], { encoding: 'utf8' });
      assert.equal(v.status, codes.untrusted.exit, v.stdout);
      assert.match(decodeURIComponent(v.stdout), message);
    }
  });
});

describe('pins', () => {
  test('a pin on the leaf, the intermediate or the root matches; the depth is reported', async () => {
    const p = await good();
    for (const [issued, depth] of [[pki.good.issued, 0], [pki.intermediate, 1], [pki.root, 2]] as const) {
      const r = await connect(p.port, '--ca', pki.caFile, '--pin', issued.spkiPin, '--pin', 'sha256//' + Buffer.alloc(32, depth).toString('base64'));
      assert.equal(r.status, 0, r.stderr);
      const pins = r.events.find((e) => e.name === 'pins')!.fields;
      assert.equal(pins.result, 'match');
      assert.match(pins.matched!, new RegExp(`@${depth}$`));
    }
  });

  test('the three pin forms and ;-lists are accepted', async () => {
    const p = await good();
    const b64 = pki.good.issued.spkiPin.slice('sha256/'.length);
    for (const form of [`sha256//${b64}`, `sha256/${b64}`, `pin-sha256="${b64}"`, `sha256//${'A'.repeat(43)}=; sha256//${b64}`]) {
      const r = await connect(p.port, '--ca', pki.caFile, '--pin', form);
      assert.equal(r.status, 0, `${form}: ${r.stderr}`);
    }
  });

  test('no pin matches: pin-mismatch, nothing relayed; one pin only warns about the backup', async () => {
    const p = await good();
    const r = await connect(p.port, '--ca', pki.caFile, '--pin', pki.untrustedRoot.spkiPin);
    assert.equal(r.status, codes['pin-mismatch'].exit);
    assert.equal(r.stdout.length, 0);
    assert.equal(r.events.find((e) => e.name === 'warning')!.fields.code, 'no-backup-pin');
  });

  test('a pin that matches only a certificate sent off the path is rejected', async () => {
    // The server also sends the untrusted root, which is not on the validated path.
    const p = await serve(pki.good.issued.keyPem, pki.good.chainPem + pki.untrustedRoot.certPem);
    const r = await connect(p.port, '--ca', pki.caFile, '--pin', pki.untrustedRoot.spkiPin, '--pin', 'sha256//' + Buffer.alloc(32).toString('base64'));
    assert.equal(r.status, codes['pin-mismatch'].exit);
  });

  test('--pin-report-only reports the mismatch and lets data flow', async () => {
    const p = await good();
    const r = await connect(p.port, '--ca', pki.caFile, '--pin', pki.untrustedRoot.spkiPin, '--pin-report-only');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'PING\n');
    assert.equal(r.events.find((e) => e.name === 'pins')!.fields.result, 'mismatch');
  });

  test('--pin-only: a self-signed server authenticated by its key alone', async () => {
    const self = await issue({ subject: 'CN=private box', dns: ['box.internal'] });
    const p = await serve(self.keyPem, [self]);
    const ok = await connect(p.port, '--pin-only', '--pin', self.spkiPin);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.events.find((e) => e.name === 'verified')!.fields.by, 'pin-only');
    const bad = await connect(p.port, '--pin-only', '--pin', pki.root.spkiPin);
    assert.equal(bad.status, codes['pin-mismatch'].exit);
    const noPin = await connect(p.port);
    assert.equal(noPin.status, codes.untrusted.exit);
  });
});

describe('--hold: the parent decides', () => {
  for (const [answer, status] of [['accept', 0], ['reject reason=unknown%20key', codes.rejected.exit]] as const) {
    test(`${answer.split(' ')[0]}`, async () => {
      const p = await good();
      const run = runTlsify(['connect', `127.0.0.1:${p.port}`, '--servername', 'localhost', '--ca', pki.caFile, '--hold']);
      run.stdin.end('held\n');
      await run.waitFor('hold');
      assert.ok(!run.events.some((e) => e.name === 'ready'));
      run.command(answer);
      const r = await run.done;
      assert.equal(r.status, status, r.stderr);
      assert.equal(r.stdout.toString(), status === 0 ? 'HELD\n' : '');
      if (status !== 0) assert.match(last(r).message!, /rejected the peer: unknown key/);
    });
  }

  test('no answer in time: rejected', async () => {
    const p = await good();
    const run = runTlsify(['connect', `127.0.0.1:${p.port}`, '--servername', 'localhost', '--ca', pki.caFile, '--hold', '--hold-timeout', '0.3']);
    run.stdin.end('x');
    const r = await run.done;
    assert.equal(r.status, codes.rejected.exit);
    assert.equal(r.stdout.length, 0);
  });
});

describe('tlsify verify gives the verdict of connect', () => {
  const cases = ['good', 'wrongName', 'expired', 'untrusted', 'cnOnly'] as const;
  for (const name of cases) {
    test(name, async () => {
      const p = await serve(pki[name].issued.keyPem, pki[name].chainPem);
      const live = await connect(p.port, '--ca', pki.caFile);
      const offline = spawnSync(TLSIFY, ['verify', '--chain', pki[name].chainFile, '--host', 'localhost', '--ca', pki.caFile], { encoding: 'utf8' });
      assert.equal(offline.status, live.status, offline.stdout);
      const end = offline.stdout.trim().split('\n').at(-1)!;
      assert.match(end, new RegExp(`^end code=${last(live).code} `));
    });
  }

  test('--at: the good chain fails two years from now; the not-yet-valid one passes in two days', () => {
    const later = new Date(Date.now() + 2 * 365 * 86400_000).toISOString();
    const r = spawnSync(TLSIFY, ['verify', '--chain', pki.good.chainFile, '--host', 'localhost', '--ca', pki.caFile, '--at', later], { encoding: 'utf8' });
    assert.equal(r.status, codes.expired.exit, r.stdout);
    const soon = new Date(Date.now() + 2 * 86400_000).toISOString();
    const e = spawnSync(TLSIFY, ['verify', '--chain', pki.notYetValid.chainFile, '--host', 'localhost', '--ca', pki.caFile, '--at', soon], { encoding: 'utf8' });
    assert.equal(e.status, 0, e.stdout);
    const now = spawnSync(TLSIFY, ['verify', '--chain', pki.notYetValid.chainFile, '--host', 'localhost', '--ca', pki.caFile], { encoding: 'utf8' });
    assert.equal(now.status, codes.expired.exit, now.stdout);
  });
});

describe('more rows of the trust table', () => {
  test('a not-yet-valid intermediate: expired code, naming depth 1', async () => {
    const later = await issue({ subject: 'CN=future int', ca: true, issuer: pki.root, notBefore: new Date(Date.now() + 86400_000), notAfter: new Date(Date.now() + 30 * 86400_000) });
    const leaf = await issue({ subject: 'CN=localhost', issuer: later, dns: ['localhost'] });
    const p = await serve(leaf.keyPem, [leaf, later]);
    const r = await connect(p.port, '--ca', pki.caFile);
    assert.equal(r.status, codes.expired.exit, r.stderr);
    assert.match(last(r).message!, /depth 1 .* is not valid before/);
  });

  test('a pin on an expired same-named intermediate that is not on the path: pin-mismatch', async () => {
    const DAY = 86400_000;
    const g = await issue({ subject: 'CN=Shared Int', ca: true, issuer: pki.root, notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY) });
    const e = await issue({ subject: 'CN=Shared Int', ca: true, issuer: pki.root });
    const leaf = await issue({ subject: 'CN=localhost', issuer: e, dns: ['localhost'], skipAki: true });
    const p = await serve(leaf.keyPem, [leaf, e, g]);
    const onDecoy = await connect(p.port, '--ca', pki.caFile, '--pin', g.spkiPin, '--pin', pki.untrustedRoot.spkiPin);
    assert.equal(onDecoy.status, codes['pin-mismatch'].exit, onDecoy.stderr);
    const onReal = await connect(p.port, '--ca', pki.caFile, '--pin', e.spkiPin, '--pin', pki.untrustedRoot.spkiPin);
    assert.equal(onReal.status, 0, onReal.stderr);
  });
});

describe('tlsify pin', () => {
  test('prints the base64 of the openssl pipeline from the HPKP how-tos', () => {
    const viaOpenssl = spawnSync('sh', ['-c', `openssl x509 -pubkey -noout -in ${pki.good.certFile} | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`], { encoding: 'utf8' }).stdout.trim();
    const r = spawnSync(TLSIFY, ['pin', pki.good.certFile], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `sha256//${viaOpenssl} pin-sha256="${viaOpenssl}" CN=localhost\n`);
  });

  test('--connect prints the validated path by depth', async () => {
    const p = await good();
    // Not spawnSync: the peer lives in this process and must keep answering.
    const r = await runOnce(['pin', '--connect', `127.0.0.1:${p.port}`, '--ca', pki.caFile, '--servername', 'localhost']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.toString().trim().split('\n');
    assert.deepEqual(lines.map((l) => l.split(' ').slice(0, 2).join(' ')), ['depth=0 leaf', 'depth=1 intermediate', 'depth=2 anchor']);
    assert.ok(lines[0]!.includes(`sha256//${pki.good.issued.spkiPin.slice(7)}`));
  });

  test('--connect to an untrusted server prints nothing and exits with its code', async () => {
    const p = await serve(pki.untrusted.issued.keyPem, pki.untrusted.chainPem);
    const r = await runOnce(['pin', '--connect', `127.0.0.1:${p.port}`, '--ca', pki.caFile, '--servername', 'localhost']);
    assert.equal(r.status, codes.untrusted.exit);
    assert.equal(r.stdout.length, 0);
  });
});
