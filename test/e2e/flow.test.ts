// test/e2e/flow.test.ts: backpressure and bounded memory, the STARTTLS hand-off (--net-fd), and
// `openssl s_server` as the peer.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { fixturePki, serverOptions, type FixturePki } from '../helpers/pki.ts';
import { runTlsify, tlsPeer, runOnce, type Peer } from '../helpers/tlsify.ts';

let pki: FixturePki;
const peers: Peer[] = [];
before(async () => {
  pki = await fixturePki();
});
after(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

function peakRssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

test('a parent that stops reading stops tlsify reading the peer: 256 MiB, memory bounded', async (t) => {
  const total = 256 << 20;
  const chunk = Buffer.alloc(1 << 20, 0x7a);
  let sent = 0;
  // allowHalfOpen: our stdin EOF (close_notify) must not make the server stop sending.
  const peer = await tlsPeer({ ...serverOptions(pki.good), allowHalfOpen: true }, (s) => {
    s.once('data', () => {
      const pump = (): void => {
        while (sent < total) {
          sent += chunk.length;
          if (!s.write(chunk)) return void s.once('drain', pump);
        }
        s.end();
      };
      pump();
    });
  });
  peers.push(peer);
  const run = runTlsify(['connect', `127.0.0.1:${peer.port}`, '--ca', pki.caFile, '--servername', 'localhost'], { rawStdout: true });
  run.stdin.end('go');
  const out = run.child.stdout!;
  out.pause();
  await run.waitFor('ready');
  await new Promise((r) => setTimeout(r, 1000));
  const whilePaused = sent;
  const rssPaused = peakRssMiB(run.child.pid!);
  let received = 0;
  out.on('data', (c: Buffer) => (received += c.length));
  out.resume();
  const exited = new Promise((r) => run.child.once('exit', r));
  // Sample the peak just before the child exits: /proc is gone afterwards.
  let peak = rssPaused;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, peakRssMiB(run.child.pid!));
    } catch {
      /* exited */
    }
  }, 20);
  const r = await run.done;
  await exited;
  clearInterval(sampler);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(received, total);
  assert.ok(whilePaused < 64 << 20, `the peer got ${whilePaused} bytes out while the parent was not reading`);
  assert.ok(peak < 160, `child peak RSS ${peak.toFixed(1)} MiB`);
  t.diagnostic(`peer sent ${(whilePaused / 2 ** 20).toFixed(1)} MiB while paused; child peak RSS ${peak.toFixed(1)} MiB`);
});

test('--net-fd: TLS over a socket the parent connected and spoke plaintext on (STARTTLS)', async () => {
  const server = net.createServer((raw) => {
    raw.on('error', () => {});
    raw.write('220 ready\r\n');
    raw.once('data', (line) => {
      assert.equal(line.toString(), 'STARTTLS\r\n');
      raw.write('220 go ahead\r\n', () => {
        const s = new tls.TLSSocket(raw, { isServer: true, ...serverOptions(pki.good) });
        s.on('error', () => {});
        s.on('data', (c: Buffer) => s.end(`secure: ${c}`));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const banner = await new Promise<string>((r) => sock.once('data', (d) => r(d.toString())));
    assert.equal(banner, '220 ready\r\n');
    sock.write('STARTTLS\r\n');
    const go = await new Promise<string>((r) => sock.once('data', (d) => r(d.toString())));
    assert.equal(go, '220 go ahead\r\n');
    sock.pause();
    const r = await runOnce(['connect', 'localhost', '--net-fd', '4', '--ca', pki.caFile], 'hi', { extraFds: [sock] });
    sock.destroy();
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'secure: hi');
    assert.equal(r.events.find((e) => e.name === 'connected')!.fields.fd, '4');
    assert.equal(r.events.find((e) => e.name === 'verified')!.fields.identity, 'dns:localhost');
  } finally {
    server.close();
  }
});

test('--net-fd on something that is not a socket: connect code, clear message', async () => {
  const fd = fs.openSync(pki.caFile, 'r');
  try {
    const r = await runOnce(['connect', 'localhost', '--net-fd', '4', '--ca', pki.caFile], '', { extraFds: [fd] });
    assert.equal(r.status, 5, r.stderr);
    assert.match(r.events.at(-1)!.fields.message!, /--net-fd 4: expected a connected socket, got a regular file/);
  } finally {
    fs.closeSync(fd);
  }
});

test('openssl s_server as the peer', async () => {
  const port = await freePort();
  const server = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-naccept', '1', '-rev', '-cert', pki.good.certFile, '-key', pki.good.keyFile, '-cert_chain', pki.intermediateFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    // s_server prints ACCEPT once it listens; a probe connection would use up -naccept 1.
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      server.stdout!.on('data', (c: Buffer) => (seen += c) && seen.includes('ACCEPT') && resolve());
      server.once('exit', () => reject(new Error(`openssl s_server exited early: ${seen}`)));
    });
    const run = runTlsify(['connect', `127.0.0.1:${port}`, '--ca', pki.caFile, '--servername', 'localhost']);
    run.stdin.write('hello openssl\n');
    await new Promise((r) => setTimeout(r, 300));
    run.command('close');
    const r = await run.done;
    assert.equal(r.stdout.toString(), 'lssnepo olleh\n');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.events.filter((e) => e.name === 'cert').map((e) => e.fields.role), ['leaf', 'intermediate', 'anchor']);
  } finally {
    server.kill();
  }
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}
