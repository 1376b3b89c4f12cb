// test/e2e/accept-mtls.test.ts: client certificates under `tlsify accept --client-auth`: the
// same verdict, codes and control lines as the client side, before any plaintext; and the
// server in a parent's hands (--net-fd) talking to `tlsify connect`, Python ssl and node:tls.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { codes } from '../../src/codes.ts';
import { helpTexts } from '../../src/help.ts';
import { acceptor, envLines, sClient, type Acceptor } from '../helpers/acceptor.ts';
import { fixturePki, serverOptions, type FixturePki, type ServerFixture } from '../helpers/pki.ts';
import { runTlsify } from '../helpers/tlsify.ts';

const execFileAsync = promisify(execFile);
// The identity issue gives `connect` its --cert/--key; until then the mTLS round trip with it waits.
const connectTakesCert = /--cert\b/.test(helpTexts.connect);
const ECHO = path.resolve(__dirname, '../fixtures/tls-env-echo.sh');
let pki: FixturePki;
const acceptors: Acceptor[] = [];
before(async () => {
  pki = await fixturePki();
});
after(async () => {
  await Promise.all(acceptors.map((a) => a.close()));
});

async function serve(args: string[], netFd?: number): Promise<Acceptor> {
  const a = await acceptor(['accept', '--cert', pki.good.chainFile, '--key', pki.good.keyFile, ...args], { netFd });
  acceptors.push(a);
  return a;
}
const requiring = (...more: string[]) => ['--client-auth', 'require', '--ca', pki.caFile, ...more, '--', ECHO, 'once'];
const presenting = (f: ServerFixture) => ['-CAfile', pki.caFile, '-cert', f.certFile, '-key', f.keyFile, ...(f.intermediateFile ? ['-cert_chain', f.intermediateFile] : [])];

/** Serve once with `args`, let s_client present `client` (or nothing), and return both ends. */
async function once(args: string[], client: string[]) {
  const a = await serve(args);
  const c = sClient(a.port, client, 'hi\n');
  const r = await (await a.next()).done;
  return { r, c: await c };
}

describe('--client-auth require', () => {
  test('a good client certificate: PROGRAM gets its subject, hash, pin and matched identity', async () => {
    const { r, c } = await once(requiring('--client-name', 'localhost'), presenting(pki.clientOnly));
    assert.equal(r.status, 0, r.stderr);
    const env = envLines(c.out);
    const der = new crypto.X509Certificate(pki.clientOnly.issued.certPem).raw;
    assert.equal(env.TLSIFY_PEER_VERIFIED, 'yes');
    assert.equal(env.SSL_PEER_CERT_SUBJECT, 'CN=localhost');
    assert.equal(env.SSL_PEER_CERT_HASH, `SHA256:${crypto.createHash('sha256').update(der).digest('hex')}`);
    assert.equal(env.TLSIFY_PEER_IDENTITY, 'dns:localhost');
    const leaf = r.events.find((e) => e.name === 'cert' && e.fields.depth === '0')!;
    assert.equal(env.TLSIFY_PEER_PIN, leaf.fields.pin);
    const verified = r.events.find((e) => e.name === 'verified')!.fields;
    assert.equal(verified.by, 'ca');
    assert.equal(verified.identity, 'dns:localhost');
    assert.match(c.out, /^HI$/m);
  });

  test('no client certificate: untrusted, and PROGRAM never starts', async () => {
    const { r, c } = await once(requiring(), ['-CAfile', pki.caFile]);
    assert.equal(r.status, codes.untrusted.exit, r.stderr);
    assert.match(r.events.at(-1)!.fields.message!, /expected a client certificate \(--client-auth require\), got none/);
    assert.ok(!r.events.some((e) => e.name === 'ready' || e.name === 'program'));
    assert.doesNotMatch(c.out, /SSL_PROTOCOL/);
  });

  test('a certificate from a CA not in --ca: untrusted', async () => {
    const { r } = await once(requiring(), presenting(pki.untrusted));
    assert.equal(r.status, codes.untrusted.exit, r.stderr);
    assert.ok(!r.events.some((e) => e.name === 'cert'));
  });

  test('a server-only certificate (EKU serverAuth) is not a client certificate', async () => {
    const { r } = await once(requiring(), presenting(pki.good));
    assert.equal(r.status, codes.untrusted.exit, r.stderr);
    assert.match(r.events.at(-1)!.fields.message!, /not for TLS clients/);
  });

  test('--pin-only: the client\'s key is the credential; another key is pin-mismatch', async () => {
    const pin = (await once(requiring(), presenting(pki.clientOnly))).r.events.find((e) => e.name === 'cert')!.fields.pin!;
    const pinned = ['--client-auth', 'require', '--pin-only', '--pin', pin, '--', ECHO, 'once'];
    const ok = await once(pinned, presenting(pki.clientOnly));
    assert.equal(ok.r.status, 0, ok.r.stderr);
    assert.equal(ok.r.events.find((e) => e.name === 'verified')!.fields.by, 'pin-only');
    const other = await once(pinned, presenting(pki.rsa));
    assert.equal(other.r.status, codes['pin-mismatch'].exit, other.r.stderr);
  });

  test('--client-name that the certificate does not carry: name-mismatch', async () => {
    const { r } = await once(requiring('--client-name', 'backup.example'), presenting(pki.clientOnly));
    assert.equal(r.status, codes['name-mismatch'].exit, r.stderr);
  });
});

describe('--client-auth optional', () => {
  test('no certificate is fine: TLSIFY_PEER_VERIFIED=none', async () => {
    const { r, c } = await once(['--client-auth', 'optional', '--ca', pki.caFile, '--', ECHO, 'once'], ['-CAfile', pki.caFile]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(envLines(c.out).TLSIFY_PEER_VERIFIED, 'none');
    assert.equal(r.events.find((e) => e.name === 'verified')!.fields.by, 'none');
  });

  test('a bad certificate is still refused', async () => {
    const { r } = await once(['--client-auth', 'optional', '--ca', pki.caFile, '--', ECHO, 'once'], presenting(pki.untrusted));
    assert.equal(r.status, codes.untrusted.exit, r.stderr);
  });

  test('Python ssl with a client certificate', async () => {
    const a = await serve(['--client-auth', 'optional', '--ca', pki.caFile, '--', ECHO, 'once']);
    const script = [
      'import socket, ssl, sys',
      'ctx = ssl.create_default_context(cafile=sys.argv[1])',
      'ctx.load_cert_chain(sys.argv[2], sys.argv[3])',
      'with socket.create_connection(("127.0.0.1", int(sys.argv[4]))) as raw, ctx.wrap_socket(raw, server_hostname="localhost") as s:',
      '    s.sendall(b"from python\\n")',
      '    data = b""',
      '    while chunk := s.recv(4096): data += chunk',
      'sys.stdout.write(data.decode())',
    ].join('\n');
    const py = execFileAsync('python3', ['-c', script, pki.caFile, pki.clientOnly.chainFile, pki.clientOnly.keyFile, String(a.port)], { timeout: 10_000 });
    const r = await (await a.next()).done;
    const { stdout } = await py;
    assert.equal(r.status, 0, r.stderr);
    assert.match(stdout, /^FROM PYTHON$/m);
    assert.equal(envLines(stdout).TLSIFY_PEER_VERIFIED, 'yes');
  });
});

describe('--net-fd: a parent accepted the connection and talks plaintext on stdin/stdout', () => {
  test('tlsify connect <-> tlsify accept: data both ways, across the client\'s half-close', async () => {
    const a = await serve(['--net-fd', '4'], 4);
    const client = runTlsify(['connect', `127.0.0.1:${a.port}`, '--ca', pki.caFile, '--servername', 'localhost']);
    client.stdin.end('ping from the client\n');
    const server = await a.next();
    // The parent reads the request to its end (the client's close_notify), then replies.
    let request = '';
    server.stdout!.on('data', (c: Buffer) => (request += c));
    await new Promise((resolve) => server.stdout!.once('end', resolve));
    server.stdin!.end(`pong, you said: ${request}`);
    const [c, s] = await Promise.all([client.done, server.done]);
    assert.equal(request, 'ping from the client\n');
    assert.equal(c.stdout.toString(), 'pong, you said: ping from the client\n');
    assert.equal(c.status, 0, c.stderr);
    assert.equal(s.status, 0, s.stderr);
    const names = s.events.map((e) => e.name);
    assert.deepEqual(names, ['hello', 'connected', 'handshake', 'verified', 'ready', 'close-sent', 'end']);
    assert.equal(s.events.find((e) => e.name === 'connected')!.fields.fd, '4');
  });

  test('a node:tls client with a certificate: the parent reads cert and verified lines on fd 3', async () => {
    const a = await serve(['--net-fd', '4', '--client-auth', 'require', '--ca', pki.caFile, '--client-name', 'localhost'], 4);
    // A half-open socket underneath, so the client can still write after the server's close_notify.
    const raw = net.connect({ host: '127.0.0.1', port: a.port, allowHalfOpen: true });
    const client = tls.connect({ socket: raw, servername: 'localhost', ca: pki.root.certPem, ...serverOptions(pki.clientOnly) });
    client.on('error', () => {});
    const server = await a.next();
    await server.waitFor('ready');
    server.stdin!.end('hello client\n');
    let got = '';
    client.on('data', (c: Buffer) => (got += c));
    await new Promise((resolve) => client.once('end', resolve));
    client.end('hello server\n');
    const s = await server.done;
    assert.equal(got, 'hello client\n');
    assert.equal(s.stdout, 'hello server\n');
    assert.equal(s.status, 0, s.stderr);
    const certs = s.events.filter((e) => e.name === 'cert');
    assert.deepEqual(certs.map((e) => e.fields.role), ['leaf', 'intermediate', 'anchor']);
    assert.equal(s.events.find((e) => e.name === 'verified')!.fields.identity, 'dns:localhost');
  });

  test('mTLS both ways with tlsify connect presenting a certificate', { skip: !connectTakesCert && 'tlsify connect has no --cert yet (identity issue)' }, async () => {
    const a = await serve(['--net-fd', '4', '--client-auth', 'require', '--ca', pki.caFile, '--client-name', 'localhost'], 4);
    const client = runTlsify(['connect', `127.0.0.1:${a.port}`, '--ca', pki.caFile, '--servername', 'localhost', '--cert', pki.clientOnly.chainFile, '--key', pki.clientOnly.keyFile]);
    client.stdin.end('ping\n');
    const server = await a.next();
    await new Promise((resolve) => server.stdout!.once('end', resolve));
    server.stdin!.end('pong\n');
    const [c, s] = await Promise.all([client.done, server.done]);
    assert.equal(s.stdout, 'ping\n');
    assert.equal(c.stdout.toString(), 'pong\n');
    assert.equal(c.status, 0, c.stderr);
    assert.equal(s.status, 0, s.stderr);
    assert.equal(s.events.find((e) => e.name === 'verified')!.fields.by, 'ca');
  });
});
