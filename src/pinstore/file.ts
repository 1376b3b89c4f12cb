// pinstore/file.ts: the store file on disk (protocol/pin-store.md §2.2, §8): read it without
// following a planted symlink, refuse one others can write, and change it only by a locked
// read-modify-write that replaces the file atomically (temp file, fsync, rename, directory fsync).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { TlsifyError } from '../codes.ts';
import { StoreFormatError, parseStore, serializeStore } from './format.ts';
import { emptyDoc, type StoreDoc } from './doc.ts';
import { LockTimeout, acquireLock, alive, type LockOptions } from './lock.ts';
import type { StoreLocation } from './location.ts';

/** Far above 10 000 entries (~2 MB); stops a store pointed at something huge. */
const MAX_STORE_BYTES = 64 * 1024 * 1024;
/** How often a write starts again when its lock was taken over before the rename. */
const MAX_ATTEMPTS = 5;

function config(message: string, cause?: unknown): TlsifyError {
  return new TlsifyError('config', message, cause === undefined ? undefined : { cause });
}

/** Read and parse the store; a missing file (or directory) is an empty store. */
export function readStore(loc: StoreLocation): StoreDoc {
  return readChecked(loc).doc;
}

interface Current {
  readonly doc: StoreDoc;
  /** The existing file's mode and group, which a replacement keeps; undefined when there is none. */
  readonly mode: number | undefined;
  readonly gid: number | undefined;
}

function readChecked(loc: StoreLocation): Current {
  const { file } = loc;
  if (!checkDir(loc)) return { doc: emptyDoc, mode: undefined, gid: undefined };
  let fd: number;
  try {
    // O_NOFOLLOW: a symlink planted where the store should be is refused, not followed.
    // O_NONBLOCK: a FIFO planted there does not hang the open.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { doc: emptyDoc, mode: undefined, gid: undefined };
    if (code === 'ELOOP') throw config(`pin store ${file}: expected a regular file, got a symbolic link; tlsify does not follow one there (remove it, or give --pin-store the real path)`);
    throw config(`pin store ${file}: cannot be read: ${(err as Error).message}`, err);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw config(`pin store ${file}: expected a regular file, got ${kind(st)}`);
    if (st.mode & 0o002) throw config(`pin store ${file}: expected a file only its owner${loc.private ? '' : ' and group'} can write, got mode ${octal(st.mode)}, which anyone can write (chmod o-w '${file}')`);
    if (loc.private && typeof process.getuid === 'function' && st.uid !== process.getuid()) {
      throw config(`pin store ${file}: expected the private store to belong to uid ${process.getuid()}, got uid ${st.uid}`);
    }
    if (st.size > MAX_STORE_BYTES) throw config(`pin store ${file}: expected at most ${MAX_STORE_BYTES} bytes, got ${st.size}`);
    const bytes = fs.readFileSync(fd);
    return { doc: parseStore(bytes, file), mode: st.mode & 0o7777, gid: st.gid };
  } catch (err) {
    if (err instanceof StoreFormatError) throw config(`${err.message}; the store is left as it is: fix or remove that line`, err);
    throw err;
  } finally {
    fs.closeSync(fd);
  }
}

/** False when the directory does not exist; throws when others could replace files in it. */
function checkDir(loc: StoreLocation): boolean {
  let st: fs.Stats;
  try {
    st = fs.statSync(loc.dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw config(`pin store ${loc.file}: its directory cannot be read: ${(err as Error).message}`, err);
  }
  if (!st.isDirectory()) throw config(`pin store ${loc.file}: expected ${loc.dir} to be a directory, got ${kind(st)}`);
  // The lock and temporary files live beside the store: in a world-writable directory anyone
  // could rename over the store or hold its lock, sticky bit or not.
  if (st.mode & 0o002) throw config(`pin store ${loc.file}: expected a directory only trusted users can write, got ${loc.dir} with mode ${octal(st.mode)}, which anyone can write`);
  return true;
}

/**
 * Locked read-modify-write (§8). `change` gets the current document and returns the next, or
 * undefined to leave the file alone. A malformed store throws before `change` runs, so it is
 * never rewritten. Returns the document now on disk.
 */
export async function modifyStore(loc: StoreLocation, change: (doc: StoreDoc) => StoreDoc | undefined, lockOpts: Omit<LockOptions, 'mode'>): Promise<StoreDoc> {
  ensureDir(loc);
  const lockPath = `${loc.file}.lock`;
  for (let attempt = 1; ; attempt++) {
    let lock;
    try {
      lock = await acquireLock(lockPath, { ...lockOpts, mode: loc.newFileMode });
    } catch (err) {
      if (err instanceof LockTimeout) throw config(`pin store ${loc.file}: cannot take the lock: ${err.message}`, err);
      throw config(`pin store ${loc.file}: cannot take the lock ${lockPath}: ${(err as Error).message}`, err);
    }
    try {
      const current = readChecked(loc);
      const next = change(current.doc);
      if (next === undefined) return current.doc;
      sweepTemps(loc, lockOpts.staleMs);
      const temp = writeTemp(loc, serializeStore(next), current);
      if (!lock.stillHeld()) {
        // Taken over as stale while we worked (we were stopped for over staleMs): start again.
        fs.rmSync(temp, { force: true });
        if (attempt >= MAX_ATTEMPTS) throw config(`pin store ${loc.file}: lost the lock ${MAX_ATTEMPTS} times in a row; is something holding this process up?`);
        continue;
      }
      try {
        fs.renameSync(temp, loc.file);
      } catch (err) {
        fs.rmSync(temp, { force: true });
        throw config(`pin store ${loc.file}: cannot replace it: ${(err as Error).message}`, err);
      }
      syncDir(loc.dir);
      return next;
    } finally {
      lock.release();
    }
  }
}

function ensureDir(loc: StoreLocation): void {
  if (loc.private) {
    // XDG: a missing directory is created 0700 (every level tlsify makes).
    try {
      fs.mkdirSync(loc.dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw config(`pin store ${loc.file}: cannot create ${loc.dir}: ${(err as Error).message}`, err);
    }
  }
  if (!checkDir(loc)) {
    throw config(`pin store ${loc.file}: expected the directory ${loc.dir} to exist, got no such directory${loc.newFileMode === 0o660 ? ' (shared stores: create it once, e.g. install -d -m 2770 -g tlsify ' + loc.dir + ')' : ''}`);
  }
}

/** A complete copy beside the store, flushed to disk, with the mode (and group) the store has. */
function writeTemp(loc: StoreLocation, text: string, current: Current): string {
  const temp = path.join(loc.dir, `.${path.basename(loc.file)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  const mode = (current.mode ?? loc.newFileMode) & 0o775; // never world-writable, no set-id bits
  const fd = fs.openSync(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  try {
    fs.fchmodSync(fd, mode); // the umask must not take the group's write bit off a shared store
    if (current.gid !== undefined && typeof process.getuid === 'function') {
      try {
        fs.fchownSync(fd, process.getuid(), current.gid);
      } catch {
        // Not a member of that group: the directory's setgid bit (protocol/pin-store.md §2.1) keeps the group instead.
      }
    }
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    throw config(`pin store ${loc.file}: cannot write ${temp}: ${(err as Error).message}`, err);
  }
  fs.closeSync(fd);
  return temp;
}

/** The rename is durable only once the directory entry is on disk. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, fs.constants.O_RDONLY);
    fs.fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory (EINVAL); the rename itself is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Temp files of writers killed before their rename, and locks moved aside by a writer killed
 * while taking one over (lock.ts); only we hold the lock, so none of them is in use.
 */
function sweepTemps(loc: StoreLocation, staleMs: number): void {
  const base = path.basename(loc.file);
  const prefixes = [`.${base}.tmp-`, `${base}.lock.stale-`];
  let names: string[];
  try {
    names = fs.readdirSync(loc.dir).filter((n) => prefixes.some((p) => n.startsWith(p)));
  } catch {
    return;
  }
  for (const name of names) {
    const prefix = prefixes.find((p) => name.startsWith(p))!;
    const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]);
    const full = path.join(loc.dir, name);
    try {
      if (!alive(pid) || Date.now() - fs.lstatSync(full).mtimeMs > staleMs) fs.rmSync(full, { force: true });
    } catch {
      // Gone already.
    }
  }
}

function kind(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'something else';
}

function octal(mode: number): string {
  return '0' + (mode & 0o7777).toString(8);
}
