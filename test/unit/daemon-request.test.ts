// unit/daemon-request.test.ts: the daemon's request line (protocol/daemon.md §3): what parses,
// and every option a socket peer must not choose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TlsifyError } from '../../src/codes.ts';
import { parseRequest, type RequestRules } from '../../src/daemon/request.ts';

const usage = (line: string, pattern: RegExp, rules?: RequestRules): void => {
  assert.throws(() => parseRequest(line, rules), (err: unknown) => err instanceof TlsifyError && err.code === 'usage' && pattern.test(err.message), line);
};

test('connect HOST:PORT with safe options gives a connect config with no fds', () => {
  const r = parseRequest('connect example.com:443 --alpn h2,http/1.1 --min-tls 1.3 --ca-set system --pin sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=');
  assert.equal(r.kind, 'connect');
  if (r.kind !== 'connect') return;
  assert.equal(r.config.host, 'example.com');
  assert.equal(r.config.port, 443);
  assert.deepEqual(r.config.alpn, ['h2', 'http/1.1']);
  assert.equal(r.config.controlFd, undefined);
  assert.equal(r.config.netFd, undefined);
  assert.equal(r.ramResume, false);
});

test('values are %-escaped as in control.md, and a trailing CR is tolerated', () => {
  const r = parseRequest(`connect h:1 --tlsa 3%201%201%20${'ab'.repeat(32)} --servername x.example\r`);
  assert.equal(r.kind === 'connect' && r.config.sni, 'x.example');
  assert.equal(r.kind === 'connect' && r.config.policy.tlsa.length, 1);
});

test('--resume ram selects the RAM cache; --resume off is allowed; any other mode is not', () => {
  const r = parseRequest('connect h:1 --resume ram');
  assert.equal(r.kind === 'connect' && r.ramResume, true);
  assert.equal(r.kind === 'connect' && r.config.resume.kind, 'off');
  assert.equal(parseRequest('connect h:1 --resume=ram').kind, 'connect');
  usage('connect h:1 --resume caller', /expected ram or off/);
  usage('connect h:1 --resume file:/tmp/x', /expected ram or off/);
});

test('status ID', () => {
  assert.deepEqual(parseRequest('status 42'), { kind: 'status', id: 42 });
  usage('status', /one connection id/);
  usage('status 0', /one connection id/);
  usage('status 1 2', /one connection id/);
});

test('options that read files, use fds or write state are refused, in both spellings', () => {
  for (const opt of ['--ca x', '--ca=x', '--crl x', '--keylog k', '--net-fd 3', '--control-fd=4', '--cert c', '--key k', '--pkcs12 p', '--pass env:X', '--tack t', '--tack-break b', '--tack-activate', '--hpkp-max-age 1', '--resume-from env:X', '--log-level debug', '--help', '-h', '--version']) {
    usage(`connect h:1 ${opt}`, /not allowed over the daemon socket/);
  }
});

test('--ca-set: system sets and @NAME pass; file: and dir: do not', () => {
  for (const set of ['system', 'bundled', 'system-no-local', '@corp']) assert.equal(parseRequest(`connect h:1 --ca-set ${set}`).kind, 'connect');
  usage('connect h:1 --ca-set file:/etc/passwd', /got a file: path/);
  usage('connect h:1 --ca-set dir:/etc', /got a dir: path/);
  usage('connect h:1 --ca-set @../x', /@NAME/);
});

test('--pin-store none passes; a path or a name does not', () => {
  assert.equal(parseRequest('connect h:1 --pin-store none').kind, 'connect');
  usage('connect h:1 --pin-store /tmp/p', /only none/);
  usage('connect h:1 --pin-store=/tmp/p', /only none/);
  usage('connect h:1 --pin-store @other', /only none/);
});

test('malformed lines say what was expected', () => {
  usage('', /empty line/);
  usage('dial h:1', /expected connect, status or control/);
  usage('connect  h:1', /single spaces/);
  usage('connect h:1 --servername a%zz', /two hex digits/);
  usage('connect h', /no port/);
  usage('connect a:1 b:2', /one HOST:PORT/);
});

test('control ID', () => {
  assert.deepEqual(parseRequest('control 7'), { kind: 'control', id: 7 });
  usage('control', /control: expected one connection id/);
  usage('control x', /control: expected one connection id/);
});

test('--hold and --hold-timeout set the hold time; --hold-timeout alone or a bad value is refused', () => {
  const r = parseRequest('connect h:1 --hold');
  assert.equal(r.kind === 'connect' && r.config.holdMs, 30_000);
  assert.equal(r.kind === 'connect' && r.config.controlFd, undefined);
  const t = parseRequest('connect h:1 --hold --hold-timeout=2.5 --connect-timeout 4');
  assert.equal(t.kind === 'connect' && t.config.holdMs, 2500);
  assert.equal(t.kind === 'connect' && t.config.connectTimeoutMs, 4000);
  usage('connect h:1 --hold-timeout 3', /goes with --hold/);
  usage('connect h:1 --hold --hold-timeout 0', /--hold-timeout: expected seconds/);
  usage('connect h:1 --hold=yes', /takes no value/);
});

const rules: RequestRules = { identities: new Set(['client', 'ops']), pinWrites: true };

test('--identity NAME: only a name the daemon was started with', () => {
  const r = parseRequest('connect h:1 --identity client', rules);
  assert.equal(r.kind === 'connect' && r.identity, 'client');
  assert.equal(parseRequest('connect h:1').kind === 'connect' && (parseRequest('connect h:1') as { identity?: string }).identity, undefined);
  usage('connect h:1 --identity other', /expected one of the daemon's identities \(client, ops\), got 'other'/, rules);
  usage('connect h:1 --identity client', /it has none: start it with --identity NAME=CERT,KEY/);
  usage('connect h:1 --identity client --identity ops', /given twice/, rules);
  usage('connect h:1 --identity', /got ''/, rules);
});

test('--tofu only when the daemon allows pin writes', () => {
  const r = parseRequest('connect h:1 --tofu learn', rules);
  assert.equal(r.kind === 'connect' && r.config.tofu, 'learn');
  usage('connect h:1 --tofu learn', /start it with --pin-writes/);
  usage('connect h:1 --tofu learn --pin-store none', /--pin-store is none/, rules);
});

test('--send-fd: the port is optional and the fd is a placeholder that no fstat accepts', () => {
  const r = parseRequest('connect mail.example --send-fd');
  assert.equal(r.kind === 'connect' && r.sendFd, true);
  assert.equal(r.kind === 'connect' && r.config.netFd, -1);
  assert.equal(r.kind === 'connect' && r.config.controlFd, undefined);
  assert.equal(r.kind === 'connect' && r.config.sni, 'mail.example');
  assert.equal(parseRequest('connect h:1').kind === 'connect' && (parseRequest('connect h:1') as { sendFd: boolean }).sendFd, false);
});
