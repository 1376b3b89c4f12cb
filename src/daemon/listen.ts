// daemon/listen.ts: the daemon's listening socket (protocol/daemon.md §1): a unix socket created
// 0600 in a directory the caller owns, or the one systemd passes (sd_listen_fds(3): LISTEN_FDS).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { TlsifyError } from '../codes.ts';

export interface Listening {
  readonly server: net.Server;
  /** What the hello of the log names: the path, or `systemd:3`. */
  readonly where: string;
  /** Removes the socket file we created (not systemd's). */
  cleanup(): void;
}

function config(message: string): TlsifyError {
  return new TlsifyError('config', message);
}

/** sd_listen_fds(3): fds from 3 on, for this pid only; the variables are unset so children never see them. */
export function systemdFd(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const fds = env.LISTEN_FDS;
  const forPid = env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  if (fds === undefined || forPid !== String(pid)) return undefined;
  if (fds !== '1') throw config(`LISTEN_FDS: expected 1 socket from systemd, got '${fds}'`);
  return 3;
}

/**
 * Only the caller may create or replace files in the socket's directory: otherwise another user
 * could swap the socket for theirs and read every client's plaintext.
 */
export function checkDirectory(socketPath: string, uid: number): void {
  const dir = path.dirname(path.resolve(socketPath));
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (err) {
    throw config(`--listen ${socketPath}: the directory ${dir} cannot be used: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  if (!st.isDirectory()) throw config(`--listen ${socketPath}: expected ${dir} to be a directory`);
  if (st.uid !== uid) throw config(`--listen ${socketPath}: expected ${dir} to be owned by uid ${uid} (the daemon's user), got uid ${st.uid}`);
  if ((st.mode & 0o022) !== 0) {
    throw config(`--listen ${socketPath}: expected ${dir} writable by its owner only, got mode ${(st.mode & 0o7777).toString(8)}: another user could replace the socket`);
  }
}

/** A leftover socket file from a daemon that died is removed; a live daemon's is not. */
async function clearStale(socketPath: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(socketPath);
  } catch {
    return;
  }
  if (!st.isSocket()) throw config(`--listen ${socketPath}: expected a new path or an old socket, got an existing ${st.isDirectory() ? 'directory' : 'file'}`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => (probe.destroy(), resolve(true)));
    probe.once('error', () => resolve(false));
  });
  if (live) throw config(`--listen ${socketPath}: another process is listening there`);
  fs.unlinkSync(socketPath);
}

export async function listen(socketPath: string | undefined, mode: number, fd: number | undefined): Promise<Listening> {
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false });
  if (fd !== undefined) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ fd }, () => resolve());
    });
    return { server, where: `systemd:${fd}`, cleanup() {} };
  }
  if (socketPath === undefined) throw config('daemon: expected --listen PATH, or a socket from systemd (LISTEN_FDS)');
  checkDirectory(socketPath, process.getuid!());
  await clearStale(socketPath);
  // Created 0600 from the start (umask), never world-connectable for a moment; then widened on request.
  const old = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(config(`--listen ${socketPath}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
      server.listen(socketPath, () => resolve());
    });
  } finally {
    process.umask(old);
  }
  if (mode !== 0o600) fs.chmodSync(socketPath, mode);
  const ino = fs.statSync(socketPath).ino;
  return {
    server,
    where: socketPath,
    cleanup() {
      // Only our own socket: a successor may already have replaced it.
      try {
        if (fs.statSync(socketPath).ino === ino) fs.unlinkSync(socketPath);
      } catch {
        // gone already
      }
    },
  };
}
