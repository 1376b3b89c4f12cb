// trust/policy.ts: the types of a trust policy (what authenticates a peer, and what else must
// hold), frozen at the edge by config/trust.ts and read by trust/verify.ts. Types only.
import type { ReferenceId } from './names.ts';

/** A source of trust anchors (--ca-set); the union of all given sets is trusted. */
export type CaSet =
  | { readonly kind: 'system' }
  | { readonly kind: 'bundled' }
  | { readonly kind: 'system-no-local' }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'dir'; readonly path: string }
  | { readonly kind: 'named'; readonly name: string }
  | { readonly kind: 'none' };

/** An SPKI pin (RFC 7469 §2.4): SHA-256 over the DER SubjectPublicKeyInfo. */
export interface Pin {
  readonly algorithm: 'sha256';
  /** 32 bytes. */
  readonly hash: Buffer;
  /** Canonical text: 'sha256/' + base64. */
  readonly text: string;
}

/**
 * enforce: a pin must match an SPKI on the validated path (anchor included).
 * report-only: evaluate and report a mismatch, never reject for it.
 * pin-only: the pins replace CA validation: the leaf's SPKI must match (stated in README).
 */
export type PinMode = 'enforce' | 'report-only' | 'pin-only';

/** A TLSA record supplied by the caller (RFC 6698 §2.1; RFC 7671 usages 2 and 3 only). */
export interface Tlsa {
  readonly usage: 2 | 3;
  readonly selector: 0 | 1;
  readonly matching: 0 | 1 | 2;
  readonly data: Buffer;
  /** As given, normalised: 'U S M hex'. */
  readonly text: string;
}

export type OcspMode = 'off' | 'check' | 'require';

export interface TrustPolicy {
  /** serverAuth when tlsify verifies a server (connect), clientAuth for client certificates (accept). */
  readonly purpose: 'serverAuth' | 'clientAuth';
  readonly caSets: readonly CaSet[];
  /** Identities to match (RFC 9525); empty only for client certificates, where names are optional. */
  readonly references: readonly ReferenceId[];
  readonly pins: readonly Pin[];
  readonly pinMode: PinMode;
  readonly tlsa: readonly Tlsa[];
  readonly crlFiles: readonly string[];
  readonly ocsp: OcspMode;
}
