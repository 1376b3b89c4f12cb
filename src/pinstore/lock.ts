// pinstore/lock.ts: the store's write lock (protocol/pin-store.md §8.1): a lock file made with
// O_CREAT|O_EXCL holding pid, host, time and a random token; a lock whose process is gone, or
// that is older than staleMs, is taken over by renaming it aside and checking it was the one seen.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';

export interface LockOptions {
  /** A lock held longer than this is stale whatever its process (a write takes milliseconds). */
  readonly staleMs: number;
  /** Give up after waiting this long for a live lock. Longer than staleMs, so a stale one always goes first. */
  readonly waitMs: number;
  /** Mode of the lock file (other users of a shared store must be able to read it). */
  readonly mode: number;
}

export const DEFAULT_STALE_MS = 10_000;
export const DEFAULT_WAIT_MS = 20_000;
/** A lock file with no readable content (its writer died between create and write) is stale after this. */
const EMPTY_GRACE_MS = 2_000;

export interface Lock {
  /** True while the lock file is still the one this process made: checked just before the rename. */
  stillHeld(): boolean;
  release(): void;
}

export class LockTimeout extends Error {
  override name = 'LockTimeout';
}

interface Holder {
  readonly pid: number;
  readonly host: string;
  readonly time: number;
}

const HOST = os.hostname();

export async function acquireLock(lockPath: string, opts: LockOptions): Promise<Lock> {
  const token = randomBytes(12).toString('hex');
  const deadline = Date.now() + opts.waitMs;
  let delay = 2;
  for (;;) {
    const content = `pid=${process.pid} host=${HOST} time=${Date.now()} token=${token}\n`;
    if (tryCreate(lockPath, content, opts.mode)) return held(lockPath, token);
    const seen = inspect(lockPath);
    if (seen === undefined) continue; // released between our create and our look: try again now
    if (isStale(seen, opts.staleMs)) {
      takeOver(lockPath, seen.content);
      continue;
    }
    if (Date.now() >= deadline) {
      const who = seen.holder ? `pid ${seen.holder.pid} on ${seen.holder.host} since ${new Date(seen.holder.time).toISOString()}` : 'a process that wrote nothing into it';
      throw new LockTimeout(`${lockPath} is held by ${who}; waited ${opts.waitMs / 1000} s (a lock older than ${opts.staleMs / 1000} s, or whose process is gone, is taken over)`);
    }
    // Jittered exponential back-off: 50 writers do not wake in step.
    await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
    delay = Math.min(delay * 2, 50);
  }
}

function tryCreate(lockPath: string, content: string, mode: number): boolean {
  let fd: number;
  try {
    fd = fs.openSync(lockPath, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    fs.writeSync(fd, content);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

function held(lockPath: string, token: string): Lock {
  const mine = (): boolean => {
    try {
      return fs.readFileSync(lockPath, 'utf8').includes(` token=${token}\n`);
    } catch {
      return false;
    }
  };
  return {
    stillHeld: mine,
    release() {
      if (mine()) fs.rmSync(lockPath, { force: true });
    },
  };
}

interface Seen {
  readonly content: string;
  readonly holder: Holder | undefined;
  readonly mtimeMs: number;
}

function inspect(lockPath: string): Seen | undefined {
  try {
    const fd = fs.openSync(lockPath, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    let content: string;
    let mtimeMs: number;
    try {
      content = fs.readFileSync(fd, 'utf8');
      mtimeMs = fs.fstatSync(fd).mtimeMs;
    } finally {
      fs.closeSync(fd);
    }
    const m = /^pid=(\d+) host=(\S*) time=(\d+) token=[0-9a-f]+\n$/.exec(content);
    return { content, mtimeMs, holder: m ? { pid: Number(m[1]), host: m[2]!, time: Number(m[3]) } : undefined };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function isStale(seen: Seen, staleMs: number): boolean {
  const now = Date.now();
  if (!seen.holder) return now - seen.mtimeMs > EMPTY_GRACE_MS;
  const { pid, host, time } = seen.holder;
  if (host === HOST && !alive(pid)) return true;
  return now - time > staleMs;
}

/** Signal 0 checks existence only; EPERM means it exists under another user. */
export function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Move the stale lock aside under a name of our own, then check it is the lock we judged: if
 * another process took over first and a live lock is what we moved, link it back. A holder that
 * still lost its lock this way sees it in stillHeld() and does not rename (§8.1).
 */
function takeOver(lockPath: string, judged: string): void {
  const aside = `${lockPath}.stale-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    fs.renameSync(lockPath, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    if (fs.readFileSync(aside, 'utf8') !== judged) fs.linkSync(aside, lockPath);
  } catch {
    // EEXIST: a third process holds the lock now; the displaced holder will notice before its rename.
  } finally {
    fs.rmSync(aside, { force: true });
  }
}
