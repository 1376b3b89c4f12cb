// tack/extension.ts: the TACK_Extension of draft-perrin-tls-tack-00 §4.1, §4.2.3 (tackpy 0.9.7
// TackExtension.py), the payload a server would put in its ServerHello; node:tls cannot carry it
// (facts §1.4), so this exists for completeness and for TACKs handed over in that form.
//
//   tack<0..166>        1-byte length, then 0 or 166 bytes
//   break_sigs<0..1024> 2-byte length, a multiple of 128 (at most 8 signatures)
//   pin_activation      1 byte: 0 disabled, 1 enabled
//
// Decoding checks the structure only; check.ts verifies what is inside.
import { BREAK_SIG_LENGTH, decodeBreakSig, encodeBreakSig, type BreakSig } from './break-sig.ts';
import { TackError } from './error.ts';
import { TACK_LENGTH, decodeTack, encodeTack, type Tack } from './tack.ts';

const MAX_BREAK_SIGS_LENGTH = 1024;

export interface TackExtension {
  readonly tack: Tack | undefined;
  readonly breakSigs: readonly BreakSig[];
  readonly pinActivation: boolean;
}

export function decodeTackExtension(bytes: Uint8Array): TackExtension {
  const b = Buffer.from(bytes);
  let at = 0;
  const need = (n: number, what: string): Buffer => {
    if (at + n > b.length) throw new TackError(`TACK_Extension: expected ${n} bytes of ${what} at byte ${at}, got ${b.length - at}`);
    const out = b.subarray(at, at + n);
    at += n;
    return out;
  };
  const tackLength = need(1, 'tack length')[0]!;
  if (tackLength !== 0 && tackLength !== TACK_LENGTH) throw new TackError(`TACK_Extension: expected a tack length of 0 or ${TACK_LENGTH}, got ${tackLength}`);
  const tack = tackLength === 0 ? undefined : decodeTack(need(TACK_LENGTH, 'tack'));
  const sigsLength = need(2, 'break_sigs length').readUInt16BE(0);
  if (sigsLength > MAX_BREAK_SIGS_LENGTH || sigsLength % BREAK_SIG_LENGTH !== 0) {
    throw new TackError(`TACK_Extension: expected a break_sigs length that is a multiple of ${BREAK_SIG_LENGTH} up to ${MAX_BREAK_SIGS_LENGTH}, got ${sigsLength}`);
  }
  const sigBytes = need(sigsLength, 'break_sigs');
  const breakSigs: BreakSig[] = [];
  for (let i = 0; i < sigsLength; i += BREAK_SIG_LENGTH) breakSigs.push(decodeBreakSig(sigBytes.subarray(i, i + BREAK_SIG_LENGTH)));
  const activation = need(1, 'pin_activation')[0]!;
  if (activation > 1) throw new TackError(`TACK_Extension: expected pin_activation 0 (disabled) or 1 (enabled), got ${activation}`);
  if (at !== b.length) throw new TackError(`TACK_Extension: expected the end after pin_activation, got ${b.length - at} excess bytes`);
  return Object.freeze({ tack, breakSigs: Object.freeze(breakSigs), pinActivation: activation === 1 });
}

export function encodeTackExtension(ext: TackExtension): Buffer {
  if (ext.breakSigs.length * BREAK_SIG_LENGTH > MAX_BREAK_SIGS_LENGTH) {
    throw new TackError(`TACK_Extension: expected at most ${MAX_BREAK_SIGS_LENGTH / BREAK_SIG_LENGTH} break signatures, got ${ext.breakSigs.length}`);
  }
  const tack = ext.tack ? encodeTack(ext.tack) : Buffer.alloc(0);
  const sigs = Buffer.concat(ext.breakSigs.map(encodeBreakSig));
  const sigsLength = Buffer.alloc(2);
  sigsLength.writeUInt16BE(sigs.length, 0);
  return Buffer.concat([Buffer.from([tack.length]), tack, sigsLength, sigs, Buffer.from([ext.pinActivation ? 1 : 0])]);
}
