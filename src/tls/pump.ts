// tls/pump.ts: moves plaintext once, and only once, the peer is Verified: stdin -> TLS and
// TLS -> stdout, with backpressure both ways (stream.pipe pauses the side that is ahead),
// half-close on stdin EOF, and one reason for the end: clean, truncated, or what failed.
import type { Readable, Writable } from 'node:stream';
import type { Code } from '../codes.ts';
import type { Verified } from '../trust/verify.ts';
import type { Handshake } from './client.ts';

export interface PumpEnd {
  readonly code: Code;
  readonly message: string;
}

export interface PumpHooks {
  /** We sent close_notify (stdin EOF or the close command). */
  closeSent(reason: 'stdin-eof' | 'command'): void;
  /** Called exactly once. */
  done(end: PumpEnd): void;
}

export interface Pump {
  /** Graceful: close_notify now, keep relaying what the peer sends until it closes. */
  close(): void;
  /** Drop the connection at once. */
  abort(message: string): void;
}

export interface PumpStreams {
  readonly input: Readable;
  readonly output: Writable;
}

export function startPump(_verified: Verified, hs: Handshake, io: PumpStreams, closeOnEof: boolean, hooks: PumpHooks): Pump {
  const { socket, relay } = hs;
  const { input, output } = io;
  let finished = false;
  let closing = false;

  const finish = (code: Code, message: string): void => {
    if (finished) return;
    finished = true;
    input.unpipe(socket);
    input.destroy();
    hooks.done({ code, message });
  };
  const fail = (code: Code, message: string): void => {
    socket.destroy();
    output.destroy();
    finish(code, message);
  };

  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') fail('truncated', `the peer reset the connection without close_notify (${err.code})`);
    else fail('tls', `TLS error after the handshake: ${err.message}`);
  });
  socket.on('end', () => {
    // Decided now, before output is flushed: relay.end is final once the TLS stream has ended.
    const truncated = relay.transportEnd === 'truncated';
    output.once('finish', () =>
      truncated
        ? finish('truncated', 'the peer closed TCP without close_notify: the data may be cut short')
        : finish('ok', 'the peer sent close_notify'),
    );
  });
  socket.on('close', () => {
    if (!socket.readableEnded) fail('truncated', 'the connection closed before the peer sent close_notify');
  });
  output.on('error', (err: NodeJS.ErrnoException) => fail('local-io', `writing stdout failed: ${err.code ?? err.message} (did the parent close it?)`));
  input.on('error', (err: NodeJS.ErrnoException) => fail('local-io', `reading stdin failed: ${err.code ?? err.message}`));

  const closeWrite = (reason: 'stdin-eof' | 'command'): void => {
    if (closing || finished) return;
    closing = true;
    input.unpipe(socket);
    socket.end(() => {
      if (closeOnEof) {
        socket.unpipe(output);
        socket.destroy();
        output.end();
        output.once('finish', () => finish('ok', `sent close_notify after ${reason} (--close-on-eof)`));
      }
    });
    hooks.closeSent(reason);
  };

  // An input that ended before the verdict (a daemon client that sent EOF while held) ends now.
  if (input.readableEnded) closeWrite('stdin-eof');
  else input.on('end', () => closeWrite('stdin-eof'));
  input.pipe(socket, { end: false });
  socket.pipe(output);
  if (socket.destroyed) fail('truncated', 'the connection closed right after the handshake');

  return {
    close: () => closeWrite('command'),
    abort: (message: string) => fail('aborted', message),
  };
}
