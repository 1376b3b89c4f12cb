// tls/sessions.ts: opt-in session resumption (RFC 5077 tickets and session IDs for TLS 1.2,
// RFC 8446 §4.6.1 tickets for TLS 1.3), bound to what made the first connection trustworthy.
// A blob = node:tls's session + the binding + the validated path it was issued under. node:tls
// gives no certificate on a resumed connection (facts §5.2), so the path in the blob is checked
// again, against the policy in force, before any plaintext moves. Pure, except FileSessionStore.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { TlsifyError } from '../codes.ts';
import type { ConnectConfig } from '../config.ts';
import { describeStoreSpec } from '../pinstore/location.ts';
import { assertPrivate } from '../secret.ts';
import { CertError, parseCertificate } from '../trust/cert.ts';
import { describeReference } from '../trust/names.ts';
import type { TrustPolicy } from '../trust/policy.ts';
import { describeCaSet } from '../trust/store.ts';
import type { PeerEvidence, Verified } from '../trust/verify.ts';
import type { ClientIdentity } from './identity.ts';

export type ResumeMode = { readonly kind: 'off' } | { readonly kind: 'caller' } | { readonly kind: 'file'; readonly path: string };

/** --resume off|caller|file:PATH. */
export function parseResumeMode(text: string): ResumeMode {
  if (text === 'off' || text === 'caller') return Object.freeze({ kind: text });
  if (text.startsWith('file:') && text.length > 5) return Object.freeze({ kind: 'file', path: text.slice(5) });
  throw new TlsifyError('usage', `--resume: expected one of off|caller|file:PATH, got '${text}'`);
}

/** For the README and protocol/control.md; PRIVACY_WARNING is the one-line form for a `warning` event. */
export const PRIVACY_NOTE = [
  'Resumption is off by default because it makes connections linkable. The client sends its',
  'session ID or ticket in the clear in the ClientHello: the server can always tell that the',
  'connection comes from the client it issued the ticket to, even from another address, and',
  'under TLS 1.2, or when a TLS 1.3 ticket is presented twice, so can anyone watching the',
  'network (RFC 8446 §C.4). A blob is also a secret: it holds the session\'s resumption secret',
  '(under TLS 1.2 the master secret, which decrypts recorded traffic of the connection that issued',
  'it and of every connection that resumed it), and whoever can write it can make tlsify resume',
  'with a server that holds that secret. Keep blobs where only the parent can read and write them.',
].join('\n');
export const PRIVACY_WARNING = 'resumption makes this connection linkable to earlier ones (the ticket travels in the clear), and the blob holds secret key material';

// --- Binding ----------------------------------------------------------------------------------

/** What a blob is bound to, part by part, so a refusal can say which part differs. */
export const BINDING_PARTS = ['peer', 'sni', 'alpn', 'min-tls', 'ca-sets', 'references', 'pins', 'tlsa', 'revocation', 'identity'] as const;
export type BindingPart = (typeof BINDING_PARTS)[number];

export interface BindingInput {
  readonly host: string;
  readonly port: number | undefined;
  readonly sni: string | undefined;
  readonly alpn: readonly string[];
  readonly minTls: string;
  readonly policy: TrustPolicy;
  /** --pin-store as given (describeStoreSpec) and --tofu: where stored pins come from. */
  readonly pinStore: string;
  readonly tofu: string;
  /** TACK inputs as given: 'tack:FILE', 'break:FILE', 'activate'. */
  readonly tack: readonly string[];
  /** The fingerprints of every configured client identity; empty for none. */
  readonly identities: readonly string[];
}

export interface Binding {
  /** Lowercase hex SHA-256 over the parts, in BINDING_PARTS order: the key of a store entry. */
  readonly digest: string;
  readonly parts: ReadonlyMap<BindingPart, Buffer>;
}

/**
 * Pure and stable: the same input gives the same digest in any process. The policy is bound as
 * configured (set names, pins, records, the pin store's name), not by what the sets and stores
 * hold: the stored path is checked against the anchors, CRLs and stored pins of the day anyway,
 * and a system store update should not orphan every blob. Order does not matter where the
 * policy is a set (CA sets, pins, records).
 */
export function bindingOf(input: BindingInput): Binding {
  const p = input.policy;
  const sorted = (xs: readonly string[]): string[] => [...xs].sort();
  const values: Record<BindingPart, unknown> = {
    peer: [input.host.toLowerCase(), input.port ?? null],
    sni: input.sni ?? null,
    alpn: [...input.alpn], // as given: the server chooses by its own preference, but keep it simple and exact
    'min-tls': input.minTls,
    'ca-sets': sorted(p.caSets.map(describeCaSet)),
    references: sorted(p.references.map(describeReference)),
    pins: [p.pinMode, sorted(p.pins.map((pin) => pin.text)), input.pinStore, input.tofu, sorted(input.tack)],
    tlsa: sorted(p.tlsa.map((r) => r.text)),
    revocation: [p.ocsp, sorted(p.crlFiles)],
    identity: sorted(input.identities),
  };
  const parts = new Map<BindingPart, Buffer>(BINDING_PARTS.map((name) => [name, partDigest(name, values[name])]));
  return Object.freeze({ digest: digestOf(parts), parts });
}

/** The binding of a `connect` run: what the integration calls, and what the tests compute too. */
export function bindingFor(cfg: ConnectConfig, ids: readonly ClientIdentity[]): Binding {
  return bindingOf({
    host: cfg.host,
    port: cfg.port,
    sni: cfg.sni,
    alpn: cfg.alpn,
    minTls: cfg.minTls,
    policy: cfg.policy,
    pinStore: describeStoreSpec(cfg.pinStore),
    tofu: cfg.tofu,
    tack: [...cfg.tackFiles.map((f) => `tack:${f}`), ...cfg.tackBreakFiles.map((f) => `break:${f}`), ...(cfg.tackActivate ? ['activate'] : [])],
    identities: ids.map((id) => id.fingerprint),
  });
}

function partDigest(name: BindingPart, value: unknown): Buffer {
  return createHash('sha256').update(`tlsify-binding-1\0${name}\0${JSON.stringify(value)}`).digest();
}

function digestOf(parts: ReadonlyMap<BindingPart, Buffer>): string {
  const h = createHash('sha256').update('tlsify-binding-1\0');
  for (const name of BINDING_PARTS) h.update(parts.get(name)!);
  return h.digest('hex');
}

// --- Blob -------------------------------------------------------------------------------------

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

// --- Using a blob ------------------------------------------------------------------------------

export type BlobCheck =
  | { readonly ok: true; readonly ageSeconds: number }
  | { readonly ok: false; readonly reason: 'binding'; readonly differs: readonly BindingPart[]; readonly message: string }
  | { readonly ok: false; readonly reason: 'expired' | 'malformed'; readonly message: string };

/**
 * Whether to offer `blob` on a connection whose binding is `binding`. A blob under another
 * binding is never offered: servers resume across SNI and client certificates (checked against
 * node:tls servers), so only tlsify can keep a session to the context it was made in. A blob
 * whose stored path has expired is not offered either: a full handshake fetches the renewed one.
 */
export function checkBlob(blob: SessionBlob, binding: Binding, now: Date): BlobCheck {
  const differs = BINDING_PARTS.filter((name) => !blob.binding.parts.get(name)!.equals(binding.parts.get(name)!));
  if (differs.length > 0) return { ok: false, reason: 'binding', differs, message: `the blob was made under another ${differs.join(', ')}` };
  const age = now.getTime() - blob.createdAt.getTime();
  if (age < -5 * 60_000) return { ok: false, reason: 'expired', message: `the blob was made at ${blob.createdAt.toISOString()}, in the future` };
  if (age > MAX_BLOB_AGE_MS) return { ok: false, reason: 'expired', message: `the blob is ${Math.floor(age / 3600_000)} h old; sessions live at most 7 days (RFC 8446 §4.6.1)` };
  for (const [i, der] of blob.chain.entries()) {
    let notAfter: Date;
    try {
      notAfter = parseCertificate(der).notAfter;
    } catch (err) {
      if (err instanceof CertError) return { ok: false, reason: 'malformed', message: `stored certificate ${i + 1}: ${err.message}` };
      throw err;
    }
    if (notAfter < now) return { ok: false, reason: 'expired', message: `stored certificate ${i + 1} expired at ${notAfter.toISOString()}` };
  }
  return { ok: true, ageSeconds: Math.max(0, Math.floor(age / 1000)) };
}

/**
 * The evidence for verifyPeer on a resumed connection: the stored path, OpenSSL's stored verify
 * result (node:tls keeps it in the session), and the stored staple if one is asked for.
 */
export function resumedEvidence(blob: SessionBlob, live: PeerEvidence): PeerEvidence {
  return {
    chain: blob.chain,
    openssl: live.openssl,
    ocspStaple: live.ocspStaple === undefined ? undefined : (blob.ocspStaple ?? null),
  };
}

/**
 * Holds node:tls's 'session' tickets until the verdict. accept() needs a Verified, which only
 * trust/verify.ts can make, so a ticket from a rejected connection cannot get out by mistake;
 * reject() drops them all. TLS 1.3 tickets come after 'secureConnect', one per NewSessionTicket
 * (OpenSSL servers send two; facts §5.5); later ones pass straight through once accepted.
 */
export class TicketGate {
  private pending: Buffer[] = [];
  private state: 'waiting' | 'open' | 'closed' = 'waiting';
  private context: { chain: Buffer[]; ocspStaple: Buffer | undefined; clientId: string | undefined } | undefined;

  constructor(
    private readonly binding: Binding,
    /** Called once per ticket after accept(); from a socket event, so its errors go to onError. */
    private readonly sink: (blob: SessionBlob) => void,
    private readonly onError: (err: unknown) => void,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** For socket.on('session', gate.offer). */
  readonly offer = (ticket: Buffer): void => {
    if (this.state === 'closed') return;
    if (this.state === 'open') return this.release(ticket);
    if (this.pending.length < 8) this.pending.push(ticket);
  };

  /** After the verdict (and the parent's accept under --hold): the tickets may go out. */
  accept(verified: Verified, extras: { readonly ocspStaple: Buffer | null | undefined; readonly clientId: string | undefined }): void {
    if (this.state !== 'waiting') return;
    this.state = 'open';
    this.context = { chain: verified.path.map((c) => c.der), ocspStaple: extras.ocspStaple ?? undefined, clientId: extras.clientId };
    const held = this.pending;
    this.pending = [];
    for (const t of held) this.release(t);
  }

  /** The verdict failed or the session ended before it: nothing is ever released. */
  reject(): void {
    this.state = 'closed';
    for (const t of this.pending) t.fill(0);
    this.pending = [];
  }

  private release(ticket: Buffer): void {
    const c = this.context!;
    try {
      this.sink(Object.freeze({ createdAt: this.now(), binding: this.binding, ticket, chain: Object.freeze([...c.chain]), ocspStaple: c.ocspStaple, clientId: c.clientId }));
    } catch (err) {
      this.onError(err);
    }
  }
}

// --- --resume file:PATH -------------------------------------------------------------------------

export const STORE_HEADER = 'tlsify-sessions 1';
export const MAX_STORE_ENTRIES = 64;

/**
 * A 0600 file of blobs, one per binding, newest wins, at most MAX_STORE_ENTRIES (oldest go
 * first). Every write re-reads the file, then replaces it atomically (temp file, fsync, rename,
 * fsync of the directory), so a crash leaves the old file or the new one. Two tlsify processes
 * writing at once: the last rename wins, and the other's new entry is lost (it is a cache).
 */
export class FileSessionStore {
  private constructor(
    readonly path: string,
    private entries: SessionBlob[],
  ) {}

  /** A missing file is an empty store; one that others can read, or that does not parse, is a config error. */
  static open(file: string): FileSessionStore {
    return new FileSessionStore(file, readStore(file));
  }

  get size(): number {
    return this.entries.length;
  }

  lookup(binding: Binding): SessionBlob | undefined {
    return this.entries.find((e) => e.binding.digest === binding.digest);
  }

  put(blob: SessionBlob, now: Date): void {
    const others = readStore(this.path).filter((e) => e.binding.digest !== blob.binding.digest && now.getTime() - e.createdAt.getTime() <= MAX_BLOB_AGE_MS);
    const kept = others.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime()).slice(0, MAX_STORE_ENTRIES - 1);
    this.write([blob, ...kept]);
  }

  /** Drop the entry for `binding`, e.g. after its stored path failed the check on resumption. */
  forget(binding: Binding): void {
    const current = readStore(this.path);
    if (!current.some((e) => e.binding.digest === binding.digest)) return;
    this.write(current.filter((e) => e.binding.digest !== binding.digest));
  }

  private write(entries: SessionBlob[]): void {
    writeAtomic(this.path, [STORE_HEADER, ...entries.map(encodeBlob)].join('\n') + '\n');
    this.entries = entries;
  }
}

function readStore(file: string): SessionBlob[] {
  const where = `--resume file:${file}`;
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    throw new TlsifyError('config', `${where}: cannot open the session store (${code === 'ELOOP' ? 'it is a symbolic link' : (code ?? (err as Error).message)})`);
  }
  let text: string;
  try {
    assertPrivate(fs.fstatSync(fd), where, 'owner-only');
    text = fs.readFileSync(fd, 'latin1');
  } finally {
    fs.closeSync(fd);
  }
  const lines = text.split('\n');
  if (lines[0] !== STORE_HEADER) throw new TlsifyError('config', `${where} line 1: expected '${STORE_HEADER}', got '${lines[0]!.slice(0, 40)}'`);
  const out: SessionBlob[] = [];
  lines.forEach((line, i) => {
    if (i === 0 || line === '') return;
    try {
      out.push(decodeBlob(line));
    } catch (err) {
      if (err instanceof SessionBlobError) throw new TlsifyError('config', `${where} line ${i + 1}: ${err.message}`);
      throw err;
    }
  });
  return out;
}

function writeAtomic(file: string, content: string): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  let fd: number;
  try {
    fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  } catch (err) {
    throw new TlsifyError('config', `--resume file:${file}: cannot create a file in ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    fs.fchmodSync(fd, 0o600); // whatever the umask
    fs.writeSync(fd, content, null, 'latin1');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
  } catch (err) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
    fs.rmSync(tmp, { force: true });
    throw new TlsifyError('config', `--resume file:${file}: cannot write the session store (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  // The rename is durable only once the directory is on disk too; best effort where it cannot be opened.
  try {
    const d = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(d);
    } finally {
      fs.closeSync(d);
    }
  } catch {
    // e.g. a directory we may write but not read
  }
}
