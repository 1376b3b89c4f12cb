// e2e/fdpass.test.ts: the SCM_RIGHTS hand-off (src/daemon/fdpass.ts, native/fdpass.c) over a real
// unix socket: this process plays the daemon, a real Python client sends its sockets with
// socket.send_fds (sendmsg(2)), and loopback TCP peers check that an adopted socket really works.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TlsifyError } from '../../src/codes.ts';
import { fdPass, receiveFd, resumeReading, stopReading } from '../../src/daemon/fdpass.ts';

const addon = fdPass();
const unavailable = typeof addon === 'string' ? `fdpass addon: ${addon}` : false;

test('the fdpass addon is built (TLSIFY_REQUIRE_FDPASS=1 makes its absence a failure)', (t) => {
  if (unavailable === false) return;
  if (process.env.TLSIFY_REQUIRE_FDPASS === '1') assert.fail(`TLSIFY_REQUIRE_FDPASS=1, but ${unavailable}`);
  t.skip(unavailable);
});

// The client, one connection per `count`: the request line, `send-fd`, then what `mode` says.
// It prints, per connection, whether the descriptors it sent were closed by the daemon side
// ("lost": the read end of its pipe has no holder left, so writing to it is EPIPE).
const CLIENT = String.raw`
import os, signal, socket, sys
signal.signal(signal.SIGPIPE, signal.SIG_IGN)
path, mode, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def line(u):
    got = b''
    while not got.endswith(b'\n'):
        c = u.recv(1)
        if not c: sys.exit('client: expected send-fd, got EOF after %r' % got)
        got += c
    return got

def drain(u):  # until the daemon closes
    try:
        while u.recv(4096): pass
    except ConnectionResetError: pass  # it closed with our bytes unread

def lost(w):
    try: os.write(w, b'?'); return False
    except BrokenPipeError: return True

for i in range(count):
    u = socket.socket(socket.AF_UNIX); u.connect(path)
    req = b'connect 127.0.0.1:%d --send-fd\n' % port
    pipes = []
    if mode == 'early':  # wrong: the descriptor before send-fd
        pipes = [os.pipe()]
        u.sendall(req); socket.send_fds(u, [b'X'], [pipes[0][0]])
    else:
        u.sendall(req)
        if line(u) != b'send-fd\n': sys.exit('client: expected send-fd')
        if mode == 'pass':  # the fd byte, plaintext in the same message, more in another
            t = socket.create_connection(('127.0.0.1', port))
            socket.send_fds(u, [b'Xhello '], [t.fileno()])
            try: u.sendall(b'world'); u.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError): pass  # a daemon may close without reading on
            t.close()  # the daemon's copy must be enough
        elif mode == 'eof': u.shutdown(socket.SHUT_WR)
        elif mode == 'nofd': u.sendall(b'X')
        elif mode.startswith('fds'):
            pipes = [os.pipe() for _ in range(int(mode[3:]))]
            socket.send_fds(u, [b'X'], [r for r, w in pipes])
        elif mode != 'silent': sys.exit('client: unknown mode ' + mode)
    for r, w in pipes: os.close(r)
    drain(u)
    u.close()
    if pipes: print('lost %d of %d' % (sum(lost(w) for r, w in pipes), len(pipes)))
print('done')
`;

let dir: string;
const servers = new Set<net.Server>();
const sockets = new Set<net.Socket>();
const children = new Set<ChildProcess>();

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-fdpass-'));
});
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const s of sockets) s.destroy();
  await Promise.all([...servers].map((s) => new Promise((done) => s.close(done))));
  fs.rmSync(dir, { recursive: true, force: true });
});

function track(sock: net.Socket): net.Socket {
  sockets.add(sock);
  sock.on('error', () => {}); // each test asserts what it expects; a reset is not a crash
  sock.on('close', () => sockets.delete(sock));
  return sock;
}

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

async function listening(server: net.Server, where: string | number): Promise<net.Server> {
  servers.add(server);
  await new Promise<void>((resolve) => (typeof where === 'number' ? server.listen(where, '127.0.0.1', resolve) : server.listen(where, resolve)));
  return server;
}

let unixCount = 0;
/** A unix socket like the daemon's; `onConnection` plays the daemon for each client. */
async function daemonSocket(onConnection: (sock: net.Socket) => void, options: net.ServerOpts = {}): Promise<string> {
  const where = path.join(dir, `d${unixCount++}.sock`);
  await listening(net.createServer(options, (s) => onConnection(track(s))), where);
  return where;
}

interface TcpPeer {
  readonly port: number;
  /** What each accepted connection received, in order. */
  readonly received: string[];
}

/** A loopback TCP peer: greets, answers each chunk in upper case, and records what it got. */
async function tcpPeer(): Promise<TcpPeer> {
  const received: string[] = [];
  const server = net.createServer((s) => {
    track(s);
    const i = received.push('') - 1;
    s.write('hello from peer\n');
    s.on('data', (c: Buffer) => {
      received[i] += c.toString();
      s.write(c.toString().toUpperCase());
    });
    s.on('end', () => s.end());
  });
  await listening(server, 0);
  return { port: (server.address() as net.AddressInfo).port, received };
}

/** Runs the Python client; resolves with its exit status and output. */
function client(sockPath: string, mode: string, port = 9, count = 1): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn('python3', ['-c', CLIENT, sockPath, mode, String(port), String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) =>
    child.on('close', (status) => {
      children.delete(child);
      resolve({ status, stdout, stderr });
    }),
  );
}

/**
 * The daemon's side up to the descriptor: the request line, stopReading in the same tick as it
 * arrives, `between` (a test's chance to poke the stream), then `send-fd`. `extra` is whatever
 * libuv read after the request line: a daemon must refuse a hand-off when it is not empty.
 */
function requestThenSendFd(sock: net.Socket, between?: () => Promise<void>): Promise<{ line: string; extra: Buffer }> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      got = Buffer.concat([got, c]);
      const lf = got.indexOf(0x0a);
      if (lf < 0) return;
      sock.off('data', onData);
      stopReading(sock);
      const line = got.subarray(0, lf + 1).toString();
      const extra = got.subarray(lf + 1);
      (between ?? (async () => {}))().then(() => {
        sock.write('send-fd\n');
        resolve({ line, extra });
      }, reject);
    };
    sock.on('data', onData);
    sock.on('close', () => reject(new Error('the client closed before its request line')));
  });
}

/** Collects a stream until its end. */
function readAll(stream: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    stream.on('data', (c: Buffer) => (text += c.toString()));
    stream.on('end', () => resolve(text));
    stream.on('close', () => resolve(text));
  });
}

/** Adopts `fd` as node:net does for the daemon's TLS transport, and says when it is gone. */
function adopt(fd: number): { socket: net.Socket; closed: Promise<void> } {
  const socket = track(new net.Socket({ fd, readable: true, writable: true }));
  return { socket, closed: new Promise((resolve) => socket.once('close', () => resolve())) };
}

function rejection(p: Promise<unknown>): Promise<TlsifyError> {
  return p.then(
    (v) => assert.fail(`expected a rejection, got ${String(v)}`),
    (err: unknown) => {
      assert.ok(err instanceof TlsifyError, `expected a TlsifyError, got ${String(err)}`);
      return err;
    },
  );
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  return { promise: new Promise<T>((r) => (resolve = r)), resolve };
}

/**
 * A client in `mode` against a daemon that asks for the fd and expects receiveFd to fail; `poke`
 * may act on the socket while it waits. Also counts this process's fds before and after.
 */
async function failedHandOff(mode: string, timeoutMs: number, poke?: (sock: net.Socket) => void) {
  const failed = deferred<{ err: TlsifyError; took: number }>();
  const where = await daemonSocket(async (sock) => {
    await requestThenSendFd(sock);
    const started = performance.now();
    const err = rejection(receiveFd(sock, timeoutMs));
    poke?.(sock);
    failed.resolve({ err: await err, took: performance.now() - started });
    sock.destroy();
  });
  const fdsBefore = openFds();
  const run = await client(where, mode);
  const { err, took } = await failed.promise;
  await sleep(50);
  return { err, took, run, fdsBefore, fdsAfter: openFds() };
}

const T = { timeout: 30_000 };
const EXPECTED = '--send-fd: recvmsg: expected one byte with one descriptor (SCM_RIGHTS), got';

describe('receiving a socket over SCM_RIGHTS', { skip: unavailable }, () => {
  test('a passed TCP socket, once adopted, carries bytes both ways after the client closed its copy', T, async () => {
    const peer = await tcpPeer();
    const done = deferred<{ cloexec: boolean; fromPeer: string; line: string; extra: number }>();
    const where = await daemonSocket(async (sock) => {
      const { line, extra } = await requestThenSendFd(sock);
      const fd = await receiveFd(sock, 5000);
      const flags = /flags:\s*([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'))![1]!;
      const { socket } = adopt(fd);
      let fromPeer = '';
      socket.on('data', (c: Buffer) => {
        fromPeer += c.toString();
        if (!fromPeer.includes('PING\n')) return;
        socket.end();
        sock.destroy();
        done.resolve({ cloexec: (parseInt(flags, 8) & 0o2000000) !== 0, fromPeer, line, extra: extra.length });
      });
      await sleep(100); // the client has closed its copy by now
      socket.write('ping\n');
    });
    const run = client(where, 'pass', peer.port);
    const got = await done.promise;
    assert.equal(got.line, `connect 127.0.0.1:${peer.port} --send-fd\n`);
    assert.equal(got.extra, 0, 'libuv read nothing after the request line');
    assert.ok(got.cloexec, 'the received descriptor is close-on-exec (MSG_CMSG_CLOEXEC)');
    assert.equal(got.fromPeer, 'hello from peer\nPING\n');
    assert.deepEqual(peer.received, ['ping\n']);
    const r = await run;
    assert.equal(r.status, 0, r.stderr);
  });

  test('plaintext sent right after the fd byte stays queued and is read after resumeReading', T, async () => {
    const peer = await tcpPeer();
    const text = deferred<string>();
    const where = await daemonSocket(async (sock) => {
      await requestThenSendFd(sock);
      adopt(await receiveFd(sock, 5000)).socket.destroy();
      await sleep(100); // 'world' and the client's EOF are in the kernel buffer by now
      const all = readAll(sock);
      resumeReading(sock);
      text.resolve(await all);
      sock.destroy();
    });
    const r = client(where, 'pass', peer.port);
    assert.equal(await text.promise, 'hello world');
    assert.equal((await r).status, 0);
  });

  test('stopReading holds when the stream is resumed and read(0) meanwhile: libuv does not eat the fd byte', T, async () => {
    const peer = await tcpPeer();
    const seen: string[] = [];
    const result = deferred<number | Error>();
    const where = await daemonSocket(async (sock) => {
      await requestThenSendFd(sock, async () => {
        sock.on('data', (c: Buffer) => seen.push(c.toString('latin1')));
        sock.resume(); // Readable's resume_() calls read(0) -> _read(), which would readStart()
        sock.read(0);
        await new Promise((r) => setImmediate(r));
      });
      await sleep(100); // the fd byte is queued; had libuv been reading, 'data' would have it
      result.resolve(await receiveFd(sock, 1000).catch((err: Error) => err));
      sock.destroy();
    });
    const r = client(where, 'pass', peer.port);
    const fd = await result.promise;
    assert.equal(typeof fd, 'number', `expected a descriptor, got ${String(fd)}`);
    fs.closeSync(fd as number);
    assert.deepEqual(seen, [], 'no data event while stopped');
    assert.equal((await r).status, 0);
  });

  test('EOF instead of the descriptor is a usage error that says so', T, async () => {
    const { err, run } = await failedHandOff('eof', 5000);
    assert.equal(err.code, 'usage');
    assert.equal(err.message, `${EXPECTED} EOF`);
    assert.equal(run.status, 0, run.stderr);
  });

  test('a byte with no descriptor is a usage error that says so', T, async () => {
    const { err, run } = await failedHandOff('nofd', 5000);
    assert.equal(err.code, 'usage');
    assert.equal(err.message, `${EXPECTED} a byte with no descriptor`);
    assert.equal(run.status, 0, run.stderr);
  });

  // Two ints still fit in CMSG_SPACE(sizeof(int)) on 64-bit (alignment), three set MSG_CTRUNC:
  // both paths must close what arrived.
  for (const [n, said] of [[2, '2 descriptors'], [3, 'more than fit (MSG_CTRUNC']] as const) {
    test(`${n} descriptors in one message: a usage error, and every one of them is closed`, T, async () => {
      const { err, run, fdsBefore, fdsAfter } = await failedHandOff(`fds${n}`, 5000);
      assert.equal(err.code, 'usage');
      assert.ok(err.message.startsWith(`${EXPECTED} ${said}`), err.message);
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout, `lost ${n} of ${n}\ndone\n`, 'the client sees every pipe read end closed');
      assert.equal(fdsAfter, fdsBefore, 'no descriptor left open in this (the daemon) process');
    });
  }

  test('nothing sent: a timeout error, after the timeout and not much later', T, async () => {
    const { err, took, run } = await failedHandOff('silent', 300);
    assert.equal(err.code, 'timeout');
    assert.equal(err.message, '--send-fd: expected a descriptor within 300 ms, got none');
    assert.ok(took >= 299 && took < 1500, `took ${took} ms`);
    assert.equal(run.status, 0, run.stderr);
  });

  test('a client socket destroyed while waiting: a connect error at once, and polling stops', T, async () => {
    const { err, took, run } = await failedHandOff('silent', 5000, (sock) => setTimeout(() => sock.destroy(), 50));
    assert.equal(err.code, 'connect');
    assert.equal(err.message, '--send-fd: expected a descriptor, got a closed client connection');
    assert.ok(took < 1000, `took ${took} ms`);
    assert.equal(run.status, 0, run.stderr);
  });

  test('receiveFd refuses a socket that stopReading was not called on', T, async () => {
    const err = deferred<TlsifyError>();
    const where = await daemonSocket(async (sock) => {
      err.resolve(await rejection(receiveFd(sock, 5000)));
      sock.destroy();
    });
    const r = await client(where, 'silent');
    assert.equal((await err.promise).code, 'internal');
    assert.notEqual(r.status, 0, 'the client got EOF instead of send-fd');
  });

  test('the descriptor count does not grow over 200 hand-offs', T, async () => {
    const peer = await tcpPeer();
    const closing: Promise<void>[] = [];
    const failures: unknown[] = [];
    const where = await daemonSocket((sock) => {
      (async () => {
        await requestThenSendFd(sock);
        const { socket, closed } = adopt(await receiveFd(sock, 5000));
        closing.push(closed);
        socket.end('x');
        socket.resume(); // read to the peer's FIN, so that the socket closes
        sock.on('data', () => {});
        sock.on('end', () => sock.destroy());
        resumeReading(sock); // to the client's EOF, after its plaintext
      })().catch((err: unknown) => failures.push(err));
    });
    const warm = await client(where, 'pass', peer.port, 1); // the first use loads the addon
    assert.equal(warm.status, 0, warm.stderr);
    await Promise.all(closing);
    await sleep(50);
    const fdsBefore = openFds();
    const r = await client(where, 'pass', peer.port, 200);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(failures, []);
    assert.equal(closing.length, 201);
    await Promise.all(closing);
    for (const s of sockets) s.destroy();
    await sleep(100);
    assert.equal(openFds(), fdsBefore);
  });

  // Measured on Linux 6.x: one read(2) takes the request line AND the fd byte (the kernel glues
  // stream skbs, stops after one carrying SCM_RIGHTS, and, with no room for the control message,
  // closes the descriptors, setting MSG_CTRUNC nobody sees). So it fails cleanly: the daemon
  // sees a byte after the request line, and receiveFd gets nothing (a timeout).
  test('a descriptor sent before send-fd is discarded by the kernel; the hand-off fails cleanly', T, async () => {
    const seen = deferred<{ extra: string; err: TlsifyError }>();
    const onConnection = (sock: net.Socket): void => {
      // pauseOnConnect, then a pause: all the client sends is queued before libuv's first read.
      setTimeout(async () => {
        const got = requestThenSendFd(sock);
        sock.resume();
        const { extra } = await got;
        const err = await rejection(receiveFd(sock, 300));
        sock.destroy();
        seen.resolve({ extra: extra.toString('latin1'), err });
      }, 300);
    };
    const where = await daemonSocket(onConnection, { pauseOnConnect: true });
    const fdsBefore = openFds();
    const out = await client(where, 'early');
    const { extra, err } = await seen.promise;
    assert.equal(extra, 'X', 'the fd byte came through read(2) as plain data, right after the request line');
    assert.equal(err.code, 'timeout');
    assert.equal(out.stdout, 'lost 1 of 1\ndone\n', 'the kernel closed the passed descriptor');
    await sleep(50);
    assert.equal(openFds(), fdsBefore, 'and nothing reached this process');
  });
});
