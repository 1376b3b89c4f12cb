// pinstore/doc.ts: the pin store's data model (protocol/pin-store.md §4): entries, the
// document of lines a store file parses into, and the edits on it. Pure.
import type { Pin } from '../trust/policy.ts';

/** The sources this tlsify knows (§4.1); others are kept and enforced by the common fields. */
export const SOURCES = ['static', 'tofu', 'hpkp', 'tack'] as const;

export type EntryMode = 'enforce' | 'report-only';

export interface PinEntry {
  /** Lower case: a DNS name of A-labels, an IPv4 address, or an IPv6 address (no brackets). */
  readonly host: string;
  /** Undefined: every port. */
  readonly port: number | undefined;
  /** Undefined: every service. */
  readonly service: string | undefined;
  /** One of SOURCES, or a later tlsify's source name. */
  readonly source: string;
  /** May be empty only for source=tack, which pins a TACK key (tackId), not an SPKI. */
  readonly pins: readonly Pin[];
  readonly mode: EntryMode;
  readonly includeSubDomains: boolean;
  readonly firstSeen: Date | undefined;
  readonly lastSeen: Date | undefined;
  /** TOFU and TACK: the pin is active (enforced) until then; absent or past: inactive. */
  readonly activeUntil: Date | undefined;
  /** Past this time the entry is ignored as if absent (HPKP's Effective Expiration Date). */
  readonly expires: Date | undefined;
  readonly reportUri: string | undefined;
  /** TACK key fingerprint, draft-perrin-tls-tack-00 §7 (facts §1.5): 5 groups of 5 base32. */
  readonly tackId: string | undefined;
  readonly minGeneration: number | undefined;
  /** Fields this tlsify does not know, kept verbatim (still escaped) so a rewrite loses nothing. */
  readonly extra: readonly (readonly [string, string])[];
}

/**
 * A new entry: what its source sets (host, port, service, source, pins) and what it changes
 * from the defaults of a plain enforced pin seen first and last at `t`. Frozen.
 */
export function newEntry(
  base: Pick<PinEntry, 'host' | 'port' | 'service' | 'source' | 'pins'>,
  t: Date,
  changes: Partial<Omit<PinEntry, 'host' | 'port' | 'service' | 'source' | 'pins'>> = {},
): PinEntry {
  return Object.freeze({
    ...base,
    pins: Object.freeze([...base.pins]),
    mode: 'enforce' as const,
    includeSubDomains: false,
    firstSeen: t,
    lastSeen: t,
    activeUntil: undefined,
    expires: undefined,
    reportUri: undefined,
    tackId: undefined,
    minGeneration: undefined,
    extra: Object.freeze([]),
    ...changes,
  });
}

/**
 * One line of a store. An entry read from a file keeps its text, written back byte for byte
 * while the entry is unchanged: hand edits and spacing survive, and a rewrite of a large store
 * formats only the lines that changed.
 */
export type StoreLine =
  | { readonly kind: 'entry'; readonly entry: PinEntry; readonly line: number; readonly raw?: string }
  | { readonly kind: 'text'; readonly text: string };

/** A parsed store: its lines in order. Comments and blank lines are `text` lines. */
export interface StoreDoc {
  readonly lines: readonly StoreLine[];
}

export const emptyDoc: StoreDoc = Object.freeze({ lines: Object.freeze([]) });

/** The entry's identity: at most one entry per host, port, service and source (§4.2). */
export function entryKey(e: Pick<PinEntry, 'host' | 'port' | 'service' | 'source'>): string {
  return `${e.host}|${e.port ?? ''}|${e.service ?? ''}|${e.source}`;
}

/** HOST, HOST:PORT, [V6] or [V6]:PORT, as written at the start of an entry line. */
export function formatTarget(host: string, port: number | undefined): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return port === undefined ? h : `${h}:${port}`;
}

/**
 * A pin read from a store: matching compares `text`, so the 32 bytes are decoded only when asked
 * for (a report, a header). Saves a base64 decode per pin on every read of a large store.
 */
class TextPin implements Pin {
  readonly algorithm = 'sha256' as const;
  constructor(readonly text: string) {}
  get hash(): Buffer {
    return Buffer.from(this.text.slice(7), 'base64');
  }
}

/** The pin of `sha256/<base64>` text known to be canonical (checked by the caller). */
export function pinFromText(text: string): Pin {
  return new TextPin(text);
}

/** Every entry of a document, in file order. */
export function entriesOf(doc: StoreDoc): PinEntry[] {
  const out: PinEntry[] = [];
  for (const l of doc.lines) if (l.kind === 'entry') out.push(l.entry);
  return out;
}

/** `example.com:443 source=tofu`: how errors and events name an entry. */
export function describe(e: Pick<PinEntry, 'host' | 'port' | 'service' | 'source'>): string {
  return `${formatTarget(e.host, e.port)}${e.service ? ` service=${e.service}` : ''} source=${e.source}`;
}

/** A document with `entry` in place of the one with the same key, or appended. */
export function upsert(doc: StoreDoc, entry: PinEntry): StoreDoc {
  return upsertAll(doc, [entry]);
}

/**
 * Each entry in place of the one with its key (`merge` may keep some of the old one's fields),
 * new ones appended in order. One pass, so importing thousands of entries stays linear.
 */
export function upsertAll(doc: StoreDoc, entries: readonly PinEntry[], merge: (old: PinEntry, next: PinEntry) => PinEntry = (_, next) => next): StoreDoc {
  const pending = new Map<string, PinEntry>();
  for (const e of entries) pending.set(entryKey(e), e);
  const lines = doc.lines.map((l): StoreLine => {
    if (l.kind !== 'entry') return l;
    const key = entryKey(l.entry);
    const next = pending.get(key);
    if (next === undefined) return l;
    pending.delete(key);
    return { kind: 'entry', entry: merge(l.entry, next), line: l.line };
  });
  for (const e of pending.values()) lines.push({ kind: 'entry', entry: e, line: 0 });
  return Object.freeze({ lines: Object.freeze(lines) });
}

/** A document without the entries `drop` selects; comments stay. */
export function removeWhere(doc: StoreDoc, drop: (e: PinEntry) => boolean): StoreDoc {
  return Object.freeze({ lines: Object.freeze(doc.lines.filter((l) => l.kind !== 'entry' || !drop(l.entry))) });
}
