// test/e2e/tack-cli.test.ts: `tlsify tack` as an operator meets it: genkey, sign (single and
// batches), break and view over real files, every password source, and each refusal with its
// exit status and expected/got message. runTack runs in-process with an injected terminal and
// clock; the last suite runs the built binary and turns itself on once main.ts routes `tack`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { runTack, type TackIo } from '../../src/commands/tack.ts';
import { checkBreakSig, checkTack } from '../../src/tack/check.ts';
import { readCertificate } from '../../src/tack/certificate.ts';
import { decodePem, decodePemBlocks } from '../../src/tack/pem.ts';
import { PromptAborted } from '../../src/tack/prompt.ts';
import { decodeTack } from '../../src/tack/tack.ts';
import { minutesToText } from '../../src/tack/time.ts';
import { TLSIFY } from '../helpers/tlsify.ts';

const VECTORS = path.resolve(__dirname, '../vectors/tack');
const CERT = path.join(VECTORS, 'godaddy-trevp-net.pem'); // key_sha256 ffd30bcb…, notAfter 2012-07-08T00:19:57Z
const TACKPY_KEY = path.join(VECTORS, 'key-asdf.pem'); // tackpy's key file, password asdf
const TACKPY_ID = 'wumcc.wxggz.ndszh.hgxxi.lptur';
const TACKPY_PRIVATE_HEX = 'fc815de8b1de13a436e9cd69742cbf2cd4c1c9bb33e023401d9291cf2781b754';
const NOW = new Date('2013-05-06T07:08:09Z');

const dir = mkdtempSync(path.join(tmpdir(), 'tlsify-tack-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string): string => path.join(dir, name);

interface Opts {
  stdin?: Buffer;
  isTTY?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Answers to password prompts, in order; an Error is thrown instead. */
  answers?: (string | Error)[];
}

async function tack(args: string[], opts: Opts = {}) {
  let out = '';
  let err = '';
  const prompts: string[] = [];
  const answers = [...(opts.answers ?? [])];
  const io: TackIo = {
    out: (s) => (out += s),
    err: (s) => (err += s),
    stdin: async () => opts.stdin ?? Buffer.alloc(0),
    isTTY: opts.isTTY ?? false,
    env: opts.env ?? {},
    readSecret: async (q) => {
      prompts.push(q);
      const a = answers.shift();
      if (a === undefined) throw new Error(`unexpected prompt '${q}'`);
      if (a instanceof Error) throw a;
      return a;
    },
    now: () => NOW,
  };
  const status = await runTack(args, io);
  return { status, out, err, prompts };
}

const certSpki = readCertificate(readFileSync(CERT)).spki;

describe('genkey', () => {
  test('-o creates a 0600 key file with the comment lines; view shows its TACK ID', async () => {
    const r = await tack(['genkey', '-p', 'asdf', '-o', file('k1.pem')]);
    assert.deepEqual([r.status, r.out, r.err], [0, '', '']);
    assert.equal(statSync(file('k1.pem')).mode & 0o777, 0o600);
    const text = readFileSync(file('k1.pem'), 'latin1');
    assert.match(text, /^Created by tlsify \S+ \(tack\.py 0\.9\.7 formats\)\nCreated at 2013-05-06T07:08:09Z\n-----BEGIN TACK PRIVATE KEY-----\n/);
    assert.equal(decodePem(text, 'TACK PRIVATE KEY').length, 149);
    const v = await tack(['view', file('k1.pem')]);
    assert.equal(v.status, 0);
    assert.match(v.out, /^TACK ID        = [a-z2-7]{5}(\.[a-z2-7]{5}){4}\n$/);
  });

  test('never overwrites an existing file', async () => {
    writeFileSync(file('k-exists.pem'), 'precious');
    const r = await tack(['genkey', '-p', 'asdf', '-o', file('k-exists.pem')]);
    assert.equal(r.status, 3);
    assert.match(r.err, /expected a new file, got an existing one \(a key file is never overwritten\)/);
    assert.equal(readFileSync(file('k-exists.pem'), 'latin1'), 'precious');
  });

  test('without -o the key file goes to stdout, as tackpy writes it', async () => {
    const r = await tack(['g', '-p', 'asdf']);
    assert.equal(r.status, 0);
    assert.match(r.out, /-----BEGIN TACK PRIVATE KEY-----\n/);
  });

  test('on a terminal it asks twice, and again when the two differ', async () => {
    const r = await tack(['genkey', '-o', file('k-prompt.pem')], { isTTY: true, answers: ['one', 'two', 'pw', 'pw'] });
    assert.equal(r.status, 0);
    assert.deepEqual(r.prompts, ['Choose password for key file: ', 'Re-enter password for key file: ', 'Choose password for key file: ', 'Re-enter password for key file: ']);
    assert.match(r.err, /PASSWORDS DON'T MATCH!/);
    assert.equal((await tack(['break', '-k', file('k-prompt.pem'), '-p', 'pw'])).status, 0);
  });

  test('refuses an empty or non-ASCII password', async () => {
    assert.match((await tack(['genkey', '-p', ''])).err, /-p: expected a password, got nothing/);
    const r = await tack(['genkey', '--pass', 'env:PW'], { env: { PW: 'pässword' } });
    assert.equal(r.status, 3);
    assert.match(r.err, /--pass env:PW: password: expected ASCII characters only/);
  });
});

describe('sign', () => {
  test("defaults: min_generation 0, generation 0, expiration the certificate's notAfter rounded up", async () => {
    const r = await tack(['sign', '-k', TACKPY_KEY, '-p', 'asdf', '-c', CERT]);
    assert.equal(r.status, 0, r.err);
    const bytes = decodePem(r.out, 'TACK');
    const t = decodeTack(bytes);
    assert.deepEqual([t.minGeneration, t.generation, minutesToText(t.expiration)], [0, 0, '2012-07-08T00:20Z']);
    const check = checkTack(bytes, certSpki, new Date('2012-07-01T00:00Z'));
    assert.ok(check.ok && check.keyFingerprint === TACKPY_ID);
  });

  test('-m -g -e -o write the fields view then shows', async () => {
    const r = await tack(['s', '-k', TACKPY_KEY, '-p', 'asdf', '-c', CERT, '-m', '2', '-g3', '-e', '2030-01-02T03:04Z', '-o', file('t.pem')]);
    assert.equal(r.status, 0, r.err);
    const v = await tack(['v', file('t.pem')]);
    assert.equal(
      v.out,
      `TACK ID        = ${TACKPY_ID}\nmin_generation = 2\ngeneration     = 3\nexpiration     = 2030-01-02T03:04Z\n` +
        'target_hash    = ffd30bcb84dbbc211a510875694354c5\n                 8863d84fb7fc5853dfe36f4be2eb2e50\n',
    );
  });

  test('-n 3@1d -e 2013-01-02Z -o PREFIX writes PREFIX_0000.pem.. one day apart', async () => {
    const r = await tack(['sign', '-k', TACKPY_KEY, '-p', 'asdf', '-c', CERT, '-m250', '-g251', '-e', '2013-01-02Z', '-n', '3@1d', '-o', file('T1')]);
    assert.equal(r.status, 0, r.err);
    const expirations = ['0000', '0001', '0002'].map((n) => {
      const t = decodeTack(decodePem(readFileSync(file(`T1_${n}.pem`), 'latin1'), 'TACK'));
      assert.deepEqual([t.minGeneration, t.generation], [250, 251]);
      return minutesToText(t.expiration);
    });
    assert.deepEqual(expirations, ['2013-01-02T00:00Z', '2013-01-03T00:00Z', '2013-01-04T00:00Z']);
  });

  test('-n without -e starts one INTERVAL from now (where tackpy 0.9.7 crashed)', async () => {
    const r = await tack(['sign', '-k', TACKPY_KEY, '-p', 'asdf', '-c', CERT, '-n', '2@12h', '-o', file('T2')]);
    assert.equal(r.status, 0, r.err);
    const first = decodeTack(decodePem(readFileSync(file('T2_0000.pem'), 'latin1'), 'TACK'));
    assert.equal(minutesToText(first.expiration), '2013-05-06T19:09Z'); // now 07:08:09 → 07:09, + 12h
  });

  test('a delta -e counts from now rounded up to the minute', async () => {
    const t = decodeTack(decodePem((await tack(['sign', '-k', TACKPY_KEY, '-p', 'asdf', '-c', CERT, '-e', '30d'])).out, 'TACK'));
    assert.equal(minutesToText(t.expiration), '2013-06-05T07:09Z');
  });

  test('a DER certificate and a key from stdin', async () => {
    const der = decodePem(readFileSync(CERT, 'latin1'), 'CERTIFICATE');
    writeFileSync(file('cert.der'), der);
    const r = await tack(['sign', '-k', '-', '-p', 'asdf', '-c', file('cert.der')], { stdin: readFileSync(TACKPY_KEY) });
    assert.equal(r.status, 0, r.err);
    assert.ok(checkTack(decodePem(r.out, 'TACK'), certSpki, new Date('2012-01-01Z')).ok);
  });

  test('-v writes the fields to stderr, and nothing secret goes anywhere', async () => {
    const r = await tack(['sign', '-v', '-k', TACKPY_KEY, '-p', 'asdf', '-c', CERT]);
    assert.match(r.err, /^Crypto         = .*\nTACK ID        = wumcc/);
    for (const s of [r.out, r.err]) {
      assert.ok(!s.includes(TACKPY_PRIVATE_HEX) && !s.includes(Buffer.from(TACKPY_PRIVATE_HEX, 'hex').toString('base64')));
    }
  });

  const usage: [string, string[], RegExp][] = [
    ['no -k', ['sign', '-c', CERT], /sign: expected -k KEY \(a TACK key file, '-' for stdin\), got none/],
    ['no -c', ['sign', '-k', TACKPY_KEY], /sign: expected -c CERT/],
    ['-m 256', ['sign', '-k', TACKPY_KEY, '-c', CERT, '-m', '256'], /-m: expected a min_generation from 0 to 255, got '256'/],
    ['-g below -m', ['sign', '-k', TACKPY_KEY, '-c', CERT, '-m', '5', '-g', '4'], /-g: expected a generation >= min_generation 5, got 4/],
    ['-n without -o', ['sign', '-k', TACKPY_KEY, '-c', CERT, '-n', '3@1d'], /-n: expected -o PREFIX as well/],
    ['-n 0@1d', ['sign', '-k', TACKPY_KEY, '-c', CERT, '-n', '0@1d', '-o', 'x'], /-n: expected NUM@INTERVAL with NUM from 1 to 9999/],
    ['-n 3@soon', ['sign', '-k', TACKPY_KEY, '-c', CERT, '-n', '3@soon', '-o', 'x'], /got '3@soon'/],
    ['-e 2013-01-02', ['sign', '-k', TACKPY_KEY, '-c', CERT, '-e', '2013-01-02'], /-e: expected a UTC time like 2013-01-02T03:04Z/],
    ['-k - and -c -', ['sign', '-k', '-', '-c', '-', '-p', 'x'], /-c and -k cannot both be read from stdin/],
    ['an operand', ['sign', '-k', TACKPY_KEY, '-c', CERT, 'extra'], /sign takes no arguments, got 'extra'/],
    ['an unknown option', ['sign', '-z'], /expected one of the options -k -c -o -p -m -g -e -n -v -x --pass, got '-z'/],
    ['-p and --pass', ['sign', '-k', TACKPY_KEY, '-c', CERT, '-p', 'a', '--pass', 'env:X'], /give -p or --pass, not both/],
    ['no password and no terminal', ['sign', '-k', TACKPY_KEY, '-c', CERT], /expected a password: give -p PASSWORD or --pass .*stdin is not a terminal/],
  ];
  for (const [name, args, re] of usage) {
    test(`usage error (2): ${name}`, async () => {
      const r = await tack(args);
      assert.equal(r.status, 2);
      assert.match(r.err, re);
      assert.equal(r.out, '');
    });
  }

  test('a file that is not a certificate is a config error (3)', async () => {
    const r = await tack(['sign', '-k', TACKPY_KEY, '-p', 'asdf', '-c', TACKPY_KEY]);
    assert.equal(r.status, 3);
    assert.match(r.err, /-c .*key-asdf\.pem: certificate: expected a -----BEGIN CERTIFICATE----- block or DER/);
  });
});

describe('passwords', () => {
  test('a wrong -p is a config error (3) naming the key file', async () => {
    const r = await tack(['break', '-k', TACKPY_KEY, '-p', 'wrong']);
    assert.equal(r.status, 3);
    assert.match(r.err, /-k .*key-asdf\.pem: password incorrect \(the key file MAC does not match\) \(from -p\)/);
  });

  test('--pass env:VAR, file:PATH and fd:N', async () => {
    assert.equal((await tack(['break', '-k', TACKPY_KEY, '--pass', 'env:PW'], { env: { PW: 'asdf' } })).status, 0);
    writeFileSync(file('pw.txt'), 'asdf\nignored second line\n');
    assert.equal((await tack(['break', '-k', TACKPY_KEY, '--pass', `file:${file('pw.txt')}`])).status, 0);
    const fd = openSync(file('pw.txt'), 'r');
    try {
      assert.equal((await tack(['break', '-k', TACKPY_KEY, `--pass=fd:${fd}`])).status, 0);
    } finally {
      closeSync(fd);
    }
  });

  test('an unset variable or unreadable file is a config error', async () => {
    assert.match((await tack(['break', '-k', TACKPY_KEY, '--pass', 'env:NOPE'])).err, /--pass env:NOPE: expected the variable to be set, got it unset/);
    const r = await tack(['break', '-k', TACKPY_KEY, '--pass', `file:${file('missing')}`]);
    assert.equal(r.status, 3);
    assert.match(r.err, /--pass file:.*missing: cannot read it/);
  });

  test('a bad --pass form is a usage error', async () => {
    const r = await tack(['break', '-k', TACKPY_KEY, '--pass', 'asdf']);
    assert.equal(r.status, 2);
    assert.match(r.err, /--pass: expected env:VAR, fd:N or file:PATH, got 'asdf'/);
  });

  test('at a prompt a wrong password is asked again, up to three times', async () => {
    const ok = await tack(['break', '-k', TACKPY_KEY], { isTTY: true, answers: ['nope', 'asdf'] });
    assert.equal(ok.status, 0);
    assert.deepEqual(ok.prompts, ['Enter password for key file: ', 'Enter password for key file: ']);
    assert.match(ok.err, /^Password incorrect!\n$/);
    const no = await tack(['break', '-k', TACKPY_KEY], { isTTY: true, answers: ['a', 'b', 'c'] });
    assert.equal(no.status, 3);
    assert.match(no.err, /password incorrect/);
  });

  test('Ctrl-C at the prompt aborts (13)', async () => {
    const r = await tack(['break', '-k', TACKPY_KEY], { isTTY: true, answers: [new PromptAborted('interrupted at the password prompt')] });
    assert.equal(r.status, 13);
    assert.match(r.err, /interrupted at the password prompt/);
  });

  test('with -k - the password cannot be asked for on stdin', async () => {
    const r = await tack(['break', '-k', '-'], { isTTY: true, stdin: readFileSync(TACKPY_KEY) });
    assert.equal(r.status, 2);
    assert.match(r.err, /-k is read from stdin, so the password cannot be asked for there/);
  });
});

describe('break', () => {
  test('writes one TACK BREAK SIG that verifies and names the key; view lists it', async () => {
    const r = await tack(['b', '-k', TACKPY_KEY, '-p', 'asdf', '-o', file('break.pem')]);
    assert.equal(r.status, 0, r.err);
    const [sig] = decodePemBlocks(readFileSync(file('break.pem'), 'latin1'), 'TACK BREAK SIG');
    const c = checkBreakSig(sig!);
    assert.ok(c.ok && c.keyFingerprint === TACKPY_ID);
    assert.equal((await tack(['view', file('break.pem')])).out, `Breaks TACK ID = ${TACKPY_ID}\n`);
  });
});

describe('view', () => {
  test("reads stdin for '-'", async () => {
    const r = await tack(['view', '-'], { stdin: readFileSync(path.join(VECTORS, 'tack.pem')) });
    assert.equal(r.status, 0);
    assert.match(r.out, /^TACK ID        = nkufh\.czttd\.5cmlw\.7cxtv\.k6srn\n/);
  });

  test('a TACK with a bad signature is a config error saying so', async () => {
    const text = readFileSync(path.join(VECTORS, 'tack.pem'), 'latin1').replace('PDUV0rzI', 'PDUV0rzJ');
    writeFileSync(file('bad-tack.pem'), text);
    const r = await tack(['view', file('bad-tack.pem')]);
    assert.equal(r.status, 3);
    assert.match(r.err, /bad-tack\.pem: error parsing TACK: TACK has bad signature/);
  });

  test('anything else is "none of them"', async () => {
    writeFileSync(file('junk.txt'), 'hello\n');
    const r = await tack(['view', file('junk.txt')]);
    assert.equal(r.status, 3);
    assert.match(r.err, /expected a TACK key file, a TACK, break signatures or a certificate .*got none of them/);
  });

  test('a missing file, no file, and two files', async () => {
    assert.equal((await tack(['view', file('nope')])).status, 3);
    assert.match((await tack(['view'])).err, /view: expected a FILE to view/);
    assert.match((await tack(['view', 'a', 'b'])).err, /view: expected one FILE, got 2/);
  });
});

describe('commands and help', () => {
  test('help, help COMMAND, --help', async () => {
    const r = await tack(['help']);
    assert.equal(r.status, 0);
    assert.match(r.out, /genkey\n  sign     -k KEY -c CERT\n  break    -k KEY\n  view     FILE\n/);
    assert.match((await tack(['help', 'sign'])).out, /-n NUM@INTERVAL/);
    assert.match((await tack(['h', 'genkey'])).out, /--pass SOURCE/);
    assert.equal((await tack(['--help'])).status, 0);
  });

  test('no command, an unknown command, the hidden cert command, an unknown help topic', async () => {
    assert.match((await tack([])).err, /expected a command \(genkey, sign, break, view, help\), got none/);
    assert.match((await tack(['frob'])).err, /got 'frob'/);
    assert.match((await tack(['c'])).err, /tackpy's hidden cert command is not provided/);
    const r = await tack(['help', 'cert']);
    assert.equal(r.status, 2);
    assert.match(r.err, /help: expected one of genkey, sign, break, view, help, got 'cert'/);
  });
});

// ---- the built binary ----------------------------------------------------------------------

function bin(args: string[], input = '') {
  const r = spawnSync(TLSIFY, ['tack', ...args], { encoding: 'utf8', input, env: { ...process.env, TACK_PW: 'asdf' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const wired = bin(['help']).status === 0;

describe('bin/tlsify tack (the built bundle)', { skip: wired ? false : "src/main.ts does not route 'tack' yet" }, () => {
  test('genkey → sign → break → view, through real processes', () => {
    const key = file('bin-key.pem');
    assert.equal(bin(['genkey', '--pass', 'env:TACK_PW', '-o', key]).status, 0);
    const s = bin(['sign', '-k', key, '--pass', 'env:TACK_PW', '-c', CERT, '-e', '2030Z', '-o', file('bin-tack.pem')]);
    assert.equal(s.status, 0, s.stderr);
    const v = bin(['view', file('bin-tack.pem')]);
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /expiration     = 2030-01-01T00:00Z\n/);
    const b = bin(['break', '-k', key, '--pass', 'env:TACK_PW']);
    assert.equal(b.status, 0, b.stderr);
    assert.match(bin(['view', '-'], b.stdout).stdout, /^Breaks TACK ID = /);
  });

  test('tackpy vectors view the same through the binary', () => {
    assert.equal(bin(['view', path.join(VECTORS, 'break-sig-list.pem')]).stdout, 'Breaks TACK ID = nkufh.czttd.5cmlw.7cxtv.k6srn\nBreaks TACK ID = 6xwgu.ydz7m.7cki3.kizmd.pt2f2\n');
  });

  test('a usage error exits 2 with the message on stderr', () => {
    const r = bin(['sign', '-z']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /got '-z'/);
    assert.equal(r.stdout, '');
  });
});
