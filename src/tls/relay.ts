// tls/relay.ts: a Duplex that carries TLS records between node:tls and a net.Socket we own, so
// we can tell a close_notify from a bare TCP EOF. node:tls emits the same 'end' for both
// (facts §5.7); openssl s_client calls the second "unexpected eof while reading".
import { Duplex } from 'node:stream';
import type net from 'node:net';
import type tls from 'node:tls';

export type TransportEnd = 'open' | 'after-close-notify' | 'truncated';

export class Relay extends Duplex {
  private tlsSocket: tls.TLSSocket | undefined;
  /** How the transport's EOF related to the TLS stream's own end. */
  transportEnd: TransportEnd = 'open';

  constructor(private readonly raw: net.Socket) {
    // autoDestroy off: node:tls destroys the TLS socket when its underlying stream closes, which
    // on newer Node drops plaintext still buffered for a slow reader. Whoever owns the session
    // destroys the relay when it is done with it.
    super({ allowHalfOpen: true, autoDestroy: false, readableHighWaterMark: 64 * 1024 });
    raw.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) raw.pause();
    });
    raw.on('end', () => this.push(null));
    raw.on('error', (err) => this.destroy(err));
    // Registered before node:tls attaches its own 'end' listener, so this runs first: every
    // record before the EOF has been fed through OpenSSL synchronously, but the EOF has not.
    // If OpenSSL saw close_notify, the TLS stream has already pushed its own end.
    this.once('end', () => {
      this.transportEnd = this.tlsSocket && tlsStreamEnded(this.tlsSocket) ? 'after-close-notify' : 'truncated';
    });
  }

  /** The TLS socket layered on this relay, whose end we compare against. */
  attach(tlsSocket: tls.TLSSocket): void {
    this.tlsSocket = tlsSocket;
  }

  override _read(): void {
    this.raw.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.raw.write(chunk)) done();
    else this.raw.once('drain', () => done());
  }

  override _final(done: (err?: Error | null) => void): void {
    this.raw.end(() => done());
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.raw.destroy();
    done(err);
  }
}

/**
 * Whether the TLS stream has received its end of data (close_notify), even if 'end' has not
 * been emitted yet because the reader is slow. Node has no public flag for this state: `ended`
 * is set synchronously by push(null) when OpenSSL returns SSL_ERROR_ZERO_RETURN.
 */
function tlsStreamEnded(socket: tls.TLSSocket): boolean {
  const state = (socket as unknown as { _readableState?: { ended?: boolean } })._readableState;
  return state?.ended === true;
}
