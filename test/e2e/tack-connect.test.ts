// tack-connect.test.ts: TACK pinning through real handshakes (issue 6 items 4-6; draft-perrin-
// tls-tack-00 §5, facts §1.8): `tlsify connect --tack FILE [--tack-break FILE] [--tack-activate]`
// against a node:tls server with the fixture PKI's leaf, TACKs made with `tlsify tack` in-process.
//
// NEEDS THE CONNECT WIRING (src/commands/connect.ts calling src/tack/client.ts processTacks and
// src/pinstore/tack.ts enforceTackPins, emitting `tack` and `tack-pin` on fd 3, exit 11 on a
// rejection). Until then the first connection emits no `tack` event and every test here skips
// itself with that reason; nothing fails.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { codes } from '../../src/codes.ts';
import { runTack } from '../../src/commands/tack.ts';
import { fixturePki, serverOptions, type FixturePki } from '../helpers/pki.ts';
import { echoUpper, runOnce, tlsPeer, type Peer } from '../helpers/tlsify.ts';

const PW = 'test-password';
const HOUR = 3600_000;
const DAY = 24 * HOUR;
let pki: FixturePki;
let dir: string;
let peer: Peer;
let wired = false;
const file = (name: string): string => path.join(dir, name);
const iso = (t: number): string => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** `tlsify tack ARGS` in-process; fails the test on a non-zero status. */
async function tack(...args: string[]): Promise<string> {
  let out = '';
  let err = '';
  const status = await runTack(args, { out: (s) => (out += s), err: (s) => (err += s), stdin: async () => Buffer.alloc(0), isTTY: false, env: {} });
  assert.equal(status, 0, `tlsify tack ${args.join(' ')}: ${err}`);
  return out;
}

/** A TACK key: its file, its TACK ID (from `tack view`), and a break signature file. */
async function key(name: string): Promise<{ file: string; id: string; breakSig: string }> {
  const k = file(`${name}.key.pem`);
  await tack('genkey', '-p', PW, '-o', k);
  const id = /TACK ID\s*=\s*(\S+)/.exec(await tack('view', k))?.[1];
  assert.ok(id, 'tack view shows the TACK ID');
  const breakSig = file(`${name}.break.pem`);
  await tack('break', '-k', k, '-p', PW, '-o', breakSig);
  return { file: k, id, breakSig };
}

async function sign(k: { file: string }, name: string, ...more: string[]): Promise<string> {
  const out = file(`${name}.tack.pem`);
  await tack('sign', '-k', k.file, '-p', PW, '-c', pki.good.certFile, '-o', out, ...more);
  return out;
}

let A: Awaited<ReturnType<typeof key>>;
let B: Awaited<ReturnType<typeof key>>;
let tackA: string;
let tackB: string;
let n = 0;

function connect(store: string, ...more: string[]) {
  return runOnce(['connect', `127.0.0.1:${peer.port}`, '--ca', pki.caFile, '--servername', 'localhost', '--pin-store', store, ...more], 'hi\n');
}
type Result = Awaited<ReturnType<typeof connect>>;
const events = (r: Result, name: string) => r.events.filter((e) => e.name === name).map((e) => e.fields);
const lastPin = (r: Result) => events(r, 'tack-pin').at(-1)!;

/** A fresh store file holding `lines` (the relevant name is localhost:PORT). */
function store(...lines: string[]): string {
  const f = file(`store-${n++}.pins`);
  if (lines.length > 0) fs.writeFileSync(f, ['tlsify-pin-store 1', ...lines].join('\n') + '\n', { mode: 0o600 });
  return f;
}
const pinLine = (id: string, opts: { firstSeen: number; activeUntil?: number; minGen?: number }) =>
  `localhost:${peer.port} source=tack first-seen=${iso(opts.firstSeen)}${opts.activeUntil ? ` active-until=${iso(opts.activeUntil)}` : ''} tack-id=${id}${opts.minGen !== undefined ? ` min-generation=${opts.minGen}` : ''}`;

before(async () => {
  pki = await fixturePki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-tack-connect-'));
  peer = await tlsPeer(serverOptions(pki.good), echoUpper);
  [A, B] = await Promise.all([key('a'), key('b')]);
  [tackA, tackB] = await Promise.all([sign(A, 'a'), sign(B, 'b')]);
  // The probe: a wired connect reports every TACK it was given.
  const probe = await connect(store(), '--tack', tackA);
  wired = events(probe, 'tack').length > 0;
});
after(async () => {
  await peer?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Skips the test until connect is wired (see the header). */
function needsWiring(t: TestContext): boolean {
  if (!wired) t.skip('connect does not process --tack yet: wire src/tack/client.ts into src/commands/connect.ts');
  return wired;
}

function accepted(r: Result): void {
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.toString(), 'HI\n');
}
function rejected(r: Result, reason: string): void {
  assert.equal(r.status, codes['pin-mismatch'].exit, r.stderr);
  assert.equal(r.stdout.length, 0, 'no plaintext moves before the TACK verdict');
  assert.equal(lastPin(r).outcome, 'rejected');
  assert.equal(lastPin(r).reason, reason);
}

describe('pin activation through real handshakes (draft-00 §5.3.4)', () => {
  test('first seen: a new inactive pin; seen again an hour later: activated and accepted', async (t) => {
    if (!needsWiring(t)) return;
    const s = store();
    const first = await connect(s, '--tack', tackA, '--tack-activate');
    accepted(first);
    assert.deepEqual(events(first, 'tack').map((e) => [e.kind, e.id, e.result]), [['tack', A.id, 'unpinned']]);
    assert.deepEqual([lastPin(first).decision, lastPin(first).outcome, lastPin(first).id], ['learned', 'unpinned', A.id]);
    assert.match(fs.readFileSync(s, 'utf8'), new RegExp(`^localhost:${peer.port} source=tack first-seen=\\S+ last-seen=\\S+ tack-id=${A.id.replace(/\./g, '\\.')} min-generation=0$`, 'm'));

    // An hour passes: move first-seen back rather than wait.
    fs.writeFileSync(s, fs.readFileSync(s, 'utf8').replace(/first-seen=\S+/, `first-seen=${iso(Date.now() - HOUR)}`));
    const second = await connect(s, '--tack', tackA, '--tack-activate');
    accepted(second);
    assert.deepEqual([lastPin(second).decision, lastPin(second).outcome], ['activated', 'accepted']);
    assert.equal(events(second, 'tack')[0]!.result, 'accepted');
    const until = Date.parse(lastPin(second)['active-until']!);
    assert.ok(Math.abs(until - (Date.now() + HOUR)) < 60_000, `active for about an hour, got until ${lastPin(second)['active-until']}`);
  });

  test('an active pin and a TACK of another key: rejected with pin-mismatch (exit 11)', async (t) => {
    if (!needsWiring(t)) return;
    const s = store(pinLine(A.id, { firstSeen: Date.now() - 10 * DAY, activeUntil: Date.now() + 5 * DAY }));
    const r = await connect(s, '--tack', tackB, '--tack-activate');
    rejected(r, 'active-pin-mismatch');
    assert.equal(events(r, 'tack')[0]!.result, 'rejected');
    assert.match(fs.readFileSync(s, 'utf8'), new RegExp(`tack-id=${A.id.replace(/\./g, '\\.')}`), 'the pin stays');
  });

  test('an active pin and no --tack at all: rejected too', async (t) => {
    if (!needsWiring(t)) return;
    const s = store(pinLine(A.id, { firstSeen: Date.now() - 10 * DAY, activeUntil: Date.now() + 5 * DAY }));
    rejected(await connect(s), 'no-tack');
  });

  test('an active pin and a TACK of its key: accepted, and the active period extended', async (t) => {
    if (!needsWiring(t)) return;
    const s = store(pinLine(A.id, { firstSeen: Date.now() - 40 * DAY, activeUntil: Date.now() + DAY }));
    const r = await connect(s, '--tack', tackA, '--tack-activate');
    accepted(r);
    assert.deepEqual([lastPin(r).decision, lastPin(r).outcome], ['extended', 'accepted']);
    const until = Date.parse(lastPin(r)['active-until']!);
    assert.ok(Math.abs(until - (Date.now() + 30 * DAY)) < 60_000, 'capped at 30 days');
  });

  test('an inactive pin and a TACK of another key: replaced by a new inactive pin', async (t) => {
    if (!needsWiring(t)) return;
    const s = store(pinLine(A.id, { firstSeen: Date.now() - 10 * DAY, activeUntil: Date.now() - DAY }));
    const r = await connect(s, '--tack', tackB, '--tack-activate');
    accepted(r);
    assert.deepEqual([lastPin(r).decision, lastPin(r).id, lastPin(r).previous], ['replaced', B.id, A.id]);
    const text = fs.readFileSync(s, 'utf8');
    assert.ok(text.includes(`tack-id=${B.id}`) && !text.includes(`tack-id=${A.id}`), text);
  });
});

describe('generations (draft-00 §5.3.2)', () => {
  test('a TACK below the key record min_generation is revoked: exit 11', async (t) => {
    if (!needsWiring(t)) return;
    const s = store(pinLine(A.id, { firstSeen: Date.now() - 10 * DAY, activeUntil: Date.now() + 5 * DAY, minGen: 3 }));
    const old = await sign(A, 'a-gen1', '-m', '1', '-g', '1');
    const r = await connect(s, '--tack', old);
    rejected(r, 'revoked');
    assert.equal(events(r, 'tack')[0]!.alert, 'certificate_revoked');
  });

  test('a TACK with a higher min_generation raises the key record', async (t) => {
    if (!needsWiring(t)) return;
    const s = store(pinLine(A.id, { firstSeen: Date.now() - 10 * DAY, activeUntil: Date.now() + 5 * DAY, minGen: 3 }));
    const r = await connect(s, '--tack', await sign(A, 'a-gen4', '-m', '4', '-g', '4'));
    accepted(r);
    assert.ok(events(r, 'tack-pin').some((e) => e.decision === 'raised' && e['min-generation'] === '4' && e.was === '3'));
    assert.match(fs.readFileSync(s, 'utf8'), /min-generation=4$/m);
  });
});

describe('break signatures (draft-00 §5.3.5)', () => {
  test("a verified break signature deletes the key's pins; the new key's TACK is then unpinned", async (t) => {
    if (!needsWiring(t)) return;
    const s = store(pinLine(A.id, { firstSeen: Date.now() - 10 * DAY, activeUntil: Date.now() + 5 * DAY }), `mirror.example:443 source=tack first-seen=${iso(Date.now() - DAY)} tack-id=${A.id}`);
    const r = await connect(s, '--tack-break', A.breakSig, '--tack', tackB, '--tack-activate');
    accepted(r);
    assert.ok(events(r, 'tack-pin').some((e) => e.decision === 'broken' && e.id === A.id && e.removed === '2'));
    assert.deepEqual([lastPin(r).decision, lastPin(r).outcome], ['learned', 'unpinned']);
    const text = fs.readFileSync(s, 'utf8');
    assert.ok(!text.includes(A.id) && text.includes(`tack-id=${B.id}`), text);
  });

  test("the broken key's own TACK is refused", async (t) => {
    if (!needsWiring(t)) return;
    rejected(await connect(store(), '--tack-break', A.breakSig, '--tack', tackA), 'broken');
  });
});

describe('TACK checks against the validated leaf (draft-00 §5.3.1, §5.3.3)', () => {
  test("a TACK for another certificate's SPKI is rejected", async (t) => {
    if (!needsWiring(t)) return;
    const other = file('other.tack.pem');
    await tack('sign', '-k', A.file, '-p', PW, '-c', pki.rsa.certFile, '-o', other);
    const r = await connect(store(), '--tack', other, '--tack-activate');
    rejected(r, 'wrong-target');
    assert.equal(events(r, 'tack')[0]!.alert, 'illegal_parameter');
  });

  test('an expired TACK is rejected', async (t) => {
    if (!needsWiring(t)) return;
    rejected(await connect(store(), '--tack', await sign(A, 'a-expired', '-e', '2020-01-01Z')), 'expired');
  });

  test('a --tack file that holds no TACK stops tlsify with config (exit 3) before it dials', async (t) => {
    if (!needsWiring(t)) return;
    const r = await connect(store(), '--tack', A.breakSig);
    assert.equal(r.status, codes.config.exit, r.stderr);
    assert.match(r.stderr, /--tack .*a\.break\.pem: expected -----BEGIN TACK----- blocks/);
    assert.equal(r.events.some((e) => e.name === 'connected'), false);
  });
});
