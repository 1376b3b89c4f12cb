// trust/cert-extensions.ts: the certificate extensions tlsify decodes (RFC 5280 §4.2.1), one
// reader each, with subjectAltName's GeneralNames (incl. SRVName, RFC 4985) and IP formatting.
//
// The Extensions list itself is read by extensions.ts and walked by cert.ts, which adds where an
// error happened; a reader here must consume the whole extnValue.
import { TAG, contextTag, decodeOid, decodeString, describeTag, mismatch, type DerReader } from './der.ts';

export type SanEntry =
  | { type: 'dns'; value: string } // as presented (IA5String)
  | { type: 'ip'; bytes: Buffer; value: string } // value: v4 dotted, v6 compressed (RFC 5952)
  | { type: 'uri'; value: string }
  | { type: 'srv'; value: string } // otherName SRVName, RFC 4985
  | { type: 'email'; value: string }
  // Any other GeneralName. `oid` is the otherName type-id or the registeredID, '' for the forms without one.
  | { type: 'other'; form: GeneralNameForm; oid: string };

export type GeneralNameForm = 'otherName' | 'x400Address' | 'directoryName' | 'ediPartyName' | 'registeredID';

export type KeyUsage = 'digitalSignature' | 'nonRepudiation' | 'keyEncipherment' | 'dataEncipherment' | 'keyAgreement' | 'keyCertSign' | 'cRLSign' | 'encipherOnly' | 'decipherOnly';

export interface BasicConstraints {
  readonly ca: boolean;
  readonly pathLen?: number;
  readonly critical: boolean;
}

/** What the readers fill in; cert.ts copies it into the Cert. */
export interface Extensions {
  basicConstraints?: BasicConstraints;
  keyUsage?: ReadonlySet<KeyUsage>;
  extKeyUsage?: readonly string[];
  subjectKeyId?: Buffer;
  authorityKeyId?: Buffer;
  san?: readonly SanEntry[];
  hasNameConstraints: boolean;
  unhandledCritical: string[];
}

export type ExtensionReader = (r: DerReader, critical: boolean, out: Extensions) => void;

const SRV_NAME = '1.3.6.1.5.5.7.8.7';

// RFC 5280 §4.2.1.3 bit order.
const KEY_USAGE_BITS: readonly KeyUsage[] = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];

// Critical extensions the verifier knows what to do with (listed in the design); any other
// critical one makes the certificate unusable (RFC 5280 §4.2).
export const HANDLED_CRITICAL: ReadonlySet<string> = new Set(['2.5.29.19', '2.5.29.15', '2.5.29.37', '2.5.29.17', '2.5.29.30', '2.5.29.32', '2.5.29.36', '2.5.29.54']);

// The extensions we decode (RFC 5280 §4.2.1.x). Each reader must consume the whole value.
export const EXTENSION_READERS: ReadonlyMap<string, ExtensionReader> = new Map<string, ExtensionReader>([
  ['2.5.29.19', readBasicConstraints],
  ['2.5.29.15', readKeyUsage],
  ['2.5.29.37', readExtKeyUsage],
  ['2.5.29.14', readSubjectKeyId],
  ['2.5.29.35', readAuthorityKeyId],
  ['2.5.29.17', readSubjectAltName],
  ['2.5.29.30', readNameConstraints],
]);

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL } */
function readBasicConstraints(r: DerReader, critical: boolean, out: Extensions): void {
  const bc = r.sequence('BasicConstraints SEQUENCE');
  // An explicit cA FALSE breaks DER's DEFAULT rule but is common in the wild; accept it.
  const ca = bc.peek() === TAG.BOOLEAN ? bc.boolean('cA BOOLEAN') : false;
  const pathLen = bc.peek() === TAG.INTEGER ? bc.smallInteger('pathLenConstraint INTEGER') : undefined;
  bc.end('end of BasicConstraints');
  out.basicConstraints = Object.freeze(pathLen === undefined ? { ca, critical } : { ca, pathLen, critical });
}

/** KeyUsage ::= BIT STRING, named bits in RFC 5280 §4.2.1.3 order. */
function readKeyUsage(r: DerReader, _critical: boolean, out: Extensions): void {
  const { bytes } = r.bitString('KeyUsage BIT STRING');
  const usages = new Set<KeyUsage>();
  KEY_USAGE_BITS.forEach((name, bit) => {
    if (((bytes[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1) usages.add(name);
  });
  out.keyUsage = usages; // typed ReadonlySet; a Set cannot be frozen
}

/** ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId (RFC 5280 §4.2.1.12). */
function readExtKeyUsage(r: DerReader, _critical: boolean, out: Extensions): void {
  const seq = r.sequence('SEQUENCE of KeyPurposeId');
  if (seq.done) mismatch('at least one KeyPurposeId', 'an empty SEQUENCE', seq.offset);
  const oids: string[] = [];
  while (!seq.done) oids.push(seq.oid('KeyPurposeId OID'));
  out.extKeyUsage = Object.freeze(oids);
}

/** SubjectKeyIdentifier ::= KeyIdentifier ::= OCTET STRING (RFC 5280 §4.2.1.2). */
function readSubjectKeyId(r: DerReader, _critical: boolean, out: Extensions): void {
  out.subjectKeyId = r.octetString('KeyIdentifier OCTET STRING');
}

/** NameConstraints (RFC 5280 §4.2.1.10): only its presence is reported; the verifier decides. */
function readNameConstraints(r: DerReader, _critical: boolean, out: Extensions): void {
  r.sequence('NameConstraints SEQUENCE');
  out.hasNameConstraints = true;
}

/** AuthorityKeyIdentifier (RFC 5280 §4.2.1.1): keyIdentifier [0], certIssuer [1], serial [2]. */
function readAuthorityKeyId(r: DerReader, _critical: boolean, out: Extensions): void {
  const aki = r.sequence('AuthorityKeyIdentifier SEQUENCE');
  const keyId = aki.optional(contextTag(0, false));
  aki.optional(contextTag(1, true));
  aki.optional(contextTag(2, false));
  aki.end('end of AuthorityKeyIdentifier');
  if (keyId) out.authorityKeyId = keyId.value;
}

/** SubjectAltName ::= GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName (RFC 5280 §4.2.1.6). */
function readSubjectAltName(r: DerReader, _critical: boolean, out: Extensions): void {
  const seq = r.sequence('SEQUENCE of GeneralName');
  if (seq.done) mismatch('at least one GeneralName', 'an empty SEQUENCE', seq.offset);
  const names: SanEntry[] = [];
  while (!seq.done) names.push(Object.freeze(readGeneralName(seq)));
  out.san = Object.freeze(names);
}

/**
 * One GeneralName. The IA5String forms are read as latin1 without checking the character set:
 * RFC 9525 §6.3 says a malformed presented identifier is ignored by the matcher, not that the
 * whole certificate is unreadable.
 */
function readGeneralName(r: DerReader): SanEntry {
  const tlv = r.read();
  switch (tlv.tag) {
    case 0xa0:
      return readOtherName(r.into(tlv));
    case 0x81:
      return { type: 'email', value: tlv.value.toString('latin1') };
    case 0x82:
      return { type: 'dns', value: tlv.value.toString('latin1') };
    case 0x86:
      return { type: 'uri', value: tlv.value.toString('latin1') };
    case 0x87: {
      // In a SAN an iPAddress is 4 or 16 octets; 8 and 32 (with a mask) only occur in name constraints.
      if (tlv.value.length !== 4 && tlv.value.length !== 16) mismatch('an iPAddress of 4 or 16 bytes', `${tlv.value.length} bytes`, tlv.start);
      const bytes = tlv.value;
      return { type: 'ip', bytes, value: formatIp(bytes) };
    }
    case 0xa3:
      return { type: 'other', form: 'x400Address', oid: '' };
    case 0xa4:
      r.into(tlv).expect(TAG.SEQUENCE, 'directoryName Name SEQUENCE'); // Name is a CHOICE, so [4] is EXPLICIT
      return { type: 'other', form: 'directoryName', oid: '' };
    case 0xa5:
      return { type: 'other', form: 'ediPartyName', oid: '' };
    case 0x88:
      return { type: 'other', form: 'registeredID', oid: decodeOid(tlv) };
    default:
      return mismatch('a GeneralName ([0]..[8])', describeTag(tlv.tag), tlv.start);
  }
}

/** OtherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY } (the outer [0] is IMPLICIT). */
function readOtherName(r: DerReader): SanEntry {
  const oid = r.oid('otherName type-id OID');
  const value = r.explicit(0);
  if (value === undefined) mismatch('otherName value [0]', r.done ? 'end of otherName' : describeTag(r.peek()!), r.offset);
  r.end('end of otherName');
  if (oid !== SRV_NAME) return { type: 'other', form: 'otherName', oid };
  // RFC 4985 §2: SRVName ::= IA5String (SIZE (1..MAX))
  const tlv = value.expect(TAG.IA5_STRING, 'SRVName IA5String');
  value.end('end of SRVName');
  if (tlv.value.length === 0) mismatch('a non-empty SRVName', 'an empty one', tlv.start);
  return { type: 'srv', value: decodeString(tlv) };
}

/** IPv4 dotted quad, or IPv6 in RFC 5952 form (lowercase, longest zero run as '::', v4-mapped as ::ffff:a.b.c.d). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.length !== 16) throw new RangeError(`formatIp: expected 4 or 16 bytes, got ${bytes.length}`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952 §5: v4-mapped addresses keep the dotted tail.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${bytes.subarray(12).join('.')}`;
  let best = -1;
  let bestLen = 1; // §4.2.2: a single zero group is not shortened
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** A schema mismatch inside DER that is itself well formed; cert.ts adds which extension. */
