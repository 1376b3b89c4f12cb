// daemon/conn.ts: one client of the daemon socket (protocol/daemon.md §2-4): greet, read one
// request line, run the same Session as `tlsify connect` with the socket as control channel,
// then `data` and the same socket as plaintext. Nothing here can affect another connection.
import fs from 'node:fs';
import type net from 'node:net';
import { TlsifyError, asTlsifyError, exitStatus, type ReplyCode } from '../codes.ts';
import { Session, type SessionIo } from '../commands/connect.ts';
import type { ConnectConfig } from '../config.ts';
import type { CommandHandler, ControlChannel } from '../control/channel.ts';
import { drained, fit } from '../control/channel.ts';
import { parseLine, type Fields } from '../control/frame.ts';
import type { Log } from '../log.ts';
import { adopt, type Transport } from '../net/dial.ts';
import { PROTOCOL_VERSION, VERSION } from '../version.ts';
import { fdPass, receiveFd, resumeReading, stopReading } from './fdpass.ts';
import { parseRequestCached, type ConnectRequest, type RequestRules } from './request.ts';

/** Longest request or command line, LF included (protocol/daemon.md §3.1), as for control commands. */
export const MAX_REQUEST_LINE = 4096;

/** What a connect request runs with: its config as the daemon completes it, and the shared state. */
export interface Prepared {
  readonly config: ConnectConfig;
  readonly io: Omit<SessionIo, 'plaintext' | 'afterVerdict'>;
}

export interface ConnContext {
  readonly id: number;
  readonly log: Log;
  readonly requestTimeoutMs: number;
  readonly rules: RequestRules;
  /** The daemon's pin store, CA sets, RAM cache and identities for one request. */
  readonly prepare: (request: ConnectRequest) => Prepared;
  /** A `status ID` request: resolves with the end line of connection ID. */
  readonly status: (id: number) => Promise<string>;
  /** A `control ID` request: attach `sock` to connection ID; a reason when it cannot be. */
  readonly attach: (id: number, sock: net.Socket) => string | undefined;
  /** Called once, with the end line, when this connection is over. */
  readonly ended: (endLine: string) => void;
}

/**
 * The control channel of one connection: event lines on the client's socket until `ready`,
 * then `data`, then nothing more in-band. A companion `control ID` connection, once attached,
 * gets every later event line (the end line last) and sends commands. Writes never throw.
 */
class DaemonChannel implements ControlChannel {
  open = true;
  endLine: string | undefined;
  private inBand = true;
  private controller: net.Socket | undefined;
  private handler: CommandHandler | undefined;

  constructor(private readonly sock: net.Socket, private readonly pinWrites: boolean) {}

  send(name: string, fields: Fields = {}): void {
    const line = fit(name, fields);
    if (name === 'end') this.endLine = line;
    if (this.inBand && !this.sock.destroyed) {
      this.sock.write(line);
      if (name === 'ready') {
        this.sock.write('data\n');
        this.inBand = false; // from here on the socket carries plaintext only
      }
    }
    const c = this.controller;
    if (c && !c.destroyed) {
      c.write(line);
      if (name === 'end') c.end();
    }
  }

  onCommand(handler: CommandHandler): void {
    this.handler = handler;
  }

  /** One command line from the client (before `data`, with --hold) or its control connection. */
  command(text: string): void {
    const parsed = parseLine(text.endsWith('\r') ? text.slice(0, -1) : text);
    if (!parsed.ok) return this.reply('bad-line', parsed.reason);
    if (parsed.line.name.startsWith('hpkp') && !this.pinWrites) {
      return this.reply('not-allowed', `${parsed.line.name} writes the daemon's pin store, which this daemon does not allow: start it with --pin-writes`);
    }
    this.handler?.(parsed.line);
  }

  private reply(code: ReplyCode, message: string): void {
    this.send('error', { code, message });
  }

  /** A `control ID` connection; undefined when attached, 'gone' when this one has ended, else why not. */
  attach(sock: net.Socket): string | undefined {
    if (this.endLine !== undefined) return 'gone';
    if (this.controller && !this.controller.destroyed) return 'it already has a control connection';
    this.controller = sock;
    sock.once('close', () => {
      if (this.controller === sock) this.controller = undefined;
    });
    const stop = readLines(sock, (text) => (this.command(text), true), (err) => {
      this.send('error', { code: 'line-too-long' satisfies ReplyCode, message: err.message });
      sock.end();
    });
    sock.once('end', stop);
    return undefined;
  }

  flush(ms: number): Promise<void> {
    return Promise.all([drained(this.sock, ms), this.controller ? drained(this.controller, ms) : undefined]).then(() => {});
  }
}

/**
 * Reads LF-terminated lines off `sock` (at most MAX_REQUEST_LINE bytes each) while `onLine`
 * returns true; the bytes behind the last line read go back into the socket, which stays paused.
 * Returns a function that stops reading.
 */
function readLines(sock: net.Socket, onLine: (text: string) => boolean, onTooLong: (err: TlsifyError) => void): () => void {
  let buffered: Buffer = Buffer.alloc(0);
  let reading = true;
  const stop = (): void => {
    if (!reading) return;
    reading = false;
    sock.pause();
    sock.off('data', onData);
  };
  function onData(chunk: Buffer): void {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (reading) {
      const nl = buffered.indexOf(0x0a);
      const got = nl < 0 ? buffered.length : nl + 1;
      if (got > MAX_REQUEST_LINE || (nl < 0 && got === MAX_REQUEST_LINE)) {
        stop();
        return onTooLong(new TlsifyError('usage', `expected a line of at most ${MAX_REQUEST_LINE} bytes with its LF, got ${got}${nl < 0 ? ' and no LF' : ''}`));
      }
      if (nl < 0) return;
      const text = buffered.subarray(0, nl).toString('utf8');
      buffered = buffered.subarray(nl + 1);
      if (!onLine(text)) stop();
    }
    // Plaintext the client sent right behind its last line waits for the pump.
    if (buffered.length > 0 && !sock.destroyed) sock.unshift(buffered);
  }
  sock.on('data', onData);
  sock.resume();
  return stop;
}

export interface Conn {
  /** SIGTERM or shutdown: end now with code=aborted. */
  abort(why: string): void;
  /** A `control ID` connection for this one: undefined when attached, else why not. */
  attach(sock: net.Socket): string | undefined;
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
  const channel = new DaemonChannel(sock, ctx.rules.pinWrites);
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
    if (finished) return;
    stopRequest();
    sock.off('end', onEnd);
    channel.send('end', { code: err.code, exit: exitStatus(err.code), message: err.message });
    sock.end();
    finish(channel.endLine!);
  };
  const onEnd = (): void => refuse(new TlsifyError('usage', 'the client closed before sending a request line'));

  channel.send('hello', { proto: PROTOCOL_VERSION, tlsify: VERSION, pid: process.pid, conn: ctx.id });
  const timer = setTimeout(() => refuse(new TlsifyError('timeout', `no request line within ${ctx.requestTimeoutMs / 1000} s (--request-timeout)`)), ctx.requestTimeoutMs);
  const stopRequest = readLines(sock, (text) => {
    clearTimeout(timer);
    sock.off('end', onEnd);
    // Once this reader has stopped and put back what follows the line: start may read on.
    process.nextTick(() => start(text));
    return false;
  }, (err) => refuse(new TlsifyError('usage', `request line: ${err.message}`)));
  sock.on('end', onEnd);

  /** Until `data`: what the client sends after a --hold request is command lines (§3.3). */
  const holdCommands = (): void => {
    const stop = readLines(sock, (text) => {
      channel.command(text);
      return !/^accept\r?$/.test(text); // plaintext may follow accept's LF
    }, (err) => {
      channel.send('error', { code: 'line-too-long' satisfies ReplyCode, message: err.message });
      session?.abort('an over-long command line');
    });
    sock.once('end', stop);
  };

  const start = (text: string): void => {
    let request;
    try {
      request = parseRequestCached(text, ctx.rules);
    } catch (err) {
      return refuse(asTlsifyError(err));
    }
    if (request.kind !== 'connect') {
      // Attached, the end line comes through the other connection's channel; a connection
      // that is over answers a `control` as a `status`.
      const why = request.kind === 'control' ? ctx.attach(request.id, sock) : 'status';
      if (why !== undefined && why !== 'status' && why !== 'gone') return refuse(new TlsifyError('usage', `control: connection ${request.id} takes no control connection: ${why}`));
      watching = true; // over when the watched connection ends, shutdown included
      if (why === undefined) sock.once('close', () => finish(fit('end', { code: 'ok', exit: 0, message: 'the control connection closed' })));
      void ctx.status(request.id).then((line) => {
        if (why !== undefined && !sock.destroyed) sock.end(line);
        finish(line);
      });
      return;
    }
    if (request.sendFd) return void receive(request);
    run(request, undefined);
  };

  /** --send-fd (§3.4): `send-fd`, then the client's socket with SCM_RIGHTS, then as a dial. */
  const receive = async (request: ConnectRequest): Promise<void> => {
    const addon = fdPass();
    if (typeof addon === 'string') return refuse(new TlsifyError('usage', `--send-fd: this daemon cannot receive descriptors: the fdpass addon is ${addon}`));
    // No more tick has passed since the request line came: libuv has read nothing else yet.
    stopReading(sock);
    if (sock.readableLength > 0) {
      return refuse(new TlsifyError('usage', `--send-fd: expected nothing after the request line before the daemon's send-fd line, got ${sock.readableLength} bytes (a descriptor sent with them is lost)`));
    }
    sock.write('send-fd\n');
    let transport: Transport;
    try {
      const fd = await receiveFd(sock, ctx.requestTimeoutMs);
      try {
        transport = adopt(fd, '--send-fd');
      } catch (err) {
        fs.closeSync(fd);
        throw err;
      }
    } catch (err) {
      return refuse(asTlsifyError(err));
    }
    resumeReading(sock, false);
    run(request, transport);
  };

  const run = (request: ConnectRequest, transport: Transport | undefined): void => {
    const { config, io } = ctx.prepare(request);
    const s = new Session(config, log, channel, { ...io, transport, plaintext: () => ({ input: sock, output: sock }) });
    session = s;
    channel.onCommand((line) => s.command(line));
    if (config.holdMs !== undefined) holdCommands();
    // A client that goes away before the verdict stops its handshake, nothing else.
    sock.once('close', () => s.abort('the client closing the daemon socket'));
    void s.run().then(() => {
      transport?.socket.destroy(); // a session that ended before using it
      // The end line is written (before `data`) or recorded; the socket is closed.
      if (!sock.destroyed) sock.end();
      finish(channel.endLine ?? fit('end', { code: 'internal', exit: 70, message: 'no end line' }));
    });
  };

  return {
    abort(why: string): void {
      if (session) return session.abort(why);
      if (!finished && !watching) refuse(new TlsifyError('aborted', `stopped by ${why}`));
    },
    attach(other: net.Socket): string | undefined {
      if (!session) return watching ? 'it is itself a status or control connection' : 'it has not sent its request yet';
      return channel.attach(other);
    },
  };
}
