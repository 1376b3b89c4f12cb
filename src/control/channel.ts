// control/channel.ts: owns the control fd (protocol/control.md §1): writes event lines, reads
// command lines when the fd is a socket. Losing the channel never stops the data flow.
import fs from 'node:fs';
import type { ReplyCode } from '../codes.ts';
import net from 'node:net';
import { socketOnFd } from '../net/fd-socket.ts';
import { formatLine, LineSplitter, MAX_COMMAND_LINE, MAX_EVENT_LINE, parseLine, type Fields, type Line } from './frame.ts';

export type CommandHandler = (line: Line) => void;

export interface ControlChannel {
  /** Write one event line. Never throws; a dead channel drops it. */
  send(name: string, fields?: Fields): void;
  /** Receive parent commands; syntax errors are answered here and not passed on. */
  onCommand(handler: CommandHandler): void;
  /** Resolves once everything sent so far is written (or the channel died), at most `ms` later. */
  flush(ms: number): Promise<void>;
  readonly open: boolean;
}

/** A channel that drops everything: --control-fd none, or no fd 3 from the parent. */
export const noControl: ControlChannel = {
  send() {},
  onCommand() {},
  flush: () => Promise.resolve(),
  open: false,
};

/**
 * Keep a line under MAX_EVENT_LINE (protocol/control.md §2.3): drop `der` first (with
 * der-omitted=too-long), then cut the longest value (with truncated=yes) until it fits.
 */
export function fit(name: string, fields: Fields): string {
  let line = formatLine(name, fields);
  if (Buffer.byteLength(line) <= MAX_EVENT_LINE) return line;
  let f: Record<string, Fields[string]> = fields.der === undefined ? { ...fields } : { ...fields, der: undefined, 'der-omitted': 'too-long' };
  for (line = formatLine(name, f); Buffer.byteLength(line) > MAX_EVENT_LINE; line = formatLine(name, f)) {
    const [key, value] = Object.entries(f).reduce((a, b) => (String(b[1] ?? '').length > String(a[1] ?? '').length ? b : a));
    const text = String(value);
    f = { ...f, [key]: text.slice(0, Math.max(0, text.length - (Buffer.byteLength(line) - MAX_EVENT_LINE) - 64)), truncated: 'yes' };
  }
  return line;
}

export function openControl(fd: number, onLost: (err: Error) => void): ControlChannel {
  const stat = fs.fstatSync(fd);
  if (stat.isSocket() || stat.isFIFO()) return new StreamChannel(fd, stat.isSocket(), onLost);
  return new SyncChannel(fd, onLost);
}

/** Resolves once everything written to `sock` has left, it closed, or `ms` passed. */
export function drained(sock: net.Socket, ms: number): Promise<void> {
  if (sock.destroyed || sock.writableLength === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    sock.once('drain', done);
    sock.once('close', done);
  });
}

/** Sockets (both ways) and pipes (events only): asynchronous, so a slow reader never blocks us. */
class StreamChannel implements ControlChannel {
  open = true;
  private readonly sock: net.Socket;
  private handler: CommandHandler | undefined;

  constructor(fd: number, readable: boolean, private readonly onLost: (err: Error) => void) {
    // A socket Node cannot stream on fd 3 is most likely one the parent leaked, not meant for us.
    this.sock = socketOnFd(fd, { readable, writable: true }, `fd ${fd} (the control channel)`, 'usage', `; if fd ${fd} is not meant for tlsify, pass --control-fd none`);
    this.sock.on('error', (err) => this.lost(err));
    if (readable) {
      const splitter = new LineSplitter(MAX_COMMAND_LINE, (text) => this.line(text), (bytes) =>
        this.send('error', { code: 'line-too-long' satisfies ReplyCode, message: `expected at most ${MAX_COMMAND_LINE} bytes per line, got ${bytes}` }),
      );
      this.sock.on('data', (chunk: Buffer) => splitter.push(chunk));
      this.sock.on('end', () => splitter.end());
    }
    // The channel must not keep the process alive on its own.
    this.sock.unref();
  }

  send(name: string, fields: Fields = {}): void {
    if (!this.open) return;
    this.sock.write(fit(name, fields));
  }

  onCommand(handler: CommandHandler): void {
    this.handler = handler;
  }

  flush(ms: number): Promise<void> {
    return this.open ? drained(this.sock, ms) : Promise.resolve();
  }

  private line(text: string): void {
    const parsed = parseLine(text);
    if (!parsed.ok) {
      this.send('error', { code: 'bad-line' satisfies ReplyCode, message: parsed.reason });
      return;
    }
    this.handler?.(parsed.line);
  }

  private lost(err: Error): void {
    if (!this.open) return;
    this.open = false;
    this.sock.destroy();
    this.onLost(err);
  }
}

/** Regular files and terminals: plain synchronous writes, which cannot stall for long. */
class SyncChannel implements ControlChannel {
  open = true;
  constructor(private readonly fd: number, private readonly onLost: (err: Error) => void) {}

  send(name: string, fields: Fields = {}): void {
    if (!this.open) return;
    try {
      fs.writeSync(this.fd, fit(name, fields));
    } catch (err) {
      this.open = false;
      this.onLost(err as Error);
    }
  }

  onCommand(): void {}
  flush(): Promise<void> {
    return Promise.resolve();
  }
}
