// test/unit/frame.test.ts: the control line format (protocol/control.md §2): escaping round
// trips, strict parsing of parent lines, and a line splitter whose memory stays bounded.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeValue, formatLine, LineSplitter, parseLine, unescapeValue } from '../../src/control/frame.ts';

test('escaping: %, space, control bytes and DEL become %XX; UTF-8 stays', () => {
  assert.equal(escapeValue('CN=a b%c\n\x7f'), 'CN=a%20b%25c%0A%7F');
  assert.equal(escapeValue('Zürich=ok'), 'Zürich=ok');
  assert.equal(formatLine('cert', { depth: 0, subject: 'O=A B', ok: true, skip: undefined }), 'cert depth=0 subject=O=A%20B ok=yes\n');
});

test('escaping round-trips for arbitrary strings (property, 2000 cases)', () => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 2000; i++) {
    const s = Array.from({ length: Math.floor(rand() * 20) }, () => String.fromCodePoint(Math.floor(rand() * 0x3000))).join('');
    const wellFormed = Buffer.from(s, 'utf8').toString('utf8');
    const escaped = escapeValue(wellFormed);
    assert.doesNotMatch(escaped, /[ \n\r\t\x00-\x1f\x7f]/);
    assert.equal(unescapeValue(escaped), wellFormed);
  }
});

test('parseLine: names, fields, and what is refused', () => {
  const ok = parseLine('close reason=done%20now');
  assert.ok(ok.ok);
  assert.equal(ok.ok && ok.line.name, 'close');
  assert.equal(ok.ok && ok.line.fields.get('reason'), 'done now');
  assert.ok(parseLine('abort\r').ok, 'a trailing CR is tolerated');
  for (const [line, reason] of [
    ['', /empty line/],
    ['Close', /command name/],
    ['close  x=1', /field 1: expected key=value, got ''/],
    ['close x', /expected key=value, got 'x'/],
    ['close x=%G1', /%XX escapes/],
    ['close x=1 x=2', /given twice/],
  ] as const) {
    const r = parseLine(line);
    assert.equal(r.ok, false, line);
    assert.match(!r.ok ? r.reason : '', reason);
  }
});

test('LineSplitter: lines across chunks, over-long lines reported once and skipped', () => {
  const lines: string[] = [];
  const tooLong: number[] = [];
  const s = new LineSplitter(16, (l) => lines.push(l), (n) => tooLong.push(n));
  s.push(Buffer.from('ab'));
  s.push(Buffer.from('c\nde'));
  s.push(Buffer.from('f\n' + 'x'.repeat(40)));
  s.push(Buffer.from('y'.repeat(1000)));
  s.push(Buffer.from('\nlast'));
  s.end();
  assert.deepEqual(lines, ['abc', 'def', 'last']);
  assert.deepEqual(tooLong, [1041]);
});

test('fit: an event line never exceeds 64 KiB: der dropped first, then long values cut', async () => {
  const { fit } = await import('../../src/control/channel.ts');
  const big = fit('cert', { depth: 0, der: 'A'.repeat(70000) });
  assert.equal(big, 'cert depth=0 der-omitted=too-long\n');
  const long = fit('end', { code: 'name-mismatch', message: 'dns:x.example, '.repeat(6000) });
  assert.ok(Buffer.byteLength(long) <= 65536, `${Buffer.byteLength(long)} bytes`);
  assert.match(long, /^end code=name-mismatch message=dns:x\.example,%20.* truncated=yes\n$/);
});
