// secret.test.ts: secrets named on the command line (env:VAR, fd:N, file:PATH; openssl-
// passphrase-options(1) without pass: and stdin), the file permission rules, and the key log
// (tls/keylog.ts: NSS key log lines, SSLKEYLOGFILE only with a warning).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { TlsifyError } from '../../src/codes.ts';
import { fails } from '../helpers/fails.ts';
import { assertPrivate, checkSecretSpec, describeSecret, readSecret } from '../../src/secret.ts';
import { isKeylogLine, keylogTarget, openKeylog } from '../../src/tls/keylog.ts';

let dir: string;
before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-secret-'))));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Buffer, mode = 0o600): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  fs.chmodSync(p, mode);
  return p;
}

describe('readSecret: env:VAR', () => {
  test('reads the variable, strips one trailing newline', () => {
    assert.equal(readSecret('env:P', '--pass', { P: 'hunter2\n\n' }).toString(), 'hunter2\n');
    assert.equal(readSecret('env:P', '--pass', { P: 'hunter2\r\n' }).toString(), 'hunter2');
    assert.equal(readSecret('env:P', '--pass', { P: 'hunter2' }).toString(), 'hunter2');
  });
  test('a missing variable names it, and says nothing of other variables', () => {
    fails(() => readSecret('env:NOPE', '--pass', { OTHER: 'x' }), 'config', /--pass env:NOPE: expected the environment variable NOPE to be set, got no such variable/);
  });
  test('an empty value is refused', () => {
    fails(() => readSecret('env:P', '--pass', { P: '\n' }), 'config', /expected a secret, got an empty value/);
  });
  test('over the size bound', () => {
    fails(() => readSecret('env:P', '--pass', { P: 'x'.repeat(20) }, { maxBytes: 10 }), 'config', /expected at most 10 bytes, got 20/);
  });
});

describe('readSecret refuses a literal, without echoing it', () => {
  const cases: [string, RegExp][] = [
    ['hunter2', /got a literal value \(not shown\)/],
    ['pass:hunter2', /got openssl's pass: form/],
    ['stdin', /stdin carries the plaintext/],
    ['env:', /got 'env:' with nothing after it/],
    ['file:', /got 'file:' with nothing after it/],
    ['ENV:P', /got a literal value/],
  ];
  for (const [spec, why] of cases) {
    test(`'${spec}'`, () => {
      assert.throws(
        () => readSecret(spec, '--pass', { P: 'x' }),
        (err: TlsifyError) => {
          assert.equal(err.code, 'usage');
          assert.match(err.message, why);
          assert.match(err.message, /--pass: expected env:VAR, fd:N or file:PATH/);
          assert.match(err.message, /ps, \/proc\/PID\/cmdline/);
          if (spec.length > 5) assert.ok(!err.message.includes('hunter2'), 'the literal must not be echoed');
          return true;
        },
      );
    });
  }
  test('checkSecretSpec (for config.ts) refuses the same, and reads nothing', () => {
    assert.throws(() => checkSecretSpec('hunter2', '--pass'), (e: TlsifyError) => e.code === 'usage' && !e.message.includes('hunter2'));
    checkSecretSpec('env:NOT_SET_ANYWHERE', '--pass');
    checkSecretSpec('fd:99', '--pass');
  });
  test('describeSecret never shows a literal', () => {
    assert.equal(describeSecret('env:P'), 'env:P');
    assert.equal(describeSecret('fd:5'), 'fd:5');
    assert.equal(describeSecret('hunter2'), '(a literal value, not shown)');
  });
});

describe('readSecret: fd:N', () => {
  test('reads to EOF and closes the fd', () => {
    const p = file('fd-secret', 'from an fd\n');
    const fd = fs.openSync(p, 'r');
    assert.equal(readSecret(`fd:${fd}`, '--pass', {}).toString(), 'from an fd');
    assert.throws(() => fs.fstatSync(fd), /EBADF/);
  });
  test('reads a pipe the parent writes and then closes (a real child process)', async () => {
    // The child stands in for tlsify: it gets the pipe as fd 3 and reads it with readSecret.
    const script = `const { readSecret } = require(${JSON.stringify(path.resolve(__dirname, '../../src/secret.ts'))}); process.stdout.write(readSecret('fd:3', '--pass', {}).toString())`;
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => (err += c));
    const pipe = child.stdio[3] as Writable;
    pipe.write('pipe ');
    setTimeout(() => pipe.end('secret\n'), 100); // EOF comes later than the first bytes
    const status = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(status, 0, err);
    assert.equal(Buffer.concat(out).toString(), 'pipe secret');
  });
  test('0, 1 and 2 are refused: they carry the plaintext and the log', () => {
    for (const n of [0, 1, 2]) fails(() => readSecret(`fd:${n}`, '--pass', {}), 'usage', /expected a descriptor number of 3 or more/);
  });
  test('an fd the launcher did not see open is refused before reading (facts §5.7)', () => {
    fails(() => readSecret('fd:7', '--pass', {}, { openFds: new Set([3]) }), 'config', /fd 7 was not open/);
  });
  test('a reserved fd is refused', () => {
    fails(() => readSecret('fd:3', '--pass', {}, { reservedFds: new Map([[3, 'the control channel']]) }), 'usage', /fd 3 is already the control channel/);
  });
  test('not a number', () => {
    fails(() => readSecret('fd:x', '--pass', {}), 'usage', /expected a descriptor number of 3 or more, got 'x'/);
  });
});

describe('readSecret: file:PATH and the permission rules', () => {
  test('0600 and 0640 are read; one trailing newline stripped', () => {
    assert.equal(readSecret(`file:${file('s600', 'pw\n')}`, '--pass', {}).toString(), 'pw');
    assert.equal(readSecret(`file:${file('s640', 'pw\n\n', 0o640)}`, '--pass', {}).toString(), 'pw\n');
  });
  test('world-readable is refused, with the fix and the container hint', () => {
    fails(() => readSecret(`file:${file('s644', 'pw', 0o644)}`, '--pass', {}), 'config', /expected a file other users cannot read, got mode 0644; chmod o-r it \(Docker and Kubernetes/);
  });
  test('group- or world-writable is refused', () => {
    fails(() => readSecret(`file:${file('s620', 'pw', 0o620)}`, '--pass', {}), 'config', /only its owner can change, got mode 0620/);
  });
  test('a directory, a missing file', () => {
    fails(() => readSecret(`file:${dir}`, '--pass', {}), 'config', /expected a regular file, got a directory/);
    fails(() => readSecret(`file:${dir}/missing`, '--pass', {}), 'config', /cannot open it \(ENOENT\)/);
  });
  test('owner-only (files tlsify creates) refuses group bits too', () => {
    const p = file('o640', 'x', 0o640);
    fails(() => assertPrivate(fs.statSync(p), 'store', 'owner-only'), 'config', /expected mode 0600/);
    assertPrivate(fs.statSync(file('o600', 'x')), 'store', 'owner-only');
  });
});

describe('key log', () => {
  const line = (label: string) => `${label} ${'ab'.repeat(32)} ${'cd'.repeat(48)}\n`;

  test('NSS lines are recognised; others are not', () => {
    for (const l of ['CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'SERVER_TRAFFIC_SECRET_0', 'EXPORTER_SECRET', 'CLIENT_RANDOM']) assert.ok(isKeylogLine(line(l)), l);
    assert.ok(!isKeylogLine('CLIENT_RANDOM abc def\n'));
    assert.ok(!isKeylogLine(line('X').trimEnd()));
    assert.ok(!isKeylogLine(line('X') + line('Y')));
  });

  test('--keylog alone: no warning; SSLKEYLOGFILE alone: a loud one; both: the flag wins', () => {
    assert.deepEqual(keylogTarget('/k', {}), { path: '/k', source: '--keylog', warning: undefined });
    assert.equal(keylogTarget(undefined, {}), undefined);
    assert.equal(keylogTarget(undefined, { SSLKEYLOGFILE: '' }), undefined);
    const env = keylogTarget(undefined, { SSLKEYLOGFILE: '/tmp/k' })!;
    assert.equal(env.source, 'SSLKEYLOGFILE');
    assert.match(env.warning!, /SSLKEYLOGFILE is set: tlsify is writing the TLS secrets of this connection to \/tmp\/k, and anyone who can read that file can decrypt the traffic/);
    assert.match(keylogTarget('/k', { SSLKEYLOGFILE: '/e' })!.warning!, /SSLKEYLOGFILE=\/e is ignored: --keylog \/k takes precedence/);
  });

  test('creates the file 0600 and appends whole lines', () => {
    const p = path.join(dir, 'keylog-new');
    const errors: unknown[] = [];
    const sink = openKeylog({ path: p, source: '--keylog', warning: undefined }, (e) => errors.push(e));
    sink.write(Buffer.from(line('CLIENT_HANDSHAKE_TRAFFIC_SECRET')));
    sink.write(Buffer.from('garbage\n')); // not a key log line: dropped
    sink.close();
    const again = openKeylog({ path: p, source: '--keylog', warning: undefined }, (e) => errors.push(e));
    again.write(Buffer.from(line('CLIENT_TRAFFIC_SECRET_0')));
    assert.equal(again.lines, 1);
    again.close();
    assert.equal(fs.statSync(p).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(p, 'utf8'), line('CLIENT_HANDSHAKE_TRAFFIC_SECRET') + line('CLIENT_TRAFFIC_SECRET_0'));
    assert.deepEqual(errors, []);
  });

  test('an existing file others can read is refused, naming the source', () => {
    const p = file('keylog-644', '', 0o644);
    fails(() => openKeylog({ path: p, source: 'SSLKEYLOGFILE', warning: 'w' }, () => {}), 'config', /SSLKEYLOGFILE=.*keylog-644: expected mode 0600/);
  });

  test('a symbolic link is refused (O_NOFOLLOW)', () => {
    const target = file('keylog-target', '');
    const link = path.join(dir, 'keylog-link');
    fs.symlinkSync(target, link);
    fails(() => openKeylog({ path: link, source: '--keylog', warning: undefined }, () => {}), 'config', /it is a symbolic link/);
  });
});
