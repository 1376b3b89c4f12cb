// pinstore/hpkp.ts: HTTP Public Key Pinning (RFC 7469) for a store: read a Public-Key-Pins
// header value (§2.1), decide whether to note it (§2.5), and write the failure report (§3). Pure.
import { isIP } from 'node:net';
import type { Pin } from '../trust/policy.ts';
import { formatTime } from './format.ts';
import { entriesOf, entryKey, newEntry, pinFromText, removeWhere, upsert, type PinEntry, type StoreDoc } from './doc.ts';
import { normalizeHost } from './policy.ts';

/** RFC 7469 §4.1 suggests 60 days as the balance; tlsify caps max-age there unless told otherwise. */
export const DEFAULT_MAX_AGE_CAP = 60 * 24 * 3600;

export interface HpkpHeader {
  /** The sha256 pins; pins of other algorithms are ignored (§2.1.1). */
  readonly pins: readonly Pin[];
  /** Seconds; undefined when the header has none (then it is not noted, §2.1.2). */
  readonly maxAge: number | undefined;
  readonly includeSubDomains: boolean;
  readonly reportUri: string | undefined;
}

export type HpkpParse = { readonly ok: true; readonly header: HpkpHeader } | { readonly ok: false; readonly message: string };

// RFC 7230 §3.2.6: token = 1*tchar; quoted-string with quoted-pair; OWS = *( SP / HTAB ).
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const QDTEXT = /[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]/;
const QPAIR = /[\t \x21-\x7e\x80-\xff]/;

/**
 * RFC 7469 §2.1: `directive *( OWS ";" OWS directive )`, directive = name [ "=" token /
 * quoted-string ]. A header that breaks the grammar or the rules (a directive twice, max-age not
 * digits, a sha256 pin that is not 32 bytes of base64) is ignored whole, never repaired (rule 4).
 */
export function parseHpkpHeader(value: string): HpkpParse {
  const bad = (message: string): HpkpParse => ({ ok: false, message });
  const s = value;
  let i = 0;
  const ows = (): void => {
    while (s[i] === ' ' || s[i] === '\t') i++;
  };
  const token = (): string => {
    const from = i;
    while (i < s.length && TCHAR.test(s[i]!)) i++;
    return s.slice(from, i);
  };
  const directives: { name: string; value: string | undefined; quoted: boolean }[] = [];
  ows();
  for (;;) {
    const at = i;
    const name = token();
    if (name === '') return bad(`expected a directive name at character ${at + 1}, got ${s[i] === undefined ? 'the end' : `'${s[i]}'`}`);
    let v: string | undefined;
    let quoted = false;
    if (s[i] === '=') {
      i++;
      if (s[i] === '"') {
        quoted = true;
        i++;
        v = '';
        for (;;) {
          const c = s[i];
          if (c === undefined) return bad(`expected a closing '"' for ${name}, got the end`);
          if (c === '"') break;
          if (c === '\\') {
            const n = s[i + 1];
            if (n === undefined || !QPAIR.test(n)) return bad(`expected an escaped character after '\\' in ${name}`);
            v += n;
            i += 2;
            continue;
          }
          if (!QDTEXT.test(c)) return bad(`expected text in the quoted value of ${name}, got character 0x${c.charCodeAt(0).toString(16)}`);
          v += c;
          i++;
        }
        i++;
      } else {
        v = token();
        if (v === '') return bad(`expected a value after '${name}=', got ${s[i] === undefined ? 'the end' : `'${s[i]}'`}`);
      }
    }
    directives.push({ name: name.toLowerCase(), value: v, quoted });
    ows();
    if (i === s.length) break;
    if (s[i] !== ';') return bad(`expected ';' or the end after ${name}, got '${s[i]}'`);
    i++;
    ows();
  }
  return readDirectives(directives);
}

function readDirectives(directives: readonly { name: string; value: string | undefined; quoted: boolean }[]): HpkpParse {
  const bad = (message: string): HpkpParse => ({ ok: false, message });
  const once = new Set<string>();
  const pins: Pin[] = [];
  let maxAge: number | undefined;
  let includeSubDomains = false;
  let reportUri: string | undefined;
  for (const d of directives) {
    if (d.name.startsWith('pin-')) {
      // §2.1.1: pin-directive-value = quoted-string; only sha256 is defined, others are ignored.
      if (d.value === undefined || !d.quoted) return bad(`${d.name}: expected a quoted base64 value`);
      if (d.name !== 'pin-sha256') continue;
      const text = `sha256/${d.value}`;
      if (!/^sha256\/[A-Za-z0-9+/]{43}=$/.test(text) || Buffer.from(d.value, 'base64').toString('base64') !== d.value) {
        return bad(`pin-sha256: expected the base64 of 32 bytes, got '${d.value.slice(0, 60)}'`);
      }
      if (!pins.some((p) => p.text === text)) pins.push(pinFromText(text));
      continue;
    }
    // §2.1 rule 2: apart from pins, no directive may appear twice.
    if (once.has(d.name)) return bad(`${d.name}: expected once, got it twice`);
    once.add(d.name);
    if (d.name === 'max-age') {
      if (d.value === undefined || !/^\d+$/.test(d.value)) return bad(`max-age: expected delta-seconds (digits), got ${d.value === undefined ? 'no value' : `'${d.value.slice(0, 30)}'`}`);
      maxAge = d.value.length > 15 ? Number.MAX_SAFE_INTEGER : Number(d.value);
    } else if (d.name === 'includesubdomains') {
      if (d.value !== undefined) return bad('includeSubDomains: expected no value');
      includeSubDomains = true;
    } else if (d.name === 'report-uri') {
      if (d.value === undefined || !/^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]+$/.test(d.value)) return bad('report-uri: expected an absolute URI');
      reportUri = d.value;
    }
    // §2.1 rule 5: unknown directives are ignored.
  }
  return { ok: true, header: Object.freeze({ pins: Object.freeze(pins), maxAge, includeSubDomains, reportUri }) };
}

/** A certificate of a chain: its pin ('sha256/...') and DER. trust/cert.ts's Cert fits. */
export interface ChainCert {
  readonly pin: string;
  readonly der: Buffer;
}

export interface HpkpInput {
  readonly host: string;
  readonly port: number | undefined;
  readonly header: string;
  /** The VALIDATED path, leaf first (§2.6): certificates the peer sent off it do not count. */
  readonly validated: readonly ChainCert[];
  /** The certificates the peer sent, for the report's served-certificate-chain. */
  readonly served: readonly Buffer[];
  /** §2.5 condition 1: the verdict passed, stored pins included, with no TLS error. */
  readonly clean: boolean;
  readonly now: Date;
  /** Public-Key-Pins-Report-Only: evaluate and report, never store (§2.1.2, §2.3.2). */
  readonly reportOnly: boolean;
  /** Seconds; max-age above it is lowered to it (§2.3.3). */
  readonly maxAgeCap: number;
}

export type HpkpReason = 'malformed' | 'ip-literal' | 'not-clean' | 'no-max-age' | 'no-usable-pin' | 'no-matching-pin' | 'no-backup-pin';

export type HpkpOutcome =
  | { readonly kind: 'noted'; readonly entry: PinEntry; readonly maxAge: number; readonly capped: boolean; readonly replaced: boolean }
  | { readonly kind: 'removed'; readonly existed: boolean; readonly why: 'max-age=0' | 'no-usable-pin' }
  | { readonly kind: 'rejected'; readonly reason: HpkpReason; readonly message: string }
  | { readonly kind: 'evaluated'; readonly result: 'match' | 'mismatch'; readonly report: PinReport | undefined };

export interface PinReport {
  readonly uri: string;
  /** The RFC 7469 §3 JSON body, for the parent to POST; tlsify itself never sends it. */
  readonly json: string;
}

/** RFC 7469 §2.5 (noting), §2.1.2 and §2.3 (max-age, report-only) for one header. */
export function decideHpkp(doc: StoreDoc, input: HpkpInput): { outcome: HpkpOutcome; next: StoreDoc | undefined } {
  const no = (reason: HpkpReason, message: string) => ({ outcome: { kind: 'rejected' as const, reason, message }, next: undefined });
  const parsed = parseHpkpHeader(input.header);
  if (!parsed.ok) return no('malformed', `the header is ignored whole (RFC 7469 §2.1 rule 4): ${parsed.message}`);
  const h = parsed.header;
  const host = normalizeHost(input.host);
  const pathPins = input.validated.map((c) => c.pin);
  const inPath = h.pins.filter((p) => pathPins.includes(p.text));

  if (input.reportOnly) {
    const result = inPath.length > 0 ? 'match' : 'mismatch';
    const report = result === 'mismatch' && h.reportUri !== undefined ? { uri: h.reportUri, json: pinReport({ ...input, hostname: host, noted: { host, pins: h.pins, includeSubDomains: h.includeSubDomains, expires: undefined } }) } : undefined;
    return { outcome: { kind: 'evaluated', result, report }, next: undefined };
  }
  if (isIP(host) !== 0) return no('ip-literal', `${host} is an IP address: pins are noted for host names only (RFC 7469 §2.3.3)`);
  if (!input.clean) return no('not-clean', 'the connection had an error: pins are noted only from an error-free connection (RFC 7469 §2.5)');
  if (h.maxAge === undefined) return no('no-max-age', 'expected a max-age directive, which Public-Key-Pins requires (RFC 7469 §2.1.2), got none');

  const key = entryKey({ host, port: undefined, service: undefined, source: 'hpkp' });
  const current = entriesOf(doc).find((e) => entryKey(e) === key);
  const drop = (why: 'max-age=0' | 'no-usable-pin') => ({
    outcome: { kind: 'removed' as const, existed: current !== undefined, why },
    next: current ? removeWhere(doc, (e) => entryKey(e) === key) : undefined,
  });
  // §2.3.1: max-age=0 forgets the host (includeSubDomains with it); a new host is not noted.
  if (h.maxAge === 0) return drop('max-age=0');
  // §2.1.1: with no usable pin left the host stops being pinned (fail open).
  if (h.pins.length === 0) return current ? drop('no-usable-pin') : no('no-usable-pin', 'expected at least one pin-sha256, got none (pins of other algorithms are ignored)');
  const listed = h.pins.map((p) => p.text).join(', ');
  const chain = pathPins.map((p, d) => `${p}@${d}`).join(',');
  if (inPath.length === 0) return no('no-matching-pin', `expected a pin that matches the validated chain (RFC 7469 §2.5), got ${listed}; the chain has ${chain}`);
  if (inPath.length === h.pins.length) return no('no-backup-pin', `expected a backup pin that matches nothing in the chain (RFC 7469 §2.5, §4.3), got only pins of the chain: ${listed}`);

  const maxAge = Math.min(h.maxAge, input.maxAgeCap);
  const t = new Date(Math.floor(input.now.getTime() / 1000) * 1000);
  // §2.5: the newest valid header replaces pins, expiry and report-uri exactly.
  const entry = newEntry({ host, port: undefined, service: undefined, source: 'hpkp', pins: h.pins }, t, {
    includeSubDomains: h.includeSubDomains,
    firstSeen: current?.firstSeen ?? t,
    expires: new Date(t.getTime() + maxAge * 1000),
    reportUri: h.reportUri,
    extra: current?.extra ?? Object.freeze([]),
  });
  return { outcome: { kind: 'noted', entry, maxAge, capped: maxAge < h.maxAge, replaced: current !== undefined }, next: upsert(doc, entry) };
}

export interface ReportInput {
  readonly now: Date;
  /** The host the connection was for (§3 "hostname"). */
  readonly hostname: string;
  readonly port: number | undefined;
  /** The policy that failed: its noted host, pins, includeSubDomains and expiry. */
  readonly noted: { readonly host: string; readonly pins: readonly Pin[]; readonly includeSubDomains: boolean; readonly expires: Date | undefined };
  readonly served: readonly Buffer[];
  readonly validated: readonly ChainCert[];
}

/**
 * RFC 7469 §3, Figure 6: the JSON a UA POSTs on a pin validation failure. Times are RFC 3339;
 * known-pins are `pin-sha256="..."` in double-quoted JSON strings with the quotes escaped.
 * effective-expiration-date is left out for a policy without one (a static or report-only pin).
 */
export function pinReport(r: ReportInput): string {
  const body: Record<string, unknown> = {
    'date-time': formatTime(r.now),
    hostname: r.hostname,
    port: r.port,
    'effective-expiration-date': r.noted.expires ? formatTime(r.noted.expires) : undefined,
    'include-subdomains': r.noted.includeSubDomains,
    'noted-hostname': r.noted.host,
    'served-certificate-chain': r.served.map(pem),
    'validated-certificate-chain': r.validated.map((c) => pem(c.der)),
    'known-pins': r.noted.pins.map((p) => `pin-sha256="${p.hash.toString('base64')}"`),
  };
  return JSON.stringify(body);
}

/** The report for a stored entry that failed (protocol/pin-store.md §5.3): undefined when the entry names no report-uri. */
export function reportFor(entry: PinEntry, r: Omit<ReportInput, 'noted'>): PinReport | undefined {
  if (entry.reportUri === undefined) return undefined;
  return { uri: entry.reportUri, json: pinReport({ ...r, noted: { host: entry.host, pins: entry.pins, includeSubDomains: entry.includeSubDomains, expires: entry.expires } }) };
}

/** RFC 7468 §2: base64 in 64-character lines between the CERTIFICATE labels. */
function pem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----`;
}
