// test/e2e/cli.test.ts: the command line as a user meets it: help, version, bad flags, bad
// values and missing files, each with its documented exit status and an expected/got message.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { codes } from '../../src/codes.ts';
import { TLSIFY } from '../helpers/tlsify.ts';

function tlsify(...args: string[]) {
  const r = spawnSync(TLSIFY, args, { encoding: 'utf8', input: '' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--help teaches with examples and lists every exit status', () => {
  const r = tlsify('--help');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /Examples:/);
  for (const [name, c] of Object.entries(codes)) assert.match(r.stdout, new RegExp(`\\b${c.exit}\\s+${name}\\b`));
  assert.match(tlsify('connect', '--help').stdout, /--servername NAME/);
});

test('--version names tlsify, node and OpenSSL', () => {
  const r = tlsify('--version');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^tlsify \d+\.\d+\.\d+ \(node \d+.*OpenSSL/);
});

const usage: [string[], RegExp][] = [
  [[], /expected a command \(connect, accept, verify, pin, demo\), got nothing/],
  [['frobnicate'], /expected a command \(connect, accept, verify, pin, demo\), got 'frobnicate'/],
  [['connect'], /expected one HOST:PORT, got none/],
  [['connect', 'example.com'], /expected HOST:PORT or \[IPv6\]:PORT, got 'example.com' \(no port\)/],
  [['connect', 'example.com:0'], /expected a port from 1 to 65535 in 'example.com:0', got '0'/],
  [['connect', 'example.com:65536'], /got '65536'/],
  [['connect', 'example.com:https'], /got 'https'/],
  [['connect', '::1:443'], /IPv6 address needs brackets/],
  [['connect', 'a:1', '--bogus'], /unknown option '--bogus'/],
  [['connect', 'a:1', '--min-tls', '1.1'], /--min-tls: expected 1.2 or 1.3, got '1.1'/],
  [['connect', 'a:1', '--ca'], /--ca: expected a PEM file of trusted certificates, got nothing/],
  [['connect', 'a:1', '--servername', 'x', '--servername', 'y'], /--servername given 2 times; expected it once/],
  [['connect', 'a:1', '--pin', 'sha1/AAAA'], /--pin: .*SHA-256 only, got sha1/],
  [['connect', 'a:1', '--pin-only'], /--pin-only needs at least one --pin/],
  [['connect', 'a:1', '--tlsa', '1 1 1 00'], /--tlsa: .*DANE-TA\(2\) and DANE-EE\(3\) only/],
  [['connect', 'a:1', '--ocsp', 'maybe'], /--ocsp: expected off, check or require, got 'maybe'/],
  [['connect', 'a:1', '--hold-timeout', '3'], /--hold-timeout goes with --hold/],
  [['connect', 'a:1', '--chain', 'x'], /--chain does not apply to 'connect'/],
  [['verify', '--chain', 'x'], /verify: expected an identity to check/],
  [['verify', '--chain', 'x', '--host', 'a', '--at', 'tomorrow'], /--at: expected an ISO 8601 time/],
  [['pin', '--ca', 'x'], /--ca applies to 'pin --connect' only/],
  [['pin', '--backup', 'x'], /--backup, --max-age and --include-subdomains go with --hpkp/],
  [['connect', 'a:1', '--connect-timeout', '-1'], /--connect-timeout: expected seconds/],
  [['connect', 'a:1', '--control-fd', '2'], /--control-fd: expected a descriptor number of 3 or more, or none, got '2'/],
  [['connect', 'a:1', '--net-fd', '7'], /--net-fd 7: expected a descriptor the parent passed to tlsify, but fd 7 was not open/],
  [['connect', 'a:1', '--log-level', 'loud'], /--log-level: expected one of fatal\|error\|warn\|info\|debug\|trace\|silent, got 'loud'/],
  [['connect', 'a:1', '--close-on-eof=yes'], /--close-on-eof takes no value/],
  [['connect', 'a:1', '--alpn', 'h2,,x'], /--alpn: expected comma-separated protocol names/],
  [['connect', 'a:1', '--servername', 'bad_name!'], /--servername: /],
];

for (const [args, message] of usage) {
  test(`usage error: tlsify ${args.join(' ') || '(nothing)'}`, () => {
    const r = tlsify(...args);
    assert.equal(r.status, codes.usage.exit, r.stderr);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /^tlsify: /);
    assert.equal(r.stdout, '');
  });
}

test('a missing --ca file is a config error that names the file', () => {
  const r = tlsify('connect', '127.0.0.1:9', '--ca', '/nonexistent/ca.pem', '--log-level', 'error');
  assert.equal(r.status, codes.config.exit);
  assert.match(r.stderr, /file:\/nonexistent\/ca.pem: cannot read: ENOENT/);
});

test('a --ca file with no certificate in it is a config error', () => {
  const r = tlsify('connect', '127.0.0.1:9', '--ca', '/etc/hostname');
  assert.equal(r.status, codes.config.exit);
  assert.match(r.stderr, /expected PEM certificates .* found none/);
});

test('node options that could leak keys are refused when tlsify is run without its launcher', () => {
  const r = spawnSync(process.execPath, ['--tls-keylog=/dev/null', `${TLSIFY}/../../dist/tlsify.cjs`, '--version'], { encoding: 'utf8' });
  assert.equal(r.status, codes.config.exit);
  assert.match(r.stderr, /refusing to run with Node options \(--tls-keylog=\/dev\/null\)/);
});

test('the README exit-status table is the code table', () => {
  const readme = require('node:fs').readFileSync(require('node:path').resolve(__dirname, '../../README.md'), 'utf8') as string;
  const rows = [...readme.matchAll(/^\| (\d+) \| `([a-z-]+)` \| (.+) \|$/gm)].map((m) => [m[2], Number(m[1]), m[3]]);
  assert.deepEqual(rows, Object.entries(codes).map(([name, c]) => [name, c.exit, c.summary]));
});

test('--net-fd 3 takes fd 3 from the control channel instead of clashing with it', () => {
  // A C parent's first socket() is fd 3; `--net-fd 3` must then just work (without a channel).
  const r = spawnSync(TLSIFY, ['connect', 'localhost', '--net-fd', '3', '--ca', '/nonexistent'], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
  assert.equal(r.status, codes.config.exit, r.stderr);
  assert.doesNotMatch(r.stderr, /name the same fd/);
});

test('tlsify demo: a first run with no network shows the transcript and the echo, exit 0', () => {
  const r = tlsify('demo');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /fd 3> +hello proto=1/);
  assert.match(r.stdout, /fd 3> +cert depth=0 role=leaf .*pin=sha256\//);
  assert.match(r.stdout, /stdout> echo: hello through tlsify/);
  assert.match(r.stdout, /fd 3> +end code=ok exit=0/);
});

test('on a terminal the log is one plain line, not JSON', (t) => {
  if (spawnSync('sh', ['-c', 'command -v script']).status !== 0) return t.skip('util-linux script(1) is not installed');
  // script(1) gives tlsify a pty as stderr, as a person at a terminal has.
  const r = spawnSync('script', ['-qc', `${TLSIFY} connect no-such-host.invalid:443 </dev/null`, '/dev/null'], { encoding: 'utf8' });
  assert.match(r.stdout, /^tlsify: error: cannot resolve 'no-such-host\.invalid': \w+ \(code=resolve exit=4\)\r?\n/);
  assert.doesNotMatch(r.stdout, /"level"/);
});

describe('an inherited socket Node cannot stream (a datagram socketpair, as socat leaks on fd 3)', () => {
  // Python puts one end of an AF_UNIX SOCK_DGRAM socketpair on fd 3, then execs tlsify.
  const withDgramOn3 = (args: readonly string[]) =>
    spawnSync('python3', ['-c', 'import os, socket, sys\na, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)\nif a.fileno() != 3: os.dup2(a.fileno(), 3)\nos.set_inheritable(3, True)\nos.execv(sys.argv[1], sys.argv[1:])', TLSIFY, ...args], { encoding: 'utf8', input: '' });

  test('as the default control channel: exit 2, naming fd 3 and --control-fd none; no crash', (t) => {
    if (spawnSync('python3', ['-V']).error) return void t.skip('python3 is not installed');
    const r = withDgramOn3(['connect', '127.0.0.1:1']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /fd 3 \(the control channel\): expected a stream socket, got a socket that is not a stream .*--control-fd none/);
    assert.doesNotMatch(r.stderr, /internal|Unsupported fd type/);
  });

  test('as --net-fd: exit 5 (connect), naming --net-fd 3', (t) => {
    if (spawnSync('python3', ['-V']).error) return void t.skip('python3 is not installed');
    const r = withDgramOn3(['connect', 'localhost', '--net-fd', '3', '--control-fd', 'none']);
    assert.equal(r.status, 5, r.stderr);
    assert.match(r.stderr, /--net-fd 3: expected a stream socket/);
  });
});
