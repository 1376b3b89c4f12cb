// trust/dn.ts: an X.509 Name (RFC 5280 §4.1.2.4) read from DER and shown as an RFC 4514 string.
//
// For the subject-name hash of hashed CA directories see name-hash.ts; for service identities
// (SAN matching, RFC 9525) see names.ts.
import { TAG, decodeString, isStringTag, mismatch, type DerReader, type Tlv } from './der.ts';

/** Short names for attribute types in RFC 4514 display strings (RFC 4514 §3, RFC 4519, PKCS #9). */
export const oidNames: ReadonlyMap<string, string> = new Map([
  ['2.5.4.3', 'CN'],
  ['2.5.4.4', 'SN'],
  ['2.5.4.5', 'serialNumber'],
  ['2.5.4.6', 'C'],
  ['2.5.4.7', 'L'],
  ['2.5.4.8', 'ST'],
  ['2.5.4.9', 'STREET'],
  ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'],
  ['2.5.4.12', 'title'],
  ['2.5.4.15', 'businessCategory'],
  ['2.5.4.17', 'postalCode'],
  ['2.5.4.42', 'GN'],
  ['2.5.4.43', 'initials'],
  ['2.5.4.44', 'generationQualifier'],
  ['2.5.4.46', 'dnQualifier'],
  ['2.5.4.65', 'pseudonym'],
  ['2.5.4.97', 'organizationIdentifier'],
  ['0.9.2342.19200300.100.1.1', 'UID'],
  ['0.9.2342.19200300.100.1.25', 'DC'],
  ['1.2.840.113549.1.9.1', 'emailAddress'],
  ['1.3.6.1.4.1.311.60.2.1.1', 'jurisdictionL'],
  ['1.3.6.1.4.1.311.60.2.1.2', 'jurisdictionST'],
  ['1.3.6.1.4.1.311.60.2.1.3', 'jurisdictionC'],
]);

const COMMON_NAME = '2.5.4.3';

export interface Name {
  readonly der: Buffer;
  readonly text: string; // RFC 4514, most specific RDN first
  readonly commonNames: string[];
}

/** Name ::= SEQUENCE OF RDN; shown per RFC 4514 §2.1, last RDN first. */
export function parseName(r: DerReader): Name {
  const nameTlv = r.expect(TAG.SEQUENCE, 'Name SEQUENCE');
  const n = r.into(nameTlv);
  const rdns: string[] = [];
  const commonNames: string[] = [];
  while (!n.done) {
    const set = n.set('RelativeDistinguishedName SET');
    if (set.done) mismatch('at least one AttributeTypeAndValue', 'an empty SET', set.offset);
    const parts: string[] = [];
    while (!set.done) {
      const atv = set.sequence('AttributeTypeAndValue SEQUENCE');
      const type = atv.oid('attribute type OID');
      const value = atv.read();
      atv.end('end of AttributeTypeAndValue');
      parts.push(formatAttribute(type, value));
      if (type === COMMON_NAME && isStringTag(value.tag)) commonNames.push(decodeString(value));
    }
    rdns.push(parts.join('+'));
  }
  return { der: nameTlv.raw, text: rdns.reverse().join(','), commonNames };
}

/** RFC 4514 §2.3-2.4: known types by short name; unknown types, or non-string values, as #hex of the BER. */
function formatAttribute(type: string, value: Tlv): string {
  const name = oidNames.get(type);
  if (name !== undefined && isStringTag(value.tag)) return `${name}=${escapeValue(decodeString(value))}`;
  return `${name ?? type}=#${value.raw.toString('hex')}`;
}

/** RFC 4514 §2.4 escaping. Control characters are also hex-escaped, so a name cannot forge log lines. */
export function escapeValue(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    const code = c.charCodeAt(0);
    if ('"+,;<>\\'.includes(c) || (i === 0 && (c === ' ' || c === '#')) || (i === s.length - 1 && c === ' ')) out += '\\' + c;
    else if (code < 0x20 || code === 0x7f) out += '\\' + code.toString(16).padStart(2, '0');
    else out += c;
  }
  return out;
}

/** A schema mismatch inside DER that is itself well formed; the caller's context is added by cert.ts. */
