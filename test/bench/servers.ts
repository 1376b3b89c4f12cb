// test/bench/servers.ts: the peers the harness starts and owns: server.ts (node:tls, forked with
// IPC, for per-spawn and bulk) and `openssl s_server -WWW` (the other per-spawn candidate).
// Both are tracked, so children.ts kills them on any way out.
import { fork, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { track } from './children.ts';
import type { BenchPki } from './pki.ts';
import { HOST } from './rows.ts';
import type { ParentMessage, ServerMessage } from './server.ts';

export type BulkReport = Extract<ServerMessage, { type: 'bulk' }> & { readonly at: number }; // at: performance.now() on arrival

export interface NodeServer {
  readonly ports: Extract<ServerMessage, { type: 'ready' }>['ports'];
  /** Its process, for /proc readings (CPU per connection, fds). */
  readonly pid: number;
  /** Resolves once the server has taken the new download size. */
  setDownloadSize(bytes: number): Promise<void>;
  /** The next bulk report, or undefined after `ms`. */
  nextBulk(ms: number): Promise<BulkReport | undefined>;
  /** Drop reports not yet taken (call before each transfer). */
  forget(): void;
}

export function startNodeServer(pki: BenchPki, bytes: number): Promise<NodeServer> {
  const child = track(
    fork(join(__dirname, 'server.ts'), [pki.keyFile, pki.certFile, String(bytes)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      detached: true,
    }),
  );
  let reports: BulkReport[] = [];
  let waiter: ((r: BulkReport) => void) | undefined;
  let sized: (() => void) | undefined;
  const server = (ports: NodeServer['ports']): NodeServer => ({
    ports,
    pid: child.pid!,
    setDownloadSize: (n) =>
      new Promise((done) => {
        sized = done;
        child.send({ type: 'size', bytes: n } satisfies ParentMessage);
      }),
    nextBulk: (ms) =>
      new Promise((done) => {
        const ready = reports.shift();
        if (ready) return done(ready);
        const timer = setTimeout(() => {
          waiter = undefined;
          done(undefined);
        }, ms);
        waiter = (r) => {
          clearTimeout(timer);
          waiter = undefined;
          done(r);
        };
      }),
    forget: () => {
      reports = [];
    },
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server.ts: expected it listening within 30 s, got nothing')), 30_000);
    child.once('exit', (code, signal) => reject(new Error(`server.ts: exited (${code ?? signal}) before it was ready`)));
    child.on('message', (m: ServerMessage) => {
      if (m.type === 'bulk') {
        const r = { ...m, at: performance.now() };
        if (waiter) waiter(r);
        else reports.push(r);
      } else if (m.type === 'size') {
        sized?.();
      } else {
        clearTimeout(timer);
        resolve(server(m.ports));
      }
    });
  });
}

/**
 * `openssl s_server -WWW` serving the file 'pong' from a directory of its own; resolves its port
 * and pid. It serves one connection at a time (an accept loop, no fork), so it suits sequential
 * clients only.
 */
export function startSServer(openssl: string, pki: BenchPki, dir: string): Promise<{ readonly port: number; readonly pid: number }> {
  const www = join(dir, 'www');
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, 'pong'), 'pong\n');
  const child = track(
    spawn(openssl, ['s_server', '-accept', `${HOST}:0`, '-cert', pki.certFile, '-key', pki.keyFile, '-WWW'], {
      cwd: www,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    }),
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`openssl s_server: expected an ACCEPT line within 10 s, got ${JSON.stringify(out)}`)), 10_000);
    child.stderr.on('data', () => {}); // drained for as long as it runs
    child.stdout.on('data', (chunk: Buffer) => {
      if (out.length > 4096) return; // per-connection chatter: keep draining, stop keeping
      out += chunk.toString();
      const m = /^ACCEPT .*:(\d+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), pid: child.pid! });
      }
    });
    child.once('exit', (code) => reject(new Error(`openssl s_server: exited (${code}): ${out}`)));
  });
}
