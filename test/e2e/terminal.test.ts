// test/e2e/terminal.test.ts: a person at a terminal: stdin and stdout on a tty (a pty made by
// Python), ^D as EOF; signals; and the JSON log on stderr.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { codes } from '../../src/codes.ts';
import { fixturePki, serverOptions, type FixturePki } from '../helpers/pki.ts';
import { echoUpper, runOnce, runTlsify, tlsPeer, TLSIFY, type Peer } from '../helpers/tlsify.ts';

let pki: FixturePki;
let peer: Peer;
before(async () => {
  pki = await fixturePki();
  peer = await tlsPeer({ ...serverOptions(pki.good), allowHalfOpen: true }, echoUpper);
});
after(() => peer.close());

test('stdin and stdout on a tty: the reply is shown, ^D ends the session cleanly', async () => {
  // Python owns the pty master: it types a line and ^D, and passes on what the terminal shows.
  const script = [
    'import os, pty, subprocess, sys, time',
    'master, slave = os.openpty()',
    'p = subprocess.Popen(sys.argv[1:], stdin=slave, stdout=slave, stderr=subprocess.DEVNULL)',
    'os.close(slave)',
    'time.sleep(1.0)',
    'os.write(master, b"typed at a tty\\n"); time.sleep(0.3); os.write(master, b"\\x04")',
    'out = b""',
    'while True:',
    '    try: chunk = os.read(master, 4096)',
    '    except OSError: break',
    '    if not chunk: break',
    '    out += chunk',
    'sys.stdout.write(out.decode(errors="replace")); sys.stdout.write("\\nstatus=%d\\n" % p.wait())',
  ].join('\n');
  const py = spawn('python3', ['-c', script, TLSIFY, 'connect', `127.0.0.1:${peer.port}`, '--ca', pki.caFile, '--servername', 'localhost'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  py.stdout!.on('data', (c: Buffer) => (out += c));
  await new Promise((r) => py.on('close', r));
  assert.match(out, /TYPED AT A TTY/);
  assert.match(out, /status=0$/m);
});

test('SIGTERM: end code=aborted, exit 13', async () => {
  const run = runTlsify(['connect', `127.0.0.1:${peer.port}`, '--ca', pki.caFile, '--servername', 'localhost']);
  await run.waitFor('ready');
  run.child.kill('SIGTERM');
  const r = await run.done;
  assert.equal(r.status, codes.aborted.exit);
  assert.deepEqual([r.events.at(-1)!.fields.code, r.events.at(-1)!.fields.message], ['aborted', 'stopped by SIGTERM']);
});

test('--log-level info: one JSON object per stderr line, events without DER or keys', async () => {
  const r = await runOnce(['connect', `127.0.0.1:${peer.port}`, '--ca', pki.caFile, '--servername', 'localhost', '--log-level', 'info'], 'log me\n');
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines.map((l) => l.event), ['trust', 'connected', 'handshake', 'cert', 'cert', 'cert', 'verified', 'ready', 'close-sent', 'end']);
  assert.doesNotMatch(r.stderr, /"der"|PRIVATE KEY|CLIENT_RANDOM|TRAFFIC_SECRET/);
});

test('default log level: a clean run writes nothing on stderr', async () => {
  const r = await runOnce(['connect', `127.0.0.1:${peer.port}`, '--ca', pki.caFile, '--servername', 'localhost'], 'quiet\n');
  assert.equal(r.status, 0);
  assert.equal(r.stderr, '');
});
