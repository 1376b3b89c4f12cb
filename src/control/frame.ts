// control/frame.ts: the control channel's line format (protocol/control.md §2), pure.
// A line is `NAME *(SP KEY "=" VALUE) LF`; VALUE escapes %, space and control bytes as %XX.

/** Longest line tlsify accepts from the parent, LF included (protocol/control.md §2.3). */
export const MAX_COMMAND_LINE = 4096;
/** Longest line tlsify writes, LF included; certificate DER is the only thing that gets near it. */
export const MAX_EVENT_LINE = 65536;

const NAME = /^[a-z][a-z0-9-]*$/;

export type Fields = Readonly<Record<string, string | number | boolean | undefined>>;

export interface Line {
  readonly name: string;
  readonly fields: ReadonlyMap<string, string>;
}

/** Escape a value: `%`, space, bytes 0x00-0x1F and 0x7F become %XX; UTF-8 otherwise verbatim. */
export function escapeValue(value: string): string {
  // Fast path: most values (versions, pins, base64) need no escaping.
  if (!/[%\s\x00-\x1f\x7f]/.test(value)) return value;
  let out = '';
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    if (c === 0x25 || c === 0x20 || c < 0x20 || c === 0x7f) {
      out += '%' + c.toString(16).toUpperCase().padStart(2, '0');
    } else {
      out += ch;
    }
  }
  return out;
}

/** Undo escapeValue; a `%` not followed by two hex digits is an error (returns undefined). */
export function unescapeValue(value: string): string | undefined {
  if (!value.includes('%')) return value;
  const bytes: number[] = [];
  const raw = Buffer.from(value, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0x25) {
      bytes.push(raw[i]!);
      continue;
    }
    const hex = raw.subarray(i + 1, i + 3).toString('latin1');
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Format one line; fields whose value is undefined are left out. Booleans are yes/no. */
export function formatLine(name: string, fields: Fields = {}): string {
  if (!NAME.test(name)) throw new Error(`control: event name must match ${NAME}, got '${name}'`);
  let line = name;
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (!NAME.test(key)) throw new Error(`control: field key must match ${NAME}, got '${key}'`);
    const text = typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value);
    line += ' ' + key + '=' + escapeValue(text);
  }
  return line + '\n';
}

export type ParseResult =
  | { readonly ok: true; readonly line: Line }
  | { readonly ok: false; readonly reason: string };

/** Parse one line (without its LF). Tokens are separated by single spaces; a trailing CR is tolerated. */
export function parseLine(text: string): ParseResult {
  const body = text.endsWith('\r') ? text.slice(0, -1) : text;
  if (body === '') return { ok: false, reason: 'expected a command name, got an empty line' };
  const tokens = body.split(' ');
  const name = tokens[0]!;
  if (!NAME.test(name)) {
    return { ok: false, reason: `expected a command name matching [a-z][a-z0-9-]*, got '${shorten(name)}'` };
  }
  const fields = new Map<string, string>();
  for (let i = 1; i < tokens.length; i++) {
    const token = tokens[i]!;
    const eq = token.indexOf('=');
    const key = eq < 0 ? token : token.slice(0, eq);
    if (eq < 0 || !NAME.test(key)) {
      return { ok: false, reason: `field ${i}: expected key=value, got '${shorten(token)}'` };
    }
    const value = unescapeValue(token.slice(eq + 1));
    if (value === undefined) {
      return { ok: false, reason: `field ${i} (${key}): expected %XX escapes with two hex digits` };
    }
    if (fields.has(key)) return { ok: false, reason: `field ${i}: key '${key}' given twice` };
    fields.set(key, value);
  }
  return { ok: true, line: { name, fields } };
}

function shorten(s: string): string {
  return s.length > 40 ? s.slice(0, 40) + '...' : s;
}

/**
 * Splits a byte stream into lines of at most `max` bytes (LF included). An over-long line is
 * reported once and skipped up to its LF, so memory stays bounded whatever the parent sends.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private skipping = false;

  constructor(
    private readonly max: number,
    private readonly onLine: (text: string) => void,
    private readonly onTooLong: (bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const lf = chunk.indexOf(0x0a, start);
      const end = lf < 0 ? chunk.length : lf;
      const piece = chunk.subarray(start, end);
      if (this.skipping) {
        this.pendingBytes += piece.length;
      } else if (this.pendingBytes + piece.length + 1 > this.max) {
        this.skipping = true;
        this.pendingBytes += piece.length;
        this.pending = [];
      } else {
        this.pending.push(piece);
        this.pendingBytes += piece.length;
      }
      if (lf < 0) break;
      this.endLine();
      start = lf + 1;
    }
  }

  /** The stream ended: an unterminated last line counts as a line. */
  end(): void {
    if (this.pendingBytes > 0 || this.skipping) this.endLine(true);
  }

  private endLine(atEof = false): void {
    if (this.skipping) {
      this.onTooLong(this.pendingBytes + (atEof ? 0 : 1));
    } else {
      this.onLine(Buffer.concat(this.pending).toString('utf8'));
    }
    this.pending = [];
    this.pendingBytes = 0;
    this.skipping = false;
  }
}
