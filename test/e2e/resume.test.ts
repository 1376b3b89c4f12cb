// test/e2e/resume.test.ts: opt-in session resumption against real servers (node:tls, and
// `openssl s_server` with TLS 1.2 only and with TLS 1.3), --resume caller and file:PATH; blobs
// refused under another client identity, SNI or pin set; a resumed session whose stored path no
// longer passes (re-pinned away, anchor removed) rejected before any plaintext; nothing kept
// with --resume off; and the key log (--keylog, SSLKEYLOGFILE) checked against the server's.
//
// PENDING INTEGRATION (issue 5): these run once `tlsify connect --help` lists --resume; until
// the flags are wired into config.ts/connect.ts they are skipped, not failed.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { codes } from '../../src/codes.ts';
import { parseArgs, type ConnectConfig } from '../../src/config.ts';
import { helpTexts } from '../../src/help.ts';
import { isKeylogLine } from '../../src/tls/keylog.ts';
import { bindingFor } from '../../src/tls/session-binding.ts';
import { decodeBlob, encodeBlob } from '../../src/tls/session-blob.ts';
import { fixturePki, serverOptions, type FixturePki } from '../helpers/pki.ts';
import { runOnce, runTlsify, tlsPeer, type ControlLine, type Peer } from '../helpers/tlsify.ts';

const pending = /--resume\b/.test(helpTexts.connect) ? false : 'pending integration (issue 5): tlsify connect has no --resume yet';

let pki: FixturePki;
let dir: string;
let env: NodeJS.ProcessEnv;
const peers: Peer[] = [];
const servers: ChildProcess[] = [];
before(async () => {
  pki = await fixturePki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-e2e-resume-'));
  // A private state directory: the default pin store must not be the developer's own.
  env = { ...process.env, XDG_STATE_HOME: path.join(dir, 'state') };
  delete env.SSLKEYLOGFILE;
});
after(async () => {
  for (const s of servers) s.kill();
  await Promise.all(peers.map((p) => p.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

type Result = Awaited<ReturnType<typeof runOnce>>;
const event = (r: Result, name: string) => r.events.find((e) => e.name === name)?.fields;
const events = (r: Result, name: string) => r.events.filter((e) => e.name === name).map((e) => e.fields);
const blobs = (r: Result) => events(r, 'session').flatMap((f) => (f.blob ? [f.blob] : []));
const resumed = (r: Result) => event(r, 'handshake')?.resumed;
let files = 0;
const fresh = (name: string) => path.join(dir, `${name}-${++files}`);

/** node:tls, TLS 1.3 unless told otherwise; upper-cases what it gets, ends when the client ends. */
async function nodePeer(extra: tls.TlsOptions = {}): Promise<Peer> {
  const p = await tlsPeer({ ...serverOptions(pki.good), ...extra }, (s) => {
    s.on('data', (c: Buffer) => s.write(c.toString().toUpperCase()));
    s.on('end', () => s.end());
  });
  peers.push(p);
  return p;
}

/** `openssl s_server -rev` serving connection after connection, with its session cache and tickets. */
async function sServer(version: '-tls1_2' | '-tls1_3'): Promise<number> {
  const port = await freePort();
  const server = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-rev', version, '-cert', pki.good.certFile, '-key', pki.good.keyFile, '-cert_chain', pki.intermediateFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(server);
  let seen = '';
  server.stdout!.on('data', (c: Buffer) => (seen += c));
  await new Promise<void>((resolve, reject) => {
    const check = setInterval(() => seen.includes('ACCEPT') && (clearInterval(check), resolve()), 20);
    server.once('exit', () => (clearInterval(check), reject(new Error(`openssl s_server exited early: ${seen}`))));
  });
  return port;
}

const base = (port: number, ...more: string[]) => ['connect', `127.0.0.1:${port}`, '--ca', pki.caFile, '--servername', 'localhost', ...more];

/** One line each way, then close: works with both servers (s_server -rev answers per line). */
async function exchange(args: string[], runEnv: NodeJS.ProcessEnv = env): Promise<Result> {
  const run = runTlsify(args, { env: runEnv });
  run.stdin.write('hello\n');
  await Promise.race([new Promise((r) => run.child.stdout!.once('data', r)), run.done]);
  await new Promise((r) => setTimeout(r, 50)); // TLS 1.3 tickets come after the handshake
  run.command('close');
  return run.done;
}

/** A first run in caller mode; returns its newest blob. */
async function firstBlob(args: string[], runEnv: NodeJS.ProcessEnv = env): Promise<{ r: Result; blob: string }> {
  const r = await exchange([...args, '--resume', 'caller'], runEnv);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(resumed(r), 'no');
  const all = blobs(r);
  assert.ok(all.length > 0, `no session blob: ${r.events.map((e) => e.raw).join('\n')}`);
  return { r, blob: all.at(-1)! };
}

const withBlob = (args: string[], blob: string) => exchange([...args, '--resume', 'caller', '--resume-from', 'env:TLSIFY_SESSION'], { ...env, TLSIFY_SESSION: blob });

describe('--resume caller', { skip: pending }, () => {
  for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
    test(`node:tls ${maxVersion}: the second connection resumes, and its stored path is verified again`, async () => {
      const p = await nodePeer({ maxVersion });
      const { r, blob } = await firstBlob(base(p.port));
      assert.equal(event(r, 'resume')!.result, 'none');
      assert.equal(event(r, 'warning')!.code, 'resumption-linkable');
      if (maxVersion === 'TLSv1.3') assert.equal(blobs(r).length, 2, 'one blob per NewSessionTicket (node:tls sends two)');
      const names = r.events.map((e) => e.name);
      assert.ok(names.indexOf('session') > names.indexOf('verified'), 'tickets only after the verdict');

      const second = await withBlob(base(p.port), blob);
      assert.equal(second.status, 0, second.stderr);
      assert.equal(event(second, 'resume')!.result, 'offered');
      assert.equal(resumed(second), 'yes');
      assert.equal(event(second, 'handshake')!['client-cert'], 'resumed');
      assert.equal(event(second, 'verified')!.by, 'ca');
      assert.deepEqual(events(second, 'cert').map((c) => c.role), ['leaf', 'intermediate', 'anchor']);
      assert.equal(second.stdout.toString(), 'HELLO\n');
    });
  }

  test('the blob may come on an inherited fd or from a 0600 file too', async () => {
    const p = await nodePeer();
    const { blob } = await firstBlob(base(p.port));
    const run = runTlsify([...base(p.port), '--resume', 'caller', '--resume-from', 'fd:4'], { env, extraFds: ['pipe'] });
    (run.child.stdio[4] as Writable).end(blob + '\n');
    run.stdin.end('x');
    const viaFd = await run.done;
    assert.equal(resumed(viaFd), 'yes', viaFd.stderr);
    const file = fresh('blob');
    fs.writeFileSync(file, blob, { mode: 0o600 });
    const viaFile = await exchange([...base(p.port), '--resume', 'caller', '--resume-from', `file:${file}`]);
    assert.equal(resumed(viaFile), 'yes', viaFile.stderr);
  });

  test('a broken blob is reported and skipped: a full handshake, not a failure', async () => {
    const p = await nodePeer();
    const r = await withBlob(base(p.port), 'not-a-blob');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(event(r, 'resume')!.reason, 'malformed');
    assert.equal(resumed(r), 'no');
  });
});

describe('--resume file:PATH', { skip: pending }, () => {
  for (const version of ['-tls1_2', '-tls1_3'] as const) {
    test(`openssl s_server ${version}: the second run resumes from the 0600 store; no blob on the channel`, async () => {
      const port = await sServer(version);
      const store = fresh('sessions');
      const args = base(port, '--resume', `file:${store}`);
      const first = await exchange(args);
      assert.equal(first.status, 0, first.stderr);
      assert.equal(resumed(first), 'no');
      assert.equal(fs.statSync(store).mode & 0o777, 0o600);
      assert.deepEqual(blobs(first), [], 'file mode keeps blobs off the control channel');
      assert.equal(events(first, 'session')[0]!.stored, store);
      const second = await exchange(args);
      assert.equal(second.status, 0, second.stderr);
      assert.equal(resumed(second), 'yes');
      assert.equal(second.stdout.toString(), 'olleh\n');
    });
  }
});

describe('a blob under another binding is not used', { skip: pending }, () => {
  test('another client identity (the server itself would resume it)', async () => {
    const p = await nodePeer({ requestCert: true, rejectUnauthorized: false, ca: fs.readFileSync(pki.caFile) });
    const withId = base(p.port, '--cert', pki.clientOnly.chainFile, '--key', pki.clientOnly.keyFile);
    const { blob } = await firstBlob(withId);
    const r = await withBlob(base(p.port), blob);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual([event(r, 'resume')!.result, event(r, 'resume')!.reason, event(r, 'resume')!.differs], ['skipped', 'binding', 'identity']);
    assert.equal(resumed(r), 'no');
  });

  test('another SNI (an IP identity sends none)', async () => {
    const p = await nodePeer();
    const { blob } = await firstBlob(base(p.port));
    const r = await withBlob(['connect', `127.0.0.1:${p.port}`, '--ca', pki.caFile], blob);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(event(r, 'resume')!.differs, 'sni,references');
    assert.equal(resumed(r), 'no');
  });

  test('another pin set, even one the server still matches', async () => {
    const p = await nodePeer();
    const backup = `sha256/${Buffer.alloc(32, 7).toString('base64')}`;
    const { blob } = await firstBlob(base(p.port, '--pin', pki.good.issued.spkiPin));
    const r = await withBlob(base(p.port, '--pin', pki.good.issued.spkiPin, '--pin', backup), blob);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(event(r, 'resume')!.differs, 'pins');
    assert.equal(resumed(r), 'no');
  });
});

describe('a resumed session whose stored path no longer passes', { skip: pending }, () => {
  const elsewhere = `sha256/${Buffer.alloc(32, 9).toString('base64')}`;

  test('re-pinned away in the pin store: resumed, then rejected with pin-mismatch before any plaintext', async () => {
    const p = await nodePeer();
    const store = fresh('pins');
    const entry = (pin: string) => `tlsify-pin-store 1\nlocalhost:${p.port} source=static pins=${pin} first-seen=2026-01-01T00:00:00Z\n`;
    fs.writeFileSync(store, entry(pki.good.issued.spkiPin), { mode: 0o600 });
    const args = base(p.port, '--pin-store', store);
    const { blob } = await firstBlob(args);
    fs.writeFileSync(store, entry(elsewhere), { mode: 0o600 });
    const r = await withBlob(args, blob);
    assert.equal(event(r, 'resume')!.result, 'offered', 'same flags, same binding');
    assert.equal(resumed(r), 'yes');
    assert.equal(r.status, codes['pin-mismatch'].exit, r.stderr);
    assert.equal(event(r, 'ready'), undefined);
    assert.equal(r.stdout.length, 0);
  });

  test('re-pinned away on the command line: the blob is not even offered, and the full handshake fails the pins', async () => {
    const p = await nodePeer();
    const { blob } = await firstBlob(base(p.port, '--pin', pki.good.issued.spkiPin));
    const r = await withBlob(base(p.port, '--pin', elsewhere), blob);
    assert.equal(event(r, 'resume')!.differs, 'pins');
    assert.equal(resumed(r), 'no');
    assert.equal(r.status, codes['pin-mismatch'].exit);
  });

  test('a blob whose binding claims today\'s pins (stale or forged) still fails: the stored path is what is checked', async () => {
    const p = await nodePeer();
    const { blob } = await firstBlob(base(p.port));
    const args = base(p.port, '--pin', elsewhere, '--resume', 'caller', '--resume-from', 'env:TLSIFY_SESSION');
    const restamped = encodeBlob({ ...decodeBlob(blob), binding: bindingFor(connectConfig(args), []) });
    const r = await exchange(args, { ...env, TLSIFY_SESSION: restamped });
    assert.equal(event(r, 'resume')!.result, 'offered');
    assert.equal(resumed(r), 'yes');
    assert.equal(r.status, codes['pin-mismatch'].exit, r.stderr);
    assert.equal(r.stdout.length, 0);
  });

  test('the anchor removed from the CA file: resumed, rejected as untrusted, and the store forgets the entry', async () => {
    const p = await nodePeer();
    const ca = fresh('ca.pem');
    fs.writeFileSync(ca, pki.root.certPem + pki.rsaRoot.certPem);
    const store = fresh('sessions');
    const args = ['connect', `127.0.0.1:${p.port}`, '--ca', ca, '--servername', 'localhost', '--resume', `file:${store}`];
    assert.equal((await exchange(args)).status, 0);
    fs.writeFileSync(ca, pki.rsaRoot.certPem);
    const r = await exchange(args);
    assert.equal(resumed(r), 'yes');
    assert.equal(r.status, codes.untrusted.exit, r.stderr);
    assert.equal(event(r, 'ready'), undefined);
    const third = await exchange(args);
    assert.equal(event(third, 'resume')!.result, 'none', 'the failed entry was dropped');
    assert.equal(resumed(third), 'no');
  });
});

describe('--resume off (the default)', { skip: pending }, () => {
  test('no ticket anywhere: no session event, no resume event, none in the debug log, no store written', async () => {
    const p = await nodePeer();
    const stateBefore = listTree(path.join(dir, 'state'));
    for (const extra of [[], ['--resume', 'off']]) {
      const r = await exchange(base(p.port, '--log-level', 'debug', ...extra));
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(events(r, 'session'), []);
      assert.equal(event(r, 'resume'), undefined);
      assert.ok(!r.events.some((e: ControlLine) => /blob=/.test(e.raw)));
      assert.ok(!/blob|"session"/.test(r.stderr), 'the log mentions a session');
      assert.equal(resumed(r), 'no');
    }
    assert.deepEqual(listTree(path.join(dir, 'state')), stateBefore);
  });
});

describe('key log', { skip: pending }, () => {
  async function keylogPeer(extra: tls.TlsOptions = {}): Promise<{ peer: Peer; lines: string[] }> {
    const lines: string[] = [];
    const peer = await nodePeer(extra);
    peer.server.on('keylog', (line: Buffer) => lines.push(line.toString()));
    return { peer, lines };
  }
  const labels = (lines: string[]) => [...new Set(lines.map((l) => l.split(' ')[0]))].sort();

  test('--keylog FILE: TLS 1.3 labels, 0600, the very secrets the server logged', async () => {
    const { peer, lines } = await keylogPeer();
    const file = fresh('keylog');
    const r = await exchange(base(peer.port, '--keylog', file));
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(event(r, 'keylog'), { path: file, source: '--keylog' });
    const written = fs.readFileSync(file, 'utf8').split(/(?<=\n)/);
    for (const l of written) assert.ok(isKeylogLine(l), l);
    assert.deepEqual(labels(written), ['CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'CLIENT_TRAFFIC_SECRET_0', 'EXPORTER_SECRET', 'SERVER_HANDSHAKE_TRAFFIC_SECRET', 'SERVER_TRAFFIC_SECRET_0']);
    assert.deepEqual([...written].sort(), [...lines].sort());
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.ok(!r.stderr.includes('warning: SSLKEYLOGFILE'), 'no warning for an explicit flag');
  });

  test('TLS 1.2: CLIENT_RANDOM', async () => {
    const { peer } = await keylogPeer({ maxVersion: 'TLSv1.2' });
    const file = fresh('keylog12');
    assert.equal((await exchange(base(peer.port, '--keylog', file))).status, 0);
    assert.deepEqual(labels(fs.readFileSync(file, 'utf8').split(/(?<=\n)/)), ['CLIENT_RANDOM']);
  });

  test('SSLKEYLOGFILE works, but never silently: stderr (even at --log-level silent) and a control event', async () => {
    const { peer } = await keylogPeer();
    const file = fresh('sslkeylogfile');
    const r = await exchange(base(peer.port, '--log-level', 'silent'), { ...env, SSLKEYLOGFILE: file });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: SSLKEYLOGFILE is set: tlsify is writing the TLS secrets of this connection to/);
    assert.equal(event(r, 'warning')!.code, 'keylog-env');
    assert.equal(event(r, 'keylog')!.source, 'SSLKEYLOGFILE');
    assert.ok(fs.readFileSync(file, 'utf8').length > 0);
  });
});

function connectConfig(args: string[]): ConnectConfig {
  const cmd = parseArgs(args, { openFds: undefined });
  assert.equal(cmd.kind, 'connect');
  return (cmd as { config: ConnectConfig }).config;
}

function listTree(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root, { recursive: true }).map(String).sort();
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}
