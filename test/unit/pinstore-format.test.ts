// pinstore-format.test.ts: the store's text format (protocol/pin-store.md §3-§4, §10): property
// tests (random stores round-trip; random damage is an error naming file and line, never a
// crash), hostile lines one by one, and the examples of the spec itself.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { MAX_LINE, StoreFormatError, VERSION_LINE, escapeValue, formatEntry, parseStore, serializeStore } from '../../src/pinstore/format.ts';
import { entriesOf, pinFromText, type PinEntry, type StoreDoc, type StoreLine } from '../../src/pinstore/doc.ts';

/** mulberry32: a small seeded PRNG, so a failing case can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pin = (seed: string): string => 'sha256/' + createHash('sha256').update(seed).digest('base64');
const parse = (text: string | Buffer): StoreDoc => parseStore(Buffer.isBuffer(text) ? text : Buffer.from(text), 'F');

function randomEntry(r: () => number, i: number): PinEntry {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const maybe = <T>(v: T): T | undefined => (r() < 0.5 ? v : undefined);
  const when = (): Date => new Date(Math.floor(r() * 4e9) * 1000 + Date.UTC(1970, 0, 1));
  const ip = r() < 0.15;
  const host = ip ? pick(['192.0.2.7', '2001:db8::7', '::1']) : `${pick(['a', 'mail', 'x-1', '_srv'])}${i}.${pick(['example', 'example.com', 'xn--bcher-kva.example'])}`;
  const source = pick(['static', 'tofu', 'hpkp', 'tack', 'later-source']);
  const unicode = ['é', '✓', ' ', '%', '\t', '=', 'x', '😀', '\x01'];
  return {
    host,
    port: maybe(1 + Math.floor(r() * 65535)),
    service: maybe(pick(['imap', 'smtp', 'xmpp-client'])),
    source,
    pins: Array.from({ length: source === 'tack' && r() < 0.5 ? 0 : 1 + Math.floor(r() * 4) }, (_, k) => pinFromText(pin(`${i}/${k}/${r()}`))),
    mode: pick(['enforce', 'report-only'] as const),
    includeSubDomains: !ip && r() < 0.3,
    firstSeen: source === 'tofu' || source === 'tack' ? when() : maybe(when()),
    lastSeen: maybe(when()),
    activeUntil: maybe(when()),
    expires: maybe(when()),
    reportUri: maybe(`https://r${i}.example/x?a=1&b=%2F`),
    tackId: source === 'tack' ? 'nkufh.czttd.5cmlw.7cxtv.k6srn' : undefined,
    minGeneration: source === 'tack' ? maybe(Math.floor(r() * 256)) : undefined,
    extra: r() < 0.3 ? [['x-future', escapeValue(Array.from({ length: 1 + Math.floor(r() * 8) }, () => pick(unicode)).join(''))]] : [],
  };
}

function randomDoc(r: () => number): StoreDoc {
  const lines: StoreLine[] = [];
  const n = Math.floor(r() * 12);
  for (let i = 0; i < n; i++) {
    const roll = r();
    if (roll < 0.15) lines.push({ kind: 'text', text: `# comment ${i} é` });
    else if (roll < 0.2) lines.push({ kind: 'text', text: '' });
    else lines.push({ kind: 'entry', entry: randomEntry(r, i), line: 0 });
  }
  return { lines };
}

describe('round trip (property, 300 random stores)', () => {
  test('serialize, parse, serialize gives the same bytes, and every field survives', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const doc = randomDoc(rng(seed));
      const text = serializeStore(doc);
      const back = parse(text);
      assert.equal(serializeStore(back), text, `seed ${seed}`);
      const a = entriesOf(doc);
      const b = entriesOf(back);
      assert.equal(b.length, a.length, `seed ${seed}`);
      a.forEach((e, i) => {
        const g = b[i]!;
        assert.equal(g.host, e.host);
        assert.equal(g.port, e.port);
        assert.deepEqual(g.pins.map((p) => p.text), e.pins.map((p) => p.text));
        assert.ok(g.pins.every((p, k) => p.hash.equals(e.pins[k]!.hash)), `seed ${seed}: pin bytes`);
        assert.equal(g.expires?.getTime(), e.expires?.getTime());
        assert.equal(g.activeUntil?.getTime(), e.activeUntil?.getTime());
        assert.equal(g.reportUri, e.reportUri);
        assert.deepEqual(g.extra, e.extra, `seed ${seed}: unknown fields are kept verbatim`);
      });
    }
  });
});

describe('random damage (property): an error naming file and line, or a store that round-trips', () => {
  const base = serializeStore(randomDoc(rng(7))) + serializeStore(randomDoc(rng(8))).split('\n').slice(1).join('\n');
  const damages: [string, (b: Buffer, r: () => number) => Buffer][] = [
    ['a random byte replaced', (b, r) => { const c = Buffer.from(b); c[Math.floor(r() * c.length)] = Math.floor(r() * 256); return c; }],
    ['a random byte inserted', (b, r) => { const at = Math.floor(r() * b.length); return Buffer.concat([b.subarray(0, at), Buffer.from([Math.floor(r() * 256)]), b.subarray(at)]); }],
    ['cut at a random point (a torn write)', (b, r) => b.subarray(0, Math.floor(r() * b.length))],
    ['a line duplicated', (b, r) => { const ls = b.toString().split('\n'); const i = 1 + Math.floor(r() * (ls.length - 1)); ls.splice(i, 0, ls[i]!); return Buffer.from(ls.join('\n')); }],
  ];
  for (const [name, damage] of damages) {
    test(name, () => {
      for (let seed = 1; seed <= 200; seed++) {
        const bytes = damage(Buffer.from(base), rng(seed));
        let doc: StoreDoc;
        try {
          doc = parse(bytes);
        } catch (err) {
          assert.ok(err instanceof StoreFormatError, `seed ${seed}: ${err}`);
          const m = /^pin store F line (\d+): \S/.exec(err.message);
          assert.ok(m, `seed ${seed}: ${err.message}`);
          assert.equal(Number(m[1]), err.line);
          assert.ok(err.line >= 1 && err.line <= bytes.toString('latin1').split('\n').length, `seed ${seed}: line ${err.line}`);
          continue;
        }
        const again = serializeStore(doc);
        assert.equal(serializeStore(parse(again)), again, `seed ${seed}`);
      }
    });
  }
});

describe('hostile lines, one by one', () => {
  const good = `example.com source=static pins=${pin('a')}`;
  const store = (...lines: string[]): string => [VERSION_LINE, ...lines].join('\n') + '\n';
  const refused: [string, string | Buffer, RegExp][] = [
    ['a NUL byte', store(good, `b.example source=static\x00 pins=${pin('b')}`), /^pin store F line 3: expected text, got control byte 0x00 at column 24$/],
    ['a CR line end', store(`${good}\r`), /^pin store F line 2: expected text, got control byte 0x0d at column \d+ \(CR: lines end with LF alone\)$/],
    ['bytes that are not UTF-8', Buffer.concat([Buffer.from(store(good) + '# '), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]), /^pin store F line 3: expected UTF-8 text, got bytes that are not UTF-8$/],
    ['a line longer than the limit', store(good, `# ${'x'.repeat(MAX_LINE)}`), new RegExp(`^pin store F line 3: expected at most ${MAX_LINE} bytes in a line, got ${MAX_LINE + 2}$`)],
    ['sha1 pins', store('a.example source=static pins=sha1/AAECAwQFBgcICQoLDA0ODxAREhM='), /^pin store F line 2: expected sha256\/<base64> \(44 characters of base64\), got sha1\/AAECAwQFBgcICQoLDA0ODxAREhM=$/],
    ['no version line', `${good}\n`, /^pin store F line 1: expected 'tlsify-pin-store 1' as the first line, got 'example.com source=static/],
    ['a newer format', `tlsify-pin-store 2\n${good}\n`, /^pin store F line 1: expected format 1, got format 2: written by a newer tlsify/],
    ['no source', store(`a.example pins=${pin('a')}`), /line 2: expected a source= field/],
    ['no pins', store('a.example source=static'), /line 2: expected a pins= field with at least one/],
    ['a field twice', store(`${good} source=tofu`), /line 2: expected each field once, got 'source' twice/],
    ['a token without =', store(`${good} includeSubDomains`), /line 2: expected a field KEY=VALUE, got 'includeSubDomains'/],
    ['a bad escape', store(`${good} x-note=100%`), /line 2: x-note: expected %XX \(two hex digits\) after '%'/],
    ['an escape that is not UTF-8', store(`${good} x-note=%C3%28`), /line 2: x-note: expected %XX escapes that decode to UTF-8/],
    ['February 30th', store(`${good} expires=2026-02-30T00:00:00Z`), /line 2: expires: expected a UTC time like 2026-11-23T03:09:21Z, got '2026-02-30T00:00:00Z'/],
    ['a local time', store(`${good} expires=2026-02-03T00:00:00+01:00`), /line 2: expires: expected a UTC time/],
    ['port 0', store(`a.example:0 source=static pins=${pin('a')}`), /line 2: expected a port from 1 to 65535 after the host, got '0'/],
    ['an IPv6 address without brackets', store(`2001:db8::1 source=static pins=${pin('a')}`), /line 2: expected HOST\[:PORT\], got '2001:db8::1' \(an IPv6 address goes in brackets/],
    ['a U-label', store(`bücher.example source=static pins=${pin('a')}`), /line 2: expected a host name in ASCII \(A-labels: xn--\.\.\.\)/],
    ['a label ending in -', store(`a-.example source=static pins=${pin('a')}`), /line 2: expected a host name/],
    ['tofu without first-seen', store(`a.example:443 source=tofu pins=${pin('a')}`), /line 2: source=tofu: expected a first-seen= time, got none/],
    ['include-subdomains on an address', store(`192.0.2.1 source=static include-subdomains=yes pins=${pin('a')}`), /line 2: include-subdomains: an IP address has no subdomains/],
    ['the same entry twice', store(good, '# between', good), /^pin store F line 4: expected one entry per host, port, service and source, got a second example.com source=static \(the first is line 2\)$/],
    ['a bad tack-id', store('a.example source=tack tack-id=abc first-seen=2026-01-01T00:00:00Z'), /line 2: tack-id: expected a TACK key fingerprint/],
  ];
  for (const [name, text, message] of refused) {
    test(`refused: ${name}`, () => {
      assert.throws(() => parse(text), (err: unknown) => err instanceof StoreFormatError && message.test(err.message));
    });
  }

  test('a non-canonical pin is refused with a hint', () => {
    const p = pin('a');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const alias = p.slice(0, 49) + alphabet[alphabet.indexOf(p[49]!) | 1] + '=';
    assert.throws(() => parse(store(`a.example source=static pins=${alias}`)), /line 2: expected canonical base64 in sha256\/.*: its last character sets unused bits/);
  });

  const accepted: [string, string, (doc: StoreDoc) => void][] = [
    ['an empty file is an empty store', '', (d) => assert.equal(d.lines.length, 0)],
    ['only the version line', `${VERSION_LINE}\n`, (d) => assert.equal(d.lines.length, 0)],
    ['no LF after the last line', store(good).slice(0, -1), (d) => assert.equal(entriesOf(d).length, 1)],
    ['tabs and runs of blanks between fields', store(`  example.com\tsource=static   pins=${pin('a')}  `), (d) => assert.equal(entriesOf(d)[0]!.host, 'example.com')],
    ['upper-case names, kept lower case', store(`Mail.Example.COM:993 source=static pins=${pin('a')}`), (d) => assert.equal(entriesOf(d)[0]!.host, 'mail.example.com')],
    ['unknown fields, kept as written', store(`${good} x-later=a%20b future=1`), (d) => assert.deepEqual(entriesOf(d)[0]!.extra, [['x-later', 'a%20b'], ['future', '1']])],
    ['an unknown source', store(`a.example source=dane pins=${pin('a')}`), (d) => assert.equal(entriesOf(d)[0]!.source, 'dane')],
    ['the same host with another source or port', store(good, `example.com source=hpkp pins=${pin('a')}`, `example.com:443 source=static pins=${pin('a')}`), (d) => assert.equal(entriesOf(d).length, 3)],
    ['a TACK pin without SPKI pins', store('a.example source=tack tack-id=nkufh.czttd.5cmlw.7cxtv.k6srn first-seen=2026-01-01T00:00:00Z min-generation=2'), (d) => assert.equal(entriesOf(d)[0]!.minGeneration, 2)],
    ['an escaped report-uri', store(`${good} report-uri=https://r.example/a%25b`), (d) => assert.equal(entriesOf(d)[0]!.reportUri, 'https://r.example/a%b')],
    ['2024-02-29, a leap day', store(`${good} expires=2024-02-29T23:59:59Z`), (d) => assert.equal(entriesOf(d)[0]!.expires?.toISOString(), '2024-02-29T23:59:59.000Z')],
  ];
  for (const [name, text, check] of accepted) {
    test(`accepted: ${name}`, () => {
      const doc = parse(text);
      check(doc);
      assert.equal(serializeStore(parse(serializeStore(doc))), serializeStore(doc));
    });
  }

  test('comments and blank lines stay where they were', () => {
    const text = store('# first', good, '', '   # indented', `b.example source=static pins=${pin('b')}`);
    assert.equal(serializeStore(parse(text)), text);
  });

  test('an entry is written in the order of §4.1, defaults left out', () => {
    const [e] = entriesOf(parse(store(`a.example:443 expires=2027-01-01T00:00:00Z mode=enforce include-subdomains=no pins=${pin('a')} source=static`)));
    assert.equal(formatEntry(e!), `a.example:443 source=static pins=${pin('a')} expires=2027-01-01T00:00:00Z`);
  });
});

test('the examples of protocol/pin-store.md §11 are a valid store', () => {
  const md = fs.readFileSync(path.resolve(__dirname, '../../protocol/pin-store.md'), 'utf8');
  const section = md.slice(md.indexOf('## 11. Examples'));
  const block = /```\n([\s\S]*?)```/.exec(section)![1]!;
  const doc = parse(block);
  assert.equal(entriesOf(doc).length, 4);
  assert.equal(serializeStore(doc), block);
});
