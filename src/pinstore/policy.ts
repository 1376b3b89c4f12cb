// pinstore/policy.ts: what a pin store means for one connection (protocol/pin-store.md §5-§6):
// which entries apply to a host, whether a validated path satisfies them, and trust-on-first-use
// with TACK's activation rule (draft-perrin-tls-tack-00 §5.3.4, facts §1.8). Pure: time is passed in.
import { isIP } from 'node:net';
import type { Pin } from '../trust/policy.ts';
import { formatTime } from './format.ts';
import { describe, entriesOf, entryKey, formatTarget, newEntry, pinFromText, upsert, type PinEntry, type StoreDoc } from './doc.ts';

/** The connection a lookup is for. `service` narrows to entries without one or with the same. */
export interface Scope {
  readonly host: string;
  readonly port: number | undefined;
  readonly service?: string | undefined;
}

/** TACK draft-00 §5.3.4: an active period never exceeds 30 days. */
export const MAX_ACTIVE_MS = 30 * 24 * 3600 * 1000;

const PIN_TEXT = /^sha256\/[A-Za-z0-9+/]{43}=$/;

/** Lower case, no trailing dot, IPv6 without brackets: the form entries are stored in. */
export function normalizeHost(host: string): string {
  let h = host.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** Is `e` in force now? Expired entries are ignored as if absent (RFC 7469 §2.3.3). */
export function isLive(e: PinEntry, now: Date): boolean {
  return e.expires === undefined || e.expires.getTime() > now.getTime();
}

/** TOFU and TACK pins: active while active-until lies in the future (draft-00 §5.1). */
export function isActive(e: PinEntry, now: Date): boolean {
  return e.activeUntil !== undefined && e.activeUntil.getTime() > now.getTime();
}

/**
 * The entries that apply to `scope` now (§5.1): the host's own, or a parent domain's with
 * include-subdomains; port and service, when an entry has them, must agree. Per source only
 * the most specific entry counts (exact host before the nearest parent; port before none).
 */
export function lookup(doc: StoreDoc, scope: Scope, now: Date): PinEntry[] {
  const host = normalizeHost(scope.host);
  const ip = isIP(host) !== 0;
  const best = new Map<string, { e: PinEntry; rank: number }>();
  for (const l of doc.lines) {
    if (l.kind !== 'entry') continue;
    const e = l.entry;
    if (e.port !== undefined && e.port !== scope.port) continue;
    if (e.service !== undefined && e.service !== scope.service) continue;
    let rank: number;
    if (e.host === host) rank = 1000;
    else if (!ip && e.includeSubDomains && host.endsWith('.' + e.host)) rank = e.host.length;
    else continue;
    if (!isLive(e, now)) continue;
    rank = rank * 4 + (e.port !== undefined ? 2 : 0) + (e.service !== undefined ? 1 : 0);
    const held = best.get(e.source);
    if (!held || rank > held.rank) best.set(e.source, { e, rank });
  }
  return [...best.values()].map((b) => b.e);
}

/** What an entry does to this connection (§5.2). */
export type Effect = 'enforce' | 'report-only' | 'inactive' | 'not-spki';

export function effectOf(e: PinEntry, now: Date): Effect {
  if (e.source === 'tack' || e.pins.length === 0) return 'not-spki'; // TACK pins a TACK key: the TACK code checks it
  if (e.source === 'tofu' && !isActive(e, now)) return 'inactive'; // an inactive pin constrains nothing (draft-00 §5.2)
  return e.mode;
}

export interface StoredCheck {
  readonly entry: PinEntry;
  readonly effect: Effect;
  /** 'skipped' for inactive and not-spki entries. */
  readonly result: 'match' | 'mismatch' | 'skipped';
  /** On a match: `PIN@DEPTH` for each match. */
  readonly matched: readonly string[];
}

export interface StoredVerdict {
  readonly checks: readonly StoredCheck[];
  /** The first enforced entry that no SPKI on the path matches: the connection must stop. */
  readonly failure: { readonly check: StoredCheck; readonly message: string } | undefined;
}

/**
 * RFC 7469 §2.6 for each applicable entry: some SPKI on the VALIDATED path (leaf first, anchor
 * last; pins as 'sha256/...') must match one of its pins. Entries combine with AND: every
 * enforced entry must match, as must the --pin pins checked before (§5.2).
 */
export function checkStored(entries: readonly PinEntry[], pathPins: readonly string[], now: Date): StoredVerdict {
  const checks = entries.map((entry): StoredCheck => {
    const effect = effectOf(entry, now);
    if (effect === 'inactive' || effect === 'not-spki') return { entry, effect, result: 'skipped', matched: [] };
    const matched = matches(entry.pins, pathPins);
    return { entry, effect, result: matched.length > 0 ? 'match' : 'mismatch', matched };
  });
  const bad = checks.find((c) => c.effect === 'enforce' && c.result === 'mismatch');
  const failure = bad && {
    check: bad,
    message: `stored pins for ${describe(bad.entry)}: expected one of ${bad.entry.pins.map((p) => p.text).join(', ')}, got ${pathPins.map((p, d) => `${p}@${d}`).join(',')}`,
  };
  return { checks, failure };
}

function matches(pins: readonly Pin[], pathPins: readonly string[]): string[] {
  const out: string[] = [];
  pathPins.forEach((p, depth) => {
    if (pins.some((q) => q.text === p)) out.push(`${p}@${depth}`);
  });
  return out;
}

// --- trust on first use --------------------------------------------------------------------

export type TofuMode = 'learn' | 'strict';

export type TofuDecision =
  | { readonly kind: 'learned'; readonly entry: PinEntry }
  | { readonly kind: 'activated'; readonly entry: PinEntry }
  | { readonly kind: 'extended'; readonly entry: PinEntry }
  | { readonly kind: 'replaced'; readonly entry: PinEntry; readonly previous: PinEntry }
  | { readonly kind: 'unchanged'; readonly entry: PinEntry | undefined; readonly why: string }
  | { readonly kind: 'rejected'; readonly entry: PinEntry | undefined; readonly reason: 'no-entry' | 'active-pin-mismatch' | 'unknown-key'; readonly message: string };

export interface TofuResult {
  readonly decision: TofuDecision;
  /** The document to write, or undefined when nothing changed (or the decision is rejected). */
  readonly next: StoreDoc | undefined;
}

/**
 * draft-perrin-tls-tack-00 §5.3.4 applied to the leaf's and the anchor's SPKI (facts §1.8):
 * no pin -> a new inactive pin (learned); the same key seen again -> active until
 * now + min(now - first-seen, 30 days) (activated, or extended when already active); another key
 * while inactive -> a new inactive pin (replaced); another key while active -> rejected.
 * `strict` never takes a key it does not already hold: no entry, or another key, is rejected.
 * The relevant pin is the tofu entry for exactly this host and port.
 */
export function decideTofu(doc: StoreDoc, scope: Scope, pathPins: readonly string[], mode: TofuMode, now: Date): TofuResult {
  if (pathPins.length === 0) throw new RangeError('decideTofu: expected the validated path, got an empty one');
  const odd = pathPins.find((p) => !PIN_TEXT.test(p));
  if (odd !== undefined) throw new RangeError(`decideTofu: expected pins as sha256/<base64>, got '${odd}'`);
  const t = new Date(Math.floor(now.getTime() / 1000) * 1000); // the store keeps whole seconds
  const host = normalizeHost(scope.host);
  const key = entryKey({ host, port: scope.port, service: scope.service, source: 'tofu' });
  const current = entriesOf(doc).find((e) => entryKey(e) === key);
  const target = formatTarget(host, scope.port);
  const seen = pathPins.map((p, d) => `${p}@${d}`).join(',');

  if (!current) {
    if (mode === 'strict') {
      const others = lookup(doc, scope, t).filter((e) => effectOf(e, t) === 'enforce');
      if (others.length > 0) return { decision: { kind: 'unchanged', entry: undefined, why: `strict: ${target} is pinned by ${others.map((e) => e.source).join(', ')} entries; nothing is learned` }, next: undefined };
      return reject(undefined, 'no-entry', `--tofu strict: the store has no pin for ${target}, and strict never trusts a first contact`);
    }
    const entry = fresh(host, scope, pathPins, t);
    return { decision: { kind: 'learned', entry }, next: upsert(doc, entry) };
  }

  const same = current.pins.some((p) => pathPins.includes(p.text));
  const active = isActive(current, t);
  if (!same) {
    const held = current.pins.map((p) => p.text).join(', ');
    if (active) return reject(current, 'active-pin-mismatch', `TOFU: ${target} has an active pin until ${formatTime(current.activeUntil!)} (${held}); the peer's path has ${seen}`);
    if (mode === 'strict') return reject(current, 'unknown-key', `--tofu strict: ${target} has an inactive pin (${held}); the peer's path has ${seen}, and strict never replaces a pin`);
    const entry = fresh(host, scope, pathPins, t);
    return { decision: { kind: 'replaced', entry, previous: current }, next: upsert(doc, entry) };
  }

  const age = t.getTime() - current.firstSeen!.getTime();
  const until = new Date(t.getTime() + Math.min(Math.max(age, 0), MAX_ACTIVE_MS));
  const extends_ = until.getTime() > Math.max(current.activeUntil?.getTime() ?? 0, t.getTime());
  if (!extends_) {
    // Seen again within the same second as first contact, or no later than the current end.
    const entry = { ...current, lastSeen: t };
    const changed = current.lastSeen?.getTime() !== t.getTime();
    return { decision: { kind: 'unchanged', entry, why: active ? 'the active period already reaches this far' : 'seen again within the second of first contact' }, next: changed ? upsert(doc, Object.freeze(entry)) : undefined };
  }
  const entry = Object.freeze({ ...current, lastSeen: t, activeUntil: until });
  return { decision: { kind: active ? 'extended' : 'activated', entry }, next: upsert(doc, entry) };
}

function fresh(host: string, scope: Scope, pathPins: readonly string[], t: Date): PinEntry {
  // The leaf's key and the anchor's (the last on the validated path), as the issue asks.
  const texts = [...new Set([pathPins[0]!, pathPins[pathPins.length - 1]!])];
  return newEntry({ host, port: scope.port, service: scope.service, source: 'tofu', pins: texts.map(pinFromText) }, t);
}

function reject(entry: PinEntry | undefined, reason: 'no-entry' | 'active-pin-mismatch' | 'unknown-key', message: string): TofuResult {
  return { decision: { kind: 'rejected', entry, reason, message }, next: undefined };
}
