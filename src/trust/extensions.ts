// trust/extensions.ts: the X.509 Extensions list (RFC 5280 §4.1, §5.1), as certificates, CRLs
// and OCSP responses all carry it: each Extension read once, each OID at most once.
import { TAG, mismatch, type DerReader } from './der.ts';

export interface RawExtension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: DerReader; // over the extnValue contents
  readonly at: number;
}

/**
 * Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension. A second instance of an OID is refused
 * (RFC 5280 §4.2); `duplicate` may throw the caller's own error for it. `what` names the list in
 * messages ('' where the caller's error already says where).
 */
export function readExtensions(list: DerReader, what: string, duplicate?: (oid: string, at: number) => never): RawExtension[] {
  const where = what ? ` in ${what}` : '';
  if (list.done) mismatch(`at least one Extension${where}`, 'an empty SEQUENCE', list.offset);
  const out: RawExtension[] = [];
  while (!list.done) {
    const at = list.offset;
    const ext = list.sequence('Extension SEQUENCE');
    const oid = ext.oid('extnID OID');
    // DER omits critical FALSE; some CAs write it anyway and the major verifiers accept it.
    const critical = ext.peek() === TAG.BOOLEAN ? ext.boolean('critical BOOLEAN') : false;
    const valueTlv = ext.expect(TAG.OCTET_STRING, 'extnValue OCTET STRING');
    ext.end('end of Extension');
    if (out.some((x) => x.oid === oid)) {
      if (duplicate) duplicate(oid, at);
      mismatch(`each extension at most once${where}`, `a second ${oid}`, at);
    }
    out.push({ oid, critical, value: ext.into(valueTlv), at });
  }
  return out;
}

