// tls/session-store.ts: --resume file:PATH: a 0600 file of session blobs (tls/session-blob.ts),
// one per binding, replaced atomically on every write. The only module here that touches files.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { TlsifyError } from '../codes.ts';
import { assertPrivate } from '../secret.ts';
import type { Binding } from './session-binding.ts';
import { MAX_BLOB_AGE_MS, SessionBlobError, decodeBlob, encodeBlob, type SessionBlob } from './session-blob.ts';

export const STORE_HEADER = 'tlsify-sessions 1';
export const MAX_STORE_ENTRIES = 64;

/**
 * A 0600 file of blobs, one per binding, newest wins, at most MAX_STORE_ENTRIES (oldest go
 * first). Every write re-reads the file, then replaces it atomically (temp file, fsync, rename,
 * fsync of the directory), so a crash leaves the old file or the new one. Two tlsify processes
 * writing at once: the last rename wins, and the other's new entry is lost (it is a cache).
 */
export class FileSessionStore {
  private constructor(
    readonly path: string,
    private entries: SessionBlob[],
  ) {}

  /** A missing file is an empty store; one that others can read, or that does not parse, is a config error. */
  static open(file: string): FileSessionStore {
    return new FileSessionStore(file, readStore(file));
  }

  get size(): number {
    return this.entries.length;
  }

  lookup(binding: Binding): SessionBlob | undefined {
    return this.entries.find((e) => e.binding.digest === binding.digest);
  }

  put(blob: SessionBlob, now: Date): void {
    const others = readStore(this.path).filter((e) => e.binding.digest !== blob.binding.digest && now.getTime() - e.createdAt.getTime() <= MAX_BLOB_AGE_MS);
    const kept = others.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime()).slice(0, MAX_STORE_ENTRIES - 1);
    this.write([blob, ...kept]);
  }

  /** Drop the entry for `binding`, e.g. after its stored path failed the check on resumption. */
  forget(binding: Binding): void {
    const current = readStore(this.path);
    if (!current.some((e) => e.binding.digest === binding.digest)) return;
    this.write(current.filter((e) => e.binding.digest !== binding.digest));
  }

  private write(entries: SessionBlob[]): void {
    writeAtomic(this.path, [STORE_HEADER, ...entries.map(encodeBlob)].join('\n') + '\n');
    this.entries = entries;
  }
}

function readStore(file: string): SessionBlob[] {
  const where = `--resume file:${file}`;
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    throw new TlsifyError('config', `${where}: cannot open the session store (${code === 'ELOOP' ? 'it is a symbolic link' : (code ?? (err as Error).message)})`);
  }
  let text: string;
  try {
    assertPrivate(fs.fstatSync(fd), where, 'owner-only');
    text = fs.readFileSync(fd, 'latin1');
  } finally {
    fs.closeSync(fd);
  }
  const lines = text.split('\n');
  if (lines[0] !== STORE_HEADER) throw new TlsifyError('config', `${where} line 1: expected '${STORE_HEADER}', got '${lines[0]!.slice(0, 40)}'`);
  const out: SessionBlob[] = [];
  lines.forEach((line, i) => {
    if (i === 0 || line === '') return;
    try {
      out.push(decodeBlob(line));
    } catch (err) {
      if (err instanceof SessionBlobError) throw new TlsifyError('config', `${where} line ${i + 1}: ${err.message}`);
      throw err;
    }
  });
  return out;
}

function writeAtomic(file: string, content: string): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  let fd: number;
  try {
    fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  } catch (err) {
    throw new TlsifyError('config', `--resume file:${file}: cannot create a file in ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    fs.fchmodSync(fd, 0o600); // whatever the umask
    fs.writeSync(fd, content, null, 'latin1');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
  } catch (err) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
    fs.rmSync(tmp, { force: true });
    throw new TlsifyError('config', `--resume file:${file}: cannot write the session store (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  // The rename is durable only once the directory is on disk too; best effort where it cannot be opened.
  try {
    const d = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(d);
    } finally {
      fs.closeSync(d);
    }
  } catch {
    // e.g. a directory we may write but not read
  }
}
