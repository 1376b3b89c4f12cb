// trust/pins.ts: SPKI pins (RFC 7469 §2.4): read the curl, OkHttp and HPKP spellings, match them
// against a validated path (§2.6), and write a Public-Key-Pins header value (§2.1). Pure.
import { createHash } from 'node:crypto';
import type { Cert } from './cert.ts';
import type { Pin } from './policy.ts';

/** A pin text that cannot be used; the message says where, expected and got, and the accepted forms. */
export class PinError extends Error {
  override name = 'PinError';
}

export type PinForm = 'tlsify' | 'curl' | 'hpkp';

export type PinCheck =
  | { readonly ok: true; readonly matched: readonly { pin: Pin; depth: number }[] }
  | { readonly ok: false; readonly wanted: readonly Pin[]; readonly seen: readonly { depth: number; pin: string }[] };

export const ACCEPTED_FORMS = 'sha256//BASE64 (curl), sha256/BASE64 (OkHttp), pin-sha256="BASE64" (HPKP), several separated by \';\'';

const SHA256_BYTES = 32;
const SHA256_B64_CHARS = 44;
// curl and OkHttp: ALG//B64 and ALG/B64. HPKP §2.1: pin-ALG=value, where value is a token or
// quoted-string (no OWS around '='). Algorithm names are read case-insensitively, as HPKP
// directive names are (§2.1 rule 3).
const SLASH_FORM = /^([A-Za-z][A-Za-z0-9-]*)\/(.*)$/s;
const HPKP_FORM = /^pin-([A-Za-z0-9-]*)=(.*)$/is;
const STANDARD_B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Parses one or more pins separated by ';' (blanks around each allowed). `where` names the source
 * in errors, e.g. '--pin' or 'pins.txt line 3'. Duplicates collapse; order of first sight is kept.
 */
export function parsePins(text: string, where: string): Pin[] {
  const entries = text.split(';');
  const pins = new Map<string, Pin>();
  entries.forEach((raw, i) => {
    const entry = raw.trim();
    const at = entries.length > 1 ? `${where}: pin ${i + 1} of ${entries.length}` : where;
    const pin = parseOne(entry, at);
    if (!pins.has(pin.text)) pins.set(pin.text, pin);
  });
  return [...pins.values()];
}

function parseOne(entry: string, at: string): Pin {
  const bad = (msg: string): never => {
    throw new PinError(`${at}: ${msg}; accepted: ${ACCEPTED_FORMS}`);
  };
  if (entry === '') return bad('expected a pin, got an empty entry');
  const hpkp = HPKP_FORM.exec(entry);
  const slash = hpkp ? null : SLASH_FORM.exec(entry);
  if (!hpkp && !slash) return bad(unrecognised(entry));
  const algorithm = (hpkp ? hpkp[1]! : slash![1]!).toLowerCase();
  let value = hpkp ? hpkp[2]! : slash![2]!;
  // 'sha256//' is curl's; but base64 may itself begin with '/', so 'sha256/' + 44 characters
  // starting with '/' is OkHttp's form of such a pin, not curl's with 43.
  if (slash && value.startsWith('/') && value.length !== SHA256_B64_CHARS) value = value.slice(1);
  if (algorithm !== 'sha256') return bad(`tlsify pins SHA-256 only, got ${algorithm === '' ? 'no algorithm' : clip(algorithm)}`);
  if (hpkp && value.startsWith('"')) {
    if (value.length < 2 || !value.endsWith('"')) return bad(`expected a closing '"' after the base64, got '${clip(entry)}'`);
    value = value.slice(1, -1);
  }
  return pinFromBase64(value, bad);
}

/** A hint for text that is no pin form at all: a bare hash, a hex fingerprint, an HPKP directive. */
function unrecognised(entry: string): string {
  const got = `got '${clip(entry)}'`;
  if (/^[0-9a-f]{64}$/i.test(entry.replaceAll(':', ''))) {
    return `expected a pin, ${got}, which looks like a hex fingerprint: a pin is the base64 SHA-256 of the public key (SPKI), as 'tlsify pin CERT' prints`;
  }
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(entry)) return `expected a pin with its algorithm, ${got}: write sha256/${entry}`;
  if (/^(max-age|includesubdomains|report-uri)\b/i.test(entry)) return `expected a pin, ${got}: only pin directives are read here`;
  return `expected a pin, ${got}`;
}

function pinFromBase64(b64: string, bad: (msg: string) => never): Pin {
  if (b64 === '') return bad('expected base64 after the algorithm, got nothing');
  if (/[-_]/.test(b64) && /^[A-Za-z0-9_-]*=*$/.test(b64)) {
    return bad(`expected standard base64 (A-Z a-z 0-9 + /), got url-safe base64 '${clip(b64)}': replace '-' with '+' and '_' with '/'`);
  }
  if (!STANDARD_B64.test(b64)) {
    const col = b64.search(/[^A-Za-z0-9+/=]/);
    const what = col >= 0 ? `'${clip(b64[col]!)}' at character ${col + 1}` : `'=' before the end`;
    return bad(`expected standard base64 (A-Z a-z 0-9 + /, '=' padding), got ${what}`);
  }
  if (b64.length % 4 !== 0) return bad(`expected padded base64 (a multiple of 4 characters; 44 for SHA-256), got ${b64.length} characters`);
  const hash = Buffer.from(b64, 'base64');
  if (hash.length !== SHA256_BYTES) return bad(`expected ${SHA256_BYTES} bytes (a SHA-256 hash), got ${hash.length} bytes`);
  // Base64 can spell the same bytes with non-zero unused bits; only the canonical text is a pin,
  // so a mistyped last character is an error rather than a silent alias.
  const canonical = hash.toString('base64');
  if (canonical !== b64) return bad(`expected canonical base64, got '${clip(b64)}' whose last character sets unused bits (did you mean ${canonical}?)`);
  return makePin(hash);
}

function makePin(hash: Buffer): Pin {
  return Object.freeze({ algorithm: 'sha256' as const, hash, text: 'sha256/' + hash.toString('base64') });
}

/** The pin of a DER SubjectPublicKeyInfo (RFC 7469 §2.4). */
export function pinFromSpki(spki: Buffer): Pin {
  return makePin(createHash('sha256').update(spki).digest());
}

/** tlsify and OkHttp: sha256/B64; curl: sha256//B64; HPKP: pin-sha256="B64". */
export function formatPin(pin: Pin, form: PinForm): string {
  const b64 = pin.hash.toString('base64');
  switch (form) {
    case 'tlsify':
      return `sha256/${b64}`;
    case 'curl':
      return `sha256//${b64}`;
    case 'hpkp':
      return `pin-sha256="${b64}"`;
  }
}

/**
 * RFC 7469 §2.6: passes when a pin matches the SPKI of any certificate on the VALIDATED path
 * (leaf first, anchor last, anchor included). Certificates the peer sent that are not on that
 * path must not be passed in. Every match is reported, for logs and the control channel.
 */
export function checkPins(pins: readonly Pin[], path: readonly Cert[]): PinCheck {
  // Neither list can be empty here: an empty pin set would have to fail open (§2.1.1) or closed,
  // and that choice belongs to the caller, not to a default.
  if (pins.length === 0) throw new RangeError('checkPins: expected at least one pin, got none');
  if (path.length === 0) throw new RangeError('checkPins: expected a validated path, got an empty one');
  const seen = path.map((cert, depth) => ({ depth, pin: pinFromSpki(cert.spki) }));
  const matched = seen.flatMap(({ depth, pin: spkiPin }) =>
    pins.filter((p) => p.hash.equals(spkiPin.hash)).map((pin) => ({ pin, depth })),
  );
  if (matched.length > 0) return { ok: true, matched };
  return { ok: false, wanted: pins, seen: seen.map(({ depth, pin }) => ({ depth, pin: pin.text })) };
}

/**
 * A Public-Key-Pins header value (RFC 7469 §2.1). §2.5 and §4.3: a header is only noted when one
 * pin is a backup that matches nothing on the chain, so fewer than two distinct pins is refused.
 */
export function hpkpHeader(pins: readonly Pin[], maxAge: number, includeSubDomains: boolean): string {
  // §2.1.2: max-age is delta-seconds, 1*DIGIT; 0 tells the UA to forget the host (§2.3.1).
  if (!Number.isSafeInteger(maxAge) || maxAge < 0) throw new RangeError(`hpkpHeader: expected max-age as whole seconds >= 0, got ${maxAge}`);
  const distinct = [...new Set(pins.map((p) => formatPin(p, 'hpkp')))];
  if (distinct.length < 2) {
    throw new PinError(`Public-Key-Pins: expected at least two distinct pins, one of them a backup (RFC 7469 §4.3), got ${distinct.length}`);
  }
  return [...distinct, `max-age=${maxAge}`, ...(includeSubDomains ? ['includeSubDomains'] : [])].join('; ');
}

function clip(s: string): string {
  const shown = s.length > 60 ? s.slice(0, 60) + '...' : s;
  return shown.replace(/[^\x20-\x7e]/g, '?');
}
