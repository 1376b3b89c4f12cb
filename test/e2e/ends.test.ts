// test/e2e/ends.test.ts: how a connection ends, and every way the process boundary can fail:
// close_notify vs a bare TCP EOF, resets, garbage, old TLS, silence, EPIPE, a lost fd 3.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { codes } from '../../src/codes.ts';
import { fixturePki, serverOptions, type FixturePki } from '../helpers/pki.ts';
import { echoUpper, runOnce, runTlsify, tcpPeer, tlsPeer, TLSIFY, type Peer } from '../helpers/tlsify.ts';

let pki: FixturePki;
const peers: Peer[] = [];
before(async () => {
  pki = await fixturePki();
});
after(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

async function keep<T extends Peer>(p: Promise<T>): Promise<T> {
  const peer = await p;
  peers.push(peer);
  return peer;
}
const args = (port: number, ...more: string[]) => ['connect', `127.0.0.1:${port}`, '--ca', pki.caFile, '--servername', 'localhost', ...more];

describe('the end of a stream', () => {
  test('close_notify after the reply: exit 0, all data delivered', async () => {
    const peer = await keep(tlsPeer(serverOptions(pki.good), (s) => s.once('data', () => s.end('reply\n'))));
    const r = await runOnce(args(peer.port), 'req\n');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'reply\n');
    assert.equal(r.events.at(-1)!.fields.code, 'ok');
  });

  test('TCP EOF without close_notify: truncation code and event, data kept', async () => {
    const peer = await keep(tlsPeer(serverOptions(pki.good), (s) => s.once('data', () => s.write('partial\n', () => (s as unknown as { _parent: net.Socket })._parent.end()))));
    const r = await runOnce(args(peer.port), 'req\n');
    assert.equal(r.status, codes.truncated.exit, r.stderr);
    assert.equal(r.stdout.toString(), 'partial\n');
    assert.equal(r.events.at(-1)!.fields.code, 'truncated');
  });

  test('a reset in mid-stream is a truncation too', async () => {
    const peer = await keep(tlsPeer(serverOptions(pki.good), (s) => s.once('data', () => s.write('part', () => (s as unknown as { _parent: net.Socket })._parent.resetAndDestroy()))));
    const r = await runOnce(args(peer.port), 'req\n');
    assert.equal(r.status, codes.truncated.exit, r.stderr);
    assert.equal(r.events.at(-1)!.fields.code, 'truncated');
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
  });

  test('a truncation behind a slow reader is still seen (4 MiB then TCP EOF)', async () => {
    const big = Buffer.alloc(4 << 20, 0x61);
    const peer = await keep(tlsPeer(serverOptions(pki.good), (s) => s.once('data', () => s.write(big, () => (s as unknown as { _parent: net.Socket })._parent.end()))));
    const run = runTlsify(args(peer.port), { rawStdout: true });
    run.stdin.end('go\n');
    let got = 0;
    const out = run.child.stdout!;
    await new Promise((r) => setTimeout(r, 300)); // let the pipe and the relay fill up
    out.on('data', (c: Buffer) => {
      got += c.length;
      out.pause();
      setTimeout(() => out.resume(), 1);
    });
    const r = await run.done;
    assert.equal(got, big.length);
    assert.equal(r.status, codes.truncated.exit, r.stderr);
  });

  test('stdin EOF half-closes: the peer sees EOF and its later reply still arrives', async () => {
    const peer = await keep(tlsPeer({ ...serverOptions(pki.good), allowHalfOpen: true }, (s) => {
      let got = '';
      s.on('data', (c: Buffer) => (got += c));
      s.on('end', () => setTimeout(() => s.end(`after eof: ${got}`), 100));
    }));
    const r = await runOnce(args(peer.port), 'abc');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'after eof: abc');
    assert.equal(r.events.find((e) => e.name === 'close-sent')!.fields.reason, 'stdin-eof');
  });

  test('--close-on-eof stops at stdin EOF without waiting for the peer', async () => {
    const peer = await keep(tlsPeer(serverOptions(pki.good), () => {}));
    const r = await runOnce(args(peer.port, '--close-on-eof'), 'x');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.events.at(-1)!.fields.message!, /close-on-eof/);
  });
});

describe('peers that are not what they should be', () => {
  test('a TLS 1.0-only server: tls code', async () => {
    const peer = await keep(tlsPeer({ ...serverOptions(pki.good), minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }, echoUpper));
    const r = await runOnce(args(peer.port), 'x');
    assert.equal(r.status, codes.tls.exit, r.stderr);
    assert.match(r.events.at(-1)!.fields.message!, /protocol version|unsupported protocol/i);
  });

  test('--min-tls 1.3 refuses a TLS 1.2-only server', async () => {
    const peer = await keep(tlsPeer({ ...serverOptions(pki.good), maxVersion: 'TLSv1.2' }, echoUpper));
    const r = await runOnce(args(peer.port, '--min-tls', '1.3'), 'x');
    assert.equal(r.status, codes.tls.exit, r.stderr);
    const ok = await runOnce(args(peer.port), 'x');
    assert.equal(ok.events.find((e) => e.name === 'handshake')!.fields.version, 'TLSv1.2');
  });

  test('a server that sends garbage instead of TLS: tls code', async () => {
    const peer = await keep(tcpPeer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\nthis is not TLS\r\n')));
    const r = await runOnce(args(peer.port), 'x');
    assert.equal(r.status, codes.tls.exit, r.stderr);
    assert.equal(r.stdout.length, 0);
  });

  test('a server that never answers: handshake timeout', async () => {
    const peer = await keep(tcpPeer(() => {}));
    const started = Date.now();
    const r = await runOnce(args(peer.port, '--handshake-timeout', '0.5'), 'x');
    assert.equal(r.status, codes.timeout.exit, r.stderr);
    assert.ok(Date.now() - started < 5000);
    assert.match(r.events.at(-1)!.fields.message!, /handshake took more than 500 ms/);
  });

  test('nobody listening: connect code', async () => {
    const peer = await tcpPeer(() => {});
    const port = peer.port;
    await peer.close();
    const r = await runOnce(args(port), 'x');
    assert.equal(r.status, codes.connect.exit, r.stderr);
    assert.match(r.events.at(-1)!.fields.message!, /ECONNREFUSED/);
  });

  test('a name that does not resolve: resolve code', async () => {
    const r = await runOnce(['connect', 'no-such-host.invalid:443', '--ca', pki.caFile], 'x');
    assert.equal(r.status, codes.resolve.exit, r.stderr);
  });

  test('ALPN: the agreed protocol is reported', async () => {
    const peer = await keep(tlsPeer({ ...serverOptions(pki.good), ALPNProtocols: ['h2', 'http/1.1'] }, echoUpper));
    const r = await runOnce(args(peer.port, '--alpn', 'http/1.1'), 'x');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.events.find((e) => e.name === 'handshake')!.fields.alpn, 'http/1.1');
  });
});

describe('the parent side failing', () => {
  test('stdout closed by the parent: local-io code, no stack trace', async () => {
    const big = Buffer.alloc(1 << 20, 0x62);
    const peer = await keep(tlsPeer(serverOptions(pki.good), (s) => s.once('data', () => s.end(big))));
    const run = runTlsify(args(peer.port), { rawStdout: true });
    run.child.stdout!.destroy();
    run.stdin.end('x');
    const r = await run.done;
    assert.equal(r.status, codes['local-io'].exit, r.stderr);
    assert.equal(r.events.at(-1)!.fields.code, 'local-io');
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
  });

  test('fd 3 closed mid-connection: the data keeps flowing, exit 0', async () => {
    const peer = await keep(tlsPeer(serverOptions(pki.good), echoUpper));
    const run = runTlsify(args(peer.port));
    await run.waitFor('ready');
    (run.child.stdio[3] as net.Socket).destroy();
    run.stdin.write('one\n');
    await new Promise((r) => setTimeout(r, 100));
    run.stdin.end('two\n');
    const r = await run.done;
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'ONE\nTWO\n');
  });

  test('without fd 3 there is no control channel and fd 3 is left alone', async () => {
    const peer = await keep(tlsPeer(serverOptions(pki.good), echoUpper));
    const r = await runOnce(args(peer.port), 'no fd3\n', { control: false });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'NO FD3\n');
  });

  test('stdin and stdout as regular files', async () => {
    const peer = await keep(tlsPeer(serverOptions(pki.good), echoUpper));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-files-'));
    try {
      fs.writeFileSync(path.join(dir, 'in'), 'from a file\n');
      const inFd = fs.openSync(path.join(dir, 'in'), 'r');
      const outFd = fs.openSync(path.join(dir, 'out'), 'w');
      const child = spawn(TLSIFY, args(peer.port), { stdio: [inFd, outFd, 'pipe'] });
      const status = await new Promise((r) => child.on('close', r));
      fs.closeSync(inFd);
      fs.closeSync(outFd);
      assert.equal(status, 0);
      assert.equal(fs.readFileSync(path.join(dir, 'out'), 'utf8'), 'FROM A FILE\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('connect timeout', () => {
  test('a listener whose backlog is full never answers: timeout code within the limit', async () => {
    const { spawn } = await import('node:child_process');
    // Python can listen without ever accepting; node:net cannot. Fill the backlog, then wait.
    const py = spawn('python3', ['-c', [
      'import socket, sys, time',
      's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
      'fill = []',
      'for i in range(4):',
      '    c = socket.socket(); c.setblocking(False)',
      '    try: c.connect(s.getsockname())',
      '    except BlockingIOError: pass',
      '    fill.append(c)',
      'time.sleep(0.2); print(s.getsockname()[1], flush=True); sys.stdin.read()',
    ].join('\n')], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const port = Number(await new Promise<string>((r) => py.stdout!.once('data', (d) => r(String(d)))));
      const started = Date.now();
      const r = await runOnce(args(port, '--connect-timeout', '0.5'), 'x');
      assert.equal(r.status, codes.timeout.exit, r.stderr);
      assert.ok(Date.now() - started < 5000);
      assert.match(r.events.at(-1)!.fields.message!, /^no answer from 127\.0\.0\.1:\d+ within 500 ms/);
    } finally {
      py.kill();
    }
  });
});
