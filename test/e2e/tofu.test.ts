// test/e2e/tofu.test.ts: trust on first use and stored pins against real node:tls peers (the
// pin-store issue's "done when"), and HPKP headers passed over the control channel.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { codes } from '../../src/codes.ts';
import { issue, type Issued } from '../../src/pki/generate.ts';
import { fixturePki, type FixturePki } from '../helpers/pki.ts';
import { echoUpper, runOnce, runTlsify, tlsPeer, TLSIFY, type Peer } from '../helpers/tlsify.ts';

let pki: FixturePki;
let dir: string;
const peers: Peer[] = [];
before(async () => {
  pki = await fixturePki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-tofu-'));
});
after(async () => {
  await Promise.all(peers.map((p) => p.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function serve(leaf: Issued): Promise<Peer> {
  const peer = await tlsPeer({ key: leaf.keyPem, cert: leaf.certPem + pki.intermediate.certPem }, echoUpper);
  peers.push(peer);
  return peer;
}
const leafFor = () => issue({ subject: 'CN=localhost', issuer: pki.intermediate, dns: ['localhost'], key: 'p256' });
const tofu = (store: string, port: number, ...more: string[]) =>
  runOnce(['connect', `127.0.0.1:${port}`, '--servername', 'localhost', '--ca', pki.caFile, '--pin-store', store, ...more], 'hi\n');
const event = (r: { events: { name: string; fields: Record<string, string> }[] }, name: string) => r.events.find((e) => e.name === name)?.fields;
const tick = () => new Promise((r) => setTimeout(r, 1100));
const pinsList = (store: string) => spawnSync(TLSIFY, ['pins', 'list', '--pin-store', store], { encoding: 'utf8' }).stdout;

describe('--tofu learn', () => {
  test('first contact learns (inactive), the same key again activates; pins list shows it', async () => {
    const store = path.join(dir, 'learn.pins');
    const leaf = await leafFor();
    const p = await serve(leaf);
    const first = await tofu(store, p.port, '--tofu', 'learn');
    assert.equal(first.status, 0, first.stderr);
    assert.equal(event(first, 'tofu')!.decision, 'learned');
    await tick(); // the store keeps whole seconds: a second contact within one changes nothing
    const second = await tofu(store, p.port, '--tofu', 'learn');
    assert.equal(second.status, 0, second.stderr);
    assert.equal(event(second, 'tofu')!.decision, 'activated');
    const list = pinsList(store);
    assert.match(list, /^localhost:\d+ .*source=tofu/m);
    assert.ok(list.includes(leaf.spkiPin), list);
  });

  test('a new key while the pin is inactive replaces it', async () => {
    const store = path.join(dir, 'replace.pins');
    const p1 = await serve(await leafFor());
    assert.equal(event(await tofu(store, p1.port, '--tofu', 'learn'), 'tofu')!.decision, 'learned');
    await tick();
    // Same name and port, another key under another CA (a TOFU pin holds the leaf's key and the
    // anchor's, so a new leaf from the same CA still matches): move the entry to p2's port.
    const p2 = await tlsPeer({ key: pki.rsa.issued.keyPem, cert: pki.rsa.chainPem }, echoUpper);
    peers.push(p2);
    const text = fs.readFileSync(store, 'utf8').replace(`localhost:${p1.port}`, `localhost:${p2.port}`);
    fs.writeFileSync(store, text);
    const r = await tofu(store, p2.port, '--tofu', 'learn');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(event(r, 'tofu')!.decision, 'replaced');
  });

  test('a new key while the pin is active is rejected with the pin-mismatch code, and no data flows', async () => {
    const store = path.join(dir, 'active.pins');
    const old = await leafFor();
    const p = await serve(await leafFor());
    // A pin first seen ten days ago and seen since: active for days yet (draft-perrin-tls-tack-00 §5.3).
    const day = 86400_000;
    const iso = (t: number) => new Date(t).toISOString().replace(/\.\d+Z$/, 'Z');
    const now = Date.now();
    fs.writeFileSync(store, `tlsify-pin-store 1\nlocalhost:${p.port} source=tofu pins=${old.spkiPin} first-seen=${iso(now - 10 * day)} last-seen=${iso(now - day)} active-until=${iso(now + 5 * day)}\n`, { mode: 0o600 });
    const r = await tofu(store, p.port, '--tofu', 'learn');
    assert.equal(r.status, codes['pin-mismatch'].exit, r.stderr);
    assert.equal(r.stdout.length, 0);
    assert.equal(event(r, 'tofu')!.decision, 'rejected');
    // Without --tofu, the stored active pin is enforced just the same.
    const plain = await tofu(store, p.port);
    assert.equal(plain.status, codes['pin-mismatch'].exit);
    assert.equal(event(plain, 'stored-pins')!.result, 'mismatch');
  });

  test('strict refuses a host with no entry', async () => {
    const p = await serve(await leafFor());
    const r = await tofu(path.join(dir, 'strict.pins'), p.port, '--tofu', 'strict');
    assert.equal(r.status, codes['pin-mismatch'].exit);
    assert.equal(event(r, 'tofu')!.reason, 'no-entry');
  });

  test('a malformed store stops tlsify before it dials, naming the file and line', async () => {
    const store = path.join(dir, 'bad.pins');
    fs.writeFileSync(store, 'tlsify-pin-store 1\nlocalhost:1 source=static pins=sha1/AAAA\n', { mode: 0o600 });
    const r = await tofu(store, 1);
    assert.equal(r.status, codes.config.exit);
    assert.match(r.stderr, /bad\.pins line 2/);
    assert.equal(fs.readFileSync(store, 'utf8'), 'tlsify-pin-store 1\nlocalhost:1 source=static pins=sha1/AAAA\n');
  });
});

describe('HPKP over the control channel', () => {
  test('a valid header with a backup pin is noted and then enforced', async () => {
    const store = path.join(dir, 'hpkp.pins');
    const leaf = await leafFor();
    const p = await serve(leaf);
    const backup = `sha256/${Buffer.alloc(32, 7).toString('base64')}`;
    const header = `pin-sha256="${leaf.spkiPin.slice(7)}"; pin-sha256="${backup.slice(7)}"; max-age=600`;
    const run = runTlsify(['connect', `127.0.0.1:${p.port}`, '--servername', 'localhost', '--ca', pki.caFile, '--pin-store', store]);
    await run.waitFor('ready');
    run.command(`hpkp header=${encodeURIComponent(header).replace(/%3D/g, '=').replace(/%22/g, '"').replace(/%3B/g, ';').replace(/%2F/g, '/').replace(/%2B/g, '+')}`);
    const result = await run.waitFor('hpkp-result');
    assert.equal(result.fields.result, 'noted', JSON.stringify(result.fields));
    run.stdin.end();
    assert.equal((await run.done).status, 0);
    // Another key for the same host is now refused.
    const other = await serve(await leafFor());
    fs.writeFileSync(store, fs.readFileSync(store, 'utf8').replace(`localhost:${p.port}`, `localhost:${other.port}`));
    const r = await tofu(store, other.port);
    assert.equal(r.status, codes['pin-mismatch'].exit, r.stderr);
  });

  test('a header without a backup pin is rejected, and hpkp before ready is refused', async () => {
    const leaf = await leafFor();
    const p = await serve(leaf);
    const run = runTlsify(['connect', `127.0.0.1:${p.port}`, '--servername', 'localhost', '--ca', pki.caFile, '--pin-store', path.join(dir, 'nobackup.pins'), '--hold']);
    await run.waitFor('hold');
    run.command('hpkp header=max-age=1');
    const early = await run.waitFor('error');
    assert.equal(early.fields.code, 'not-ready');
    run.command('accept');
    await run.waitFor('ready');
    run.command(`hpkp header=pin-sha256="${leaf.spkiPin.slice(7)}";%20max-age=600`);
    const result = await run.waitFor('hpkp-result');
    assert.equal(result.fields.result, 'rejected');
    assert.equal(result.fields.reason, 'no-backup-pin');
    run.stdin.end();
    await run.done;
  });
});
