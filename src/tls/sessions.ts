// tls/sessions.ts: opt-in session resumption (RFC 5077 tickets and session IDs for TLS 1.2,
// RFC 8446 §4.6.1 tickets for TLS 1.3), bound to what made the first connection trustworthy.
// A blob = node:tls's session + the binding + the validated path it was issued under. node:tls
// gives no certificate on a resumed connection (facts §5.2), so the path in the blob is checked
// again, against the policy in force, before any plaintext moves. This module: the --resume
// modes, the privacy note, when a blob may be offered, and the ticket gate. The binding is in
// tls/session-binding.ts, the blob codec in tls/session-blob.ts; all pure, except the file
// store (tls/session-store.ts).
import { TlsifyError } from '../codes.ts';
import { CertError, parseCertificate } from '../trust/cert.ts';
import type { PeerEvidence, Verified } from '../trust/verify.ts';
import { BINDING_PARTS, type Binding, type BindingPart } from './session-binding.ts';
import { MAX_BLOB_AGE_MS, type SessionBlob } from './session-blob.ts';

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
