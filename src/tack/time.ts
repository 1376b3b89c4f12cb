// tack/time.ts: TACK times (draft-perrin-tls-tack-00 §4.2.1: minutes since 1970-01-01T00:00Z, leap
// seconds not counted) and tackpy 0.9.7's text forms (Time.py): `YYYY-MM-DDTHH:MMZ` for display,
// and the -e argument: a UTC ISO 8601 prefix ending in Z, or a delta like 30d, 1d12h5m, 0m.
// Pure: "now" is always passed in.
import { TackError } from './error.ts';

export const MAX_MINUTES = 0xffffffff; // the uint32 expiration field
const MINUTE_MS = 60_000;

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `YYYY-MM-DDTHH:MMZ` (tackpy posixTimeToStr(minutes * 60)). */
export function minutesToText(minutes: number): string {
  const d = new Date(minutes * MINUTE_MS);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}Z`;
}

/** `YYYY-MM-DDTHH:MM:SSZ` (tackpy posixTimeToStr(seconds, True)). */
export function secondsToText(seconds: number): string {
  const d = new Date(seconds * 1000);
  return `${minutesToText(Math.floor(seconds / 60)).slice(0, -1)}:${pad(d.getUTCSeconds())}Z`;
}

/** A time rounded up to the next whole minute (tackpy: ceil(seconds / 60)). */
export function ceilMinutes(t: Date): number {
  return Math.ceil(t.getTime() / MINUTE_MS);
}

export function minutesToDate(minutes: number): Date {
  return new Date(minutes * MINUTE_MS);
}

// tackpy Time.parseDurationArg: days, hours, minutes in that order, each optional, letters in
// either case, at least one part. tackpy hands each number to Python int(), which would also take
// signs, blanks and '_'; only plain digits are accepted here.
const DURATION = /^(?:(\d{1,10})d)?(?:(\d{1,10})h)?(?:(\d{1,10})m)?$/i;

/** Minutes in a delta like `30d`, `1d12h5m`, `0m`; undefined when the text is not a delta. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m || text === '') return undefined;
  const [, d = '0', h = '0', min = '0'] = m;
  return Number(d) * 1440 + Number(h) * 60 + Number(min);
}

// tackpy Time.parseTimeArg's strptime patterns, longest first: %Y-%m-%dT%H:%MZ, %Y-%m-%dT%HZ,
// %Y-%m-%dZ, %Y-%mZ, %YZ. strptime takes one- or two-digit fields and either letter case.
const ISO_PREFIX = /^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2})(?:T(\d{1,2})(?::(\d{1,2}))?)?)?)?Z$/i;

export const EXPIRATION_FORMS = 'a UTC time like 2013-01-02T03:04Z, 2013-01-02T03Z, 2013-01-02Z, 2013-01Z or 2013Z, or a delta from now like 5m, 30d or 1d12h5m';

/**
 * The -e argument in minutes since the epoch. A delta counts from `now` rounded up to the minute,
 * as tackpy does. Throws a TackError naming the accepted forms.
 */
export function parseExpiration(text: string, now: Date): number {
  const delta = parseDuration(text);
  const minutes = delta !== undefined ? ceilMinutes(now) + delta : parseIsoPrefix(text);
  if (minutes > MAX_MINUTES) throw new TackError(`expected a time before ${minutesToText(MAX_MINUTES + 1)}, got '${text}'`);
  return minutes;
}

function parseIsoPrefix(text: string): number {
  const m = ISO_PREFIX.exec(text);
  if (!m) throw new TackError(`expected ${EXPIRATION_FORMS}, got '${text}'`);
  const [year = 0, month = 1, day = 1, hour = 0, minute = 0] = m.slice(1).map((v) => (v === undefined ? undefined : Number(v)));
  // Checked before Date.UTC, which would read years 0 to 99 as 1900 to 1999.
  if (year < 1970) throw new TackError(`expected a time from 1970 on (TACK times count from the epoch), got '${text}'`);
  const ms = Date.UTC(year, month - 1, day, hour, minute);
  const d = new Date(ms);
  // strptime rejects what Date.UTC would roll over (2013-02-30, hour 24, minute 60).
  if (month < 1 || month > 12 || d.getUTCDate() !== day || d.getUTCMonth() !== month - 1 || hour > 23 || minute > 59) {
    throw new TackError(`expected a real date and time, got '${text}'`);
  }
  return ms / MINUTE_MS;
}
