// pinstore-hpkp.test.ts: RFC 7469 for the store: the header grammar (§2.1), the noting rules of
// §2.5 one by one (protocol/pin-store.md §7), and the fields of the §3 report JSON.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { VERSION_LINE, parseStore, serializeStore } from '../../src/pinstore/format.ts';
import { entriesOf, type StoreDoc } from '../../src/pinstore/doc.ts';
import { DEFAULT_MAX_AGE_CAP, decideHpkp, parseHpkpHeader, pinReport, reportFor, type HpkpInput } from '../../src/pinstore/hpkp.ts';

const hash = (seed: string): Buffer => createHash('sha256').update(seed).digest();
const b64 = (seed: string): string => hash(seed).toString('base64');
const pin = (seed: string): string => `sha256/${b64(seed)}`;
const doc = (...lines: string[]): StoreDoc => parseStore(Buffer.from([VERSION_LINE, ...lines].join('\n') + '\n'), 'F');
const NOW = new Date('2026-11-23T12:00:00Z');

// The validated path: leaf, intermediate, root; DER stand-ins (the report only wraps them in PEM).
const chain = ['leaf', 'intermediate', 'root'].map((name) => ({ pin: pin(name), der: Buffer.concat([Buffer.from([0x30, 0x82]), hash(`der-${name}`), Buffer.alloc(100, name.length)]) }));
const served = [chain[0]!.der, chain[1]!.der, Buffer.from('an extra certificate the peer sent')];

function input(header: string, over: Partial<HpkpInput> = {}): HpkpInput {
  return { host: 'www.example.com', port: 443, header, validated: chain, served, clean: true, now: NOW, reportOnly: false, maxAgeCap: DEFAULT_MAX_AGE_CAP, ...over };
}
const valid = `pin-sha256="${b64('intermediate')}"; pin-sha256="${b64('backup')}"; max-age=86400`;

describe('the header grammar (RFC 7469 §2.1)', () => {
  const ok: [string, string, (h: { pins: readonly { text: string }[]; maxAge: number | undefined; includeSubDomains: boolean; reportUri: string | undefined }) => void][] = [
    ['the usual form', valid, (h) => assert.deepEqual([h.pins.length, h.maxAge], [2, 86400])],
    ['directive names in any case (rule 3)', `PIN-SHA256="${b64('a')}";Max-Age=5;INCLUDESUBDOMAINS`, (h) => assert.deepEqual([h.pins.length, h.maxAge, h.includeSubDomains], [1, 5, true])],
    ['blanks around ";" and the value', `  pin-sha256="${b64('a')}" ;\tmax-age=5  `, (h) => assert.equal(h.maxAge, 5)],
    ['a quoted max-age (§2.1.2: after unquoting)', `pin-sha256="${b64('a')}"; max-age="7"`, (h) => assert.equal(h.maxAge, 7)],
    ['unknown directives are ignored (rule 5)', `pin-sha256="${b64('a')}"; max-age=5; future=1; flag`, (h) => assert.equal(h.pins.length, 1)],
    ['pins of other algorithms are ignored (§2.1.1)', `pin-sha1="AAAA"; pin-sha256="${b64('a')}"; max-age=5`, (h) => assert.equal(h.pins.length, 1)],
    ['report-uri, quoted with an escape', `pin-sha256="${b64('a')}"; max-age=5; report-uri="https://r.example/\\x"`, (h) => assert.equal(h.reportUri, 'https://r.example/x')],
    ['the same pin twice counts once', `pin-sha256="${b64('a')}"; pin-sha256="${b64('a')}"; max-age=5`, (h) => assert.equal(h.pins.length, 1)],
  ];
  for (const [name, header, check] of ok) {
    test(`read: ${name}`, () => {
      const r = parseHpkpHeader(header);
      assert.ok(r.ok, r.ok ? '' : r.message);
      check(r.header);
    });
  }
  const malformed: [string, string, RegExp][] = [
    ['a trailing ";"', `${valid};`, /expected a directive name at character \d+, got the end/],
    ['an empty directive', `pin-sha256="${b64('a')}";; max-age=5`, /expected a directive name/],
    ['max-age twice (rule 2)', `${valid}; max-age=5`, /max-age: expected once, got it twice/],
    ['max-age not digits', `pin-sha256="${b64('a')}"; max-age=-5`, /expected a value after 'max-age='|max-age: expected delta-seconds/],
    ['max-age=1.5', `pin-sha256="${b64('a')}"; max-age=1.5`, /max-age: expected delta-seconds \(digits\), got '1.5'/],
    ['max-age with no value', `pin-sha256="${b64('a')}"; max-age`, /max-age: expected delta-seconds \(digits\), got no value/],
    ['includeSubDomains with a value', `${valid}; includeSubDomains=yes`, /includeSubDomains: expected no value/],
    ['a pin not quoted (§2.1.1)', 'pin-sha256=AAAA; max-age=5', /pin-sha256: expected a quoted base64 value/],
    ['a pin not quoted, with its "=" (not a token character)', `pin-sha256=${b64('a')}; max-age=5`, /expected ';' or the end after pin-sha256/],
    ['a pin of 20 bytes', `pin-sha256="${Buffer.alloc(20).toString('base64')}"; max-age=5`, /pin-sha256: expected the base64 of 32 bytes/],
    ['an unterminated quote', `pin-sha256="${b64('a')}; max-age=5`, /expected a closing '"' for pin-sha256/],
    ['blanks around "="', `pin-sha256 = "${b64('a')}"; max-age=5`, /expected ';' or the end after pin-sha256, got '='/],
    ['a control character in a quoted value', `pin-sha256="${b64('a')}"; report-uri="https://r.example/\x01"; max-age=5`, /expected text in the quoted value of report-uri/],
  ];
  for (const [name, header, message] of malformed) {
    test(`ignored whole: ${name}`, () => {
      const r = parseHpkpHeader(header);
      assert.equal(r.ok, false);
      assert.match(r.ok ? '' : r.message, message);
    });
  }
});

describe('noting rules (RFC 7469 §2.5), one by one', () => {
  const existing = `www.example.com source=hpkp pins=${pin('root')},${pin('old-backup')} include-subdomains=yes first-seen=2026-01-01T00:00:00Z last-seen=2026-01-01T00:00:00Z expires=2027-01-01T00:00:00Z report-uri=https://old.example/r`;

  test('a valid header is noted: pins, expiry = now + max-age, report-uri', () => {
    const { outcome, next } = decideHpkp(doc(), input(`${valid}; report-uri="https://r.example/hpkp"`));
    assert.equal(outcome.kind, 'noted');
    const [e] = entriesOf(next!);
    assert.equal(serializeStore(next!).split('\n')[1], `www.example.com source=hpkp pins=${pin('intermediate')},${pin('backup')} first-seen=2026-11-23T12:00:00Z last-seen=2026-11-23T12:00:00Z expires=2026-11-24T12:00:00Z report-uri=https://r.example/hpkp`);
    assert.equal(e!.port, undefined, 'HPKP pins a host name, every port');
  });
  test('no backup pin: every pin matches the chain', () => {
    const { outcome, next } = decideHpkp(doc(), input(`pin-sha256="${b64('leaf')}"; pin-sha256="${b64('root')}"; max-age=60`));
    assert.deepEqual([outcome.kind, outcome.kind === 'rejected' && outcome.reason, next], ['rejected', 'no-backup-pin', undefined]);
  });
  test('no pin matches the validated chain', () => {
    const { outcome } = decideHpkp(doc(), input(`pin-sha256="${b64('x')}"; pin-sha256="${b64('y')}"; max-age=60`));
    assert.equal(outcome.kind === 'rejected' && outcome.reason, 'no-matching-pin');
  });
  test('a pin matching only a certificate the peer sent off the validated path does not count', () => {
    const { outcome } = decideHpkp(doc(), input(`pin-sha256="${b64('x')}"; pin-sha256="${b64('y')}"; max-age=60`, { validated: chain.slice(0, 1) }));
    assert.equal(outcome.kind === 'rejected' && outcome.reason, 'no-matching-pin');
  });
  test('max-age missing', () => {
    const { outcome } = decideHpkp(doc(), input(`pin-sha256="${b64('leaf')}"; pin-sha256="${b64('backup')}"`));
    assert.equal(outcome.kind === 'rejected' && outcome.reason, 'no-max-age');
  });
  test('max-age=0 deletes the host, include-subdomains with it', () => {
    const { outcome, next } = decideHpkp(doc(existing, `other.example source=static pins=${pin('o')}`), input('max-age=0'));
    assert.deepEqual(outcome, { kind: 'removed', existed: true, why: 'max-age=0' });
    assert.deepEqual(entriesOf(next!).map((e) => e.host), ['other.example']);
  });
  test('max-age=0 for a host not pinned notes nothing', () => {
    const { outcome, next } = decideHpkp(doc(), input(`${valid.replace('86400', '0')}`));
    assert.deepEqual([outcome, next], [{ kind: 'removed', existed: false, why: 'max-age=0' }, undefined]);
  });
  test('includeSubDomains is noted', () => {
    const { next } = decideHpkp(doc(), input(`${valid}; includeSubDomains`));
    assert.equal(entriesOf(next!)[0]!.includeSubDomains, true);
  });
  test('a malformed header is ignored whole: the store does not change', () => {
    const { outcome, next } = decideHpkp(doc(existing), input(`${valid}; max-age=1`));
    assert.equal(outcome.kind === 'rejected' && outcome.reason, 'malformed');
    assert.match(outcome.kind === 'rejected' ? outcome.message : '', /^the header is ignored whole \(RFC 7469 §2\.1 rule 4\): max-age: expected once/);
    assert.equal(next, undefined);
  });
  test('max-age above the cap is lowered to it, and says so', () => {
    const r = decideHpkp(doc(), input(valid.replace('86400', '999999999999999999999')));
    assert.deepEqual(r.outcome.kind === 'noted' && [r.outcome.maxAge, r.outcome.capped], [DEFAULT_MAX_AGE_CAP, true]);
    assert.equal(entriesOf(r.next!)[0]!.expires?.toISOString(), '2027-01-22T12:00:00.000Z', '60 days');
    const mine = decideHpkp(doc(), input(valid, { maxAgeCap: 3600 }));
    assert.equal(entriesOf(mine.next!)[0]!.expires?.toISOString(), '2026-11-23T13:00:00.000Z', 'a configured cap');
  });
  test('the newest valid header replaces pins, expiry, include-subdomains and report-uri; first-seen stays', () => {
    const { outcome, next } = decideHpkp(doc(existing), input(valid));
    assert.equal(outcome.kind === 'noted' && outcome.replaced, true);
    const [e] = entriesOf(next!);
    assert.deepEqual([e!.pins.map((p) => p.text), e!.includeSubDomains, e!.reportUri, e!.firstSeen?.toISOString()], [[pin('intermediate'), pin('backup')], false, undefined, '2026-01-01T00:00:00.000Z']);
  });
  test('IP literals are never noted (§2.3.3)', () => {
    for (const host of ['192.0.2.7', '[2001:db8::7]', '2001:db8::7']) {
      const { outcome } = decideHpkp(doc(), input(valid, { host }));
      assert.equal(outcome.kind === 'rejected' && outcome.reason, 'ip-literal', host);
    }
  });
  test('a connection with an error notes nothing', () => {
    const { outcome } = decideHpkp(doc(), input(valid, { clean: false }));
    assert.equal(outcome.kind === 'rejected' && outcome.reason, 'not-clean');
  });
  test('no usable pin left: a pinned host stops being pinned (fail open, §2.1.1); a new one is not noted', () => {
    const header = 'pin-sha512="AAAA"; max-age=60';
    assert.equal(decideHpkp(doc(existing), input(header)).outcome.kind, 'removed');
    const r = decideHpkp(doc(), input(header));
    assert.equal(r.outcome.kind === 'rejected' && r.outcome.reason, 'no-usable-pin');
  });
  test("a subdomain's header changes only its own entry, never the parent's", () => {
    const parent = `example.com source=hpkp pins=${pin('root')},${pin('b')} include-subdomains=yes first-seen=2026-01-01T00:00:00Z expires=2027-01-01T00:00:00Z`;
    const { next } = decideHpkp(doc(parent), input(valid));
    assert.deepEqual(entriesOf(next!).map((e) => e.host), ['example.com', 'www.example.com']);
    assert.equal(serializeStore(next!).split('\n')[1], parent);
  });
  test('report-only evaluates and reports, and never stores', () => {
    const miss = decideHpkp(doc(), input(`pin-sha256="${b64('x')}"; pin-sha256="${b64('y')}"; report-uri="https://r.example/ro"`, { reportOnly: true }));
    assert.equal(miss.next, undefined);
    assert.ok(miss.outcome.kind === 'evaluated' && miss.outcome.result === 'mismatch');
    assert.equal(miss.outcome.report?.uri, 'https://r.example/ro');
    assert.equal(JSON.parse(miss.outcome.report!.json)['noted-hostname'], 'www.example.com');
    const hit = decideHpkp(doc(), input(`pin-sha256="${b64('leaf')}"; max-age=99`, { reportOnly: true }));
    assert.deepEqual(hit, { outcome: { kind: 'evaluated', result: 'match', report: undefined }, next: undefined });
  });
});

describe('the report (RFC 7469 §3)', () => {
  const entry = entriesOf(doc(`example.com source=hpkp pins=${pin('a')},${pin('b')} include-subdomains=yes first-seen=2026-01-01T00:00:00Z expires=2027-01-22T10:00:00Z report-uri=https://reports.example/hpkp`))[0]!;
  const report = reportFor(entry, { now: new Date('2026-11-23T12:00:50.123Z'), hostname: 'www.example.com', port: 8443, served, validated: chain })!;
  const body = JSON.parse(report.json) as Record<string, unknown>;

  test('every field of Figure 6, once, and nothing else', () => {
    assert.deepEqual(Object.keys(body).sort(), ['date-time', 'effective-expiration-date', 'hostname', 'include-subdomains', 'known-pins', 'noted-hostname', 'port', 'served-certificate-chain', 'validated-certificate-chain']);
    assert.equal(report.uri, 'https://reports.example/hpkp');
  });
  test('times are RFC 3339, port an integer, include-subdomains a boolean', () => {
    assert.equal(body['date-time'], '2026-11-23T12:00:50Z');
    assert.equal(body['effective-expiration-date'], '2027-01-22T10:00:00Z');
    assert.equal(body.port, 8443);
    assert.equal(body['include-subdomains'], true);
  });
  test('hostname is the connection, noted-hostname the entry that applied', () => {
    assert.deepEqual([body.hostname, body['noted-hostname']], ['www.example.com', 'example.com']);
  });
  test('known-pins are pin-sha256="..." with the quotes escaped in the JSON text', () => {
    assert.deepEqual(body['known-pins'], [`pin-sha256="${b64('a')}"`, `pin-sha256="${b64('b')}"`]);
    assert.ok(report.json.includes(`"pin-sha256=\\"${b64('a')}\\""`));
  });
  test('the chains are PEM: served as sent, validated as built', () => {
    const decode = (p: string): Buffer => {
      assert.match(p, /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{1,64}\n)+-----END CERTIFICATE-----$/);
      return Buffer.from(p.split('\n').slice(1, -1).join(''), 'base64');
    };
    assert.deepEqual((body['served-certificate-chain'] as string[]).map(decode), served);
    assert.deepEqual((body['validated-certificate-chain'] as string[]).map(decode), chain.map((c) => c.der));
  });
  test('no report without a report-uri; no expiry field for an entry without one', () => {
    const plain = entriesOf(doc(`a.example source=static pins=${pin('a')}`))[0]!;
    assert.equal(reportFor(plain, { now: NOW, hostname: 'a.example', port: 443, served, validated: chain }), undefined);
    const json = pinReport({ now: NOW, hostname: 'a.example', port: 443, served, validated: chain, noted: { ...plain, expires: undefined } });
    assert.equal('effective-expiration-date' in JSON.parse(json), false);
  });
});
