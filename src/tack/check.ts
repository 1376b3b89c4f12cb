// tack/check.ts: what a client checks before it uses a TACK or a break signature, as pure
// functions for the connect side (draft-perrin-tls-tack-00 §5.3.1 well-formed, §5.3.2 generation,
// §5.3.3 expiry, §5.3.5 break signatures). Time is passed in; nothing here reads a clock or a file.
// The pin store and pin activation (§5.3.4) are the caller's; these functions give it the facts.
import { decodeBreakSig, verifyBreakSig, type BreakSig } from './break-sig.ts';
import { sha256 } from './digest.ts';
import { TackError } from './error.ts';
import { fingerprint } from './key.ts';
import { isValidPoint } from './p256.ts';
import { decodeTack, verifyTackSignature, type Tack } from './tack.ts';
import { minutesToText } from './time.ts';

/**
 * Clock tolerance for expiry, in minutes (draft-00 §8.2: clients SHOULD allow for clock error).
 * A TACK is expired once `now` is more than this past its expiration. Ten minutes covers a
 * client clock that has drifted without NTP for weeks, and is small next to the shortest
 * TACK lifetime an operator would publish (tackpy's batches step by hours or days).
 */
export const TACK_CLOCK_TOLERANCE_MINUTES = 10;
const MAX_TOLERANCE_MINUTES = 24 * 60;

/** Why a TACK or break signature was refused, each with the TLS alert draft-00 §5.3 names. */
export const TACK_FAILURES = {
  malformed: 'decode_error', // not 166 (or 128) bytes
  generation: 'decode_error', // generation < min_generation (§5.3.1)
  'invalid-key': 'decrypt_error', // public_key is not a P-256 point (§5.3.1)
  'wrong-target': 'illegal_parameter', // target_hash is not SHA-256 of the leaf's SPKI (§5.3.1)
  'bad-signature': 'decrypt_error', // §5.3.1
  expired: 'certificate_expired', // §5.3.3
  revoked: 'certificate_revoked', // generation below the key record's min_generation (§5.3.2)
} as const;
export type TackFailure = keyof typeof TACK_FAILURES;
export type TackAlert = (typeof TACK_FAILURES)[TackFailure];

export interface Refusal<R extends TackFailure = TackFailure> {
  readonly ok: false;
  readonly reason: R;
  readonly alert: TackAlert;
  /** For people: expected / got. */
  readonly message: string;
}

declare const acceptedTack: unique symbol;
declare const verifiedBreakSig: unique symbol;

/** A TACK that passed checkTack. Only this module makes one, so a skipped check cannot type-check. */
export interface AcceptedTack {
  readonly ok: true;
  readonly [acceptedTack]: true;
  readonly keyFingerprint: string;
  /** x ‖ y, 64 bytes: what a key record stores (draft-00 §5.1). */
  readonly publicKey: Buffer;
  readonly minGeneration: number;
  readonly generation: number;
  readonly expiration: Date;
}

export interface VerifiedBreakSig {
  readonly ok: true;
  readonly [verifiedBreakSig]: true;
  /** The TACK ID of the key this signature breaks. */
  readonly keyFingerprint: string;
  readonly publicKey: Buffer;
}

export interface TackCheckOptions {
  /** Minutes of clock error to allow past the expiration; TACK_CLOCK_TOLERANCE_MINUTES by default. */
  readonly toleranceMinutes?: number;
}

function refuse<R extends TackFailure>(reason: R, message: string): Refusal<R> {
  return Object.freeze({ ok: false, reason, alert: TACK_FAILURES[reason], message });
}

/**
 * Checks one TACK against the leaf certificate's DER SubjectPublicKeyInfo at `now`: well-formed
 * (166 bytes, generation >= min_generation, a valid P-256 key, a good signature), aimed at this
 * leaf (target_hash = SHA-256(leafSpki)), and not expired beyond the tolerance. `tack` is the
 * 166 bytes or an already decoded Tack.
 */
export function checkTack(tack: Uint8Array | Tack, leafSpki: Uint8Array, now: Date, opts: TackCheckOptions = {}): AcceptedTack | Refusal {
  const tolerance = opts.toleranceMinutes ?? TACK_CLOCK_TOLERANCE_MINUTES;
  if (!Number.isInteger(tolerance) || tolerance < 0 || tolerance > MAX_TOLERANCE_MINUTES) {
    throw new RangeError(`toleranceMinutes: expected whole minutes from 0 to ${MAX_TOLERANCE_MINUTES}, got ${tolerance}`);
  }
  let t: Tack;
  try {
    t = tack instanceof Uint8Array ? decodeTack(tack) : tack;
  } catch (err) {
    if (err instanceof TackError) return refuse('malformed', err.message);
    throw err;
  }
  if (t.generation < t.minGeneration) {
    return refuse('generation', `expected generation >= min_generation ${t.minGeneration}, got ${t.generation}`);
  }
  if (!isValidPoint(t.publicKey)) return refuse('invalid-key', 'expected the TACK public_key to be a P-256 point, got bytes that are not one');
  const spkiHash = sha256(leafSpki);
  if (!spkiHash.equals(t.targetHash)) {
    return refuse('wrong-target', `expected target_hash ${spkiHash.toString('hex')} (SHA-256 of the server's SPKI), got ${t.targetHash.toString('hex')}`);
  }
  if (!verifyTackSignature(t)) return refuse('bad-signature', `expected a signature by TACK key ${fingerprint(t.publicKey)}, got one that does not verify`);
  if (now.getTime() > (t.expiration + tolerance) * 60_000) {
    return refuse('expired', `expected a TACK valid at ${now.toISOString()}, got one that expired at ${minutesToText(t.expiration)}`);
  }
  return Object.freeze({
    ok: true,
    keyFingerprint: fingerprint(t.publicKey),
    publicKey: Buffer.from(t.publicKey),
    minGeneration: t.minGeneration,
    generation: t.generation,
    expiration: new Date(t.expiration * 60_000),
  }) as AcceptedTack;
}

/**
 * Draft-00 §5.3.2, against the key record of the TACK's key (undefined: no record yet). A TACK
 * whose generation is below the record's min_generation is revoked; otherwise the record's
 * min_generation becomes the larger of the two, which this returns for the caller to store.
 */
export function applyGeneration(recordMinGeneration: number | undefined, tack: AcceptedTack): { readonly ok: true; readonly minGeneration: number } | Refusal<'revoked'> {
  const record = recordMinGeneration ?? 0;
  if (tack.generation < record) {
    return refuse('revoked', `expected generation >= ${record} (the min_generation pinned for ${tack.keyFingerprint}), got ${tack.generation}`);
  }
  return { ok: true, minGeneration: Math.max(record, tack.minGeneration) };
}

/** Checks one break signature (128 bytes or decoded): a valid key and a good signature (§5.3.1, §5.3.5). */
export function checkBreakSig(sig: Uint8Array | BreakSig): VerifiedBreakSig | Refusal<'malformed' | 'invalid-key' | 'bad-signature'> {
  let s: BreakSig;
  try {
    s = sig instanceof Uint8Array ? decodeBreakSig(sig) : sig;
  } catch (err) {
    if (err instanceof TackError) return refuse('malformed', err.message);
    throw err;
  }
  if (!isValidPoint(s.publicKey)) return refuse('invalid-key', 'expected the break signature public_key to be a P-256 point, got bytes that are not one');
  if (!verifyBreakSig(s)) return refuse('bad-signature', `expected a break signature by ${fingerprint(s.publicKey)}, got one that does not verify`);
  return Object.freeze({ ok: true, keyFingerprint: fingerprint(s.publicKey), publicKey: Buffer.from(s.publicKey) }) as VerifiedBreakSig;
}

/** True when a verified break signature breaks this TACK key (x ‖ y): discard its key record and pins. */
export function breaksKey(sig: VerifiedBreakSig, publicKey: Uint8Array): boolean {
  return sig.publicKey.equals(publicKey);
}
