// ca-sets.test.ts: --ca-set parsing and naming, and loading each set kind (trust/store.ts) from
// fake trees in a temp dir: OpenSSL's SSL_CERT_FILE / SSL_CERT_DIR, hashed directories read on
// lookup (trust/anchors.ts), XDG paths, Debian and Fedora.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { TlsifyError, type Code } from '../../src/codes.ts';
import { execFileSync } from 'node:child_process';
import { issue, type Issued } from '../../src/pki/generate.ts';
import type { AnchorSet } from '../../src/trust/anchors.ts';
import { parseCertificate } from '../../src/trust/cert.ts';
import { opensslNameHash } from '../../src/trust/name-hash.ts';
import type { CaSet } from '../../src/trust/policy.ts';
import { describeCaSet, loadCaSets, opensslSystemPaths, parseCaSet, type SkipBad, type StoreOptions } from '../../src/trust/store.ts';

let tmp: string;
let a: Issued, b: Issued, c: Issued, d: Issued;
before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-ca-sets-'));
  [a, b, c, d] = await Promise.all([issue({ subject: 'CN=a', ca: true }), issue({ subject: 'CN=b', ca: true }), issue({ subject: 'CN=c', ca: true }), issue({ subject: 'CN=d', ca: true })]);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A fresh directory under the temp dir. */
const fresh = (): string => fs.mkdtempSync(path.join(tmp, `t${n++}-`));
/** Writes `content` at dir/rel, making the parents. */
function put(dir: string, rel: string, content: string | Buffer): string {
  const file = path.join(dir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}
const pems = (...certs: Issued[]): string => certs.map((x) => x.certPem).join('');
const subjectOf = (x: Issued): Buffer => parseCertificate(x.der).subjectDer;
/** The name c_rehash gives x's file: <subject hash>.n. */
const hashed = (x: Issued, n = 0): string => `${opensslNameHash(subjectOf(x))}.${n}`;

const noSkip: SkipBad = (where, why) => assert.fail(`unexpected skip: ${where}: ${why}`);
/** No env by default, so the host's SSL_CERT_* and XDG_* never leak in; an empty root. */
const load = (sets: (string | CaSet)[], opts: StoreOptions = {}, skipBad = noSkip): AnchorSet =>
  loadCaSets(
    sets.map((s) => (typeof s === 'string' ? parseCaSet(s) : s)),
    skipBad,
    { root: opts.root ?? fresh(), env: opts.env ?? {}, ...(opts.configHome !== undefined && { configHome: opts.configHome }) },
  );

/** Which of a..d the set holds, and where each came from: 'a<file:/x>'. */
function holds(set: AnchorSet): string[] {
  return (['a', 'b', 'c', 'd'] as const).flatMap((name) => {
    const anchor = set.byDer({ a, b, c, d }[name].der);
    return anchor ? [`${name}<${anchor.source}>`] : [];
  });
}

function throwsCode(fn: () => unknown, code: Code, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TlsifyError, `expected a TlsifyError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

describe('parseCaSet and describeCaSet', () => {
  const forms: [string, CaSet][] = [
    ['system', { kind: 'system' }],
    ['bundled', { kind: 'bundled' }],
    ['system-no-local', { kind: 'system-no-local' }],
    ['none', { kind: 'none' }],
    ['file:/x.pem', { kind: 'file', path: '/x.pem' }],
    ['file:rel/a:b.pem', { kind: 'file', path: 'rel/a:b.pem' }],
    ['dir:/etc/ssl/certs', { kind: 'dir', path: '/etc/ssl/certs' }],
    ['@our-org', { kind: 'named', name: 'our-org' }],
    ['@A.b_c-9', { kind: 'named', name: 'A.b_c-9' }],
  ];
  for (const [text, set] of forms) {
    test(`'${text}' parses, and is named as written`, () => {
      assert.deepEqual(parseCaSet(text), set);
      assert.equal(describeCaSet(set), text);
      assert.ok(Object.isFrozen(parseCaSet(text)));
    });
  }

  const forms7 = 'system|bundled|system-no-local|file:PATH|dir:PATH|@NAME|none';
  const bad: [string, string][] = [
    ['sytem', `--ca-set: expected one of ${forms7}, got 'sytem'`],
    ['', `--ca-set: expected one of ${forms7}, got ''`],
    ['System', `--ca-set: expected one of ${forms7}, got 'System'`],
    [' system', `--ca-set: expected one of ${forms7}, got ' system'`],
    ['/etc/ssl/cert.pem', `--ca-set: expected one of ${forms7}, got '/etc/ssl/cert.pem'`],
    ['file:', `--ca-set: expected a path after 'file:', got 'file:'`],
    ['dir:', `--ca-set: expected a path after 'dir:', got 'dir:'`],
    ['@', `--ca-set: expected @NAME with NAME of [A-Za-z0-9._-]+, got '@'`],
    ['@a/b', `--ca-set: expected @NAME with NAME of [A-Za-z0-9._-]+, got '@a/b'`],
    ['@../etc/passwd', `--ca-set: expected @NAME with NAME of [A-Za-z0-9._-]+, got '@../etc/passwd'`],
    ['@our org', `--ca-set: expected @NAME with NAME of [A-Za-z0-9._-]+, got '@our org'`],
  ];
  for (const [text, message] of bad) {
    test(`'${text}' is a usage error that says expected and got`, () => throwsCode(() => parseCaSet(text), 'usage', message));
  }
});

describe('file:PATH and --ca', () => {
  test('every certificate in the file; each anchor names the set', () => {
    const file = put(fresh(), 'ca.pem', `a comment\n${pems(a, b)}`);
    const set = load([`file:${file}`]);
    assert.equal(set.name, `file:${file}`);
    assert.equal(set.size, 2);
    assert.deepEqual(holds(set), [`a<file:${file}>`, `b<file:${file}>`]);
  });

  test('errors: missing, no certificate, broken PEM, a certificate that does not parse', () => {
    const dir = fresh();
    throwsCode(() => load([`file:${dir}/nope.pem`]), 'config', `file:${dir}/nope.pem: cannot read: ENOENT`);
    const empty = put(dir, 'empty.pem', 'no PEM here\n');
    throwsCode(() => load([`file:${empty}`]), 'config', `file:${empty}: expected PEM certificates (-----BEGIN CERTIFICATE-----), found none`);
    const broken = put(dir, 'broken.pem', '-----BEGIN CERTIFICATE-----\nAAA*\n-----END CERTIFICATE-----\n');
    throwsCode(() => load([`file:${broken}`]), 'config', `file:${broken}: pem line 2: expected base64, got '*' at column 4`);
    const junk = put(dir, 'junk.pem', pems(a) + '-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n');
    throwsCode(() => load([`file:${junk}`]), 'config', new RegExp(`^file:${junk}: certificate 2: certificate: `));
  });
});

describe('dir:PATH', () => {
  test('no hashed name: every regular file, links followed; what is not PEM is passed over', () => {
    const dir = fresh();
    put(dir, 'a.pem', pems(a));
    put(dir, 'b.crt', pems(b));
    put(dir, 'README', 'not a certificate\n');
    put(dir, 'key.pem', a.keyPem);
    put(dir, 'sub/c.pem', pems(c)); // subdirectories are not entered
    fs.symlinkSync(put(fresh(), 'd.pem', pems(d)), path.join(dir, 'd-link.pem'));
    fs.symlinkSync(path.join(dir, 'gone.pem'), path.join(dir, 'dangling.pem'));
    const skipped: string[] = [];
    const set = load([`dir:${dir}`], {}, (where) => skipped.push(path.basename(where)));
    assert.equal(set.name, `dir:${dir}`);
    assert.deepEqual(holds(set), [`a<dir:${dir}>`, `b<dir:${dir}>`, `d<dir:${dir}>`]);
    assert.deepEqual(skipped, ['dangling.pem']);
  });

  test('a file with a broken PEM block is skipped and reported', () => {
    const dir = fresh();
    put(dir, 'a.pem', pems(a));
    put(dir, 'bad.pem', '-----BEGIN CERTIFICATE-----\n');
    const skipped: [string, string][] = [];
    const set = load([`dir:${dir}`], {}, (where, why) => skipped.push([where, why]));
    assert.deepEqual(holds(set), [`a<dir:${dir}>`]);
    assert.deepEqual(skipped, [[path.join(dir, 'bad.pem'), 'pem line 2: expected -----END CERTIFICATE----- for the block opened on line 1, got end of text']]);
  });

  test('errors: no certificate at all, missing, not a directory', () => {
    const dir = fresh();
    put(dir, 'README', 'nothing\n');
    throwsCode(() => load([`dir:${dir}`]), 'config', `dir:${dir}: expected PEM certificates (-----BEGIN CERTIFICATE-----) in its files, found none`);
    throwsCode(() => load([`dir:${dir}/nope`]), 'config', `dir:${dir}/nope: cannot read: ENOENT`);
    throwsCode(() => load([`dir:${dir}/README`]), 'config', `dir:${dir}/README: cannot read: ENOTDIR`);
  });
});

describe('@NAME', () => {
  test('$XDG_CONFIG_HOME/tlsify/ca-sets/NAME.pem', () => {
    const cfg = fresh();
    put(cfg, 'tlsify/ca-sets/our-org.pem', pems(a));
    const set = load(['@our-org'], { env: { XDG_CONFIG_HOME: cfg, HOME: '/nonexistent' } });
    assert.equal(set.name, '@our-org');
    assert.deepEqual(holds(set), ['a<@our-org>']);
  });

  test('XDG_CONFIG_HOME unset, empty or relative: $HOME/.config', () => {
    const home = fresh();
    put(home, '.config/tlsify/ca-sets/o.pem', pems(b));
    for (const env of [{ HOME: home }, { HOME: home, XDG_CONFIG_HOME: '' }, { HOME: home, XDG_CONFIG_HOME: 'rel/cfg' }]) {
      assert.deepEqual(holds(load(['@o'], { env })), ['b<@o>'], JSON.stringify(env));
    }
  });

  test('the configHome option stands for $XDG_CONFIG_HOME', () => {
    const cfg = fresh();
    put(cfg, 'tlsify/ca-sets/x.pem', pems(c));
    assert.deepEqual(holds(load(['@x'], { configHome: cfg, env: { XDG_CONFIG_HOME: '/nonexistent' } })), ['c<@x>']);
  });

  test('a missing file is a config error naming the path; a file without certificates too', () => {
    const cfg = fresh();
    const file = path.join(cfg, 'tlsify/ca-sets/nope.pem');
    throwsCode(() => load(['@nope'], { env: { XDG_CONFIG_HOME: cfg } }), 'config', `@nope: expected a PEM file at ${file}, found no such file`);
    const empty = put(cfg, 'tlsify/ca-sets/empty.pem', '\n');
    throwsCode(() => load(['@empty'], { env: { XDG_CONFIG_HOME: cfg } }), 'config', `@empty (${empty}): expected PEM certificates (-----BEGIN CERTIFICATE-----), found none`);
  });
});

describe('system: OpenSSL default file and hashed directory', () => {
  test('the default file and the default directory under the root, together', () => {
    const root = fresh();
    put(root, 'etc/ssl/certs/ca-certificates.crt', pems(a, b));
    put(root, `etc/ssl/certs/${hashed(c)}`, pems(c)); // a c_rehash link
    put(root, 'etc/ssl/certs/d.pem', pems(d)); // no hashed name: OpenSSL never looks it up
    const set = load(['system'], { root });
    assert.equal(set.name, 'system');
    assert.deepEqual(holds(set), ['a<system>', 'b<system>', 'c<system>']);
  });

  test('the first bundle of the list wins (Fedora path when there is no Debian one)', () => {
    const root = fresh();
    put(root, 'etc/pki/tls/certs/ca-bundle.crt', pems(a));
    put(root, 'etc/ssl/cert.pem', pems(b));
    assert.deepEqual(holds(load(['system'], { root })), ['a<system>']);
  });

  test('SSL_CERT_FILE replaces the default file only', () => {
    const root = fresh();
    put(root, 'etc/ssl/certs/ca-certificates.crt', pems(a));
    put(root, `etc/ssl/certs/${hashed(b)}`, pems(b));
    const file = put(fresh(), 'mine.pem', pems(c));
    assert.deepEqual(holds(load(['system'], { root, env: { SSL_CERT_FILE: file } })), ['b<system>', 'c<system>']);
  });

  test('SSL_CERT_DIR is a colon list replacing the default directory; missing entries are passed over', () => {
    const root = fresh();
    put(root, 'etc/ssl/certs/ca-certificates.crt', pems(a));
    put(root, `etc/ssl/certs/${hashed(b)}`, pems(b));
    const one = fresh();
    const two = fresh();
    put(one, hashed(c), pems(c));
    put(two, hashed(d), pems(d));
    put(two, 'not-hashed.pem', pems(b));
    const env = { SSL_CERT_DIR: `${one}::${tmp}/missing:${two}` };
    assert.deepEqual(holds(load(['system'], { root, env })), ['a<system>', 'c<system>', 'd<system>']);
  });

  test('both set: only they are read; set but empty: nothing from that side', () => {
    const root = fresh();
    put(root, 'etc/ssl/certs/ca-certificates.crt', pems(a));
    put(root, `etc/ssl/certs/${hashed(b)}`, pems(b));
    const file = put(fresh(), 'f.pem', pems(c));
    const dir = fresh();
    put(dir, hashed(d), pems(d));
    assert.deepEqual(holds(load(['system'], { root, env: { SSL_CERT_FILE: file, SSL_CERT_DIR: dir } })), ['c<system>', 'd<system>']);
    assert.deepEqual(holds(load(['system'], { root, env: { SSL_CERT_FILE: file, SSL_CERT_DIR: '' } })), ['c<system>']);
    const dirOnly = load(['system'], { root, env: { SSL_CERT_FILE: '' } });
    assert.deepEqual(holds(dirOnly), ['b<system>']);
    assert.equal(dirOnly.size, 0, 'size counts what was read at load time, not the hashed directory');
  });

  test('a bad certificate in the store is skipped and reported, as OpenSSL does', () => {
    const root = fresh();
    put(root, 'etc/ssl/certs/ca-certificates.crt', pems(a) + '-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n');
    const skipped: string[] = [];
    assert.deepEqual(holds(load(['system'], { root }, (where) => skipped.push(where))), ['a<system>']);
    assert.deepEqual(skipped, ['system: certificate 2']);
  });

  test('errors: an empty store says where it looked; an unreadable SSL_CERT_FILE', () => {
    const root = fresh();
    const files = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/ca-bundle.pem', '/etc/pki/tls/cacert.pem', '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem', '/etc/ssl/cert.pem'];
    throwsCode(
      () => load(['system'], { root }),
      'config',
      `system: expected certificates in one of ${files.map((f) => root + f).join(', ')} or ${root}/etc/ssl/certs/<hash>.N, found none; try --ca-set bundled or file:PATH`,
    );
    throwsCode(() => load(['system'], { root, env: { SSL_CERT_FILE: '', SSL_CERT_DIR: '' } }), 'config', 'system: expected certificates in SSL_CERT_FILE= or SSL_CERT_DIR=, found none; try --ca-set bundled or file:PATH');
    throwsCode(() => load(['system'], { root, env: { SSL_CERT_FILE: `${root}/nope` } }), 'config', `system: SSL_CERT_FILE=${root}/nope: cannot read: ENOENT`);
  });
});

describe('hashed directories: looked up by subject hash, as by_dir.c does', () => {
  const broken = '-----BEGIN CERTIFICATE-----\n';
  const brokenWhy = 'pem line 2: expected -----END CERTIFICATE----- for the block opened on line 1, got end of text';
  const ders = (anchors: readonly { cert: { der: Buffer } }[]): string[] => anchors.map((x) => x.cert.der.toString('base64'));

  test('a lookup reads only the files of its hash: a broken file under another hash is never opened', () => {
    const dir = fresh();
    put(dir, hashed(a), pems(a));
    put(dir, hashed(b), broken);
    const skipped: [string, string][] = [];
    const set = load([`dir:${dir}`], {}, (where, why) => skipped.push([where, why]));
    assert.deepEqual(set.hashedDirs, [{ dir, source: `dir:${dir}` }]);
    assert.deepEqual(
      set.bySubject(subjectOf(a)).map((x) => x.source),
      [`dir:${dir}`],
    );
    assert.deepEqual(skipped, [], `${hashed(b)} must not have been read`);
    assert.equal(set.byDer(b.der), undefined);
    assert.deepEqual(skipped, [[path.join(dir, hashed(b)), brokenWhy]]);
    set.byDer(b.der);
    set.bySubject(subjectOf(b));
    assert.equal(skipped.length, 1, 'a hash is read once and remembered');
  });

  test('two certificates with one subject: .0 and .1, in that order; the run stops at the first missing number', async () => {
    const [one, two] = await Promise.all([issue({ subject: 'CN=twin', ca: true }), issue({ subject: 'CN=twin', ca: true })]);
    const dir = fresh();
    put(dir, hashed(one, 0), pems(one));
    put(dir, hashed(one, 1), two.der); // DER is read too
    put(dir, hashed(one, 3), broken); // after the gap at .2: never opened, as in by_dir.c
    const set = load([`dir:${dir}`]);
    assert.deepEqual(ders(set.bySubject(subjectOf(one))), ders([{ cert: one }, { cert: two }]));
  });

  test('a file under the hash whose subject differs byte for byte is not returned (CN=TWIN and CN=twin share a hash)', async () => {
    const [lower, upper] = await Promise.all([issue({ subject: 'CN=twin', ca: true }), issue({ subject: 'CN=TWIN', ca: true })]);
    assert.equal(hashed(upper), hashed(lower), 'OpenSSL folds ASCII case before hashing');
    const dir = fresh();
    put(dir, hashed(lower, 0), pems(upper));
    put(dir, hashed(lower, 1), pems(lower));
    const set = load([`dir:${dir}`]);
    assert.deepEqual(ders(set.bySubject(subjectOf(lower))), ders([{ cert: lower }]));
    assert.deepEqual(ders(set.bySubject(subjectOf(upper))), ders([{ cert: upper }]));
  });

  test('a certificate filed under another hash is reported and never found, whatever was looked up before', () => {
    const dir = fresh();
    put(dir, hashed(a, 0), pems(a));
    put(dir, hashed(a, 1), pems(c)); // a stale link: c's subject hashes elsewhere
    const skipped: [string, string][] = [];
    const set = load([`dir:${dir}`], {}, (where, why) => skipped.push([where, why]));
    assert.deepEqual(ders(set.bySubject(subjectOf(a))), ders([{ cert: a }]));
    assert.equal(set.byDer(c.der), undefined);
    assert.deepEqual(skipped, [[path.join(dir, hashed(a, 1)), `expected a certificate whose subject hashes to ${hashed(a).slice(0, 8)}, got one hashing to ${hashed(c).slice(0, 8)}; run openssl rehash`]]);
  });

  test('a file that cannot be used is skipped and reported, and the run goes on', () => {
    const dir = fresh();
    put(dir, hashed(a, 0), '-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n'); // PEM, but not a certificate
    fs.mkdirSync(path.join(dir, hashed(a, 1))); // not a file
    put(dir, hashed(a, 2), 'no PEM here\n');
    put(dir, hashed(a, 3), pems(a));
    const skipped: [string, string][] = [];
    const set = load([`dir:${dir}`], {}, (where, why) => skipped.push([path.basename(where), why]));
    assert.deepEqual(ders(set.bySubject(subjectOf(a))), ders([{ cert: a }]));
    assert.deepEqual(skipped, [
      [hashed(a, 0), 'not a DER certificate'],
      [hashed(a, 1), 'cannot read: EISDIR'],
      [hashed(a, 2), 'expected a PEM or DER certificate, found none'],
    ]);
  });

  test("system: a root in both the bundle and the directory is the bundle's; size and pems count the bundle only", () => {
    const root = fresh();
    put(root, 'etc/ssl/certs/ca-certificates.crt', pems(a));
    put(root, `etc/ssl/certs/${hashed(a)}`, pems(a));
    put(root, `etc/ssl/certs/${hashed(c)}`, pems(c)); // added locally, straight into the directory
    const set = load(['system'], { root });
    assert.deepEqual(holds(set), ['a<system>', 'c<system>']);
    assert.equal(set.size, 1);
    assert.deepEqual(set.pems, [a.certPem.replace(/\r\n/g, '\n')]);
    assert.deepEqual(set.hashedDirs, [{ dir: path.join(root, 'etc/ssl/certs'), source: 'system' }]);
    assert.equal(set.bySubject(subjectOf(a)).length, 1, 'one anchor, not one per copy');
  });

  test('dir:PATH made by `openssl rehash`: only <hash>.N names are seen, as with openssl -CApath', () => {
    const dir = fresh();
    put(dir, 'a.pem', pems(a));
    put(dir, 'b.crt', pems(b));
    put(dir, 'd.txt', pems(d)); // rehash links *.pem, *.crt, *.cer, *.crl only
    execFileSync('openssl', ['rehash', dir], { stdio: 'pipe' });
    assert.ok(fs.existsSync(path.join(dir, hashed(a))), `openssl rehash made ${hashed(a)}`);
    const set = load([`dir:${dir}`]);
    assert.deepEqual(holds(set), [`a<dir:${dir}>`, `b<dir:${dir}>`]);
    assert.equal(set.size, 0);
    assert.deepEqual(set.pems, []);
  });

  test('SSL_CERT_DIR naming one directory twice looks it up once', () => {
    const dir = fresh();
    put(dir, hashed(a), pems(a));
    const set = load(['system'], { env: { SSL_CERT_FILE: '', SSL_CERT_DIR: `${dir}:${dir}` } });
    assert.deepEqual(set.hashedDirs, [{ dir, source: 'system' }]);
  });
});

describe('opensslSystemPaths: the file and hashed directory the system set uses', () => {
  test('defaults under the root; a directory without hashed names is no directory', () => {
    const root = fresh();
    put(root, 'etc/pki/tls/certs/ca-bundle.crt', pems(a));
    put(root, 'etc/ssl/certs/x.pem', pems(b));
    assert.deepEqual(opensslSystemPaths({ root, env: {} }), { file: path.join(root, 'etc/pki/tls/certs/ca-bundle.crt'), dir: undefined });
    put(root, `etc/ssl/certs/${hashed(b)}`, pems(b));
    assert.deepEqual(opensslSystemPaths({ root, env: {} }), { file: path.join(root, 'etc/pki/tls/certs/ca-bundle.crt'), dir: path.join(root, 'etc/ssl/certs') });
    assert.deepEqual(opensslSystemPaths({ root: fresh(), env: {} }), { file: undefined, dir: undefined });
  });

  test('SSL_CERT_FILE and SSL_CERT_DIR, as the system set reads them', () => {
    const root = fresh();
    put(root, 'etc/ssl/certs/ca-certificates.crt', pems(a));
    put(root, `etc/ssl/certs/${hashed(a)}`, pems(a));
    const one = fresh();
    const two = fresh();
    const plain = fresh();
    put(one, hashed(b), pems(b));
    put(two, hashed(c), pems(c));
    put(plain, 'd.pem', pems(d));
    const env = { SSL_CERT_FILE: '/x/mine.pem', SSL_CERT_DIR: `${one}:${plain}::${tmp}/missing:${two}:${one}` };
    assert.deepEqual(opensslSystemPaths({ root, env }), { file: '/x/mine.pem', dir: `${one}:${two}` });
    assert.deepEqual(opensslSystemPaths({ root, env: { SSL_CERT_FILE: '', SSL_CERT_DIR: '' } }), { file: undefined, dir: undefined });
    assert.deepEqual(opensslSystemPaths({ root, env: { SSL_CERT_DIR: plain } }), { file: path.join(root, 'etc/ssl/certs/ca-certificates.crt'), dir: undefined });
    const file = put(fresh(), 'f.pem', pems(d));
    const set = load(['system'], { root, env: { SSL_CERT_FILE: file, SSL_CERT_DIR: `${one}:${two}` } });
    assert.deepEqual(holds(set), ['b<system>', 'c<system>', 'd<system>']);
    assert.deepEqual(
      set.hashedDirs.map((h) => h.dir),
      opensslSystemPaths({ root, env: { SSL_CERT_FILE: file, SSL_CERT_DIR: `${one}:${two}` } }).dir!.split(':'),
    );
  });
});

describe('bundled', () => {
  test("Node's Mozilla list, every certificate of it", () => {
    const set = load(['bundled']);
    assert.equal(set.name, 'bundled');
    assert.equal(set.size, tls.rootCertificates.length);
    for (const pem of tls.rootCertificates) {
      const der = Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
      assert.equal(set.byDer(der)?.source, 'bundled');
    }
  });
});

describe('system-no-local', () => {
  function debian(): string {
    const root = fresh();
    put(root, 'etc/ca-certificates.conf', 'mozilla/A.crt\n');
    put(root, 'etc/ssl/certs/ca-certificates.crt', pems(a, b, c)); // update-ca-certificates' merge
    put(root, 'usr/local/share/ca-certificates/corp/b.crt', pems(b));
    put(root, 'usr/local/share/ca-certificates/c.pem', pems(c)); // not *.crt: update-ca-certificates ignores it
    put(root, `etc/ssl/certs/${hashed(d)}`, pems(d)); // hashed straight into the directory: not in the bundle
    return root;
  }

  test('Debian: the bundle minus every *.crt below /usr/local/share/ca-certificates', () => {
    const root = debian();
    const set = load(['system-no-local'], { root });
    assert.equal(set.name, 'system-no-local');
    assert.deepEqual(holds(set), ['a<system-no-local>', 'c<system-no-local>']);
    assert.deepEqual(holds(load(['system'], { root })), ['a<system>', 'b<system>', 'c<system>', 'd<system>']);
  });

  test('SSL_CERT_FILE and SSL_CERT_DIR do not change it: they are local settings', () => {
    const file = put(fresh(), 'f.pem', pems(d));
    assert.deepEqual(holds(load(['system-no-local'], { root: debian(), env: { SSL_CERT_FILE: file, SSL_CERT_DIR: '' } })), ['a<system-no-local>', 'c<system-no-local>']);
  });

  test('Fedora: the extracted bundle minus /etc/pki/ca-trust/source and the package anchors', () => {
    const root = fresh();
    put(root, 'etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem', pems(a, b, c, d));
    put(root, 'usr/share/pki/ca-trust-source/ca-bundle.trust.p11-kit', `[p11-kit-object-v1]\nclass: certificate\n${pems(a)}`); // the distribution's
    put(root, 'etc/pki/ca-trust/source/anchors/b.der', b.der); // DER is accepted there
    const trusted = Buffer.concat([c.der, Buffer.from([0x30, 0x00])]).toString('base64');
    put(root, 'etc/pki/ca-trust/source/c.crt', `-----BEGIN TRUSTED CERTIFICATE-----\n${trusted.match(/.{1,64}/g)!.join('\n')}\n-----END TRUSTED CERTIFICATE-----\n`);
    put(root, 'usr/share/pki/ca-trust-source/anchors/d.pem', pems(d));
    assert.deepEqual(holds(load(['system-no-local'], { root })), ['a<system-no-local>']);
  });

  test('errors: an unknown platform says what was looked for; a missing bundle; an unreadable local file', () => {
    const root = fresh();
    throwsCode(
      () => load(['system-no-local'], { root }),
      'config',
      `system-no-local: cannot tell the distribution's roots from local ones: expected ${root}/etc/ca-certificates.conf (update-ca-certificates (Debian, Ubuntu)) or ${root}/etc/pki/ca-trust (update-ca-trust (Fedora, RHEL)), found neither`,
    );
    put(root, 'etc/ca-certificates.conf', '');
    throwsCode(() => load(['system-no-local'], { root }), 'config', `system-no-local: expected the bundle of update-ca-certificates (Debian, Ubuntu) at ${root}/etc/ssl/certs/ca-certificates.crt, found no such file`);
    put(root, 'etc/ssl/certs/ca-certificates.crt', pems(a));
    const dir = path.join(root, 'usr/local/share/ca-certificates');
    fs.mkdirSync(path.join(dir, 'x.crt'), { recursive: true });
    fs.symlinkSync(path.join(dir, 'loop.crt'), path.join(dir, 'loop.crt'));
    throwsCode(() => load(['system-no-local'], { root }), 'config', new RegExp(`^system-no-local: cannot tell which certificates were added locally: ${dir}/loop.crt: ELOOP`));
  });
});

describe('the union', () => {
  test('every set is trusted; the name joins them with +; the first set owns a duplicate', () => {
    const one = put(fresh(), 'one.pem', pems(a, b));
    const dir = fresh();
    put(dir, 'x.pem', pems(b, c));
    const set = load([`file:${one}`, `dir:${dir}`]);
    assert.equal(set.name, `file:${one}+dir:${dir}`);
    assert.equal(set.size, 3);
    assert.deepEqual(holds(set), [`a<file:${one}>`, `b<file:${one}>`, `c<dir:${dir}>`]);
    assert.deepEqual(holds(load([`dir:${dir}`, `file:${one}`])), [`a<file:${one}>`, `b<dir:${dir}>`, `c<dir:${dir}>`]);
  });

  test('a set given twice is read once', () => {
    const one = put(fresh(), 'one.pem', pems(a));
    const set = load([`file:${one}`, `file:${one}`]);
    assert.equal(set.name, `file:${one}`);
    assert.equal(set.size, 1);
  });

  test('system + bundled + a file', () => {
    const root = fresh();
    put(root, 'etc/ssl/cert.pem', pems(a));
    const file = put(fresh(), 'f.pem', pems(a, b));
    const set = load(['system', 'bundled', `file:${file}`], { root });
    assert.equal(set.name, `system+bundled+file:${file}`);
    assert.equal(set.size, 2 + tls.rootCertificates.length);
    assert.deepEqual(holds(set), ['a<system>', `b<file:${file}>`]);
  });
});

describe('none', () => {
  test('trusts no CA', () => {
    const set = load(['none']);
    assert.equal(set.name, 'none');
    assert.equal(set.size, 0);
    assert.deepEqual(set.pems, []);
  });

  test('with another set, or no set at all: usage errors', () => {
    throwsCode(() => load(['none', 'system']), 'usage', `--ca-set: expected 'none' alone (it trusts no CA), got none+system`);
    throwsCode(() => load(['bundled', 'none']), 'usage', `--ca-set: expected 'none' alone (it trusts no CA), got bundled+none`);
    throwsCode(() => load([]), 'usage', '--ca-set: expected at least one of system|bundled|system-no-local|file:PATH|dir:PATH|@NAME|none, got none');
  });
});

// Load times are measured by `npm run bench`, not asserted here; this only checks both load.
describe('the real stores', () => {
  test('bundled holds Node\'s list, and system loads where there is one', (t) => {
    const bundled = loadCaSets([{ kind: 'bundled' }], () => {}, { env: {} });
    assert.ok(bundled.size > 100, `bundled: ${bundled.size} anchors`);
    let system;
    try {
      system = loadCaSets([{ kind: 'system' }], () => {}, { env: {} });
    } catch (err) {
      return t.skip(`no system store here: ${(err as Error).message}`);
    }
    assert.ok(system.size + system.hashedDirs.length > 0);
  });
});
