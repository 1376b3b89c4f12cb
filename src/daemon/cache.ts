// daemon/cache.ts: what the daemon holds once for all its connections (protocol/daemon.md §5):
// CA sets, read once per distinct list of sets, and the RAM session cache for `--resume ram`.
import type { SessionCache } from '../commands/connect.ts';
import type { Log } from '../log.ts';
import { userEnv } from '../env.ts';
import type { Binding, SessionBlob } from '../tls/sessions.ts';
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
