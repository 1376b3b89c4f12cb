// trust/pem.ts: PEM text (RFC 7468) -> labelled DER blocks, with errors that name the line.
import { CertError } from './cert.ts';

// RFC 7468 §3: label = [ labelchar *( ( "-" / SP ) labelchar ) ], labelchar = %x21-2C / %x2E-7E
const BOUNDARY = /^-----(BEGIN|END) ((?:[\x21-\x2c\x2e-\x7e](?:[- ]?[\x21-\x2c\x2e-\x7e])*)?)-----$/;
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Every PEM block in `text` (RFC 7468), in order. Text outside blocks is ignored (tackpy writes
 * comment lines there). Lines are trimmed at both ends: RFC 7468 §3 allows trailing blanks and
 * tackpy's test files indent their PEM. A broken block throws a CertError naming the line.
 */
export function pemBlocks(text: string): { label: string; der: Buffer }[] {
  const lines = text.split(/\r\n|\r|\n/);
  const blocks: { label: string; der: Buffer }[] = [];
  let open: { label: string; line: number; body: string[]; padded: boolean } | undefined;
  const bad = (line: number, msg: string): never => {
    throw new CertError(`pem line ${line}: ${msg}`);
  };
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.trim();
    const boundary = BOUNDARY.exec(line);
    if (!boundary && line.startsWith('-----')) bad(lineNo, `expected an encapsulation boundary like -----BEGIN LABEL-----, got '${clip(line)}'`);
    if (open === undefined) {
      if (boundary?.[1] === 'BEGIN') open = { label: boundary[2]!, line: lineNo, body: [], padded: false };
      else if (boundary) bad(lineNo, `expected -----BEGIN ...----- first, got '${line}' outside a block`);
      continue;
    }
    if (boundary) {
      const end = `-----END ${open.label}-----`;
      if (boundary[1] === 'BEGIN' || boundary[2] !== open.label) bad(lineNo, `expected ${end} for the block opened on line ${open.line}, got '${line}'`);
      blocks.push({ label: open.label, der: decodeBody(open, lineNo, bad) });
      open = undefined;
      continue;
    }
    if (line === '') continue;
    if (open.padded) bad(lineNo, `expected -----END ${open.label}----- after base64 padding, got more text`);
    if (!BASE64_LINE.test(line)) {
      const col = line.search(/[^A-Za-z0-9+/=]/);
      if (col >= 0) bad(lineNo, `expected base64, got '${clip(line[col]!)}' at column ${col + 1}`);
      bad(lineNo, `expected base64 with at most two '=' at the end, got '${clip(line)}'`);
    }
    open.padded = line.endsWith('=');
    open.body.push(line);
  }
  if (open) bad(lines.length, `expected -----END ${open.label}----- for the block opened on line ${open.line}, got end of text`);
  return blocks;
}

function decodeBody(open: { label: string; line: number; body: string[] }, lineNo: number, bad: (line: number, msg: string) => never): Buffer {
  const b64 = open.body.join('');
  if (b64.length === 0) bad(lineNo, `expected base64 data in the block opened on line ${open.line}, got an empty block`);
  if (b64.length % 4 !== 0) bad(lineNo, `expected base64 whose length is a multiple of 4, got ${b64.length} characters in the block opened on line ${open.line}`);
  return Buffer.from(b64, 'base64');
}

function clip(s: string): string {
  const shown = s.length > 40 ? s.slice(0, 40) + '...' : s;
  return shown.replace(/[^\x20-\x7e]/g, '?');
}
