// pinstore-file.test.ts: where stores live and how they are guarded (protocol/pin-store.md §2,
// §8): --pin-store values, XDG fallbacks, modes of what tlsify creates, refusals, and the
// lock's last guard (a write whose lock was taken over does not rename).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TlsifyError } from '../../src/codes.ts';
import { VERSION_LINE } from '../../src/pinstore/format.ts';
import { entriesOf, pinFromText, upsert, type PinEntry } from '../../src/pinstore/doc.ts';
import { SHARED_DIR, describeStoreSpec, locate, parseStoreSpec, stateHome } from '../../src/pinstore/location.ts';
import { openPinStore } from '../../src/pinstore/store.ts';

let tmp: string;
before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-pinfile-'))));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const pin = (seed: string): string => 'sha256/' + createHash('sha256').update(seed).digest('base64');
const mode = (p: string): number => fs.statSync(p).mode & 0o7777;
let n = 0;
const dir = (): string => {
  const d = path.join(tmp, `d${n++}`);
  fs.mkdirSync(d, { mode: 0o700 });
  return d;
};

function entry(host: string): PinEntry {
  return { host, port: undefined, service: undefined, source: 'static', pins: [pinFromText(pin(host))], mode: 'enforce', includeSubDomains: false, firstSeen: new Date('2026-11-23T00:00:00Z'), lastSeen: undefined, activeUntil: undefined, expires: undefined, reportUri: undefined, tackId: undefined, minGeneration: undefined, extra: [] };
}

function configError(message: RegExp): (err: unknown) => boolean {
  return (err) => err instanceof TlsifyError && err.code === 'config' && message.test(err.message);
}

describe('--pin-store values (§2)', () => {
  test('PATH, @NAME and none', () => {
    assert.deepEqual(parseStoreSpec('/x/pins'), { kind: 'path', path: '/x/pins' });
    assert.deepEqual(parseStoreSpec('@fleet'), { kind: 'named', name: 'fleet' });
    assert.deepEqual(parseStoreSpec('none'), { kind: 'none' });
    assert.deepEqual(parseStoreSpec('./none'), { kind: 'path', path: './none' });
    for (const text of ['/x/pins', '@fleet', 'none']) assert.equal(describeStoreSpec(parseStoreSpec(text)), text);
  });
  const refused: [string, RegExp][] = [
    ['', /^--pin-store: expected PATH \| @NAME \| none \(default: \$XDG_STATE_HOME\/tlsify\/pins\), got nothing$/],
    ['@', /expected @NAME with NAME of \[A-Za-z0-9._-\] not starting with '\.', got '@'/],
    ['@..', /got '@\.\.'/],
    ['@.hidden', /got '@\.hidden'/],
    ['@a/b', /got '@a\/b'/],
  ];
  for (const [text, message] of refused) {
    test(`refused: '${text}'`, () => assert.throws(() => parseStoreSpec(text), (err: unknown) => err instanceof TlsifyError && err.code === 'usage' && message.test(err.message)));
  }
  test('the default is $XDG_STATE_HOME/tlsify/pins; unset, empty or relative means ~/.local/state', () => {
    assert.equal(locate({ kind: 'default' }, { XDG_STATE_HOME: '/s', HOME: '/h' })!.file, '/s/tlsify/pins');
    for (const XDG_STATE_HOME of [undefined, '', 'relative/dir']) assert.equal(stateHome({ XDG_STATE_HOME, HOME: '/h' }), '/h/.local/state');
  });
  test('@NAME lives in /var/lib/tlsify/pin-stores, or $TLSIFY_PIN_STORES', () => {
    assert.equal(locate({ kind: 'named', name: 'fleet' }, {})!.file, path.join(SHARED_DIR, 'fleet'));
    assert.equal(locate({ kind: 'named', name: 'fleet' }, { TLSIFY_PIN_STORES: '/srv/p' })!.file, '/srv/p/fleet');
    assert.equal(locate({ kind: 'none' }, {}), undefined);
  });
});

describe('what tlsify creates', () => {
  test('the private default: file 0600, directories 0700, whatever the umask', async () => {
    const home = dir();
    const old = process.umask(0o022);
    try {
      const store = openPinStore({ kind: 'default' }, { XDG_STATE_HOME: path.join(home, 'state') });
      await store.update((d) => upsert(d, entry('a.example')));
      assert.equal(mode(path.join(home, 'state')), 0o700);
      assert.equal(mode(path.join(home, 'state', 'tlsify')), 0o700);
      assert.equal(mode(store.file!), 0o600);
    } finally {
      process.umask(old);
    }
  });
  test('a shared store: 0660 even under umask 022, and an edit keeps the mode it was given', async () => {
    const shared = dir();
    fs.chmodSync(shared, 0o2770);
    const old = process.umask(0o022);
    try {
      const store = openPinStore({ kind: 'named', name: 'fleet' }, { TLSIFY_PIN_STORES: shared });
      await store.update((d) => upsert(d, entry('a.example')));
      assert.equal(mode(store.file!), 0o660);
      fs.chmodSync(store.file!, 0o640);
      await store.update((d) => upsert(d, entry('b.example')));
      assert.equal(mode(store.file!), 0o640);
    } finally {
      process.umask(old);
    }
  });
  test('a missing shared directory is an error that says how to create it', async () => {
    const store = openPinStore({ kind: 'named', name: 'fleet' }, { TLSIFY_PIN_STORES: path.join(tmp, 'nowhere') });
    assert.deepEqual(store.read().lines, [], 'reading a store that does not exist is an empty store');
    await assert.rejects(store.update((d) => upsert(d, entry('a.example'))), configError(/expected the directory .*nowhere to exist, got no such directory \(shared stores: create it once, e\.g\. install -d -m 2770 -g tlsify/));
  });
  test('none reads as empty and refuses to learn', async () => {
    const store = openPinStore({ kind: 'none' }, {});
    assert.equal(store.file, undefined);
    assert.deepEqual(store.entriesFor({ host: 'a.example', port: 443 }, new Date()), []);
    await assert.rejects(store.recordTofu({ host: 'a.example', port: 443 }, [pin('a')], 'learn', new Date()), (err: unknown) => err instanceof TlsifyError && err.code === 'usage');
  });
});

describe('refusals (§2.2)', () => {
  const pathStore = (file: string) => openPinStore({ kind: 'path', path: file }, {});
  test('a symlink in place of the store, even to a valid store', () => {
    const d = dir();
    fs.writeFileSync(path.join(d, 'real'), `${VERSION_LINE}\n`);
    fs.symlinkSync(path.join(d, 'real'), path.join(d, 'pins'));
    assert.throws(() => pathStore(path.join(d, 'pins')).read(), configError(/^pin store .*\/pins: expected a regular file, got a symbolic link; tlsify does not follow one there/));
  });
  test('a dangling symlink is refused too, and a write does not create its target', async () => {
    const d = dir();
    fs.symlinkSync(path.join(d, 'target'), path.join(d, 'pins'));
    await assert.rejects(pathStore(path.join(d, 'pins')).update((doc) => upsert(doc, entry('a.example'))), configError(/got a symbolic link/));
    assert.equal(fs.existsSync(path.join(d, 'target')), false);
  });
  test('a world-writable store', () => {
    const file = path.join(dir(), 'pins');
    fs.writeFileSync(file, `${VERSION_LINE}\n`);
    fs.chmodSync(file, 0o646);
    assert.throws(() => pathStore(file).read(), configError(/got mode 0646, which anyone can write \(chmod o-w/));
  });
  test('a store in a world-writable directory, sticky or not', () => {
    for (const m of [0o777, 0o1777]) {
      const d = dir();
      fs.chmodSync(d, m);
      assert.throws(() => pathStore(path.join(d, 'pins')).read(), configError(/expected a directory only trusted users can write, got .* which anyone can write/));
    }
  });
  test('a FIFO in place of the store (and the open does not hang)', () => {
    const file = path.join(dir(), 'pins');
    const r = require('node:child_process').spawnSync('mkfifo', [file]);
    if (r.status !== 0) return; // no mkfifo here
    assert.throws(() => pathStore(file).read(), configError(/expected a regular file, got a FIFO/));
  });
  test('a private store that belongs to another user', () => {
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) return; // only root can make one
    const home = dir();
    const file = path.join(home, 'tlsify', 'pins');
    fs.mkdirSync(path.dirname(file), { mode: 0o700 });
    fs.writeFileSync(file, `${VERSION_LINE}\n`, { mode: 0o600 });
    fs.chownSync(file, 12345, 12345);
    assert.throws(() => openPinStore({ kind: 'default' }, { XDG_STATE_HOME: home }).read(), configError(/expected the private store to belong to uid 0, got uid 12345/));
  });
});

describe('the lock (§8.1)', () => {
  test('a write whose lock is taken over while it works does not rename, and starts again', async () => {
    const file = path.join(dir(), 'pins');
    const store = openPinStore({ kind: 'path', path: file }, {}, { staleMs: 150 });
    let calls = 0;
    await store.update((doc) => {
      calls++;
      // Another process "takes over" our lock while we compute: its lock is fresh and live.
      if (calls === 1) fs.writeFileSync(`${file}.lock`, `pid=${process.pid} host=${os.hostname()} time=${Date.now()} token=ff\n`);
      return upsert(doc, entry(`try${calls}.example`));
    });
    assert.equal(calls, 2);
    assert.deepEqual(entriesOf(openPinStore({ kind: 'path', path: file }, {}).read()).map((e) => e.host), ['try2.example']);
    assert.equal(fs.existsSync(`${file}.lock`), false);
  });
  test('a lock that never goes away ends in a config error naming its holder', async () => {
    const file = path.join(dir(), 'pins');
    const store = openPinStore({ kind: 'path', path: file }, {}, { staleMs: 60_000, waitMs: 200 });
    fs.writeFileSync(`${file}.lock`, `pid=${process.pid} host=${os.hostname()} time=${Date.now()} token=ff\n`);
    await assert.rejects(store.update((d) => upsert(d, entry('a.example'))), configError(/cannot take the lock: .*pins\.lock is held by pid \d+ on .* since .*; waited 0\.2 s/));
  });
  test('a symlink planted as the lock is refused, not followed', async () => {
    const d = dir();
    const file = path.join(d, 'pins');
    fs.symlinkSync(path.join(d, 'elsewhere'), `${file}.lock`);
    await assert.rejects(openPinStore({ kind: 'path', path: file }, {}).update((doc) => upsert(doc, entry('a.example'))), configError(/cannot take the lock/));
    assert.equal(fs.existsSync(path.join(d, 'elsewhere')), false);
  });
});
