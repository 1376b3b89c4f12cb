// trust/store.ts: the --ca-set sources of trust anchors (system, bundled, system-no-local,
// file:PATH, dir:PATH, @NAME, none): parse and name them, and read them into one AnchorSet.
// The system store follows OpenSSL's conventions (crypto/x509/by_file.c, by_dir.c): the bundle
// file is read now, hashed directories only on lookup (anchors.ts), so start-up reads one file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { TlsifyError } from '../codes.ts';
import { anchorSet, type AnchorInput, type AnchorSet, type HashedDir } from './anchors.ts';
import { parseCertificate } from './cert.ts';
import { pemBlocks } from './pem.ts';
import { DerReader, readDer } from './der.ts';
import type { CaSet } from './policy.ts';

export type SkipBad = (where: string, why: string) => void;

export interface StoreOptions {
  /** Prefixed to the built-in system paths (never to paths the user gives): tests build a fake tree. Default '/'. */
  readonly root?: string;
  /** Read for SSL_CERT_FILE, SSL_CERT_DIR, XDG_CONFIG_HOME and HOME. Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Stands for $XDG_CONFIG_HOME; by default worked out from `env` as the XDG spec says. */
  readonly configHome?: string;
}

interface Context {
  readonly root: string;
  readonly env: NodeJS.ProcessEnv;
  readonly configHome: string | undefined;
  readonly skipBad: SkipBad;
}

const FORMS = 'system|bundled|system-no-local|file:PATH|dir:PATH|@NAME|none';
const NAME = /^[A-Za-z0-9._-]+$/;

/** One --ca-set argument. */
export function parseCaSet(text: string): CaSet {
  if (text === 'system' || text === 'bundled' || text === 'system-no-local' || text === 'none') return Object.freeze({ kind: text });
  for (const kind of ['file', 'dir'] as const) {
    if (!text.startsWith(`${kind}:`)) continue;
    if (text.length === kind.length + 1) throw usage(`--ca-set: expected a path after '${kind}:', got '${text}'`);
    return Object.freeze({ kind, path: text.slice(kind.length + 1) });
  }
  if (text.startsWith('@')) {
    const name = text.slice(1);
    // No '/' can get in, so @NAME never leaves the ca-sets directory.
    if (!NAME.test(name)) throw usage(`--ca-set: expected @NAME with NAME of [A-Za-z0-9._-]+, got '${text}'`);
    return Object.freeze({ kind: 'named', name });
  }
  throw usage(`--ca-set: expected one of ${FORMS}, got '${text}'`);
}

/** The set as the user writes it; parseCaSet(describeCaSet(s)) gives s back. */
export function describeCaSet(set: CaSet): string {
  switch (set.kind) {
    case 'file':
    case 'dir':
      return `${set.kind}:${set.path}`;
    case 'named':
      return `@${set.name}`;
    default:
      return set.kind;
  }
}

/**
 * The union of `sets`, named 'a+b'. Each anchor's source is the set it came from; a certificate
 * in several sets belongs to the first. The user's own files (file:, @NAME) must parse in full;
 * what cannot be used in the other sets goes to `skipBad` and is left out, as OpenSSL does
 * (anchorSet names such a certificate 'SET: certificate N', N counted across the whole union).
 */
export function loadCaSets(sets: readonly CaSet[], skipBad: SkipBad, opts: StoreOptions = {}): AnchorSet {
  const unique = [...new Map(sets.map((s) => [describeCaSet(s), s])).values()];
  const names = unique.map(describeCaSet);
  if (unique.length === 0) throw usage(`--ca-set: expected at least one of ${FORMS}, got none`);
  if (unique.length > 1 && names.includes('none')) throw usage(`--ca-set: expected 'none' alone (it trusts no CA), got ${names.join('+')}`);
  const ctx: Context = { root: opts.root ?? '/', env: opts.env ?? process.env, configHome: opts.configHome, skipBad };
  const inputs: AnchorInput[] = [];
  const hashedDirs: HashedDir[] = [];
  for (const [i, set] of unique.entries()) {
    const source = names[i]!;
    const { ders, dirs } = readSet(set, ctx);
    for (const der of ders) inputs.push({ der, source });
    for (const dir of dirs) hashedDirs.push({ dir, source });
  }
  return anchorSet(names.join('+'), inputs, skipBad, hashedDirs);
}

/** What a set contributes: certificates read now, and hashed directories to look up later. */
interface Contents {
  readonly ders: Buffer[];
  readonly dirs: string[];
}

function readSet(set: CaSet, ctx: Context): Contents {
  const eager = (ders: Buffer[]): Contents => ({ ders, dirs: [] });
  switch (set.kind) {
    case 'system':
      return systemCerts(ctx);
    case 'bundled':
      // Node's copy of the Mozilla list; read only here, as building it costs a few milliseconds.
      return eager(tls.rootCertificates.flatMap((pem) => certificates(pemBlocks(pem))));
    case 'system-no-local':
      return eager(distributionCerts(ctx));
    case 'file':
      return eager(strictFile(set.path, `file:${set.path}`));
    case 'dir':
      return userDir(set.path, ctx.skipBad);
    case 'named':
      return eager(namedCerts(set.name, ctx));
    case 'none':
      return eager([]);
  }
}

// --- system -------------------------------------------------------------------------------

/**
 * OpenSSL's default file is OPENSSLDIR/cert.pem, and OPENSSLDIR differs between builds, so take
 * the first of the bundles distributions keep (Go's crypto/x509 root_linux.go lists the same).
 */
const SYSTEM_FILES = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Gentoo, Arch, Alpine
  '/etc/pki/tls/certs/ca-bundle.crt', // Fedora, RHEL
  '/etc/ssl/ca-bundle.pem', // openSUSE
  '/etc/pki/tls/cacert.pem', // OpenELEC
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem', // CentOS, RHEL 7
  '/etc/ssl/cert.pem', // Alpine, macOS, BSDs
];
/** OpenSSL's default hashed directory (OPENSSLDIR/certs on Debian-built OpenSSL; on Fedora a link to /etc/pki/tls/certs). */
const SYSTEM_DIR = '/etc/ssl/certs';
/** by_dir.c looks certificates up as <subject hash>.<n>; nothing else in the directory is seen. */
const HASHED_NAME = /^[0-9a-f]{8}\.[0-9]+$/;

/** The bundle file and the hashed directories the system set uses, and how to say where it looked. */
interface SystemPaths {
  readonly file: string | undefined;
  readonly dirs: string[];
  readonly looked: string[];
}

/**
 * As in OpenSSL's X509_STORE_set_default_paths, SSL_CERT_FILE replaces only the default file
 * and SSL_CERT_DIR (colon-separated) only the default directory; a variable set but empty names
 * nothing. A directory counts only if it is hashed: by_dir.c opens nothing but <hash>.N names,
 * so in any other directory (or one that is missing or unreadable) OpenSSL finds nothing.
 */
function systemPaths(root: string, env: NodeJS.ProcessEnv): SystemPaths {
  const looked: string[] = [];
  let file: string | undefined;
  if (env.SSL_CERT_FILE !== undefined) {
    looked.push(`SSL_CERT_FILE=${env.SSL_CERT_FILE}`);
    file = env.SSL_CERT_FILE || undefined;
  } else {
    const candidates = SYSTEM_FILES.map((f) => path.join(root, f));
    file = candidates.find((f) => fs.existsSync(f));
    looked.push(file ?? `one of ${candidates.join(', ')}`);
  }
  const dirs = env.SSL_CERT_DIR !== undefined ? env.SSL_CERT_DIR.split(':').filter(Boolean) : [path.join(root, SYSTEM_DIR)];
  looked.push(env.SSL_CERT_DIR !== undefined ? `SSL_CERT_DIR=${env.SSL_CERT_DIR}` : `${dirs[0]}/<hash>.N`);
  // add_cert_dir in by_dir.c keeps a directory listed twice once.
  return { file, dirs: [...new Set(dirs)].filter((dir) => isHashedDirQuietly(dir)), looked };
}

/**
 * The bundle file and the hashed directories of the `system` set, for a caller that lets
 * OpenSSL read the same store natively. `dir` joins several directories with ':', the form of
 * SSL_CERT_DIR and X509_LOOKUP_add_dir; it is undefined when no directory is hashed.
 */
export function opensslSystemPaths(opts: StoreOptions = {}): { file: string | undefined; dir: string | undefined } {
  const { file, dirs } = systemPaths(opts.root ?? '/', opts.env ?? process.env);
  return { file, dir: dirs.length > 0 ? dirs.join(':') : undefined };
}

/** The default file, read now; the hashed directories, looked up by subject hash when a path needs them. */
function systemCerts(ctx: Context): Contents {
  const { file, dirs, looked } = systemPaths(ctx.root, ctx.env);
  const where = ctx.env.SSL_CERT_FILE !== undefined ? `system: SSL_CERT_FILE=${file}` : `system: ${file}`;
  const ders = file === undefined ? [] : pemFile(file, where);
  if (ders.length === 0 && dirs.length === 0) throw config(`system: expected certificates in ${looked.join(' or ')}, found none; try --ca-set bundled or file:PATH`);
  return { ders, dirs };
}

// --- system-no-local ----------------------------------------------------------------------

/**
 * How each certificate tool keeps the distribution's roots apart from local additions.
 * marker: a path only that tool's systems have; bundle: the merged store it writes;
 * local: where it takes local additions from (subdirectories included; `only` filters names).
 */
const PLATFORMS: readonly { name: string; marker: string; bundle: string; local: readonly { dir: string; only?: RegExp }[] }[] = [
  {
    // update-ca-certificates(8) merges the roots selected in /etc/ca-certificates.conf (from
    // /usr/share/ca-certificates) with every *.crt below /usr/local/share/ca-certificates.
    name: 'update-ca-certificates (Debian, Ubuntu)',
    marker: '/etc/ca-certificates.conf',
    bundle: '/etc/ssl/certs/ca-certificates.crt',
    local: [{ dir: '/usr/local/share/ca-certificates', only: /\.crt$/ }],
  },
  {
    // update-ca-trust(8): the distribution's list is ca-certificates' own
    // /usr/share/pki/ca-trust-source/ca-bundle.trust.p11-kit. That package ships
    // /usr/share/pki/ca-trust-source/anchors empty: it is where *other* packages add anchors
    // (a corporate CA RPM, say), so it counts as local, like everything the administrator puts
    // below /etc/pki/ca-trust/source (anchors/, blocklist/, *.p11-kit; blocklisted certificates
    // are not in the bundle anyway, so removing them changes nothing).
    name: 'update-ca-trust (Fedora, RHEL)',
    marker: '/etc/pki/ca-trust',
    bundle: '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
    local: [{ dir: '/etc/pki/ca-trust/source' }, { dir: '/usr/share/pki/ca-trust-source/anchors' }],
  },
];

/**
 * The tool's bundle minus every certificate found in its local directories. SSL_CERT_FILE and
 * SSL_CERT_DIR are ignored: they are local settings too. Certificates are compared by DER, so a
 * local re-issue of a distribution root (same key, other bytes) leaves the distribution's copy.
 * Hashed certificates put straight into /etc/ssl/certs are not in the bundle, so not here either.
 */
function distributionCerts(ctx: Context): Buffer[] {
  const at = (p: string) => path.join(ctx.root, p);
  const platform = PLATFORMS.find((p) => fs.existsSync(at(p.marker)));
  if (!platform) {
    const wanted = PLATFORMS.map((p) => `${at(p.marker)} (${p.name})`).join(' or ');
    throw config(`system-no-local: cannot tell the distribution's roots from local ones: expected ${wanted}, found neither`);
  }
  const bundle = at(platform.bundle);
  if (!fs.existsSync(bundle)) throw config(`system-no-local: expected the bundle of ${platform.name} at ${bundle}, found no such file`);
  const local = new Set<string>();
  for (const { dir, only } of platform.local) {
    for (const der of localCerts(at(dir), only)) local.add(der.toString('base64'));
  }
  return pemFile(bundle, `system-no-local: ${bundle}`).filter((der) => !local.has(der.toString('base64')));
}

/**
 * Fails closed: a local certificate that cannot be read could not be left out. A missing
 * directory, or a dangling link, holds nothing to leave out.
 */
function localCerts(dir: string, only: RegExp | undefined): Buffer[] {
  const fail = (where: string, err: unknown): void => {
    if (errno(err) === 'ENOENT') return;
    throw config(`system-no-local: cannot tell which certificates were added locally: ${where}: ${(err as Error).message}`, err);
  };
  try {
    return dirCerts(dir, (name) => !only || only.test(name), recognise, fail, true);
  } catch (err) {
    if (err instanceof TlsifyError) throw err;
    fail(dir, err);
    return [];
  }
}

// --- the user's files -----------------------------------------------------------------------

/** @NAME: $XDG_CONFIG_HOME/tlsify/ca-sets/NAME.pem. */
function namedCerts(name: string, ctx: Context): Buffer[] {
  const file = path.join(ctx.configHome ?? xdgConfigHome(ctx.env), 'tlsify', 'ca-sets', `${name}.pem`);
  if (!fs.existsSync(file)) throw config(`@${name}: expected a PEM file at ${file}, found no such file`);
  return strictFile(file, `@${name} (${file})`);
}

/** XDG Base Directory spec: an unset, empty or relative XDG_CONFIG_HOME means $HOME/.config. */
function xdgConfigHome(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_CONFIG_HOME;
  if (xdg && path.isAbsolute(xdg)) return xdg;
  return path.join(env.HOME || os.homedir(), '.config');
}

/** A file the user named: it must hold certificates, and each must parse. */
function strictFile(file: string, where: string): Buffer[] {
  const ders = pemFile(file, where);
  if (ders.length === 0) throw config(`${where}: expected PEM certificates (-----BEGIN CERTIFICATE-----), found none`);
  for (const [i, der] of ders.entries()) {
    try {
      parseCertificate(der);
    } catch (err) {
      throw config(`${where}: certificate ${i + 1}: ${(err as Error).message}`, err);
    }
  }
  return ders;
}

/**
 * dir:PATH. A hashed directory (one <hash>.N name at least) is used as `openssl -CApath` uses
 * it: looked up by subject hash, its other files never read. Any other directory: every regular
 * file, read now; one certificate at least.
 */
function userDir(dir: string, skipBad: SkipBad): Contents {
  let ders: Buffer[];
  try {
    if (isHashedDir(dir)) return { ders: [], dirs: [dir] };
    ders = dirCerts(dir, () => true, pemCerts, (file, err) => skipBad(file, (err as Error).message));
  } catch (err) {
    throw config(`dir:${dir}: cannot read: ${errno(err)}`, err);
  }
  if (ders.length === 0) throw config(`dir:${dir}: expected PEM certificates (-----BEGIN CERTIFICATE-----) in its files, found none`);
  return { ders, dirs: [] };
}

// --- reading --------------------------------------------------------------------------------

/** The certificates of a PEM file; a file that cannot be read or has a broken block is a config error. */
function pemFile(file: string, where: string): Buffer[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'latin1');
  } catch (err) {
    throw config(`${where}: cannot read: ${errno(err)}`, err);
  }
  try {
    return certificates(pemBlocks(text));
  } catch (err) {
    throw config(`${where}: ${(err as Error).message}`, err);
  }
}

/**
 * `read` applied to the regular files of `dir` whose names `pick` accepts, in name order, links
 * followed; with `recurse`, subdirectories too. A directory that cannot be listed throws; a file
 * that cannot be used goes to `onBad`.
 */
function dirCerts(dir: string, pick: (name: string) => boolean, read: (bytes: Buffer) => Buffer[], onBad: (file: string, err: unknown) => void, recurse = false): Buffer[] {
  const out: Buffer[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const file = path.join(dir, entry.name);
    try {
      const kind = entry.isSymbolicLink() ? fs.statSync(file) : entry;
      if (recurse && kind.isDirectory()) out.push(...dirCerts(file, pick, read, onBad, recurse));
      else if (kind.isFile() && pick(entry.name)) out.push(...read(fs.readFileSync(file)));
    } catch (err) {
      onBad(file, err);
    }
  }
  return out;
}

/**
 * Whether `dir` holds a <hash>.N name. Reads entries only until the first one (opendir reads
 * them in batches), so a large directory costs about one getdents call. Throws if unreadable.
 */
function isHashedDir(dir: string): boolean {
  const d = fs.opendirSync(dir);
  try {
    for (let entry = d.readSync(); entry !== null; entry = d.readSync()) {
      if (HASHED_NAME.test(entry.name)) return true;
    }
    return false;
  } finally {
    d.closeSync();
  }
}

/** by_dir.c, too, finds nothing in a directory it cannot read (SSL_CERT_DIR lists often name missing ones). */
function isHashedDirQuietly(dir: string): boolean {
  try {
    return isHashedDir(dir);
  } catch {
    return false;
  }
}

const pemCerts = (bytes: Buffer): Buffer[] => certificates(pemBlocks(bytes.toString('latin1')));

/** The DER of each CERTIFICATE block. 'TRUSTED CERTIFICATE' is not trusted here: its trust settings would be lost. */
function certificates(blocks: readonly { label: string; der: Buffer }[]): Buffer[] {
  return blocks.filter((b) => b.label === 'CERTIFICATE').map((b) => b.der);
}

/**
 * For subtraction only, so any form a tool accepts: PEM certificates, OpenSSL's TRUSTED
 * CERTIFICATE (the certificate, then its trust settings), or one DER certificate (update-ca-trust
 * takes DER anchors).
 */
function recognise(bytes: Buffer): Buffer[] {
  const blocks = pemBlocks(bytes.toString('latin1'));
  if (blocks.length === 0) return bytes[0] === 0x30 ? [readDer(bytes).raw] : [];
  return blocks.filter((b) => b.label === 'CERTIFICATE' || b.label === 'TRUSTED CERTIFICATE').map((b) => new DerReader(b.der).read().raw);
}

function errno(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

function usage(message: string): TlsifyError {
  return new TlsifyError('usage', message);
}

function config(message: string, cause?: unknown): TlsifyError {
  return new TlsifyError('config', message, cause === undefined ? undefined : { cause });
}
