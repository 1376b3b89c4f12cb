// daemon/cache.ts: what the daemon holds once for all its connections (protocol/daemon.md §5):
// CA sets, read once per distinct list of sets; the SecureContexts made from them; and the RAM
// session cache for `--resume ram`.
import tls from 'node:tls';
import type { ConnectConfig } from '../config.ts';
import { emptyOpensslDefaults, opensslUsesSystemStore } from '../env.ts';
import { contextOptions } from '../tls/client.ts';
import { tlsCredentials, type ClientIdentity } from '../tls/identity.ts';
import { opensslSystemPaths } from '../trust/store.ts';
import type { SessionCache } from '../commands/connect.ts';
import type { Log } from '../log.ts';
import { userEnv } from '../env.ts';
import type { Binding } from '../tls/session-binding.ts';
import type { SessionBlob } from '../tls/session-blob.ts';
import { describeCaSet, loadCaSets } from '../trust/store.ts';
import type { TrustPolicy } from '../trust/policy.ts';
import type { LoadedPolicy } from '../trust/verify.ts';
import type { AnchorSet } from '../trust/anchors.ts';

/** Distinct CA-set lists kept; requests can only name system sets and @NAME files, so few. */
const MAX_ANCHOR_SETS = 32;
/** Sessions kept, one per binding, oldest dropped first; a blob is at most 32 KiB. */
export const MAX_RAM_SESSIONS = 256;

export class AnchorCache {
  private readonly sets = new Map<string, AnchorSet>();

  /** For SessionIo.loadPolicy. --crl is refused on the socket, so there are never CRLs. */
  readonly load = (policy: TrustPolicy, log: Log): Omit<LoadedPolicy, 'stored'> => {
    const key = policy.caSets.map(describeCaSet).join('\n');
    let anchors = this.sets.get(key);
    if (!anchors) {
      anchors = loadCaSets(policy.caSets, (where, why) => log.warn({ where, why }, 'skipping an unusable anchor'), { env: userEnv });
      if (this.sets.size >= MAX_ANCHOR_SETS) this.sets.delete(this.sets.keys().next().value!);
      this.sets.set(key, anchors);
    }
    return Object.freeze({ policy, anchors, crls: Object.freeze([]) });
  };
}

/** Sessions by binding digest: a ticket is offered only under the binding it was made for. */
export class RamSessionCache implements SessionCache {
  readonly path = 'ram';
  private readonly entries = new Map<string, SessionBlob>();

  lookup(binding: Binding): SessionBlob | undefined {
    return this.entries.get(binding.digest);
  }

  put(blob: SessionBlob): void {
    this.entries.delete(blob.binding.digest); // re-insert: newest last
    this.entries.set(blob.binding.digest, blob);
    if (this.entries.size > MAX_RAM_SESSIONS) this.entries.delete(this.entries.keys().next().value!);
  }

  forget(binding: Binding): void {
    this.entries.delete(binding.digest);
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * SecureContexts, one per anchor set, minimum version and client identity: tls.connect with `ca`
 * makes a new one for every connection, parsing every anchor (0.3-0.4 ms with one anchor, ~25 ms
 * with the 145 of a system bundle). What varies per connection (SNI, ALPN, the session offered,
 * the OCSP request) is set on each SSL, not here. A context is dropped with its AnchorSet.
 */
export class ContextCache {
  private readonly contexts = new WeakMap<AnchorSet, Map<string, tls.SecureContext>>();

  /**
   * Node makes one process-wide root store, from OpenSSL's default paths, with the first context.
   * A spawned tlsify points those paths at the system store just before its one `system`
   * connection (env.ts); a daemon serves every set, in any order, so it builds that root store
   * now from the system paths, then empties the paths again, so that a context with `ca` (which
   * also loads the default paths under --use-openssl-ca) holds that set's anchors alone.
   */
  private readonly nativeSystem: boolean;

  constructor(env: NodeJS.ProcessEnv) {
    this.nativeSystem = opensslUsesSystemStore(opensslSystemPaths({ env }));
    if (this.nativeSystem) tls.createSecureContext();
    emptyOpensslDefaults();
  }

  readonly get = (anchors: AnchorSet, systemOnly: boolean, minTls: ConnectConfig['minTls'], ids: readonly ClientIdentity[]): tls.SecureContext => {
    const native = systemOnly && this.nativeSystem;
    const key = `${native ? 'native' : 'ca'} ${minTls} ${ids.map((id) => id.fingerprint).join(',')}`;
    let byKey = this.contexts.get(anchors);
    if (!byKey) this.contexts.set(anchors, (byKey = new Map()));
    let ctx = byKey.get(key);
    if (!ctx) {
      ctx = tls.createSecureContext(contextOptions(native ? undefined : anchors.pems, minTls, tlsCredentials(ids)));
      byKey.set(key, ctx);
    }
    return ctx;
  };
}
