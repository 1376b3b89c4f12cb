// tls/session-blob.ts: the session blob (tls/sessions.ts) and its strict, versioned binary codec:
// node:tls's session, the binding's part digests and the validated path, as base64url text.
import { BINDING_PARTS, digestOf, type Binding, type BindingPart } from './session-binding.ts';

export interface SessionBlob {
  readonly createdAt: Date;
  readonly binding: Binding;
  /** node:tls's 'session' Buffer (an OpenSSL SSL_SESSION), passed back as tls.connect({session}). */
  readonly ticket: Buffer;
  /** The path tlsify validated on the connection that issued the ticket, leaf first, DER. */
  readonly chain: readonly Buffer[];
  /** The OCSP response stapled then, if any: checked again, at the time of use. */
  readonly ocspStaple: Buffer | undefined;
  /** The fingerprint of the client certificate sent then, if one was. */
  readonly clientId: string | undefined;
}

export const BLOB_VERSION = 1;
/** Raw bytes; base64url makes ~43.7 K characters, which fits a control line (65536) and an env var. */
export const MAX_BLOB_BYTES = 32 * 1024;
/** RFC 8446 §4.6.1: no ticket lives longer than 7 days; tlsify holds TLS 1.2 sessions to it too. */
export const MAX_BLOB_AGE_MS = 7 * 86_400_000;
const MAX_PIECE = 16 * 1024;
const MAX_CHAIN = 8;
const MAGIC = Buffer.from('TLSB', 'latin1');

/** A blob that cannot be used; `reason` says whether it is broken or from another tlsify version. */
export class SessionBlobError extends Error {
  override name = 'SessionBlobError';
  constructor(
    readonly reason: 'malformed' | 'version',
    message: string,
  ) {
    super(message);
  }
}

/**
 * v1, all integers big-endian: 'TLSB' | version u8 | created-at ms u64 | part count u8, then per
 * part: name length u8, name, 32-byte digest | ticket u32-length | chain count u8, then per
 * certificate u32-length DER | staple u32-length (0: none) | client-id u8-length (0: none).
 */
export function encodeBlob(blob: SessionBlob): string {
  const w: Buffer[] = [MAGIC, u8(BLOB_VERSION), u64(blob.createdAt.getTime()), u8(BINDING_PARTS.length)];
  for (const name of BINDING_PARTS) w.push(u8(name.length), Buffer.from(name, 'latin1'), blob.binding.parts.get(name)!);
  check(blob.ticket.length > 0 && blob.ticket.length <= MAX_PIECE, `ticket of ${blob.ticket.length} bytes`);
  check(blob.chain.length > 0 && blob.chain.length <= MAX_CHAIN, `chain of ${blob.chain.length} certificates`);
  w.push(u32(blob.ticket.length), blob.ticket, u8(blob.chain.length));
  for (const der of blob.chain) {
    check(der.length > 0 && der.length <= MAX_PIECE, `certificate of ${der.length} bytes`);
    w.push(u32(der.length), der);
  }
  const staple = blob.ocspStaple ?? Buffer.alloc(0);
  check(staple.length <= MAX_PIECE, `OCSP staple of ${staple.length} bytes`);
  const id = Buffer.from(blob.clientId ?? '', 'latin1');
  check(id.length <= 255, 'client id');
  w.push(u32(staple.length), staple, u8(id.length), id);
  const raw = Buffer.concat(w);
  check(raw.length <= MAX_BLOB_BYTES, `blob of ${raw.length} bytes (at most ${MAX_BLOB_BYTES})`);
  return raw.toString('base64url');
}

/** Strict: every length checked, nothing left over; a blob of another version is refused as such. */
export function decodeBlob(text: string): SessionBlob {
  const bad = (msg: string): never => {
    throw new SessionBlobError('malformed', `session blob: ${msg}`);
  };
  const trimmed = text.trim();
  if (trimmed.length > Math.ceil((MAX_BLOB_BYTES * 4) / 3)) bad(`expected at most ${MAX_BLOB_BYTES} bytes, got ${trimmed.length} characters`);
  if (!/^[A-Za-z0-9_-]+$/.test(trimmed)) bad('expected base64url (A-Z a-z 0-9 - _), got other characters');
  const raw = Buffer.from(trimmed, 'base64url');
  const r = new Reader(raw, bad);
  if (!r.bytes(4, 'magic').equals(MAGIC)) bad("expected it to begin with 'TLSB', got something else: not a tlsify session blob");
  const version = r.u8('version');
  if (version !== BLOB_VERSION) throw new SessionBlobError('version', `session blob: expected version ${BLOB_VERSION}, got ${version} (from another tlsify version)`);
  const createdAt = new Date(r.u64('created-at'));
  const count = r.u8('part count');
  if (count !== BINDING_PARTS.length) bad(`expected ${BINDING_PARTS.length} binding parts, got ${count}`);
  const parts = new Map<BindingPart, Buffer>();
  for (const name of BINDING_PARTS) {
    const got = r.bytes(r.u8('part name length'), 'part name').toString('latin1');
    if (got !== name) bad(`expected binding part '${name}', got '${got}'`);
    parts.set(name, Buffer.from(r.bytes(32, `digest of ${name}`)));
  }
  const ticket = Buffer.from(r.bytes(r.u32('ticket length', 1, MAX_PIECE), 'ticket'));
  const chainCount = r.u8('chain count');
  if (chainCount < 1 || chainCount > MAX_CHAIN) bad(`expected 1 to ${MAX_CHAIN} certificates, got ${chainCount}`);
  const chain: Buffer[] = [];
  for (let i = 0; i < chainCount; i++) {
    const der = Buffer.from(r.bytes(r.u32(`certificate ${i + 1} length`, 1, MAX_PIECE), `certificate ${i + 1}`));
    if (der[0] !== 0x30) bad(`certificate ${i + 1}: expected a DER SEQUENCE, got tag 0x${der[0]!.toString(16)}`);
    chain.push(der);
  }
  const staple = r.bytes(r.u32('staple length', 0, MAX_PIECE), 'staple');
  const id = r.bytes(r.u8('client id length'), 'client id').toString('latin1');
  if (!r.done()) bad(`expected the end after the client id, got ${r.left()} more bytes`);
  return Object.freeze({
    createdAt,
    binding: Object.freeze({ digest: digestOf(parts), parts }),
    ticket,
    chain: Object.freeze(chain),
    ocspStaple: staple.length > 0 ? Buffer.from(staple) : undefined,
    clientId: id === '' ? undefined : id,
  });
}

class Reader {
  private at = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly bad: (msg: string) => never,
  ) {}
  bytes(n: number, what: string): Buffer {
    if (this.at + n > this.buf.length) this.bad(`expected ${n} bytes of ${what} at byte ${this.at}, got ${this.buf.length - this.at}`);
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  u8(what: string): number {
    return this.bytes(1, what)[0]!;
  }
  u32(what: string, min = 0, max = 0xffffffff): number {
    const n = this.bytes(4, what).readUInt32BE(0);
    if (n < min || n > max) this.bad(`expected a ${what} from ${min} to ${max}, got ${n}`);
    return n;
  }
  u64(what: string): number {
    const n = this.bytes(8, what).readBigUInt64BE(0);
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) this.bad(`expected a ${what} in milliseconds, got ${n}`);
    return Number(n);
  }
  done(): boolean {
    return this.at === this.buf.length;
  }
  left(): number {
    return this.buf.length - this.at;
  }
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new SessionBlobError('malformed', `session blob: cannot encode a ${what}`);
}

const u8 = (n: number): Buffer => Buffer.from([n]);
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u64 = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};
