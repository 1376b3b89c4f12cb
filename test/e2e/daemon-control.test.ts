// e2e/daemon-control.test.ts: what a daemon client can do beyond one request line
// (protocol/daemon.md §3.3, §4.1, §5): a companion `control ID` connection, --hold answered
// in-band, named client identities the client never sees the key of, and the daemon's pin store
// (read once and cached, written only with --pin-writes). Real daemon, real node:tls peers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { fdPass } from '../../src/daemon/fdpass.ts';
import { fixturePki, serverOptions, type FixturePki } from '../helpers/pki.ts';
import { client, daemonHome, last, names, run, runWithInput, startDaemon, stopDaemon, type Client, type Daemon } from '../helpers/daemon.ts';
import { TLSIFY, echoUpper, freePort, parseControl, tcpPeer, tlsPeer, type ControlLine, type Peer } from '../helpers/tlsify.ts';

let pki: FixturePki;
let dir: string;
let env: NodeJS.ProcessEnv;
let good: Peer;
let mtls: Peer;
/** What the mTLS peer saw of each client certificate: its SHA-256 fingerprint, or 'none'. */
const clientCerts: string[] = [];

const stop = stopDaemon;

/** A control connection: every line it gets, and a promise for its end line. */
function controller(sockPath: string, id: string): { c: Client; lines: ControlLine[]; ended: Promise<ControlLine[]> } {
  const c = client(sockPath, `control ${id}\n`);
  const lines: ControlLine[] = [];
  let text = '';
  c.sock.on('data', (b: Buffer) => {
    text += b.toString();
    for (let lf = text.indexOf('\n'); lf >= 0; lf = text.indexOf('\n')) {
      lines.push(parseControl(text.slice(0, lf)));
      text = text.slice(lf + 1);
    }
  });
  const ended = new Promise<ControlLine[]>((r) => c.sock.on('close', () => r(lines)));
  return { c, lines, ended };
}

/** A STARTTLS-like peer: a plaintext greeting, the client's STARTTLS, then TLS on the same socket. */
const starttlsPeer = (): Promise<Peer> =>
  tcpPeer((s) => {
    s.write('220 ready\r\n');
    s.once('data', () => {
      s.write('220 go ahead\r\n');
      const t = new tls.TLSSocket(s, { isServer: true, ...serverOptions(pki.good) });
      t.on('error', () => {});
      echoUpper(t, () => {});
    });
  });

const until = async (lines: readonly ControlLine[], name: string): Promise<ControlLine> => {
  for (let i = 0; i < 200; i++) {
    const l = lines.find((x) => x.name === name);
    if (l) return l;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no ${name} line in ${lines.map((l) => l.name).join(' ')}`);
};

before(async () => {
  pki = await fixturePki();
  ({ dir, env } = daemonHome('tlsdc-', pki.caFile));
  good = await tlsPeer(serverOptions(pki.good), echoUpper);
  mtls = await tlsPeer({ ...serverOptions(pki.good), ca: fs.readFileSync(pki.caFile), requestCert: true, rejectUnauthorized: true }, (socket: tls.TLSSocket, received) => {
    const peer = socket.getPeerCertificate();
    clientCerts.push(peer.raw ? 'sha256:' + createHash('sha256').update(peer.raw).digest('hex') : 'none');
    echoUpper(socket, received);
  });
});

after(async () => {
  await good.close();
  await mtls.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('daemon: control ID and --hold', () => {
  let d: Daemon;
  before(async () => (d = await startDaemon(dir, env, 'ctl')));
  after(() => stop(d));

  test('control ID after data: close sends close_notify; the end line comes on the control connection', async () => {
    const c = client(d.sock, `connect localhost:${good.port} --ca-set @test\nbefore close\n`);
    const id = (await c.lines)[0]!.fields.conn!;
    const ctl = controller(d.sock, id);
    await until(ctl.lines, 'hello');
    await new Promise((r) => setTimeout(r, 50));
    ctl.c.sock.write('close\n');
    const lines = await ctl.ended;
    assert.deepEqual(names(lines), ['hello', 'ok', 'close-sent', 'end']);
    assert.equal(lines[1]!.fields.command, 'close');
    assert.equal(lines[2]!.fields.reason, 'command');
    assert.equal(last(lines).fields.code, 'ok');
    // The data connection got its echo, then EOF: the peer answered close_notify with its own.
    assert.equal((await c.plaintext).toString(), 'BEFORE CLOSE\n');
  });

  test('control ID: commands are checked as on fd 3; abort cuts the connection', async () => {
    const c = client(d.sock, `connect localhost:${good.port} --ca-set @test\n`);
    const id = (await c.lines)[0]!.fields.conn!;
    const ctl = controller(d.sock, id);
    await until(ctl.lines, 'hello');
    ctl.c.sock.write('status\nclose now=yes\nhpkp header=max-age=1\nabort\n');
    const lines = await ctl.ended;
    const errors = lines.filter((l) => l.name === 'error').map((l) => l.fields.code);
    assert.deepEqual(errors, ['unknown-command', 'unknown-field', 'not-allowed']);
    assert.equal(last(lines).fields.code, 'aborted');
    await c.plaintext;
    // The status of the aborted connection says the same.
    const s = client(d.sock, `status ${id}\n`);
    assert.equal(last(await s.lines).fields.code, 'aborted');
  });

  test('control ID: unknown id, a second controller, and a connection that is over', async () => {
    const unknown = client(d.sock, 'control 999999\n');
    assert.equal(last(await unknown.lines).fields.code, 'usage');

    const c = client(d.sock, `connect localhost:${good.port} --ca-set @test\n`);
    const id = (await c.lines)[0]!.fields.conn!;
    const first = controller(d.sock, id);
    await until(first.lines, 'hello');
    await new Promise((r) => setTimeout(r, 50));
    const second = client(d.sock, `control ${id}\n`);
    const refused = last(await second.lines);
    assert.equal(refused.fields.code, 'usage');
    assert.match(refused.fields.message!, /already has a control connection/);
    c.sock.end();
    await c.plaintext;
    assert.equal(last(await first.ended).fields.code, 'ok');
    // Over: a control request is answered like status, with the end line.
    const late = client(d.sock, `control ${id}\n`);
    const answer = last(await late.lines);
    assert.equal(answer.fields.code, 'ok');
    assert.equal(answer.fields.message, 'the peer sent close_notify');
  });

  test('--hold: accept in-band; plaintext right behind accept goes to the peer', async () => {
    const c = client(d.sock, `connect localhost:${good.port} --ca-set @test --hold\n`);
    const held: ControlLine[] = [];
    let buf = '';
    await new Promise<void>((resolve) => {
      const on = (b: Buffer): void => {
        buf += b.toString();
        if (/^hold /m.test(buf)) c.sock.off('data', on), resolve();
      };
      c.sock.on('data', on);
    });
    held.push(...buf.trim().split('\n').map(parseControl));
    assert.equal(last(held).name, 'hold');
    assert.equal(last(held).fields.timeout, '30');
    c.sock.write('accept\nheld then accepted\n');
    const lines = await c.lines;
    assert.deepEqual(names(lines).slice(-3), ['ok', 'ready', 'data']);
    c.sock.end();
    assert.equal((await c.plaintext).toString(), 'HELD THEN ACCEPTED\n');
  });

  test('--hold: reject ends with code=rejected and the peer gets nothing', async () => {
    const before = good.received();
    const c = client(d.sock, `connect localhost:${good.port} --ca-set @test --hold\n`);
    c.sock.on('data', (b: Buffer) => {
      if (/^hold /m.test(b.toString())) c.sock.write('reject reason=not%20today\nsecret\n');
    });
    const end = last(await c.lines);
    assert.equal(end.name, 'end');
    assert.equal(end.fields.code, 'rejected');
    assert.match(end.fields.message!, /not today/);
    await c.plaintext;
    assert.equal(good.received(), before);
  });

  test('--hold --hold-timeout: no answer is a rejection', async () => {
    const c = client(d.sock, `connect localhost:${good.port} --ca-set @test --hold --hold-timeout 0.3\n`);
    const end = last(await c.lines);
    assert.equal(end.fields.code, 'rejected');
    assert.match(end.fields.message!, /within 0.3 s/);
  });
});

describe('daemon: named client identities', () => {
  let d: Daemon;
  const keyPass = 'daemon secret';
  before(async () => {
    const encrypted = createPrivateKey(pki.clientOnly.issued.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: keyPass });
    const keyFile = path.join(dir, 'client.key.pem');
    fs.writeFileSync(keyFile, encrypted, { mode: 0o600 });
    d = await startDaemon(dir, { ...env, CLIENT_PASS: keyPass }, 'ids', ['--identity', `client=${pki.clientOnly.chainFile},${keyFile}`, '--identity-pass', 'client=env:CLIENT_PASS']);
  });
  after(() => stop(d));

  test('--identity NAME: the peer gets the certificate; the client sees its fingerprint, never the key', async () => {
    const c = client(d.sock, `connect localhost:${mtls.port} --ca-set @test --identity client\nwith id\n`);
    const lines = await c.lines;
    c.sock.end();
    const plain = (await c.plaintext).toString();
    assert.equal(plain, 'WITH ID\n');
    const fp = 'sha256:' + createHash('sha256').update(pki.clientOnly.issued.der).digest('hex');
    assert.equal(lines.find((l) => l.name === 'identity')?.fields.fingerprint, fp);
    assert.equal(lines.find((l) => l.name === 'handshake')?.fields['client-cert'], 'sent');
    assert.equal(clientCerts.at(-1), fp);
    const everything = lines.map((l) => JSON.stringify(l.fields)).join('\n');
    assert.ok(!/PRIVATE KEY|daemon secret/.test(everything + plain), 'no key material or passphrase reaches the client');
  });

  test('without --identity the same peer refuses the handshake; an unknown name is a usage error', async () => {
    const c = client(d.sock, `connect localhost:${mtls.port} --ca-set @test\n`);
    const lines = await c.lines;
    assert.equal(lines.find((l) => l.name === 'handshake')?.fields['client-cert'], 'none-configured');
    c.sock.end();
    assert.equal((await c.plaintext).length, 0);
    // TLS 1.3: the server's certificate_required alert comes after the client's handshake.
    const s = client(d.sock, `status ${lines[0]!.fields.conn}\n`);
    const end = last(await s.lines);
    assert.equal(end.fields.code, 'tls');
    assert.match(end.fields.message!, /certificate required/);
    const u = client(d.sock, `connect localhost:${mtls.port} --ca-set @test --identity nobody\n`);
    const refused = last(await u.lines);
    assert.equal(refused.fields.code, 'usage');
    assert.match(refused.fields.message!, /expected one of the daemon's identities \(client\)/);
  });

  test('8 parallel clients through the daemon to openssl s_server -Verify 1: each is verified both ways', async () => {
    const port = await freePort();
    const server = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-rev', '-naccept', '8', '-cert', pki.good.certFile, '-key', pki.good.keyFile, '-cert_chain', pki.intermediateFile, '-Verify', '1', '-verify_return_error', '-CAfile', pki.caFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    server.stdout!.on('data', (c: Buffer) => (seen += c));
    server.stderr!.on('data', (c: Buffer) => (seen += c));
    const exited = new Promise((r) => server.once('exit', r));
    try {
      for (let i = 0; i < 100 && !seen.includes('ACCEPT'); i++) await new Promise((r) => setTimeout(r, 20));
      const clients = Array.from({ length: 8 }, (_, i) => client(d.sock, `connect localhost:${port} --ca-set @test --identity client\nclient ${i}\n`));
      // s_server serves one connection at a time, in the order the daemon dialled: end each as it comes.
      await Promise.all(
        clients.map(async (c) => {
          const l = last(await c.lines);
          assert.equal(l.name, 'data', `${l.raw}\n${seen}`);
          c.sock.end();
        }),
      );
      const replies = await Promise.all(clients.map((c) => c.plaintext));
      replies.forEach((r, i) => assert.match(r.toString(), new RegExp(`^${[...`client ${i}`].reverse().join('')}`)));
      await exited;
      assert.match(seen, /verify depth is 1, must return a certificate/);
      // s_server verified the daemon's client certificate on each of the 8 connections.
      assert.equal(seen.match(/^Peer certificate: CN = localhost$/gm)?.length, 8, seen);
      assert.equal(seen.match(/^Verification: OK$/gm)?.length, 8, seen);
    } finally {
      server.kill();
    }
  });

  test('a wrong passphrase or a missing file stops the daemon at start (exit 3), naming the identity', () => {
    const sock = path.join(dir, 'bad-id.sock');
    const wrong = spawnSync(TLSIFY, ['daemon', '--listen', sock, '--identity', `c=${pki.clientOnly.chainFile},${path.join(dir, 'client.key.pem')}`, '--identity-pass', 'c=env:P'], { env: { ...env, P: 'wrong' }, encoding: 'utf8' });
    assert.equal(wrong.status, 3, wrong.stderr);
    assert.match(wrong.stderr, /--identity c: .*passphrase/);
    const missing = spawnSync(TLSIFY, ['daemon', '--listen', sock, '--identity', `c=${path.join(dir, 'nope.pem')},${path.join(dir, 'nope.key')}`], { env, encoding: 'utf8' });
    assert.equal(missing.status, 3, missing.stderr);
    assert.match(missing.stderr, /--identity c: .*nope\.pem/);
    for (const args of [['--identity', 'c'], ['--identity', 'c=a'], ['--identity-pass', 'c=env:P'], ['--identity', 'c=a,b', '--identity-pass', 'c=hunter2']]) {
      const r = spawnSync(TLSIFY, ['daemon', '--listen', sock, ...args], { env, encoding: 'utf8' });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    }
  });
});

describe("daemon: the daemon's pin store", () => {
  const pins = (store: string, ...args: string[]) => spawnSync(TLSIFY, ['pins', ...args, '--pin-store', store], { env, encoding: 'utf8' });

  test('read once and cached, yet a pin added while it runs is enforced on the next request', async () => {
    const store = path.join(dir, 'read.pins');
    const d = await startDaemon(dir, env, 'pins-read', ['--pin-store', store]);
    const ok = client(d.sock, `connect localhost:${good.port} --ca-set @test\n`);
    assert.equal(last(await ok.lines).name, 'data');
    ok.sock.destroy();
    const add = pins(store, 'add', `localhost:${good.port}`, `sha256/${Buffer.alloc(32).toString('base64')}`);
    assert.equal(add.status, 0, add.stderr);
    const c = client(d.sock, `connect localhost:${good.port} --ca-set @test\n`);
    const lines = await c.lines;
    assert.equal(lines.find((l) => l.name === 'trust')?.fields.stored, '1');
    assert.equal(last(lines).fields.code, 'pin-mismatch');
    // --pin-store none in the request: the store is not consulted.
    const none = client(d.sock, `connect localhost:${good.port} --ca-set @test --pin-store none\n`);
    assert.equal(last(await none.lines).name, 'data');
    none.sock.destroy();
    await stop(d);
  });

  test('--pin-writes: --tofu learn writes the daemon store, then the pin is active for every client', async () => {
    const store = path.join(dir, 'tofu.pins');
    const d = await startDaemon(dir, env, 'pins-tofu', ['--pin-store', store, '--pin-writes']);
    for (const want of ['learned', 'activated']) {
      const c = client(d.sock, `connect localhost:${good.port} --ca-set @test --tofu learn\n`);
      const lines = await c.lines;
      c.sock.destroy();
      assert.equal(lines.find((l) => l.name === 'tofu')?.fields.decision, want, JSON.stringify(lines.at(-1)));
      await new Promise((r) => setTimeout(r, 1100)); // activation needs time since first sight
    }
    const list = pins(store, 'list');
    assert.match(list.stdout, new RegExp(`localhost:${good.port}.*tofu`));
    await stop(d);
  });

  test('--pin-writes with --pin-store none is a usage error', () => {
    const r = spawnSync(TLSIFY, ['daemon', '--listen', path.join(dir, 'x.sock'), '--pin-store', 'none', '--pin-writes'], { env, encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--pin-store is none/);
  });
});

describe('daemon: --send-fd (a connected socket handed over with SCM_RIGHTS)', () => {
  let d: Daemon;
  let starttls: Peer;
  const addon = fdPass();
  before(async () => {
    d = await startDaemon(dir, env, 'sendfd', ['--request-timeout', '1']);
    starttls = await starttlsPeer();
  });
  after(async () => {
    await stop(d);
    await starttls.close();
  });

  // The client does the plaintext part itself, then hands its socket to the daemon.
  const py = `
import socket, sys
tcp = socket.create_connection(('127.0.0.1', int(sys.argv[2])))
f = tcp.makefile('rb')
f.readline(); tcp.sendall(b'STARTTLS\\r\\n'); f.readline()
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
r = s.makefile('rb')
s.sendall(sys.argv[3].encode() + b'\\n')
def upto(want):
    for line in r:
        name = line.split(b' ', 1)[0].strip()
        if name == b'end': sys.exit('refused: ' + line.decode())
        if name == want: return
    sys.exit('EOF before ' + want.decode())
upto(b'send-fd')
socket.send_fds(s, [b'F'], [tcp.fileno()]); tcp.close()
upto(b'data')
s.sendall(b'over the handed socket\\n'); s.shutdown(socket.SHUT_WR)
sys.stdout.write(r.read().decode())
`;

  test('the daemon verifies and relays over the socket the client connected', async (t) => {
    if (typeof addon === 'string') return void t.skip(`fdpass addon: ${addon}`);
    const r = await run('python3', ['-c', py, d.sock, String(starttls.port), 'connect localhost --ca-set @test --send-fd']);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'OVER THE HANDED SOCKET\n');
  });

  test('the verdict still decides: a name mismatch ends before data, over the handed socket too', async (t) => {
    if (typeof addon === 'string') return void t.skip(`fdpass addon: ${addon}`);
    const r = await run('python3', ['-c', py, d.sock, String(starttls.port), 'connect other.example --ca-set @test --send-fd']);
    assert.match(r.stderr, /refused: end code=name-mismatch/);
    assert.equal(r.stdout, '');
  });

  test('bytes after the request line, or no descriptor in time, end with a clear error', async (t) => {
    if (typeof addon === 'string') return void t.skip(`fdpass addon: ${addon}`);
    const early = client(d.sock, 'connect localhost --ca-set @test --send-fd\nX');
    const e = last(await early.lines);
    assert.equal(e.fields.code, 'usage');
    assert.match(e.fields.message!, /expected nothing after the request line/);
    const slow = client(d.sock, 'connect localhost --ca-set @test --send-fd\n');
    const lines = await slow.lines;
    assert.deepEqual(names(lines), ['hello', 'send-fd', 'end']);
    assert.equal(last(lines).fields.code, 'timeout');
    const wrong = client(d.sock, 'connect localhost --ca-set @test --send-fd\n');
    let got = '';
    const onData = (b: Buffer): void => {
      if ((got += b.toString()).includes('send-fd\n')) wrong.sock.off('data', onData).write('no fd here');
    };
    wrong.sock.on('data', onData);
    const w = last(await wrong.lines);
    assert.equal(w.fields.code, 'usage');
    assert.match(w.fields.message!, /no descriptor/);
  });
});

describe('daemon: the C client of protocol/daemon.md Appendix A', () => {
  let d: Daemon;
  let starttls: Peer;
  let exe: string;
  before(async () => {
    d = await startDaemon(dir, env, 'cclient');
    starttls = await starttlsPeer();
    const doc = fs.readFileSync(path.resolve(__dirname, '../../protocol/daemon.md'), 'utf8');
    const source = /## Appendix A\.[\s\S]*?```c\n([\s\S]*?)```/.exec(doc)![1]!;
    fs.writeFileSync(path.join(dir, 'client.c'), source);
    exe = path.join(dir, 'cclient');
  });
  after(async () => {
    await stop(d);
    await starttls.close();
  });

  test('compiles without warnings, gets verified plaintext, and reports a refusal on stderr', async (t) => {
    if (typeof fdPass() === 'string') return void t.skip('the fdpass addon is not built');
    const cc = spawnSync('cc', ['-Wall', '-Wextra', '-Werror', '-O2', '-o', exe, path.join(dir, 'client.c')], { encoding: 'utf8' });
    if (cc.error) return void t.skip('no C compiler');
    assert.equal(cc.status, 0, cc.stderr);
    const ok = await runWithInput(exe, [d.sock, 'localhost', String(starttls.port), '--ca-set', '@test'], 'from c\n');
    assert.equal(ok.stderr, '');
    assert.equal(ok.stdout, 'FROM C\n');
    assert.equal(ok.status, 0);
    const refused = await runWithInput(exe, [d.sock, 'localhost', String(starttls.port), '--ca-set', '@test', '--servername', 'other.example'], 'secret\n');
    assert.match(refused.stderr, /^end code=name-mismatch exit=9 /);
    assert.equal(refused.stdout, '');
    assert.equal(refused.status, 1);
  });
});

describe("daemon: the README's C client", () => {
  let readmeDaemon: Daemon;
  // It uses the default CA set, system: here the test CA, by SSL_CERT_FILE.
  before(async () => (readmeDaemon = await startDaemon(dir, { ...env, SSL_CERT_FILE: pki.caFile, SSL_CERT_DIR: path.join(dir, 'none') }, 'readme')));
  after(() => stop(readmeDaemon));

  test("the README's C client compiles without warnings and gets the peer's answer", async (t) => {
    const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
    const source = /## The daemon[\s\S]*?```c\n([\s\S]*?)```/.exec(readme)![1]!;
    fs.writeFileSync(path.join(dir, 'get.c'), source);
    const bin = path.join(dir, 'get');
    const cc = spawnSync('cc', ['-Wall', '-Wextra', '-Werror', '-O2', '-o', bin, path.join(dir, 'get.c')], { encoding: 'utf8' });
    if (cc.error) return void t.skip('no C compiler');
    assert.equal(cc.status, 0, cc.stderr);
    // The echo peer answers the request upper-cased; ALPN is offered, the peer takes none.
    const ok = await runWithInput(bin, [readmeDaemon.sock, `localhost:${good.port}`, '/x'], '');
    assert.equal(ok.stderr, '');
    assert.equal(ok.stdout, 'GET /X HTTP/1.0\r\nHOST: LOCALHOST\r\n\r\n');
    assert.equal(ok.status, 0);
    const refused = await runWithInput(bin, [readmeDaemon.sock, `127.0.0.2:${good.port}`, '/x'], '');
    assert.match(refused.stderr, /^end code=/);
    assert.equal(refused.status, 1);
  });
});

describe('daemon: CA sets in any order share one process', () => {
  test('--ca-set system works after a request for another set, and another set never gains the system anchors', async () => {
    // The system store is the test CA here: SSL_CERT_FILE names it, SSL_CERT_DIR an empty directory.
    const empty = fs.mkdtempSync(path.join(dir, 'certs-'));
    fs.copyFileSync(pki.untrustedCaFile, path.join(dir, 'config', 'tlsify', 'ca-sets', 'stranger.pem'));
    const d = await startDaemon(dir, { ...env, SSL_CERT_FILE: pki.caFile, SSL_CERT_DIR: empty }, 'order');
    const verdict = async (set: string): Promise<ControlLine> => {
      const c = client(d.sock, `connect localhost:${good.port} --ca-set ${set}\n`);
      const l = last(await c.lines);
      c.sock.destroy();
      return l;
    };
    for (const set of ['@test', 'system', '@stranger', 'system', '@test']) {
      const l = await verdict(set);
      if (set === '@stranger') {
        assert.equal(l.fields.code, 'untrusted', set);
        assert.doesNotMatch(l.fields.message!, /OpenSSL/, 'OpenSSL did not accept what tlsify refused: the set holds its own anchors only');
      } else {
        assert.equal(l.name, 'data', `${set}: ${l.raw}`);
      }
    }
    await stop(d);
  });
});

describe('daemon: backpressure and memory per connection', () => {
  test('a client that stops reading stops the daemon reading its peer; another connection goes on', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let flooded: tls.TLSSocket | undefined;
    // The peer writes as fast as its socket takes it, for as long as the test lasts.
    const flood = await tlsPeer(serverOptions(pki.good), (socket) => {
      flooded = socket;
      const more = (): void => {
        while (!socket.destroyed && socket.write(chunk));
      };
      socket.on('drain', more);
      more();
    });
    const d = await startDaemon(dir, env, 'flood');
    const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${d.child.pid}/status`, 'utf8'))![1]) * 1024;
    const slow = client(d.sock, `connect localhost:${flood.port} --ca-set @test\n`);
    await slow.lines;
    slow.sock.pause(); // reads nothing more
    const before = rss();
    await new Promise((r) => setTimeout(r, 1500));
    const other = client(d.sock, `connect localhost:${good.port} --ca-set @test\nstill here\n`);
    assert.equal(last(await other.lines).name, 'data');
    other.sock.end();
    assert.equal((await other.plaintext).toString(), 'STILL HERE\n');
    // Without backpressure the daemon would have read ~hundreds of MiB by now.
    const written = flooded!.bytesWritten;
    const grown = rss() - before;
    slow.sock.destroy();
    await stop(d);
    await flood.close();
    assert.ok(written < 32 * 1024 * 1024, `the peer got ${written} bytes out past a client that reads nothing`);
    assert.ok(grown < 32 * 1024 * 1024, `the daemon grew by ${grown} bytes`);
  });
});
