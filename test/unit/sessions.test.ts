// sessions.test.ts: resumption blobs (tls/session-binding.ts, session-blob.ts, sessions.ts): the binding digest and what changes it,
// the strict versioned codec (with a mutation property test), when a blob may be offered, the
// ticket gate that only a Verified opens, the re-check of a stored path against today's policy,
// and the 0600 file store (atomic, one entry per binding, newest wins, bounded).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TlsifyError } from '../../src/codes.ts';
import { parseArgs, type ConnectConfig } from '../../src/config.ts';
import type { Log } from '../../src/log.ts';
import { BINDING_PARTS, bindingFor, bindingOf, type Binding } from '../../src/tls/session-binding.ts';
import { MAX_BLOB_AGE_MS, SessionBlobError, decodeBlob, encodeBlob, type SessionBlob } from '../../src/tls/session-blob.ts';
import { FileSessionStore, MAX_STORE_ENTRIES, STORE_HEADER } from '../../src/tls/session-store.ts';
import { TicketGate, checkBlob, parseResumeMode, resumedEvidence } from '../../src/tls/sessions.ts';
import { loadPolicy } from '../../src/trust/load.ts';
import { verifyPeer, type PeerEvidence, type Verified } from '../../src/trust/verify.ts';
import { fixturePki, type FixturePki } from '../helpers/pki.ts';

let pki: FixturePki;
let dir: string;
before(async () => {
  pki = await fixturePki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-sessions-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const quiet: Log = { error() {}, warn() {}, info() {}, debug() {} };
const NOW = new Date('2030-01-01T00:00:00Z');

function cfg(...flags: string[]): ConnectConfig {
  const sni = flags.includes('--servername') ? [] : ['--servername', 'localhost'];
  const cmd = parseArgs(['connect', '127.0.0.1:8443', ...sni, ...flags], { openFds: undefined });
  assert.equal(cmd.kind, 'connect');
  return (cmd as { config: ConnectConfig }).config;
}

const PIN_A = `sha256/${Buffer.alloc(32, 0xaa).toString('base64')}`;
const PIN_B = `sha256/${Buffer.alloc(32, 0xbb).toString('base64')}`;
const FP_A = 'sha256:' + 'a'.repeat(64);
const FP_B = 'sha256:' + 'b'.repeat(64);

function blob(binding: Binding, over: Partial<SessionBlob> = {}): SessionBlob {
  return { createdAt: NOW, binding, ticket: Buffer.from('ticket bytes'), chain: [pki.good.issued.der, pki.intermediate.der], ocspStaple: undefined, clientId: undefined, ...over };
}

describe('parseResumeMode', () => {
  test('off, caller, file:PATH; anything else lists the forms', () => {
    assert.deepEqual(parseResumeMode('off'), { kind: 'off' });
    assert.deepEqual(parseResumeMode('caller'), { kind: 'caller' });
    assert.deepEqual(parseResumeMode('file:/x/s'), { kind: 'file', path: '/x/s' });
    for (const bad of ['on', 'file:', 'File:/x', '']) assert.throws(() => parseResumeMode(bad), /--resume: expected one of off\|caller\|file:PATH/);
  });
});

describe('bindingOf', () => {
  const base = () => bindingFor(cfg('--ca', '/ca.pem', '--pin', PIN_A), []);

  test('stable: same input, same digest; a golden value pins the serialisation (changing it orphans every stored blob)', () => {
    assert.equal(base().digest, base().digest);
    const fixed = bindingOf({
      host: 'Example.COM',
      port: 443,
      sni: 'example.com',
      alpn: ['h2'],
      minTls: 'TLSv1.2',
      policy: cfg('--ca', '/ca.pem').policy,
      pinStore: 'default',
      tofu: 'off',
      tack: [],
      identities: [],
    });
    const lower = bindingOf({ host: 'example.com', port: 443, sni: 'example.com', alpn: ['h2'], minTls: 'TLSv1.2', policy: cfg('--ca', '/ca.pem').policy, pinStore: 'default', tofu: 'off', tack: [], identities: [] });
    assert.equal(fixed.digest, lower.digest, 'host case does not matter');
    assert.match(fixed.digest, /^[0-9a-f]{64}$/);
    assert.equal(fixed.digest, GOLDEN_DIGEST);
  });

  const changes: [string, () => Binding, string[]][] = [
    ['another port', () => bindingOf({ ...inputOf(cfg('--ca', '/ca.pem', '--pin', PIN_A)), port: 8444 }), ['peer']],
    ['another SNI (and so another reference identity)', () => bindingFor(cfg('--ca', '/ca.pem', '--pin', PIN_A, '--servername', 'other.example'), []), ['sni', 'references']],
    ['ALPN', () => bindingFor(cfg('--ca', '/ca.pem', '--pin', PIN_A, '--alpn', 'h2'), []), ['alpn']],
    ['--min-tls', () => bindingFor(cfg('--ca', '/ca.pem', '--pin', PIN_A, '--min-tls', '1.3'), []), ['min-tls']],
    ['another CA set', () => bindingFor(cfg('--ca', '/other.pem', '--pin', PIN_A), []), ['ca-sets']],
    ['another pin set', () => bindingFor(cfg('--ca', '/ca.pem', '--pin', PIN_B), []), ['pins']],
    ['the pin mode', () => bindingFor(cfg('--ca', '/ca.pem', '--pin', PIN_A, '--pin-report-only'), []), ['pins']],
    ['another pin store', () => bindingFor(cfg('--ca', '/ca.pem', '--pin', PIN_A, '--pin-store', '/elsewhere/pins'), []), ['pins']],
    ['--tofu', () => bindingFor(cfg('--ca', '/ca.pem', '--pin', PIN_A, '--tofu', 'learn'), []), ['pins']],
    ['a TACK file', () => bindingFor(cfg('--ca', '/ca.pem', '--pin', PIN_A, '--tack', '/t.pem'), []), ['pins']],
    ['OCSP', () => bindingFor(cfg('--ca', '/ca.pem', '--pin', PIN_A, '--ocsp', 'require'), []), ['revocation']],
    ['a client identity', () => bindingOf({ ...inputOf(cfg('--ca', '/ca.pem', '--pin', PIN_A)), identities: [FP_A] }), ['identity']],
  ];
  for (const [name, other, parts] of changes) {
    test(`${name} changes the digest, in: ${parts.join(', ')}`, () => {
      const a = base();
      const b = other();
      assert.notEqual(a.digest, b.digest);
      assert.deepEqual(BINDING_PARTS.filter((p) => !a.parts.get(p)!.equals(b.parts.get(p)!)), parts);
    });
  }

  test('sets are sets: CA sets, pins and identities in any order bind the same', () => {
    const pins = [PIN_A, PIN_B];
    const one = bindingOf({ ...inputOf(cfg('--ca', '/a.pem', '--ca', '/b.pem', '--pin', pins.join(';'))), identities: [FP_A, FP_B] });
    const two = bindingOf({ ...inputOf(cfg('--ca', '/b.pem', '--ca', '/a.pem', '--pin', [...pins].reverse().join(';'))), identities: [FP_B, FP_A] });
    assert.equal(one.digest, two.digest);
  });

  test('TLSA records bind', () => {
    const rec = (hex: string) => cfg('--tlsa', `3 1 1 ${hex}`);
    assert.notEqual(bindingFor(rec('aa'.repeat(32)), []).digest, bindingFor(rec('bb'.repeat(32)), []).digest);
  });
});

// The v1 serialisation written out by hand: each part is SHA-256('tlsify-binding-1' NUL name NUL
// JSON(value)); the digest is SHA-256('tlsify-binding-1' NUL, then the part digests in order).
const GOLDEN_DIGEST = goldenDigest();
function goldenDigest(): string {
  const values: Record<string, unknown> = {
    peer: ['example.com', 443],
    sni: 'example.com',
    alpn: ['h2'],
    'min-tls': 'TLSv1.2',
    'ca-sets': ['file:/ca.pem'],
    references: ['dns:localhost'], // from cfg(): --servername localhost
    pins: ['enforce', [], 'default', 'off', []],
    tlsa: [],
    revocation: ['off', []],
    identity: [],
  };
  const h = createHash('sha256').update('tlsify-binding-1\0');
  for (const name of BINDING_PARTS) h.update(createHash('sha256').update(`tlsify-binding-1\0${name}\0${JSON.stringify(values[name])}`).digest());
  return h.digest('hex');
}

function inputOf(c: ConnectConfig) {
  return { host: c.host, port: c.port, sni: c.sni, alpn: c.alpn, minTls: c.minTls, policy: c.policy, pinStore: 'default', tofu: c.tofu, tack: [] as string[], identities: [] as string[] };
}

describe('encodeBlob / decodeBlob', () => {
  const binding = () => bindingFor(cfg('--ca', pki.caFile), []);

  test('round trip, every field', () => {
    const b = blob(binding(), { ocspStaple: Buffer.from([0x30, 1, 2]), clientId: FP_A });
    const text = encodeBlob(b);
    assert.match(text, /^[A-Za-z0-9_-]+$/, 'base64url: safe in env vars, files and control lines');
    const back = decodeBlob(text);
    assert.equal(back.createdAt.getTime(), NOW.getTime());
    assert.equal(back.binding.digest, b.binding.digest);
    assert.deepEqual(back.ticket, b.ticket);
    assert.deepEqual(back.chain, b.chain);
    assert.deepEqual(back.ocspStaple, b.ocspStaple);
    assert.equal(back.clientId, FP_A);
    assert.equal(decodeBlob(encodeBlob(blob(binding()))).clientId, undefined);
    assert.ok(Object.isFrozen(back));
  });

  test('another version is refused as such, not as garbage', () => {
    const raw = Buffer.from(encodeBlob(blob(binding())), 'base64url');
    raw[4] = 2;
    assert.throws(() => decodeBlob(raw.toString('base64url')), (e: SessionBlobError) => e.reason === 'version' && /expected version 1, got 2/.test(e.message));
  });

  const broken: [string, (raw: Buffer) => Buffer | string, RegExp][] = [
    ['not base64url', () => 'abc+/=', /expected base64url/],
    ['another magic', (raw) => Buffer.concat([Buffer.from('XXXX'), raw.subarray(4)]), /expected it to begin with 'TLSB'/],
    ['truncated', (raw) => raw.subarray(0, raw.length - 3), /expected \d+ bytes of client id|expected .* bytes of/],
    ['trailing bytes', (raw) => Buffer.concat([raw, Buffer.from([0])]), /expected the end after the client id, got 1 more bytes/],
    ['too long', () => 'A'.repeat(50_000), /expected at most 32768 bytes/],
  ];
  for (const [name, mutate, message] of broken) {
    test(`malformed: ${name}`, () => {
      const raw = Buffer.from(encodeBlob(blob(binding())), 'base64url');
      const m = mutate(raw);
      const text = typeof m === 'string' ? m : m.toString('base64url');
      assert.throws(() => decodeBlob(text), (e: SessionBlobError) => e instanceof SessionBlobError && e.reason === 'malformed' && message.test(e.message));
    });
  }

  test('property: any truncation or byte flip either decodes or throws SessionBlobError, nothing else', () => {
    const raw = Buffer.from(encodeBlob(blob(binding(), { clientId: FP_A, ocspStaple: Buffer.from('30') })), 'base64url');
    for (let n = 0; n < raw.length; n++) assert.throws(() => decodeBlob(raw.subarray(0, n).toString('base64url') || 'A'), SessionBlobError);
    for (let i = 0; i < 2000; i++) {
      const m = Buffer.from(raw);
      const at = Math.floor(Math.random() * m.length);
      m[at] = randomBytes(1)[0]!;
      try {
        decodeBlob(m.toString('base64url'));
      } catch (err) {
        assert.ok(err instanceof SessionBlobError, `byte ${at}: ${String(err)}`);
      }
    }
  });

  test('a blob too big to carry is refused at encoding', () => {
    assert.throws(() => encodeBlob(blob(binding(), { chain: Array(8).fill(Buffer.alloc(16 * 1024, 0x30)) })), /cannot encode a blob of \d+ bytes \(at most 32768\)/);
  });
});

describe('checkBlob: whether a blob may be offered', () => {
  const current = () => bindingFor(cfg('--ca', pki.caFile), []);
  const now = () => new Date(Date.now());

  test('same binding, in date: offered, with its age', () => {
    const c = checkBlob(blob(current(), { createdAt: new Date(Date.now() - 90_000) }), current(), now());
    assert.deepEqual(c, { ok: true, ageSeconds: 90 });
  });
  test('another binding: not offered, and the parts that differ are named', () => {
    const other = bindingFor(cfg('--ca', pki.caFile, '--servername', 'other.example'), []);
    const c = checkBlob(blob(other, { createdAt: new Date() }), current(), now());
    assert.equal(c.ok, false);
    assert.deepEqual(!c.ok && c.reason === 'binding' && c.differs, ['sni', 'references']);
  });
  test('another client identity: not offered', () => {
    const withId = bindingOf({ ...inputOf(cfg('--ca', pki.caFile)), identities: [FP_A] });
    const c = checkBlob(blob(withId, { createdAt: new Date() }), current(), now());
    assert.deepEqual(!c.ok && c.reason === 'binding' && c.differs, ['identity']);
  });
  test('older than 7 days, or from the future: expired', () => {
    const old = checkBlob(blob(current(), { createdAt: new Date(Date.now() - MAX_BLOB_AGE_MS - 1000) }), current(), now());
    assert.equal(!old.ok && old.reason, 'expired');
    const future = checkBlob(blob(current(), { createdAt: new Date(Date.now() + 3600_000) }), current(), now());
    assert.match(!future.ok ? future.message : '', /in the future/);
  });
  test('a stored path that has expired is not offered: a full handshake fetches the renewed certificate', () => {
    const c = checkBlob(blob(current(), { createdAt: new Date(), chain: [pki.expired.issued.der, pki.intermediate.der] }), current(), now());
    assert.equal(!c.ok && c.reason, 'expired');
    assert.match(!c.ok ? c.message : '', /stored certificate 1 expired at/);
  });
});

describe('the ticket gate and the re-check of a stored path', () => {
  const evidence = (): PeerEvidence => ({ chain: [pki.good.issued.der, pki.intermediate.der], openssl: { authorized: true, error: undefined }, ocspStaple: undefined });
  const verify = (c: ConnectConfig, ev: PeerEvidence = evidence()): Verified => verifyPeer(loadPolicy(c.policy, quiet), ev, new Date(), () => {});

  test('holds tickets until accept(Verified); stores the validated path, anchor included', () => {
    const out: SessionBlob[] = [];
    const b = bindingFor(cfg('--ca', pki.caFile), []);
    const gate = new TicketGate(b, (x) => out.push(x), (e) => assert.fail(String(e)), () => NOW);
    gate.offer(Buffer.from('t1'));
    gate.offer(Buffer.from('t2')); // TLS 1.3: OpenSSL servers send two
    assert.equal(out.length, 0, 'nothing before the verdict');
    const v = verify(cfg('--ca', pki.caFile));
    gate.accept(v, { ocspStaple: null, clientId: FP_A });
    gate.offer(Buffer.from('t3'));
    assert.deepEqual(out.map((x) => x.ticket.toString()), ['t1', 't2', 't3']);
    assert.deepEqual(out[0]!.chain, v.path.map((c) => c.der));
    assert.equal(out[0]!.chain.length, 3, 'leaf, intermediate, anchor');
    assert.equal(out[0]!.clientId, FP_A);
    assert.equal(out[0]!.ocspStaple, undefined);
    assert.equal(out[0]!.binding.digest, b.digest);
  });

  test('reject() drops held tickets and every later one: a rejected connection leaves nothing', () => {
    const out: SessionBlob[] = [];
    const gate = new TicketGate(bindingFor(cfg('--ca', pki.caFile), []), (x) => out.push(x), (e) => assert.fail(String(e)));
    const held = Buffer.from('secret ticket');
    gate.offer(held);
    gate.reject();
    gate.offer(Buffer.from('late'));
    gate.accept(verify(cfg('--ca', pki.caFile)), { ocspStaple: undefined, clientId: undefined });
    assert.deepEqual(out, []);
    assert.ok(held.equals(Buffer.alloc(held.length)), 'the held ticket was zeroed');
  });

  test('a sink that throws reports through onError, not out of the socket event', () => {
    const errors: unknown[] = [];
    const gate = new TicketGate(bindingFor(cfg('--ca', pki.caFile), []), () => {
      throw new TlsifyError('config', 'disk full');
    }, (e) => errors.push(e));
    gate.accept(verify(cfg('--ca', pki.caFile)), { ocspStaple: undefined, clientId: undefined });
    gate.offer(Buffer.from('t'));
    assert.equal(errors.length, 1);
  });

  test('the stored path passes again under the same policy, and fails once the policy no longer accepts it', () => {
    const out: SessionBlob[] = [];
    const gate = new TicketGate(bindingFor(cfg('--ca', pki.caFile), []), (x) => out.push(x), (e) => assert.fail(String(e)));
    gate.accept(verify(cfg('--ca', pki.caFile)), { ocspStaple: undefined, clientId: undefined });
    gate.offer(Buffer.from('t'));
    const stored = decodeBlob(encodeBlob(out[0]!));
    // A resumed connection: node:tls gives no chain (facts §5.2); OpenSSL's stored verdict stays.
    const live = { chain: [], openssl: { authorized: true, error: undefined }, ocspStaple: undefined };
    const again = verify(cfg('--ca', pki.caFile), resumedEvidence(stored, live));
    assert.equal(again.by, 'ca');
    assert.equal(again.path.length, 3);
    // Re-pinned away: the stored path no longer satisfies the pins.
    assert.throws(() => verify(cfg('--ca', pki.caFile, '--pin', PIN_A), resumedEvidence(stored, live)), (e: TlsifyError) => e.code === 'pin-mismatch');
    // The anchor removed from the set: untrusted.
    assert.throws(() => verify(cfg('--ca', pki.untrustedCaFile), resumedEvidence(stored, live)), (e: TlsifyError) => e.code === 'untrusted');
  });

  test('resumedEvidence: the stored staple only where one is asked for', () => {
    const b = blob(bindingFor(cfg('--ca', pki.caFile), []), { ocspStaple: Buffer.from('staple') });
    assert.equal(resumedEvidence(b, { chain: [], openssl: undefined, ocspStaple: undefined }).ocspStaple, undefined);
    assert.equal(resumedEvidence(b, { chain: [], openssl: undefined, ocspStaple: null })!.ocspStaple!.toString(), 'staple');
    assert.equal(resumedEvidence({ ...b, ocspStaple: undefined }, { chain: [], openssl: undefined, ocspStaple: null }).ocspStaple, null);
  });
});

describe('FileSessionStore (--resume file:PATH)', () => {
  const bindingN = (n: number) => bindingOf({ ...inputOf(cfg('--ca', pki.caFile)), port: 1000 + n });
  let n = 0;
  const fresh = () => path.join(dir, `store-${++n}`);
  const tmpLeft = () => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));

  test('a missing file is empty; the first put creates it 0600, with a header', () => {
    const file = fresh();
    const store = FileSessionStore.open(file);
    assert.equal(store.size, 0);
    store.put(blob(bindingN(1), { createdAt: new Date() }), new Date());
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(file, 'utf8').split('\n')[0], STORE_HEADER);
    assert.equal(FileSessionStore.open(file).lookup(bindingN(1))!.ticket.toString(), 'ticket bytes');
    assert.equal(FileSessionStore.open(file).lookup(bindingN(2)), undefined);
    assert.deepEqual(tmpLeft(), []);
  });

  test('one entry per binding, the newest wins', () => {
    const file = fresh();
    const store = FileSessionStore.open(file);
    store.put(blob(bindingN(1), { createdAt: new Date(), ticket: Buffer.from('old') }), new Date());
    store.put(blob(bindingN(1), { createdAt: new Date(), ticket: Buffer.from('new') }), new Date());
    const again = FileSessionStore.open(file);
    assert.equal(again.size, 1);
    assert.equal(again.lookup(bindingN(1))!.ticket.toString(), 'new');
  });

  test('bounded: the oldest entries go first', () => {
    const file = fresh();
    const store = FileSessionStore.open(file);
    const t0 = Date.now() - 3600_000;
    for (let i = 0; i <= MAX_STORE_ENTRIES; i++) store.put(blob(bindingN(i), { createdAt: new Date(t0 + i * 1000) }), new Date());
    const again = FileSessionStore.open(file);
    assert.equal(again.size, MAX_STORE_ENTRIES);
    assert.equal(again.lookup(bindingN(0)), undefined, 'the oldest was evicted');
    assert.ok(again.lookup(bindingN(MAX_STORE_ENTRIES)));
  });

  test('two processes writing different bindings both keep their entry (each write re-reads)', () => {
    const file = fresh();
    const a = FileSessionStore.open(file);
    const b = FileSessionStore.open(file);
    a.put(blob(bindingN(1), { createdAt: new Date() }), new Date());
    b.put(blob(bindingN(2), { createdAt: new Date() }), new Date());
    const again = FileSessionStore.open(file);
    assert.ok(again.lookup(bindingN(1)) && again.lookup(bindingN(2)));
  });

  test('forget drops one entry (after its stored path failed the re-check)', () => {
    const file = fresh();
    const store = FileSessionStore.open(file);
    store.put(blob(bindingN(1), { createdAt: new Date() }), new Date());
    store.put(blob(bindingN(2), { createdAt: new Date() }), new Date());
    store.forget(bindingN(1));
    assert.equal(FileSessionStore.open(file).lookup(bindingN(1)), undefined);
    assert.ok(FileSessionStore.open(file).lookup(bindingN(2)));
  });

  test('expired entries are dropped on the next write', () => {
    const file = fresh();
    const store = FileSessionStore.open(file);
    store.put(blob(bindingN(1), { createdAt: new Date(Date.now() - MAX_BLOB_AGE_MS - 1000) }), new Date(Date.now() - MAX_BLOB_AGE_MS));
    store.put(blob(bindingN(2), { createdAt: new Date() }), new Date());
    assert.equal(FileSessionStore.open(file).size, 1);
  });

  test('refused: a store others can read, a symbolic link, a foreign header, a broken line', () => {
    const open = fresh();
    fs.writeFileSync(open, STORE_HEADER + '\n', { mode: 0o644 });
    fs.chmodSync(open, 0o644);
    assert.throws(() => FileSessionStore.open(open), /expected mode 0600 \(only its owner may read it\), got mode 0644/);
    const link = fresh();
    fs.symlinkSync(open, link);
    assert.throws(() => FileSessionStore.open(link), /it is a symbolic link/);
    const foreign = fresh();
    fs.writeFileSync(foreign, 'something else\n', { mode: 0o600 });
    assert.throws(() => FileSessionStore.open(foreign), (e: TlsifyError) => e.code === 'config' && /line 1: expected 'tlsify-sessions 1', got 'something else'/.test(e.message));
    const broken = fresh();
    fs.writeFileSync(broken, `${STORE_HEADER}\nnot+a+blob\n`, { mode: 0o600 });
    assert.throws(() => FileSessionStore.open(broken), /line 2: session blob: expected base64url/);
  });
});
