// trust/anchors.ts: a set of trust anchors, indexed by subject for path building. Loading
// from disk lives in store.ts. Certificates are parsed only when a path needs them: the system
// store holds ~150 roots and a connection uses one.
import { TlsifyError } from '../codes.ts';
import { parseCertificate, type Cert } from './cert.ts';
import { DerReader } from './der.ts';

export interface Anchor {
  readonly cert: Cert;
  /** Where it came from, for the control channel: e.g. 'system', 'file:/etc/tlsify/ca.pem'. */
  readonly source: string;
}

export interface AnchorSet {
  /** The set's name as the user gave it: 'system', 'file:PATH', joined with '+'. */
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

export type SkipBad = (where: string, why: string) => void;

interface Entry {
  readonly input: AnchorInput;
  readonly where: string;
  anchor?: Anchor | null; // null: parsed, and unusable
}

/**
 * Index `inputs`. Without `skipBad` every certificate is parsed now and one that does not parse
 * is a config error (a file the user named). With it (the system store, as OpenSSL does there)
 * parsing waits for a lookup, and a certificate that does not parse is reported and skipped.
 */
export function anchorSet(name: string, inputs: readonly AnchorInput[], skipBad?: SkipBad): AnchorSet {
  const bySubject = new Map<string, Entry[]>();
  const byDer = new Map<string, Entry>();
  for (const [i, input] of inputs.entries()) {
    const key = input.der.toString('base64');
    if (byDer.has(key)) continue;
    const entry: Entry = { input, where: `${input.source}: certificate ${i + 1}` };
    if (!skipBad) entry.anchor = parseStrict(entry);
    const subject = subjectOf(input.der);
    if (subject === undefined) {
      skipBad?.(entry.where, 'not a DER certificate');
      continue;
    }
    byDer.set(key, entry);
    bySubject.set(subject, [...(bySubject.get(subject) ?? []), entry]);
  }
  const resolve = (entry: Entry): Anchor | undefined => {
    if (entry.anchor === undefined) {
      try {
        entry.anchor = { cert: parseCertificate(entry.input.der), source: entry.input.source };
      } catch (err) {
        entry.anchor = null;
        skipBad?.(entry.where, (err as Error).message);
      }
    }
    return entry.anchor ?? undefined;
  };
  let pems: readonly string[] | undefined;
  return Object.freeze({
    name,
    size: byDer.size,
    get pems() {
      return (pems ??= Object.freeze([...byDer.keys()].map(toPem)));
    },
    bySubject: (subjectDer: Buffer) => (bySubject.get(subjectDer.toString('hex')) ?? []).map(resolve).filter((a): a is Anchor => a !== undefined),
    byDer: (der: Buffer) => {
      const entry = byDer.get(der.toString('base64'));
      return entry ? resolve(entry) : undefined;
    },
  });
}

function parseStrict(entry: Entry): Anchor {
  try {
    return { cert: parseCertificate(entry.input.der), source: entry.input.source };
  } catch (err) {
    throw new TlsifyError('config', `${entry.where}: ${(err as Error).message}`, { cause: err });
  }
}

/** The subject Name's DER (hex), read without parsing the rest (RFC 5280 §4.1). */
function subjectOf(der: Buffer): string | undefined {
  try {
    const tbs = new DerReader(der).sequence().sequence();
    tbs.explicit(0); // version
    tbs.read(); // serialNumber
    tbs.read(); // signature
    tbs.read(); // issuer
    tbs.read(); // validity
    return tbs.read().raw.toString('hex');
  } catch {
    return undefined;
  }
}

/** RFC 7468 §2: base64 lines of 64 characters, no empty line before the end marker. */
function toPem(base64: string): string {
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
