// test/unit/path.test.ts: path building picks the path that validates, not the first that
// links; the regression from facts §5.2 (two intermediates with one name, one expired, no AKI).
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { anchorSet } from '../../src/trust/anchors.ts';
import { parseCertificate, type Cert } from '../../src/trust/cert.ts';
import { validatePath } from '../../src/trust/path.ts';
import { issue, type Issued } from '../../src/pki/generate.ts';

const DAY = 86400_000;
const now = new Date();
let root: Issued;
let expiredTwin: Issued;
let goodTwin: Issued;
let leaf: Issued;
const cert = (i: Issued): Cert => parseCertificate(i.der);

before(async () => {
  root = await issue({ subject: 'CN=Path Root', ca: true });
  // Same subject, different keys; the first is expired. No AKI in the leaf, so only the
  // signature tells them apart.
  expiredTwin = await issue({ subject: 'CN=Shared Int', ca: true, issuer: root, notBefore: new Date(now.getTime() - 30 * DAY), notAfter: new Date(now.getTime() - DAY) });
  goodTwin = await issue({ subject: 'CN=Shared Int', ca: true, issuer: root });
  leaf = await issue({ subject: 'CN=leaf', issuer: goodTwin, dns: ['leaf.example'], skipAki: true });
});

test('the path goes through the intermediate that signed the leaf, not a same-named decoy', () => {
  const anchors = anchorSet('test', [{ der: root.der, source: 'test' }]);
  const r = validatePath(cert(leaf), [cert(expiredTwin), cert(goodTwin)], anchors, now);
  assert.ok(r.ok, r.ok ? '' : r.message);
  assert.deepEqual(r.path.map((c) => c.pin), [leaf.spkiPin, goodTwin.spkiPin, root.spkiPin]);
});

test('with only the decoy sent, there is no path, and the message says why', () => {
  const anchors = anchorSet('test', [{ der: root.der, source: 'test' }]);
  const r = validatePath(cert(leaf), [cert(expiredTwin)], anchors, now);
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.message : '', /signature on 'CN=leaf' does not verify with the key of 'CN=Shared Int'/);
});

test('an expired intermediate on the only path: expired, naming depth 1', async () => {
  const leaf2 = await issue({ subject: 'CN=leaf2', issuer: expiredTwin, dns: ['leaf.example'] });
  const anchors = anchorSet('test', [{ der: root.der, source: 'test' }]);
  const r = validatePath(cert(leaf2), [cert(expiredTwin)], anchors, now);
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.code, 'expired');
  assert.match(!r.ok ? r.message : '', /depth 1 \('CN=Shared Int'\) expired at/);
});

test('pathLen 0 allows no intermediate below it', async () => {
  const capped = await issue({ subject: 'CN=Capped Int', ca: true, pathLen: 0, issuer: root });
  const sub = await issue({ subject: 'CN=Sub Int', ca: true, issuer: capped });
  const leaf3 = await issue({ subject: 'CN=leaf3', issuer: sub, dns: ['leaf.example'] });
  const anchors = anchorSet('test', [{ der: root.der, source: 'test' }]);
  const r = validatePath(cert(leaf3), [cert(sub), cert(capped)], anchors, now);
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.message : '', /allows 0 intermediate certificates below it/);
});

test('a leaf that is not a CA cannot issue', async () => {
  const notCa = await issue({ subject: 'CN=Not A CA', issuer: root, dns: ['x.example'] });
  const child = await issue({ subject: 'CN=child', issuer: notCa, dns: ['leaf.example'] });
  const anchors = anchorSet('test', [{ der: root.der, source: 'test' }]);
  const r = validatePath(cert(child), [cert(notCa)], anchors, now);
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.message : '', /is not a CA/);
});

test('a self-signed server certificate given as the anchor validates as a path of one', async () => {
  const self = await issue({ subject: 'CN=self', dns: ['self.example'], ca: true });
  const anchors = anchorSet('test', [{ der: self.der, source: 'test' }]);
  const r = validatePath(cert(self), [], anchors, now);
  assert.ok(r.ok);
  assert.equal(r.path.length, 1);
});

test('time is an input: the same path fails a year later', () => {
  const anchors = anchorSet('test', [{ der: root.der, source: 'test' }]);
  const later = new Date(now.getTime() + 365 * DAY);
  const r = validatePath(cert(leaf), [cert(goodTwin)], anchors, later);
  assert.equal(!r.ok && r.code, 'expired');
});
