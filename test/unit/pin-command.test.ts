// pin-command.test.ts: `tlsify pin` over real files (fixture PKI, openssl-made keys in PEM and DER),
// checked against the openssl pipeline that RFC 7469 §2.4 pins are usually made with.
import assert from 'node:assert/strict';
import { execFileSync, execSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TlsifyError } from '../../src/codes.ts';
import { runPin, type PinArgs } from '../../src/commands/pin.ts';
import { parsePins } from '../../src/trust/pins.ts';
import { fixturePki, type FixturePki } from '../helpers/pki.ts';

const ROOT = resolve(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'tlsify-pin-test-'));
let pki: FixturePki;
const f = (name: string): string => join(dir, name);
const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
/** The pin as the usual shell recipe makes it (the `openssl ... | base64` pipeline). */
const sh = (cmd: string): string => execSync(`sh -c '${cmd}'`, { cwd: dir, encoding: 'utf8' }).trim();
const certPinByOpenssl = (cert: string): string =>
  sh(`openssl x509 -pubkey -noout -in "${cert}" | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`);
const keyPinByOpenssl = (key: string, pub = false): string =>
  sh(`openssl pkey ${pub ? '-pubin' : ''} -in "${key}" -pubout -outform der | openssl dgst -sha256 -binary | base64`);

before(async () => {
  pki = await fixturePki();
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ec.key.pem');
  openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'rsa.key.pem');
  openssl('genpkey', '-algorithm', 'ED25519', '-out', 'ed.key.pem');
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', 'backup.key.pem');
  for (const k of ['ec', 'rsa']) {
    openssl('pkey', '-in', `${k}.key.pem`, '-pubout', '-out', `${k}.pub.pem`);
    openssl('pkey', '-in', `${k}.key.pem`, '-pubout', '-outform', 'der', '-out', `${k}.pub.der`);
    openssl('pkey', '-in', `${k}.key.pem`, '-outform', 'der', '-out', `${k}.key.der`); // PKCS#8
    openssl('pkey', '-in', `${k}.key.pem`, '-traditional', '-out', `${k}.trad.pem`); // PKCS#1 / SEC1
    openssl('pkey', '-in', `${k}.key.pem`, '-traditional', '-outform', 'der', '-out', `${k}.trad.der`);
  }
  openssl('rsa', '-in', 'rsa.key.pem', '-RSAPublicKey_out', '-out', 'rsa.pkcs1pub.pem');
  openssl('rsa', '-in', 'rsa.key.pem', '-RSAPublicKey_out', '-outform', 'der', '-out', 'rsa.pkcs1pub.der');
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-out', 'ecparam.pem'); // EC PARAMETERS, then EC PRIVATE KEY
  openssl('x509', '-in', pki.good.certFile, '-outform', 'der', '-out', 'good.cert.der');
  openssl('pkey', '-in', 'ec.key.pem', '-aes256', '-passout', 'pass:x', '-out', 'enc.pkcs8.pem');
  openssl('pkey', '-in', 'ec.key.pem', '-traditional', '-aes256', '-passout', 'pass:x', '-out', 'enc.trad.pem');
  openssl('pkcs8', '-topk8', '-in', 'ec.key.pem', '-v2', 'aes256', '-passout', 'pass:x', '-outform', 'der', '-out', 'enc.pkcs8.der');
  openssl('req', '-new', '-key', 'ec.key.pem', '-subj', '/CN=csr', '-out', 'req.csr');
  // Several blocks in one file: a certificate, a public key and a private key, with text between.
  const mixed = ['# leaf', readFileSync(pki.good.certFile, 'utf8'), 'comment', readFileSync(f('rsa.pub.pem'), 'utf8'), readFileSync(f('ec.trad.pem'), 'utf8')];
  writeFileSync(f('mixed.pem'), mixed.join('\n'));
  writeFileSync(f('empty'), '');
  writeFileSync(f('garbage.txt'), 'not a key\n');
  writeFileSync(f('truncated.der'), readFileSync(f('good.cert.der')).subarray(0, 100));
  writeFileSync(f('bad-base64.pem'), '-----BEGIN CERTIFICATE-----\nMII*\n-----END CERTIFICATE-----\n');
  writeFileSync(f('not-a-cert.pem'), `-----BEGIN CERTIFICATE-----\n${readFileSync(f('ec.pub.der')).toString('base64')}\n-----END CERTIFICATE-----\n`);
  writeFileSync(f('cert-then-enc.pem'), readFileSync(pki.good.certFile, 'utf8') + readFileSync(f('enc.trad.pem'), 'utf8'));
});

after(() => {
  pki.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const defaults: PinArgs = { files: [], hpkp: false, backup: [], maxAge: 5184000, includeSubDomains: false };

async function pin(files: string[], more: Partial<PinArgs> = {}): Promise<string[]> {
  const lines: string[] = [];
  const status = await runPin({ ...defaults, files, ...more }, (s) => lines.push(s));
  assert.equal(status, 0);
  assert.ok(lines.every((l) => l.endsWith('\n') && l.indexOf('\n') === l.length - 1), 'one line per call');
  return lines.map((l) => l.slice(0, -1));
}

const LINE = /^sha256\/\/([A-Za-z0-9+/]{43}=) pin-sha256="([A-Za-z0-9+/]{43}=)" (.+)$/;
/** Splits one output line, checking both columns carry the same pin. */
function parseLine(line: string): { b64: string; label: string } {
  const m = LINE.exec(line);
  assert.ok(m, `unexpected output line: ${line}`);
  assert.equal(m[1], m[2]);
  return { b64: m[1]!, label: m[3]! };
}

async function pinOne(file: string): Promise<{ b64: string; label: string }> {
  const lines = await pin([file]);
  assert.equal(lines.length, 1);
  return parseLine(lines[0]!);
}

describe('pins agree with the openssl pipeline', () => {
  test('fixture certificate, PEM: the key acceptance check', async () => {
    assert.deepEqual(await pinOne(pki.good.certFile), { b64: certPinByOpenssl(pki.good.certFile), label: 'CN=localhost' });
    assert.equal(`sha256/${certPinByOpenssl(pki.good.certFile)}`, pki.good.issued.spkiPin);
  });

  test('RSA fixture certificate and the roots', async () => {
    for (const cert of [pki.rsa.certFile, pki.intermediateFile, pki.untrustedCaFile]) {
      assert.equal((await pinOne(cert)).b64, certPinByOpenssl(cert), cert);
    }
  });

  test('certificate in DER', async () => {
    assert.deepEqual(await pinOne(f('good.cert.der')), { b64: certPinByOpenssl(pki.good.certFile), label: 'CN=localhost' });
  });

  const keys: [string, string, boolean, string][] = [
    ['ec.pub.pem', 'ec.key.pem', true, 'public-key (ec P-256)'],
    ['ec.pub.der', 'ec.key.pem', true, 'public-key (ec P-256)'],
    ['ec.key.pem', 'ec.key.pem', false, 'private-key (ec P-256)'],
    ['ec.key.der', 'ec.key.pem', false, 'private-key (ec P-256)'],
    ['ec.trad.pem', 'ec.key.pem', false, 'private-key (ec P-256)'],
    ['ec.trad.der', 'ec.key.pem', false, 'private-key (ec P-256)'],
    ['rsa.pub.pem', 'rsa.key.pem', true, 'public-key (rsa 2048)'],
    ['rsa.pub.der', 'rsa.key.pem', true, 'public-key (rsa 2048)'],
    ['rsa.pkcs1pub.pem', 'rsa.key.pem', true, 'public-key (rsa 2048)'],
    ['rsa.pkcs1pub.der', 'rsa.key.pem', true, 'public-key (rsa 2048)'],
    ['rsa.key.pem', 'rsa.key.pem', false, 'private-key (rsa 2048)'],
    ['rsa.key.der', 'rsa.key.pem', false, 'private-key (rsa 2048)'],
    ['rsa.trad.pem', 'rsa.key.pem', false, 'private-key (rsa 2048)'],
    ['rsa.trad.der', 'rsa.key.pem', false, 'private-key (rsa 2048)'],
    ['ed.key.pem', 'ed.key.pem', false, 'private-key (ed25519)'],
  ];
  for (const [file, key, isPublic, label] of keys) {
    test(`${file} -> ${label}`, async () => {
      const got = await pinOne(f(file));
      assert.deepEqual(got, { b64: keyPinByOpenssl(f(key)), label });
      // The public half openssl wrote pins the same through its own pipeline.
      if (isPublic) assert.equal(got.b64, keyPinByOpenssl(f(key.replace('.key.', '.pub.')), true));
    });
  }

  test('a private key and the certificate made from it pin the same', async () => {
    assert.equal((await pinOne(pki.good.keyFile)).b64, (await pinOne(pki.good.certFile)).b64);
  });
});

test('no private key material is printed: only the pin and the key kind', async () => {
  const lines = await pin([f('ec.key.pem'), f('rsa.trad.pem')]);
  const text = lines.join('\n');
  // Any 12-byte window of the key files must not appear, in base64 or hex.
  for (const file of ['ec.key.der', 'rsa.trad.der']) {
    const bytes = readFileSync(f(file));
    for (let i = 0; i + 12 <= bytes.length; i += 12) {
      const w = bytes.subarray(i, i + 12);
      assert.ok(!text.includes(w.toString('base64')) && !text.includes(w.toString('hex')), `${file} bytes ${i}.. printed`);
    }
  }
  assert.deepEqual(lines.map((l) => parseLine(l).label), ['private-key (ec P-256)', 'private-key (rsa 2048)']);
});

test('a file with several PEM blocks: one line per object, in order; EC PARAMETERS is skipped', async () => {
  const lines = (await pin([f('mixed.pem'), f('ecparam.pem')])).map(parseLine);
  assert.deepEqual(lines.map((l) => l.label), ['CN=localhost', 'public-key (rsa 2048)', 'private-key (ec P-256)', 'private-key (ec P-256)']);
  assert.equal(lines[0]!.b64, certPinByOpenssl(pki.good.certFile));
  assert.equal(lines[1]!.b64, keyPinByOpenssl(f('rsa.key.pem')));
  assert.equal(lines[2]!.b64, keyPinByOpenssl(f('ec.key.pem')));
  assert.equal(lines[3]!.b64, keyPinByOpenssl(f('ecparam.pem')));
});

test('the CA file: both roots, with their subjects', async () => {
  const labels = (await pin([pki.caFile])).map((l) => parseLine(l).label);
  assert.deepEqual(labels, ['CN=tlsify test root', 'CN=tlsify test RSA root']);
});

describe("stdin ('-'), in a child process so the test never waits on its own stdin", () => {
  const script = `require(${JSON.stringify(join(ROOT, 'src/commands/pin.ts'))}).runPin({ files: ['-'], hpkp: false, backup: [], maxAge: 0, includeSubDomains: false }, (s) => process.stdout.write(s)).then((c) => { process.exitCode = c; }, (e) => { process.stderr.write(e.message); process.exitCode = 3; });`;
  const viaStdin = (input: Buffer): string =>
    execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, input, encoding: 'utf8', timeout: 30_000, stdio: ['pipe', 'pipe', 'pipe'] });

  test('PEM on stdin', () => {
    const { b64, label } = parseLine(viaStdin(readFileSync(pki.good.certFile)).trimEnd());
    assert.deepEqual({ b64, label }, { b64: certPinByOpenssl(pki.good.certFile), label: 'CN=localhost' });
  });

  test('DER on stdin', () => {
    assert.equal(parseLine(viaStdin(readFileSync(f('rsa.pub.der'))).trimEnd()).b64, keyPinByOpenssl(f('rsa.key.pem')));
  });

  test('errors name stdin', () => {
    assert.throws(() => viaStdin(Buffer.from('hello\n')), (e: { stderr: string; status: number }) => {
      assert.equal(e.status, 3);
      assert.match(e.stderr, /^stdin: expected PEM \(-----BEGIN \.\.\.-----\) or DER/);
      return true;
    });
  });
});

describe('--hpkp (RFC 7469 §2.1, §4.3)', () => {
  test('one header value from the pins read plus the backup pins', async () => {
    const lines = await pin([pki.good.certFile, pki.rsa.certFile], { hpkp: true, backup: [f('backup.key.pem')], maxAge: 600, includeSubDomains: true });
    assert.equal(lines.length, 1);
    const want = [certPinByOpenssl(pki.good.certFile), certPinByOpenssl(pki.rsa.certFile), keyPinByOpenssl(f('backup.key.pem'))];
    assert.equal(lines[0], `${want.map((p) => `pin-sha256="${p}"`).join('; ')}; max-age=600; includeSubDomains`);
    // The pins in it read back with parsePins.
    assert.equal(parsePins(lines[0]!.replace(/; max-age=.*$/, ''), 'header').length, 3);
  });

  test('a primary read twice (cert and its key) is one pin', async () => {
    const [line] = await pin([pki.good.certFile, pki.good.keyFile], { hpkp: true, backup: [f('backup.key.pem')], maxAge: 60 });
    assert.equal(line, `pin-sha256="${certPinByOpenssl(pki.good.certFile)}"; pin-sha256="${keyPinByOpenssl(f('backup.key.pem'))}"; max-age=60`);
  });

  test('refused without a backup', async () => {
    await assert.rejects(pin([pki.good.certFile], { hpkp: true }), (e: unknown) => {
      assert.ok(e instanceof TlsifyError);
      assert.equal(e.code, 'usage');
      assert.match(e.message, /expected at least one --backup FILE holding a key not in use \(RFC 7469 §4.3\), got none/);
      return true;
    });
  });

  test('refused when a backup pin is also a primary pin', async () => {
    await assert.rejects(pin([pki.good.certFile], { hpkp: true, backup: [f('ec.key.pem'), pki.good.keyFile] }), (e: unknown) => {
      assert.ok(e instanceof TlsifyError);
      assert.equal(e.code, 'config');
      assert.equal(e.message, `${pki.good.keyFile}: PEM block 1: expected a backup key that is not in use (RFC 7469 §4.3), got the same key as ${pki.good.certFile}: PEM block 1 (${pki.good.issued.spkiPin})`);
      return true;
    });
  });

  test('--backup without --hpkp, stdin twice and a bad max-age are usage errors', async () => {
    await assert.rejects(pin([pki.good.certFile], { backup: [f('ec.key.pem')] }), /--backup only applies with --hpkp/);
    await assert.rejects(pin(['-'], { hpkp: true, backup: ['-'] }), /expected stdin \('-'\) at most once/);
    await assert.rejects(pin([pki.good.certFile], { hpkp: true, backup: [f('ec.key.pem')], maxAge: -5 }), /--max-age: expected whole seconds, 0 or more, got -5/);
  });
});

describe('errors name the file (and PEM block) and say expected / got', () => {
  const cases: [string, () => string, RegExp][] = [
    ['encrypted PKCS#8 PEM', () => f('enc.pkcs8.pem'), /enc\.pkcs8\.pem: PEM block 1: expected an unencrypted key \(tlsify pin takes no passphrase: .*\), got an encrypted private key$/],
    ['legacy encrypted PEM, second block', () => f('cert-then-enc.pem'), /cert-then-enc\.pem: PEM block 2: expected an unencrypted key .* got an encrypted private key$/],
    ['encrypted PKCS#8 DER', () => f('enc.pkcs8.der'), /enc\.pkcs8\.der: expected an unencrypted key .* got an encrypted private key$/],
    ['a label that is not taken', () => f('req.csr'), /req\.csr: PEM block 1: expected one of CERTIFICATE, PUBLIC KEY, RSA PUBLIC KEY, PRIVATE KEY, RSA PRIVATE KEY, EC PRIVATE KEY, got 'CERTIFICATE REQUEST'$/],
    ['a missing file', () => f('nope.pem'), /nope\.pem: expected a readable file, got ENOENT/],
    ['a directory', () => dir, /: expected a readable file, got EISDIR/],
    ['an empty file', () => f('empty'), /empty: expected PEM or DER, got an empty file$/],
    ['text that is neither', () => f('garbage.txt'), /garbage\.txt: expected PEM \(-----BEGIN \.\.\.-----\) or DER \(a SEQUENCE, byte 0x30\), got neither$/],
    ['truncated DER', () => f('truncated.der'), /truncated\.der: expected a DER certificate, SubjectPublicKeyInfo, or PKCS#8, PKCS#1 or SEC1 private key, got none of these \(as a certificate: certificate: /],
    ['bad base64 in PEM', () => f('bad-base64.pem'), /bad-base64\.pem: pem line 2: expected base64, got '\*' at column 4$/],
    ['a CERTIFICATE block holding something else', () => f('not-a-cert.pem'), /not-a-cert\.pem: PEM block 1: expected a certificate, got certificate: /],
  ];
  for (const [name, file, message] of cases) {
    test(name, async () => {
      await assert.rejects(pin([file()]), (e: unknown) => {
        assert.ok(e instanceof TlsifyError, String(e));
        assert.equal(e.code, 'config');
        assert.match(e.message, message);
        return true;
      });
    });
  }

  test('a bad file after a good one prints nothing at all', async () => {
    const lines: string[] = [];
    await assert.rejects(runPin({ ...defaults, files: [pki.good.certFile, f('garbage.txt')] }, (s) => lines.push(s)), TlsifyError);
    assert.deepEqual(lines, []);
  });
});
