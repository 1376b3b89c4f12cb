// net/fd-socket.ts: a net.Socket on an inherited descriptor. Node streams only TCP and unix
// stream sockets and pipes; any other socket (a datagram socketpair, a UDP or netlink socket,
// as parents like socat leak on fds 3 and up) makes net.Socket throw ERR_INVALID_FD_TYPE, which
// here becomes an error that says which fd, what was expected, and what came.
import net from 'node:net';
import { TlsifyError, type Code } from '../codes.ts';

export function socketOnFd(fd: number, opts: { readonly readable: boolean; readonly writable: boolean }, what: string, code: Code, hint = ''): net.Socket {
  try {
    return new net.Socket({ fd, ...opts, allowHalfOpen: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_INVALID_FD_TYPE') throw err;
    throw new TlsifyError(code, `${what}: expected a stream socket, got a socket that is not a stream (a datagram socket, say)${hint}`, { cause: err });
  }
}
