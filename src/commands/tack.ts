// commands/tack.ts: `tlsify tack genkey|sign|break|view|help`, the operator tool of tackpy 0.9.7
// (tack.py; facts §1.9) with its option syntax, files and view layout, so files pass both ways.
//
// Differences from tackpy, each on purpose:
// - errors say expected / got and exit with tlsify's codes (2 usage, 3 a file or password,
//   13 aborted at a prompt) instead of "ERROR: ..." and 255;
// - `--pass env:VAR|fd:N|file:PATH` beside `-p`; prompting needs a terminal and gives up after
//   3 tries; a non-ASCII or (for genkey) empty password is refused, as tackpy could not use it;
// - `genkey -o FILE` creates FILE with mode 0600 and never overwrites an existing file;
// - `sign -n NUM@INTERVAL` without -e starts at now + INTERVAL (tackpy 0.9.7 crashed there);
// - an unknown or repeated option is an error; `-x` (pure-Python crypto) is accepted and does
//   nothing: there is one implementation; the hidden `cert` command is not provided.
//
// Import this module with `await import()`: it loads @noble/curves and @noble/hashes.
import { randomBytes } from 'node:crypto';
import { TlsifyError, exitStatus } from '../codes.ts';
import { VERSION } from '../version.ts';
import { encodeBreakSig, signBreakSig } from '../tack/break-sig.ts';
import { defaultExpiration, readCertificate, type CertificateFacts } from '../tack/certificate.ts';
import { TackError } from '../tack/error.ts';
import { OptionError, getopt, type OptionSpec } from '../tack/getopt.ts';
import { COMMAND_HELP, GENERAL_HELP, TACK_COMMANDS, type TackCommand } from '../tack/help.ts';
import { decodeKeyFile, encodeKeyFile, openKeyFile, sealKeyFile } from '../tack/keyfile.ts';
import { randomScalar } from '../tack/p256.ts';
import { LABELS, encodePem, pemComments } from '../tack/pem.ts';
import { PromptAborted } from '../tack/prompt.ts';
import { Session, newPassword, openKey, usage, type TackIo } from '../tack/session.ts';
import { encodeTack, parseTack, signTack, type Tack } from '../tack/tack.ts';
import { MAX_MINUTES, ceilMinutes, parseDuration, parseExpiration } from '../tack/time.ts';
import { viewBreakSigs, viewFile, viewKeyFile, viewTack } from '../tack/view.ts';

export type { TackIo } from '../tack/session.ts';

const SPECS: Record<TackCommand, OptionSpec> = {
  genkey: { values: 'po', flags: 'vx', long: ['pass'] },
  sign: { values: 'kcopmgen', flags: 'vx', long: ['pass'] },
  break: { values: 'pok', flags: 'vx', long: ['pass'] },
  view: { values: '', flags: 'x', long: [] },
  help: { values: '', flags: '', long: [] },
};

const PRODUCER = `tlsify ${VERSION} (tack.py 0.9.7 formats)`;
const CRYPTO_LINE = 'Crypto         = @noble/curves P-256, @noble/hashes, node:crypto AES\n';

/** Runs `tlsify tack ARGS...`: results on io.out, errors on io.err; returns the exit status. */
export async function runTack(argv: string[], io: TackIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    const e = asCommandError(err);
    if (!e) throw err; // a bug: main reports it as internal
    io.err(`tlsify tack: ${e.message}\n`);
    if (e.code === 'usage') io.err("(see 'tlsify tack help')\n");
    return exitStatus(e.code);
  }
}

function asCommandError(err: unknown): TlsifyError | undefined {
  if (err instanceof TlsifyError) return err;
  if (err instanceof OptionError) return usage(err.message);
  if (err instanceof PromptAborted) return new TlsifyError('aborted', err.message);
  if (err instanceof TackError) return new TlsifyError('config', err.message);
  return undefined;
}

/** tackpy picks the first command the word is a prefix of: `s` is sign, `v` view (tack.py). */
function commandOf(word: string | undefined): TackCommand {
  const list = TACK_COMMANDS.join(', ');
  if (word === undefined || word === '') throw usage(`expected a command (${list}), got none`);
  const found = TACK_COMMANDS.find((c) => c.startsWith(word));
  if (found) return found;
  const hint = 'cert'.startsWith(word) ? " (tackpy's hidden cert command is not provided)" : '';
  throw usage(`expected a command (${list}, or a prefix of one), got '${word}'${hint}`);
}

async function dispatch(argv: string[], io: TackIo): Promise<number> {
  if (argv[0] === '--help' || argv[0] === '-h') {
    io.out(GENERAL_HELP);
    return 0;
  }
  const command = commandOf(argv[0]);
  const s = new Session(command, getopt(argv.slice(1), SPECS[command]), io);
  switch (command) {
    case 'help':
      return help(s);
    case 'view':
      return view(s);
    case 'genkey':
      return genkey(s);
    case 'sign':
      return sign(s);
    case 'break':
      return breakKey(s);
  }
}

function verbose(s: Session, text: string): void {
  if (s.flag('-v')) s.io.err(CRYPTO_LINE + text);
}

const pem = (s: Session, label: string, der: Buffer): string => pemComments(PRODUCER, s.now()) + encodePem(label, der);

async function genkey(s: Session): Promise<number> {
  s.noOperands();
  const password = await newPassword(s);
  const kf = sealKeyFile(randomScalar(), password, randomBytes(16));
  const der = encodeKeyFile(kf);
  openKeyFile(decodeKeyFile(der), password); // read back what was sealed before anyone relies on it
  s.write(s.opt('-o'), pem(s, LABELS.key, der), true);
  verbose(s, viewKeyFile(kf));
  return 0;
}

// ---- sign ----------------------------------------------------------------------------------

interface SignPlan {
  readonly cert: CertificateFacts;
  readonly minGeneration: number;
  readonly generation: number;
  readonly expiration: number;
  readonly batch: { readonly count: number; readonly interval: number; readonly prefix: string } | undefined;
}

function generationOpt(s: Session, name: '-m' | '-g', what: string, fallback: number): number {
  const v = s.opt(name);
  if (v === undefined) return fallback;
  if (!/^\d{1,3}$/.test(v) || Number(v) > 255) throw usage(`${name}: expected ${what} from 0 to 255, got '${v}'`);
  return Number(v);
}

function batchOpt(s: Session): { count: number; interval: number } | undefined {
  const v = s.opt('-n');
  if (v === undefined) return undefined;
  const m = /^(\d{1,4})@(.*)$/.exec(v);
  const interval = m ? parseDuration(m[2]!) : undefined;
  if (!m || Number(m[1]) < 1 || interval === undefined) {
    throw usage(`-n: expected NUM@INTERVAL with NUM from 1 to 9999 and INTERVAL a delta like 1d or 12h30m, got '${v}'`);
  }
  return { count: Number(m[1]), interval };
}

/** Every option of sign checked, and the certificate read, before a password is asked for. */
async function signPlan(s: Session): Promise<SignPlan> {
  s.noOperands();
  if (s.opt('-k') === undefined) throw usage("sign: expected -k KEY (a TACK key file, '-' for stdin), got none");
  const certPath = s.opt('-c');
  if (certPath === undefined) throw usage("sign: expected -c CERT (the server certificate, PEM or DER, '-' for stdin), got none");
  if (certPath === '-' && s.opt('-k') === '-') throw usage("-c and -k cannot both be read from stdin ('-')");
  // tackpy: min_generation defaults to 0, generation to min_generation.
  const minGeneration = generationOpt(s, '-m', 'a min_generation', 0);
  const generation = generationOpt(s, '-g', 'a generation', minGeneration);
  if (generation < minGeneration) throw usage(`-g: expected a generation >= min_generation ${minGeneration}, got ${generation}`);
  const n = batchOpt(s);
  const prefix = s.opt('-o');
  if (n && prefix === undefined) throw usage('-n: expected -o PREFIX as well: the TACKs go to PREFIX_0000.pem, PREFIX_0001.pem, ...');
  const e = s.opt('-e');
  let start: number | undefined;
  if (e !== undefined) {
    try {
      start = parseExpiration(e, s.now());
    } catch (err) {
      if (err instanceof TackError) throw usage(`-e: ${err.message}`);
      throw err;
    }
  } else if (n) {
    start = ceilMinutes(s.now()) + n.interval; // tackpy 0.9.7 crashed here: see the header
  }
  const cert = await readCert(s, certPath);
  const expiration = start ?? defaultExpiration(cert);
  const last = expiration + (n ? (n.count - 1) * n.interval : 0);
  if (last > MAX_MINUTES) throw usage(`expected expirations that fit TACK's 32-bit minute count, got one ${last - MAX_MINUTES} minutes past it`);
  return { cert, minGeneration, generation, expiration, batch: n && prefix !== undefined ? { ...n, prefix } : undefined };
}

async function readCert(s: Session, path: string): Promise<CertificateFacts> {
  const bytes = await s.read(path, '-c');
  try {
    return readCertificate(bytes);
  } catch (err) {
    if (err instanceof TackError) throw new TlsifyError('config', `-c ${path}: ${err.message}`);
    throw err;
  }
}

async function sign(s: Session): Promise<number> {
  const plan = await signPlan(s);
  const key = await openKey(s);
  const make = (expiration: number): Tack => {
    const fields = { publicKey: key.publicKey, minGeneration: plan.minGeneration, generation: plan.generation, expiration, targetHash: plan.cert.keySha256 };
    return parseTack(encodeTack(signTack(fields, key.privateKey))); // verify what we sign, as tackpy's signer did
  };
  if (!plan.batch) {
    const tack = make(plan.expiration);
    s.write(s.opt('-o'), pem(s, LABELS.tack, encodeTack(tack)));
    verbose(s, viewTack(tack));
    return 0;
  }
  for (let i = 0; i < plan.batch.count; i++) {
    const tack = make(plan.expiration + i * plan.batch.interval);
    s.write(`${plan.batch.prefix}_${String(i).padStart(4, '0')}.pem`, pem(s, LABELS.tack, encodeTack(tack)));
    verbose(s, viewTack(tack));
  }
  return 0;
}

// ---- break, view, help ---------------------------------------------------------------------

async function breakKey(s: Session): Promise<number> {
  s.noOperands();
  const key = await openKey(s);
  const sig = signBreakSig(key.publicKey, key.privateKey);
  s.write(s.opt('-o'), pem(s, LABELS.breakSig, encodeBreakSig(sig)));
  verbose(s, viewBreakSigs([sig]));
  return 0;
}

async function view(s: Session): Promise<number> {
  const [file, ...rest] = s.parsed.operands;
  if (file === undefined) throw usage("view: expected a FILE to view ('-' for stdin), got none");
  if (rest.length > 0) throw usage(`view: expected one FILE, got ${s.parsed.operands.length}`);
  const bytes = await s.read(file, 'view');
  try {
    s.io.out(viewFile(bytes).text);
  } catch (err) {
    if (err instanceof TackError) throw new TlsifyError('config', `${file === '-' ? 'stdin' : file}: ${err.message}`);
    throw err;
  }
  return 0;
}

function help(s: Session): number {
  const [name, ...rest] = s.parsed.operands;
  if (name === undefined) {
    s.io.out(GENERAL_HELP);
    return 0;
  }
  if (rest.length > 0) throw usage(`help: expected one COMMAND, got ${s.parsed.operands.length}`);
  const text = (TACK_COMMANDS as readonly string[]).includes(name) ? COMMAND_HELP[name as TackCommand] : undefined;
  if (text === undefined) throw usage(`help: expected one of ${TACK_COMMANDS.join(', ')}, got '${name}'`);
  s.io.out(text);
  return 0;
}
