// trust/load.ts: reads the files a trust policy names (CA sets, CRLs), once, at start.
import { userEnv } from '../env.ts';
import type { Log } from '../log.ts';
import { loadCrlFile } from './crl.ts';
import type { TrustPolicy } from './policy.ts';
import { loadCaSets } from './store.ts';
import type { LoadedPolicy } from './verify.ts';

export function loadPolicy(policy: TrustPolicy, log: Log): LoadedPolicy {
  const anchors = loadCaSets(policy.caSets, (where, why) => log.warn({ where, why }, 'skipping an unusable anchor'), { env: userEnv });
  const crls = policy.crlFiles.flatMap((file) => loadCrlFile(file));
  return Object.freeze({ policy, anchors, crls: Object.freeze(crls), stored: undefined });
}
