// tls/server.ts: the server handshake over our Relay, with credentials read once at start:
// --cert/--key pairs and PKCS#12 (loaded by identity.ts, as for connect), SNI certificates,
// ALPN, an OCSP staple, session tickets.
// node:tls asks for the client's certificate but decides nothing (rejectUnauthorized false):
// the verdict is trust/verify.ts's, taken before any plaintext moves (as in client.ts).
import crypto from 'node:crypto';
import fs from 'node:fs';
import tls from 'node:tls';
import { domainToASCII } from 'node:url';
import { TlsifyError } from '../codes.ts';
import type { ServerCredential, SniCert } from '../config.ts';
import type { Transport } from '../net/dial.ts';
import { readFd, readPrivateFile, type SecretOptions } from '../secret.ts';
import { parseCertificate, type Cert } from '../trust/cert.ts';
import { pemBlocks } from '../trust/pem.ts';
import { checkOcspStaple } from '../trust/ocsp.ts';
import { opensslVerdict, peerChain, sessionFacts, type Handshake } from './client.ts';
import { identityFromParts, identityFromPkcs12, tlsCredentials, type ClientIdentity } from './identity.ts';
import { Relay } from './relay.ts';

export interface ServerOptions {
  readonly credentials: readonly ServerCredential[];
  readonly pkcs12: readonly string[];
  /** The --pass secret, already read (an fd can be read only once); it opens every key. */
  readonly passphrase: Buffer | undefined;
  readonly sni: readonly SniCert[];
  readonly alpn: readonly string[];
  readonly minTls: 'TLSv1.2' | 'TLSv1.3';
  readonly ocspStaple: string | undefined;
  /** The client CA set as PEMs (OpenSSL's check, and the CertificateRequest's CA list); undefined: no client certificate is asked for. */
  readonly clientCa: readonly string[] | undefined;
  readonly ticketKeyFile: string | undefined;
  /** Sessions resume only under the same context: tlsify uses a hash of its command line. */
  readonly sessionIdContext: string;
  readonly handshakeTimeoutMs: number;
  /** For keys given as fd:N (secret.ts readFd): fds with another job. */
  readonly secretOptions: SecretOptions;
}

export interface ServerHandshake extends Handshake {
  /** The name the client asked for (SNI), if any. */
  readonly sni: string | undefined;
  /** OpenSSL's name for the cipher, as UCSPI tools export it (SSL_CIPHER). */
  readonly opensslCipher: string;
}

/** A tls.Server that never listens: accept.ts hands it one connection through 'connection'. */
export interface PreparedServer {
  readonly server: tls.Server;
  readonly requestCert: boolean;
}

type Warn = (message: string, fields: Record<string, unknown>) => void;

export function prepareServer(opts: ServerOptions, now: Date, warn: Warn): PreparedServer {
  const load = (cert: string, key: string): Credential => loadPair(cert, key, opts, now, warn);
  const ids = [
    ...opts.credentials.map((c) => load(c.cert, c.key)),
    ...opts.pkcs12.map((file) => identityFromPkcs12(readKey('--pkcs12', file, opts.secretOptions), opts.passphrase, file, now)),
  ];
  oneKeyPerType(ids);
  const ticketKeys = opts.ticketKeyFile === undefined ? undefined : readTicketKey(opts.ticketKeyFile);
  const common: tls.SecureContextOptions = {
    minVersion: opts.minTls,
    ...(opts.clientCa ? { ca: [...opts.clientCa] } : {}),
    // No client renegotiation: it could swap the client certificate after the verdict.
    // Without --tickets, no tickets either (TLS 1.3 then issues stateful ones that no cache
    // holds, so nothing resumes); node:tls keeps no server session cache of its own.
    secureOptions: crypto.constants.SSL_OP_NO_RENEGOTIATION | (ticketKeys ? 0 : crypto.constants.SSL_OP_NO_TICKET),
    sessionIdContext: opts.sessionIdContext,
    ...(ticketKeys ? { ticketKeys } : {}),
  };
  const sniContexts = sniTable(opts.sni, common, load);
  const server = tls.createServer({
    ...common,
    ...tlsCredentials(ids),
    requestCert: opts.clientCa !== undefined,
    rejectUnauthorized: false,
    // node:tls's own timer is idle time; ours (acceptTls) is absolute and fires first.
    handshakeTimeout: opts.handshakeTimeoutMs,
    ALPNProtocols: opts.alpn.length > 0 ? [...opts.alpn] : undefined,
    ...(sniContexts.size > 0 ? { SNICallback: (name: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => cb(null, lookupSni(sniContexts, name)) } : {}),
  });
  if (opts.ocspStaple !== undefined) stapleFrom(server, opts.ocspStaple, ids, now, warn);
  return { server, requestCert: opts.clientCa !== undefined };
}

/** Run the server handshake on `transport`; the socket is ours once 'secureConnection' comes. */
export function acceptTls(prepared: PreparedServer, transport: Transport, timeoutMs: number): Promise<ServerHandshake> {
  const { server } = prepared;
  const relay = new Relay(transport.socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      relay.destroy();
      reject(new TlsifyError('timeout', `the client did not finish the TLS handshake within ${timeoutMs} ms`));
    }, timeoutMs);
    server.once('tlsClientError', (err: NodeJS.ErrnoException & { reason?: string }) => {
      clearTimeout(timer);
      relay.destroy();
      reject(handshakeError(err));
    });
    // Emitted synchronously while OpenSSL consumes the client's Finished, so the relay is
    // attached before it can see the transport's EOF (relay.ts decides truncation there).
    server.once('secureConnection', (socket: tls.TLSSocket) => {
      clearTimeout(timer);
      relay.attach(socket);
      resolve({
        ...sessionFacts(socket),
        relay,
        sni: typeof socket.servername === 'string' && socket.servername !== '' ? socket.servername : undefined,
        evidence: {
          chain: prepared.requestCert ? peerChain(socket) : [],
          openssl: opensslVerdict(socket),
          ocspStaple: undefined,
        },
      });
    });
    // node:tls documents this for injecting any Duplex into a tls.Server (tls 'connection' event).
    server.emit('connection', relay);
  });
}

function handshakeError(err: NodeJS.ErrnoException & { reason?: string }): TlsifyError {
  if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return new TlsifyError('timeout', 'the client did not finish the TLS handshake in time', { cause: err });
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
    return new TlsifyError('tls', `the client closed the connection during the handshake (${err.code})`, { cause: err });
  }
  // OpenSSL errors carry a short `reason` ('wrong version number', 'no shared cipher').
  const detail = err.reason ?? err.message.split('\n')[0];
  return new TlsifyError('tls', `TLS handshake with the client failed: ${detail}${err.code ? ` (${err.code})` : ''}`, { cause: err });
}

/** A certificate and key for node:tls, loaded and checked by identity.ts (same flags as connect's). */
type Credential = ClientIdentity;

function loadPair(cert: string, key: string, opts: ServerOptions, now: Date, warn: Warn): Credential {
  const { identity } = identityFromParts(read('--cert', cert), readKey('--key', key, opts.secretOptions), opts.passphrase, { cert, key }, now);
  // identity.ts's warnings are a client's (EKU clientAuth); a server's concern is its dates.
  const leaf = chainOf(identity)[0]!;
  if (leaf.notAfter < now || leaf.notBefore > now) {
    warn('the server certificate is outside its validity period: clients will refuse it', { file: cert, notBefore: leaf.notBefore, notAfter: leaf.notAfter });
  }
  return identity;
}

/** A key or PKCS#12 file (private: its permissions are checked), or fd:N from the parent. */
function readKey(flag: '--key' | '--pkcs12', spec: string, opts: SecretOptions): Buffer {
  if (spec.startsWith('fd:')) return readFd(spec.slice(3), flag, opts, MAX_KEY_FILE);
  return readPrivateFile(spec, `${flag} ${spec}`, MAX_KEY_FILE);
}

const MAX_KEY_FILE = 1024 * 1024;

/** The certificates of a PEM credential, leaf first; none for PKCS#12, which node:tls opens itself. */
function chainOf(id: Credential): Cert[] {
  return id.material.kind === 'pem' ? pemBlocks(id.material.cert).map((b) => parseCertificate(b.der)) : [];
}

/** OpenSSL keeps one certificate per key type and serves the one the client's algorithms fit. */
function oneKeyPerType(ids: readonly Credential[]): void {
  for (const [i, id] of ids.entries()) {
    const before = ids.slice(0, i).find((o) => o.keyType === id.keyType);
    if (before) throw config(`expected one server certificate per key type (e.g. one RSA and one ECDSA), got two ${id.keyType} ones: ${before.source}, and ${id.source} (use --sni for certificates chosen by name)`);
  }
}

/** --tickets file:KEYFILE: the 48 bytes node:tls wants (16 name, 16 HMAC, 16 AES; tls ticketKeys). */
function readTicketKey(file: string): Buffer {
  const where = `--tickets file:${file}`;
  // As private as a key file (secret.ts): whoever reads it can decrypt resumed sessions.
  const key = readPrivateFile(file, where, 4096);
  if (key.length !== 48) throw config(`${where}: expected exactly 48 bytes (make one with 'openssl rand 48 > ${file}'), got ${key.length}`);
  return key;
}

/** --sni NAME=CERT,KEY: one SecureContext per name; a name given twice holds two key types. */
function sniTable(sni: ServerOptions['sni'], common: tls.SecureContextOptions, load: (cert: string, key: string) => Credential): Map<string, tls.SecureContext> {
  const byName = new Map<string, Credential[]>();
  for (const s of sni) {
    // Clients send A-labels (RFC 6066 §3); a U-label on the command line must match them.
    const name = s.name.startsWith('*.') ? `*.${domainToASCII(s.name.slice(2))}` : domainToASCII(s.name);
    byName.set(name, [...(byName.get(name) ?? []), load(s.cert, s.key)]);
  }
  const table = new Map<string, tls.SecureContext>();
  for (const [name, ids] of byName) {
    oneKeyPerType(ids);
    table.set(name, tls.createSecureContext({ ...common, ...tlsCredentials(ids) }));
  }
  return table;
}

/** An exact name first, then a wildcard covering exactly one left-most label (RFC 9525 §6.3). */
function lookupSni(table: ReadonlyMap<string, tls.SecureContext>, servername: string): tls.SecureContext | undefined {
  const name = servername.toLowerCase().replace(/\.$/, '');
  const dot = name.indexOf('.');
  return table.get(name) ?? (dot > 0 ? table.get(`*${name.slice(dot)}`) : undefined);
}

/**
 * --ocsp-staple FILE, read once and checked against the certificate it is for. node:tls asks
 * for a staple through the server's 'OCSPRequest' event, naming the certificate it serves; the
 * staple goes out only with that one (not with --sni certificates).
 */
function stapleFrom(server: tls.Server, file: string, ids: readonly Credential[], now: Date, warn: Warn): void {
  const [leaf, issuer] = ids.length === 1 ? chainOf(ids[0]!) : [];
  if (!leaf) {
    throw new TlsifyError('usage', '--ocsp-staple: expected exactly one --cert/--key pair to staple for (an OCSP response names one certificate, and node:tls does not tell which of several it serves)');
  }
  const der = read('--ocsp-staple', file);
  if (issuer) {
    const r = checkOcspStaple(der, leaf, issuer, now);
    if (r.status === 'unusable' && /stale|not yet valid/.test(r.reason)) {
      warn('not stapling an out-of-date OCSP response', { file, reason: r.reason });
      return;
    }
    if (r.status === 'unusable') throw config(`--ocsp-staple ${file}: expected a DER OCSP response for '${leaf.subject}': ${r.reason}`);
  }
  server.on('OCSPRequest', (certificate: Buffer, _issuer: Buffer, done: (err: Error | null, response?: Buffer) => void) => {
    done(null, certificate.equals(leaf.der) ? der : undefined);
  });
}

/** Read a public file the user named (a certificate, a staple). */
function read(flag: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw config(`${flag} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function config(message: string): TlsifyError {
  return new TlsifyError('config', message);
}
