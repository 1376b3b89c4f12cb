// trust/anchors.ts: a set of trust anchors, indexed by subject for path building. Loading
// from disk lives in store.ts; this module only holds parsed certificates.
import { TlsifyError } from '../codes.ts';
import { parseCertificate, type Cert } from './cert.ts';

export interface Anchor {
  readonly cert: Cert;
  /** Where it came from, for the control channel: e.g. 'file:/etc/ssl/certs/ca-certificates.crt'. */
  readonly source: string;
}

export interface AnchorSet {
  /** The set's name as the user gave it: 'system', 'file:PATH'. */
  readonly name: string;
  readonly size: number;
  /** PEM texts for node:tls `ca`, so OpenSSL verifies against exactly the same anchors. */
  readonly pems: readonly string[];
  bySubject(subjectDer: Buffer): readonly Anchor[];
  /** The anchor whose certificate is byte-for-byte `der`, if any (a self-signed peer pinned via --ca). */
  byDer(der: Buffer): Anchor | undefined;
}

export interface AnchorInput {
  readonly der: Buffer;
  readonly source: string;
}

/**
 * Index `inputs`. A certificate that does not parse is a config error, unless `skipBad` is
 * given (the system store: OpenSSL, too, skips what it cannot use there).
 */
export function anchorSet(name: string, inputs: readonly AnchorInput[], skipBad?: (where: string, why: string) => void): AnchorSet {
  const bySubject = new Map<string, Anchor[]>();
  const byDer = new Map<string, Anchor>();
  const pems: string[] = [];
  for (const [i, input] of inputs.entries()) {
    const key = input.der.toString('base64');
    if (byDer.has(key)) continue;
    let cert: Cert;
    try {
      cert = parseCertificate(input.der);
    } catch (err) {
      const where = `${input.source}: certificate ${i + 1}`;
      if (!skipBad) throw new TlsifyError('config', `${where}: ${(err as Error).message}`, { cause: err });
      skipBad(where, (err as Error).message);
      continue;
    }
    const anchor: Anchor = { cert, source: input.source };
    byDer.set(key, anchor);
    const subject = anchor.cert.subjectDer.toString('hex');
    bySubject.set(subject, [...(bySubject.get(subject) ?? []), anchor]);
    pems.push(toPem(key));
  }
  return Object.freeze({
    name,
    size: byDer.size,
    pems: Object.freeze(pems),
    bySubject: (subjectDer: Buffer) => bySubject.get(subjectDer.toString('hex')) ?? [],
    byDer: (der: Buffer) => byDer.get(der.toString('base64')),
  });
}

/** RFC 7468 §2: base64 lines of 64 characters, no empty line before the end marker. */
function toPem(base64: string): string {
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
