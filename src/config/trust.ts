// config/trust.ts: the trust options shared by connect, accept, verify and pin -> a frozen TrustPolicy.
// Which of CA sets, pins and TLSA records authenticate the peer, and which combinations are refused.
import { parseTlsa } from '../trust/dane.ts';
import { srvReference, uriReference, type ReferenceId } from '../trust/names.ts';
import { parsePins } from '../trust/pins.ts';
import type { CaSet, Pin, TrustPolicy } from '../trust/policy.ts';
import { parseCaSet } from '../trust/store.ts';
import { asUsage, usage, type Flags } from './flags.ts';

/**
 * The trust options shared by connect, verify and pin. `primary` is the DNS-ID or IP-ID from
 * HOST/--servername (or --host/--ip); --srv-id and --uri-id add reference identifiers.
 */
export function trustPolicy(flags: Flags, primary: ReferenceId[]): TrustPolicy {
  const caSets = [
    ...flags.list('ca', 'a PEM file of trusted certificates').map((path): CaSet => ({ kind: 'file', path })),
    ...flags.list('ca-set', 'a CA set').map((text) => parseCaSet(text)),
  ];
  const pins = dedupe(flags.list('pin', 'one or more pins').flatMap((text) => asUsage('--pin', () => parsePins(text, '--pin'))));
  const tlsa = flags.list('tlsa', "a TLSA record 'U S M HEX'").map((text) => asUsage('--tlsa', () => parseTlsa(text)));
  const pinOnly = flags.bool('pin-only');
  const reportOnly = flags.bool('pin-report-only');
  if (pinOnly && reportOnly) throw usage('--pin-only and --pin-report-only exclude each other: pins either authenticate or only report');
  if ((pinOnly || reportOnly) && pins.length === 0) throw usage(`--${pinOnly ? 'pin-only' : 'pin-report-only'} needs at least one --pin`);
  if (pinOnly && (caSets.length > 0 || tlsa.length > 0)) throw usage('--pin-only replaces CA validation: do not combine it with --ca, --ca-set or --tlsa');
  // RFC 7671 §4: usable TLSA records that do not match fail the connection; no fallback to a CA.
  if (tlsa.length > 0 && caSets.length > 0) throw usage('--tlsa authenticates by DANE alone (RFC 7671): do not combine it with --ca or --ca-set');

  // What authenticates: TLSA records alone (DANE-TA/EE are not PKIX); or pins alone with
  // --pin-only; or the CA sets given, the system store by default.
  const sets: CaSet[] = caSets.length > 0 ? caSets : tlsa.length > 0 || pinOnly ? [{ kind: 'none' }] : [{ kind: 'system' }];
  const none = sets.some((set) => set.kind === 'none');
  if (none && sets.length > 1) throw usage("--ca-set none cannot be combined with another CA set");
  if (none && tlsa.length === 0 && !pinOnly) {
    throw usage('--ca-set none trusts no CA: give --tlsa records, or pins with --pin-only, to authenticate the peer');
  }

  const srv = flags.list('srv-id', 'an SRV-ID like _xmpp-client.example.com').map((id) => asUsage('--srv-id', () => srvReference(id)));
  const uri = flags.list('uri-id', 'a URI-ID like sip:example.com').map((id) => asUsage('--uri-id', () => uriReference(id)));
  const ocsp = flags.string('ocsp', 'off, check or require') ?? 'off';
  if (ocsp !== 'off' && ocsp !== 'check' && ocsp !== 'require') throw usage(`--ocsp: expected off, check or require, got '${ocsp}'`);
  return Object.freeze({
    purpose: 'serverAuth' as const,
    caSets: Object.freeze(sets),
    references: Object.freeze([...primary, ...srv, ...uri]),
    pins: Object.freeze(pins),
    pinMode: pinOnly ? 'pin-only' : reportOnly ? 'report-only' : 'enforce',
    tlsa: Object.freeze(tlsa),
    crlFiles: Object.freeze(flags.list('crl', 'a file of CRLs')),
    ocsp,
  });
}

function dedupe(pins: Pin[]): Pin[] {
  return pins.filter((pin, i) => pins.findIndex((p) => p.text === pin.text) === i);
}
