// tls/session-binding.ts: what a resumption blob is bound to (tls/sessions.ts): the peer, SNI,
// ALPN, minimum version, trust policy and client identities, each part digested on its own.
import { createHash } from 'node:crypto';
import type { ConnectConfig } from '../config.ts';
import { describeStoreSpec } from '../pinstore/location.ts';
import { describeReference } from '../trust/names.ts';
import type { TrustPolicy } from '../trust/policy.ts';
import { describeCaSet } from '../trust/store.ts';
import type { ClientIdentity } from './identity.ts';

/** What a blob is bound to, part by part, so a refusal can say which part differs. */
export const BINDING_PARTS = ['peer', 'sni', 'alpn', 'min-tls', 'ca-sets', 'references', 'pins', 'tlsa', 'revocation', 'identity'] as const;
export type BindingPart = (typeof BINDING_PARTS)[number];

export interface BindingInput {
  readonly host: string;
  readonly port: number | undefined;
  readonly sni: string | undefined;
  readonly alpn: readonly string[];
  readonly minTls: string;
  readonly policy: TrustPolicy;
  /** --pin-store as given (describeStoreSpec) and --tofu: where stored pins come from. */
  readonly pinStore: string;
  readonly tofu: string;
  /** TACK inputs as given: 'tack:FILE', 'break:FILE', 'activate'. */
  readonly tack: readonly string[];
  /** The fingerprints of every configured client identity; empty for none. */
  readonly identities: readonly string[];
}

export interface Binding {
  /** Lowercase hex SHA-256 over the parts, in BINDING_PARTS order: the key of a store entry. */
  readonly digest: string;
  readonly parts: ReadonlyMap<BindingPart, Buffer>;
}

/**
 * Pure and stable: the same input gives the same digest in any process. The policy is bound as
 * configured (set names, pins, records, the pin store's name), not by what the sets and stores
 * hold: the stored path is checked against the anchors, CRLs and stored pins of the day anyway,
 * and a system store update should not orphan every blob. Order does not matter where the
 * policy is a set (CA sets, pins, records).
 */
export function bindingOf(input: BindingInput): Binding {
  const p = input.policy;
  const sorted = (xs: readonly string[]): string[] => [...xs].sort();
  const values: Record<BindingPart, unknown> = {
    peer: [input.host.toLowerCase(), input.port ?? null],
    sni: input.sni ?? null,
    alpn: [...input.alpn], // as given: the server chooses by its own preference, but keep it simple and exact
    'min-tls': input.minTls,
    'ca-sets': sorted(p.caSets.map(describeCaSet)),
    references: sorted(p.references.map(describeReference)),
    pins: [p.pinMode, sorted(p.pins.map((pin) => pin.text)), input.pinStore, input.tofu, sorted(input.tack)],
    tlsa: sorted(p.tlsa.map((r) => r.text)),
    revocation: [p.ocsp, sorted(p.crlFiles)],
    identity: sorted(input.identities),
  };
  const parts = new Map<BindingPart, Buffer>(BINDING_PARTS.map((name) => [name, partDigest(name, values[name])]));
  return Object.freeze({ digest: digestOf(parts), parts });
}

/** The binding of a `connect` run: what the integration calls, and what the tests compute too. */
export function bindingFor(cfg: ConnectConfig, ids: readonly ClientIdentity[]): Binding {
  return bindingOf({
    host: cfg.host,
    port: cfg.port,
    sni: cfg.sni,
    alpn: cfg.alpn,
    minTls: cfg.minTls,
    policy: cfg.policy,
    pinStore: describeStoreSpec(cfg.pinStore),
    tofu: cfg.tofu,
    tack: [...cfg.tackFiles.map((f) => `tack:${f}`), ...cfg.tackBreakFiles.map((f) => `break:${f}`), ...(cfg.tackActivate ? ['activate'] : [])],
    identities: ids.map((id) => id.fingerprint),
  });
}

function partDigest(name: BindingPart, value: unknown): Buffer {
  return createHash('sha256').update(`tlsify-binding-1\0${name}\0${JSON.stringify(value)}`).digest();
}

/** The store key over the part digests; decodeBlob recomputes it from the parts a blob carries. */
export function digestOf(parts: ReadonlyMap<BindingPart, Buffer>): string {
  const h = createHash('sha256').update('tlsify-binding-1\0');
  for (const name of BINDING_PARTS) h.update(parts.get(name)!);
  return h.digest('hex');
}
