// names.test.ts: RFC 9525 identity matching (DNS-ID, IP-ID, SRV-ID, URI-ID) and reference building.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCertificate } from '../../src/trust/cert.ts';
import type { SanEntry } from '../../src/trust/cert-extensions.ts';
import { pemBlocks } from '../../src/trust/pem.ts';
import { NameError, describeReference, dnsReference, matchIdentity, srvReference, uriReference, type ReferenceId } from '../../src/trust/names.ts';

const dns = (value: string): SanEntry => ({ type: 'dns', value });
const ip = (hex: string, value = ''): SanEntry => ({ type: 'ip', bytes: Buffer.from(hex, 'hex'), value });
const srv = (value: string): SanEntry => ({ type: 'srv', value });
const uri = (value: string): SanEntry => ({ type: 'uri', value });

/** How one reference matches a list of SAN entries: 'exact', 'wildcard' or 'none'. */
const how = (ref: ReferenceId, ...san: SanEntry[]): string => matchIdentity([ref], san)?.how ?? 'none';

function throwsName(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof NameError, `expected NameError, got ${String(e)}`);
    assert.match(e.message, message);
    return true;
  });
}

// RFC 9525 §6.3 and the examples in its §6.3 / §7.1.
const WILDCARD_TABLE: [presented: string, reference: string, expected: 'exact' | 'wildcard' | 'none'][] = [
  ['*.a.example', 'b.a.example', 'wildcard'],
  ['*.a.example', 'a.example', 'none'], // the * must stand for one label, not zero
  ['*.a.example', 'c.b.a.example', 'none'], // ... and not two
  ['*.A.Example', 'B.a.EXAMPLE', 'wildcard'],
  ['*.a.example', 'xn--bcher-kva.a.example', 'wildcard'],
  ['*.example', 'a.example', 'wildcard'], // public-suffix protection is out of scope (§7.1)
  ['*.example', 'example', 'none'],
  ['f*o.example', 'foo.example', 'none'], // partial-label wildcards are gone (RFC 6125 §6.4.3 allowed them)
  ['*foo.example', 'xfoo.example', 'none'],
  ['foo*.example', 'foox.example', 'none'],
  ['a.*.example', 'a.b.example', 'none'],
  ['*.*.example', 'a.b.example', 'none'],
  ['**.example', 'a.example', 'none'],
  ['*', 'a', 'none'],
  ['*.', 'a', 'none'],
  ['a.example', 'a.example', 'exact'],
  ['A.EXAMPLE', 'a.example', 'exact'],
  ['a.example', 'b.example', 'none'],
  ['a.example.', 'a.example', 'none'], // not RFC 5280 preferred name syntax: ignored
  ['a..example', 'a.example', 'none'],
  ['a_b.example', 'a.example', 'none'],
];

test('DNS-ID wildcard and exact matching follows the RFC 9525 §6.3 table', () => {
  for (const [presented, reference, expected] of WILDCARD_TABLE) {
    assert.equal(how(dnsReference(reference), dns(presented)), expected, `${presented} vs ${reference}`);
  }
});

test('DNS-ID comparison ignores ASCII case and one trailing dot on the reference', () => {
  assert.deepEqual(dnsReference('WWW.Example.COM.'), { type: 'dns', name: 'www.example.com' });
  assert.equal(how(dnsReference('WWW.Example.COM.'), dns('www.EXAMPLE.com')), 'exact');
  throwsName(() => dnsReference('example.com..'), /host: expected labels of 1 to 63 bytes, got a 0-byte label in 'example\.com\.\.'/);
});

test('IDN: a U-label reference is converted to A-labels and matches the presented A-label', () => {
  const ref = dnsReference('bücher.example');
  assert.deepEqual(ref, { type: 'dns', name: 'xn--bcher-kva.example' });
  assert.equal(how(ref, dns('xn--bcher-kva.example')), 'exact');
  assert.equal(how(ref, dns('XN--BCHER-KVA.example')), 'exact');
  assert.equal(how(dnsReference('BÜCHER.example'), dns('xn--bcher-kva.example')), 'exact');
  // A presented U-label (non-ASCII in an IA5String) is malformed and ignored (RFC 9525 §6.3).
  assert.equal(how(ref, dns('bücher.example')), 'none');
  assert.equal(how(ref, dns(Buffer.from('bücher.example').toString('latin1'))), 'none');
});

test('IP-ID: byte-for-byte against iPAddress entries only (RFC 9525 §6.2, §6.4)', () => {
  const v4 = dnsReference('127.0.0.1');
  assert.deepEqual(v4, { type: 'ip', bytes: Buffer.from([127, 0, 0, 1]), text: '127.0.0.1' });
  assert.equal(how(v4, ip('7f000001')), 'exact');
  assert.equal(how(v4, ip('7f000002')), 'none');
  assert.equal(how(v4, dns('127.0.0.1')), 'none'); // never against a dNSName
  assert.equal(how(v4, ip('00000000000000000000ffff7f000001')), 'none'); // v4-mapped v6 is a different address
  assert.equal(how(dnsReference('::ffff:127.0.0.1'), ip('7f000001')), 'none');
  assert.equal(how(dnsReference('::ffff:127.0.0.1'), ip('00000000000000000000ffff7f000001')), 'exact');
  const v6 = dnsReference('[::1]');
  assert.deepEqual(v6, { type: 'ip', bytes: Buffer.from('00000000000000000000000000000001', 'hex'), text: '::1' });
  assert.equal(how(v6, ip('00000000000000000000000000000001')), 'exact');
  assert.equal(how(dnsReference('0:0:0:0:0:0:0:1'), ip('00000000000000000000000000000001')), 'exact');
  assert.equal(how(v6, ip('00000000000000000000000000000002')), 'none');
});

test('IP literals: v6 forms are normalised to RFC 5952 text, a zone is dropped, bad literals are refused', () => {
  assert.equal(describeReference(dnsReference('2001:0DB8:0:0:0:0:0:1')), 'ip:2001:db8::1');
  assert.equal(describeReference(dnsReference('[2001:db8:0:0:1:0:0:1]')), 'ip:2001:db8::1:0:0:1');
  assert.equal(describeReference(dnsReference('1:2:3:4:5:6:7::')), 'ip:1:2:3:4:5:6:7:0');
  assert.equal(describeReference(dnsReference('fe80::1%eth0')), 'ip:fe80::1');
  throwsName(() => dnsReference('[1.2.3.4]'), /host: expected an IPv6 address inside \[ \], got '\[1\.2\.3\.4\]'/);
  throwsName(() => dnsReference('[::1'), /expected an IPv6 address inside \[ \]/);
  // node:url would turn these into 127.0.0.1; they are neither IP literals nor DNS names.
  throwsName(() => dnsReference('127.1'), /host: expected a DNS name or an IP address, got '127\.1' \(the last label is numeric\)/);
  throwsName(() => dnsReference('0x7f.0.0.1'), /the last label is numeric/);
});

test('a DNS reference never matches an iPAddress entry, nor SRV or URI entries', () => {
  const ref = dnsReference('example.com');
  assert.equal(how(ref, ip('7f000001', '127.0.0.1'), srv('_xmpp-client.example.com'), uri('https://example.com/')), 'none');
});

test('a CN-only certificate (no SAN) never matches, though its CN is the name (RFC 9525 §6.2)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tlsify-names-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-subj', '/CN=cn-only.example', '-days', '1', '-keyout', 'k.pem', '-out', 'c.pem'], { cwd: dir, stdio: 'pipe' });
  const pem = execFileSync('openssl', ['x509', '-in', 'c.pem'], { cwd: dir, encoding: 'utf8' });
  const cert = parseCertificate(pemBlocks(pem)[0]!.der);
  assert.deepEqual(cert.subjectCommonNames, ['cn-only.example']);
  assert.deepEqual(cert.san, []);
  assert.equal(matchIdentity([dnsReference('cn-only.example')], cert.san), undefined);
});

test('SRV-ID: service case-insensitive with its underscore, name exact (RFC 9525 §6.5, RFC 4985)', () => {
  const ref = srvReference('_xmpp-client.Example.com.');
  assert.deepEqual(ref, { type: 'srv', service: '_xmpp-client', name: 'example.com' });
  assert.equal(how(ref, srv('_XMPP-Client.EXAMPLE.com')), 'exact');
  assert.equal(how(ref, srv('_xmpp-server.example.com')), 'none'); // other service
  assert.equal(how(ref, srv('_xmpp-client.other.example')), 'none'); // other name
  assert.equal(how(ref, srv('xmpp-client.example.com')), 'none'); // no underscore: malformed
  assert.equal(how(ref, srv('_xmpp-client.*.com')), 'none'); // no wildcards in SRV-IDs
  assert.equal(how(srvReference('_xmpp-client.a.example.com'), srv('_xmpp-client.*.example.com')), 'none');
  // A DNS-ID alone does not satisfy an SRV reference: the service is checked with its own name only.
  assert.equal(how(ref, dns('example.com')), 'none');
  assert.equal(how(srvReference('_imaps.bücher.example'), srv('_imaps.xn--bcher-kva.example')), 'exact');
});

test('SRV-ID references: malformed ones are refused', () => {
  throwsName(() => srvReference('xmpp-client.example.com'), /SRV-ID: expected '_service\.name' with an RFC 6335 service name, got 'xmpp-client\.example\.com'/);
  throwsName(() => srvReference('_.example.com'), /RFC 6335 service name/);
  throwsName(() => srvReference('_a--b.example.com'), /RFC 6335 service name/);
  throwsName(() => srvReference('_abcdefghijklmnop.example.com'), /RFC 6335 service name/); // 16 characters
  throwsName(() => srvReference('_xmpp-client'), /SRV-ID: expected a DNS name after '_xmpp-client\.', got '_xmpp-client'/);
  throwsName(() => srvReference('_xmpp.127.0.0.1'), /expected a DNS name after/);
  throwsName(() => srvReference('_xmpp.a..example'), /^SRV-ID: expected labels of 1 to 63 bytes/);
});

test('URI-ID: scheme case-insensitive, reg-name host as a DNS name, the rest ignored (RFC 9525 §6.5)', () => {
  const sip = uriReference('sip:voice.example.edu');
  assert.deepEqual(sip, { type: 'uri', scheme: 'sip', host: 'voice.example.edu', text: 'sip:voice.example.edu' });
  assert.equal(how(sip, uri('SIP:Voice.Example.EDU')), 'exact');
  assert.equal(how(sip, uri('sip:alice@voice.example.edu;transport=tcp')), 'exact');
  assert.equal(how(sip, uri('sips:voice.example.edu')), 'none');
  assert.equal(how(sip, uri('sip:other.example.edu')), 'none');
  assert.equal(how(sip, dns('voice.example.edu')), 'none');
  const https = uriReference('HTTPS://user@Voice.Example.EDU:8443/path?q#f');
  assert.deepEqual([https.type === 'uri' && https.scheme, https.type === 'uri' && https.host], ['https', 'voice.example.edu']);
  assert.equal(how(https, uri('https://voice.example.edu/')), 'exact');
  assert.equal(how(https, uri('https://*.example.edu/')), 'none'); // no wildcards in URI-IDs
});

test('URI-ID: presented URIs without a scheme or a reg-name host are ignored (RFC 9525 §7.2)', () => {
  const ref = uriReference('https://example.com/');
  for (const bad of ['example.com', '//example.com/', 'urn:example.com', 'https:///example.com', 'https://127.0.0.1/', 'https://[::1]/', 'https://exa mple.com/', '']) {
    assert.equal(how(ref, uri(bad)), 'none', bad);
  }
  assert.equal(how(ref, uri('https://example.com:443/other')), 'exact');
});

test('URI-ID references: no scheme, no host or an IP host are refused', () => {
  throwsName(() => uriReference('example.com'), /^URI-ID: expected scheme:\[\/\/\]host\.\.\., got 'example\.com'$/);
  throwsName(() => uriReference('urn:isbn:0451450523'), /^URI-ID: expected scheme:\[\/\/\]host/);
  throwsName(() => uriReference('https:///path'), /^URI-ID: expected scheme:\[\/\/\]host/);
  throwsName(() => uriReference('https://[::1]/'), /^URI-ID: expected a reg-name host \(RFC 9525 §7\.2\), got IP literal '\[::1\]'$/);
  throwsName(() => uriReference('https://192.0.2.1/'), /got IP literal '192\.0\.2\.1'/);
  throwsName(() => uriReference('https://a_b.example/'), /^URI-ID host: expected letters, digits and hyphens, got label 'a_b'/);
});

test('the first match in reference order wins, whatever the SAN order', () => {
  const san = [ip('7f000001', '127.0.0.1'), dns('a.example'), dns('*.example')];
  const byDns = matchIdentity([dnsReference('a.example'), dnsReference('127.0.0.1')], san);
  assert.deepEqual(byDns?.presented, dns('a.example'));
  assert.equal(byDns?.how, 'exact');
  const byIp = matchIdentity([dnsReference('127.0.0.1'), dnsReference('a.example')], san);
  assert.deepEqual(byIp?.presented, san[0]);
  const wild = matchIdentity([dnsReference('b.example')], san);
  assert.deepEqual([wild?.presented, wild?.how], [dns('*.example'), 'wildcard']);
  assert.ok(Object.isFrozen(wild));
  assert.equal(matchIdentity([], san), undefined);
  assert.equal(matchIdentity([dnsReference('a.example')], []), undefined);
});

test('describeReference gives type:value for each reference type', () => {
  assert.equal(describeReference(dnsReference('Example.com')), 'dns:example.com');
  assert.equal(describeReference(dnsReference('127.0.0.1')), 'ip:127.0.0.1');
  assert.equal(describeReference(srvReference('_xmpp-client.example.com')), 'srv:_xmpp-client.example.com');
  assert.equal(describeReference(uriReference('sip:example.com')), 'uri:sip:example.com');
});

test('DNS references: invalid names are refused with expected / got', () => {
  throwsName(() => dnsReference(''), /^host: expected a DNS name, got '' \(not a valid IDNA name\)$/);
  throwsName(() => dnsReference('.'), /^host: expected a DNS name, got '\.'/);
  throwsName(() => dnsReference('a..example'), /got a 0-byte label in 'a\.\.example'/);
  throwsName(() => dnsReference(`${'a'.repeat(64)}.example`), /got a 64-byte label/);
  assert.doesNotThrow(() => dnsReference(`${'a'.repeat(63)}.example`));
  throwsName(() => dnsReference(Array(64).fill('abc').join('.')), /^host: expected a DNS name of at most 253 bytes, got 255 bytes$/);
  throwsName(() => dnsReference('*.example'), /got label '\*' in '\*\.example'/);
  throwsName(() => dnsReference('a_b.example'), /got label 'a_b'/);
  throwsName(() => dnsReference('ex%41mple.com'), /contains '%'/);
  throwsName(() => dnsReference('exa mple.com'), /white space/);
  throwsName(() => dnsReference('xn--zz.example'), /not a valid IDNA name/);
  // Hyphens at either end are left to IDNA (UTS #46 with CheckHyphens off, as in node:url).
  assert.deepEqual(dnsReference('-a.example'), { type: 'dns', name: '-a.example' });
});

test('property: any LDH name matches itself in any case, and one-label wildcards match it', () => {
  let seed = 6125;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const label = (): string => Array.from({ length: 1 + rand(12) }, () => alphabet[rand(alphabet.length)]).join('') + (rand(3) === 0 ? '-x' : '');
  for (let i = 0; i < 500; i++) {
    const labels = Array.from({ length: 2 + rand(4) }, label);
    labels[labels.length - 1] = 'ex' + labels[labels.length - 1]; // a numeric last label is refused
    const name = labels.join('.');
    const shouty = [...name].map((c) => (rand(2) ? c.toUpperCase() : c)).join('');
    const ref = dnsReference(shouty + (rand(2) ? '.' : ''));
    assert.equal(how(ref, dns(name)), 'exact', name);
    assert.equal(how(ref, dns(['*', ...labels.slice(1)].join('.'))), 'wildcard', name);
    assert.equal(how(ref, dns(['*', ...labels].join('.'))), 'none', name);
    if (labels.length > 2) assert.equal(how(ref, dns(['*', ...labels.slice(2)].join('.'))), 'none', name);
  }
});
