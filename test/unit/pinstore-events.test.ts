// pinstore-events.test.ts: store decisions as control lines (protocol/pin-store.md Appendix A):
// each is a valid line of protocol/control.md §2, and a report's JSON survives the escaping.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { formatLine, parseLine } from '../../src/control/frame.ts';
import { hpkpFields, reportFields, storedCheckFields, tofuFields } from '../../src/pinstore/events.ts';
import { VERSION_LINE, parseStore } from '../../src/pinstore/format.ts';
import { entriesOf } from '../../src/pinstore/doc.ts';
import { decideHpkp, reportFor } from '../../src/pinstore/hpkp.ts';
import { checkStored, decideTofu } from '../../src/pinstore/policy.ts';

const b64 = (seed: string): string => createHash('sha256').update(seed).digest('base64');
const pin = (seed: string): string => `sha256/${b64(seed)}`;
const NOW = new Date('2026-11-23T12:00:00Z');
const path = [pin('leaf'), pin('root')];
const line = (name: string, fields: Record<string, unknown>): string => formatLine(name, fields as never).trimEnd();

test('tofu: learned, then rejected with reason and message', () => {
  const scope = { host: 'mail.example', port: 993 };
  const first = decideTofu(parseStore(Buffer.alloc(0), 'F'), scope, path, 'learn', NOW);
  assert.equal(line('tofu', tofuFields(first.decision, scope)), `tofu decision=learned host=mail.example:993 pins=${path.join(',')} first-seen=2026-11-23T12:00:00Z`);
  const strict = decideTofu(parseStore(Buffer.alloc(0), 'F'), scope, path, 'strict', NOW);
  const l = line('tofu', tofuFields(strict.decision, scope));
  assert.match(l, /^tofu decision=rejected host=mail.example:993 reason=no-entry message=--tofu%20strict:%20the%20store%20has%20no%20pin%20for%20mail.example:993/);
  assert.ok(parseLine(l).ok);
});

test('stored-pins: a mismatch lists wanted and seen', () => {
  const [entry] = entriesOf(parseStore(Buffer.from(`${VERSION_LINE}\na.example source=hpkp pins=${pin('x')} expires=2027-01-01T00:00:00Z\n`), 'F'));
  const [check] = checkStored([entry!], path, NOW).checks;
  assert.equal(line('stored-pins', storedCheckFields(check!, path)), `stored-pins host=a.example source=hpkp effect=enforce result=mismatch wanted=${pin('x')} seen=${path[0]}@0,${path[1]}@1`);
});

test('hpkp-result and pin-report: the JSON comes back intact from the escaped field', () => {
  const chain = [{ pin: path[0]!, der: Buffer.from('leaf der') }, { pin: path[1]!, der: Buffer.from('root der') }];
  const header = `pin-sha256="${b64('leaf')}"; pin-sha256="${b64('backup')}"; max-age=99999999; includeSubDomains; report-uri="https://r.example/a b"`.replace(' b"', 'b"');
  const noted = decideHpkp(parseStore(Buffer.alloc(0), 'F'), { host: 'example.com', port: 443, header, validated: chain, served: [chain[0]!.der], clean: true, now: NOW, reportOnly: false, maxAgeCap: 5184000 });
  assert.equal(line('hpkp-result', hpkpFields(noted.outcome)), 'hpkp-result result=noted pins=2 max-age=5184000 capped=yes include-subdomains=yes expires=2027-01-22T12:00:00Z replaced=no');
  const entry = entriesOf(noted.next!)[0]!;
  const report = reportFor(entry, { now: NOW, hostname: 'www.example.com', port: 443, served: [chain[0]!.der], validated: chain })!;
  const text = line('pin-report', reportFields(report));
  const parsed = parseLine(text);
  assert.ok(parsed.ok);
  assert.ok(!text.includes('\n'));
  const json = parsed.ok ? parsed.line.fields.get('report') : undefined; // parseLine decodes %XX
  assert.deepEqual(JSON.parse(json!), JSON.parse(report.json));
  assert.equal(parsed.ok && parsed.line.fields.get('report-uri'), 'https://r.example/ab');
});
