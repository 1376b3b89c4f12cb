// pinstore-policy.test.ts: which stored entries apply to a connection and what they do
// (protocol/pin-store.md §5), and trust on first use with TACK's activation rule
// (draft-perrin-tls-tack-00 §5.3.4, facts §1.8) on an injected clock (§6).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { VERSION_LINE, parseStore, serializeStore } from '../../src/pinstore/format.ts';
import { entriesOf, type StoreDoc } from '../../src/pinstore/doc.ts';
import { checkStored, decideTofu, lookup, type TofuMode } from '../../src/pinstore/policy.ts';

const pin = (seed: string): string => 'sha256/' + createHash('sha256').update(seed).digest('base64');
const doc = (...lines: string[]): StoreDoc => parseStore(Buffer.from([VERSION_LINE, ...lines].join('\n') + '\n'), 'F');
const at = (iso: string): Date => new Date(iso);
const NOW = at('2026-11-23T12:00:00Z');
const HOUR = 3600_000;
const DAY = 24 * HOUR;

describe('lookup: which entries apply (§5.1)', () => {
  const store = doc(
    `example.com source=hpkp include-subdomains=yes pins=${pin('parent')} expires=2027-01-01T00:00:00Z`,
    `www.example.com source=hpkp pins=${pin('exact')} expires=2027-01-01T00:00:00Z`,
    `plain.org source=static pins=${pin('plain')}`,
    `old.example source=static pins=${pin('old')} expires=2026-01-01T00:00:00Z`,
    `mail.example.net:993 source=static pins=${pin('993')}`,
    `mail.example.net source=static service=imap pins=${pin('imap')}`,
    `192.0.2.1 source=static pins=${pin('ip')}`,
    `deep.example.com source=static pins=${pin('static')}`,
  );
  const hosts = (host: string, port?: number, service?: string) => lookup(store, { host, port, service }, NOW).map((e) => `${e.host}/${e.source}`).sort();

  test('the exact host', () => assert.deepEqual(hosts('plain.org', 443), ['plain.org/static']));
  test('host names are matched case-insensitively, with a trailing dot', () => assert.deepEqual(hosts('PLAIN.org.', 443), ['plain.org/static']));
  test('a parent with include-subdomains', () => assert.deepEqual(hosts('a.b.example.com', 443), ['example.com/hpkp']));
  test('a parent without include-subdomains does not apply', () => assert.deepEqual(hosts('x.plain.org', 443), []));
  test('per source only the most specific: the exact host before the parent', () => assert.deepEqual(hosts('www.example.com', 443), ['www.example.com/hpkp']));
  test('entries of different sources all apply', () => assert.deepEqual(hosts('deep.example.com', 443), ['deep.example.com/static', 'example.com/hpkp']));
  test('an expired entry is ignored as if absent', () => assert.deepEqual(hosts('old.example', 443), []));
  test('a port, when an entry has one, must agree', () => {
    assert.deepEqual(hosts('mail.example.net', 993), ['mail.example.net/static']);
    assert.deepEqual(hosts('mail.example.net', 995), []);
  });
  test('a service, when an entry has one, must agree', () => {
    assert.deepEqual(hosts('mail.example.net', 143, 'imap'), ['mail.example.net/static']);
    assert.deepEqual(hosts('mail.example.net', 143, 'smtp'), []);
  });
  test('a port-specific entry wins over a service-specific one of the same source', () => assert.deepEqual(lookup(store, { host: 'mail.example.net', port: 993, service: 'imap' }, NOW).map((e) => e.port), [993]));
  test('an IP address matches only itself', () => assert.deepEqual(hosts('192.0.2.1', 443), ['192.0.2.1/static']));
});

describe('checkStored: what entries do (§5.2)', () => {
  const leaf = pin('leaf');
  const inter = pin('intermediate');
  const root = pin('root');
  const path = [leaf, inter, root];
  const check = (...lines: string[]) => checkStored(entriesOf(doc(...lines)), path, NOW);

  test('an enforced entry matching any depth passes, and says where', () => {
    const v = check(`a.example source=static pins=${pin('backup')},${inter}`);
    assert.equal(v.failure, undefined);
    assert.deepEqual(v.checks[0]!.matched, [`${inter}@1`]);
  });
  test('entries combine with AND: one failing entry fails the connection', () => {
    const v = check(`a.example source=static pins=${root}`, `a.example source=hpkp pins=${pin('other')},${pin('backup')} expires=2027-01-01T00:00:00Z`);
    assert.equal(v.failure?.check.entry.source, 'hpkp');
    assert.match(v.failure!.message, new RegExp(`^stored pins for a.example source=hpkp: expected one of ${escape(pin('other'))}, ${escape(pin('backup'))}, got ${escape(leaf)}@0,${escape(inter)}@1,${escape(root)}@2$`));
  });
  test('a report-only entry that fails is reported, not fatal', () => {
    const v = check(`a.example source=static mode=report-only pins=${pin('other')}`);
    assert.equal(v.failure, undefined);
    assert.equal(v.checks[0]!.result, 'mismatch');
    assert.equal(v.checks[0]!.effect, 'report-only');
  });
  test('an inactive TOFU pin constrains nothing; an active one is enforced', () => {
    assert.equal(check(`a.example:443 source=tofu pins=${pin('other')} first-seen=2026-11-01T00:00:00Z`).failure, undefined);
    assert.equal(check(`a.example:443 source=tofu pins=${pin('other')} first-seen=2026-11-01T00:00:00Z active-until=2026-11-20T00:00:00Z`).failure, undefined, 'active-until in the past: inactive');
    const v = check(`a.example:443 source=tofu pins=${pin('other')} first-seen=2026-11-01T00:00:00Z active-until=2026-11-30T00:00:00Z`);
    assert.equal(v.failure?.check.effect, 'enforce');
  });
  test('a TACK pin is left to the TACK code', () => {
    const v = check('a.example source=tack tack-id=nkufh.czttd.5cmlw.7cxtv.k6srn first-seen=2026-11-01T00:00:00Z active-until=2026-11-30T00:00:00Z');
    assert.deepEqual([v.checks[0]!.effect, v.checks[0]!.result, v.failure], ['not-spki', 'skipped', undefined]);
  });
  test('an unknown source is enforced by its common fields (§10)', () => assert.ok(check(`a.example source=dane pins=${pin('other')}`).failure));
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

describe('TOFU: the activation timeline on an injected clock (§6)', () => {
  const scope = { host: 'mail.example', port: 993 };
  const K1 = [pin('k1-leaf'), pin('k1-root')];
  const K2 = [pin('k2-leaf'), pin('k2-root')];
  const K3 = [pin('k3-leaf'), pin('k3-root')];
  const T = at('2026-11-01T00:00:00Z').getTime();
  let store: StoreDoc;

  /** One connection at T + ms with the path `keys`; the store is updated as tlsify would. */
  function connect(ms: number, keys: string[], mode: TofuMode = 'learn') {
    const r = decideTofu(store, scope, keys, mode, new Date(T + ms));
    if (r.next) store = parseStore(Buffer.from(serializeStore(r.next)), 'F'); // through the file format
    const e = entriesOf(store).find((x) => x.source === 'tofu');
    return { kind: r.decision.kind, until: e?.activeUntil?.getTime(), first: e?.firstSeen?.getTime(), pins: e?.pins.map((p) => p.text), decision: r.decision };
  }

  test('first use learns the leaf and the anchor as an inactive pin', () => {
    store = doc();
    const r = connect(0, K1);
    assert.deepEqual([r.kind, r.until, r.first, r.pins], ['learned', undefined, T, K1]);
  });
  test('seen again after 1 h: active for 1 h', () => {
    const r = connect(HOUR, K1);
    assert.deepEqual([r.kind, r.until], ['activated', T + 2 * HOUR]);
  });
  test('seen again while active: extended to now + its age', () => {
    const r = connect(1.5 * HOUR, K1);
    assert.deepEqual([r.kind, r.until], ['extended', T + 3 * HOUR]);
  });
  test('another key while active: rejected, and the store is unchanged', () => {
    const before = serializeStore(store);
    const r = connect(2 * HOUR, K2);
    assert.equal(r.kind, 'rejected');
    assert.equal(r.decision.kind === 'rejected' && r.decision.reason, 'active-pin-mismatch');
    assert.match(r.decision.kind === 'rejected' ? r.decision.message : '', /^TOFU: mail.example:993 has an active pin until 2026-11-01T03:00:00Z \(sha256\/.*\); the peer's path has sha256\/.*@0,sha256\/.*@1$/);
    assert.equal(serializeStore(store), before);
  });
  test('another key once the pin went inactive: replaced by a new inactive pin', () => {
    const r = connect(4 * HOUR, K2);
    assert.deepEqual([r.kind, r.until, r.first, r.pins], ['replaced', undefined, T + 4 * HOUR, K2]);
  });
  test('seen again after 40 days: active, capped at 30 days', () => {
    const r = connect(4 * HOUR + 40 * DAY, K2);
    assert.deepEqual([r.kind, r.until], ['activated', T + 4 * HOUR + 70 * DAY]);
  });
  test('a third key while that pin is active: rejected', () => {
    assert.equal(connect(4 * HOUR + 41 * DAY, K3).kind, 'rejected');
  });
  test('the anchor alone matching counts as the same key (a renewed leaf under the same root)', () => {
    assert.equal(connect(4 * HOUR + 42 * DAY, [pin('renewed-leaf'), K2[1]!]).kind, 'extended');
  });
});

describe('TOFU: the other cases', () => {
  const scope = { host: 'a.example', port: 443 };
  const keys = [pin('leaf'), pin('root')];
  const learned = `a.example:443 source=tofu pins=${keys.join(',')} first-seen=2026-11-23T11:00:00Z last-seen=2026-11-23T11:00:00Z`;

  test('strict never trusts a first contact', () => {
    const r = decideTofu(doc(), scope, keys, 'strict', NOW);
    assert.equal(r.decision.kind, 'rejected');
    assert.equal(r.decision.kind === 'rejected' && r.decision.reason, 'no-entry');
    assert.equal(r.next, undefined);
  });
  test('strict accepts a host pinned by another source, and learns nothing', () => {
    const r = decideTofu(doc(`a.example source=static pins=${keys[0]}`), scope, keys, 'strict', NOW);
    assert.deepEqual([r.decision.kind, r.next], ['unchanged', undefined]);
  });
  test('strict activates a known key but never replaces an inactive pin', () => {
    assert.equal(decideTofu(doc(learned), scope, keys, 'strict', NOW).decision.kind, 'activated');
    const r = decideTofu(doc(learned), scope, [pin('other'), pin('root2')], 'strict', NOW);
    assert.equal(r.decision.kind === 'rejected' && r.decision.reason, 'unknown-key');
  });
  test('seen again within the same second: unchanged, nothing written', () => {
    const r = decideTofu(doc(learned), scope, keys, 'learn', at('2026-11-23T11:00:00.900Z'));
    assert.deepEqual([r.decision.kind, r.next], ['unchanged', undefined]);
  });
  test('a self-signed leaf (a path of one) is learned as one pin', () => {
    const r = decideTofu(doc(), scope, [keys[0]!], 'learn', NOW);
    assert.deepEqual(r.decision.kind === 'learned' && r.decision.entry.pins.map((p) => p.text), [keys[0]]);
  });
  test('the relevant pin is the exact host and port: another port is learned apart', () => {
    const r = decideTofu(doc(learned), { host: 'a.example', port: 8443 }, [pin('x'), pin('y')], 'learn', NOW);
    assert.equal(r.decision.kind, 'learned');
    assert.equal(entriesOf(r.next!).length, 2);
  });
  test('other entries, comments and unknown fields survive a decision', () => {
    const before = doc('# keep me', `b.example source=static pins=${pin('b')} x-future=1`, learned);
    const after = serializeStore(decideTofu(before, scope, keys, 'learn', NOW).next!);
    assert.match(after, /^tlsify-pin-store 1\n# keep me\nb\.example source=static pins=\S+ first-seen=|^tlsify-pin-store 1\n# keep me\nb\.example source=static pins=\S+ x-future=1\n/);
    assert.match(after, /x-future=1/);
    assert.match(after, /a\.example:443 source=tofu pins=\S+ first-seen=2026-11-23T11:00:00Z last-seen=2026-11-23T12:00:00Z active-until=2026-11-23T13:00:00Z\n$/);
  });
  test('pins that are not sha256/<base64> are a caller bug', () => {
    assert.throws(() => decideTofu(doc(), scope, ['sha1/abc'], 'learn', NOW), RangeError);
    assert.throws(() => decideTofu(doc(), scope, [], 'learn', NOW), RangeError);
  });
});
