// pinstore-command.test.ts: `tlsify pins list|add|remove|import|export` (commands/pins.ts):
// what each prints and writes, and that bad argv is a usage error saying expected and got.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TlsifyError } from '../../src/codes.ts';
import { runPins } from '../../src/commands/pins.ts';
import { VERSION_LINE } from '../../src/pinstore/format.ts';

let tmp: string;
before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-pinscmd-'))));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const b64 = (seed: string): string => createHash('sha256').update(seed).digest('base64');
const pin = (seed: string): string => `sha256/${b64(seed)}`;
let clock = new Date('2026-11-23T12:00:00Z');
let n = 0;

/** A fresh private store (its own XDG_STATE_HOME); `pins(...)` runs a command and returns stdout. */
function fresh() {
  const env = { XDG_STATE_HOME: path.join(tmp, `s${n++}`) };
  const file = path.join(env.XDG_STATE_HOME, 'tlsify', 'pins');
  const pins = async (...argv: string[]): Promise<string> => {
    let out = '';
    const status = await runPins(argv, { out: (s) => (out += s), env, now: () => clock });
    assert.equal(status, 0);
    return out;
  };
  return { env, file, pins };
}

function usage(message: RegExp): (err: unknown) => boolean {
  return (err) => err instanceof TlsifyError && err.code === 'usage' && message.test(err.message);
}

describe('pins add, list, remove, export', () => {
  test('add takes every pin spelling, and list shows the entry with its state', async () => {
    const { pins, file } = fresh();
    assert.equal(await pins('add', 'Mail.Example.org:993', pin('a'), `sha256//${b64('b')}`, `pin-sha256="${b64('c')}"`, '--expires', '90d', '--include-subdomains'), 'added mail.example.org:993 source=static pins=3\n');
    assert.equal(await pins('list'), `mail.example.org:993 state=enforce source=static pins=${pin('a')},${pin('b')},${pin('c')} include-subdomains=yes first-seen=2026-11-23T12:00:00Z expires=2027-02-21T12:00:00Z\n`);
    assert.equal(fs.readFileSync(file, 'utf8').split('\n')[0], VERSION_LINE);
  });
  test('add again replaces the pins, keeps first-seen; --report-only and --report-uri', async () => {
    const { pins } = fresh();
    await pins('add', 'a.example', pin('a'));
    clock = new Date('2026-11-24T12:00:00Z');
    assert.equal(await pins('add', 'a.example', pin('b'), '--report-only', '--report-uri=https://r.example/x'), 'replaced a.example source=static pins=1\n');
    assert.equal(await pins('list', 'a.example'), `a.example state=report-only source=static pins=${pin('b')} mode=report-only first-seen=2026-11-23T12:00:00Z report-uri=https://r.example/x\n`);
    clock = new Date('2026-11-23T12:00:00Z');
  });
  test('list HOST shows the entries that apply to it: parents with include-subdomains, any state', async () => {
    const { pins } = fresh();
    await pins('add', 'example.com', pin('p'), '--include-subdomains', '--expires', '2027-01-01');
    await pins('add', 'www.example.com:443', pin('w'));
    await pins('add', 'other.example', pin('o'));
    const out = await pins('list', 'www.example.com');
    assert.deepEqual(out.trim().split('\n').map((l) => l.split(' ')[0]), ['example.com', 'www.example.com:443']);
    clock = new Date('2027-06-01T00:00:00Z');
    assert.match(await pins('list', 'example.com'), /^example\.com state=expired /);
    clock = new Date('2026-11-23T12:00:00Z');
  });
  test('TOFU and TACK entries show whether they are active', async () => {
    const { pins, file } = fresh();
    await pins('add', 'x.example', pin('x'));
    fs.appendFileSync(file, `a.example:443 source=tofu pins=${pin('t')} first-seen=2026-11-01T00:00:00Z active-until=2026-12-01T00:00:00Z\nb.example source=tack tack-id=nkufh.czttd.5cmlw.7cxtv.k6srn first-seen=2026-11-01T00:00:00Z min-generation=0\n`);
    const out = await pins('list');
    assert.match(out, /^a\.example:443 state=active source=tofu .* active-until=2026-12-01T00:00:00Z$/m);
    assert.match(out, /^b\.example state=inactive source=tack first-seen=2026-11-01T00:00:00Z tack-id=nkufh\.czttd\.5cmlw\.7cxtv\.k6srn min-generation=0$/m);
  });
  test('remove HOST removes every entry of that host; --source and :PORT narrow it', async () => {
    const { pins, file } = fresh();
    await pins('add', 'a.example', pin('1'));
    await pins('add', 'a.example:443', pin('2'));
    fs.appendFileSync(file, `a.example source=hpkp pins=${pin('3')},${pin('4')} expires=2027-01-01T00:00:00Z\n`);
    assert.equal(await pins('remove', 'a.example', '--source', 'hpkp'), 'removed 1 entry for a.example\n');
    assert.equal(await pins('remove', 'a.example:443'), 'removed 1 entry for a.example:443\n');
    assert.equal(await pins('remove', 'a.example'), 'removed 1 entry for a.example\n');
    assert.equal(await pins('remove', 'a.example'), 'removed 0 entries for a.example\n');
  });
  test('export prints the store as it is, comments included; an empty store is the version line', async () => {
    const { pins, file } = fresh();
    assert.equal(await pins('export'), `${VERSION_LINE}\n`);
    await pins('add', 'a.example', pin('a'));
    fs.appendFileSync(file, '# a note\n');
    assert.equal(await pins('export'), fs.readFileSync(file, 'utf8'));
  });
});

describe('pins import', () => {
  test('lines of HOST PIN... with comments; the same host twice merges its pins', async () => {
    const { pins } = fresh();
    const list = path.join(tmp, 'list.txt');
    fs.writeFileSync(list, `# our servers\na.example:993 ${pin('a')} sha256//${b64('b')}\n\nb.example ${pin('c')}\na.example:993 ${pin('d')}\n`);
    assert.equal(await pins('import', list), 'imported 2 entries\n');
    assert.match(await pins('list', 'a.example'), new RegExp(`pins=${pin('a')},${pin('b')},${pin('d')}`.replace(/[+/]/g, '\\$&')));
  });
  test('a store file (another store\'s export) merges entry by entry', async () => {
    const a = fresh();
    const b = fresh();
    await a.pins('add', 'one.example', pin('1'));
    await a.pins('add', 'two.example', pin('2'));
    await b.pins('add', 'two.example', pin('old'));
    const exported = path.join(tmp, 'export.txt');
    fs.writeFileSync(exported, await a.pins('export'));
    assert.equal(await b.pins('import', exported), 'imported 2 entries\n');
    assert.equal((await b.pins('list')).split('\n').filter(Boolean).length, 2);
    assert.match(await b.pins('list', 'two.example'), new RegExp(pin('2').replace(/[+/]/g, '\\$&')));
  });
  test('a bad line names file and line, and nothing is imported', async () => {
    const { pins, file, env } = fresh();
    await pins('add', 'keep.example', pin('k'));
    const before = fs.readFileSync(file, 'utf8');
    const list = path.join(tmp, 'bad.txt');
    fs.writeFileSync(list, `a.example ${pin('a')}\nb.example sha1/AAAA\n`);
    await assert.rejects(runPins(['import', list], { out: () => undefined, env, now: () => clock }), (err: unknown) => err instanceof TlsifyError && err.code === 'config' && /^pins import .*bad\.txt line 2: tlsify pins SHA-256 only, got sha1/.test(err.message));
    assert.equal(fs.readFileSync(file, 'utf8'), before);
  });
  test('a malformed store file names its line', async () => {
    const { env } = fresh();
    const bad = path.join(tmp, 'badstore.txt');
    fs.writeFileSync(bad, `${VERSION_LINE}\na.example source=static pins=${pin('a')} expires=soon\n`);
    await assert.rejects(runPins(['import', bad], { out: () => undefined, env, now: () => clock }), /^TlsifyError: pins import: pin store .*badstore\.txt line 2: expires: expected a UTC time/);
  });
});

describe('argv is parsed strictly', () => {
  const cases: [string[], RegExp][] = [
    [[], /^pins expected one of list, add, remove, import, export, got nothing/],
    [['lsit'], /^pins expected one of list, add, remove, import, export, got 'lsit'$/],
    [['list', '--bogus'], /^pins list: expected one of --pin-store, got '--bogus'$/],
    [['add', 'a.example', pin('a'), '--expire', '1d'], /^pins add: expected one of --pin-store, --expires, --include-subdomains, --report-uri, --report-only, --service, got '--expire'$/],
    [['add', 'a.example', pin('a'), '--include-subdomains=yes'], /--include-subdomains takes no value/],
    [['add', 'a.example', pin('a'), '--expires'], /--expires: expected a value, got nothing/],
    [['add', 'a.example', pin('a'), '--expires', 'tomorrow'], /--expires: expected a date like 2027-01-31, a UTC time like 2027-01-31T12:00:00Z, or a span like 90d, got 'tomorrow'/],
    [['add', 'a.example', pin('a'), '--expires', '2020-01-01'], /--expires: expected a time in the future/],
    [['add', 'a.example'], /^pins add: expected at least one PIN after a.example, got none$/],
    [['add', 'a.example', 'sha1/AAAA'], /^pins add: PIN 1: tlsify pins SHA-256 only, got sha1/],
    [['add', '2001:db8::1', pin('a')], /^pins add: expected HOST\[:PORT\], got '2001:db8::1'/],
    [['add', '192.0.2.1', pin('a'), '--include-subdomains'], /^pins add: include-subdomains: an IP address has no subdomains/],
    [['add', 'a.example', pin('a'), '--report-uri', 'not a uri'], /report-uri: expected an absolute URI/],
    [['remove'], /^pins remove: expected one HOST\[:PORT\], got none$/],
    [['import'], /^pins import: expected one FILE \(or - for stdin\), got none$/],
    [['export', 'x'], /^pins export: expected no arguments, got 'x'$/],
    [['list', '--pin-store', '@../etc'], /^--pin-store: expected @NAME/],
    [['list', '--pin-store', 'a', '--pin-store', 'b'], /--pin-store given twice; expected it once/],
  ];
  for (const [argv, message] of cases) {
    test(`tlsify pins ${argv.join(' ')}`, async () => {
      await assert.rejects(runPins(argv, { out: () => undefined, env: { XDG_STATE_HOME: path.join(tmp, 'never') }, now: () => clock }), usage(message));
    });
  }
  test('--help prints the usage', async () => {
    let out = '';
    assert.equal(await runPins(['add', '--help'], { out: (s) => (out += s), env: {}, now: () => clock }), 0);
    assert.match(out, /^Usage:\n {2}tlsify pins list/);
  });
  test('--pin-store PATH and --pin-store=PATH', async () => {
    const file = path.join(tmp, 'explicit-pins');
    let out = '';
    const io = { out: (s: string) => (out += s), env: {}, now: () => clock };
    await runPins(['add', 'a.example', pin('a'), '--pin-store', file], io);
    await runPins(['list', `--pin-store=${file}`], io);
    assert.match(out, /^added .*\na\.example state=enforce/);
  });
});
