// tls/client.ts: the client handshake over our Relay, with tlsify's options and a timeout.
// node:tls verifies against our anchors but decides nothing: rejectUnauthorized is false and
// the verdict is trust/verify.ts's, taken before any byte is read or written (facts §5.6).
import tls from 'node:tls';
import { TlsifyError } from '../codes.ts';
import type { PeerEvidence } from '../trust/verify.ts';
import type { Transport } from '../net/dial.ts';
import type { ClientCertFacts } from './client-cert-status.ts';
import { Relay } from './relay.ts';

export interface ClientOptions {
  readonly sni: string | undefined;
  readonly alpn: readonly string[];
  readonly minTls: 'TLSv1.2' | 'TLSv1.3';
  readonly timeoutMs: number;
  /** The anchors for OpenSSL's own check; undefined: its default store (set up by env.ts). */
  readonly ca: readonly string[] | undefined;
  /** Ask the server to staple an OCSP response (status_request). */
  readonly requestOcsp: boolean;
  /** tlsCredentials(identities) from tls/identity.ts: key/cert arrays and pfx. */
  readonly credentials: Pick<tls.ConnectionOptions, 'key' | 'cert' | 'pfx'>;
  /** The session to offer (SessionBlob.ticket), only once checkBlob let it through. */
  readonly session: Buffer | undefined;
  /** TicketGate.offer; undefined with --resume off, so there is no 'session' listener at all. */
  readonly onSession: ((ticket: Buffer) => void) | undefined;
  /** KeylogSink.write. */
  readonly onKeylog: ((line: Buffer) => void) | undefined;
  /**
   * A context made once for many connections (the daemon's ContextCache) from contextOptions()
   * of the same ca, minTls and credentials; then those three are not used here.
   */
  readonly secureContext?: tls.SecureContext | undefined;
}

/** What goes into a SecureContext, as opposed to each connection: anchors, minimum version, client identities. */
export function contextOptions(ca: readonly string[] | undefined, minTls: ClientOptions['minTls'], credentials: ClientOptions['credentials']): tls.SecureContextOptions {
  return { ...(ca !== undefined ? { ca: [...ca] } : {}), minVersion: minTls, ...credentials };
}

export interface Handshake {
  readonly socket: tls.TLSSocket;
  readonly relay: Relay;
  readonly version: string;
  readonly cipher: string;
  readonly alpn: string | undefined;
  readonly resumed: boolean;
  readonly evidence: PeerEvidence;
}

/** The client's side adds what it can tell about its own certificate (tls/client-cert-status.ts). */
export interface ClientHandshake extends Handshake {
  readonly clientCert: ClientCertFacts;
}

export function handshake(transport: Transport, opts: ClientOptions): Promise<ClientHandshake> {
  const relay = new Relay(transport.socket);
  // node:tls builds the peer's chain as objects (getPeerCertificate(true)) to call this, when
  // OpenSSL's check passed on a new session, and ignores the answer: keep it for peerChain.
  let given: tls.DetailedPeerCertificate | undefined;
  const socket = tls.connect({
    socket: relay,
    ...(opts.sni !== undefined ? { servername: opts.sni } : {}),
    ...(opts.secureContext ? { secureContext: opts.secureContext } : contextOptions(opts.ca, opts.minTls, opts.credentials)),
    // Explicit, so NODE_TLS_REJECT_UNAUTHORIZED cannot change it; the verdict is ours.
    rejectUnauthorized: false,
    checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => void (given = cert as tls.DetailedPeerCertificate),
    ALPNProtocols: opts.alpn.length > 0 ? [...opts.alpn] : undefined,
    ...(opts.session ? { session: opts.session } : {}),
    // In node:tls since v0.11 but missing from @types/node's ConnectionOptions.
    ...({ requestOCSP: opts.requestOcsp } as object),
  });
  relay.attach(socket);
  // Both before any record arrives: secrets are logged from the ServerHello on, and 'session'
  // fires after 'secureConnect', once per TLS 1.3 NewSessionTicket (facts §5.5).
  if (opts.onKeylog) socket.on('keylog', opts.onKeylog);
  if (opts.onSession) socket.on('session', opts.onSession);
  // Emitted before 'secureConnect', with null when nothing was stapled (facts §5.5).
  let staple: Buffer | null | undefined;
  if (opts.requestOcsp) socket.once('OCSPResponse', (response: Buffer | null) => (staple = response ?? null));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TlsifyError('timeout', `the TLS handshake took more than ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(handshakeError(err as NodeJS.ErrnoException));
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      const facts = sessionFacts(socket);
      resolve({
        ...facts,
        relay,
        evidence: {
          chain: peerChain(socket, given),
          openssl: opensslVerdict(socket),
          ocspStaple: opts.requestOcsp ? (staple ?? null) : undefined,
        },
        // A client learns signature algorithms only from a CertificateRequest (tls/client-cert-status.ts).
        clientCert: {
          resumed: socket.isSessionReused(),
          version: facts.version,
          sharedSigalgs: socket.getSharedSigalgs(),
          local: localCertificate(socket),
        },
      });
    });
  });
}

/** What both sides report of an established session (the handshake control line). */
export function sessionFacts(socket: tls.TLSSocket) {
  const cipher = socket.getCipher();
  return {
    socket,
    version: socket.getProtocol() ?? cipher.version,
    cipher: cipher.standardName ?? cipher.name,
    opensslCipher: cipher.name,
    alpn: socket.alpnProtocol || undefined,
    resumed: socket.isSessionReused(),
  };
}

/** OpenSSL's own verdict on the peer's chain, as node:tls exposes it. */
export function opensslVerdict(socket: tls.TLSSocket): { authorized: boolean; error: string | undefined } {
  return { authorized: socket.authorized, error: socket.authorizationError ? String(socket.authorizationError) : undefined };
}

/**
 * The certificates node:tls links from the leaf: the ones the peer sent plus the store's root,
 * ending in a self-loop (facts §5.2). Only a pool for path building; never reported as such.
 */
export function peerChain(socket: tls.TLSSocket, given?: tls.DetailedPeerCertificate): Buffer[] {
  const out: Buffer[] = [];
  const seen = new Set<string>();
  let cert: tls.DetailedPeerCertificate | undefined = given ?? socket.getPeerCertificate(true);
  while (cert && cert.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    out.push(cert.raw);
    cert = cert.issuerCertificate;
  }
  return out;
}

/** OpenSSL's current client certificate (sent or not; clientCertStatus decides), as DER. */
function localCertificate(socket: tls.TLSSocket): Buffer | undefined {
  const cert = socket.getCertificate();
  return cert && 'raw' in cert ? cert.raw : undefined;
}

function handshakeError(err: NodeJS.ErrnoException): TlsifyError {
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
    return new TlsifyError('tls', `the peer closed the connection during the handshake (${err.code})`, { cause: err });
  }
  const alert = /alert (.*)$/i.exec(err.message);
  const detail = alert ? `the peer sent the alert '${alert[1]}'` : err.message;
  return new TlsifyError('tls', `TLS handshake failed: ${detail}${err.code ? ` (${err.code})` : ''}`, { cause: err });
}
