// pinstore/tack.ts: TACK pins in the pin store (draft-perrin-tls-tack-00 §5.1-§5.3, facts §1.8;
// protocol/pin-store.md §4.1): the pin step of a connection (learn, activate, extend, replace,
// reject), generation raises and break-signature deletes. Pure: time is passed in. Nothing here
// imports src/tack/, so connect can enforce an active TACK pin without loading @noble/curves.
//
// Records (draft-00 §5.1) as store entries:
// - a NAME record is one `source=tack` entry: HOST:PORT (kept per port, as TOFU pins are),
//   `first-seen` (the initial timestamp), `active-until` (the active period end; absent = empty)
//   and `tack-id` (the key record it belongs to);
// - a KEY record is not a line of its own: it is the `tack-id` (25 base32 characters of
//   SHA-256(key), a second-preimage-resistant hash as §5.1 allows) with its `min-generation`,
//   which every entry of that key carries and which is raised on all of them at once. A key
//   record therefore lives as long as one of its name records; §5.3.6 lets a client drop a key
//   record that no name record references.
import type { Fields } from '../control/frame.ts';
import { entriesOf, formatTarget, newEntry, removeWhere, upsert, type PinEntry, type StoreDoc, type StoreLine } from './doc.ts';
import { formatTime } from './format.ts';
import { MAX_ACTIVE_MS, isActive, lookup, normalizeHost, type Scope } from './policy.ts';

export const TACK_SOURCE = 'tack';

/** What the pin step needs from a TACK that passed tack/check.ts (and was not revoked or broken). */
export interface TackKeyFacts {
  /** The TACK ID of its key (draft-00 §7). */
  readonly keyId: string;
  readonly minGeneration: number;
  readonly generation: number;
}

/** Draft-00 §5.2: a relevant active pin and a TACK of its key, such a pin and none, or neither. */
export type TackOutcome = 'accepted' | 'rejected' | 'unpinned';

export type TackPinDecision =
  | { readonly kind: 'none' } // no relevant pin and no TACK
  | { readonly kind: 'learned'; readonly entry: PinEntry }
  | { readonly kind: 'replaced'; readonly entry: PinEntry; readonly previous: PinEntry }
  | { readonly kind: 'activated'; readonly entry: PinEntry }
  | { readonly kind: 'extended'; readonly entry: PinEntry }
  | { readonly kind: 'deleted'; readonly previous: PinEntry }
  | { readonly kind: 'unchanged'; readonly entry: PinEntry | undefined; readonly why: string }
  /** `reason`: active-pin-mismatch, no-tack, or (set by tack/client.ts) why a TACK was refused. */
  | { readonly kind: 'rejected'; readonly entry: PinEntry | undefined; readonly reason: string; readonly message: string };

export interface TackPinResult {
  readonly decision: TackPinDecision;
  readonly outcome: TackOutcome;
  /** The TACK ID the relevant active pin accepted the connection by. */
  readonly accepted: string | undefined;
  /** The document to write, or undefined when the pin step changes nothing. */
  readonly next: StoreDoc | undefined;
}

const whole = (now: Date): Date => new Date(Math.floor(now.getTime() / 1000) * 1000); // the store keeps seconds

/**
 * The relevant pin (draft-00 §5.1): the `source=tack` entry whose name is exactly this host; of
 * several (with and without a port or service) the most specific, as protocol/pin-store.md §5.1.
 */
export function relevantTackPin(doc: StoreDoc, scope: Scope, now: Date): PinEntry | undefined {
  const host = normalizeHost(scope.host);
  return lookup(doc, scope, now).find((e) => e.source === TACK_SOURCE && e.host === host);
}

/** The key record's min_generation: undefined when no entry references the key. */
export function keyMinGeneration(doc: StoreDoc, keyId: string): number | undefined {
  let min: number | undefined;
  for (const e of entriesOf(doc)) {
    // Entries of one key agree unless edited by hand; the highest revokes the most.
    if (e.source === TACK_SOURCE && e.tackId === keyId) min = Math.max(min ?? 0, e.minGeneration ?? 0);
  }
  return min;
}

/** Draft-00 §5.3.2: the key record's min_generation set to `minGeneration` on every entry of the key. */
export function raiseMinGeneration(doc: StoreDoc, keyId: string, minGeneration: number): StoreDoc {
  const lines = doc.lines.map((l): StoreLine => {
    if (l.kind !== 'entry' || l.entry.source !== TACK_SOURCE || l.entry.tackId !== keyId) return l;
    if ((l.entry.minGeneration ?? 0) >= minGeneration) return l;
    return { kind: 'entry', entry: Object.freeze({ ...l.entry, minGeneration }), line: l.line };
  });
  return Object.freeze({ lines: Object.freeze(lines) });
}

/** Draft-00 §5.3.5: a broken key's record discarded with all its name records, for every host. */
export function dropKey(doc: StoreDoc, keyId: string): { readonly doc: StoreDoc; readonly removed: readonly PinEntry[] } {
  const broken = (e: PinEntry): boolean => e.source === TACK_SOURCE && e.tackId === keyId;
  const removed = entriesOf(doc).filter(broken);
  return { doc: removed.length > 0 ? removeWhere(doc, broken) : doc, removed };
}

/**
 * Draft-00 §5.3.4 and the outcome of §5.2 for the TACKs that passed every check (`tacks`, in the
 * order given; empty when none was given). `activate` is the caller's pin_activation flag
 * (--tack-activate); tlsify asks for it to write any pin, so without it the store is only read:
 *
 * | relevant pin | references a TACK        | other key / no TACK                          |
 * |--------------|--------------------------|----------------------------------------------|
 * | active       | accepted; extended (*)   | rejected (active-pin-mismatch / no-tack)     |
 * | inactive     | activated (*): accepted  | replaced by a new inactive pin (*) / deleted (*) |
 * | none         | -                        | learned: a new inactive pin (*) / none       |
 *
 * (*) only with `activate`; else `unchanged`. active-until = now + min(now - first-seen, 30 days).
 */
export function decideTackPin(doc: StoreDoc, scope: Scope, tacks: readonly TackKeyFacts[], activate: boolean, now: Date): TackPinResult {
  const t = whole(now);
  const current = relevantTackPin(doc, scope, t);
  const target = formatTarget(normalizeHost(scope.host), scope.port);
  const offered = tacks.map((k) => k.keyId).join(', ');
  const off = 'pin writes need --tack-activate';

  if (!current) {
    const first = tacks[0];
    if (!first) return { decision: { kind: 'none' }, outcome: 'unpinned', accepted: undefined, next: undefined };
    if (!activate) return unchanged(undefined, `no TACK pin for ${target}; learning one: ${off}`, 'unpinned');
    const entry = fresh(doc, scope, first, t);
    return { decision: { kind: 'learned', entry }, outcome: 'unpinned', accepted: undefined, next: upsert(doc, entry) };
  }

  const match = tacks.find((k) => k.keyId === current.tackId);
  const active = isActive(current, t);
  if (!match) {
    if (active) {
      const got = tacks.length > 0 ? `TACKs by ${offered}` : 'no TACK';
      const reason = tacks.length > 0 ? 'active-pin-mismatch' : 'no-tack';
      const message = `TACK pin for ${target}: expected a TACK by ${current.tackId} (pin active until ${formatTime(current.activeUntil!)}), got ${got}`;
      return { decision: { kind: 'rejected', entry: current, reason, message }, outcome: 'rejected', accepted: undefined, next: undefined };
    }
    const first = tacks[0];
    if (!first) {
      if (!activate) return unchanged(current, `no TACK given: the inactive pin is kept (deleting it: ${off})`, 'unpinned');
      return { decision: { kind: 'deleted', previous: current }, outcome: 'unpinned', accepted: undefined, next: removeWhere(doc, (e) => e === current) };
    }
    if (!activate) return unchanged(current, `the inactive pin references ${current.tackId}, not ${offered}; replacing it: ${off}`, 'unpinned');
    const entry = fresh(doc, scope, first, t);
    const next = upsert(removeWhere(doc, (e) => e === current), entry);
    return { decision: { kind: 'replaced', entry, previous: current }, outcome: 'unpinned', accepted: undefined, next };
  }

  const outcome: TackOutcome = active ? 'accepted' : 'unpinned';
  const accepted = active ? match.keyId : undefined;
  if (!activate) return { ...unchanged(current, `pin activation is off (--tack-activate)`, outcome), accepted };
  const age = Math.max(t.getTime() - current.firstSeen!.getTime(), 0);
  const until = new Date(t.getTime() + Math.min(age, MAX_ACTIVE_MS));
  if (until.getTime() <= Math.max(current.activeUntil?.getTime() ?? 0, t.getTime())) {
    return { ...unchanged(current, active ? 'the active period already reaches this far' : 'seen again within the second of first contact', outcome), accepted };
  }
  const entry: PinEntry = Object.freeze({ ...current, lastSeen: t, activeUntil: until });
  // Now active and referencing a TACK of this connection: accepted (§5.2 judges after step 4).
  return { decision: { kind: active ? 'extended' : 'activated', entry }, outcome: 'accepted', accepted: match.keyId, next: upsert(doc, entry) };
}

function unchanged(entry: PinEntry | undefined, why: string, outcome: TackOutcome): TackPinResult {
  return { decision: { kind: 'unchanged', entry, why }, outcome, accepted: undefined, next: undefined };
}

/** A new inactive pin; its key record is reused when one exists (§5.3.4 step 1). */
function fresh(doc: StoreDoc, scope: Scope, k: TackKeyFacts, t: Date): PinEntry {
  const held = keyMinGeneration(doc, k.keyId);
  return newEntry({ host: normalizeHost(scope.host), port: scope.port, service: scope.service, source: TACK_SOURCE, pins: [] }, t, {
    tackId: k.keyId,
    minGeneration: Math.max(held ?? 0, k.minGeneration),
  });
}

/**
 * For a connection given no TACK and no break signature: an active relevant pin rejects it
 * (draft-00 §5.3.4: active + no TACK), and nothing is written. An inactive pin is kept: with
 * TACKs given out of band, "none given" does not say the server has none. `entries` are those
 * connect already looked up for this host (PinStore.entriesFor), so the store is not read again.
 * Undefined: no TACK pin for this name.
 */
export function enforceTackPins(entries: readonly PinEntry[], scope: Scope, now: Date): TackPinResult | undefined {
  const doc: StoreDoc = { lines: entries.map((entry): StoreLine => ({ kind: 'entry', entry, line: 0 })) };
  if (!relevantTackPin(doc, scope, whole(now))) return undefined;
  return decideTackPin(doc, scope, [], false, now);
}

/** `tack-pin`: the pin step's decision and the connection's outcome (draft-00 §5.2). */
export function tackPinFields(r: TackPinResult, scope: Scope): Fields {
  const d = r.decision;
  const entry = d.kind === 'deleted' || d.kind === 'none' ? undefined : d.entry;
  const previous = d.kind === 'replaced' || d.kind === 'deleted' ? d.previous : undefined;
  return {
    decision: d.kind,
    outcome: r.outcome,
    host: formatTarget(normalizeHost(scope.host), scope.port),
    id: entry?.tackId ?? previous?.tackId,
    'first-seen': entry?.firstSeen && formatTime(entry.firstSeen),
    'active-until': entry?.activeUntil && formatTime(entry.activeUntil),
    'min-generation': entry?.minGeneration,
    previous: d.kind === 'replaced' ? d.previous.tackId : undefined,
    reason: d.kind === 'rejected' ? d.reason : undefined,
    message: d.kind === 'rejected' ? d.message : d.kind === 'unchanged' ? d.why : undefined,
  };
}

/** `tack-pin decision=broken`: what a verified break signature removed (draft-00 §5.3.5). */
export function brokenFields(keyId: string, removed: readonly PinEntry[]): Fields {
  return { decision: 'broken', id: keyId, removed: removed.length, hosts: removed.map((e) => formatTarget(e.host, e.port)).join(',') || undefined };
}

/** `tack-pin decision=raised`: a key record's min_generation raised by a TACK (draft-00 §5.3.2). */
export function raisedFields(keyId: string, from: number, to: number): Fields {
  return { decision: 'raised', id: keyId, 'min-generation': to, was: from };
}
