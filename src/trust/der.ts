// der.ts: a minimal, strict DER reader (ITU-T X.690 §8, §10, §11), with RFC 5280 §4.1.2.5 time rules.
//
// The reader never copies: every value is a view into the caller's buffer, and every offset it
// reports is an offset into that whole buffer, so an error deep inside an extension still says
// where in the certificate it happened.

/** Thrown for any encoding that is not valid DER; `offset` is the byte where it went wrong. */
export class DerError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'DerError';
  }
}

/** Throws the DerError every parser here uses for a mismatch: expected / got / at which byte. */
export function mismatch(expected: string, got: string, at: number): never {
  throw new DerError(`expected ${expected}, got ${got} at byte ${at}`, at);
}

/** Identifier octets of the universal types we read (X.680 §8.4; constructed bit included). */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  TELETEX_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  VISIBLE_STRING: 0x1a,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

const TAG_NAMES: ReadonlyMap<number, string> = new Map([
  [TAG.BOOLEAN, 'BOOLEAN'],
  [TAG.INTEGER, 'INTEGER'],
  [TAG.BIT_STRING, 'BIT STRING'],
  [TAG.OCTET_STRING, 'OCTET STRING'],
  [TAG.NULL, 'NULL'],
  [TAG.OID, 'OID'],
  [TAG.UTF8_STRING, 'UTF8String'],
  [TAG.PRINTABLE_STRING, 'PrintableString'],
  [TAG.TELETEX_STRING, 'TeletexString'],
  [TAG.IA5_STRING, 'IA5String'],
  [TAG.UTC_TIME, 'UTCTime'],
  [TAG.GENERALIZED_TIME, 'GeneralizedTime'],
  [TAG.VISIBLE_STRING, 'VisibleString'],
  [TAG.BMP_STRING, 'BMPString'],
  [TAG.SEQUENCE, 'SEQUENCE'],
  [TAG.SET, 'SET'],
]);

/** The identifier octet of a context-specific tag [n] (X.690 §8.1.2). */
export function contextTag(n: number, constructed: boolean): number {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new RangeError(`contextTag: expected 0..30, got ${n}`);
  return (constructed ? 0xa0 : 0x80) | n;
}

/** A readable name for a tag, for error messages: 'SEQUENCE', '[0]', 'tag 0x42'. */
export function tagName(tag: number): string {
  const known = TAG_NAMES.get(tag);
  if (known !== undefined) return known;
  if ((tag & 0xc0) === 0x80) return `[${tag & 0x1f}]`;
  return `tag 0x${hex2(tag)}`;
}

/** 'tag 0x04 (OCTET STRING)': the byte for those reading a hex dump, the name for the rest. */
export function describeTag(tag: number): string {
  const name = tagName(tag);
  return name.startsWith('tag ') ? name : `tag 0x${hex2(tag)} (${name})`;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** One tag-length-value element. `value` and `raw` are views, not copies. */
export interface Tlv {
  readonly tag: number;
  readonly start: number; // offset of the identifier octet
  readonly valueStart: number; // offset of the first content octet
  readonly end: number; // offset just past the element
  readonly value: Buffer; // the content octets
  readonly raw: Buffer; // the whole element, identifier to end
}

/** Reads consecutive elements from buf[pos, end). */
export class DerReader {
  private pos: number;
  private readonly buf: Buffer;

  constructor(
    input: Uint8Array,
    start = 0,
    private readonly limit = input.length,
  ) {
    this.buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    this.pos = start;
  }

  /** A reader over the contents of an element that this reader (or its parent) returned. */
  into(tlv: Tlv): DerReader {
    return new DerReader(this.buf, tlv.valueStart, tlv.end);
  }

  get offset(): number {
    return this.pos;
  }

  get done(): boolean {
    return this.pos >= this.limit;
  }

  /** The next identifier octet, or undefined at the end. */
  peek(): number | undefined {
    return this.done ? undefined : this.buf[this.pos];
  }

  /** Reads any element. X.690 §10.1: definite lengths only, in the fewest octets. */
  read(): Tlv {
    const start = this.pos;
    if (start >= this.limit) throw new DerError(`expected an element, got end of data at byte ${start}`, start);
    const tag = this.buf[start]!;
    // §8.1.2.4: tag numbers >= 31 need the multi-octet form; nothing we read uses it.
    if ((tag & 0x1f) === 0x1f) throw new DerError(`expected a low tag number, got high-tag-number form 0x${hex2(tag)} at byte ${start}`, start);
    const { length, valueStart } = this.readLength(start + 1);
    const end = valueStart + length;
    if (end > this.limit) {
      throw new DerError(`expected ${length} content bytes, got ${this.limit - valueStart} before the end of the enclosing data at byte ${start}`, start);
    }
    this.pos = end;
    return { tag, start, valueStart, end, value: this.buf.subarray(valueStart, end), raw: this.buf.subarray(start, end) };
  }

  private readLength(at: number): { length: number; valueStart: number } {
    if (at >= this.limit) throw new DerError(`expected a length byte, got end of data at byte ${at}`, at);
    const first = this.buf[at]!;
    if (first < 0x80) return { length: first, valueStart: at + 1 };
    if (first === 0x80) throw new DerError(`expected a definite length, got indefinite length (0x80) at byte ${at}`, at);
    const count = first & 0x7f;
    // Four length octets already allow 4 GiB; more is either garbage or an attack.
    if (count > 4) throw new DerError(`expected at most 4 length bytes, got ${count} at byte ${at}`, at);
    if (at + 1 + count > this.limit) throw new DerError(`expected ${count} length bytes, got end of data at byte ${at}`, at);
    let length = 0;
    for (let i = 1; i <= count; i++) length = length * 256 + this.buf[at + i]!;
    // §10.1: the long form only when needed, and without leading zero octets.
    if (length < 0x80 || this.buf[at + 1] === 0) {
      throw new DerError(`expected a minimal length encoding, got non-minimal ${count}-byte length ${length} at byte ${at}`, at);
    }
    return { length, valueStart: at + 1 + count };
  }

  /** Reads an element that must carry `tag`; `what` names it in the error. */
  expect(tag: number, what = tagName(tag)): Tlv {
    if (this.peek() !== tag) throw this.mismatch(what);
    return this.read();
  }

  private mismatch(what: string): DerError {
    const next = this.peek();
    const got = next === undefined ? 'end of data' : describeTag(next);
    return new DerError(`expected ${what}, got ${got} at byte ${this.pos}`, this.pos);
  }

  /** Reads the element only if the next tag is `tag`. */
  optional(tag: number): Tlv | undefined {
    return this.peek() === tag ? this.read() : undefined;
  }

  /** Throws unless every byte has been read: DER structures end exactly. */
  end(what = 'end of structure'): void {
    if (!this.done) throw new DerError(`expected ${what}, got trailing ${describeTag(this.buf[this.pos]!)} at byte ${this.pos}`, this.pos);
  }

  sequence(what?: string): DerReader {
    return this.into(this.expect(TAG.SEQUENCE, what));
  }

  set(what?: string): DerReader {
    return this.into(this.expect(TAG.SET, what));
  }

  /** [n] EXPLICIT: a reader over the contents of the constructed context tag, if present. */
  explicit(n: number): DerReader | undefined {
    const tlv = this.optional(contextTag(n, true));
    return tlv && this.into(tlv);
  }

  integer(what?: string): bigint {
    return decodeInteger(this.expect(TAG.INTEGER, what));
  }

  /** A non-negative INTEGER that fits a JS number, e.g. a version or a path length. */
  smallInteger(what?: string): number {
    const tlv = this.expect(TAG.INTEGER, what);
    const n = decodeInteger(tlv);
    if (n < 0n || n > BigInt(Number.MAX_SAFE_INTEGER)) throw new DerError(`expected a small non-negative INTEGER, got ${n} at byte ${tlv.start}`, tlv.start);
    return Number(n);
  }

  oid(what?: string): string {
    return decodeOid(this.expect(TAG.OID, what));
  }

  bitString(what?: string): BitString {
    return decodeBitString(this.expect(TAG.BIT_STRING, what));
  }

  /** A BIT STRING that wraps DER (e.g. an RSAPublicKey): a reader over its octets. */
  bitStringContents(what?: string): DerReader {
    const tlv = this.expect(TAG.BIT_STRING, what);
    const { unusedBits } = decodeBitString(tlv);
    if (unusedBits !== 0) throw new DerError(`expected whole octets in ${what ?? 'BIT STRING'}, got ${unusedBits} unused bits at byte ${tlv.valueStart}`, tlv.valueStart);
    return new DerReader(this.buf, tlv.valueStart + 1, tlv.end);
  }

  octetString(what?: string): Buffer {
    return this.expect(TAG.OCTET_STRING, what).value;
  }

  boolean(what?: string): boolean {
    return decodeBoolean(this.expect(TAG.BOOLEAN, what));
  }

  null(what?: string): void {
    const tlv = this.expect(TAG.NULL, what);
    if (tlv.value.length !== 0) throw new DerError(`expected an empty NULL, got ${tlv.value.length} content bytes at byte ${tlv.start}`, tlv.start);
  }

  /** UTCTime or GeneralizedTime, as in RFC 5280 §4.1.2.5 Time. */
  time(what = 'UTCTime or GeneralizedTime'): Date {
    const next = this.peek();
    const tag = next === TAG.GENERALIZED_TIME ? TAG.GENERALIZED_TIME : TAG.UTC_TIME;
    return decodeTime(this.expect(tag, what));
  }

  /** Any of the character string types we know. */
  string(what = 'a character string'): string {
    const next = this.peek();
    if (next === undefined || !STRING_TAGS.has(next)) throw this.mismatch(what);
    return decodeString(this.read());
  }
}

/** Two's-complement INTEGER (X.690 §8.3), minimal per §8.3.2. */
export function decodeInteger(tlv: Tlv): bigint {
  const v = tlv.value;
  if (v.length === 0) throw new DerError(`expected INTEGER content, got 0 bytes at byte ${tlv.start}`, tlv.start);
  if (v.length > 1 && ((v[0] === 0x00 && v[1]! < 0x80) || (v[0] === 0xff && v[1]! >= 0x80))) {
    throw new DerError(`expected a minimal INTEGER, got a redundant leading 0x${hex2(v[0]!)} at byte ${tlv.valueStart}`, tlv.valueStart);
  }
  let n = BigInt('0x' + v.toString('hex'));
  if (v[0]! >= 0x80) n -= 1n << BigInt(v.length * 8);
  return n;
}

/** OBJECT IDENTIFIER to dotted form (X.690 §8.19). */
export function decodeOid(tlv: Tlv): string {
  const v = tlv.value;
  if (v.length === 0) throw new DerError(`expected OID content, got 0 bytes at byte ${tlv.start}`, tlv.start);
  const arcs: string[] = [];
  let i = 0;
  while (i < v.length) {
    const at = tlv.valueStart + i;
    // §8.19.2: each subidentifier in the fewest octets, so it never starts with 0x80.
    if (v[i] === 0x80) throw new DerError(`expected a minimal OID subidentifier, got a leading 0x80 at byte ${at}`, at);
    let n = 0n;
    let byte: number;
    do {
      if (i >= v.length) throw new DerError(`expected the rest of an OID subidentifier, got end of OID at byte ${at}`, at);
      byte = v[i++]!;
      n = (n << 7n) | BigInt(byte & 0x7f);
    } while (byte & 0x80);
    if (arcs.length === 0) {
      // §8.19.4: the first subidentifier packs the first two arcs as 40 * X + Y.
      const first = n < 40n ? 0n : n < 80n ? 1n : 2n;
      arcs.push(first.toString(), (n - first * 40n).toString());
    } else {
      arcs.push(n.toString());
    }
  }
  return arcs.join('.');
}

export interface BitString {
  readonly bytes: Buffer; // the bit octets, unused bits at the end of the last one
  readonly unusedBits: number;
}

/** BIT STRING (X.690 §8.6), with the DER rule that unused bits are zero (§11.2.1). */
export function decodeBitString(tlv: Tlv): BitString {
  const v = tlv.value;
  if (v.length === 0) throw new DerError(`expected a BIT STRING unused-bits byte, got 0 bytes at byte ${tlv.start}`, tlv.start);
  const unusedBits = v[0]!;
  if (unusedBits > 7 || (v.length === 1 && unusedBits !== 0)) {
    throw new DerError(`expected 0..7 unused bits (0 when empty), got ${unusedBits} at byte ${tlv.valueStart}`, tlv.valueStart);
  }
  const last = v[v.length - 1]!;
  if (v.length > 1 && (last & ((1 << unusedBits) - 1)) !== 0) {
    throw new DerError(`expected zero unused bits, got 0x${hex2(last)} with ${unusedBits} unused at byte ${tlv.end - 1}`, tlv.end - 1);
  }
  return { bytes: v.subarray(1), unusedBits };
}

/** BOOLEAN: one octet, 0x00 or 0xFF in DER (X.690 §11.1). */
export function decodeBoolean(tlv: Tlv): boolean {
  const v = tlv.value;
  if (v.length !== 1 || (v[0] !== 0x00 && v[0] !== 0xff)) {
    throw new DerError(`expected BOOLEAN 0x00 or 0xff, got ${v.length} bytes '${v.toString('hex')}' at byte ${tlv.start}`, tlv.start);
  }
  return v[0] === 0xff;
}

// RFC 5280 §4.1.2.5.1/.2: UTCTime YYMMDDHHMMSSZ, GeneralizedTime YYYYMMDDHHMMSSZ; seconds
// always present, always Zulu, no fractional seconds.
const UTC_TIME = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;
const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;

/** UTCTime or GeneralizedTime to a Date, by the RFC 5280 profile. */
export function decodeTime(tlv: Tlv): Date {
  const utc = tlv.tag === TAG.UTC_TIME;
  const text = tlv.value.toString('latin1');
  const m = (utc ? UTC_TIME : GENERALIZED_TIME).exec(text);
  const form = utc ? 'YYMMDDHHMMSSZ' : 'YYYYMMDDHHMMSSZ';
  if (!m) throw new DerError(`expected ${tagName(tlv.tag)} ${form}, got '${printable(text)}' at byte ${tlv.start}`, tlv.start);
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  // §4.1.2.5.1: YY >= 50 is 19YY, YY < 50 is 20YY.
  const year = utc ? (y >= 50 ? 1900 + y : 2000 + y) : y;
  // setUTCFullYear, not Date.UTC, which maps years 0..99 to 1900..1999.
  const date = new Date(0);
  date.setUTCFullYear(year, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  // Date rolls out-of-range fields over (Feb 30 -> Mar 2); reading them back catches that.
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || date.getUTCHours() !== h || date.getUTCMinutes() !== mi || date.getUTCSeconds() !== s) {
    throw new DerError(`expected a valid calendar time, got '${text}' at byte ${tlv.start}`, tlv.start);
  }
  return date;
}

const STRING_TAGS: ReadonlySet<number> = new Set([
  TAG.UTF8_STRING,
  TAG.PRINTABLE_STRING,
  TAG.TELETEX_STRING,
  TAG.IA5_STRING,
  TAG.VISIBLE_STRING,
  TAG.BMP_STRING,
]);

export function isStringTag(tag: number): boolean {
  return STRING_TAGS.has(tag);
}

// X.680 §41.4 PrintableString, plus '*' and '&', which real CAs put in names (Go's crypto/x509
// accepts them for the same reason).
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?*&]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes a character string element; which set it allows depends on its tag. */
export function decodeString(tlv: Tlv): string {
  const v = tlv.value;
  const bad = (why: string): never => {
    throw new DerError(`expected ${tagName(tlv.tag)}, got ${why} at byte ${tlv.start}`, tlv.start);
  };
  switch (tlv.tag) {
    case TAG.UTF8_STRING:
      try {
        return utf8.decode(v);
      } catch {
        return bad('invalid UTF-8');
      }
    case TAG.PRINTABLE_STRING: {
      const s = v.toString('latin1');
      return PRINTABLE.test(s) ? s : bad(`'${printable(s)}'`);
    }
    case TAG.IA5_STRING:
      return isAscii(v, 0x00, 0x7f) ? v.toString('latin1') : bad('a byte above 0x7f');
    case TAG.VISIBLE_STRING:
      return isAscii(v, 0x20, 0x7e) ? v.toString('latin1') : bad('a byte outside 0x20..0x7e');
    case TAG.TELETEX_STRING:
      // T.61 is rarely what the bytes really are; latin1 is what OpenSSL and browsers show.
      return v.toString('latin1');
    case TAG.BMP_STRING:
      // UCS-2 big-endian; swap to the little-endian UTF-16 that Buffer decodes.
      return v.length % 2 === 0 ? Buffer.from(v).swap16().toString('utf16le') : bad(`an odd length ${v.length}`);
    default:
      return bad('a tag that is not a string type');
  }
}

function isAscii(v: Uint8Array, lo: number, hi: number): boolean {
  for (const b of v) if (b < lo || b > hi) return false;
  return true;
}

/** Shows text in an error message without letting control bytes through. */
function printable(s: string): string {
  const shown = s.length > 40 ? s.slice(0, 40) + '...' : s;
  return shown.replace(/[^\x20-\x7e]/g, (c) => `\\x${hex2(c.charCodeAt(0) & 0xff)}`);
}

/** Reads exactly one element spanning the whole input. */
export function readDer(input: Uint8Array): Tlv {
  const r = new DerReader(input);
  const tlv = r.read();
  r.end('end of data');
  return tlv;
}
