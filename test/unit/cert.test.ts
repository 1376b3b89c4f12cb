// cert.test.ts: X.509 parsing (RFC 5280) checked against openssl-made certificates and node:crypto, plus PEM (RFC 7468).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash, generateKeyPairSync, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertError, parseCertificate, type Cert } from '../../src/trust/cert.ts';
import { oidNames } from '../../src/trust/dn.ts';
import { pemBlocks } from '../../src/trust/pem.ts';
import { DerReader } from '../../src/trust/der.ts';

// ---- real certificates, made by the openssl CLI in a temp dir --------------------------------

const dir = mkdtempSync(join(tmpdir(), 'tlsify-cert-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Made {
  pem: string;
  keyPem: string;
  der: Buffer;
  cert: Cert;
  node: X509Certificate;
}

const made = new Map<string, Made>();
/** `openssl req -x509` once per name; later calls reuse the files. */
function make(name: string, args: string[]): Made {
  const hit = made.get(name);
  if (hit) return hit;
  execFileSync('openssl', ['req', '-x509', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, ...args], { cwd: dir, stdio: 'pipe' });
  const pem = readFileSync(join(dir, `${name}.pem`), 'utf8');
  const der = execFileSync('openssl', ['x509', '-in', `${name}.pem`, '-outform', 'DER'], { cwd: dir, stdio: 'pipe' });
  const m = { pem, keyPem: readFileSync(join(dir, `${name}.key`), 'utf8'), der, cert: parseCertificate(der), node: new X509Certificate(der) };
  made.set(name, m);
  return m;
}

const EC_SAN = 'subjectAltName=DNS:a.example,IP:127.0.0.1,IP:::1,URI:https://x.example/,otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_xmpp-client.example.com,email:a@b.example';
const ecCert = (): Made =>
  make('ec', [
    ...['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-days', '30'],
    ...['-subj', '/C=US/ST=Some State/O=Ex, Inc./OU=R&D/CN=leaf.example'],
    ...['-addext', EC_SAN, '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:1'],
    ...['-addext', 'keyUsage=critical,keyCertSign', '-addext', 'extendedKeyUsage=serverAuth'],
  ]);
const rsaCert = (): Made => make('rsa', ['-newkey', 'rsa:2048', '-days', '30', '-subj', '/C=US/O=Ex, Inc./CN=leaf+serialNumber=42', '-multivalue-rdn']);
const pssCert = (): Made => make('pss', ['-newkey', 'rsa:2048', '-sigopt', 'rsa_padding_mode:pss', '-sha384', '-days', '1', '-subj', '/CN=pss']);
// 40000 days puts notAfter past 2049, so it is a GeneralizedTime (RFC 5280 §4.1.2.5).
const edCert = (): Made => make('ed', ['-newkey', 'ed25519', '-days', '40000', '-subj', '/CN=ed']);

/** node:crypto shows names one RDN per line, least specific first, with ' + ' in multi-valued RDNs. */
const nodeNameToRfc4514 = (s: string): string => s.split('\n').reverse().join(',').replaceAll(' + ', '+');

/** The signatureValue BIT STRING of a certificate, read with der.ts. */
function signatureOf(der: Buffer): Buffer {
  const c = new DerReader(der).sequence();
  c.read();
  c.read();
  return c.bitString().bytes;
}

test('EC P-256 certificate: fields agree with node:crypto X509Certificate', () => {
  const { cert, node } = ecCert();
  assert.equal(cert.subject, nodeNameToRfc4514(node.subject));
  assert.equal(cert.subject, 'CN=leaf.example,OU=R&D,O=Ex\\, Inc.,ST=Some State,C=US');
  assert.equal(cert.issuer, nodeNameToRfc4514(node.issuer));
  assert.equal(cert.notBefore.getTime(), new Date(node.validFrom).getTime());
  assert.equal(cert.notAfter.getTime(), new Date(node.validTo).getTime());
  assert.equal(cert.basicConstraints?.ca, node.ca);
  assert.deepEqual(cert.spki, node.publicKey.export({ type: 'spki', format: 'der' }));
  assert.equal(cert.serialHex, node.serialNumber.toLowerCase());
  assert.deepEqual(cert.extKeyUsage, node.keyUsage); // node's keyUsage is the EKU OID list
  const spkiHash = createHash('sha256').update(node.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  assert.equal(cert.pin, `sha256/${spkiHash}`);
});

test('EC P-256 certificate: fields agree with what was asked of openssl', () => {
  const { cert } = ecCert();
  assert.equal(cert.version, 3);
  assert.equal(cert.signatureOid, '1.2.840.10045.4.3.2');
  assert.equal(cert.signatureHash, 'sha256');
  assert.equal(cert.keyType, 'ec');
  assert.equal(cert.keyBits, 256);
  assert.equal(cert.curveOid, '1.2.840.10045.3.1.7');
  assert.deepEqual(cert.subjectCommonNames, ['leaf.example']);
  assert.deepEqual(cert.issuerDer, cert.subjectDer); // self-signed
  assert.deepEqual(cert.basicConstraints, { ca: true, pathLen: 1, critical: true });
  assert.deepEqual([...(cert.keyUsage ?? [])], ['keyCertSign']);
  assert.deepEqual(cert.extKeyUsage, ['1.3.6.1.5.5.7.3.1']);
  assert.deepEqual(cert.san, [
    { type: 'dns', value: 'a.example' },
    { type: 'ip', bytes: Buffer.from([127, 0, 0, 1]), value: '127.0.0.1' },
    { type: 'ip', bytes: Buffer.from('00000000000000000000000000000001', 'hex'), value: '::1' },
    { type: 'uri', value: 'https://x.example/' },
    { type: 'srv', value: '_xmpp-client.example.com' },
    { type: 'email', value: 'a@b.example' },
  ]);
  assert.equal(cert.hasNameConstraints, false);
  assert.deepEqual(cert.unhandledCriticalExtensions, []);
});

test('subject key id is the SHA-1 of the key bits (what openssl writes), and the self-signed AKI repeats it', () => {
  const { cert } = ecCert();
  const spki = new DerReader(cert.spki).sequence();
  spki.read();
  const keyBits = spki.bitString().bytes;
  assert.deepEqual(cert.subjectKeyId, createHash('sha1').update(keyBits).digest());
  assert.deepEqual(cert.authorityKeyId, cert.subjectKeyId);
});

test('tbs is exactly the signed bytes: the signature verifies over it (EC and RSA)', () => {
  for (const { cert, node, der } of [ecCert(), rsaCert()]) {
    assert.equal(verify('sha256', cert.tbs, node.publicKey, signatureOf(der)), true);
    assert.equal(verify('sha256', Buffer.concat([cert.tbs, Buffer.from([0])]), node.publicKey, signatureOf(der)), false);
  }
});

test('RSA 2048: key size from the modulus, RFC 4514 escaping and multi-valued RDN, no SAN gives []', () => {
  const { cert, node } = rsaCert();
  assert.equal(cert.keyType, 'rsa');
  assert.equal(cert.keyBits, 2048);
  assert.equal(cert.curveOid, undefined);
  assert.equal(cert.signatureHash, 'sha256');
  assert.equal(cert.subject, 'serialNumber=42+CN=leaf,O=Ex\\, Inc.,C=US');
  assert.equal(cert.subject, nodeNameToRfc4514(node.subject));
  assert.deepEqual(cert.subjectCommonNames, ['leaf']);
  assert.deepEqual(cert.san, []);
  assert.equal(cert.keyUsage, undefined);
  assert.deepEqual(cert.spki, node.publicKey.export({ type: 'spki', format: 'der' }));
  assert.equal(cert.serialHex, node.serialNumber.toLowerCase());
});

test('RSA-PSS signature: the hash comes from the RSASSA-PSS parameters', () => {
  const { cert, node } = pssCert();
  assert.equal(cert.signatureOid, '1.2.840.113549.1.1.10');
  assert.equal(cert.signatureHash, 'sha384');
  assert.deepEqual(cert.spki, node.publicKey.export({ type: 'spki', format: 'der' }));
});

test('Ed25519 with a GeneralizedTime notAfter after 2049', () => {
  const { cert, node } = edCert();
  assert.equal(cert.keyType, 'ed25519');
  assert.equal(cert.signatureHash, 'intrinsic');
  assert.equal(cert.signatureOid, '1.3.101.112');
  assert.ok(cert.notAfter.getUTCFullYear() > 2049);
  assert.equal(cert.notAfter.getTime(), new Date(node.validTo).getTime());
  assert.equal(cert.notBefore.getTime(), new Date(node.validFrom).getTime());
  assert.equal(verify(null, cert.tbs, node.publicKey, signatureOf(edCert().der)), true);
});

test('the Cert is frozen and does not share memory with the caller input', () => {
  const der = Buffer.from(ecCert().der);
  const cert = parseCertificate(der);
  assert.ok(Object.isFrozen(cert));
  assert.ok(Object.isFrozen(cert.san));
  assert.ok(Object.isFrozen(cert.san[0]));
  assert.ok(Object.isFrozen(cert.basicConstraints));
  assert.throws(() => ((cert as { version: number }).version = 1), TypeError);
  der.fill(0);
  assert.deepEqual(cert.der, ecCert().der);
});

// ---- damaged encodings ---------------------------------------------------------------------

function throwsCert(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CertError, `expected CertError, got ${String(e)}`);
    assert.match(e.message, message);
    return true;
  });
}

test('truncated DER is rejected, saying how many bytes were expected', () => {
  const der = ecCert().der;
  throwsCert(() => parseCertificate(der.subarray(0, der.length - 1)), /^certificate: Certificate: expected \d+ content bytes, got \d+ before the end of the enclosing data at byte 0$/);
  throwsCert(() => parseCertificate(der.subarray(0, 3)), /expected 2 length bytes, got end of data at byte 1/);
  throwsCert(() => parseCertificate(new Uint8Array(0)), /expected Certificate SEQUENCE, got end of data at byte 0/);
});

test('an inner length that overruns its parent is rejected at that element', () => {
  const der = Buffer.from(ecCert().der);
  assert.equal(der[4], 0x30); // TBSCertificate: 30 82 LL LL
  der.writeUInt16BE(der.readUInt16BE(2), 6); // as long as the whole certificate body: past its end
  throwsCert(() => parseCertificate(der), /expected \d+ content bytes, got \d+ .* at byte 4$/);
});

test('a non-minimal outer length is rejected', () => {
  const der = ecCert().der;
  assert.equal(der[1], 0x82);
  const padded = Buffer.concat([Buffer.from([0x30, 0x83, 0x00]), der.subarray(2)]);
  throwsCert(() => parseCertificate(padded), /expected a minimal length encoding, got non-minimal 3-byte length \d+ at byte 1/);
});

test('trailing bytes after the certificate are rejected', () => {
  const der = ecCert().der;
  throwsCert(() => parseCertificate(Buffer.concat([der, Buffer.from([0, 0])])), new RegExp(`expected end of certificate, got trailing tag 0x00 at byte ${der.length}$`));
});

// ---- synthetic certificates for the paths openssl will not produce --------------------------

function len(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return [0x80 | bytes.length, ...bytes];
}
function tlv(tag: number, ...parts: (Uint8Array | number[])[]): Buffer {
  const body = Buffer.concat(parts.map((p) => Buffer.from(p)));
  return Buffer.concat([Buffer.from([tag, ...len(body.length)]), body]);
}
function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(BigInt) as [bigint, bigint, ...bigint[]];
  const sub = (n: bigint): number[] => {
    const out = [Number(n & 0x7fn)];
    for (let v = n >> 7n; v > 0n; v >>= 7n) out.unshift(Number(v & 0x7fn) | 0x80);
    return out;
  };
  return tlv(0x06, [a * 40n + b, ...rest].flatMap(sub));
}
const seq = (...p: Buffer[]): Buffer => tlv(0x30, ...p);
const set = (...p: Buffer[]): Buffer => tlv(0x31, ...p);
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s));
const ia5 = (s: string): Buffer => tlv(0x16, Buffer.from(s));
const atv = (type: string, value: Buffer): Buffer => seq(oid(type), value);
const rdnName = (...rdns: Buffer[][]): Buffer => seq(...rdns.map((atvs) => set(...atvs)));
const ext = (id: string, critical: boolean, value: Buffer): Buffer => seq(oid(id), ...(critical ? [tlv(0x01, [0xff])] : []), tlv(0x04, value));
const CN = '2.5.4.3';
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const EC_SPKI = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
const time = (tag: number, s: string): Buffer => tlv(tag, Buffer.from(s));

interface Synth {
  version?: number | null; // the [0] INTEGER; null leaves it out (v1)
  serial?: Buffer;
  innerAlg?: Buffer;
  outerAlg?: Buffer;
  subject?: Buffer;
  validity?: Buffer;
  spki?: Buffer;
  uids?: Buffer[];
  extensions?: Buffer[];
  extensionsRaw?: Buffer; // the whole [3] content
}

/** A certificate with a dummy signature: parseCertificate does not check signatures. */
function synth(o: Synth = {}): Buffer {
  const version = o.version === undefined ? 2 : o.version;
  const exts = o.extensionsRaw ?? (o.extensions ? seq(...o.extensions) : undefined);
  const tbs = seq(
    ...(version === null ? [] : [tlv(0xa0, tlv(0x02, [version]))]),
    o.serial ?? tlv(0x02, [0x01]),
    o.innerAlg ?? ECDSA_SHA256,
    rdnName([atv(CN, utf8('issuer'))]),
    o.validity ?? seq(time(0x17, '250101000000Z'), time(0x17, '260101000000Z')),
    o.subject ?? rdnName([atv(CN, utf8('subject'))]),
    o.spki ?? EC_SPKI,
    ...(o.uids ?? []),
    ...(exts ? [tlv(0xa3, exts)] : []),
  );
  return seq(tbs, o.outerAlg ?? o.innerAlg ?? ECDSA_SHA256, tlv(0x03, [0x00, 0x30, 0x00]));
}

const sanExt = (...names: Buffer[]): Buffer => ext('2.5.29.17', false, seq(...names));

test('a synthetic certificate parses, and node:crypto reads it the same way', () => {
  const der = synth({ extensions: [sanExt(tlv(0x82, Buffer.from('syn.example')))] });
  const cert = parseCertificate(der);
  const node = new X509Certificate(der);
  assert.equal(cert.subject, nodeNameToRfc4514(node.subject));
  assert.equal(cert.notBefore.toISOString(), '2025-01-01T00:00:00.000Z');
  assert.equal(cert.notAfter.getTime(), new Date(node.validTo).getTime());
  assert.deepEqual(cert.san, [{ type: 'dns', value: 'syn.example' }]);
  assert.equal(node.subjectAltName, 'DNS:syn.example');
});

test('a SAN that is not a SEQUENCE is reported as expected / got / where, with the extension OID', () => {
  const bad = ext('2.5.29.17', false, tlv(0x04, Buffer.from('x')));
  const der = synth({ extensions: [bad] });
  const at = der.indexOf(Buffer.from([0x04, 0x01, 0x78])); // the inner OCTET STRING
  throwsCert(() => parseCertificate(der), new RegExp(`^certificate: extension 2\\.5\\.29\\.17: expected SEQUENCE of GeneralName, got tag 0x04 \\(OCTET STRING\\) at byte ${at}$`));
});

test('duplicate extensions are rejected (RFC 5280 §4.2)', () => {
  const eku = ext('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1')));
  throwsCert(() => parseCertificate(synth({ extensions: [eku, eku] })), /^certificate: extension 2\.5\.29\.37: expected each extension at most once \(RFC 5280 §4\.2\), got a second one at byte \d+$/);
});

test('critical extensions outside the handled list are reported; handled or non-critical ones are not', () => {
  const cert = parseCertificate(
    synth({
      extensions: [
        ext('1.2.3.4', true, tlv(0x05)),
        ext('1.2.3.5', false, tlv(0x05)),
        ext('2.5.29.32', true, seq(seq(oid('2.5.29.32.0')))), // certificatePolicies: handled
        ext('2.5.29.14', true, tlv(0x04, [1, 2])), // SKI must not be critical; it counts as unhandled
      ],
    }),
  );
  assert.deepEqual(cert.unhandledCriticalExtensions, ['1.2.3.4', '2.5.29.14']);
  assert.deepEqual(cert.subjectKeyId, Buffer.from([1, 2]));
});

test('every GeneralName form is read; the ones without a SanEntry type become other', () => {
  const upn = tlv(0xa0, oid('1.3.6.1.4.1.311.20.2.3'), tlv(0xa0, utf8('u@corp')));
  const srv = tlv(0xa0, oid('1.3.6.1.5.5.7.8.7'), tlv(0xa0, ia5('_imaps.example.com')));
  const dirName = tlv(0xa4, rdnName([atv(CN, utf8('dir'))]));
  const cert = parseCertificate(
    synth({ extensions: [sanExt(upn, srv, dirName, tlv(0x88, oid('1.2.3.4').subarray(2)), tlv(0x87, Buffer.from('20010db8000000000000000000000001', 'hex')), tlv(0x82, Buffer.from('bücher.example', 'utf8')))] }),
  );
  assert.deepEqual(cert.san, [
    { type: 'other', form: 'otherName', oid: '1.3.6.1.4.1.311.20.2.3' },
    { type: 'srv', value: '_imaps.example.com' },
    { type: 'other', form: 'directoryName', oid: '' },
    { type: 'other', form: 'registeredID', oid: '1.2.3.4' },
    { type: 'ip', bytes: Buffer.from('20010db8000000000000000000000001', 'hex'), value: '2001:db8::1' },
    // A non-ASCII dNSName is kept (as latin1) for the matcher to ignore (RFC 9525 §6.3), not fatal here.
    { type: 'dns', value: Buffer.from('bücher.example', 'utf8').toString('latin1') },
  ]);
});

test('malformed GeneralNames are rejected: bad IP length, SRVName not IA5String, empty SAN, unknown tag', () => {
  throwsCert(() => parseCertificate(synth({ extensions: [sanExt(tlv(0x87, [1, 2, 3, 4, 5]))] })), /extension 2\.5\.29\.17: expected an iPAddress of 4 or 16 bytes, got 5 bytes at byte \d+/);
  const utf8Srv = tlv(0xa0, oid('1.3.6.1.5.5.7.8.7'), tlv(0xa0, utf8('_x.example')));
  throwsCert(() => parseCertificate(synth({ extensions: [sanExt(utf8Srv)] })), /expected SRVName IA5String, got tag 0x0c \(UTF8String\)/);
  throwsCert(() => parseCertificate(synth({ extensions: [sanExt()] })), /extension 2\.5\.29\.17: expected at least one GeneralName, got an empty SEQUENCE/);
  throwsCert(() => parseCertificate(synth({ extensions: [sanExt(tlv(0x8a, [1]))] })), /expected a GeneralName \(\[0\]\.\.\[8\]\), got tag 0x8a \(\[10\]\)/);
  throwsCert(() => parseCertificate(synth({ extensions: [ext('2.5.29.17', false, Buffer.concat([seq(tlv(0x82, [0x61])), Buffer.from([0])]))] })), /expected end of extension 2\.5\.29\.17, got trailing/);
});

test('version rules: v1 has no extensions, no version above v3, extensions only in v3 (RFC 5280 §4.1.2.1, §4.1.2.9)', () => {
  const v1 = parseCertificate(synth({ version: null }));
  assert.equal(v1.version, 1);
  assert.deepEqual(v1.san, []);
  assert.equal(v1.basicConstraints, undefined);
  throwsCert(() => parseCertificate(synth({ version: null, extensions: [sanExt(tlv(0x82, [0x61]))] })), /expected no extensions in a v1 certificate, got extensions \[3\]/);
  throwsCert(() => parseCertificate(synth({ version: 1, extensions: [sanExt(tlv(0x82, [0x61]))] })), /no extensions in a v2 certificate/);
  throwsCert(() => parseCertificate(synth({ version: 3 })), /expected version v1, v2 or v3 \(0\.\.2\), got 3/);
  throwsCert(() => parseCertificate(synth({ version: null, uids: [tlv(0x81, [0x00, 0x01])] })), /no uniqueIdentifier in a v1 certificate/);
  assert.equal(parseCertificate(synth({ version: 1, uids: [tlv(0x81, [0x00, 0x01])] })).version, 2);
  throwsCert(() => parseCertificate(synth({ extensionsRaw: seq() })), /expected at least one Extension, got an empty SEQUENCE/);
});

test('the outer signatureAlgorithm must equal the one in TBSCertificate (RFC 5280 §4.1.1.2)', () => {
  throwsCert(() => parseCertificate(synth({ outerAlg: seq(oid('1.2.840.10045.4.3.3')) })), /^certificate: signatureAlgorithm: expected the same AlgorithmIdentifier as TBSCertificate\.signature/);
});

test('signature hashes: a table of OIDs, PSS defaulting to SHA-1, unknown ones', () => {
  const hashOf = (alg: Buffer): string => parseCertificate(synth({ innerAlg: alg })).signatureHash;
  assert.equal(hashOf(seq(oid('1.2.840.113549.1.1.5'), tlv(0x05))), 'sha1');
  assert.equal(hashOf(seq(oid('1.2.840.113549.1.1.4'), tlv(0x05))), 'md5');
  assert.equal(hashOf(seq(oid('1.2.840.10045.4.3.4'))), 'sha512');
  assert.equal(hashOf(seq(oid('1.3.101.113'))), 'intrinsic');
  assert.equal(hashOf(seq(oid('1.2.3.4'))), 'unknown');
  assert.equal(hashOf(seq(oid('1.2.840.113549.1.1.10'), seq())), 'sha1'); // RFC 4055 §3.1 default
  assert.equal(hashOf(seq(oid('1.2.840.113549.1.1.10'), seq(tlv(0xa0, seq(oid('2.16.840.1.101.3.4.2.3'), tlv(0x05)))))), 'sha512');
});

test('key sizes: RSA counts modulus bits, EC follows the named curve, unknown keys give 0', () => {
  const rsa1025 = generateKeyPairSync('rsa', { modulusLength: 1025 }).publicKey.export({ type: 'spki', format: 'der' });
  assert.equal(parseCertificate(synth({ spki: rsa1025 })).keyBits, 1025);
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'der' });
  const c384 = parseCertificate(synth({ spki: p384 }));
  assert.deepEqual([c384.keyType, c384.keyBits, c384.curveOid], ['ec', 384, '1.3.132.0.34']);
  const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey.export({ type: 'spki', format: 'der' });
  assert.equal(parseCertificate(synth({ spki: p521 })).keyBits, 521);
  const ed448 = generateKeyPairSync('ed448').publicKey.export({ type: 'spki', format: 'der' });
  assert.equal(parseCertificate(synth({ spki: ed448 })).keyType, 'ed448');
  const other = seq(seq(oid('1.2.3.4')), tlv(0x03, [0, 1, 2]));
  assert.deepEqual([parseCertificate(synth({ spki: other })).keyType, parseCertificate(synth({ spki: other })).keyBits], ['other', 0]);
  const negativeModulus = seq(seq(oid('1.2.840.113549.1.1.1'), tlv(0x05)), tlv(0x03, [0], seq(tlv(0x02, [0x80]), tlv(0x02, [3]))));
  throwsCert(() => parseCertificate(synth({ spki: negativeModulus })), /^certificate: subjectPublicKeyInfo: expected a positive INTEGER, got zero or a negative one/);
});

test('extension values: basicConstraints defaults, keyUsage bits 0..8, AKI without keyIdentifier, name constraints', () => {
  const cert = parseCertificate(
    synth({
      extensions: [
        ext('2.5.29.19', false, seq()),
        ext('2.5.29.15', true, tlv(0x03, [0x07, 0x80, 0x80])), // digitalSignature + decipherOnly
        ext('2.5.29.35', false, seq(tlv(0xa1, tlv(0xa4, rdnName([atv(CN, utf8('ca'))]))), tlv(0x82, [0x05]))),
        ext('2.5.29.30', true, seq(tlv(0xa0, seq(tlv(0x80, tlv(0x82, Buffer.from('example.com'))))))),
      ],
    }),
  );
  assert.deepEqual(cert.basicConstraints, { ca: false, critical: false });
  assert.ok(!('pathLen' in (cert.basicConstraints ?? {})));
  assert.deepEqual([...(cert.keyUsage ?? [])].sort(), ['decipherOnly', 'digitalSignature']);
  assert.equal(cert.authorityKeyId, undefined);
  assert.equal(cert.hasNameConstraints, true);
  assert.deepEqual(cert.unhandledCriticalExtensions, []);
  const keyUsage = parseCertificate(synth({ extensions: [ext('2.5.29.15', true, tlv(0x03, [0x05, 0xa0]))] })).keyUsage;
  assert.deepEqual([...(keyUsage ?? [])], ['digitalSignature', 'keyEncipherment']);
});

test('serialHex drops only the DER sign byte', () => {
  assert.equal(parseCertificate(synth({ serial: tlv(0x02, [0x00, 0x80, 0x01]) })).serialHex, '8001');
  assert.equal(parseCertificate(synth({ serial: tlv(0x02, [0x0f, 0x00]) })).serialHex, '0f00');
  throwsCert(() => parseCertificate(synth({ serial: tlv(0x02, [0x00, 0x01]) })), /^certificate: TBSCertificate: expected a minimal INTEGER/);
});

test('validity: UTCTime 49 is 2049 and 50 is 1950; a bad time names the field', () => {
  const cert = parseCertificate(synth({ validity: seq(time(0x17, '500101000000Z'), time(0x17, '491231235959Z')) }));
  assert.equal(cert.notBefore.toISOString(), '1950-01-01T00:00:00.000Z');
  assert.equal(cert.notAfter.toISOString(), '2049-12-31T23:59:59.000Z');
  throwsCert(() => parseCertificate(synth({ validity: seq(time(0x17, '5001010000Z'), time(0x17, '491231235959Z')) })), /^certificate: validity: expected UTCTime YYMMDDHHMMSSZ, got '5001010000Z'/);
});

test('RFC 4514 display: escaping, unknown types as #hex, BMP and Teletex strings, every CN collected', () => {
  const subject = rdnName(
    [atv('2.5.4.6', tlv(0x13, Buffer.from('US')))],
    [atv('2.5.4.10', utf8('#1 "quoted", a+b; <x> \\ '))],
    [atv('1.2.3.4', utf8('abc'))],
    [atv('0.9.2342.19200300.100.1.25', ia5('example'))],
    [atv(CN, tlv(0x1e, Buffer.from('00620000006d0070', 'hex')))], // BMPString 'b\0mp'
    [atv(CN, tlv(0x14, Buffer.from([0x74, 0xe9, 0x6c])))], // TeletexString 'tél' as latin1
    [atv(CN, tlv(0x04, [1]))], // CN that is not a string: #hex, and not a common name
  );
  const cert = parseCertificate(synth({ subject }));
  assert.equal(cert.subject, 'CN=#040101,CN=tél,CN=b\\00mp,DC=example,1.2.3.4=#0c03616263,O=\\#1 \\"quoted\\"\\, a\\+b\\; \\<x\\> \\\\\\ ,C=US');
  assert.deepEqual(cert.subjectCommonNames, ['b\0mp', 'tél']);
  assert.equal(oidNames.get('2.5.4.3'), 'CN');
  assert.equal(oidNames.get('1.2.840.113549.1.9.1'), 'emailAddress');
  throwsCert(() => parseCertificate(synth({ subject: rdnName([atv(CN, tlv(0x0c, [0xff]))]) })), /^certificate: subject: expected UTF8String, got invalid UTF-8/);
  throwsCert(() => parseCertificate(synth({ subject: rdnName([]) })), /^certificate: subject: expected at least one AttributeTypeAndValue, got an empty SET/);
});

// ---- PEM -----------------------------------------------------------------------------------

test('one PEM block from openssl decodes to the same DER as openssl -outform DER', () => {
  const { pem, der } = ecCert();
  const blocks = pemBlocks(pem);
  assert.equal(blocks.length, 1);
  assert.equal(blocks[0]!.label, 'CERTIFICATE');
  assert.deepEqual(blocks[0]!.der, der);
});

test('two PEM blocks with text between them, CRLF line ends and indentation', () => {
  const text = ['Created by tack.py 0.9.7', ecCert().pem, 'some words -- in between', rsaCert().pem.replace(/^/gm, '    ')].join('\n').replace(/\n/g, '\r\n');
  const blocks = pemBlocks(text);
  assert.deepEqual(blocks.map((b) => b.label), ['CERTIFICATE', 'CERTIFICATE']);
  assert.deepEqual(blocks[0]!.der, ecCert().der);
  assert.deepEqual(blocks[1]!.der, rsaCert().der);
});

test('a CERTIFICATE block among other labels keeps its label and order', () => {
  const blocks = pemBlocks(ecCert().keyPem + ecCert().pem + '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n');
  assert.deepEqual(blocks.map((b) => b.label), ['PRIVATE KEY', 'CERTIFICATE', 'X509 CRL']);
  const certs = blocks.filter((b) => b.label === 'CERTIFICATE');
  assert.equal(parseCertificate(certs[0]!.der).subject, ecCert().cert.subject);
  assert.deepEqual(pemBlocks('no blocks here\n'), []);
});

test('garbage PEM is rejected with the line number: bad base64, missing END, mismatched label, stray END', () => {
  const lines = ecCert().pem.split('\n');
  const broken = [...lines];
  broken[2] = broken[2]!.slice(0, 4) + '!' + broken[2]!.slice(5);
  throwsCert(() => pemBlocks(broken.join('\n')), /^pem line 3: expected base64, got '!' at column 5$/);
  throwsCert(() => pemBlocks(lines.slice(0, -2).join('\n')), /^pem line \d+: expected -----END CERTIFICATE----- for the block opened on line 1, got end of text$/);
  const mismatched = ecCert().pem.replace('-----END CERTIFICATE-----', '-----END PRIVATE KEY-----');
  throwsCert(() => pemBlocks(mismatched), new RegExp(`^pem line ${lines.length - 1}: expected -----END CERTIFICATE----- for the block opened on line 1, got '-----END PRIVATE KEY-----'$`));
  throwsCert(() => pemBlocks('text\n-----END CERTIFICATE-----\n'), /^pem line 2: expected -----BEGIN \.\.\.----- first, got '-----END CERTIFICATE-----' outside a block$/);
  throwsCert(() => pemBlocks('-----BEGIN A-----\n-----BEGIN B-----\n'), /^pem line 2: expected -----END A----- for the block opened on line 1, got '-----BEGIN B-----'$/);
  throwsCert(() => pemBlocks('-----BEGIN A-----\nAA==\nAAAA\n-----END A-----\n'), /^pem line 3: expected -----END A----- after base64 padding, got more text$/);
  throwsCert(() => pemBlocks('-----BEGIN A-----\nAAA\n-----END A-----\n'), /^pem line 3: expected base64 whose length is a multiple of 4, got 3 characters/);
  throwsCert(() => pemBlocks('-----BEGIN A-----\n-----END A-----\n'), /^pem line 2: expected base64 data in the block opened on line 1, got an empty block$/);
  throwsCert(() => pemBlocks('-----BEGIN  A-----\n'), /^pem line 1: expected an encapsulation boundary like -----BEGIN LABEL-----/);
  throwsCert(() => pemBlocks('-----BEGIN A-----\nA===\n-----END A-----\n'), /^pem line 2: expected base64 with at most two '=' at the end/);
});
