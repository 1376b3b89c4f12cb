// test/e2e/parents.test.ts: the three ways tlsify is used, each as a real parent process against
// a real node:tls peer: Python (subprocess; fd 3 a socketpair or a pipe), a POSIX sh script (a
// FIFO on fd 3) and C (a STARTTLS hand-off with --net-fd; one socket as stdin and stdout).
// The parents live in test/parents/ and check what they get themselves; this file checks again.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { fixturePki, serverOptions, type FixturePki, type ServerFixture } from '../helpers/pki.ts';

const TLSIFY = path.resolve(__dirname, '../../bin/tlsify');
const PARENTS = path.resolve(__dirname, '../parents');
const PARENT_TIMEOUT_MS = 20_000;

let pki: FixturePki;
before(async () => {
  pki = await fixturePki();
});

// ---- peers ---------------------------------------------------------------------------------

interface Peer {
  readonly port: number;
  /** Every request line the peer read, in order. */
  readonly requests: string[];
  /** The TLS version of each session that sent a request, as the server saw it. */
  readonly versions: string[];
  /** The plaintext lines read before TLS started (STARTTLS peers only). */
  readonly dialogue: string[];
}

const servers = new Set<net.Server>();
const sockets = new Set<net.Socket>();
after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all([...servers].map((s) => new Promise((done) => s.close(done))));
});

function track<T extends net.Socket>(socket: T): T {
  sockets.add(socket);
  socket.on('error', () => {}); // a parent that drops us is the parent's failure, asserted there
  socket.on('close', () => sockets.delete(socket));
  return socket;
}

/** Calls `onLine` with the first LF-terminated line, then leaves the stream paused for the next owner. */
function readLine(stream: Readable, onLine: (line: string) => void): void {
  let text = '';
  const onData = (chunk: Buffer): void => {
    text += chunk.toString('latin1');
    const lf = text.indexOf('\n');
    if (lf < 0) return;
    stream.off('data', onData);
    stream.pause();
    onLine(text.slice(0, lf + 1));
  };
  stream.on('data', onData);
}

type Ending = 'end-after-reply' | 'wait-for-client-close';

/**
 * Answers the first request line with `answer(line)` over TLS. 'end-after-reply' then ends
 * (close_notify: node:tls sends it on end() once the handshake is complete); 'wait-for-client-close'
 * keeps the session open until the client's close_notify, which node:tls answers with its own.
 */
function serveTls(socket: tls.TLSSocket, peer: Peer, answer: (line: string) => string, ending: Ending): void {
  track(socket);
  readLine(socket, (line) => {
    peer.versions.push(socket.getProtocol() ?? 'none');
    peer.requests.push(line);
    if (ending === 'end-after-reply') socket.end(answer(line));
    else socket.write(answer(line));
  });
}

function listen(server: net.Server): Promise<number> {
  servers.add(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

async function tlsPeer(fixture: ServerFixture, answer: (line: string) => string, ending: Ending = 'end-after-reply'): Promise<Peer> {
  const peer = { port: 0, requests: [] as string[], versions: [] as string[], dialogue: [] as string[] };
  const server = tls.createServer(serverOptions(fixture), (socket) => serveTls(socket, peer, answer, ending));
  server.on('tlsClientError', () => {}); // a client that rejects us: asserted on the client side
  return Object.assign(peer, { port: await listen(server) });
}

/** A STARTTLS-style peer: `220 ready`, expects `STARTTLS`, `220 go ahead`, then TLS on the same socket. */
async function starttlsPeer(fixture: ServerFixture, answer: (line: string) => string): Promise<Peer> {
  const peer = { port: 0, requests: [] as string[], versions: [] as string[], dialogue: [] as string[] };
  const server = net.createServer((raw) => {
    track(raw).write('220 ready\r\n');
    readLine(raw, (line) => {
      peer.dialogue.push(line);
      if (line !== 'STARTTLS\r\n') return void raw.end('502 expected STARTTLS\r\n');
      raw.write('220 go ahead\r\n');
      serveTls(new tls.TLSSocket(raw, { isServer: true, ...serverOptions(fixture) }), peer, answer, 'end-after-reply');
    });
  });
  return Object.assign(peer, { port: await listen(server) });
}

const echo = (line: string): string => `echo: ${line}`;

// ---- parents -------------------------------------------------------------------------------

interface Finished {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const running = new Set<number>();
after(() => {
  for (const pid of running) killGroup(pid);
});

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL'); // the parent and the tlsify it started: they share the group
  } catch {
    // already gone
  }
}

/** Runs one parent in its own process group (so a hung tlsify below it can be killed too). */
function runParent(command: string, args: readonly string[]): Promise<Finished> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const pid = child.pid!;
  running.add(pid);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => {
    stderr += `\n[test] ${command} ran longer than ${PARENT_TIMEOUT_MS} ms: killed\n`;
    killGroup(pid);
  }, PARENT_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      running.delete(pid);
      resolve({ status, stdout, stderr });
    });
  });
}

/** `key: value` lines of a parent's report. */
function report(stdout: string): Map<string, string> {
  return new Map(stdout.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
}

/** RFC 7469 §2.4 pin of a certificate's SPKI: what `cert ... pin=` must say. */
function pinOf(pem: string): string {
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return 'sha256/' + createHash('sha256').update(spki).digest('base64');
}

/** Whether `names` contains `wanted` in this order (other lines may come between). */
function inOrder(names: readonly string[], wanted: readonly string[]): boolean {
  let i = 0;
  for (const n of names) if (n === wanted[i]) i++;
  return i === wanted.length;
}

// ---- Python --------------------------------------------------------------------------------

type PyEvent = [string, Record<string, string>];

describe('a Python parent (subprocess, pass_fds)', () => {
  const python = (args: string[]): Promise<Finished> => runParent('python3', [path.join(PARENTS, 'parent.py'), '--tlsify', TLSIFY, '--ca', pki.caFile, ...args]);

  test('fd 3 a socketpair: request, reply, then the close command ends it with close_notify both ways', async () => {
    const peer = await tlsPeer(pki.good, echo, 'wait-for-client-close');
    const run = await python(['--fd3', 'socketpair', '--target', `127.0.0.1:${peer.port}`, '--request', 'GET /python\n', '--expect', 'echo: GET /python\n']);
    assert.equal(run.status, 0, run.stderr);
    const got = JSON.parse(run.stdout) as { status: number; reply: string; events: PyEvent[] };
    assert.equal(got.status, 0);
    assert.equal(got.reply, 'echo: GET /python\n');
    assert.deepEqual(peer.requests, ['GET /python\n']);
    const names = got.events.map(([n]) => n);
    assert.ok(inOrder(names, ['hello', 'connected', 'handshake', 'cert', 'verified', 'ready', 'ok', 'close-sent', 'end']), names.join(' '));
    const fields = (name: string): Record<string, string> => got.events.find(([n]) => n === name)![1];
    assert.deepEqual(fields('ok'), { command: 'close' });
    assert.equal(fields('close-sent').reason, 'command');
    assert.equal(fields('verified').identity, 'ip:127.0.0.1');
    assert.equal(fields('cert').pin, pinOf(pki.good.issued.certPem), 'the leaf pin is the SPKI hash');
    assert.equal(fields('end').code, 'ok');
  });

  test('fd 3 a pipe: events only; stdin EOF after the request sends close_notify', async () => {
    const peer = await tlsPeer(pki.good, echo);
    const run = await python(['--fd3', 'pipe', '--target', `localhost:${peer.port}`, '--request', 'GET /pipe\n', '--expect', 'echo: GET /pipe\n']);
    assert.equal(run.status, 0, run.stderr);
    const got = JSON.parse(run.stdout) as { status: number; reply: string; events: PyEvent[] };
    assert.equal(got.reply, 'echo: GET /pipe\n');
    assert.deepEqual(peer.requests, ['GET /pipe\n']);
    const names = got.events.map(([n]) => n);
    assert.ok(inOrder(names, ['hello', 'resolved', 'connected', 'handshake', 'cert', 'verified', 'ready', 'close-sent', 'end']), names.join(' '));
    assert.equal(got.events.find(([n]) => n === 'close-sent')![1].reason, 'stdin-eof');
    assert.equal(got.events.find(([n]) => n === 'verified')![1].identity, 'dns:localhost');
    const roles = got.events.filter(([n]) => n === 'cert').map(([, f]) => f.role);
    assert.deepEqual(roles, ['leaf', 'intermediate', 'anchor']);
  });
});

// ---- POSIX sh ------------------------------------------------------------------------------

describe('a POSIX sh parent (FIFO on fd 3, while read -r event rest)', () => {
  const sh = (port: number, request: string, expected: string): Promise<Finished> =>
    runParent('sh', [path.join(PARENTS, 'parent.sh'), TLSIFY, `localhost:${port}`, pki.caFile, request, expected]);

  test('finds the greeting, the TLS version, pinned cert lines and end code=ok', async () => {
    const peer = await tlsPeer(pki.good, echo);
    const run = await sh(peer.port, 'GET /sh', 'echo: GET /sh');
    assert.equal(run.status, 0, run.stdout + run.stderr);
    const found = report(run.stdout);
    assert.match(found.get('greeting')!, /^hello proto=1 tlsify=\S+ pid=\d+$/);
    assert.equal(found.get('tls'), peer.versions[0]);
    assert.equal(found.get('tls'), 'TLSv1.3');
    assert.equal(found.get('certs'), '3 pinned: 3');
    assert.match(found.get('end')!, /^end code=ok exit=0\b/);
    assert.equal(found.get('reply'), 'echo: GET /sh');
    assert.equal(found.get('status'), '0');
    assert.deepEqual(peer.requests, ['GET /sh\n']);
  });

  test('the script fails, saying why, when tlsify rejects the peer (untrusted root)', async () => {
    const peer = await tlsPeer(pki.untrusted, echo);
    const run = await sh(peer.port, 'GET /sh', 'echo: GET /sh');
    assert.equal(run.status, 1, run.stdout + run.stderr);
    const found = report(run.stdout);
    assert.match(found.get('end')!, /^end code=untrusted exit=8\b/);
    assert.equal(found.get('status'), '8');
    assert.equal(found.get('certs'), '0 pinned: 0', 'no cert lines before a verdict');
    assert.match(run.stderr, /mismatch: expected 'end code=ok exit=0' as the last line, got 'end code=untrusted/);
    assert.deepEqual(peer.requests, [], 'no plaintext reached an unverified peer');
  });
});

// ---- C -------------------------------------------------------------------------------------

const noCc = spawnSync('cc', ['--version']).error ? 'cc not found on PATH: the C parents need a C compiler' : false;

describe('a C parent (posix_spawn)', { skip: noCc }, () => {
  let bin: string;
  before(() => {
    bin = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-parents-'));
    for (const name of ['starttls', 'socketpair']) {
      const cc = spawnSync('cc', ['-std=c99', '-Wall', '-Wextra', '-o', path.join(bin, name), path.join(PARENTS, `${name}.c`)], { encoding: 'utf8' });
      assert.equal(cc.status, 0, `cc ${name}.c failed:\n${cc.stderr}`);
      assert.equal(cc.stderr, '', `cc ${name}.c warned:\n${cc.stderr}`);
    }
  });
  after(() => {
    if (bin) fs.rmSync(bin, { recursive: true, force: true });
  });

  test('STARTTLS: a plaintext dialogue, then --net-fd hands the same socket to tlsify', async () => {
    const peer = await starttlsPeer(pki.good, (line) => `250 got ${line}`);
    const run = await runParent(path.join(bin, 'starttls'), [TLSIFY, String(peer.port), pki.caFile, 'MAIL FROM:<c@example>\r\n', '250 got MAIL FROM:<c@example>\r\n']);
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.deepEqual(peer.dialogue, ['STARTTLS\r\n']);
    assert.deepEqual(peer.requests, ['MAIL FROM:<c@example>\r\n'], 'the request came over TLS');
    assert.deepEqual(peer.versions, ['TLSv1.3']);
    const found = report(run.stdout.replaceAll('\r', ''));
    assert.equal(found.get('reply'), '250 got MAIL FROM:<c@example>');
    assert.equal(found.get('tlsify status'), '0');
  });

  test('one socketpair end as both stdin and stdout, half-closed with shutdown(SHUT_WR)', async () => {
    const peer = await tlsPeer(pki.good, echo);
    const run = await runParent(path.join(bin, 'socketpair'), [TLSIFY, `localhost:${peer.port}`, pki.caFile, 'GET /c\n', 'echo: GET /c\n']);
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.deepEqual(peer.requests, ['GET /c\n']);
    assert.deepEqual(peer.versions, ['TLSv1.3']);
    const found = report(run.stdout);
    assert.equal(found.get('reply'), 'echo: GET /c');
    assert.equal(found.get('tlsify status'), '0');
  });
});
