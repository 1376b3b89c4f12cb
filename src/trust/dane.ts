// trust/dane.ts: TLSA records given by the caller (RFC 6698 §2.1, §2.2) and the DANE-EE(3) and
// DANE-TA(2) checks of a peer's certificates against them (RFC 7671 §5.1, §5.2). Pure: time is passed in.
import { createHash } from 'node:crypto';
import { anchorSet } from './anchors.ts';
import { CertError, parseCertificate, type Cert } from './cert.ts';
import { validatePath } from './path.ts';
import type { Tlsa } from './policy.ts';

/** A TLSA record text that cannot be used; the message says expected / got / where. */
export class TlsaError extends Error {
  override name = 'TlsaError';
}

export type DaneResult =
  | {
      readonly ok: true;
      readonly usage: 2 | 3;
      readonly record: Tlsa;
      /** Leaf first. DANE-EE: just the leaf. DANE-TA: leaf .. the matching certificate. */
      readonly path: readonly Cert[];
      /** The index in `path` of the certificate that matched: 0 for DANE-EE, the last for DANE-TA. */
      readonly depth: number;
    }
  | { readonly ok: false; readonly code: 'untrusted' | 'expired'; readonly message: string };

type Failure = Extract<DaneResult, { ok: false }>;

// IANA "DANE Parameters" acronyms (RFC 7218).
const USAGES: ReadonlyMap<number, string> = new Map([
  [0, 'PKIX-TA'],
  [1, 'PKIX-EE'],
  [2, 'DANE-TA'],
  [3, 'DANE-EE'],
  [255, 'PrivCert'],
]);
const SELECTORS = ['cert', 'SPKI'] as const;
const MATCHING = [
  { name: 'Full', hash: undefined, bytes: undefined },
  { name: 'SHA2-256', hash: 'sha256', bytes: 32 },
  { name: 'SHA2-512', hash: 'sha512', bytes: 64 },
] as const;

/**
 * Parses 'usage selector matching hex', e.g. '3 1 1 0c72ac70...'. Fields are separated by
 * blanks; the hex is one run of digits (no blanks or colons inside), either case.
 */
export function parseTlsa(text: string): Tlsa {
  const where = `TLSA record '${clip(text.trim())}'`;
  const bad = (msg: string) => new TlsaError(`${where}: ${msg}`);
  const fields = text.trim().split(/\s+/).filter((f) => f !== '');
  if (fields.length < 4) throw bad(`expected 4 fields 'usage selector matching hex' separated by blanks, got ${fields.length}`);
  // RFC 6698 §2.2: the hex may be split by white space, as dig prints it in 56-digit chunks.
  const [u, s, m] = fields as [string, string, string];
  const hex = fields.slice(3).join('');
  const usage = number('usage', u, where);
  if (usage !== 2 && usage !== 3) {
    const known = USAGES.get(usage);
    throw bad(
      `usage: expected 2 (DANE-TA) or 3 (DANE-EE), got ${usage}${known ? ` (${known})` : ''}: tlsify supports DANE-TA(2) and DANE-EE(3) only, ` +
        `since PKIX-TA(0) and PKIX-EE(1) need the DNS context (RFC 7671 §5.3, §5.4)`,
    );
  }
  const selector = number('selector', s, where);
  if (selector !== 0 && selector !== 1) throw bad(`selector: expected 0 (Cert) or 1 (SPKI), got ${selector}`);
  const matching = number('matching type', m, where);
  if (matching !== 0 && matching !== 1 && matching !== 2) throw bad(`matching type: expected 0 (Full), 1 (SHA2-256) or 2 (SHA2-512), got ${matching}`);
  const col = hex.search(/[^0-9a-fA-F]/);
  if (col >= 0) throw bad(`association data: expected hex digits 0-9a-f, got '${clip(hex[col]!)}' at character ${col + 1}`);
  if (hex.length % 2 !== 0) throw bad(`association data: expected an even number of hex digits, got ${hex.length}`);
  const data = Buffer.from(hex, 'hex');
  const want = MATCHING[matching];
  if (want.bytes !== undefined && data.length !== want.bytes) {
    throw bad(`association data: expected ${want.bytes} bytes for matching type ${matching} (${want.name}), got ${data.length}`);
  }
  if (selector === 0 && matching === 0) {
    // A full certificate in the record: one that does not parse could never match, and for
    // `2 0 0` it is the trust anchor itself (RFC 7671 §5.2.2).
    try {
      parseCertificate(data);
    } catch (e) {
      if (e instanceof CertError) throw bad(`association data: expected a DER certificate for selector 0 matching type 0, got: ${e.message}`);
      throw e;
    }
  }
  return Object.freeze({ usage, selector, matching, data, text: `${usage} ${selector} ${matching} ${hex.toLowerCase()}` });
}

function number(field: string, text: string, where: string): number {
  if (!/^[0-9]{1,3}$/.test(text) || Number(text) > 255) throw new TlsaError(`${where}: ${field}: expected a number 0..255, got '${clip(text)}'`);
  return Number(text);
}

/**
 * Authenticates the peer by `records`; the first record that succeeds wins. DANE-EE: the leaf
 * matches, whatever its names and dates (RFC 7671 §5.1). DANE-TA: a certificate the peer sent
 * besides the leaf, or for `2 0 0` the record's own certificate, matches and is the only anchor
 * of a path validated by path.ts (signatures, dates, CA flags, EKU). Names are the caller's
 * to check, for usage 2 only.
 */
export function daneVerify(records: readonly Tlsa[], leaf: Cert, presented: readonly Cert[], now: Date): DaneResult {
  if (records.length === 0) return { ok: false, code: 'untrusted', message: 'no TLSA record matched: no records were given' };
  const misses: string[] = [];
  let pathFailure: Failure | undefined;
  for (const record of records) {
    const outcome = record.usage === 3 ? daneEe(record, leaf) : daneTa(record, leaf, presented, now);
    if (outcome.ok) return outcome;
    if ('miss' in outcome) misses.push(outcome.miss);
    else pathFailure ??= outcome.failure;
  }
  if (pathFailure) {
    const others = misses.length > 0 ? `; no other record matched: ${misses.join('; ')}` : '';
    return { ...pathFailure, message: pathFailure.message + others };
  }
  return { ok: false, code: 'untrusted', message: `no TLSA record matched: ${misses.join('; ')}` };
}

type Outcome = Extract<DaneResult, { ok: true }> | { readonly ok: false; readonly miss: string } | { readonly ok: false; readonly failure: Failure };

/** RFC 7671 §5.1: the leaf matches; expiry and names are ignored. */
function daneEe(record: Tlsa, leaf: Cert): Outcome {
  if (matches(record, leaf)) return { ok: true, usage: 3, record, path: [leaf], depth: 0 };
  return { ok: false, miss: `${short(record)} vs leaf ${seen(record, leaf)}` };
}

/** RFC 7671 §5.2: a path from the leaf to the matching certificate, which is the only anchor. */
function daneTa(record: Tlsa, leaf: Cert, presented: readonly Cert[], now: Date): Outcome {
  const sent = presented.filter((c) => !c.der.equals(leaf.der));
  const candidates = sent.filter((c) => matches(record, c));
  if (record.selector === 0 && record.matching === 0 && !record.data.equals(leaf.der) && !candidates.some((c) => c.der.equals(record.data))) {
    // `2 0 0`: the anchor is in the record, so the server need not send it (RFC 7671 §5.2.2).
    try {
      candidates.push(parseCertificate(record.data));
    } catch (e) {
      if (!(e instanceof CertError)) throw e;
      return { ok: false, failure: { ok: false, code: 'untrusted', message: `TLSA ${short(record)}: the record data is not a certificate: ${e.message}` } };
    }
  }
  let failure: Failure | undefined;
  for (const ta of candidates) {
    const source = `TLSA ${short(record)}`;
    const r = validatePath(leaf, presented, anchorSet(source, [{ der: ta.der, source }]), now);
    if (r.ok) return { ok: true, usage: 2, record, path: r.path, depth: r.path.length - 1 };
    failure ??= { ok: false, code: r.code, message: `TLSA ${short(record)} matched '${ta.subject}', but the path from the leaf to it does not validate: ${r.message}` };
  }
  if (failure) return { ok: false, failure };
  const against = sent.length > 0 ? sent.map((c) => `'${c.subject}' ${seen(record, c)}`).join(', ') : 'no certificates sent besides the leaf';
  const self = matches(record, leaf) ? ' (the leaf itself matches, but DANE-TA names an issuer: a record for the leaf is usage 3)' : '';
  return { ok: false, miss: `${short(record)} vs ${against}${self}` };
}

function matches(record: Tlsa, cert: Cert): boolean {
  const selected = record.selector === 0 ? cert.der : cert.spki;
  const hash = MATCHING[record.matching].hash;
  return (hash === undefined ? selected : digest(hash, selected)).equals(record.data);
}

function digest(hash: 'sha256' | 'sha512', data: Buffer): Buffer {
  return createHash(hash).update(data).digest();
}

/** The record for a message: '3 1 1 ab12cd34…'; full data shown by size and SHA-256. */
function short(record: Tlsa): string {
  const { usage, selector, matching, data } = record;
  const shown = matching === 0 ? `<${data.length} bytes, sha256 ${prefix(digest('sha256', data))}>` : prefix(data);
  return `${usage} ${selector} ${matching} ${shown}`;
}

/** What a certificate offers to `record`: 'SPKI sha256 cd34ef56…' (Full is shown by its SHA-256 too). */
function seen(record: Tlsa, cert: Cert): string {
  const selected = record.selector === 0 ? cert.der : cert.spki;
  const hash = MATCHING[record.matching].hash ?? 'sha256';
  return `${SELECTORS[record.selector]} ${hash} ${prefix(digest(hash, selected))}`;
}

function prefix(bytes: Buffer): string {
  return bytes.toString('hex').slice(0, 8) + '…';
}

function clip(s: string): string {
  const shown = s.length > 40 ? s.slice(0, 40) + '...' : s;
  return shown.replace(/[^\x20-\x7e]/g, '?');
}
