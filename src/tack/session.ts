// tack/session.ts: the I/O of one `tlsify tack` run: its parsed options, files and stdin (read
// once), output files (key files 0600, never overwritten), passwords from -p, --pass or the
// terminal, and opening a TACK key file. The commands in commands/tack.ts stay free of it.
import { readFileSync, writeFileSync } from 'node:fs';
import { TlsifyError } from '../codes.ts';
import { TackError } from './error.ts';
import type { ParsedOptions } from './getopt.ts';
import { decodeKeyFile, openKeyFile, passwordBytes } from './keyfile.ts';
import { describeSource, parsePassSpec, readPassword, type PasswordSource } from './password.ts';
import { LABELS, decodePem } from './pem.ts';
import { promptSecret } from './prompt.ts';

export interface TackIo {
  out(s: string): void;
  err(s: string): void;
  stdin(): Promise<Buffer>;
  /** stdin is a terminal: passwords may be asked for. */
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
  /** Reads one line without echo; the process's terminal by default. Tests inject it. */
  readSecret?(prompt: string): Promise<string>;
  /** The clock; the system's by default. Tests inject it. */
  now?(): Date;
}

export const usage = (message: string): TlsifyError => new TlsifyError('usage', message);
const config = (message: string): TlsifyError => new TlsifyError('config', message);

const PROMPT_TRIES = 3;
const MAX_INPUT = 16 * 1024 * 1024; // far above any key, TACK or certificate; stops `view /dev/zero`

export class Session {
  readonly command: string;
  readonly parsed: ParsedOptions;
  readonly io: TackIo;
  private stdinTakenBy: string | undefined;
  constructor(command: string, parsed: ParsedOptions, io: TackIo) {
    this.command = command;
    this.parsed = parsed;
    this.io = io;
  }

  opt(name: string): string | undefined {
    return this.parsed.options.get(name);
  }

  flag(name: string): boolean {
    return this.parsed.options.has(name);
  }

  now(): Date {
    return this.io.now?.() ?? new Date();
  }

  noOperands(): void {
    if (this.parsed.operands.length > 0) throw usage(`${this.command} takes no arguments, got '${this.parsed.operands.join(' ')}'`);
  }

  /** The bytes of FILE, or of stdin for '-' (one option may claim stdin). */
  async read(path: string, what: string): Promise<Buffer> {
    if (path === '-') {
      if (this.stdinTakenBy) throw usage(`${what} and ${this.stdinTakenBy} cannot both be read from stdin ('-')`);
      this.stdinTakenBy = what;
      return limit(await this.io.stdin(), 'stdin');
    }
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw config(`${what} ${path}: cannot read it: ${(err as Error).message}`);
    }
    return limit(bytes, path);
  }

  /** Text to stdout, or to FILE. A key file is created 0600 and never replaces an existing file. */
  write(path: string | undefined, text: string, secret = false): void {
    if (path === undefined) return this.io.out(text);
    try {
      writeFileSync(path, text, secret ? { mode: 0o600, flag: 'wx' } : { mode: 0o644, flag: 'w' });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (secret && e.code === 'EEXIST') throw config(`-o ${path}: expected a new file, got an existing one (a key file is never overwritten)`);
      throw config(`-o ${path}: cannot write it: ${e.message}`);
    }
  }

  passwordSource(): PasswordSource | undefined {
    const p = this.opt('-p');
    const pass = this.opt('--pass');
    if (p !== undefined && pass !== undefined) throw usage('give -p or --pass, not both');
    if (p === '') throw usage('-p: expected a password, got nothing');
    if (p !== undefined) return { kind: 'argv', value: p };
    return pass === undefined ? undefined : parsePassSpec(pass);
  }

  password(src: PasswordSource): string {
    try {
      return readPassword(src, this.io.env);
    } catch (err) {
      throw config((err as Error).message);
    }
  }

  async prompt(question: string): Promise<string> {
    if (!this.io.isTTY) {
      throw usage('expected a password: give -p PASSWORD or --pass env:VAR|fd:N|file:PATH (stdin is not a terminal to ask on)');
    }
    if (this.stdinTakenBy) throw usage(`${this.stdinTakenBy} is read from stdin, so the password cannot be asked for there: give -p or --pass`);
    const read = this.io.readSecret ?? ((q: string) => promptSecret(q, (s) => this.io.err(s)));
    return read(question);
  }
}

function limit(bytes: Buffer, where: string): Buffer {
  if (bytes.length > MAX_INPUT) throw config(`${where}: expected at most ${MAX_INPUT} bytes, got ${bytes.length}`);
  return bytes;
}

/** genkey's password: -p or --pass, else asked twice on the terminal (tackpy GenerateKeyCommand). */
export async function newPassword(s: Session): Promise<string> {
  const src = s.passwordSource();
  let password: string | undefined = src && s.password(src);
  for (let i = 0; password === undefined && i < PROMPT_TRIES; i++) {
    const first = await s.prompt('Choose password for key file: ');
    if (first === '' || first !== (await s.prompt('Re-enter password for key file: '))) {
      s.io.err(first === '' ? 'Empty password!\n' : "PASSWORDS DON'T MATCH!\n");
      continue;
    }
    password = first;
  }
  if (password === undefined) throw config(`no password chosen after ${PROMPT_TRIES} tries`);
  const where = src ? describeSource(src) : 'password';
  if (password === '') throw config(`${where}: expected a password, got an empty one`);
  try {
    passwordBytes(password);
  } catch (err) {
    throw config(`${where}: ${(err as Error).message}`);
  }
  return password;
}

export interface OpenKey {
  readonly publicKey: Buffer;
  readonly privateKey: Buffer;
}

/**
 * The key file named by -k, decrypted. A wrong password typed at the terminal is asked for again,
 * up to three times ("Password incorrect!", as tackpy says); from -p or --pass it is an error.
 */
export async function openKey(s: Session): Promise<OpenKey> {
  const path = s.opt('-k');
  if (path === undefined) throw usage(`${s.command}: expected -k KEY (a TACK key file, '-' for stdin), got none`);
  const src = s.passwordSource();
  const where = `-k ${path}`;
  const bytes = await s.read(path, '-k');
  let kf;
  try {
    kf = decodeKeyFile(decodePem(bytes.toString('latin1'), LABELS.key));
  } catch (err) {
    if (err instanceof TackError) throw config(`${where}: ${err.message}`);
    throw err;
  }
  for (let i = 1; ; i++) {
    const password = src ? s.password(src) : await s.prompt('Enter password for key file: ');
    try {
      return { publicKey: kf.publicKey, privateKey: openKeyFile(kf, password) };
    } catch (err) {
      if (!(err instanceof TackError)) throw err;
      const wrong = err.kind === 'password';
      if (wrong && !src && i < PROMPT_TRIES) {
        s.io.err('Password incorrect!\n');
        continue;
      }
      throw config(`${where}: ${err.message}${wrong && src ? ` (from ${describeSource(src)})` : ''}`);
    }
  }
}
