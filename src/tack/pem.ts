// tack/pem.ts: PEM armour as tackpy 0.9.7 writes and reads it (PEMEncoder.py, PEMDecoder.py;
// facts §1.6): base64 in 64-character lines, `\n` line ends; files start with two comment lines.
// Reading finds every `-----BEGIN <label>-----` anywhere in the text and ignores all text outside
// the blocks, so tackpy's comment lines and its indented test files read as they did there.
import { TackError } from './error.ts';
import { secondsToText } from './time.ts';

export const LABELS = {
  key: 'TACK PRIVATE KEY',
  tack: 'TACK',
  breakSig: 'TACK BREAK SIG',
  certificate: 'CERTIFICATE',
} as const;

/** One PEM block: BEGIN line, base64 in lines of 64, END line, each ending in `\n`. */
export function encodePem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/**
 * The two lines every file tackpy writes starts with (Command.py `addPemComments`); readers skip
 * them. `producer` names the program, e.g. "tlsify 0.1.0".
 */
export function pemComments(producer: string, now: Date): string {
  return `Created by ${producer}\nCreated at ${secondsToText(Math.floor(now.getTime() / 1000))}\n`;
}

export function containsPem(text: string, label: string): boolean {
  return text.includes(`-----BEGIN ${label}-----`);
}

/**
 * Every block with this label, in order (tackpy PEMDecoder.decodeList). The body between BEGIN
 * and END must be base64, blanks and line breaks allowed anywhere; a BEGIN without its END is an
 * error. `-----BEGIN TACK-----` does not match inside `-----BEGIN TACK BREAK SIG-----`.
 */
export function decodePemBlocks(text: string, label: string): Buffer[] {
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const blocks: Buffer[] = [];
  let at = 0;
  for (;;) {
    const start = text.indexOf(begin, at);
    if (start < 0) return blocks;
    const bodyStart = start + begin.length;
    const stop = text.indexOf(end, bodyStart);
    const n = blocks.length + 1;
    if (stop < 0) throw new TackError(`PEM ${label} block ${n}: expected ${end} after ${begin}, got end of text`);
    blocks.push(decodeBase64(text.slice(bodyStart, stop), `PEM ${label} block ${n}`));
    at = stop + end.length;
  }
}

/** The first block with this label (tackpy PEMDecoder.decode). */
export function decodePem(text: string, label: string): Buffer {
  const [first] = decodePemBlocks(text, label);
  if (first === undefined) throw new TackError(`expected a -----BEGIN ${label}----- block, got none`);
  return first;
}

function decodeBase64(body: string, where: string): Buffer {
  const b64 = body.replace(/[ \t\r\n]+/g, '');
  const bad = b64.search(/[^A-Za-z0-9+/=]/);
  if (bad >= 0) throw new TackError(`${where}: expected base64, got '${b64[bad]}'`);
  if (b64.length === 0) throw new TackError(`${where}: expected base64 data, got an empty block`);
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
    throw new TackError(`${where}: expected base64 in groups of 4 with '=' only at the end, got ${b64.length} characters`);
  }
  return Buffer.from(b64, 'base64');
}
