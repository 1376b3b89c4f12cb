// test/e2e/environment.test.ts: nothing in the environment weakens a check or leaks a secret:
// NODE_TLS_REJECT_UNAUTHORIZED, NODE_OPTIONS (--tls-keylog, --require), NODE_EXTRA_CA_CERTS.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { codes } from '../../src/codes.ts';
import { fixturePki, serverOptions, type FixturePki } from '../helpers/pki.ts';
import { echoUpper, runOnce, tlsPeer, type Peer } from '../helpers/tlsify.ts';

let pki: FixturePki;
let dir: string;
const peers: Peer[] = [];
before(async () => {
  pki = await fixturePki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-env-'));
});
after(async () => {
  await Promise.all(peers.map((p) => p.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function peer(fixture: 'good' | 'wrongName' | 'untrusted'): Promise<Peer> {
  const p = await tlsPeer(serverOptions(pki[fixture]), echoUpper);
  peers.push(p);
  return p;
}

test('NODE_TLS_REJECT_UNAUTHORIZED=0 does not let a wrong name through', async () => {
  const p = await peer('wrongName');
  const r = await runOnce(['connect', `127.0.0.1:${p.port}`, '--ca', pki.caFile, '--servername', 'localhost'], 'x', {
    env: { ...process.env, NODE_TLS_REJECT_UNAUTHORIZED: '0' },
  });
  assert.equal(r.status, codes['name-mismatch'].exit);
  assert.equal(r.stdout.length, 0);
});

test('NODE_EXTRA_CA_CERTS adds no trust, to --ca or to the system store', async () => {
  const p = await peer('untrusted');
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: pki.untrustedCaFile };
  const withCa = await runOnce(['connect', `127.0.0.1:${p.port}`, '--ca', pki.caFile, '--servername', 'localhost'], 'x', { env });
  assert.equal(withCa.status, codes.untrusted.exit);
  const system = await runOnce(['connect', `127.0.0.1:${p.port}`, '--servername', 'localhost'], 'x', { env });
  assert.equal(system.status, codes.untrusted.exit);
});

test('NODE_OPTIONS=--tls-keylog writes no key log, and --require runs nothing', async () => {
  const p = await peer('good');
  const keylog = path.join(dir, 'keylog.txt');
  const marker = path.join(dir, 'required.txt');
  const hook = path.join(dir, 'hook.js');
  fs.writeFileSync(hook, `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran')`);
  const r = await runOnce(['connect', `127.0.0.1:${p.port}`, '--ca', pki.caFile, '--servername', 'localhost'], 'keys?\n', {
    env: { ...process.env, NODE_OPTIONS: `--tls-keylog=${keylog} --require=${hook}` },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.toString(), 'KEYS?\n');
  assert.equal(fs.existsSync(keylog), false, 'a key log was written');
  assert.equal(fs.existsSync(marker), false, 'a --require hook ran');
});

test('SSL_CERT_FILE chooses the system store, as with OpenSSL', async () => {
  const p = await peer('good');
  const r = await runOnce(['connect', `127.0.0.1:${p.port}`, '--servername', 'localhost'], 'sys\n', {
    env: { ...process.env, SSL_CERT_FILE: pki.caFile, SSL_CERT_DIR: '' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.toString(), 'SYS\n');
  assert.equal(r.events.find((e) => e.name === 'verified')!.fields['ca-set'], 'system');
});
