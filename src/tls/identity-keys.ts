// tls/identity-keys.ts: the bytes behind a client identity: certificate files (PEM chain or one
// DER), private keys (PKCS#8 plain or encrypted, PKCS#1, SEC1; PEM or DER) and PKCS#12 files,
// read and decrypted with messages that say expected / got / where.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import tls from 'node:tls';
import { TlsifyError } from '../codes.ts';
import { readFd, readPrivateFile, type SecretOptions } from '../secret.ts';
import { CertError, parseCertificate, type Cert } from '../trust/cert.ts';
import { pemBlocks } from '../trust/pem.ts';

const MAX_FILE = 1024 * 1024;

export function readCertFile(file: string): Buffer {
  // A certificate is public: no permission rules, just a size bound.
  try {
    const data = fs.readFileSync(file);
    if (data.length > MAX_FILE) throw config(`--cert ${file}: expected at most ${MAX_FILE} bytes, got ${data.length}`);
    return data;
  } catch (err) {
    if (err instanceof TlsifyError) throw err;
    throw config(`--cert ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** A key or PKCS#12 file (private: permissions checked), or fd:N from the parent. */
export function readKeyMaterial(flag: '--key' | '--pkcs12', spec: string, opts: SecretOptions): Buffer {
  if (spec.startsWith('fd:')) return readFd(spec.slice(3), flag, opts, MAX_FILE);
  return readPrivateFile(spec, `${flag} ${spec}`, MAX_FILE);
}

function looksPem(data: Buffer): boolean {
  return data.includes('-----BEGIN ');
}

/** PEM (leaf first, then the chain) or a single DER certificate. */
export function certChain(data: Buffer, where: string): Cert[] {
  if (!looksPem(data)) return [parseCert(data, `${where} (DER)`)];
  let blocks: { label: string; der: Buffer }[];
  try {
    blocks = pemBlocks(data.toString('latin1'));
  } catch (err) {
    if (err instanceof CertError) throw config(`${where}: ${err.message}`);
    throw err;
  }
  const other = blocks.find((b) => b.label !== 'CERTIFICATE');
  if (other) {
    const hint = /PRIVATE KEY/.test(other.label) ? ': give the key with --key' : '';
    throw config(`${where}: expected only CERTIFICATE blocks, got a ${other.label} block${hint}`);
  }
  if (blocks.length === 0) throw config(`${where}: expected a PEM or DER certificate, got no CERTIFICATE block`);
  return blocks.map((b, i) => parseCert(b.der, `${where}: certificate ${i + 1}`));
}

export function parseCert(der: Buffer, where: string): Cert {
  try {
    return parseCertificate(der);
  } catch (err) {
    if (err instanceof CertError) throw config(`${where}: ${err.message}`);
    throw err;
  }
}

const PEM_LABEL = /-----BEGIN ([A-Z0-9 ]+)-----/;
const KEY_FORMS = 'a private key: PKCS#8 (plain or encrypted), PKCS#1 or SEC1, in PEM or DER';

/** Any of the usual private key forms; `encrypted` says whether the passphrase was needed. */
export function privateKey(data: Buffer, passphrase: Buffer | undefined, where: string): { key: KeyObject; encrypted: boolean } {
  if (looksPem(data)) {
    const text = data.toString('latin1');
    const label = PEM_LABEL.exec(text)?.[1] ?? '';
    if (!/PRIVATE KEY$/.test(label)) {
      const hint = label === 'CERTIFICATE' ? ': did you swap --cert and --key?' : '';
      throw config(`${where}: expected ${KEY_FORMS}, got a ${label || 'malformed'} block${hint}`);
    }
    // Checked here: OpenSSL would otherwise ask its own (absent) prompt and fail obscurely.
    const encrypted = label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,ENCRYPTED/.test(text);
    if (encrypted && !passphrase) throw needPassphrase(where);
    try {
      return { key: createPrivateKey({ key: data, format: 'pem', ...(encrypted ? { passphrase } : {}) }), encrypted };
    } catch (err) {
      throw keyProblem(err as NodeJS.ErrnoException, where, encrypted);
    }
  }
  // DER: PKCS#8 first (it says whether it is encrypted), then PKCS#1 and SEC1.
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try {
      return { key: createPrivateKey({ key: data, format: 'der', type }), encrypted: false };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (type === 'pkcs8' && code === 'ERR_MISSING_PASSPHRASE') {
        if (!passphrase) throw needPassphrase(where);
        try {
          return { key: createPrivateKey({ key: data, format: 'der', type, passphrase }), encrypted: true };
        } catch (err2) {
          throw keyProblem(err2 as NodeJS.ErrnoException, where, true);
        }
      }
    }
  }
  throw config(`${where}: expected ${KEY_FORMS}, got ${data.length} bytes that are none of these`);
}

function needPassphrase(where: string): TlsifyError {
  return config(`${where}: the key is encrypted; expected a passphrase via --pass env:VAR|fd:N|file:PATH, got none`);
}

function keyProblem(err: NodeJS.ErrnoException, where: string, encrypted: boolean): TlsifyError {
  if (encrypted && (err.code === 'ERR_OSSL_BAD_DECRYPT' || /bad decrypt/i.test(err.message))) {
    return config(`${where}: the passphrase does not decrypt the key (wrong passphrase?)`);
  }
  // A wrong passphrase leaves valid CBC padding about once in 256 tries: then OpenSSL fails
  // decoding the garbage (ERR_OSSL_UNSUPPORTED, a wrong ASN.1 tag) instead of 'bad decrypt'.
  if (encrypted) return config(`${where}: the passphrase does not decrypt the key (wrong passphrase? the decrypted bytes are not a key: ${err.code ?? err.message})`);
  return config(`${where}: expected ${KEY_FORMS}, got one OpenSSL cannot read (${err.code ?? err.message})`);
}

/** A PKCS#12 file opened as node:tls will open it (pfx): a SecureContext built now proves the passphrase. Gives the leaf's DER. */
export function pkcs12Leaf(data: Buffer, pass: string | undefined, where: string): Buffer {
  try {
    const ctx = tls.createSecureContext({ pfx: [{ buf: data, ...(pass !== undefined ? { passphrase: pass } : {}) }] });
    return secureContextLeaf(ctx, where);
  } catch (err) {
    if (err instanceof TlsifyError) throw err;
    throw config(`${where}: ${pkcs12Problem(err as NodeJS.ErrnoException, pass !== undefined)}`);
  }
}

function pkcs12Problem(err: NodeJS.ErrnoException, hadPass: boolean): string {
  const msg = err.message ?? '';
  if (/mac verify failure/i.test(msg)) {
    return hadPass ? 'the passphrase does not open it (MAC verify failure: wrong passphrase?)' : 'expected a passphrase via --pass env:VAR|fd:N|file:PATH: the file does not open without one (MAC verify failure)';
  }
  if (err.code === 'ERR_CRYPTO_UNSUPPORTED_OPERATION' || /unsupported/i.test(msg)) {
    return (
      'it uses algorithms OpenSSL 3 keeps in its legacy provider (RC2-40 or 3DES, the default of OpenSSL 1.x and older Windows exports); ' +
      're-export it with AES: openssl pkcs12 -legacy -in OLD.p12 -nodes | openssl pkcs12 -export -out NEW.p12'
    );
  }
  if (/wrong tag|asn1|header too long|not enough data/i.test(msg)) return `expected a PKCS#12 (PFX) file in DER, got something else (${msg})`;
  return `cannot be used: ${msg}`;
}

/** The leaf node:tls took from a pfx. SecureContext's native getCertificate() is not in @types/node. */
function secureContextLeaf(ctx: tls.SecureContext, where: string): Buffer {
  const native = (ctx as unknown as { context?: { getCertificate?: () => Buffer | null } }).context;
  const der = native?.getCertificate?.();
  if (!Buffer.isBuffer(der)) throw new TlsifyError('internal', `${where}: node:tls loaded the file but did not give its certificate back (SecureContext.getCertificate)`);
  return der;
}

export function spkiOf(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: 'spki', format: 'der' });
}

export function toPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

function config(message: string): TlsifyError {
  return new TlsifyError('config', message);
}
