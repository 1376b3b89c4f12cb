// pinstore/format.ts: the pin store's text format (protocol/pin-store.md §3-§4): parse bytes
// into a document (doc.ts) and serialize it back, comments and unknown fields kept. Pure.
import { isIP } from 'node:net';
import type { Pin } from '../trust/policy.ts';
import { SOURCES, describe, emptyDoc, entryKey, formatTarget, pinFromText, type PinEntry, type StoreDoc, type StoreLine } from './doc.ts';

/** A store file that does not follow protocol/pin-store.md; the message names file and line. */
export class StoreFormatError extends Error {
  override name = 'StoreFormatError';
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

export const FORMAT_VERSION = 1;
export const VERSION_LINE = `tlsify-pin-store ${FORMAT_VERSION}`;
/** Longest line, LF excluded (§3.3). 8192 bytes hold ~150 pins. */
export const MAX_LINE = 8192;
const KEY = /^[a-z][a-z0-9-]*$/;
const PIN = /^sha256\/[A-Za-z0-9+/]{43}=$/;
const PINS = /^sha256\/[A-Za-z0-9+/]{43}=(?:,sha256\/[A-Za-z0-9+/]{43}=)*$/;
const SERVICE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const TACK_ID = /^[a-z2-7]{5}(\.[a-z2-7]{5}){4}$/;
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]+$/;
const RAW_VALUE_BAD = /[\x00-\x20%\x7f]/;
const decoder = new TextDecoder('utf-8', { fatal: true });

/** A line's problem, before the caller adds file and line number. */
class LineError extends Error {}

function bad(msg: string): never {
  throw new LineError(msg);
}

/** Parse a whole store file. `file` names it in errors: `pin store FILE line N: ...`. */
export function parseStore(bytes: Buffer, file: string): StoreDoc {
  if (bytes.length === 0) return emptyDoc;
  // The hot path of every connection with a store: one decode and one scan for the whole file,
  // then per line only what that line needs (10 000 entries: protocol/pin-store.md §8.3).
  const text = decodeAll(bytes, file);
  const raw = text.split('\n');
  if (raw[raw.length - 1] === '') raw.pop(); // the final LF; a last line without one is read too
  const lines: StoreLine[] = [];
  const seen = new Map<string, number>();
  let n = 0;
  try {
    for (n = 1; n <= raw.length; n++) {
      const line = raw[n - 1]!;
      if (line.length > MAX_LINE / 4 && Buffer.byteLength(line) > MAX_LINE) bad(`expected at most ${MAX_LINE} bytes in a line, got ${Buffer.byteLength(line)}`);
      if (n === 1) {
        if (line !== VERSION_LINE) bad(versionMismatch(line));
        continue;
      }
      const c = line.charCodeAt(0);
      const body = c === 0x20 || c === 0x09 || line.endsWith(' ') || line.endsWith('\t') ? line.trim() : line;
      if (body === '' || body.charCodeAt(0) === 0x23) {
        lines.push({ kind: 'text', text: line });
        continue;
      }
      const entry = parseEntry(body);
      const key = entryKey(entry);
      const first = seen.get(key);
      if (first !== undefined) bad(`expected one entry per host, port, service and source, got a second ${describe(entry)} (the first is line ${first})`);
      seen.set(key, n);
      lines.push({ kind: 'entry', entry, line: n, raw: line });
    }
  } catch (err) {
    if (err instanceof LineError) throw new StoreFormatError(`pin store ${file} line ${n}: ${err.message}`, n);
    throw err;
  }
  return Object.freeze({ lines: Object.freeze(lines) });
}

/** UTF-8 with no control byte but LF and TAB; else the error names the first bad line. */
function decodeAll(bytes: Buffer, file: string): string {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    let start = 0;
    for (let n = 1; ; n++) {
      let end = bytes.indexOf(0x0a, start);
      if (end < 0) end = bytes.length;
      try {
        decoder.decode(bytes.subarray(start, end));
      } catch {
        throw new StoreFormatError(`pin store ${file} line ${n}: expected UTF-8 text, got bytes that are not UTF-8`, n);
      }
      start = end + 1;
    }
  }
  // TAB is a separator; every other control byte (NUL, CR, ...) means a damaged or foreign file.
  const m = /[\x00-\x08\x0b-\x1f\x7f]/.exec(text);
  if (m) {
    const before = text.lastIndexOf('\n', m.index);
    const n = countLf(text, m.index) + 1;
    const what = `control byte 0x${m[0].charCodeAt(0).toString(16).padStart(2, '0')} at column ${m.index - before}`;
    throw new StoreFormatError(`pin store ${file} line ${n}: expected text, got ${what}${m[0] === '\r' ? ' (CR: lines end with LF alone)' : ''}`, n);
  }
  return text;
}

function countLf(text: string, upTo: number): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < upTo; i = text.indexOf('\n', i + 1)) count++;
  return count;
}

function versionMismatch(text: string): string {
  const m = /^tlsify-pin-store (\d{1,9})$/.exec(text);
  if (m && Number(m[1]) > FORMAT_VERSION) {
    return `expected format ${FORMAT_VERSION}, got format ${m[1]}: written by a newer tlsify; this one leaves it untouched`;
  }
  return `expected '${VERSION_LINE}' as the first line, got '${clip(text)}'`;
}

const SEPARATORS = /[ \t]+/;
const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;

function twice(key: string): never {
  return bad(`expected each field once, got '${key}' twice`);
}

function parseEntry(body: string): PinEntry {
  const tokens = body.includes('\t') || body.includes('  ') ? body.split(SEPARATORS) : body.split(' ');
  const { host, port } = target(tokens[0]!);
  let source: string | undefined;
  let service: string | undefined;
  let pinsText: string | undefined;
  let mode: string | undefined;
  let subdomains: string | undefined;
  let firstSeen: string | undefined;
  let lastSeen: string | undefined;
  let activeUntil: string | undefined;
  let expires: string | undefined;
  let reportUri: string | undefined;
  let tackId: string | undefined;
  let minGen: string | undefined;
  let extra: [string, string][] | undefined;
  let unknownKeys: Set<string> | undefined;
  for (let i = 1; i < tokens.length; i++) {
    const token = tokens[i]!;
    const eq = token.indexOf('=');
    if (eq < 0) bad(`expected a field KEY=VALUE, got '${clip(token)}'`);
    const key = token.slice(0, eq);
    const raw = token.slice(eq + 1);
    const v = raw.includes('%') ? unescape(raw, key) : raw;
    switch (key) {
      case 'source': source === undefined ? (source = v) : twice(key); break;
      case 'service': service === undefined ? (service = v) : twice(key); break;
      case 'pins': pinsText === undefined ? (pinsText = v) : twice(key); break;
      case 'mode': mode === undefined ? (mode = v) : twice(key); break;
      case 'include-subdomains': subdomains === undefined ? (subdomains = v) : twice(key); break;
      case 'first-seen': firstSeen === undefined ? (firstSeen = v) : twice(key); break;
      case 'last-seen': lastSeen === undefined ? (lastSeen = v) : twice(key); break;
      case 'active-until': activeUntil === undefined ? (activeUntil = v) : twice(key); break;
      case 'expires': expires === undefined ? (expires = v) : twice(key); break;
      case 'report-uri': reportUri === undefined ? (reportUri = v) : twice(key); break;
      case 'tack-id': tackId === undefined ? (tackId = v) : twice(key); break;
      case 'min-generation': minGen === undefined ? (minGen = v) : twice(key); break;
      default:
        // §10: fields from a later tlsify are kept as written and otherwise ignored.
        if (!KEY.test(key)) bad(`expected a field KEY=VALUE with KEY of [a-z][a-z0-9-]*, got '${clip(token)}'`);
        unknownKeys ??= new Set();
        if (unknownKeys.has(key)) twice(key);
        unknownKeys.add(key);
        (extra ??= []).push([key, raw]);
    }
  }
  if (source === undefined) bad(`expected a source= field (${SOURCES.join(', ')}), got none`);
  if (!KEY.test(source)) bad(`source: expected a name like ${SOURCES.join(', ')}, got '${clip(source)}'`);
  const pins = parsePinList(pinsText);
  if (pins.length === 0 && source !== 'tack') bad('expected a pins= field with at least one sha256/<base64>, got none');
  mode ??= 'enforce';
  if (mode !== 'enforce' && mode !== 'report-only') bad(`mode: expected enforce or report-only, got '${clip(mode)}'`);
  subdomains ??= 'no';
  if (subdomains !== 'yes' && subdomains !== 'no') bad(`include-subdomains: expected yes or no, got '${clip(subdomains)}'`);
  if (subdomains === 'yes' && (host.includes(':') || IPV4.test(host))) bad(`include-subdomains: an IP address has no subdomains, got ${host}`);
  if (service !== undefined && !SERVICE.test(service)) bad(`service: expected a service name like imap or smtp ([a-z0-9-], 1 to 63), got '${clip(service)}'`);
  if (reportUri !== undefined && !URI.test(reportUri)) bad(`report-uri: expected an absolute URI like https://example.com/report, got '${clip(reportUri)}'`);
  if (tackId !== undefined && !TACK_ID.test(tackId)) bad(`tack-id: expected a TACK key fingerprint like nkufh.czttd.5cmlw.7cxtv.k6srn, got '${clip(tackId)}'`);
  if (source === 'tack' && tackId === undefined) bad('source=tack: expected a tack-id= field, got none');
  if (minGen !== undefined && (!/^\d{1,3}$/.test(minGen) || Number(minGen) > 255)) bad(`min-generation: expected 0 to 255, got '${clip(minGen)}'`);
  const first = time(firstSeen, 'first-seen');
  if ((source === 'tofu' || source === 'tack') && first === undefined) bad(`source=${source}: expected a first-seen= time, got none (activation counts from it)`);
  return Object.freeze({
    host,
    port,
    service,
    source,
    pins,
    mode,
    includeSubDomains: subdomains === 'yes',
    firstSeen: first,
    lastSeen: time(lastSeen, 'last-seen'),
    activeUntil: time(activeUntil, 'active-until'),
    expires: time(expires, 'expires'),
    reportUri,
    tackId,
    minGeneration: minGen === undefined ? undefined : Number(minGen),
    extra: extra ? Object.freeze(extra) : NO_EXTRA,
  });
}

const NO_EXTRA: readonly (readonly [string, string])[] = Object.freeze([]);

/** `[V6]`, `[V6]:PORT`, `HOST`, `HOST:PORT`; names are read case-insensitively and kept lower case. */
export function parseTarget(text: string, fail: (msg: string) => never): { host: string; port: number | undefined } {
  try {
    return target(text);
  } catch (err) {
    if (err instanceof LineError) return fail(err.message);
    throw err;
  }
}

// A name of dot-separated labels [a-z0-9_-] (underscores for SRV-style names), no label
// starting or ending with '-'; the 253 limit is checked apart.
const NAME = /^(?!-)[a-z0-9_-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9_-]{1,63}(?<!-))*$/;

function target(text: string): { host: string; port: number | undefined } {
  let host: string;
  let portText: string | undefined;
  if (text.charCodeAt(0) === 0x5b) {
    const v6 = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
    host = (v6?.[1] ?? '').toLowerCase();
    portText = v6?.[2];
    if (!v6 || isIP(host) !== 6) bad(`expected an IPv6 address inside [ ], got '${clip(text)}'`);
  } else {
    const colon = text.indexOf(':');
    host = (colon < 0 ? text : text.slice(0, colon)).toLowerCase();
    portText = colon < 0 ? undefined : text.slice(colon + 1);
    if (host.includes(':') || (portText !== undefined && portText.includes(':'))) bad(`expected HOST[:PORT], got '${clip(text)}' (an IPv6 address goes in brackets: [::1]:443)`);
    if (!NAME.test(host) || host.length > 253) {
      if (isIP(host) !== 4) bad(/[^\x21-\x7e]/.test(host) ? `expected a host name in ASCII (A-labels: xn--...), got '${clip(text)}'` : `expected a host name (dot-separated labels of [a-z0-9_-], at most 253 characters) or an address, got '${clip(text)}'`);
    }
  }
  if (portText === undefined) return { host, port: undefined };
  if (!/^[1-9]\d{0,4}$/.test(portText) || Number(portText) > 65535) bad(`expected a port from 1 to 65535 after the host, got '${clip(portText)}'`);
  return { host, port: Number(portText) };
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function parsePinList(text: string | undefined): readonly Pin[] {
  if (text === undefined || text === '') return NO_PINS;
  const parts = text.split(',');
  const pins: Pin[] = [];
  const wellFormed = PINS.test(text); // one regex for the list; the loop finds the culprit
  for (const p of parts) {
    if (!wellFormed && !PIN.test(p)) bad(`expected sha256/<base64> (44 characters of base64), got ${clip(p)}`);
    // 32 bytes take 43 characters and '=': the 43rd carries 4 bits, so its low 2 must be 0.
    // Other spellings decode to the same bytes; only the canonical text is a pin.
    if (B64.indexOf(p[49]!) & 3) bad(`expected canonical base64 in ${clip(p)}: its last character sets unused bits`);
    if (parts.length === 1 || !pins.some((q) => q.text === p)) pins.push(pinFromText(p));
  }
  return Object.freeze(pins);
}

const NO_PINS: readonly Pin[] = Object.freeze([]);
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** `YYYY-MM-DDTHH:MM:SSZ`, checked field by field (no 2026-02-30, no 24:00:00). */
function time(text: string | undefined, key: string): Date | undefined {
  if (text === undefined) return undefined;
  // Read by hand: with four times per entry this is the parser's hottest spot.
  if (text.length === 20 && text[4] === '-' && text[7] === '-' && text[10] === 'T' && text[13] === ':' && text[16] === ':' && text[19] === 'Z') {
    const y = digits(text, 0, 4);
    const mo = digits(text, 5, 2);
    const d = digits(text, 8, 2);
    const h = digits(text, 11, 2);
    const mi = digits(text, 14, 2);
    const s = digits(text, 17, 2);
    const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
    const days = mo === 2 && leap ? 29 : DAYS[mo - 1];
    if (y >= 1970 && days !== undefined && d >= 1 && d <= days && h < 24 && mi < 60 && s < 60) return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  }
  return bad(`${key}: expected a UTC time like 2026-11-23T03:09:21Z, got '${clip(text)}'`);
}

/** The decimal number in text[from, from+len), or -1 if any character is not a digit. */
function digits(text: string, from: number, len: number): number {
  let n = 0;
  for (let i = from; i < from + len; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** %XX decoding (the control channel's rule, protocol/control.md §2.2); the result must be UTF-8. */
function unescape(raw: string, key: string): string {
  const bytes: number[] = [];
  const src = Buffer.from(raw, 'utf8');
  for (let i = 0; i < src.length; i++) {
    if (src[i] !== 0x25) {
      bytes.push(src[i]!);
      continue;
    }
    const hex = src.subarray(i + 1, i + 3).toString('latin1');
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) bad(`${key}: expected %XX (two hex digits) after '%', got '%${clip(hex)}'`);
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  try {
    return decoder.decode(Buffer.from(bytes));
  } catch {
    return bad(`${key}: expected %XX escapes that decode to UTF-8, got '${clip(raw)}'`);
  }
}

/** Escape a value: %, SP, control bytes and DEL as %XX; everything else verbatim. */
export function escapeValue(value: string): string {
  if (!RAW_VALUE_BAD.test(value)) return value;
  let out = '';
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    out += c <= 0x20 || c === 0x25 || c === 0x7f ? '%' + c.toString(16).toUpperCase().padStart(2, '0') : ch;
  }
  return out;
}

export function formatTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** One entry as a line, without LF. Fields in the order of §4.1; defaults left out. */
export function formatEntry(e: PinEntry): string {
  const f: string[] = [formatTarget(e.host, e.port), `source=${escapeValue(e.source)}`];
  if (e.service !== undefined) f.push(`service=${e.service}`);
  if (e.pins.length > 0) f.push(`pins=${e.pins.map((p) => p.text).join(',')}`);
  if (e.mode !== 'enforce') f.push(`mode=${e.mode}`);
  if (e.includeSubDomains) f.push('include-subdomains=yes');
  if (e.firstSeen) f.push(`first-seen=${formatTime(e.firstSeen)}`);
  if (e.lastSeen) f.push(`last-seen=${formatTime(e.lastSeen)}`);
  if (e.activeUntil) f.push(`active-until=${formatTime(e.activeUntil)}`);
  if (e.expires) f.push(`expires=${formatTime(e.expires)}`);
  if (e.reportUri !== undefined) f.push(`report-uri=${escapeValue(e.reportUri)}`);
  if (e.tackId !== undefined) f.push(`tack-id=${e.tackId}`);
  if (e.minGeneration !== undefined) f.push(`min-generation=${e.minGeneration}`);
  for (const [k, v] of e.extra) f.push(`${k}=${v}`);
  return f.join(' ');
}

/** The whole file: the version line, then every line in order, each ending in LF. */
export function serializeStore(doc: StoreDoc): string {
  const out = [VERSION_LINE];
  for (const l of doc.lines) out.push(l.kind === 'text' ? l.text : (l.raw ?? formatEntry(l.entry)));
  return out.join('\n') + '\n';
}

export function clip(s: string): string {
  const shown = s.length > 60 ? s.slice(0, 60) + '...' : s;
  return shown.replace(/[^\x20-\x7e]/g, '?');
}
