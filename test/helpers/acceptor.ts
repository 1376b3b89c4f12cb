// test/helpers/acceptor.ts: a tiny inetd for tests. A loopback net.Server that runs the real
// `bin/tlsify accept ARGS` for each connection, with the accepted socket as fds 0 and 1 (inetd
// style) or, with `netFd`, as that fd of a parent that keeps stdin/stdout for plaintext.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { collectControl, TLSIFY, type ControlLine } from './tlsify.ts';

export interface AcceptRun {
  readonly child: ChildProcess;
  /** tlsify's stdin and stdout: plaintext with --net-fd; unused in inetd style. */
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly events: ControlLine[];
  waitFor(name: string): Promise<ControlLine>;
  readonly done: Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string; events: ControlLine[] }>;
}

export interface Acceptor {
  readonly port: number;
  /** One run per accepted connection, in order. */
  next(): Promise<AcceptRun>;
  close(): Promise<void>;
}

export interface AcceptorOptions {
  /** Pass the socket as this fd (with --net-fd N in args); default: fds 0 and 1. */
  netFd?: number;
  /** fd 3 as a socketpair for control events (default true). */
  control?: boolean;
  /** Also put the connection on fd 2 (inetd does) or fd 3 (systemd Accept=yes passes it there). */
  alsoOn?: readonly (2 | 3)[];
  env?: NodeJS.ProcessEnv;
}

export async function acceptor(args: readonly string[], opts: AcceptorOptions = {}): Promise<Acceptor> {
  const runs: AcceptRun[] = [];
  const waiting: ((run: AcceptRun) => void)[] = [];
  const children = new Set<ChildProcess>();
  // pauseOnConnect: this process must not read a byte of what is meant for tlsify.
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    const run = start(socket, args, opts);
    children.add(run.child);
    run.child.on('exit', () => children.delete(run.child));
    // The child holds its own copy of the socket now.
    socket.destroy();
    const w = waiting.shift();
    if (w) w(run);
    else runs.push(run);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    next: () => {
      const run = runs.shift();
      return run ? Promise.resolve(run) : new Promise((resolve) => waiting.push(resolve));
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const child of children) child.kill('SIGKILL');
        server.close(() => resolve());
      }),
  };
}

function start(socket: net.Socket, args: readonly string[], opts: AcceptorOptions): AcceptRun {
  const onSocket = new Set(opts.alsoOn ?? []);
  const control = (opts.control ?? true) && !onSocket.has(3);
  const stderrFd = onSocket.has(2) ? socket : 'pipe';
  const fd3 = onSocket.has(3) ? socket : control ? 'pipe' : 'ignore';
  const stdio = opts.netFd === undefined
    ? [socket, socket, stderrFd, fd3]
    : ['pipe', 'pipe', stderrFd, fd3, ...Array(Math.max(0, opts.netFd - 4)).fill('ignore'), socket];
  const child = spawn(TLSIFY, args, { stdio: stdio as never, env: opts.env ?? process.env });
  const events: ControlLine[] = [];
  const waiters: { name: string; resolve: (l: ControlLine) => void }[] = [];
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  if (opts.netFd !== undefined) child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stdin?.on('error', () => {});
  const ctlSocket = control ? (child.stdio[3] as net.Socket) : undefined;
  ctlSocket?.on('error', () => {});
  if (ctlSocket) collectControl(ctlSocket, events, waiters);
  const done = new Promise<Awaited<AcceptRun['done']>>((resolve) => {
    child.on('close', (status, signal) => resolve({ status, signal, stderr, stdout, events }));
  });
  return {
    child,
    stdin: opts.netFd === undefined ? null : child.stdin,
    stdout: opts.netFd === undefined ? null : child.stdout,
    events,
    waitFor: (name) => {
      const seen = events.find((e) => e.name === name);
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ name, resolve }));
    },
    done,
  };
}

/**
 * `openssl s_client` against 127.0.0.1:port: writes `input`, keeps reading until the server
 * closes (-ign_eof), and returns everything it printed (session summary included).
 */
export function sClient(port: number, args: readonly string[], input = ''): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-ign_eof', ...args]);
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.stdin.on('error', () => {});
    p.stdin.end(input);
    p.on('close', (status) => resolve({ status, out }));
  });
}

/** The lines a PROGRAM running test/fixtures/tls-env-echo.sh printed: NAME=VALUE ('-' when unset). */
export function envLines(out: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of out.matchAll(/^((?:SSL|TLSIFY)_[A-Z_]+)=(.*)$/gm)) env[m[1]!] = m[2]!;
  return env;
}
