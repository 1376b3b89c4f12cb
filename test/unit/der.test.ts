// der.test.ts: the strict DER reader (X.690 §8, §10, §11; RFC 5280 §4.1.2.5 times): vectors, rejections, properties.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DerError, DerReader, TAG, contextTag, decodeOid, describeTag, readDer, type Tlv } from '../../src/trust/der.ts';

// A tiny DER writer for building inputs; lengths in the fewest octets (X.690 §10.1).
function len(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return [0x80 | bytes.length, ...bytes];
}
function tlv(tag: number, ...parts: (Uint8Array | number[])[]): Buffer {
  const body = Buffer.concat(parts.map((p) => Buffer.from(p)));
  return Buffer.concat([Buffer.from([tag, ...len(body.length)]), body]);
}
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const reader = (b: Uint8Array): DerReader => new DerReader(b);

/** Asserts a DerError whose message matches and whose offset is `at`. */
function throwsDer(fn: () => unknown, message: RegExp, at?: number): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DerError, `expected DerError, got ${String(e)}`);
    assert.match(e.message, message);
    if (at !== undefined) assert.equal(e.offset, at);
    return true;
  });
}

// Deterministic PRNG for the property tests (mulberry32), so a failure can be replayed.
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('short and long form lengths are read, and value/raw are views at the right offsets', () => {
  const short = readDer(tlv(TAG.OCTET_STRING, [1, 2, 3]));
  assert.deepEqual([...short.value], [1, 2, 3]);
  assert.equal(short.valueStart, 2);
  const long128 = readDer(tlv(TAG.OCTET_STRING, new Uint8Array(128)));
  assert.equal(long128.valueStart, 3); // 04 81 80
  assert.equal(long128.value.length, 128);
  const long256 = readDer(tlv(TAG.OCTET_STRING, new Uint8Array(256)));
  assert.equal(long256.valueStart, 4); // 04 82 01 00
  assert.equal(long256.raw.length, 260);
});

test('indefinite length (0x80) is rejected', () => {
  throwsDer(() => readDer(hex('30 80 02 01 00 00 00')), /expected a definite length, got indefinite length \(0x80\) at byte 1/, 1);
});

test('non-minimal lengths are rejected: long form under 128, and leading zero length bytes', () => {
  throwsDer(() => readDer(hex('04 81 05 0102030405')), /expected a minimal length encoding, got non-minimal 1-byte length 5 at byte 1/, 1);
  throwsDer(() => readDer(Buffer.concat([hex('04 82 00 80'), Buffer.alloc(128)])), /non-minimal 2-byte length 128/);
});

test('more than four length bytes are rejected', () => {
  throwsDer(() => readDer(hex('04 85 0000000001 00')), /expected at most 4 length bytes, got 5 at byte 1/);
});

test('a length that overruns the data is rejected with the element offset', () => {
  throwsDer(() => readDer(hex('04 05 01')), /expected 5 content bytes, got 1 before the end of the enclosing data at byte 0/, 0);
  // Inside a SEQUENCE the limit is the SEQUENCE's end, not the buffer's.
  const r = reader(hex('30 03 04 02 aa 04 01 bb')).sequence();
  throwsDer(() => r.read(), /expected 2 content bytes, got 1 .* at byte 2/, 2);
});

test('truncated input is rejected: a lone tag, a cut length, an empty buffer', () => {
  throwsDer(() => readDer(hex('30')), /expected a length byte, got end of data at byte 1/);
  throwsDer(() => readDer(hex('30 82 01')), /expected 2 length bytes, got end of data at byte 1/);
  throwsDer(() => readDer(new Uint8Array(0)), /expected an element, got end of data at byte 0/);
});

test('trailing bytes after a complete structure are rejected', () => {
  throwsDer(() => readDer(hex('05 00 00')), /expected end of data, got trailing tag 0x00 at byte 2/, 2);
  const seq = reader(hex('30 06 02 01 01 02 01 02')).sequence('Pair');
  assert.equal(seq.integer(), 1n);
  throwsDer(() => seq.end('end of Pair'), /expected end of Pair, got trailing tag 0x02 \(INTEGER\) at byte 5/, 5);
});

test('expect() names what it wanted and shows the tag it got, with absolute offsets when nested', () => {
  const outer = reader(hex('30 05 30 03 04 01 00'));
  const inner = outer.sequence().sequence();
  throwsDer(() => inner.sequence('SEQUENCE of GeneralName'), /^expected SEQUENCE of GeneralName, got tag 0x04 \(OCTET STRING\) at byte 4$/, 4);
  throwsDer(() => reader(new Uint8Array(0)).integer(), /expected INTEGER, got end of data at byte 0/);
});

test('high-tag-number form is rejected', () => {
  throwsDer(() => readDer(hex('1f 22 00')), /expected a low tag number, got high-tag-number form 0x1f at byte 0/);
});

test('INTEGER decodes two-complement values and rejects redundant leading bytes', () => {
  const cases: [string, bigint][] = [
    ['00', 0n],
    ['7f', 127n],
    ['0080', 128n],
    ['ff', -1n],
    ['80', -128n],
    ['ff7f', -129n],
    ['0100', 256n],
    ['00ffffffffffffffffff', 2n ** 72n - 1n],
  ];
  for (const [v, want] of cases) assert.equal(reader(tlv(TAG.INTEGER, hex(v))).integer(), want, v);
  throwsDer(() => reader(hex('02 02 00 7f')).integer(), /expected a minimal INTEGER, got a redundant leading 0x00 at byte 2/);
  throwsDer(() => reader(hex('02 02 ff 80')).integer(), /redundant leading 0xff/);
  throwsDer(() => reader(hex('02 00')).integer(), /expected INTEGER content, got 0 bytes/);
  throwsDer(() => reader(hex('02 01 ff')).smallInteger('pathLen'), /expected a small non-negative INTEGER, got -1/);
  assert.equal(reader(hex('02 02 01 00')).smallInteger(), 256);
});

test('OID vectors decode to dotted form (X.690 §8.19 examples and real OIDs)', () => {
  const cases: [string, string][] = [
    ['2a864886f70d01010b', '1.2.840.113549.1.1.11'], // sha256WithRSAEncryption
    ['550403', '2.5.4.3'], // commonName
    ['2b06010505070807', '1.3.6.1.5.5.7.8.7'], // id-on-dnsSRV
    ['8837', '2.999'], // X.690 §8.19.5 example: 2.999 -> 0x88 0x37
    ['00', '0.0'],
    ['27', '0.39'],
    ['28', '1.0'],
    ['4f', '1.39'],
    ['50', '2.0'],
  ];
  for (const [v, want] of cases) assert.equal(reader(tlv(TAG.OID, hex(v))).oid(), want, v);
});

test('OID arcs beyond 2^53 are exact (UUID OIDs under 2.25)', () => {
  const arc = 0x1234567890abcdef1234567890abcdefn;
  assert.equal(reader(encodeOid([2n, 25n, arc])).oid(), `2.25.${arc}`);
});

test('OID rejects a 0x80 padding byte, a cut subidentifier and empty content', () => {
  throwsDer(() => reader(hex('06 03 2a 80 01')).oid(), /expected a minimal OID subidentifier, got a leading 0x80 at byte 3/, 3);
  throwsDer(() => reader(hex('06 02 2a 86')).oid(), /expected the rest of an OID subidentifier, got end of OID at byte 3/);
  throwsDer(() => reader(hex('06 00')).oid(), /expected OID content, got 0 bytes/);
});

test('BIT STRING returns bytes and unused bits, and enforces DER padding rules', () => {
  const bs = reader(hex('03 02 05 a0')).bitString();
  assert.equal(bs.unusedBits, 5);
  assert.deepEqual([...bs.bytes], [0xa0]);
  assert.equal(reader(hex('03 01 00')).bitString().bytes.length, 0);
  throwsDer(() => reader(hex('03 02 08 00')).bitString(), /expected 0..7 unused bits \(0 when empty\), got 8 at byte 2/);
  throwsDer(() => reader(hex('03 01 03')).bitString(), /got 3 at byte 2/);
  throwsDer(() => reader(hex('03 02 05 a1')).bitString(), /expected zero unused bits, got 0xa1 with 5 unused at byte 3/);
  throwsDer(() => reader(hex('03 00')).bitString(), /expected a BIT STRING unused-bits byte, got 0 bytes/);
});

test('bitStringContents reads DER wrapped in a BIT STRING, keeping absolute offsets', () => {
  const inner = reader(hex('03 06 00 30 03 02 01 07')).bitStringContents('key');
  assert.equal(inner.offset, 3);
  assert.equal(inner.sequence().integer(), 7n);
  throwsDer(() => reader(hex('03 02 01 fe')).bitStringContents('key'), /expected whole octets in key, got 1 unused bits/);
});

test('BOOLEAN accepts only 0x00 and 0xff in one byte; NULL must be empty', () => {
  assert.equal(reader(hex('01 01 ff')).boolean(), true);
  assert.equal(reader(hex('01 01 00')).boolean(), false);
  throwsDer(() => reader(hex('01 01 01')).boolean(), /expected BOOLEAN 0x00 or 0xff, got 1 bytes '01' at byte 0/);
  throwsDer(() => reader(hex('01 02 ff ff')).boolean(), /got 2 bytes/);
  assert.doesNotThrow(() => reader(hex('05 00')).null());
  throwsDer(() => reader(hex('05 01 00')).null(), /expected an empty NULL/);
});

test('UTCTime follows RFC 5280 §4.1.2.5.1: YY >= 50 is 19YY, YY < 50 is 20YY', () => {
  const utc = (s: string): Date => reader(tlv(TAG.UTC_TIME, Buffer.from(s))).time();
  assert.equal(utc('491231235959Z').toISOString(), '2049-12-31T23:59:59.000Z');
  assert.equal(utc('500101000000Z').toISOString(), '1950-01-01T00:00:00.000Z');
  assert.equal(utc('000229120000Z').toISOString(), '2000-02-29T12:00:00.000Z');
});

test('GeneralizedTime decodes four-digit years, including years below 100', () => {
  const gen = (s: string): Date => reader(tlv(TAG.GENERALIZED_TIME, Buffer.from(s))).time();
  assert.equal(gen('20500101000000Z').toISOString(), '2050-01-01T00:00:00.000Z');
  assert.equal(gen('99991231235959Z').toISOString(), '9999-12-31T23:59:59.000Z');
  assert.equal(gen('00990615000000Z').getUTCFullYear(), 99);
});

test('times without Z, without seconds, with offsets or fractions, or off the calendar are rejected', () => {
  const utc = (s: string) => () => reader(tlv(TAG.UTC_TIME, Buffer.from(s))).time();
  const gen = (s: string) => () => reader(tlv(TAG.GENERALIZED_TIME, Buffer.from(s))).time();
  throwsDer(utc('491231235959'), /expected UTCTime YYMMDDHHMMSSZ, got '491231235959' at byte 0/);
  throwsDer(utc('4912312359Z'), /expected UTCTime YYMMDDHHMMSSZ/);
  throwsDer(utc('491231235959+0100'), /expected UTCTime YYMMDDHHMMSSZ/);
  throwsDer(gen('20500101000000.5Z'), /expected GeneralizedTime YYYYMMDDHHMMSSZ/);
  throwsDer(gen('20501301000000Z'), /expected a valid calendar time, got '20501301000000Z'/);
  throwsDer(gen('20230229000000Z'), /expected a valid calendar time/);
  assert.doesNotThrow(gen('20240229000000Z'));
  throwsDer(gen('20240101240000Z'), /expected a valid calendar time/);
  throwsDer(gen('20240101006000Z'), /expected a valid calendar time/);
  throwsDer(() => reader(hex('04 00')).time('notBefore'), /expected notBefore, got tag 0x04 \(OCTET STRING\)/);
});

test('strings decode by type; invalid content for the type is rejected', () => {
  const str = (tag: number, bytes: Uint8Array | number[]): string => reader(tlv(tag, bytes)).string();
  assert.equal(str(TAG.PRINTABLE_STRING, Buffer.from("Ex Inc. (R-1) 'a'+b,c/d:e=f?")), "Ex Inc. (R-1) 'a'+b,c/d:e=f?");
  assert.equal(str(TAG.UTF8_STRING, Buffer.from('Zürich ✓')), 'Zürich ✓');
  assert.equal(str(TAG.IA5_STRING, Buffer.from('a@b.example')), 'a@b.example');
  assert.equal(str(TAG.BMP_STRING, [0x00, 0x5a, 0x00, 0xfc, 0x26, 0x13]), 'Zü☓');
  assert.equal(str(TAG.TELETEX_STRING, [0x5a, 0xfc]), 'Zü'); // read as latin1
  assert.equal(str(TAG.VISIBLE_STRING, Buffer.from('v1')), 'v1');
  throwsDer(() => str(TAG.PRINTABLE_STRING, Buffer.from('a@b')), /expected PrintableString, got 'a@b' at byte 0/);
  throwsDer(() => str(TAG.UTF8_STRING, [0xc3, 0x28]), /expected UTF8String, got invalid UTF-8/);
  throwsDer(() => str(TAG.IA5_STRING, [0x61, 0xe9]), /expected IA5String, got a byte above 0x7f/);
  throwsDer(() => str(TAG.BMP_STRING, [0x00, 0x5a, 0x00]), /expected BMPString, got an odd length 3/);
  throwsDer(() => str(TAG.VISIBLE_STRING, [0x09]), /expected VisibleString/);
  throwsDer(() => str(TAG.OCTET_STRING, [0x61]), /expected a character string, got tag 0x04 \(OCTET STRING\)/);
});

test('context tags: explicit() reads [n] EXPLICIT when present, optional() reads IMPLICIT ones', () => {
  assert.equal(contextTag(0, true), 0xa0);
  assert.equal(contextTag(3, true), 0xa3);
  assert.equal(contextTag(2, false), 0x82);
  assert.throws(() => contextTag(31, false), RangeError);
  const r = reader(hex('a0 03 02 01 02 82 03 61 62 63 02 01 05'));
  assert.equal(r.explicit(1), undefined);
  const v = r.explicit(0);
  assert.ok(v);
  assert.equal(v.integer(), 2n);
  v.end();
  assert.equal(r.optional(contextTag(1, false)), undefined);
  const dns = r.optional(contextTag(2, false));
  assert.equal(dns?.value.toString(), 'abc');
  assert.equal(r.integer(), 5n);
  assert.equal(r.done, true);
  assert.equal(describeTag(0xa3), 'tag 0xa3 ([3])');
  assert.equal(describeTag(0x42), 'tag 0x42');
});

test('SET and SEQUENCE readers stop at their own end', () => {
  const r = reader(hex('31 03 02 01 01 02 01 02'));
  const set = r.set();
  assert.equal(set.integer(), 1n);
  assert.equal(set.done, true);
  assert.equal(r.integer(), 2n);
  throwsDer(() => reader(hex('30 00')).set('RDN SET'), /expected RDN SET, got tag 0x30 \(SEQUENCE\) at byte 0/);
});

// ---- property tests ------------------------------------------------------------------------

function encodeOid(arcs: bigint[]): Buffer {
  const sub = (n: bigint): number[] => {
    const out = [Number(n & 0x7fn)];
    for (let v = n >> 7n; v > 0n; v >>= 7n) out.unshift(Number(v & 0x7fn) | 0x80);
    return out;
  };
  const [a, b, ...rest] = arcs as [bigint, bigint, ...bigint[]];
  return tlv(TAG.OID, [a * 40n + b, ...rest].flatMap(sub));
}

function encodeInteger(n: bigint): Buffer {
  let bytes = n;
  const out: number[] = [];
  do {
    out.unshift(Number(bytes & 0xffn));
    bytes >>= 8n;
  } while (!(bytes === 0n && out[0]! < 0x80) && !(bytes === -1n && out[0]! >= 0x80));
  return tlv(TAG.INTEGER, out);
}

/** Walks every element, descending into constructed ones, as a certificate parser would. */
function walk(r: DerReader, depth = 0): number {
  let count = 0;
  while (!r.done) {
    const t: Tlv = r.read();
    count++;
    if (t.tag & 0x20 && depth < 20) count += walk(r.into(t), depth + 1);
  }
  return count;
}

test('property: random bytes only ever produce a DerError, never another exception', () => {
  const rand = prng(9525);
  for (let i = 0; i < 5000; i++) {
    const n = Math.floor(rand() * 40);
    const buf = Buffer.from(Array.from({ length: n }, () => (rand() < 0.3 ? [0x30, 0x31, 0xa0, 0x80, 0x81, 0x82][Math.floor(rand() * 6)]! : Math.floor(rand() * 256))));
    try {
      walk(reader(buf));
    } catch (e) {
      assert.ok(e instanceof DerError, `input ${buf.toString('hex')} threw ${String(e)}`);
      assert.match(e.message, /^expected .+, got .+ at byte \d+$/);
      assert.ok(e.offset >= 0 && e.offset <= buf.length, `offset ${e.offset} outside input ${buf.toString('hex')}`);
    }
  }
});

test('property: nested structures of any size round-trip through the writer and the reader', () => {
  const rand = prng(5280);
  const build = (depth: number): Buffer => {
    if (depth > 3 || rand() < 0.4) {
      const size = [0, 1, 127, 128, 255, 256, 300, 70000][Math.floor(rand() * 8)]!;
      return tlv(TAG.OCTET_STRING, Buffer.alloc(size, depth));
    }
    return tlv(TAG.SEQUENCE, ...Array.from({ length: 1 + Math.floor(rand() * 3) }, () => build(depth + 1)));
  };
  for (let i = 0; i < 200; i++) {
    const der = build(0);
    const top = readDer(der);
    assert.equal(top.end, der.length);
    // Re-encoding each element from what was read gives back the same bytes.
    const reencode = (t: Tlv, r: DerReader): Buffer => {
      if (t.tag !== TAG.SEQUENCE) return tlv(t.tag, t.value);
      const inner = r.into(t);
      const parts: Buffer[] = [];
      while (!inner.done) parts.push(reencode(inner.read(), inner));
      return tlv(t.tag, ...parts);
    };
    assert.deepEqual(reencode(top, reader(der)), der);
  }
});

test('property: INTEGER and OID values round-trip', () => {
  const rand = prng(690);
  for (let i = 0; i < 2000; i++) {
    const bits = BigInt(Math.floor(rand() * 200));
    let n = 0n;
    for (let b = 0n; b < bits; b += 16n) n = (n << 16n) | BigInt(Math.floor(rand() * 65536));
    if (rand() < 0.5) n = -n;
    assert.equal(reader(encodeInteger(n)).integer(), n);
  }
  for (let i = 0; i < 2000; i++) {
    const first = BigInt(Math.floor(rand() * 3));
    const second = first < 2n ? BigInt(Math.floor(rand() * 40)) : BigInt(Math.floor(rand() * 1e6));
    const rest = Array.from({ length: Math.floor(rand() * 6) }, () => BigInt(Math.floor(rand() * 2 ** 32)) * BigInt(Math.floor(rand() * 2 ** 30)));
    const arcs = [first, second, ...rest];
    assert.equal(decodeOid(readDer(encodeOid(arcs))), arcs.join('.'));
  }
});
