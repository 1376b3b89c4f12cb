// daemon/conn.ts: one client of the daemon socket (protocol/daemon.md §2-4): greet, read one
// request line, run the same Session as `tlsify connect` with the socket as control channel,
// then `data` and the same socket as plaintext. Nothing here can affect another connection.
import type net from 'node:net';
import { TlsifyError, asTlsifyError, exitStatus } from '../codes.ts';
import { Session, type SessionIo } from '../commands/connect.ts';
import type { ControlChannel } from '../control/channel.ts';
import { drained, fit } from '../control/channel.ts';
import type { Fields } from '../control/frame.ts';
import type { Log } from '../log.ts';
import { PROTOCOL_VERSION, VERSION } from '../version.ts';
import { parseRequest } from './request.ts';

/** Longest request line, LF included (protocol/daemon.md §3.1), as for control commands. */
export const MAX_REQUEST_LINE = 4096;

export interface ConnContext {
  readonly id: number;
  readonly log: Log;
  readonly requestTimeoutMs: number;
  /** The CA-set cache and the RAM session cache, shared by all connections. */
  readonly shared: (ramResume: boolean) => Pick<SessionIo, 'loadPolicy' | 'sessionCache'>;
  /** A `status ID` request: resolves with the end line of connection ID. */
  readonly status: (id: number) => Promise<string>;
  /** Called once, with the end line, when this connection is over. */
  readonly ended: (endLine: string) => void;
}

/**
 * The control channel over the client's socket: event lines until `ready`, then `data`, then
 * nothing more in-band (the end goes to the status registry). Writes never throw.
 */
class SocketChannel implements ControlChannel {
  open = true;
  endLine: string | undefined;
  constructor(private readonly sock: net.Socket) {}

  send(name: string, fields: Fields = {}): void {
    const line = fit(name, fields);
    if (name === 'end') this.endLine = line;
    if (!this.open || this.sock.destroyed) return;
    this.sock.write(line);
    if (name === 'ready') {
      this.sock.write('data\n');
      this.open = false; // from here on the socket carries plaintext only
    }
  }

  onCommand(): void {}

  flush(ms: number): Promise<void> {
    return drained(this.sock, ms);
  }
}

export interface Conn {
  /** SIGTERM or shutdown: end now with code=aborted. */
  abort(why: string): void;
}

/** The daemon's log with this connection's id on every line. */
function tagged(log: Log, conn: number): Log {
  return {
    error: (f, m) => log.error({ conn, ...f }, m),
    warn: (f, m) => log.warn({ conn, ...f }, m),
    info: (f, m) => log.info({ conn, ...f }, m),
    debug: (f, m) => log.debug({ conn, ...f }, m),
  };
}

export function serveConn(sock: net.Socket, ctx: ConnContext): Conn {
  const log = tagged(ctx.log, ctx.id);
  const channel = new SocketChannel(sock);
  let session: Session | undefined;
  let finished = false;
  let watching = false;
  // A socket error (EPIPE, ECONNRESET from a killed client) is this connection's alone.
  sock.on('error', (err) => log.debug({ err: err.message }, 'client socket error'));

  const finish = (line: string): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    ctx.ended(line);
  };
  /** An end before any session: usage, timeout, or a status answer; then close. */
  const refuse = (err: TlsifyError): void => {
    channel.send('end', { code: err.code, exit: exitStatus(err.code), message: err.message });
    sock.end();
    finish(channel.endLine!);
  };

  channel.send('hello', { proto: PROTOCOL_VERSION, tlsify: VERSION, pid: process.pid, conn: ctx.id });
  const timer = setTimeout(() => refuse(new TlsifyError('timeout', `no request line within ${ctx.requestTimeoutMs / 1000} s (--request-timeout)`)), ctx.requestTimeoutMs);

  let buffered: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const nl = buffered.indexOf(0x0a);
    if (nl < 0) {
      if (buffered.length >= MAX_REQUEST_LINE) stop(), refuse(new TlsifyError('usage', `request line: expected at most ${MAX_REQUEST_LINE} bytes with its LF, got ${buffered.length} and no LF`));
      return;
    }
    stop();
    if (nl + 1 > MAX_REQUEST_LINE) return refuse(new TlsifyError('usage', `request line: expected at most ${MAX_REQUEST_LINE} bytes with its LF, got ${nl + 1}`));
    // Plaintext the client sent right behind its request waits for the pump.
    if (buffered.length > nl + 1) sock.unshift(buffered.subarray(nl + 1));
    start(buffered.subarray(0, nl).toString('utf8'));
  };
  const onEnd = (): void => refuse(new TlsifyError('usage', 'the client closed before sending a request line'));
  const stop = (): void => {
    sock.pause();
    sock.off('data', onData);
    sock.off('end', onEnd);
    clearTimeout(timer);
  };
  sock.on('data', onData);
  sock.on('end', onEnd);

  const start = (text: string): void => {
    let request;
    try {
      request = parseRequest(text);
    } catch (err) {
      return refuse(asTlsifyError(err));
    }
    if (request.kind === 'status') {
      watching = true; // answered when the watched connection ends, shutdown included
      void ctx.status(request.id).then((line) => {
        if (!sock.destroyed) sock.end(line);
        finish(line);
      });
      return;
    }
    const s = new Session(request.config, log, channel, { plaintext: () => ({ input: sock, output: sock }), ...ctx.shared(request.ramResume) });
    session = s;
    // A client that goes away before the verdict stops its handshake, nothing else.
    sock.once('close', () => s.abort('the client closing the daemon socket'));
    void s.run().then(() => {
      // The end line is written (before `data`) or recorded; the socket is closed.
      if (!sock.destroyed) sock.end();
      finish(channel.endLine ?? fit('end', { code: 'internal', exit: 70, message: 'no end line' }));
    });
  };

  return {
    abort(why: string): void {
      if (session) return session.abort(why);
      if (!finished && !watching) {
        stop();
        refuse(new TlsifyError('aborted', `stopped by ${why}`));
      }
    },
  };
}
