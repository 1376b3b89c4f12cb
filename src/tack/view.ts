// tack/view.ts: `tack view` text, field for field as tackpy 0.9.7 prints it (ViewCommand.py and the
// `__str__` of Tack.py, TackBreakSig.py, TackKeyFile.py, TlsCertificate.py; facts §1.9): labels
// padded to 15 characters, hex in lines of 32 characters continued under a 17-space indent.
// The file kind is chosen as tackpy chooses it: key file, TACK, break signatures, certificate
// (PEM), in that order, then a DER certificate.
import { brokenTackId, parseBreakSig, type BreakSig } from './break-sig.ts';
import { readCertificate, type CertificateFacts } from './certificate.ts';
import { TackError } from './error.ts';
import { fingerprint } from './key.ts';
import { decodeKeyFile, type KeyFile } from './keyfile.ts';
import { LABELS, containsPem, decodePem, decodePemBlocks } from './pem.ts';
import { parseTack, tackId, type Tack } from './tack.ts';
import { minutesToText, secondsToText } from './time.ts';

/** tackpy Util.writeBytes: lowercase hex, 32 characters a line, continuation lines indented 17. */
export function hexLines(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  const lines: string[] = [];
  for (let i = 0; i < hex.length; i += 32) lines.push(hex.slice(i, i + 32));
  return lines.join(`\n${' '.repeat(17)}`);
}

export function viewKeyFile(kf: KeyFile): string {
  return `TACK ID        = ${fingerprint(kf.publicKey)}\n`;
}

export function viewTack(t: Tack): string {
  return (
    `TACK ID        = ${tackId(t)}\n` +
    `min_generation = ${t.minGeneration}\n` +
    `generation     = ${t.generation}\n` +
    `expiration     = ${minutesToText(t.expiration)}\n` +
    `target_hash    = ${hexLines(t.targetHash)}\n`
  );
}

export function viewBreakSigs(sigs: readonly BreakSig[]): string {
  return sigs.map((s) => `Breaks TACK ID = ${brokenTackId(s)}\n`).join('');
}

export function viewCertificate(c: CertificateFacts): string {
  return `key_sha256     = ${hexLines(c.keySha256)}\nnotAfter       = ${secondsToText(Math.floor(c.notAfter.getTime() / 1000))}\n`;
}

export type Viewed = 'key' | 'tack' | 'break-sigs' | 'certificate';

/**
 * The view text of one file's bytes, and what it was. A file that holds a known label but does
 * not parse throws a TackError that names the kind, as tackpy's "Error parsing TACK: ..." does.
 */
export function viewFile(bytes: Buffer): { kind: Viewed; text: string } {
  // tackpy decodes the file as ASCII; anything else is binary and can only be a DER certificate.
  const text = /^[\x00-\x7f]*$/.test(bytes.toString('latin1')) ? bytes.toString('latin1') : undefined;
  if (text !== undefined && text !== '') {
    if (containsPem(text, LABELS.key)) return { kind: 'key', text: parsing('key file', () => viewKeyFile(decodeKeyFile(decodePem(text, LABELS.key)))) };
    if (containsPem(text, LABELS.tack)) return { kind: 'tack', text: parsing('TACK', () => viewTack(parseTack(decodePem(text, LABELS.tack)))) };
    if (containsPem(text, LABELS.breakSig)) {
      return { kind: 'break-sigs', text: parsing('break signature', () => viewBreakSigs(decodePemBlocks(text, LABELS.breakSig).map(parseBreakSig))) };
    }
    if (containsPem(text, LABELS.certificate)) return { kind: 'certificate', text: parsing('certificate', () => viewCertificate(readCertificate(bytes))) };
  }
  try {
    return { kind: 'certificate', text: viewCertificate(readCertificate(bytes)) };
  } catch (err) {
    if (!(err instanceof TackError)) throw err;
    throw new TackError(`expected a TACK key file, a TACK, break signatures or a certificate (PEM, or a DER certificate), got none of them`);
  }
}

function parsing(what: string, fn: () => string): string {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TackError) throw new TackError(`error parsing ${what}: ${err.message}`, err.kind);
    throw err;
  }
}
