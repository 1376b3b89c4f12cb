// trust/name-hash.ts: OpenSSL's subject-name hash, the <hash> in c_rehash / `openssl rehash` file
// names (X509_NAME_hash_ex, OpenSSL >= 1.0; canonical form from crypto/x509/x_name.c x509_name_canon).
import { createHash } from 'node:crypto';
import { DerError, DerReader, TAG } from './der.ts';

const UNIVERSAL_STRING = 0x1c;

/**
 * x_name.c ASN1_MASK_CANON: the string types whose values are canonicalised, each with how
 * ASN1_STRING_to_UTF8 reads its bytes (a_mbstr.c tag2nbyte: 1, 2 or 4 bytes a character, or
 * UTF-8). NumericString is absent from the mask, so it is hashed exactly as it is encoded.
 */
const CANON_WIDTH: ReadonlyMap<number, 0 | 1 | 2 | 4> = new Map([
  [TAG.UTF8_STRING, 0],
  [TAG.PRINTABLE_STRING, 1],
  [TAG.TELETEX_STRING, 1], // T.61 taken as Latin-1, as OpenSSL does
  [TAG.IA5_STRING, 1],
  [TAG.VISIBLE_STRING, 1],
  [TAG.BMP_STRING, 2],
  [UNIVERSAL_STRING, 4],
] as const);

/**
 * The 8 lowercase hex digits `openssl x509 -noout -subject_hash` prints for a Name: SHA-1 of
 * the canonical encoding, its first 4 bytes read little-endian. Throws a DerError for a Name
 * that is not DER or a string value OpenSSL could not convert to UTF-8 (OpenSSL rejects such a
 * certificate when it decodes it, so no hashed file can hold one).
 */
export function opensslNameHash(nameDer: Buffer): string {
  const md = createHash('sha1').update(canonicalName(nameDer)).digest();
  return md.readUInt32LE(0).toString(16).padStart(8, '0');
}

/**
 * x509_name_canon: each RDN's SET OF AttributeTypeAndValue re-encoded with canonical values and
 * sorted again, the SETs concatenated without the outer SEQUENCE header. An empty Name (and an
 * empty RDN, which x509_name_ex_d2i never turns into entries) adds nothing.
 */
function canonicalName(nameDer: Buffer): Buffer {
  const outer = new DerReader(nameDer);
  const name = outer.sequence('Name SEQUENCE');
  outer.end('end of Name');
  const sets: Buffer[] = [];
  while (!name.done) {
    const rdn = name.set('RelativeDistinguishedName SET');
    const atvs: Buffer[] = [];
    while (!rdn.done) {
      const atv = rdn.sequence('AttributeTypeAndValue SEQUENCE');
      const type = atv.expect(TAG.OID, 'attribute type OID').raw;
      const value = atv.read();
      atv.end('end of AttributeTypeAndValue');
      const width = CANON_WIDTH.get(value.tag);
      const canon = width === undefined ? value.raw : encode(TAG.UTF8_STRING, canonicalString(toUtf8(value.value, width, value.start)));
      atvs.push(encode(TAG.SEQUENCE, Buffer.concat([type, canon])));
    }
    // a_enc.c der_cmp: a SET OF is written in the order of its members' encodings.
    if (atvs.length > 0) sets.push(encode(TAG.SET, Buffer.concat(atvs.sort(Buffer.compare))));
  }
  return Buffer.concat(sets);
}

/**
 * asn1_string_canon, on the UTF-8 bytes: white space (ossl_isspace: space, \t \n \v \f \r)
 * trimmed at both ends and each inner run made one space; ASCII letters lower-cased; bytes of
 * multi-byte characters (>= 0x80) copied, so no other letter is folded.
 */
function canonicalString(utf8: Buffer): Buffer {
  let from = 0;
  let to = utf8.length;
  while (from < to && isSpace(utf8[from]!)) from++;
  while (to > from && isSpace(utf8[to - 1]!)) to--;
  const out = Buffer.alloc(to - from);
  let n = 0;
  for (let i = from; i < to; ) {
    const b = utf8[i]!;
    if (isSpace(b)) {
      out[n++] = 0x20;
      while (isSpace(utf8[i]!)) i++; // the last byte is not a space, so this stops inside
    } else {
      out[n++] = b >= 0x41 && b <= 0x5a ? b + 0x20 : b;
      i++;
    }
  }
  return out.subarray(0, n);
}

function isSpace(b: number): boolean {
  return b === 0x20 || (b >= 0x09 && b <= 0x0d);
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** ASN1_STRING_to_UTF8: fixed-width big-endian characters (1, 2 or 4 bytes) to UTF-8; UTF-8 checked. */
function toUtf8(v: Buffer, width: 0 | 1 | 2 | 4, at: number): Buffer {
  if (width === 0) {
    try {
      utf8Decoder.decode(v);
    } catch {
      throw new DerError(`expected a UTF8String of valid UTF-8, got invalid bytes at byte ${at}`, at);
    }
    return v;
  }
  if (width === 1) return Buffer.from(v.toString('latin1'), 'utf8');
  if (v.length % width !== 0) throw new DerError(`expected a length that is a multiple of ${width}, got ${v.length} at byte ${at}`, at);
  const out: number[] = [];
  for (let i = 0; i < v.length; i += width) {
    const c = width === 2 ? v.readUInt16BE(i) : v.readUInt32BE(i);
    // a_utf8.c UTF8_putc: a surrogate or a value past U+10FFFF has no UTF-8 form.
    if ((c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff) throw new DerError(`expected Unicode characters, got U+${c.toString(16).toUpperCase()} at byte ${at}`, at);
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return Buffer.from(out);
}

/** One DER element, length in the fewest octets (X.690 §10.1). */
function encode(tag: number, body: Buffer): Buffer {
  const n = body.length;
  let head: number[];
  if (n < 0x80) head = [tag, n];
  else {
    const len: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) len.unshift(v & 0xff);
    head = [tag, 0x80 | len.length, ...len];
  }
  return Buffer.concat([Buffer.from(head), body]);
}
