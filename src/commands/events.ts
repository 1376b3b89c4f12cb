// commands/events.ts: the verdict as control lines (protocol/control.md §4): one `cert` line per
// certificate on the validated path, then `verified`. Shared by connect and verify.
import type { Fields } from '../control/frame.ts';
import type { SanEntry } from '../trust/cert-extensions.ts';
import { describeReference } from '../trust/names.ts';
import type { TrustPolicy } from '../trust/policy.ts';
import { describeCaSet } from '../trust/store.ts';
import type { Verified } from '../trust/verify.ts';

export function verdictEvents(v: Verified, policy: TrustPolicy): [string, Fields][] {
  const last = v.path.length - 1;
  const events: [string, Fields][] = v.path.map((cert, depth) => [
    'cert',
    {
      depth,
      role: depth === 0 ? 'leaf' : depth === last && v.anchor ? 'anchor' : 'intermediate',
      subject: cert.subject,
      issuer: cert.issuer,
      'not-before': cert.notBefore.toISOString(),
      'not-after': cert.notAfter.toISOString(),
      pin: cert.pin,
      der: cert.der.toString('base64'),
    },
  ]);
  const id = v.identity;
  events.push([
    'verified',
    {
      by: v.by,
      identity: id ? describeReference(id.reference) : policy.references.map(describeReference).join(','),
      matched: id ? presentedName(id.presented) : undefined,
      how: id ? id.how : 'not-checked',
      'ca-set': v.anchor ? policy.caSets.map(describeCaSet).join('+') : undefined,
      anchor: v.anchor?.cert.subject,
      'anchor-source': v.anchor?.source,
    },
  ]);
  return events;
}

function presentedName(s: SanEntry): string {
  return s.type === 'other' ? `other:${s.oid || s.form}` : `${s.type}:${s.value}`;
}
