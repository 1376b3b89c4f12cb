// e2e/daemon.test.ts: a real `tlsify daemon` on a temporary unix socket (protocol/daemon.md),
// clients in Node, Python and socat, loopback node:tls peers from the fixture PKI.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fixturePki, serverOptions, type FixturePki } from '../helpers/pki.ts';
import { client, daemonHome, last, names, run, startDaemon, stopDaemon, type Daemon } from '../helpers/daemon.ts';
import { TLSIFY, echoUpper, runOnce, tlsPeer, type ControlLine, type Peer } from '../helpers/tlsify.ts';

let pki: FixturePki;
let dir: string;
let env: NodeJS.ProcessEnv;
let good: Peer;
let wrongName: Peer;

before(async () => {
  pki = await fixturePki();
  ({ dir, env } = daemonHome('tlsd-', pki.caFile));
  good = await tlsPeer(serverOptions(pki.good), echoUpper);
  wrongName = await tlsPeer(serverOptions(pki.wrongName), echoUpper);
});

after(async () => {
  await good.close();
  await wrongName.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('daemon: verified plaintext', () => {
  let d: Daemon;
  before(async () => (d = await startDaemon(dir, env, 'main')));
  after(() => stopDaemon(d));

  test('a Node client gets the control lines, data, then plaintext both ways', async () => {
    const c = client(d.sock, `connect localhost:${good.port} --ca-set @test\nping\n`);
    const lines = await c.lines;
    assert.deepEqual(names(lines), ['hello', 'trust', 'resolved', 'connected', 'handshake', 'cert', 'cert', 'cert', 'verified', 'ready', 'data']);
    assert.match(lines[0]!.fields.conn!, /^\d+$/);
    c.sock.end();
    assert.equal((await c.plaintext).toString(), 'PING\n');
  });

  const wrongPin = `sha256/${Buffer.alloc(32, 1).toString('base64')}`;
  for (const [what, peer, optionsOf] of [
    ['a CA set', () => good, () => ['--ca-set', '@test']],
    ['a matching pin', () => good, () => ['--ca-set', '@test', '--pin', pki.good.issued.spkiPin]],
    ['a pin that does not match', () => good, () => ['--ca-set', '@test', '--pin', wrongPin]],
    ['a report-only pin that does not match', () => good, () => ['--ca-set', '@test', '--pin', wrongPin, '--pin-report-only']],
    ['--pin-only with the leaf pin', () => good, () => ['--pin', pki.good.issued.spkiPin, '--pin-only']],
    ['a name mismatch', () => wrongName, () => ['--ca-set', '@test']],
  ] as const) {
    test(`verdict lines are those of a spawned tlsify connect with the same options: ${what}`, async () => {
      const target = `localhost:${peer().port}`;
      const options = optionsOf();
      const spawned = await runOnce(['connect', target, ...options], 'x\n', { env });
      const c = client(d.sock, `connect ${target} ${options.join(' ')}\n`);
      const lines = await c.lines;
      c.sock.destroy();
      const key = (l: ControlLine): string => {
        const { pid: _p, port: _q, 'local-port': _r, conn: _c, ...rest } = l.fields;
        return `${l.name} ${JSON.stringify(rest)}`;
      };
      // Up to the verdict's last word: `ready`, or the `end` of a refusal.
      const verdict = (ls: readonly ControlLine[]): string[] => ls.slice(0, ls.findIndex((l) => l.name === 'ready' || l.name === 'end') + 1).map(key);
      const mine = verdict(lines);
      assert.ok(mine.length > 3, `${mine.length} lines`);
      assert.deepEqual(mine, verdict(spawned.events));
    });
  }

  test('a failed verdict ends before data, with the same code as connect', async () => {
    const c = client(d.sock, `connect localhost:${wrongName.port} --ca-set @test\n`);
    const lines = await c.lines;
    assert.equal(last(lines).name, 'end');
    assert.equal(last(lines).fields.code, 'name-mismatch');
    assert.ok(!names(lines).includes('data'));
  });

  test('a Python client gets verified plaintext', async (t) => {
    const py = `
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
f = s.makefile('rb')
s.sendall(b'connect localhost:%s --ca-set @test\\n' % sys.argv[2].encode())
for line in f:
    name = line.split(b' ', 1)[0].strip()
    if name == b'end': sys.exit('refused: ' + line.decode())
    if name == b'data': break
s.sendall(b'hello from python\\n'); s.shutdown(socket.SHUT_WR)
sys.stdout.write(f.read().decode())
`;
    if (spawnSync('python3', ['-V']).error) return void t.skip('python3 is not installed');
    const r = await run('python3', ['-c', py, d.sock, String(good.port)]);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'HELLO FROM PYTHON\n');
  });

  test('a socat one-liner gets verified plaintext', async (t) => {
    if (spawnSync('socat', ['-V']).error) return void t.skip('socat is not installed (apt-get install socat)');
    // -t 5: socat waits for the daemon's EOF after its own stdin ended.
    const sh = `printf 'connect localhost:${good.port} --ca-set @test\\nfrom socat\\n' | socat -t 5 - UNIX-CONNECT:${d.sock} | sed -n '/^data$/,$p'`;
    const r = await run('sh', ['-c', sh]);
    assert.equal(r.stdout, 'data\nFROM SOCAT\n');
  });

  test('32 parallel clients each get their own plaintext', async () => {
    const clients = Array.from({ length: 32 }, (_, i) => ({ i, c: client(d.sock, `connect localhost:${good.port} --ca-set @test\nclient ${i}\n`) }));
    for (const { c } of clients) {
      assert.equal(last(await c.lines).name, 'data');
      c.sock.end();
    }
    for (const { i, c } of clients) assert.equal((await c.plaintext).toString(), `CLIENT ${i}\n`);
  });

  test('a client killed mid-stream does not disturb another', async () => {
    const victim = client(d.sock, `connect localhost:${good.port} --ca-set @test\nfirst\n`);
    const other = client(d.sock, `connect localhost:${good.port} --ca-set @test\nsecond\n`);
    await victim.lines;
    await other.lines;
    victim.sock.destroy(); // as when the client process is killed: its fd closes
    await new Promise((r) => setTimeout(r, 100));
    other.sock.end('third\n');
    assert.equal((await other.plaintext).toString(), 'SECOND\nTHIRD\n');
  });

  test('status ID tells how a connection ended after data', async () => {
    const c = client(d.sock, `connect localhost:${good.port} --ca-set @test\n`);
    const id = (await c.lines)[0]!.fields.conn!;
    c.sock.end();
    await c.plaintext;
    const s = client(d.sock, `status ${id}\n`);
    const lines = await s.lines;
    assert.equal(last(lines).name, 'end');
    assert.equal(last(lines).fields.code, 'ok');
    assert.equal(last(lines).fields.message, 'the peer sent close_notify');
  });

  test('--resume ram resumes a second connection under the same binding only', async () => {
    const req = `connect localhost:${good.port} --ca-set @test --resume ram\n`;
    const first = client(d.sock, req);
    await first.lines;
    first.sock.end('a\n');
    await first.plaintext;
    const second = client(d.sock, req);
    const lines = await second.lines;
    second.sock.destroy();
    assert.equal(lines.find((l) => l.name === 'resume')?.fields.result, 'offered');
    assert.equal(lines.find((l) => l.name === 'handshake')?.fields.resumed, 'yes');
    assert.equal(last(lines).name, 'data');
    // Another binding (here: ALPN) never gets that ticket; no --resume, no cache at all.
    const other = client(d.sock, `connect localhost:${good.port} --ca-set @test --resume ram --alpn x\n`);
    const o = await other.lines;
    other.sock.destroy();
    assert.equal(o.find((l) => l.name === 'resume')?.fields.result, 'none');
    const plain = client(d.sock, `connect localhost:${good.port} --ca-set @test\n`);
    const p = await plain.lines;
    plain.sock.destroy();
    assert.equal(p.find((l) => l.name === 'resume'), undefined);
    assert.equal(p.find((l) => l.name === 'handshake')?.fields.resumed, 'no');
  });
});

describe('daemon: bad requests', () => {
  let d: Daemon;
  before(async () => (d = await startDaemon(dir, env, 'bad', ['--request-timeout', '0.5'])));
  after(() => stopDaemon(d));

  const refused = async (request: string | Buffer | undefined): Promise<ControlLine> => {
    const c = client(d.sock, request);
    const lines = await c.lines;
    await c.plaintext; // the daemon closes
    return last(lines);
  };

  for (const [what, request] of [
    ['an unknown verb', 'dial localhost:1\n'],
    ['no port', 'connect localhost\n'],
    ['a double space', 'connect  localhost:1\n'],
    ['a bad escape', 'connect localhost:1 --servername a%zz\n'],
    ['an unknown option', 'connect localhost:1 --bogus\n'],
    ['binary junk', Buffer.from([0xff, 0xfe, 0x00, 0x0a])],
    ['an empty line', '\n'],
  ] as const) {
    test(`${what} gets end code=usage and a close`, async () => {
      const end = await refused(request);
      assert.equal(end.name, 'end');
      assert.equal(end.fields.code, 'usage');
    });
  }

  for (const option of ['--ca /etc/passwd', '--ca-set file:/etc/passwd', '--ca-set dir:/etc', '--crl x.pem', '--pin-store /tmp/p', '--keylog /tmp/k', '--net-fd 3', '--control-fd 4', '--cert a --key b', '--pkcs12 x', '--tack t', '--resume file:/tmp/s', '--resume caller', '--tofu learn', '--identity x', '--log-level debug']) {
    test(`${option} is refused over the socket`, async () => {
      const end = await refused(`connect localhost:1 ${option.replaceAll(' ', ' ')}\n`);
      assert.equal(end.fields.code, 'usage');
      assert.ok(!(end.fields.message ?? '').includes('root:'), 'no file content leaks');
    });
  }

  test('an over-long request line gets end code=usage', async () => {
    const end = await refused(`connect localhost:1 --servername ${'a'.repeat(5000)}`);
    assert.equal(end.fields.code, 'usage');
    assert.match(end.fields.message!, /at most 4096 bytes/);
  });

  test('a slow request is closed with end code=timeout', async () => {
    const started = Date.now();
    const end = await refused(undefined);
    assert.equal(end.fields.code, 'timeout');
    assert.ok(Date.now() - started < 3000);
  });

  test('the daemon is still serving after all that', async () => {
    const c = client(d.sock, `connect localhost:${good.port} --ca-set @test\nok\n`);
    assert.equal(last(await c.lines).name, 'data');
    c.sock.end();
    assert.equal((await c.plaintext).toString(), 'OK\n');
  });
});

describe('daemon: socket, limits and shutdown', () => {
  test('the socket is created 0600; --listen-mode widens it', async () => {
    const d = await startDaemon(dir, env, 'perm');
    assert.equal(fs.statSync(d.sock).mode & 0o777, 0o600);
    d.child.kill('SIGTERM');
    await d.exited;
    assert.ok(!fs.existsSync(d.sock), 'the socket file is removed on exit');
    const w = await startDaemon(dir, env, 'perm2', ['--listen-mode', '0660']);
    assert.equal(fs.statSync(w.sock).mode & 0o777, 0o660);
    w.child.kill('SIGTERM');
    await w.exited;
  });

  test('a group- or world-writable directory is refused', () => {
    const open = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsd-open-'));
    fs.chmodSync(open, 0o777);
    const r = spawnSync(TLSIFY, ['daemon', '--listen', path.join(open, 's.sock')], { env, encoding: 'utf8' });
    fs.rmSync(open, { recursive: true });
    assert.equal(r.status, 3);
    assert.match(r.stderr, /writable by its owner only, got mode 777/);
  });

  test('a live daemon socket is not taken over', async () => {
    const d = await startDaemon(dir, env, 'live');
    const r = spawnSync(TLSIFY, ['daemon', '--listen', d.sock], { env, encoding: 'utf8' });
    assert.equal(r.status, 3);
    assert.match(r.stderr, /another process is listening/);
    d.child.kill('SIGTERM');
    await d.exited;
  });

  test('--max-conns: the extra connection gets end code=aborted reason=max-conns; the others go on', async () => {
    const d = await startDaemon(dir, env, 'max', ['--max-conns', '1']);
    const held = client(d.sock, `connect localhost:${good.port} --ca-set @test\n`);
    await held.lines;
    const extra = client(d.sock, `connect localhost:${good.port} --ca-set @test\n`);
    const end = last(await extra.lines);
    assert.equal(end.fields.code, 'aborted');
    assert.equal(end.fields.reason, 'max-conns');
    held.sock.end('still\n');
    assert.equal((await held.plaintext).toString(), 'STILL\n');
    d.child.kill('SIGTERM');
    await d.exited;
  });

  test('SIGTERM aborts open connections (status says aborted) and exits 0', async () => {
    const d = await startDaemon(dir, env, 'term');
    const c = client(d.sock, `connect localhost:${good.port} --ca-set @test\n`);
    const id = (await c.lines)[0]!.fields.conn!;
    const s = client(d.sock, `status ${id}\n`);
    await new Promise((r) => setTimeout(r, 100));
    const waiting = client(d.sock, undefined);
    await new Promise((r) => setTimeout(r, 100));
    d.child.kill('SIGTERM');
    const status = last(await s.lines);
    assert.equal(status.fields.code, 'aborted');
    await c.plaintext; // the daemon closed the data connection
    assert.equal(last(await waiting.lines).fields.code, 'aborted');
    assert.equal((await d.exited).status, 0);
  });

  test('--exit-with-parent: the daemon exits when its stdin closes', async () => {
    const d = await startDaemon(dir, env, 'parent', ['--exit-with-parent']);
    d.child.stdin!.end();
    assert.equal((await d.exited).status, 0);
  });

  test('--idle-exit: the daemon exits after the idle time', async () => {
    const d = await startDaemon(dir, env, 'idle', ['--idle-exit', '0.3']);
    assert.equal((await d.exited).status, 0);
  });

  test('bad daemon options are usage errors', () => {
    for (const args of [['--bogus'], ['--max-conns', '0'], ['--listen-mode', '0200'], ['--idle-exit', 'x']]) {
      const r = spawnSync(TLSIFY, ['daemon', ...args], { env, encoding: 'utf8' });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    }
  });
});
