// net/dial.ts: the TCP transport under TLS: resolve and dial with a timeout, or adopt a socket
// the parent already connected (--net-fd, the STARTTLS hand-off). Errors carry resolve/connect/timeout.
import dns from 'node:dns/promises';
import fs from 'node:fs';
import net from 'node:net';
import { TlsifyError } from '../codes.ts';
import { socketOnFd } from './fd-socket.ts';

export interface Transport {
  readonly socket: net.Socket;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
}

export interface DialEvents {
  resolved(addresses: readonly string[]): void;
}

function describe(socket: net.Socket): Transport {
  return {
    socket,
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    localAddress: socket.localAddress,
    localPort: socket.localPort,
  };
}

/** Resolve HOST (unless it is an IP literal) and connect, trying every address in order. */
export async function dial(host: string, port: number, timeoutMs: number, events: DialEvents): Promise<Transport> {
  const deadline = Date.now() + timeoutMs;
  let addresses: { address: string; family: number }[];
  if (net.isIP(host)) {
    addresses = [{ address: host, family: net.isIP(host) }];
  } else {
    try {
      addresses = await withTimeout(dns.lookup(host, { all: true, verbatim: true }), timeoutMs, `resolving ${host}`);
    } catch (err) {
      if (err instanceof TlsifyError) throw err;
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new TlsifyError('resolve', `cannot resolve '${host}': ${code}`, { cause: err });
    }
    events.resolved(addresses.map((a) => a.address));
  }
  const failures: string[] = [];
  let timedOut = false;
  for (const { address } of addresses) {
    const left = deadline - Date.now();
    if (left <= 0) {
      timedOut = true;
      break;
    }
    try {
      return describe(await connectOne(address, port, left));
    } catch (err) {
      const e = err as TlsifyError;
      timedOut ||= e.code === 'timeout';
      failures.push(`${address} ${e.message}`);
    }
  }
  const tried = failures.join('; ');
  if (timedOut) throw new TlsifyError('timeout', `no answer from ${host}:${port} within ${timeoutMs} ms (${tried})`);
  throw new TlsifyError('connect', `cannot connect to ${host}:${port}: ${tried}`);
}

function connectOne(address: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TlsifyError('timeout', 'no answer'));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new TlsifyError('connect', err.code ?? err.message, { cause: err }));
    });
  });
}

/** Adopt the connected stream socket on `fd` (--net-fd). */
export function adopt(fd: number, what = `--net-fd ${fd}`): Transport {
  let stat: fs.Stats;
  try {
    stat = fs.fstatSync(fd);
  } catch (err) {
    throw new TlsifyError('connect', `${what}: ${(err as Error).message}`, { cause: err });
  }
  if (!stat.isSocket()) {
    throw new TlsifyError('connect', `${what}: expected a connected socket, got ${kind(stat)}`);
  }
  const socket = socketOnFd(fd, { readable: true, writable: true }, what, 'connect');
  socket.setNoDelay(true);
  return describe(socket);
}

function kind(stat: fs.Stats): string {
  if (stat.isFIFO()) return 'a pipe';
  if (stat.isFile()) return 'a regular file';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isDirectory()) return 'a directory';
  return 'another kind of file';
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TlsifyError('timeout', `${what} took more than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
