// test/e2e/accept.test.ts: `tlsify accept` inetd style (the connection on fds 0 and 1) running
// a PROGRAM: the TLS facts in its environment, the echo, exit statuses, and clients that fail:
// garbage instead of TLS, silence, a socket that is not one. Peers: openssl s_client and curl.
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { codes } from '../../src/codes.ts';
import { acceptor, envLines, sClient, type Acceptor } from '../helpers/acceptor.ts';
import { fixturePki, type FixturePki } from '../helpers/pki.ts';
import { runOnce, TLSIFY } from '../helpers/tlsify.ts';

const execFileAsync = promisify(execFile);
const ECHO = path.resolve(__dirname, '../fixtures/tls-env-echo.sh');
let pki: FixturePki;
const acceptors: Acceptor[] = [];
before(async () => {
  pki = await fixturePki();
});
after(async () => {
  await Promise.all(acceptors.map((a) => a.close()));
});

async function serve(...args: string[]): Promise<Acceptor> {
  const a = await acceptor(['accept', '--cert', pki.good.chainFile, '--key', pki.good.keyFile, ...args]);
  acceptors.push(a);
  return a;
}
const hasCurl = spawnSync('curl', ['--version']).status === 0;
const trusting = () => ['-CAfile', pki.caFile, '-verify_return_error'];

describe('accept -- PROGRAM, inetd style', () => {
  test('s_client gets the echo; PROGRAM sees the TLS facts and no client identity', async () => {
    const a = await serve('--', ECHO, 'once');
    const client = sClient(a.port, [...trusting(), '-servername', 'localhost'], 'hello\n');
    const run = await a.next();
    const [c, r] = await Promise.all([client, run.done]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(c.out, /^HELLO$/m);
    const env = envLines(c.out);
    assert.equal(env.SSL_PROTOCOL, 'TLSv1.3');
    assert.equal(env.SSL_CIPHER, 'TLS_AES_256_GCM_SHA384');
    assert.equal(env.SSL_TLS_SNI_SERVERNAME, 'localhost');
    assert.equal(env.TLSIFY_PEER_VERIFIED, 'none');
    assert.equal(env.SSL_PEER_CERT_SUBJECT, '-');
    assert.equal(env.TLSIFY_ALPN, '-');
    const names = r.events.map((e) => e.name);
    assert.deepEqual(names, ['hello', 'connected', 'handshake', 'verified', 'ready', 'program', 'close-sent', 'exited', 'end']);
    assert.equal(r.events.find((e) => e.name === 'verified')!.fields.by, 'none');
    assert.equal(r.events.at(-1)!.fields.code, 'ok');
  });

  test('curl --cacert reads an HTTP reply; ALPN is the server\'s choice, told to PROGRAM', { skip: !hasCurl && 'no curl' }, async () => {
    const http = 'printf "HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nalpn=%s sni=%s\\n" "$TLSIFY_ALPN" "$SSL_TLS_SNI_SERVERNAME"';
    const a = await serve('--alpn', 'http/1.1', '--', 'sh', '-c', http);
    const curl = execFileAsync('curl', ['--silent', '--show-error', '--cacert', pki.caFile, '--resolve', `localhost:${a.port}:127.0.0.1`, `https://localhost:${a.port}/`], { encoding: 'utf8', timeout: 10_000 });
    const r = await (await a.next()).done;
    assert.equal((await curl).stdout, 'alpn=http/1.1 sni=localhost\n');
    assert.equal(r.events.find((e) => e.name === 'handshake')!.fields.alpn, 'http/1.1');
    assert.equal(r.status, 0, r.stderr);
  });

  test("PROGRAM's failure is tlsify's exit status; TLS closed cleanly still says code=ok", async () => {
    const a = await serve('--', 'sh', '-c', 'echo bye; exit 3');
    const client = sClient(a.port, trusting());
    const r = await (await a.next()).done;
    await client;
    assert.equal(r.status, 3, r.stderr);
    assert.equal(r.events.find((e) => e.name === 'exited')!.fields.status, '3');
    assert.deepEqual({ ...r.events.at(-1)!.fields, message: undefined }, { code: 'ok', exit: '3', message: undefined });
  });

  test('a client that truncates ends with code truncated although PROGRAM exits 0', async () => {
    const a = await serve('--', 'cat');
    const sock = net.connect(a.port, '127.0.0.1');
    const tls = await import('node:tls');
    const client = tls.connect({ socket: sock, ca: pki.root.certPem, servername: 'localhost' });
    client.on('error', () => {});
    await new Promise((resolve) => client.once('secureConnect', resolve));
    client.write('partial', () => sock.end()); // TCP FIN, no close_notify
    client.resume();
    const r = await (await a.next()).done;
    assert.equal(r.status, codes.truncated.exit, r.stderr);
    assert.equal(r.events.find((e) => e.name === 'exited')!.fields.status, '0');
  });
});

describe('PROGRAM\'s process', () => {
  test('it gets the fds any child of this test gets, on pipes: never the network socket', async () => {
    const listFds = 'for f in /proc/$$/fd/*; do printf "fd=%s\\n" "${f##*/}"; done';
    const fdsIn = (out: string) => [...out.matchAll(/^fd=(\d+)$/gm)].map((m) => m[1]);
    // Whatever this test runner itself passes down (an fd from the CI harness) is no leak of ours.
    const baseline = fdsIn(spawnSync('sh', ['-c', listFds], { encoding: 'utf8' }).stdout);
    const a = await serve('--', 'sh', '-c', listFds);
    const client = sClient(a.port, trusting());
    const r = await (await a.next()).done;
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(fdsIn((await client).out), baseline);
  });

  test('SIGTERM to tlsify reaches PROGRAM; the exit status is PROGRAM\'s (128 + 15)', async () => {
    const a = await serve('--', 'sleep', '30');
    const client = sClient(a.port, trusting());
    const run = await a.next();
    await run.waitFor('program');
    run.child.kill('SIGTERM');
    const r = await run.done;
    await client;
    assert.equal(r.status, 128 + 15, r.stderr);
    assert.equal(r.events.find((e) => e.name === 'exited')!.fields.signal, 'SIGTERM');
    assert.equal(r.events.at(-1)!.fields.code, 'aborted');
  });
});

describe('where inetd and systemd put the connection besides fds 0 and 1', () => {
  for (const fd of [2, 3] as const) {
    test(`the connection also on fd ${fd}: no log or event line leaks into it`, async () => {
      const a = await acceptor(['accept', '--cert', pki.good.chainFile, '--key', pki.good.keyFile, '--log-level', 'info', '--', ECHO, 'once'], { alsoOn: [fd] });
      acceptors.push(a);
      const client = sClient(a.port, [...trusting(), '-servername', 'localhost'], 'hello\n');
      const r = await (await a.next()).done;
      const c = await client;
      assert.equal(r.status, 0, r.stderr);
      assert.match(c.out, /^HELLO$/m);
      assert.doesNotMatch(c.out, /"level"|hello proto=/);
    });
  }
});

describe('clients that never speak TLS properly', () => {
  test('garbage instead of a ClientHello: exit tls, PROGRAM never starts', async () => {
    const a = await serve('--', ECHO);
    const sock = net.connect(a.port, '127.0.0.1', () => sock.end('GET / HTTP/1.0\r\n\r\n'));
    sock.on('error', () => {});
    sock.resume();
    const r = await (await a.next()).done;
    assert.equal(r.status, codes.tls.exit, r.stderr);
    assert.ok(!r.events.some((e) => e.name === 'program' || e.name === 'ready'));
    assert.match(r.events.at(-1)!.fields.message!, /wrong version number|http request/);
  });

  test('a client that never finishes the handshake: exit timeout', async () => {
    const a = await serve('--handshake-timeout', '0.4', '--', ECHO);
    const sock = net.connect(a.port, '127.0.0.1');
    sock.on('error', () => {});
    const started = Date.now();
    const r = await (await a.next()).done;
    sock.destroy();
    assert.equal(r.status, codes.timeout.exit, r.stderr);
    assert.ok(Date.now() - started < 5000);
    assert.ok(!r.events.some((e) => e.name === 'program'));
  });

  test('fd 0 that is not a socket: exit connect, naming fd 0', async () => {
    const devNull = fs.openSync('/dev/null', 'r');
    const child = spawn(TLSIFY, ['accept', '--cert', pki.good.chainFile, '--key', pki.good.keyFile, '--', 'cat'], { stdio: [devNull, 'ignore', 'pipe'] });
    fs.closeSync(devNull);
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c));
    const status = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(status, codes.connect.exit, stderr);
    assert.match(stderr, /fd 0: expected a connected socket, got a character device/);
  });
});

describe('configuration errors name the file', () => {
  const run = (...args: string[]) => runOnce(['accept', ...args, '--', 'cat'], '');

  test('a key that is not the certificate\'s', async () => {
    const r = await run('--cert', pki.good.chainFile, '--key', pki.rsa.keyFile);
    assert.equal(r.status, codes.config.exit, r.stderr);
    assert.ok(r.stderr.includes(`--key ${pki.rsa.keyFile}: expected the key of the certificate in ${pki.good.chainFile}`), r.stderr);
  });

  test('a certificate file that is missing, or not PEM', async () => {
    const missing = await run('--cert', '/nonexistent/cert.pem', '--key', pki.good.keyFile);
    assert.equal(missing.status, codes.config.exit);
    assert.match(missing.stderr, /--cert \/nonexistent\/cert.pem: cannot read it \(ENOENT\)/);
    const notPem = await run('--cert', pki.good.keyFile, '--key', pki.good.keyFile);
    assert.match(notPem.stderr, /--cert .*good\.key\.pem: expected only CERTIFICATE blocks, got a PRIVATE KEY block/);
  });

  test('a PROGRAM that does not exist fails before any handshake', async () => {
    const r = await runOnce(['accept', '--cert', pki.good.chainFile, '--key', pki.good.keyFile, '--', 'no-such-program-here'], '');
    assert.equal(r.status, codes.config.exit, r.stderr);
    assert.match(r.stderr, /PROGRAM 'no-such-program-here': expected an executable file in \$PATH/);
  });
});
