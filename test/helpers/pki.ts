// test/helpers/pki.ts — builds the fixture PKI (trusted and untrusted roots, intermediates, good and broken leaves) once per test process in a temp dir.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPem, issue, type IssueOptions, type Issued } from '../../src/pki/generate.ts';

/** Every leaf a test server can present; each gets `<name>.cert.pem`, `<name>.key.pem`, `<name>.chain.pem`. */
export const SERVER_FIXTURES = [
  'good', // localhost + IP 127.0.0.1 and ::1, under the intermediate
  'wrongName', // other.example only
  'expired',
  'notYetValid',
  'underExpiredIntermediate', // leaf in date, its intermediate expired
  'cnOnly', // CN=localhost, no SAN extension
  'untrusted', // issued by untrustedRoot, which is not in ca.pem
  'wildcard', // *.a.example
  'srv', // SRV-ID _xmpp-client.localhost and URI-ID sip:localhost, no DNS-ID
  'clientOnly', // EKU clientAuth only
  'rsa', // RSA-2048 leaf directly under the RSA-2048 root
  'rsa1024', // RSA-1024 key, under the intermediate
  'sha1', // sha1WithRSAEncryption signature by the RSA root
] as const;
export type ServerFixtureName = (typeof SERVER_FIXTURES)[number];

export interface ServerFixture {
  name: ServerFixtureName;
  issued: Issued;
  certFile: string; // the leaf alone
  keyFile: string; // PKCS#8 PEM
  chainFile: string; // leaf, then its intermediate if any: what a server sends
  chainPem: string;
  intermediateFile: string | undefined; // for `openssl verify -untrusted`; undefined when issued by a root
}

export interface Authorities {
  root: Issued; // P-256, trusted
  intermediate: Issued; // P-256 under root, pathLen 0
  expiredIntermediate: Issued; // under root, expired yesterday
  rsaRoot: Issued; // RSA-2048, trusted
  untrustedRoot: Issued; // P-256, NOT in ca.pem
}

export type FixturePki = Authorities &
  Record<ServerFixtureName, ServerFixture> & {
    dir: string;
    caFile: string; // root + rsaRoot
    untrustedCaFile: string; // untrustedRoot alone
    intermediateFile: string;
    expiredIntermediateFile: string;
    buildMs: number;
    cleanup(): void;
  };

const DAY = 86_400_000;
let building: Promise<FixturePki> | undefined;

/** The fixture PKI, built on first call and shared by every later call in this process. */
export function fixturePki(): Promise<FixturePki> {
  building ??= build();
  return building;
}

/** Options for `tls.createServer`: the fixture's key and the chain a server would send. */
export function serverOptions(fixture: ServerFixture): { key: string; cert: string } {
  return { key: fixture.issued.keyPem, cert: fixture.chainPem };
}

async function build(): Promise<FixturePki> {
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'tlsify-pki-'));
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir); // a test that forgets cleanup() still leaves no key material behind
  const [authorities, keys] = await Promise.all([makeAuthorities(), makeLeafKeys()]);
  const leaves = await makeLeaves(authorities, keys);
  const files = writeAuthorities(dir, authorities);
  const servers = writeServers(dir, authorities, leaves, files);
  const cleanup = (): void => {
    removeDir();
    process.removeListener('exit', removeDir);
    building = undefined;
  };
  return { ...authorities, ...servers, ...files, dir, buildMs: performance.now() - started, cleanup };
}

async function makeAuthorities(): Promise<Authorities> {
  const now = Date.now();
  const [root, rsaRoot, untrustedRoot] = await Promise.all([
    issue({ subject: 'CN=tlsify test root', ca: true, notAfter: new Date(now + 365 * DAY) }),
    issue({ subject: 'CN=tlsify test RSA root', ca: true, key: 'rsa2048', notAfter: new Date(now + 365 * DAY) }),
    issue({ subject: 'CN=tlsify untrusted root', ca: true }),
  ]);
  const [intermediate, expiredIntermediate] = await Promise.all([
    issue({ subject: 'CN=tlsify test intermediate', ca: true, pathLen: 0, issuer: root }),
    issue({
      subject: 'CN=tlsify expired intermediate',
      ca: true,
      pathLen: 0,
      issuer: root,
      notBefore: new Date(now - 60 * DAY),
      notAfter: new Date(now - DAY),
    }),
  ]);
  return { root, intermediate, expiredIntermediate, rsaRoot, untrustedRoot };
}

interface LeafKeys {
  ec: string; // one P-256 key shared by every ECDSA leaf: the tests never tell them apart by key
  rsa2048: string;
  rsa1024: string;
}

async function makeLeafKeys(): Promise<LeafKeys> {
  const [ec, rsa2048, rsa1024] = await Promise.all([
    generateKeyPem('p256'),
    generateKeyPem('rsa2048'),
    generateKeyPem('rsa1024'),
  ]);
  return { ec, rsa2048, rsa1024 };
}

function leafSpecs(a: Authorities, keys: LeafKeys): Record<ServerFixtureName, IssueOptions> {
  const now = Date.now();
  const localhost = { subject: 'CN=localhost', dns: ['localhost'], keyPem: keys.ec, issuer: a.intermediate };
  return {
    good: { ...localhost, ip: ['127.0.0.1', '::1'] },
    wrongName: { ...localhost, subject: 'CN=other.example', dns: ['other.example'] },
    expired: { ...localhost, notBefore: new Date(now - 60 * DAY), notAfter: new Date(now - DAY) },
    notYetValid: { ...localhost, notBefore: new Date(now + DAY), notAfter: new Date(now + 60 * DAY) },
    underExpiredIntermediate: { ...localhost, issuer: a.expiredIntermediate },
    cnOnly: { ...localhost, dns: undefined },
    untrusted: { ...localhost, ip: ['127.0.0.1'], issuer: a.untrustedRoot },
    wildcard: { ...localhost, subject: 'CN=*.a.example', dns: ['*.a.example'] },
    // The CN is not a host name, so a CN fallback cannot accidentally match.
    srv: { ...localhost, subject: 'CN=tlsify srv fixture', dns: undefined, srv: ['_xmpp-client.localhost'], uri: ['sip:localhost'] },
    clientOnly: { ...localhost, eku: ['clientAuth'] },
    rsa: { ...localhost, ip: ['127.0.0.1'], keyPem: keys.rsa2048, issuer: a.rsaRoot },
    rsa1024: { ...localhost, keyPem: keys.rsa1024 },
    sha1: { ...localhost, issuer: a.rsaRoot, hash: 'SHA-1' },
  };
}

interface Leaf {
  issued: Issued;
  issuer: Issued;
}

async function makeLeaves(a: Authorities, keys: LeafKeys): Promise<Record<ServerFixtureName, Leaf>> {
  const specs = leafSpecs(a, keys);
  const leaves = await Promise.all(
    SERVER_FIXTURES.map(async (name) => ({ issued: await issue(specs[name]), issuer: specs[name].issuer ?? a.root })),
  );
  return Object.fromEntries(SERVER_FIXTURES.map((name, i) => [name, leaves[i]])) as Record<ServerFixtureName, Leaf>;
}

type AuthorityFiles = Pick<FixturePki, 'caFile' | 'untrustedCaFile' | 'intermediateFile' | 'expiredIntermediateFile'>;

function writeAuthorities(dir: string, a: Authorities): AuthorityFiles {
  const write = (file: string, pem: string): string => writePem(join(dir, file), pem);
  return {
    caFile: write('ca.pem', a.root.certPem + a.rsaRoot.certPem),
    untrustedCaFile: write('untrusted-ca.pem', a.untrustedRoot.certPem),
    intermediateFile: write('intermediate.pem', a.intermediate.certPem),
    expiredIntermediateFile: write('expired-intermediate.pem', a.expiredIntermediate.certPem),
  };
}

function writeServers(
  dir: string,
  a: Authorities,
  leaves: Record<ServerFixtureName, Leaf>,
  files: AuthorityFiles,
): Record<ServerFixtureName, ServerFixture> {
  const intermediates = new Map<Issued, string>([
    [a.intermediate, files.intermediateFile],
    [a.expiredIntermediate, files.expiredIntermediateFile],
  ]);
  const entries = SERVER_FIXTURES.map((name) => {
    const { issued, issuer } = leaves[name];
    const intermediateFile = intermediates.get(issuer);
    const chainPem = issued.certPem + (intermediateFile ? issuer.certPem : '');
    const fixture: ServerFixture = {
      name,
      issued,
      certFile: writePem(join(dir, `${name}.cert.pem`), issued.certPem),
      keyFile: writePem(join(dir, `${name}.key.pem`), issued.keyPem, 0o600),
      chainFile: writePem(join(dir, `${name}.chain.pem`), chainPem),
      chainPem,
      intermediateFile,
    };
    return [name, fixture] as const;
  });
  return Object.fromEntries(entries) as Record<ServerFixtureName, ServerFixture>;
}

function writePem(file: string, pem: string, mode = 0o644): string {
  writeFileSync(file, pem, { mode });
  return file;
}
