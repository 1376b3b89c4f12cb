// trust/anchors.ts: a set of trust anchors, indexed by subject for path building. Loading
// from disk lives in store.ts, except for hashed directories, which are read here on lookup, as
// OpenSSL's by_dir.c does. Certificates are parsed only when a path needs them: the system
// store holds ~150 roots and a connection uses one.
import fs from 'node:fs';
import path from 'node:path';
import { TlsifyError } from '../codes.ts';
import { parseCertificate, type Cert } from './cert.ts';
import { pemBlocks } from './pem.ts';
import { DerReader, readDer } from './der.ts';
import { opensslNameHash } from './name-hash.ts';

export interface Anchor {
  readonly cert: Cert;
  /** Where it came from, for the control channel: e.g. 'system', 'file:/etc/tlsify/ca.pem'. */
  readonly source: string;
}

export interface AnchorSet {
  /** The set's name as the user gave it: 'system', 'file:PATH', joined with '+'. */
  readonly name: string;
  /**
   * How many certificates were indexed when the set was made: the eager inputs only. What the
   * hashed directories hold is not counted (it is read only on lookup), so a set can have size
   * 0 and still find anchors; check `hashedDirs` too before calling a set empty.
   */
  readonly size: number;
  /**
   * PEM texts for node:tls `ca`: the eager inputs only, never what sits in `hashedDirs`. A
   * caller that passes these as `ca` must point OpenSSL at the hashed directories itself.
   */
  readonly pems: readonly string[];
  /** The directories looked up by subject hash, in lookup order; empty for most sets. */
  readonly hashedDirs: readonly HashedDir[];
  /** The anchors whose subject Name is byte-for-byte `subjectDer`; reads hashed files as needed. */
  bySubject(subjectDer: Buffer): readonly Anchor[];
  /** The anchor whose certificate is byte-for-byte `der`, if any (a self-signed peer pinned via --ca). */
  byDer(der: Buffer): Anchor | undefined;
}

export interface AnchorInput {
  readonly der: Buffer;
  readonly source: string;
}

/** A directory of <subject hash>.N files (c_rehash, `openssl rehash`); `source` names its set. */
export interface HashedDir {
  readonly dir: string;
  readonly source: string;
}

export type SkipBad = (where: string, why: string) => void;

interface Entry {
  readonly input: AnchorInput;
  readonly where: string;
  anchor?: Anchor | null; // null: parsed, and unusable
}

/**
 * Index `inputs`. Without `skipBad` every certificate is parsed now and one that does not parse
 * is a config error (a file the user named). With it (the system store, as OpenSSL does there)
 * parsing waits for a lookup, and a certificate that does not parse is reported and skipped.
 *
 * `hashedDirs` are read on lookup only: for a subject, <dir>/<opensslNameHash>.0, .1, ... up to
 * the first missing number, each file one PEM or DER certificate. Files that cannot be used
 * always go to `skipBad` (if given) and are left out, as in the system store. A certificate
 * already in the set (same DER) keeps the source it was first indexed with; eager inputs come
 * first, so a root both in a bundle and in a hashed directory belongs to the bundle's set.
 */
export function anchorSet(name: string, inputs: readonly AnchorInput[], skipBad?: SkipBad, hashedDirs: readonly HashedDir[] = []): AnchorSet {
  const bySubject = new Map<string, Entry[]>();
  const byDer = new Map<string, Entry>();
  const add = (entry: Entry, subject: string): void => {
    byDer.set(entry.input.der.toString('base64'), entry);
    bySubject.set(subject, [...(bySubject.get(subject) ?? []), entry]);
  };
  for (const [i, input] of inputs.entries()) {
    if (byDer.has(input.der.toString('base64'))) continue;
    const entry: Entry = { input, where: `${input.source}: certificate ${i + 1}` };
    if (!skipBad) entry.anchor = parseStrict(entry);
    const subject = subjectOf(input.der);
    if (subject === undefined) {
      skipBad?.(entry.where, 'not a DER certificate');
      continue;
    }
    add(entry, subject);
  }
  const size = byDer.size;

  // by_dir.c keeps what it has loaded per hash; so do we, for the life of the set.
  const readHashes = new Set<string>();
  const readDirs = (subjectDer: Buffer): void => {
    if (hashedDirs.length === 0) return;
    const hash = hashOf(subjectDer);
    if (hash === undefined || readHashes.has(hash)) return;
    readHashes.add(hash);
    const wanted = subjectDer.toString('hex');
    for (const { dir, source } of hashedDirs) {
      readHashedFiles(dir, hash, skipBad, (der, where) => {
        if (byDer.has(der.toString('base64'))) return;
        const subject = subjectOf(der);
        if (subject === undefined) return skipBad?.(where, 'not a DER certificate');
        // A certificate filed under another subject's hash would be found or not depending on
        // which lookup came first; leave it out, so a lookup never depends on the ones before.
        const own = subject === wanted ? hash : hashOf(Buffer.from(subject, 'hex'));
        if (own !== hash) return skipBad?.(where, `expected a certificate whose subject hashes to ${hash}, got one hashing to ${own ?? 'nothing'}; run openssl rehash`);
        add({ input: { der, source }, where }, subject);
      });
    }
  };

  const resolve = (entry: Entry): Anchor | undefined => {
    if (entry.anchor === undefined) {
      try {
        entry.anchor = { cert: parseCertificate(entry.input.der), source: entry.input.source };
      } catch (err) {
        entry.anchor = null;
        skipBad?.(entry.where, (err as Error).message);
      }
    }
    return entry.anchor ?? undefined;
  };
  let pems: readonly string[] | undefined;
  return Object.freeze({
    name,
    size,
    get pems() {
      // A Map keeps insertion order, so its first `size` keys are the eager inputs.
      return (pems ??= Object.freeze([...byDer.keys()].slice(0, size).map(toPem)));
    },
    hashedDirs: Object.freeze([...hashedDirs]),
    bySubject: (subjectDer: Buffer) => {
      readDirs(subjectDer);
      return (bySubject.get(subjectDer.toString('hex')) ?? []).map(resolve).filter((a): a is Anchor => a !== undefined);
    },
    byDer: (der: Buffer) => {
      const key = der.toString('base64');
      if (!byDer.has(key)) {
        const subject = subjectOf(der);
        if (subject !== undefined) readDirs(Buffer.from(subject, 'hex'));
      }
      const entry = byDer.get(key);
      return entry ? resolve(entry) : undefined;
    },
  });
}

/**
 * `take` each certificate of <dir>/<hash>.0, .1, ... up to the first number with no file (a
 * missing directory or a dangling link ends the run too, as stat() does in by_dir.c). A file
 * that cannot be read or decoded goes to `skipBad` and the run goes on. by_dir.c would stop
 * there instead; going on finds more anchors than OpenSSL, never fewer.
 */
function readHashedFiles(dir: string, hash: string, skipBad: SkipBad | undefined, take: (der: Buffer, where: string) => void): void {
  for (let n = 0; ; n++) {
    const file = path.join(dir, `${hash}.${n}`);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      skipBad?.(file, `cannot read: ${code ?? (err as Error).message}`);
      continue;
    }
    let ders: Buffer[];
    try {
      ders = fileCerts(bytes);
    } catch (err) {
      skipBad?.(file, (err as Error).message);
      continue;
    }
    if (ders.length === 0) skipBad?.(file, 'expected a PEM or DER certificate, found none');
    for (const [i, der] of ders.entries()) take(der, ders.length === 1 ? file : `${file}: certificate ${i + 1}`);
  }
}

/**
 * The CERTIFICATE blocks of a PEM file (TRUSTED CERTIFICATE is left out, as in store.ts), or,
 * with no PEM block at all, the file as one DER element if it starts with a SEQUENCE.
 */
function fileCerts(bytes: Buffer): Buffer[] {
  const blocks = pemBlocks(bytes.toString('latin1'));
  if (blocks.length === 0) return bytes[0] === 0x30 ? [readDer(bytes).raw] : [];
  return blocks.filter((b) => b.label === 'CERTIFICATE').map((b) => b.der);
}

/** OpenSSL cannot decode a Name that opensslNameHash rejects, so no hashed file holds one. */
function hashOf(nameDer: Buffer): string | undefined {
  try {
    return opensslNameHash(nameDer);
  } catch {
    return undefined;
  }
}

function parseStrict(entry: Entry): Anchor {
  try {
    return { cert: parseCertificate(entry.input.der), source: entry.input.source };
  } catch (err) {
    throw new TlsifyError('config', `${entry.where}: ${(err as Error).message}`, { cause: err });
  }
}

/** The subject Name's DER (hex), read without parsing the rest (RFC 5280 §4.1). */
function subjectOf(der: Buffer): string | undefined {
  try {
    const tbs = new DerReader(der).sequence().sequence();
    tbs.explicit(0); // version
    tbs.read(); // serialNumber
    tbs.read(); // signature
    tbs.read(); // issuer
    tbs.read(); // validity
    return tbs.read().raw.toString('hex');
  } catch {
    return undefined;
  }
}

/** RFC 7468 §2: base64 lines of 64 characters, no empty line before the end marker. */
function toPem(base64: string): string {
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
