// tack/client.ts: TACK on the client (draft-perrin-tls-tack-00 §5, facts §1.8) for connect. TACKs
// and break signatures come out of band (--tack, --tack-break, or bytes on the control channel,
// since node:tls cannot carry the extension: facts §1.4); they are checked against the validated
// leaf's SPKI at `now`, and the store's TACK pins (pinstore/tack.ts) follow. Load this module with
// `await import()` only when there is TACK input: it pulls in @noble/curves (tack/key.ts says why).
//
// The order, and where it departs from §5.2's on purpose:
// 1. break signatures are verified and applied first (§5.3.1 lets them be checked there), so a
//    broken key's TACK can neither pass nor touch a pin in the same connection;
// 2. each TACK: well-formed, for this leaf, not expired (check.ts), not by a broken key, and
//    not revoked by its key record's min_generation, which a valid TACK raises (§5.3.2);
// 3. any refusal rejects the connection (§5.2: every error is fatal); the store then keeps only
//    the break deletes and the raises, which the key's own signature authorises;
// 4. otherwise the pin step (§5.3.4) and the outcome (§5.2).
import { readFile } from 'node:fs/promises';
import { TlsifyError } from '../codes.ts';
import type { Fields } from '../control/frame.ts';
import type { PinEntry, StoreDoc } from '../pinstore/doc.ts';
import { formatTime } from '../pinstore/format.ts';
import type { Scope } from '../pinstore/policy.ts';
import type { PinStore } from '../pinstore/store.ts';
import { brokenFields, decideTackPin, dropKey, keyMinGeneration, raiseMinGeneration, raisedFields, relevantTackPin, tackPinFields, type TackKeyFacts, type TackOutcome, type TackPinDecision } from '../pinstore/tack.ts';
import { BREAK_SIG_LENGTH } from './break-sig.ts';
import { TACK_FAILURES, applyGeneration, checkBreakSig, checkTack, type AcceptedTack, type TackAlert } from './check.ts';
import { TackError } from './error.ts';
import { LABELS, containsPem, decodePemBlocks } from './pem.ts';
import { TACK_LENGTH } from './tack.ts';

/** TACK or break-signature input: PEM text (tackpy's files) or raw bytes (166 per TACK, 128 per signature). */
export interface TackSource {
  /** Where it came from, for events and messages: a file name, or `control`. */
  readonly from: string;
  readonly data: Buffer | string;
}

export interface TackRequest {
  readonly tacks: readonly TackSource[];
  readonly breakSigs: readonly TackSource[];
  /** The DER SubjectPublicKeyInfo of the leaf of the VALIDATED path (Verified.path[0].spki). */
  readonly leafSpki: Uint8Array;
  /** The name the pin is kept under (the reference identity, not an address) and the port. */
  readonly scope: Scope;
  /** --tack-activate: the caller's pin_activation flag; without it no pin is written. */
  readonly activate: boolean;
  readonly now: Date;
  /** Minutes of clock error allowed past a TACK's expiration (check.ts's default otherwise). */
  readonly toleranceMinutes?: number;
}

/** Why one TACK was refused: check.ts's reasons, a broken key, or an active pin for another key. */
export type TackReason = keyof typeof TACK_FAILURES | 'broken' | 'active-pin-mismatch';

export interface TackVerdict {
  readonly from: string;
  /** Undefined when the bytes are not a TACK at all. */
  readonly id: string | undefined;
  /** accepted: an active relevant pin references its key (§5.2); unpinned: valid, no such pin. */
  readonly result: 'accepted' | 'unpinned' | 'rejected';
  readonly reason: TackReason | undefined;
  readonly alert: TackAlert | 'access_denied' | undefined;
  readonly message: string | undefined;
  readonly tack: AcceptedTack | undefined;
}

export interface BreakVerdict {
  readonly from: string;
  readonly id: string | undefined;
  readonly result: 'verified' | 'rejected';
  readonly reason: 'malformed' | 'invalid-key' | 'bad-signature' | undefined;
  readonly message: string | undefined;
  /** Verified: the store entries (every host) its key's pins were. */
  readonly removed: readonly PinEntry[];
}

export interface TackDecision {
  readonly outcome: TackOutcome;
  readonly tacks: readonly TackVerdict[];
  readonly breaks: readonly BreakVerdict[];
  /** Key records whose min_generation a TACK raised. */
  readonly raised: readonly { readonly id: string; readonly from: number; readonly to: number }[];
  /** The pin step; `rejected` with a TACK's reason when a refusal skipped it. */
  readonly pin: TackPinDecision;
  /** The document to write, or undefined when nothing changes. */
  readonly next: StoreDoc | undefined;
  /** Control events in order: `tack` per break signature and per TACK, then `tack-pin` lines. */
  readonly events: readonly (readonly [string, Fields])[];
  /** Set when outcome is rejected: end the connection with this code (exit 11) and message. */
  readonly failure: { readonly code: 'pin-mismatch'; readonly reason: string; readonly message: string } | undefined;
}

/** What the signature checks found, independent of the store: done once, decided twice under the lock. */
export interface TackChecks {
  readonly tacks: readonly ({ readonly from: string; readonly check: ReturnType<typeof checkTack> })[];
  readonly breaks: readonly ({ readonly from: string; readonly check: ReturnType<typeof checkBreakSig> })[];
}

/**
 * The TACKs in one input: every `-----BEGIN TACK-----` block (text outside blocks ignored, as
 * tackpy reads), else raw 166-byte TACKs. Throws TackError when it holds neither.
 */
export function splitTacks(data: Buffer | string): Buffer[] {
  return split(data, LABELS.tack, TACK_LENGTH, 'TACK');
}

/** The break signatures in one input: `-----BEGIN TACK BREAK SIG-----` blocks, else raw 128-byte ones. */
export function splitBreakSigs(data: Buffer | string): Buffer[] {
  return split(data, LABELS.breakSig, BREAK_SIG_LENGTH, 'break signature');
}

function split(data: Buffer | string, label: string, size: number, what: string): Buffer[] {
  const text = typeof data === 'string' ? data : data.toString('latin1');
  if (containsPem(text, label)) return decodePemBlocks(text, label);
  if (typeof data !== 'string' && data.length > 0 && data.length % size === 0 && !text.includes('-----BEGIN ')) {
    const out: Buffer[] = [];
    for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
    return out;
  }
  const got = text.includes('-----BEGIN ') ? `a PEM block of another kind (${/-----BEGIN ([^-]*)-----/.exec(text)?.[1] ?? '?'})` : `${Buffer.byteLength(data)} bytes`;
  throw new TackError(`expected -----BEGIN ${label}----- blocks or raw ${what}s of ${size} bytes, got ${got}`);
}

/** Names the n-th object of an input that holds several. */
const nth = (from: string, i: number, count: number): string => (count > 1 ? `${from}#${i + 1}` : from);

/** The signature and SPKI checks of every input (draft-00 §5.3.1, §5.3.3). Pure: `now` is passed. */
export function checkTackInputs(req: TackRequest): TackChecks {
  const opts = req.toleranceMinutes === undefined ? {} : { toleranceMinutes: req.toleranceMinutes };
  const tacks: TackChecks['tacks'][number][] = [];
  const breaks: TackChecks['breaks'][number][] = [];
  for (const src of req.breakSigs) {
    const parts = splitOrRefuse(() => splitBreakSigs(src.data));
    if (!Array.isArray(parts)) breaks.push({ from: src.from, check: parts });
    else parts.forEach((b, i) => breaks.push({ from: nth(src.from, i, parts.length), check: checkBreakSig(b) }));
  }
  for (const src of req.tacks) {
    const parts = splitOrRefuse(() => splitTacks(src.data));
    if (!Array.isArray(parts)) tacks.push({ from: src.from, check: parts });
    else parts.forEach((b, i) => tacks.push({ from: nth(src.from, i, parts.length), check: checkTack(b, req.leafSpki, req.now, opts) }));
  }
  return { tacks, breaks };
}

function splitOrRefuse(f: () => Buffer[]): Buffer[] | { readonly ok: false; readonly reason: 'malformed'; readonly alert: 'decode_error'; readonly message: string } {
  try {
    return f();
  } catch (err) {
    if (err instanceof TackError) return { ok: false, reason: 'malformed', alert: 'decode_error', message: err.message };
    throw err;
  }
}

/** The store part of draft-00 §5.3.2, §5.3.4, §5.3.5 and the outcome (§5.2), on `doc`. Pure and cheap. */
export function decideTack(checks: TackChecks, doc: StoreDoc, req: TackRequest): TackDecision {
  let d = doc;
  const events: [string, Fields][] = [];
  const pinEvents: [string, Fields][] = [];
  let failure: { reason: string; message: string } | undefined;
  const fail = (reason: string, message: string): void => void (failure ??= { reason, message });

  // 1. Break signatures (§5.3.5), first: see the header.
  const broken = new Set<string>();
  const breaks = checks.breaks.map(({ from, check }): BreakVerdict => {
    if (!check.ok) {
      fail(check.reason, `break signature ${from}: ${check.message}`);
      events.push(['tack', { kind: 'break-sig', from, result: 'rejected', reason: check.reason, alert: check.alert, message: check.message }]);
      return { from, id: idOf(check), result: 'rejected', reason: check.reason, message: check.message, removed: [] };
    }
    const dropped = dropKey(d, check.keyFingerprint);
    d = dropped.doc;
    broken.add(check.keyFingerprint);
    events.push(['tack', { kind: 'break-sig', from, id: check.keyFingerprint, result: 'verified' }]);
    pinEvents.push(['tack-pin', brokenFields(check.keyFingerprint, dropped.removed)]);
    return { from, id: check.keyFingerprint, result: 'verified', reason: undefined, message: undefined, removed: dropped.removed };
  });

  // 2. Each TACK: its checks, a broken key, then generation against the key record (§5.3.2).
  const raised: { id: string; from: number; to: number }[] = [];
  const usable: AcceptedTack[] = [];
  const refused = new Map<number, { reason: TackReason; alert: TackVerdict['alert']; message: string }>();
  checks.tacks.forEach(({ check }, i) => {
    if (!check.ok) return void refused.set(i, { reason: check.reason, alert: check.alert, message: check.message });
    if (broken.has(check.keyFingerprint)) {
      return void refused.set(i, { reason: 'broken', alert: 'access_denied', message: `expected a TACK by an unbroken key, got one by ${check.keyFingerprint}, which a break signature breaks` });
    }
    const record = keyMinGeneration(d, check.keyFingerprint);
    const g = applyGeneration(record, check);
    if (!g.ok) return void refused.set(i, { reason: g.reason, alert: g.alert, message: g.message });
    if (record !== undefined && g.minGeneration > record) {
      d = raiseMinGeneration(d, check.keyFingerprint, g.minGeneration);
      raised.push({ id: check.keyFingerprint, from: record, to: g.minGeneration });
      pinEvents.push(['tack-pin', raisedFields(check.keyFingerprint, record, g.minGeneration)]);
    }
    usable.push(check);
  });
  for (const [i, r] of refused) fail(r.reason, `TACK ${checks.tacks[i]!.from}: ${r.message}`);

  // 3/4. A refusal rejects the connection and skips the pin step; else the pin step decides.
  let pin: TackPinDecision;
  let outcome: TackOutcome;
  let accepted: string | undefined;
  if (failure) {
    pin = { kind: 'rejected', entry: relevantTackPin(d, req.scope, req.now), reason: failure.reason, message: failure.message };
    outcome = 'rejected';
  } else {
    const facts: TackKeyFacts[] = usable.map((t) => ({ keyId: t.keyFingerprint, minGeneration: t.minGeneration, generation: t.generation }));
    const r = decideTackPin(d, req.scope, facts, req.activate, req.now);
    ({ decision: pin, outcome, accepted } = r);
    if (r.next) d = r.next;
    if (pin.kind === 'rejected') fail(pin.reason, pin.message);
  }

  const tacks = checks.tacks.map(({ from, check }, i): TackVerdict => {
    const r = refused.get(i);
    const tack = check.ok ? check : undefined;
    if (r) return { from, id: idOf(check), result: 'rejected', ...r, tack };
    if (pin.kind === 'rejected') return { from, id: idOf(check), result: 'rejected', reason: 'active-pin-mismatch', alert: 'access_denied', message: pin.message, tack };
    return { from, id: idOf(check), result: tack && tack.keyFingerprint === accepted ? 'accepted' : 'unpinned', reason: undefined, alert: undefined, message: undefined, tack };
  });
  for (const v of tacks) events.push(['tack', tackFields(v)]);
  events.push(...pinEvents, ['tack-pin', tackPinFields({ decision: pin, outcome, accepted, next: undefined }, req.scope)]);

  return {
    outcome,
    tacks,
    breaks,
    raised,
    pin,
    next: d === doc ? undefined : d,
    events,
    failure: failure && { code: 'pin-mismatch', ...failure },
  };
}

function idOf(check: { readonly ok: boolean; readonly keyFingerprint?: string }): string | undefined {
  return check.ok ? check.keyFingerprint : undefined;
}

/** `tack`: one TACK's result (draft-00 §5.2 per TACK), its key, generations and expiration. */
function tackFields(v: TackVerdict): Fields {
  return {
    kind: 'tack',
    from: v.from,
    id: v.id,
    result: v.result,
    generation: v.tack?.generation,
    'min-generation': v.tack?.minGeneration,
    expires: v.tack && formatTime(v.tack.expiration),
    reason: v.reason,
    alert: v.alert,
    message: v.message,
  };
}

/** checkTackInputs then decideTack: the whole decision on one document. Pure. */
export function judgeTacks(req: TackRequest, doc: StoreDoc): TackDecision {
  return decideTack(checkTackInputs(req), doc, req);
}

/**
 * The entry point for connect, after the verdict and before any plaintext: checks every input,
 * decides on the store as read, and when that changes the store, decides again on the store as it
 * is under the lock and writes that (protocol/pin-store.md §8.1). With `--pin-store none`
 * (store.file undefined) nothing is written. A failure is the caller's to throw:
 * `throw new TlsifyError(d.failure.code, d.failure.message)` after sending d.events.
 */
export async function processTacks(store: Pick<PinStore, 'read' | 'update' | 'file'>, req: TackRequest): Promise<TackDecision> {
  const checks = checkTackInputs(req);
  const first = decideTack(checks, store.read(), req);
  if (first.next === undefined || store.file === undefined) return first;
  let d = first;
  await store.update((doc) => {
    d = decideTack(checks, doc, req);
    return d.next;
  });
  return d;
}

/**
 * Reads --tack and --tack-break files before dialling, so a missing or foreign file stops
 * tlsify with `config` (exit 3) like any other file argument; their TACKs are judged later.
 */
export async function readTackFiles(tackFiles: readonly string[], breakFiles: readonly string[]): Promise<{ tacks: TackSource[]; breakSigs: TackSource[] }> {
  const read = async (file: string, flag: string, sizeOf: (b: Buffer) => void): Promise<TackSource> => {
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch (err) {
      throw new TlsifyError('config', `${flag} ${file}: expected a readable file, got ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    try {
      sizeOf(data);
    } catch (err) {
      if (err instanceof TackError) throw new TlsifyError('config', `${flag} ${file}: ${err.message}`);
      throw err;
    }
    return { from: file, data };
  };
  const sized = (split: (d: Buffer) => Buffer[], size: number, what: string) => (d: Buffer): void => {
    split(d).forEach((b, i) => {
      if (b.length !== size) throw new TackError(`block ${i + 1}: expected a ${what} of ${size} bytes, got ${b.length}`);
    });
  };
  return {
    tacks: await Promise.all(tackFiles.map((f) => read(f, '--tack', sized(splitTacks, TACK_LENGTH, 'TACK')))),
    breakSigs: await Promise.all(breakFiles.map((f) => read(f, '--tack-break', sized(splitBreakSigs, BREAK_SIG_LENGTH, 'break signature')))),
  };
}

