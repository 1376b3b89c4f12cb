// tack-time.test.ts: TACK times and tackpy's -e forms (tests/Time_Test.py vectors, facts §1.9),
// the option parser (tackpy's getopt syntax) and --pass sources.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OptionError, getopt } from '../../src/tack/getopt.ts';
import { parsePassSpec } from '../../src/tack/password.ts';
import { ceilMinutes, minutesToText, parseDuration, parseExpiration, secondsToText } from '../../src/tack/time.ts';

const NOW = new Date('2013-05-06T07:08:09.500Z');
const NOW_CEIL = ceilMinutes(NOW); // 07:09

describe('times as tackpy writes them (Time_Test.test_posix)', () => {
  test('1234567890 s is 2009-02-13T23:31:30Z, and 2009-02-13T23:31Z in minutes', () => {
    assert.equal(secondsToText(1234567890), '2009-02-13T23:31:30Z');
    assert.equal(minutesToText(Math.floor(1234567890 / 60)), '2009-02-13T23:31Z');
  });

  test('the epoch and the last minute a TACK can hold', () => {
    assert.equal(minutesToText(0), '1970-01-01T00:00Z');
    assert.equal(minutesToText(0xffffffff), '10136-02-16T04:15Z');
  });

  test('ceilMinutes rounds up, and leaves whole minutes alone', () => {
    assert.equal(minutesToText(NOW_CEIL), '2013-05-06T07:09Z');
    assert.equal(ceilMinutes(new Date('2013-05-06T07:08:00Z')) * 60_000, Date.parse('2013-05-06T07:08:00Z'));
  });
});

describe('deltas (Time_Test.test_duration)', () => {
  const cases: [string, number][] = [
    ['0m', 0], ['59m', 59], ['1h', 60], ['1h1m', 61], ['23h59m', 1439], ['1d', 1440], ['1d1m', 1441],
    ['1d1h', 1500], ['1d1h1m', 1501], ['37d2h2m', 1440 * 37 + 122], ['1D12H5M', 2165], ['30d', 43200],
  ];
  for (const [text, minutes] of cases) test(`${text} is ${minutes} minutes`, () => assert.equal(parseDuration(text), minutes));

  test('anything else is not a delta', () => {
    for (const text of ['', 'd', '5', '5s', '1m1d', '1h1d', '-5m', ' 5m', '5m ', '1_0m', '1d1d']) assert.equal(parseDuration(text), undefined, text);
  });

  test('every d/h/m combination reads back (property)', () => {
    for (let i = 0; i < 500; i++) {
      const d = i % 7 === 0 ? undefined : (i * 7919) % 400;
      const h = i % 5 === 0 ? undefined : (i * 31) % 24;
      const m = i % 3 === 0 && (d !== undefined || h !== undefined) ? undefined : (i * 13) % 60;
      const text = `${d === undefined ? '' : `${d}d`}${h === undefined ? '' : `${h}h`}${m === undefined ? '' : `${m}m`}`;
      assert.equal(parseDuration(text), (d ?? 0) * 1440 + (h ?? 0) * 60 + (m ?? 0), text);
    }
  });
});

describe('-e EXPIRATION (Time_Test.test_string)', () => {
  const cases: [string, number][] = [
    ['2012-07-20T05:40Z', 1342762800], ['2012-07-20T05Z', 1342760400], ['2012-07-20Z', 1342742400], ['2012-07Z', 1341100800], ['2012Z', 1325376000],
  ];
  for (const [text, seconds] of cases) test(`${text} is ${seconds} s`, () => assert.equal(parseExpiration(text, NOW) * 60, seconds));

  test("strptime's leniency: one-digit fields and lower-case t and z", () => {
    assert.equal(parseExpiration('2013-1-2t3:4z', NOW), Date.UTC(2013, 0, 2, 3, 4) / 60_000);
  });

  test('a delta counts from now rounded up to the minute', () => {
    assert.equal(parseExpiration('0m', NOW), NOW_CEIL);
    assert.equal(parseExpiration('1d12h5m', NOW), NOW_CEIL + 2165);
  });

  test('refusals say which forms are accepted', () => {
    assert.throws(() => parseExpiration('2013-01-02', NOW), /expected a UTC time like 2013-01-02T03:04Z.* or a delta from now like 5m, 30d or 1d12h5m, got '2013-01-02'/);
    assert.throws(() => parseExpiration('2013-02-29Z', NOW), /expected a real date and time, got '2013-02-29Z'/);
    assert.throws(() => parseExpiration('2013-01-01T24Z', NOW), /real date and time/);
    assert.throws(() => parseExpiration('2013-13Z', NOW), /real date and time/);
    assert.throws(() => parseExpiration('1969-12-31T23:59Z', NOW), /from 1970 on/);
    assert.throws(() => parseExpiration('0099Z', NOW), /from 1970 on/);
    assert.throws(() => parseExpiration('9999999999d', NOW), /expected a time before 10136-02-16T04:16Z/);
  });
});

describe("getopt: tackpy's option syntax", () => {
  const spec = { values: 'kcopmgen', flags: 'vx', long: ['pass'] };

  test('separate and attached values, grouped flags, a flag before a value, --', () => {
    const r = getopt(['-k', '-', '-m2', '-vxg', '3', '--pass=env:P', '--', '-o'], spec);
    assert.deepEqual(Object.fromEntries(r.options), { '-k': '-', '-m': '2', '-v': '', '-x': '', '-g': '3', '--pass': 'env:P' });
    assert.deepEqual(r.operands, ['-o']);
    assert.deepEqual(Object.fromEntries(getopt(['--pass', 'fd:3'], spec).options), { '--pass': 'fd:3' });
  });

  test('a value may begin with a dash, as getopt allows', () => {
    assert.equal(getopt(['-p', '-secret-'], spec).options.get('-p'), '-secret-');
  });

  test('unknown, repeated and value-less options are errors', () => {
    assert.throws(() => getopt(['-z'], spec), new OptionError("expected one of the options -k -c -o -p -m -g -e -n -v -x --pass, got '-z'"));
    assert.throws(() => getopt(['--password=x'], spec), /got '--password'/);
    assert.throws(() => getopt(['-m', '1', '-m2'], spec), /expected -m once, got it twice/);
    assert.throws(() => getopt(['-k'], spec), /-k: expected a value, got the end of the arguments/);
    assert.throws(() => getopt(['--pass'], spec), /--pass: expected a value/);
  });
});

describe('--pass sources', () => {
  test('env:VAR, fd:N and file:PATH', () => {
    assert.deepEqual(parsePassSpec('env:TACK_PW'), { kind: 'env', name: 'TACK_PW' });
    assert.deepEqual(parsePassSpec('fd:3'), { kind: 'fd', fd: 3 });
    assert.deepEqual(parsePassSpec('file:/a:b'), { kind: 'file', path: '/a:b' });
  });

  test('anything else is a usage error naming the forms', () => {
    for (const bad of ['asdf', 'pass:asdf', 'env:', 'env:1X', 'fd:x', 'file:']) {
      assert.throws(() => parsePassSpec(bad), new OptionError(`--pass: expected env:VAR, fd:N or file:PATH, got '${bad}'`));
    }
  });
});
