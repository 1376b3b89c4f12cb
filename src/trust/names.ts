// names.ts: RFC 9525 service identity: reference identifiers and matching them against SAN entries (pure).
//
// RFC 9525 §6: only subjectAltName entries count, never the subject CN. DNS names are compared
// as A-labels, case-insensitively; a wildcard is only a whole left-most `*` label.
import { isIP } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';
import { formatIp, type SanEntry } from './cert-extensions.ts';

/** Thrown when a reference identifier cannot be built; the message says expected / got. */
export class NameError extends Error {
  override name = 'NameError';
}

export type ReferenceId =
  | { type: 'dns'; name: string } // A-labels, lowercase, no trailing dot
  | { type: 'ip'; bytes: Buffer; text: string } // 4 or 16 bytes; text is the RFC 5952 form
  | { type: 'srv'; service: string; name: string } // service lowercase with its '_', e.g. '_xmpp-client'
  | { type: 'uri'; scheme: string; host: string; text: string }; // scheme lowercase, host as a DNS-ID

export interface IdentityMatch {
  readonly reference: ReferenceId;
  readonly presented: SanEntry;
  readonly how: 'exact' | 'wildcard';
}

/** An IP literal (v4, v6, v6 in [ ]) becomes an IP-ID; anything else a DNS-ID (RFC 9525 §6.1.1). */
export function dnsReference(host: string): ReferenceId {
  return ipReference(host) ?? Object.freeze({ type: 'dns', name: toALabels(host, 'host') });
}

function ipReference(host: string): ReferenceId | undefined {
  let text = host;
  if (host.startsWith('[')) {
    if (!host.endsWith(']') || isIP(host.slice(1, -1)) !== 6) throw new NameError(`host: expected an IPv6 address inside [ ], got '${clip(host)}'`);
    text = host.slice(1, -1);
  }
  const family = isIP(text);
  if (family === 0) return undefined;
  // A zone (fe80::1%eth0) says which link to use; it is not part of the address in the certificate.
  const bytes = family === 4 ? Buffer.from(text.split('.').map(Number)) : parseIpv6(text.split('%')[0]!);
  return Object.freeze({ type: 'ip', bytes, text: formatIp(bytes) });
}

/** Text already accepted by net.isIP as IPv6 -> 16 bytes. */
function parseIpv6(text: string): Buffer {
  let s = text;
  if (s.includes('.')) {
    // An embedded IPv4 tail (::ffff:192.0.2.1) stands for the last two groups.
    const cut = s.lastIndexOf(':') + 1;
    const [a, b, c, d] = s.slice(cut).split('.').map(Number) as [number, number, number, number];
    s = `${s.slice(0, cut)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) throw new NameError(`host: expected 8 IPv6 groups, got ${groups.length} in '${clip(text)}'`);
  const bytes = Buffer.alloc(16);
  groups.forEach((g, i) => bytes.writeUInt16BE(parseInt(g, 16), i * 2));
  return bytes;
}

/**
 * A DNS name as a reference: U-labels to A-labels (RFC 9525 §6.3 via UTS #46 in node:url),
 * lowercase, one trailing dot dropped, then checked against RFC 1035 §2.3.4 limits and LDH.
 */
function toALabels(input: string, what: string): string {
  if (/[%\s/\\@]/.test(input)) throw new NameError(`${what}: expected a DNS name, got '${clip(input)}' (contains '%', '/', '\\', '@' or white space)`);
  const name = input.endsWith('.') ? input.slice(0, -1) : input;
  const ascii = name === '' ? '' : domainToASCII(name);
  // Node 20 returns '' for an A-label that is not valid Punycode; newer Node (the ada parser)
  // returns it unchanged, so also check that every xn-- label decodes.
  const badALabel = ascii.split('.').some((label) => label.startsWith('xn--') && domainToUnicode(label).startsWith('xn--'));
  if (ascii === '' || badALabel) throw new NameError(`${what}: expected a DNS name, got '${clip(input)}' (not a valid IDNA name)`);
  if (ascii.length > 253) throw new NameError(`${what}: expected a DNS name of at most 253 bytes, got ${ascii.length} bytes`);
  const labels = ascii.split('.');
  // node:url reads a numeric last label as IPv4 ('127.1' -> '127.0.0.1'); RFC 3696 §2 forbids all-numeric TLDs anyway.
  if (/^\d+$/.test(labels[labels.length - 1]!)) throw new NameError(`${what}: expected a DNS name or an IP address, got '${clip(input)}' (the last label is numeric)`);
  for (const label of labels) {
    if (label.length === 0 || label.length > 63) throw new NameError(`${what}: expected labels of 1 to 63 bytes, got a ${label.length}-byte label in '${clip(input)}'`);
    if (!/^[a-z0-9-]+$/.test(label)) throw new NameError(`${what}: expected letters, digits and hyphens, got label '${clip(label)}' in '${clip(input)}'`);
  }
  return ascii;
}

// RFC 6335 §5.1: service names are 1-15 letters, digits and hyphens, with at least one letter,
// no hyphen at either end and no two in a row. RFC 4985 §2 puts an underscore in front.
const SERVICE = /^_(?!-)(?!.*--)(?=.*[a-z])[a-z0-9-]{1,15}(?<!-)$/i;

/** '_service.name' -> SRV-ID (RFC 4985 §2, RFC 9525 §6.5). */
export function srvReference(srvId: string): ReferenceId {
  const dot = srvId.indexOf('.');
  const service = dot < 0 ? srvId : srvId.slice(0, dot);
  if (!SERVICE.test(service)) throw new NameError(`SRV-ID: expected '_service.name' with an RFC 6335 service name, got '${clip(srvId)}'`);
  const name = srvId.slice(dot + 1);
  if (dot < 0 || isIP(name) !== 0) throw new NameError(`SRV-ID: expected a DNS name after '${service}.', got '${clip(srvId)}'`);
  return Object.freeze({ type: 'srv', service: service.toLowerCase(), name: toALabels(name, 'SRV-ID') });
}

/** A URI with a scheme and a reg-name host -> URI-ID (RFC 9525 §6.5, §7.2). */
export function uriReference(uri: string): ReferenceId {
  const parts = splitUri(uri);
  if (parts === undefined) throw new NameError(`URI-ID: expected scheme:[//]host..., got '${clip(uri)}'`);
  if (parts.host.startsWith('[') || isIP(parts.host) !== 0) throw new NameError(`URI-ID: expected a reg-name host (RFC 9525 §7.2), got IP literal '${clip(parts.host)}'`);
  return Object.freeze({ type: 'uri', scheme: parts.scheme, host: toALabels(parts.host, 'URI-ID host'), text: uri });
}

// RFC 3986 Appendix B, narrowed: scheme per §3.1, then an optional authority, then the path.
const URI = /^([A-Za-z][A-Za-z0-9+.-]*):(?:\/\/([^/?#]*))?([^?#]*)/;

// Schemes whose host sits right after the colon, with no '//' (RFC 3261 §19.1: sip:user@host;params).
const OPAQUE_HOST_SCHEMES: ReadonlySet<string> = new Set(['sip', 'sips']);

/** Scheme (lowercase) and host text of a URI, or undefined when it has no host. */
function splitUri(uri: string): { scheme: string; host: string } | undefined {
  const m = URI.exec(uri);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  let hostPort: string;
  if (m[2] !== undefined) hostPort = m[2];
  else if (OPAQUE_HOST_SCHEMES.has(scheme)) hostPort = m[3]!.split(';')[0]!;
  else return undefined;
  hostPort = hostPort.slice(hostPort.lastIndexOf('@') + 1); // drop userinfo
  // A port is digits after the last ':', unless the host is an [IP-literal].
  const colon = hostPort.lastIndexOf(':');
  const host = colon > hostPort.lastIndexOf(']') && /^\d*$/.test(hostPort.slice(colon + 1)) ? hostPort.slice(0, colon) : hostPort;
  return host === '' ? undefined : { scheme, host };
}

export function describeReference(r: ReferenceId): string {
  switch (r.type) {
    case 'dns':
      return `dns:${r.name}`;
    case 'ip':
      return `ip:${r.text}`;
    case 'srv':
      return `srv:${r.service}.${r.name}`;
    case 'uri':
      return `uri:${r.text}`;
  }
}

/** The first SAN entry that matches a reference, trying references in order (RFC 9525 §6.1.1, §6.2). */
export function matchIdentity(refs: readonly ReferenceId[], san: readonly SanEntry[]): IdentityMatch | undefined {
  for (const reference of refs) {
    for (const presented of san) {
      const how = matchOne(reference, presented);
      if (how) return Object.freeze({ reference, presented, how });
    }
  }
  return undefined;
}

function matchOne(ref: ReferenceId, entry: SanEntry): IdentityMatch['how'] | undefined {
  // Each reference type is compared only with its own SAN type (RFC 9525 §6.2, §6.4, §6.5).
  if (ref.type === 'dns' && entry.type === 'dns') return matchDns(ref.name, entry.value);
  if (ref.type === 'ip' && entry.type === 'ip') return ref.bytes.equals(entry.bytes) ? 'exact' : undefined;
  if (ref.type === 'srv' && entry.type === 'srv') return matchSrv(ref, entry.value);
  if (ref.type === 'uri' && entry.type === 'uri') return matchUri(ref, entry.value);
  return undefined;
}

/**
 * A presented DNS name in comparable form (lowercase ASCII), or undefined when it is malformed
 * and must be ignored (RFC 9525 §6.3). With `wildcard`, the left-most label may be exactly '*'.
 */
function presentedName(value: string, wildcard: boolean): string | undefined {
  if (value.length > 253 || !/^[\x21-\x7e]+$/.test(value)) return undefined; // U-labels and other non-ASCII
  const name = value.toLowerCase();
  const labels = name.split('.');
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (wildcard && i === 0 && label === '*' && labels.length > 1) continue;
    if (label.length === 0 || label.length > 63 || !/^[a-z0-9-]+$/.test(label)) return undefined;
  }
  return name;
}

/** RFC 9525 §6.3: exact label match, or '*.' + rest matching exactly one left-most label. */
function matchDns(ref: string, presented: string): IdentityMatch['how'] | undefined {
  const p = presentedName(presented, true);
  if (p === undefined) return undefined;
  if (p === ref) return 'exact';
  if (!p.startsWith('*.')) return undefined;
  const dot = ref.indexOf('.');
  return dot > 0 && ref.slice(dot + 1) === p.slice(2) ? 'wildcard' : undefined;
}

/** RFC 9525 §6.5 with RFC 4985: '_Service.Name'; service case-insensitive, name exact (no wildcard). */
function matchSrv(ref: { service: string; name: string }, presented: string): 'exact' | undefined {
  const dot = presented.indexOf('.');
  if (dot < 2 || presented[0] !== '_') return undefined;
  if (presented.slice(0, dot).toLowerCase() !== ref.service) return undefined;
  return presentedName(presented.slice(dot + 1), false) === ref.name ? 'exact' : undefined;
}

/** RFC 9525 §6.5: scheme case-insensitive, reg-name host as a DNS name, exact; no host, no match (§7.2). */
function matchUri(ref: { scheme: string; host: string }, presented: string): 'exact' | undefined {
  const parts = splitUri(presented);
  if (parts === undefined || parts.scheme !== ref.scheme) return undefined;
  return presentedName(parts.host, false) === ref.host ? 'exact' : undefined;
}

function clip(s: string): string {
  const shown = s.length > 60 ? s.slice(0, 60) + '...' : s;
  return shown.replace(/[^\x20-\x7e]/g, (c) => (c.charCodeAt(0) < 0x20 ? '?' : c));
}
