// commands/pin.ts: `tlsify pin [FILE|-]...`: print the SPKI pin (RFC 7469 §2.4) of each certificate
// or key in PEM (RFC 7468) or DER, or with --hpkp one Public-Key-Pins header value (RFC 7469 §2.1).
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { TlsifyError } from '../codes.ts';
import { CertError, parseCertificate } from '../trust/cert.ts';
import { pemBlocks } from '../trust/pem.ts';
import { formatPin, hpkpHeader, pinFromSpki } from '../trust/pins.ts';
import type { Pin } from '../trust/policy.ts';

export interface PinArgs {
  /** Files to read; '-' is stdin; none means stdin. */
  files: string[];
  /** Print one Public-Key-Pins header value instead of one line per object. */
  hpkp: boolean;
  /** Files holding the backup keys (RFC 7469 §4.3); required with hpkp. */
  backup: string[];
  /** max-age in seconds for the header (RFC 7469 §2.1.2). */
  maxAge: number;
  includeSubDomains: boolean;
}

/** One certificate or key found in an input: its pin, the last output column, and where it was read. */
export interface PinnedObject {
  pin: Pin;
  label: string;
  where: string;
}

const MAX_INPUT = 16 * 1024 * 1024; // far above any certificate bundle; stops `tlsify pin /dev/zero`

/** Runs the command; `out` is called once per output line, each ending in '\n'. Returns the exit status. */
export async function runPin(args: PinArgs, out: (s: string) => void): Promise<number> {
  const files = args.files.length > 0 ? args.files : ['-'];
  if ([...files, ...args.backup].filter((f) => f === '-').length > 1) {
    throw new TlsifyError('usage', "pin: expected stdin ('-') at most once, got it more than once");
  }
  if (!args.hpkp && args.backup.length > 0) throw new TlsifyError('usage', 'pin: --backup only applies with --hpkp');
  if (args.hpkp && args.backup.length === 0) {
    // RFC 7469 §2.5, §4.3: a header whose pins all match the served chain is not noted by UAs.
    throw new TlsifyError('usage', 'pin --hpkp: expected at least one --backup FILE holding a key not in use (RFC 7469 §4.3), got none');
  }
  if (!Number.isSafeInteger(args.maxAge) || args.maxAge < 0) {
    throw new TlsifyError('usage', `pin --max-age: expected whole seconds, 0 or more, got ${args.maxAge}`);
  }
  const primary = await readAll(files);
  if (!args.hpkp) {
    // Everything is read before anything is printed: a bad third file leaves no partial output.
    for (const f of primary) out(`${formatPin(f.pin, 'curl')} ${formatPin(f.pin, 'hpkp')} ${f.label}\n`);
    return 0;
  }
  const backups = await readAll(args.backup);
  for (const b of backups) {
    const same = primary.find((p) => p.pin.hash.equals(b.pin.hash));
    if (same) {
      throw new TlsifyError('config', `${b.where}: expected a backup key that is not in use (RFC 7469 §4.3), got the same key as ${same.where} (${b.pin.text})`);
    }
  }
  out(hpkpHeader([...primary, ...backups].map((f) => f.pin), args.maxAge, args.includeSubDomains) + '\n');
  return 0;
}

async function readAll(files: readonly string[]): Promise<PinnedObject[]> {
  const found: PinnedObject[] = [];
  for (const file of files) {
    const name = file === '-' ? 'stdin' : file;
    const bytes = await readInput(file === '-' ? process.stdin : createReadStream(file), name);
    found.push(...decodeObjects(bytes, name));
  }
  return found;
}

async function readInput(stream: Readable, name: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      size += (chunk as Buffer).length;
      if (size > MAX_INPUT) throw new TlsifyError('config', `${name}: expected at most ${MAX_INPUT} bytes of PEM or DER, got more`);
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof TlsifyError) throw err;
    const e = err as NodeJS.ErrnoException;
    const code = name === 'stdin' ? 'local-io' : 'config';
    throw new TlsifyError(code, `${name}: expected a readable file, got ${e.code ?? 'an error'} (${e.message})`, { cause: err });
  } finally {
    if (stream !== process.stdin) stream.destroy();
  }
  return Buffer.concat(chunks);
}

const LABELS = ['CERTIFICATE', 'PUBLIC KEY', 'RSA PUBLIC KEY', 'PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY'] as const;
const PASSPHRASE = 'an unencrypted key (tlsify pin takes no passphrase: decrypt it first, or pin the certificate or the public key)';

/** Every certificate or key in one input, PEM or DER. Pure: bytes in, pins out. */
export function decodeObjects(bytes: Buffer, where: string): PinnedObject[] {
  if (bytes.length === 0) throw new TlsifyError('config', `${where}: expected PEM or DER, got an empty file`);
  const text = bytes.toString('latin1');
  if (text.includes('-----BEGIN ')) return decodePem(text, where);
  // DER always starts with a SEQUENCE for every form we take.
  if (bytes[0] !== 0x30) throw new TlsifyError('config', `${where}: expected PEM (-----BEGIN ...-----) or DER (a SEQUENCE, byte 0x30), got neither`);
  return [decodeDer(bytes, where)];
}

function decodePem(text: string, where: string): PinnedObject[] {
  refuseEncrypted(text, where);
  let blocks: { label: string; der: Buffer }[];
  try {
    blocks = pemBlocks(text);
  } catch (err) {
    if (err instanceof CertError) throw new TlsifyError('config', `${where}: ${err.message}`, { cause: err });
    throw err;
  }
  const found: PinnedObject[] = [];
  blocks.forEach(({ label, der }, i) => {
    const at = `${where}: PEM block ${i + 1}`;
    if (label === 'EC PARAMETERS') return; // `openssl ecparam -genkey` writes it before the key: no key in it
    const kind = LABELS.find((l) => l === label);
    if (kind === undefined) throw new TlsifyError('config', `${at}: expected one of ${LABELS.join(', ')}, got '${label}'`);
    found.push(decodeBlock(kind, der, at));
  });
  if (found.length === 0) throw new TlsifyError('config', `${where}: expected at least one certificate or key, got none`);
  return found;
}

/** Legacy encrypted PEM has RFC 1421 headers pemBlocks would call bad base64: say what it is. */
function refuseEncrypted(text: string, where: string): void {
  let block = 0;
  for (const line of text.split(/\r\n|\r|\n/)) {
    const t = line.trim();
    if (t.startsWith('-----BEGIN ')) block++;
    if (t === '-----BEGIN ENCRYPTED PRIVATE KEY-----' || /^Proc-Type:\s*4,\s*ENCRYPTED$/i.test(t)) {
      throw new TlsifyError('config', `${where}: PEM block ${block}: expected ${PASSPHRASE}, got an encrypted private key`);
    }
  }
}

function decodeBlock(label: (typeof LABELS)[number], der: Buffer, at: string): PinnedObject {
  const attempt = (what: string, fn: () => PinnedObject): PinnedObject => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof TlsifyError) throw err;
      throw new TlsifyError('config', `${at}: expected ${what}, got ${(err as Error).message}`, { cause: err });
    }
  };
  switch (label) {
    case 'CERTIFICATE':
      return attempt('a certificate', () => fromCertificate(der, at));
    case 'PUBLIC KEY':
      return attempt('a SubjectPublicKeyInfo', () => fromKey(createPublicKey({ key: der, format: 'der', type: 'spki' }), at));
    case 'RSA PUBLIC KEY':
      return attempt('a PKCS#1 RSAPublicKey', () => fromKey(createPublicKey({ key: der, format: 'der', type: 'pkcs1' }), at));
    case 'PRIVATE KEY':
      return attempt('a PKCS#8 private key', () => fromKey(privateKey(der, 'pkcs8', at), at));
    case 'RSA PRIVATE KEY':
      return attempt('a PKCS#1 RSAPrivateKey', () => fromKey(privateKey(der, 'pkcs1', at), at));
    case 'EC PRIVATE KEY':
      return attempt('a SEC1 ECPrivateKey', () => fromKey(privateKey(der, 'sec1', at), at));
  }
}

/** DER has no label: try each form, most specific first, so a private key is never called public. */
function decodeDer(der: Buffer, where: string): PinnedObject {
  let certProblem = '';
  try {
    return fromCertificate(der, where);
  } catch (err) {
    if (!(err instanceof CertError)) throw err;
    certProblem = err.message;
  }
  const tries: (() => KeyObject)[] = [
    () => createPublicKey({ key: der, format: 'der', type: 'spki' }),
    () => privateKey(der, 'pkcs8', where),
    () => privateKey(der, 'pkcs1', where),
    () => privateKey(der, 'sec1', where),
    () => createPublicKey({ key: der, format: 'der', type: 'pkcs1' }),
  ];
  for (const make of tries) {
    try {
      return fromKey(make(), where);
    } catch (err) {
      if (err instanceof TlsifyError) throw err;
    }
  }
  throw new TlsifyError('config', `${where}: expected a DER certificate, SubjectPublicKeyInfo, or PKCS#8, PKCS#1 or SEC1 private key, got none of these (as a certificate: ${certProblem})`);
}

function privateKey(der: Buffer, type: 'pkcs8' | 'pkcs1' | 'sec1', where: string): KeyObject {
  try {
    return createPrivateKey({ key: der, format: 'der', type });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MISSING_PASSPHRASE') {
      throw new TlsifyError('config', `${where}: expected ${PASSPHRASE}, got an encrypted private key`, { cause: err });
    }
    throw err;
  }
}

function fromCertificate(der: Buffer, where: string): PinnedObject {
  const cert = parseCertificate(der);
  return { pin: pinFromSpki(cert.spki), label: cert.subject === '' ? 'certificate (empty subject)' : cert.subject, where };
}

/** Only the public half is ever touched: the SPKI for the pin, the type and size for the label. */
function fromKey(key: KeyObject, where: string): PinnedObject {
  const pub = key.type === 'public' ? key : createPublicKey(key);
  const spki = pub.export({ type: 'spki', format: 'der' });
  return { pin: pinFromSpki(spki), label: `${key.type}-key (${describeKey(key)})`, where };
}

// OpenSSL's curve names -> the NIST names people know (FIPS 186-4 D.1.2).
const CURVES: ReadonlyMap<string, string> = new Map([
  ['prime256v1', 'P-256'],
  ['secp384r1', 'P-384'],
  ['secp521r1', 'P-521'],
]);

function describeKey(key: KeyObject): string {
  const type = key.asymmetricKeyType ?? 'unknown';
  const d = key.asymmetricKeyDetails ?? {};
  if (d.namedCurve !== undefined) return `${type} ${CURVES.get(d.namedCurve) ?? d.namedCurve}`;
  if (d.modulusLength !== undefined) return `${type} ${d.modulusLength}`;
  return type;
}
