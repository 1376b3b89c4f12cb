// test/e2e/identity.test.ts: client certificates against real peers that ask for them:
// `openssl s_server -Verify 1 -CAfile` and node:tls with requestCert + rejectUnauthorized.
// Accepted, refused (a client CA the server does not trust), the passphrase from env/fd/file,
// a passphrase on argv refused, and what the handshake line says about the certificate.
//
// PENDING INTEGRATION (issue 5): these run once `tlsify connect --help` lists --cert; until the
// flags are wired into config.ts/connect.ts they are skipped, not failed.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { codes } from '../../src/codes.ts';
import { helpTexts } from '../../src/help.ts';
import { issue, type Issued } from '../../src/pki/generate.ts';
import { fixturePki, serverOptions, type FixturePki } from '../helpers/pki.ts';
import { freePort, runOnce, runTlsify, tlsPeer, type Peer } from '../helpers/tlsify.ts';

const pending = /--cert\b/.test(helpTexts.connect) ? false : 'pending integration (issue 5): tlsify connect has no --cert yet';

let pki: FixturePki;
let dir: string;
let env: NodeJS.ProcessEnv;
let strangerClient: Issued; // clientAuth, issued by the untrusted root
let rsaClient: Issued; // clientAuth, RSA, under the RSA root (trusted)
const peers: Peer[] = [];
const servers: ChildProcess[] = [];

before(async () => {
  pki = await fixturePki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-e2e-identity-'));
  // A private state directory: the default pin store must not be the developer's own.
  env = { ...process.env, XDG_STATE_HOME: path.join(dir, 'state') };
  [strangerClient, rsaClient] = await Promise.all([
    issue({ subject: 'CN=stranger', issuer: pki.untrustedRoot, eku: ['clientAuth'] }),
    issue({ subject: 'CN=rsa client', key: 'rsa2048', issuer: pki.rsaRoot, eku: ['clientAuth'] }),
  ]);
});
after(async () => {
  for (const s of servers) s.kill();
  await Promise.all(peers.map((p) => p.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(name: string, content: string | Buffer, mode = 0o600): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  fs.chmodSync(p, mode);
  return p;
}
const fingerprint = (der: Buffer) => 'sha256:' + createHash('sha256').update(der).digest('hex');
const client = () => pki.clientOnly;
const base = (port: number) => ['connect', `127.0.0.1:${port}`, '--ca', pki.caFile, '--servername', 'localhost'];
const event = (r: { events: { name: string; fields: Record<string, string> }[] }, name: string) => r.events.find((e) => e.name === name)?.fields;

/** A node:tls server that requires a client certificate from `ca`; records the fingerprint it saw. */
async function mtlsPeer(ca: string, extra: tls.TlsOptions = {}): Promise<Peer & { seen: string[] }> {
  const seen: string[] = [];
  const p = await tlsPeer({ ...serverOptions(pki.good), ca: fs.readFileSync(ca), requestCert: true, rejectUnauthorized: true, ...extra }, (socket) => {
    const raw = socket.getPeerCertificate().raw;
    seen.push(raw ? fingerprint(raw) : 'none');
    socket.on('data', (c: Buffer) => socket.write(c.toString().toUpperCase()));
    socket.on('end', () => socket.end());
  });
  peers.push(p);
  return Object.assign(p, { seen });
}

/** `openssl s_server -Verify 1 -CAfile CA` (reverses each line), ready once it prints ACCEPT. */
async function sServer(ca: string, extra: string[] = []): Promise<{ port: number; output: () => string }> {
  const port = await freePort();
  const server = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-rev', '-cert', pki.good.certFile, '-key', pki.good.keyFile, '-cert_chain', pki.intermediateFile, '-Verify', '1', '-CAfile', ca, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(server);
  let seen = '';
  server.stdout!.on('data', (c: Buffer) => (seen += c));
  server.stderr!.on('data', (c: Buffer) => (seen += c));
  await new Promise<void>((resolve, reject) => {
    const check = setInterval(() => seen.includes('ACCEPT') && (clearInterval(check), resolve()), 20);
    server.once('exit', () => (clearInterval(check), reject(new Error(`openssl s_server exited early: ${seen}`))));
  });
  return { port, output: () => seen };
}

/** Send a line, wait for the reply, then close: s_server -rev answers each line. */
async function exchange(args: string[], runEnv = env, extraFds?: unknown[]) {
  const run = runTlsify(args, { env: runEnv, ...(extraFds ? { extraFds: extraFds as never } : {}) });
  run.stdin.write('hello\n');
  await Promise.race([new Promise((r) => run.child.stdout!.once('data', r)), run.done]);
  run.command('close');
  return run.done;
}

describe('client certificate accepted', { skip: pending }, () => {
  for (const version of ['-tls1_3', '-tls1_2']) {
    test(`openssl s_server -Verify 1 ${version}: the chain is sent, the server verifies it`, async () => {
      const s = await sServer(pki.caFile, [version]);
      const r = await exchange([...base(s.port), '--cert', client().chainFile, '--key', client().keyFile]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.toString(), 'olleh\n');
      const hs = event(r, 'handshake')!;
      assert.equal(hs['client-cert'], 'sent');
      assert.equal(hs['client-id'], fingerprint(client().issued.der));
      assert.equal(event(r, 'identity')!.fingerprint, fingerprint(client().issued.der));
      assert.match(s.output(), /verify return:1/);
    });
  }

  test('node:tls requestCert + rejectUnauthorized: the server saw the certificate tlsify reported', async () => {
    const p = await mtlsPeer(pki.caFile);
    const r = await runOnce([...base(p.port), '--cert', client().chainFile, '--key', client().keyFile], 'ping\n', { env });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'PING\n');
    assert.deepEqual(p.seen, [event(r, 'handshake')!['client-id']]);
  });

  test('RSA and ECDSA identities: OpenSSL picks one, and the control line names the one the server saw', async () => {
    const p = await mtlsPeer(pki.caFile);
    const r = await runOnce([...base(p.port), '--cert', write('rsa.pem', rsaClient.certPem), '--key', write('rsa.key', rsaClient.keyPem), '--cert', client().chainFile, '--key', client().keyFile], 'ping\n', { env });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.events.filter((e) => e.name === 'identity').length, 2);
    assert.equal(event(r, 'handshake')!['client-cert'], 'sent');
    assert.deepEqual(p.seen, [event(r, 'handshake')!['client-id']]);
  });

  test('PKCS#12 with its passphrase from the environment', async () => {
    const p12 = path.join(dir, 'client.p12');
    const made = spawnSync('openssl', ['pkcs12', '-export', '-in', client().certFile, '-inkey', client().keyFile, '-certfile', pki.intermediateFile, '-passout', 'pass:bundle pass', '-out', p12]);
    assert.equal(made.status, 0, made.stderr.toString());
    fs.chmodSync(p12, 0o600);
    const p = await mtlsPeer(pki.caFile);
    const r = await runOnce([...base(p.port), '--pkcs12', p12, '--pass', 'env:P12PASS'], 'ping\n', { env: { ...env, P12PASS: 'bundle pass' } });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(p.seen, [fingerprint(client().issued.der)]);
  });

  test('a server that does not ask: not-asked, nothing sent', async () => {
    const p = await tlsPeer(serverOptions(pki.good), (s) => {
      s.on('data', (c: Buffer) => s.write(c));
      s.on('end', () => s.end());
    });
    peers.push(p);
    const r = await runOnce([...base(p.port), '--cert', client().chainFile, '--key', client().keyFile], 'x', { env });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(event(r, 'handshake')!['client-cert'], 'not-asked');
    assert.equal(event(r, 'handshake')!['client-id'], undefined);
  });
});

describe('client certificate refused', { skip: pending }, () => {
  test('openssl s_server -verify_return_error: a client CA it does not trust ends the session with its alert (code tls)', async () => {
    // Without -verify_return_error, s_server logs the verify error and carries on.
    const s = await sServer(pki.caFile, ['-verify_return_error']);
    const r = await runOnce([...base(s.port), '--cert', write('stranger.pem', strangerClient.certPem), '--key', write('stranger.key', strangerClient.keyPem)], 'hello\n', { env });
    assert.equal(r.status, codes.tls.exit, r.stderr);
    assert.equal(r.stdout.length, 0, 'nothing came back');
    assert.match(r.events.at(-1)!.fields.message!, /alert/i);
    assert.match(s.output(), /unable to get local issuer certificate/i);
  });

  test('node:tls rejectUnauthorized: the server drops TCP without an alert, which tlsify reports as truncated', async () => {
    // node:tls checks the client certificate after its handshake and destroys the socket
    // (lib/_tls_wrap.js onServerSocketSecure): no alert, no close_notify.
    const p = await mtlsPeer(pki.caFile);
    const r = await runOnce([...base(p.port), '--cert', write('stranger2.pem', strangerClient.certPem), '--key', write('stranger2.key', strangerClient.keyPem)], 'ping\n', { env });
    assert.equal(r.status, codes.truncated.exit, r.stderr);
    assert.equal(r.stdout.length, 0, 'nothing came back');
    assert.deepEqual(p.seen, [], 'the server never accepted it');
  });

  test('no identity at all: none-configured, then the server refuses', async () => {
    const p = await mtlsPeer(pki.caFile, { maxVersion: 'TLSv1.3' });
    const r = await runOnce(base(p.port), 'ping\n', { env });
    assert.equal(r.status, codes.tls.exit, r.stderr);
    const hs = event(r, 'handshake');
    // TLS 1.3: the client finishes first and learns of the refusal from an alert afterwards.
    if (hs) assert.equal(hs['client-cert'], 'none-configured');
  });
});

describe('the passphrase', { skip: pending }, () => {
  let encKey: string;
  before(() => {
    const pem = createPrivateKey(client().issued.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'open sesame' });
    encKey = write('enc.key', pem);
  });
  const args = (p: Peer, pass: string) => [...base(p.port), '--cert', client().chainFile, '--key', encKey, '--pass', pass];

  test('from the environment', async () => {
    const p = await mtlsPeer(pki.caFile);
    const r = await runOnce(args(p, 'env:KEY_PASS'), 'x', { env: { ...env, KEY_PASS: 'open sesame' } });
    assert.equal(r.status, 0, r.stderr);
  });

  test('from a file only its owner can read (trailing newline stripped)', async () => {
    const p = await mtlsPeer(pki.caFile);
    const r = await runOnce(args(p, `file:${write('pass.txt', 'open sesame\n')}`), 'x', { env });
    assert.equal(r.status, 0, r.stderr);
  });

  test('from an inherited pipe (fd 4), which tlsify reads to EOF', async () => {
    const p = await mtlsPeer(pki.caFile);
    const run = runTlsify(args(p, 'fd:4'), { env, extraFds: ['pipe'] });
    (run.child.stdio[4] as Writable).end('open sesame\n');
    run.stdin.end('x');
    const r = await run.done;
    assert.equal(r.status, 0, r.stderr);
  });

  test('a file other users can read is refused before dialling', async () => {
    const p = await mtlsPeer(pki.caFile);
    const r = await runOnce(args(p, `file:${write('open.txt', 'open sesame\n', 0o644)}`), 'x', { env });
    assert.equal(r.status, codes.config.exit);
    assert.match(r.stderr, /expected a file other users cannot read, got mode 0644/);
    assert.equal(event(r, 'connected'), undefined);
  });

  test('the wrong passphrase is a config error before dialling', async () => {
    const p = await mtlsPeer(pki.caFile);
    const r = await runOnce(args(p, 'env:KEY_PASS'), 'x', { env: { ...env, KEY_PASS: 'wrong' } });
    assert.equal(r.status, codes.config.exit);
    assert.match(r.stderr, /the passphrase does not decrypt the key/);
    assert.equal(event(r, 'connected'), undefined);
  });

  test('on argv: refused with the reason, and the value is not echoed', async () => {
    const r = await runOnce(['connect', '127.0.0.1:1', '--ca', pki.caFile, '--cert', client().chainFile, '--key', encKey, '--pass', 'open sesame'], '', { env });
    assert.equal(r.status, codes.usage.exit);
    assert.match(r.stderr, /--pass: expected env:VAR, fd:N or file:PATH/);
    assert.match(r.stderr, /ps, \/proc/);
    assert.ok(!r.stderr.includes('open sesame'), 'the passphrase was echoed');
  });
});

