// test/bench/daemon.ts: one `tlsify daemon` (protocol/daemon.md) for the issue-9 rows: start it
// on a unix socket in the scratch dir and wait for `listening`, a lean client in this process
// (one write: request line + plaintext; read events up to `data`; then plaintext), the same
// exchange as a plain node:tls loop for the floor, and the bulk row's client.
import { spawn } from 'node:child_process';
import { createReadStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { track, type RunResult, type RunSpec } from './children.ts';
import type { NodeBin } from './facts.ts';
import type { BenchPki } from './pki.ts';
import { cpuMs, vmRssKiB } from './proc.ts';
import { HOST, NAME, type Row } from './rows.ts';

/** The CA set the daemon's clients name: `--ca FILE` is refused on the socket (daemon.md §3.2). */
const CA_SET = 'bench';

export interface Daemon {
  readonly pid: number;
  readonly socket: string;
  readonly node: NodeBin;
  /** `connect` with the same verification as the spawned rows' `--ca CA --servername localhost`. */
  requestLine(port: number): string;
  stop(): Promise<void>;
}

/**
 * `tlsify daemon --listen DIR/daemon.sock [--max-conns N] --exit-with-parent`, with
 * XDG_CONFIG_HOME in `dir` holding ca-sets/bench.pem (the bench root) and an empty state dir.
 */
export function startDaemon(tlsify: string, node: NodeBin, pki: BenchPki, dir: string, maxConns?: number): Promise<Daemon> {
  mkdirSync(dir, { recursive: true, mode: 0o700 }); // the daemon refuses a directory others can write
  const config = join(dir, 'config');
  mkdirSync(join(config, 'tlsify', 'ca-sets'), { recursive: true, mode: 0o700 });
  writeFileSync(join(config, 'tlsify', 'ca-sets', `${CA_SET}.pem`), readFileSync(pki.caFile), { mode: 0o600 });
  mkdirSync(join(dir, 'state'), { recursive: true, mode: 0o700 });
  const socket = join(dir, 'daemon.sock');
  const env = { ...node.env, XDG_CONFIG_HOME: config, XDG_STATE_HOME: join(dir, 'state') };
  // bin/tlsify is sh that execs node: the pid is the daemon's own, for /proc.
  const child = track(
    spawn(tlsify, ['daemon', '--listen', socket, ...(maxConns ? ['--max-conns', String(maxConns)] : []), '--exit-with-parent'], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true }),
  );
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => void (err.length < 8192 && (err += chunk.toString())));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const daemon: Daemon = {
    pid: child.pid!,
    socket,
    node,
    requestLine: (port) => `connect ${HOST}:${port} --servername ${NAME} --ca-set @${CA_SET}\n`,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`tlsify daemon: expected 'listening' within 10 s, got ${JSON.stringify(out + err)}`)), 10_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (!out.includes('listening ')) return;
      clearTimeout(timer);
      resolve(daemon);
    });
    child.once('exit', (code, signal) => reject(new Error(`tlsify daemon: exited (${code ?? signal}) before listening: ${err.trim()}`)));
  });
}

/** One connection's times from the first call: to the first plaintext byte, and to the end. */
export interface ConnTiming {
  readonly firstMs: number;
  readonly ms: number;
}

const REPLY_BODY = 'pong\n';
/** One connection gives up after this (a spawned row's limit in rounds.ts is the same). */
const CONN_TIMEOUT_MS = 15_000;

/** Destroy `sock` with a timeout error after CONN_TIMEOUT_MS unless it closes first. */
function deadline(sock: net.Socket): void {
  const timer = setTimeout(() => sock.destroy(new Error(`timed out after ${CONN_TIMEOUT_MS} ms`)), CONN_TIMEOUT_MS);
  sock.once('close', () => clearTimeout(timer));
}

/**
 * Through the daemon: connect, write the request line with the plaintext right behind it (daemon.md
 * §2 step 2), read events up to `data`, then the reply until the daemon's EOF (the server closed).
 * Rejects with expected/got when there is no `verified` line, an `end` line, or no reply.
 */
export function viaDaemon(socketPath: string, request: Buffer): Promise<ConnTiming> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let head = '';
    let body = '';
    let firstAt = 0;
    let inData = false;
    const sock = net.connect(socketPath);
    deadline(sock);
    sock.write(request);
    sock.on('data', (chunk: Buffer) => {
      if (inData) {
        firstAt ||= performance.now();
        if (body.length < 256) body += chunk.toString('latin1');
        return;
      }
      head += chunk.toString('latin1');
      const at = head.indexOf('\ndata\n');
      if (at < 0) return;
      if (!head.includes('\nverified ')) return void sock.destroy(new Error(`expected a 'verified' line before 'data', got ${JSON.stringify(head.slice(0, 160))}`));
      inData = true;
      body = head.slice(at + 6);
      head = head.slice(0, at + 6);
      if (body.length > 0) firstAt = performance.now();
    });
    sock.once('end', () => {
      const end = performance.now();
      if (!body.includes(REPLY_BODY)) return reject(new Error(head.includes('\ndata\n') ? `expected the reply 'pong', got ${JSON.stringify(body.slice(0, 80))}` : `expected 'data', got ${JSON.stringify(head.trim().split('\n').pop()?.slice(0, 160))}`));
      resolve({ firstMs: firstAt - t0, ms: end - t0 });
    });
    sock.once('error', reject);
  });
}

/** The floor: the same exchange with node:tls in this process, verifying against the same CA and name. */
export function viaNode(port: number, trust: { readonly ca: Buffer } | { readonly secureContext: tls.SecureContext }, request: string): Promise<ConnTiming> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let body = '';
    let firstAt = 0;
    const sock = tls.connect({ host: HOST, port, servername: NAME, ...trust });
    deadline(sock);
    sock.setNoDelay(true);
    sock.write(request); // written once the handshake is done and the peer verified
    sock.on('data', (chunk: Buffer) => {
      if (!firstAt) firstAt = performance.now();
      if (body.length < 256) body += chunk.toString('latin1');
    });
    sock.once('end', () => {
      const end = performance.now();
      if (!body.includes(REPLY_BODY)) return reject(new Error(`expected the reply 'pong', got ${JSON.stringify(body.slice(0, 80))}`));
      resolve({ firstMs: firstAt - t0, ms: end - t0 });
    });
    sock.once('error', reject);
  });
}

/** A connection held open past `data`; resolves once the daemon said `data`. */
export function idleViaDaemon(socketPath: string, requestLine: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    let head = '';
    const sock = net.connect(socketPath);
    const timer = setTimeout(() => sock.destroy(new Error(`expected 'data' within ${CONN_TIMEOUT_MS} ms, got ${JSON.stringify(head.slice(-160))}`)), CONN_TIMEOUT_MS);
    sock.write(requestLine);
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      if (!head.includes('\ndata\n')) return;
      clearTimeout(timer);
      sock.off('data', onData);
      sock.on('data', () => {}); // the server sends nothing; drained if it ever does
      resolve(sock);
    };
    sock.once('close', () => clearTimeout(timer));
    sock.on('data', onData);
    sock.once('end', () => reject(new Error(`expected 'data', got ${JSON.stringify(head.trim().split('\n').pop()?.slice(0, 160))}`)));
    sock.once('error', reject);
  });
}

/** CPU over each bulk transfer through the daemon, as a share of one core (percent). */
export interface BulkCpu {
  readonly daemon: number[];
  readonly client: number[];
}

/**
 * A bulk run through the daemon with the shape of children.ts runOnce: stdin (spec.stdinFd) is
 * written behind the request line then shut (SHUT_WR); plaintext from the peer is counted and
 * dropped. rssKiB: the daemon's largest VmRSS, sampled every 20 ms during the transfer. Each
 * run's CPU of the daemon and of this process (the client) goes to `cpu`.
 */
export function bulkViaDaemon(daemon: Daemon, port: number, cpu: BulkCpu): (spec: RunSpec) => Promise<RunResult> {
  const line = daemon.requestLine(port);
  return (spec) =>
    new Promise((resolve) => {
      const daemon0 = cpuMs(daemon.pid).own;
      const self0 = process.cpuUsage();
      const startedAt = performance.now();
      let control = '';
      let stdout = '';
      let stdoutBytes = 0;
      let inData = false;
      let rss = vmRssKiB(daemon.pid);
      const sampler = setInterval(() => (rss = Math.max(rss, vmRssKiB(daemon.pid))), 20);
      let error: string | undefined;
      const take = (chunk: Buffer): void => {
        stdoutBytes += chunk.length;
        if (stdout.length < 256) stdout += chunk.subarray(0, 256).toString('latin1');
      };
      // One reused 1 MiB buffer: no allocation per read in the hot loop.
      const buf = Buffer.allocUnsafe(1 << 20);
      const sock = net.connect({
        path: daemon.socket,
        onread: {
          buffer: buf,
          callback: (n) => {
            if (inData) return take(buf.subarray(0, n)), true;
            control += buf.toString('latin1', 0, n);
            const at = control.indexOf('\ndata\n');
            if (at < 0) return true;
            inData = true;
            const rest = Buffer.from(control.slice(at + 6), 'latin1');
            control = control.slice(0, at + 6);
            if (rest.length) take(rest);
            return true;
          },
        },
      });
      const timer = setTimeout(() => ((error = `timed out after ${spec.timeoutMs} ms`), sock.destroy()), spec.timeoutMs);
      sock.on('error', (err) => (error ??= err.message));
      sock.write(line);
      if (spec.stdinFd !== undefined) createReadStream('', { fd: spec.stdinFd, autoClose: false, highWaterMark: 1 << 20 }).pipe(sock);
      sock.once('close', () => {
        const ms = performance.now() - startedAt;
        const self = process.cpuUsage(self0);
        cpu.daemon.push(((cpuMs(daemon.pid).own - daemon0) / ms) * 100);
        cpu.client.push((self.user + self.system) / 10 / ms);
        clearTimeout(timer);
        clearInterval(sampler);
        const endLine = inData ? undefined : control.trim().split('\n').pop();
        if (!error && endLine !== undefined) error = `expected 'data', got ${JSON.stringify(endLine.slice(0, 160))}`;
        const status = error ? 1 : 0;
        resolve({ startedAt, ms, status, signal: null, stdout, stdoutBytes, stderr: error ?? '', control, rssKiB: rss || undefined, error });
      });
    });
}

/**
 * The bulk tables' daemon row: one connection through `daemon`, the client in this process;
 * `note()` adds the CPU shares of the runs since `reset()` to the row's note.
 */
export function daemonBulkRow(daemon: Daemon, port: number, manyNodes: boolean): { readonly row: Row; note(): string; reset(): void } {
  const tag = daemon.node.tag;
  const cpu: BulkCpu = { daemon: [], client: [] };
  const share = (xs: number[]): string => `${[...xs].sort((a, b) => a - b)[xs.length >> 1]?.toFixed(0) ?? '-'} %`;
  const row: Row = {
    id: manyNodes ? `daemon@${tag}` : 'daemon',
    label: manyNodes ? `tlsify daemon, one connection (node ${tag})` : 'tlsify daemon, one connection',
    note: "client: a net.Socket in the harness (its CPU counts); peak RSS: the daemon's VmRSS, sampled every 20 ms",
    cmd: 'tlsify daemon',
    args: [],
    env: {},
    exec: bulkViaDaemon(daemon, port, cpu),
    check: (r) => r.error ?? (r.status === 0 ? undefined : `status ${r.status}`),
  };
  return {
    row,
    note: () => `${row.note}; median CPU as a share of one core: daemon ${share(cpu.daemon)}, its client ${share(cpu.client)}`,
    reset: () => void (cpu.daemon.splice(0), cpu.client.splice(0)),
  };
}

/**
 * The fair partner of the daemon's bulk row: a spawned `tlsify connect` whose plaintext goes
 * through the harness as through the daemon's client, i.e. as a parent that spawns tlsify
 * reads it: stdout a pipe read here (counted and dropped), stdin a pipe written here from the
 * upload file (or held open). rssKiB: tlsify's largest VmRSS, sampled every 20 ms.
 */
export function spawnedViaHarness(id: string, label: string, cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Row {
  const exec = (spec: RunSpec): Promise<RunResult> =>
    new Promise((resolve) => {
      const startedAt = performance.now();
      const child = track(spawn(cmd, [...args, '--control-fd', 'none'], { env, stdio: ['pipe', 'pipe', 'pipe'] }));
      let stdout = '';
      let stdoutBytes = 0;
      let stderr = '';
      let rss = 0;
      const sampler = setInterval(() => (rss = Math.max(rss, child.pid ? vmRssKiB(child.pid) : 0)), 20);
      const timer = setTimeout(() => child.kill('SIGKILL'), spec.timeoutMs);
      child.stdout!.on('data', (c: Buffer) => {
        stdoutBytes += c.length;
        if (stdout.length < 256) stdout += c.subarray(0, 256).toString('latin1');
      });
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdin!.on('error', () => {});
      if (spec.stdinFd !== undefined) createReadStream('', { fd: spec.stdinFd, autoClose: false, highWaterMark: 1 << 20 }).pipe(child.stdin!);
      child.once('close', (status, signal) => {
        clearTimeout(timer);
        clearInterval(sampler);
        resolve({ startedAt, ms: performance.now() - startedAt, status, signal, stdout, stdoutBytes, stderr, control: '', rssKiB: rss || undefined, error: undefined });
      });
    });
  return {
    id,
    label,
    note: 'plaintext through the harness, as a parent reads its stdout and writes its stdin (pipes)',
    cmd,
    args,
    env,
    exec,
    check: (r) => (r.signal ? `killed by ${r.signal}` : r.status === 0 ? undefined : `exit ${r.status}: ${r.stderr.trim().split('\n').pop()?.slice(0, 160) ?? ''}`),
  };
}
