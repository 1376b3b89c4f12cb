// daemon/fdpass.ts: receiving a client's connected socket over the daemon socket (sendmsg(2),
// SCM_RIGHTS; protocol/daemon.md §7.1), through the native/fdpass.c addon, since Node core cannot.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import util from 'node:util';
import { TlsifyError } from '../codes.ts';

/** The addon's one function: a descriptor, `null` when nothing is queued yet; throws otherwise. */
export interface FdPass {
  recvFd(fd: number): number | null;
}

// Bundled, this code runs from dist/tlsify.cjs; under tsx, from src/daemon/fdpass.ts. A computed
// path in process.dlopen keeps esbuild from trying to bundle the .node file.
const ADDON = path.resolve(__dirname, __filename.endsWith('.ts') ? '../..' : '..', 'native', 'build', 'fdpass.node');

let loaded: FdPass | string | undefined;

/** Loads the addon on first use; a string says why it is unavailable. */
export function fdPass(): FdPass | string {
  if (loaded !== undefined) return loaded;
  if (!fs.existsSync(ADDON)) return (loaded = 'not built: run npm ci with a C compiler and Node headers');
  const mod = { exports: {} as Partial<FdPass> };
  try {
    process.dlopen(mod, ADDON, os.constants.dlopen.RTLD_NOW);
    loaded = typeof mod.exports.recvFd === 'function' ? (mod.exports as FdPass) : `${ADDON}: expected it to export recvFd`;
  } catch (err) {
    loaded = `${ADDON}: ${(err as Error).message}`;
  }
  return loaded;
}

/** The libuv stream under a net.Socket: internal, but stable from Node 20 to 26 (lib/net.js). */
interface Handle {
  readonly fd: number;
  reading: boolean;
  readStart(): number;
  readStop(): number;
}

/** Sockets between stopReading and resumeReading: receiveFd refuses any other. */
const stopped = new WeakSet<net.Socket>();

function handleOf(sock: net.Socket): Handle | null {
  return ((sock as unknown as { _handle?: Handle | null })._handle ?? null);
}

/**
 * Stops libuv reading `sock`, so the byte that carries the descriptor stays in the kernel: libuv
 * reads with read(2), and a read(2) that takes an SCM_RIGHTS byte makes the kernel close the
 * descriptor (unix(7): no room for the control message). pause() alone is not enough: libuv keeps
 * reading until the stream's buffer is full. `reading` is left true on purpose: net.Socket's
 * _read() calls readStart() whenever it sees false, and Readable calls _read() on its own
 * (maybeReadMore after a push, resume(), read(0)). Call it in the same tick as the request line
 * arrives, before anything is written that lets the client send the descriptor. Any byte libuv
 * read after the request line means the client sent too early: one read(2) took the line and
 * the fd byte together, and the kernel has already closed that descriptor. Refuse the hand-off.
 */
export function stopReading(sock: net.Socket): void {
  sock.pause();
  stopped.add(sock);
  const handle = handleOf(sock);
  if (handle === null || sock.destroyed) return;
  handle.reading = true;
  const err = handle.readStop();
  if (err !== 0) sock.destroy(new Error(`readStop: ${util.getSystemErrorName(err)}`));
}

/**
 * Undoes stopReading: libuv reads again. With `flow`, the stream also flows: attach the 'data'
 * listener (or pipe) first, as with resume(), a flowing stream with no listener drops its data.
 * Without, what libuv reads waits in the paused stream (backpressure as usual) for a later reader.
 */
export function resumeReading(sock: net.Socket, flow = true): void {
  const handle = handleOf(sock);
  if (!stopped.delete(sock) || handle === null || sock.destroyed) return; // not ours to start
  const err = handle.readStart();
  if (err !== 0) return void sock.destroy(new Error(`readStart: ${util.getSystemErrorName(err)}`));
  if (flow) sock.resume();
}

const MAX_BACKOFF_MS = 20;

function failure(err: unknown): TlsifyError {
  const e = err as NodeJS.ErrnoException;
  // The addon's code for a client that broke the hand-off; an errno name otherwise.
  return new TlsifyError(e.code === 'ERR_FDPASS_PROTOCOL' ? 'usage' : 'connect', `--send-fd: ${e.message}`, { cause: err });
}

/**
 * Waits for the one descriptor the client sends on `sock` (after stopReading), polling the
 * non-blocking recvmsg(2) with backoff 0, 1, 2, 4 .. 20 ms, since libuv must not watch the fd.
 * Resolves with the descriptor, which the caller then owns (close it, or adopt it with
 * `new net.Socket({ fd, readable: true, writable: true })`). Rejects with `timeout` after
 * `timeoutMs`, `usage` when the client broke the hand-off (EOF, a byte with no descriptor, more
 * than one), `connect` on another error or when `sock` is destroyed meanwhile.
 */
export function receiveFd(sock: net.Socket, timeoutMs: number): Promise<number> {
  const addon = fdPass();
  if (typeof addon === 'string') {
    return Promise.reject(new TlsifyError('usage', `--send-fd: this daemon cannot receive descriptors: the fdpass addon is ${addon}`));
  }
  if (!stopped.has(sock)) return Promise.reject(new TlsifyError('internal', 'receiveFd: expected a socket after stopReading(), got one libuv may be reading'));
  const handle = handleOf(sock);
  const deadline = performance.now() + timeoutMs;
  return new Promise<number>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let backoff = 0;
    const settle = (fn: () => void): void => {
      clearTimeout(timer);
      sock.off('close', onClose);
      fn();
    };
    const onClose = (): void => settle(() => reject(new TlsifyError('connect', '--send-fd: expected a descriptor, got a closed client connection')));
    const attempt = (): void => {
      // The handle is checked at every try: once closed, its fd number may belong to someone else.
      if (sock.destroyed || handle === null || handleOf(sock) !== handle || handle.fd < 0) return onClose();
      let fd: number | null;
      try {
        fd = addon.recvFd(handle.fd);
      } catch (err) {
        return settle(() => reject(failure(err)));
      }
      if (fd !== null) return settle(() => resolve(fd));
      const left = deadline - performance.now();
      if (left <= 0) {
        return settle(() => reject(new TlsifyError('timeout', `--send-fd: expected a descriptor within ${timeoutMs} ms, got none`)));
      }
      backoff = Math.min(Math.max(backoff * 2, 1), MAX_BACKOFF_MS);
      timer = setTimeout(attempt, Math.min(backoff, left));
    };
    sock.on('close', onClose);
    attempt();
  });
}
