// pinstore/events.ts: pin store decisions as control-channel fields (protocol/pin-store.md
// Appendix A; the lines themselves are written by commands/connect.ts). Pure.
import type { Fields } from '../control/frame.ts';
import { formatTime } from './format.ts';
import { formatTarget } from './doc.ts';
import type { HpkpOutcome, PinReport } from './hpkp.ts';
import type { Scope, StoredCheck, TofuDecision } from './policy.ts';

/** `stored-pins`: one line per applicable entry, after `pins`. */
export function storedCheckFields(c: StoredCheck, pathPins: readonly string[]): Fields {
  return {
    host: c.entry.host,
    port: c.entry.port,
    source: c.entry.source,
    effect: c.effect,
    result: c.result,
    matched: c.result === 'match' ? c.matched.join(',') : undefined,
    wanted: c.result === 'mismatch' ? c.entry.pins.map((p) => p.text).join(',') : undefined,
    seen: c.result === 'mismatch' ? pathPins.map((p, d) => `${p}@${d}`).join(',') : undefined,
  };
}

/** `tofu`: the decision after `verified`. */
export function tofuFields(d: TofuDecision, scope: Scope): Fields {
  const e = d.entry;
  return {
    decision: d.kind,
    host: formatTarget(scope.host, scope.port),
    pins: e?.pins.map((p) => p.text).join(','),
    'first-seen': e?.firstSeen && formatTime(e.firstSeen),
    'active-until': e?.activeUntil && formatTime(e.activeUntil),
    reason: d.kind === 'rejected' ? d.reason : undefined,
    message: d.kind === 'rejected' ? d.message : d.kind === 'unchanged' ? d.why : undefined,
  };
}

/** `hpkp-result`: the answer to the `hpkp` and `hpkp-report-only` commands. */
export function hpkpFields(o: HpkpOutcome): Fields {
  switch (o.kind) {
    case 'noted':
      return { result: 'noted', pins: o.entry.pins.length, 'max-age': o.maxAge, capped: o.capped, 'include-subdomains': o.entry.includeSubDomains, expires: formatTime(o.entry.expires!), replaced: o.replaced };
    case 'removed':
      return { result: 'removed', reason: o.why, existed: o.existed };
    case 'rejected':
      return { result: 'rejected', reason: o.reason, message: o.message };
    case 'evaluated':
      return { result: o.result, report: o.report !== undefined };
  }
}

/** `pin-report`: the RFC 7469 §3 JSON in one escaped field, for the parent to POST. */
export function reportFields(r: PinReport): Fields {
  return { 'report-uri': r.uri, report: r.json };
}
