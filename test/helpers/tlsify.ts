// test/helpers/tlsify.ts: runs the real bin/tlsify as a child with real fds, and real peers.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { Readable, Writable } from 'node:stream';

export const TLSIFY = path.resolve(__dirname, '../../bin/tlsify');

export interface ControlLine {
  readonly name: string;
  readonly fields: Record<string, string>;
  readonly raw: string;
}

export interface Run {
  readonly child: ChildProcess;
  readonly stdin: Writable;
  /** Every control line so far. */
  readonly events: ControlLine[];
  /** Resolves with the first control line named `name`. */
  waitFor(name: string): Promise<ControlLine>;
  /** Send a raw command line on fd 3 (a socketpair). */
  command(line: string): void;
  readonly done: Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: string; events: ControlLine[] }>;
}

export function parseControl(raw: string): ControlLine {
  const [name, ...tokens] = raw.split(' ');
  const fields: Record<string, string> = {};
  for (const t of tokens) {
    const eq = t.indexOf('=');
    fields[t.slice(0, eq)] = decodeURIComponent(t.slice(eq + 1));
  }
  return { name: name!, fields, raw };
}

export interface Waiter {
  readonly name: string;
  readonly resolve: (line: ControlLine) => void;
}

/** Read control lines from `socket` into `events`, waking the waiters for each name. */
export function collectControl(socket: net.Socket, events: ControlLine[], waiters: Waiter[]): void {
  let partial = '';
  socket.on('data', (c: Buffer) => {
    partial += c.toString('utf8');
    let lf: number;
    while ((lf = partial.indexOf('\n')) >= 0) {
      const line = parseControl(partial.slice(0, lf));
      partial = partial.slice(lf + 1);
      events.push(line);
      for (const w of waiters.filter((x) => x.name === line.name)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** fd 3 as a socketpair (default), or none at all. */
  control?: boolean;
  /** Extra stdio entries after fd 3, e.g. a socket for --net-fd 4. */
  extraFds?: SpawnOptions['stdio'];
  /** Do not collect stdout (the test reads it itself). */
  rawStdout?: boolean;
}

let stateHome: string | undefined;
/**
 * A private XDG_STATE_HOME for every tlsify this test process runs, so the default pin store
 * is a fresh one and never a developer's own (protocol/pin-store.md §2).
 */
export function testStateHome(): string {
  if (!stateHome) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-state-'));
    stateHome = dir;
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return stateHome;
}

export function runTlsify(args: readonly string[], opts: RunOptions = {}): Run {
  const control = opts.control ?? true;
  const stdio: SpawnOptions['stdio'] = ['pipe', 'pipe', 'pipe', control ? 'pipe' : 'ignore', ...((opts.extraFds as unknown[]) ?? [])] as SpawnOptions['stdio'];
  const env = { ...(opts.env ?? process.env), XDG_STATE_HOME: opts.env?.XDG_STATE_HOME ?? testStateHome() };
  const child = spawn(TLSIFY, args, { stdio, env });
  const events: ControlLine[] = [];
  const waiters: { name: string; resolve: (l: ControlLine) => void }[] = [];
  const stdout: Buffer[] = [];
  let stderr = '';
  if (!opts.rawStdout) child.stdout!.on('data', (c: Buffer) => stdout.push(c));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const ctl = control ? (child.stdio[3] as net.Socket) : undefined;
  if (ctl) collectControl(ctl, events, waiters);
  ctl?.on('error', () => {});
  child.stdin!.on('error', () => {});
  const done = new Promise<Awaited<Run['done']>>((resolve) => {
    child.on('close', (status, signal) => resolve({ status, signal, stdout: Buffer.concat(stdout), stderr, events }));
  });
  return {
    child,
    stdin: child.stdin!,
    events,
    waitFor: (name) => {
      const seen = events.find((e) => e.name === name);
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ name, resolve }));
    },
    command: (line) => ctl!.write(line + '\n'),
    done,
  };
}

/** Run to completion with `input` on stdin. */
export async function runOnce(args: readonly string[], input: string | Buffer = '', opts: RunOptions = {}) {
  const run = runTlsify(args, opts);
  run.stdin.end(input);
  return run.done;
}

export interface Peer {
  readonly port: number;
  /** The node:tls or node:net server, for peers that need more events (e.g. 'OCSPRequest'). */
  readonly server: net.Server;
  /** Plaintext bytes the server application received, over all connections. */
  readonly received: () => number;
  close(): Promise<void>;
}

/** A node:tls server on loopback; `onConnection` plays the peer. Closed by `close()`. */
export async function tlsPeer(
  options: tls.TlsOptions,
  onConnection: (socket: tls.TLSSocket, received: (n: number) => void) => void,
  host = '127.0.0.1',
): Promise<Peer> {
  let received = 0;
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(options, (socket) => {
    socket.on('error', () => {});
    onConnection(socket, (n) => (received += n));
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, host, r));
  return {
    port: (server.address() as net.AddressInfo).port,
    server,
    received: () => received,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A plain TCP server on loopback, for peers that do not speak TLS (or not yet). */
export async function tcpPeer(onConnection: (socket: net.Socket) => void): Promise<Peer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onConnection(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    server,
    received: () => 0,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Echo every line back upper-cased; end (with close_notify) when the client ends. */
export function echoUpper(socket: tls.TLSSocket, received: (n: number) => void): void {
  socket.on('data', (c: Buffer) => {
    received(c.length);
    socket.write(c.toString().toUpperCase());
  });
  socket.on('end', () => socket.end());
}

export function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => stream.on('end', () => resolve(Buffer.concat(chunks))));
}

/** A loopback port that was free a moment ago, for servers that take a port number (openssl s_server). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}
