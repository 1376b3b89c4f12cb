// secret.ts: read a secret that the command line only names: env:VAR, fd:N or file:PATH (the
// forms of openssl-passphrase-options(1) minus `pass:` and `stdin`). The value is never logged,
// never put in an error message, and a literal on argv is refused.
import fs from 'node:fs';
import { TlsifyError } from './codes.ts';

export const SECRET_FORMS = 'env:VAR, fd:N or file:PATH';

export interface SecretOptions {
  /** What the launcher saw open (LaunchFacts.openFds); undefined when started without it. */
  readonly openFds?: ReadonlySet<number>;
  /** Descriptors that already have a job, e.g. 3 -> 'the control channel' (--control-fd, --net-fd). */
  readonly reservedFds?: ReadonlyMap<number, string>;
  /** Refuse more than this many bytes. Default 64 KiB. */
  readonly maxBytes?: number;
  /** Strip one trailing LF (or CRLF), as a line typed into a file or `echo` leaves it. Default true. */
  readonly stripNewline?: boolean;
  /** How long a non-blocking fd may go without EOF. Default 10 s. */
  readonly fdTimeoutMs?: number;
}

const DEFAULT_MAX = 64 * 1024;

/**
 * The secret `spec` names, as bytes; `what` names the flag in errors ('--pass'). Zero the
 * Buffer (`fill(0)`) once it has been used. Throws TlsifyError: 'usage' for a spec that is not
 * one of the forms (a literal), 'config' for one that cannot be read.
 */
export function readSecret(spec: string, what: string, env: NodeJS.ProcessEnv, opts: SecretOptions = {}): Buffer {
  const max = opts.maxBytes ?? DEFAULT_MAX;
  const raw = readRaw(spec, what, env, opts, max);
  const value = opts.stripNewline === false ? raw : stripOneNewline(raw);
  if (value.length === 0) throw config(`${what} ${describeSecret(spec)}: expected a secret, got an empty value`);
  return value;
}

/** For the argv parsers (config/): refuse a literal at parse time (a usage error saying why), without reading anything. */
export function checkSecretSpec(spec: string, what: string): void {
  if (!/^(env|fd|file):./s.test(spec)) throw refuseLiteral(spec, what);
}

/** The spec as it may be shown: the spec itself, unless it is a literal, which is never shown. */
export function describeSecret(spec: string): string {
  return /^(env|fd|file):./s.test(spec) ? spec : '(a literal value, not shown)';
}

function readRaw(spec: string, what: string, env: NodeJS.ProcessEnv, opts: SecretOptions, max: number): Buffer {
  if (spec.startsWith('env:') && spec.length > 4) return readEnv(spec.slice(4), what, env, max);
  if (spec.startsWith('fd:') && spec.length > 3) return readFd(spec.slice(3), what, opts, max);
  if (spec.startsWith('file:') && spec.length > 5) return readFile(spec.slice(5), what, max);
  throw refuseLiteral(spec, what);
}

/** Why a secret never goes on argv; the message never contains the value itself. */
function refuseLiteral(spec: string, what: string): TlsifyError {
  const form = /^(env|fd|file):$/.test(spec)
    ? `'${spec}' with nothing after it`
    : spec.startsWith('pass:')
      ? "openssl's pass: form (a literal value, not shown)"
      : spec === 'stdin'
        ? "'stdin' (stdin carries the plaintext)"
        : 'a literal value (not shown)';
  return new TlsifyError(
    'usage',
    `${what}: expected ${SECRET_FORMS}, got ${form}. A secret on the command line can be read by every local user ` +
      '(ps, /proc/PID/cmdline) and stays in shell history; name where tlsify should read it instead: ' +
      'an environment variable (env:VAR), a descriptor the parent passes (fd:N), or a file only you can read (file:PATH)',
  );
}

function readEnv(name: string, what: string, env: NodeJS.ProcessEnv, max: number): Buffer {
  // The environment is private to the user (/proc/PID/environ is mode 0400), argv is not.
  const value = env[name];
  if (value === undefined) throw config(`${what} env:${name}: expected the environment variable ${name} to be set, got no such variable`);
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > max) throw config(`${what} env:${name}: expected at most ${max} bytes, got ${bytes.length}`);
  return bytes;
}

/** Read fd N to EOF, then close it. N must be one the parent passed, and not 0-2 or a reserved one. */
export function readFd(text: string, what: string, opts: SecretOptions, max: number): Buffer {
  if (!/^\d{1,9}$/.test(text)) throw new TlsifyError('usage', `${what} fd:${text}: expected a descriptor number of 3 or more, got '${text}'`);
  const fd = Number(text);
  if (fd < 3) throw new TlsifyError('usage', `${what} fd:${fd}: expected a descriptor number of 3 or more, got ${fd} (0, 1 and 2 carry the plaintext and the log)`);
  const job = opts.reservedFds?.get(fd);
  if (job !== undefined) throw new TlsifyError('usage', `${what} fd:${fd}: fd ${fd} is already ${job}`);
  // Node takes the lowest free numbers for itself before any JavaScript runs, so only the
  // launcher can tell whether the parent passed this fd (facts §5.7).
  if (opts.openFds !== undefined && !opts.openFds.has(fd)) {
    throw config(`${what} fd:${fd}: expected a descriptor the parent passed to tlsify, but fd ${fd} was not open`);
  }
  try {
    return readToEof(fd, `${what} fd:${fd}`, max, opts.fdTimeoutMs ?? 10_000);
  } finally {
    try {
      fs.closeSync(fd);
    } catch {
      // Already closed, or never ours: nothing is left to release.
    }
  }
}

function readToEof(fd: number, where: string, max: number, timeoutMs: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  const deadline = Date.now() + timeoutMs;
  const chunk = Buffer.alloc(16 * 1024);
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(fd, chunk, 0, chunk.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // An inherited non-blocking pipe or socket: wait for the parent to write and close it.
      if (code === 'EAGAIN' && Date.now() < deadline) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
        continue;
      }
      if (code === 'EAGAIN') throw config(`${where}: expected the parent to write the secret and close its end, got no EOF within ${timeoutMs / 1000} s`);
      throw config(`${where}: cannot read it (${code ?? (err as Error).message})`);
    }
    if (n === 0) break;
    total += n;
    if (total > max) throw config(`${where}: expected at most ${max} bytes, got more`);
    chunks.push(Buffer.from(chunk.subarray(0, n)));
  }
  chunk.fill(0);
  const out = Buffer.concat(chunks);
  for (const c of chunks) c.fill(0);
  return out;
}

function readFile(path: string, what: string, max: number): Buffer {
  const where = `${what} file:${path}`;
  return readPrivateFile(path, where, max);
}

/**
 * Read a file that holds secret material (a passphrase, a private key, a session blob). It must
 * be a regular file that only its owner (us or root) can change and that other users cannot
 * read: like ssh's StrictModes. Group-read is allowed (Debian keeps keys 0640 root:ssl-cert).
 */
export function readPrivateFile(path: string, where: string, max: number): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (err) {
    throw config(`${where}: cannot open it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    // fstat on the open fd: what we check is what we read, even if the path is swapped meanwhile.
    assertPrivate(fs.fstatSync(fd), where, 'group-read');
    return readToEof(fd, where, max, 0);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * 'group-read': owner us or root, no write for group/other, no read for other.
 * 'owner-only': owner us, no permission bits at all for group/other (files tlsify creates).
 */
export function assertPrivate(stat: fs.Stats, where: string, rule: 'group-read' | 'owner-only'): void {
  if (!stat.isFile()) throw config(`${where}: expected a regular file, got ${fileKind(stat)}`);
  const uid = process.geteuid?.() ?? stat.uid;
  const mode = stat.mode & 0o777;
  const modeText = `mode ${mode.toString(8).padStart(4, '0')}`;
  if (rule === 'owner-only') {
    if (stat.uid !== uid) throw config(`${where}: expected a file owned by uid ${uid}, got one owned by uid ${stat.uid}`);
    if (mode & 0o077) throw config(`${where}: expected mode 0600 (only its owner may read it), got ${modeText}; chmod 600 it`);
    return;
  }
  if (stat.uid !== uid && stat.uid !== 0) throw config(`${where}: expected a file owned by uid ${uid} or root, got one owned by uid ${stat.uid}, who could change it`);
  if (mode & 0o022) throw config(`${where}: expected a file that only its owner can change, got ${modeText}; chmod go-w it`);
  if (mode & 0o004) {
    throw config(
      `${where}: expected a file other users cannot read, got ${modeText}; chmod o-r it ` +
        '(Docker and Kubernetes secret mounts default to 0444/0644: set the mount mode to 0400 or 0440)',
    );
  }
}

function fileKind(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO (use fd:N for a pipe)';
  if (stat.isSocket()) return 'a socket (use fd:N)';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

function stripOneNewline(b: Buffer): Buffer {
  if (b.length > 0 && b[b.length - 1] === 0x0a) {
    const cut = b.length > 1 && b[b.length - 2] === 0x0d ? 2 : 1;
    const out = Buffer.from(b.subarray(0, b.length - cut));
    b.fill(0);
    return out;
  }
  return b;
}

function config(message: string): TlsifyError {
  return new TlsifyError('config', message);
}
