// commands/pins.ts: `tlsify pins list|add|remove|import|export`: read and edit a pin store
// (protocol/pin-store.md). Parses its own argv strictly: an unknown flag is a usage error.
import fs from 'node:fs';
import { isIP } from 'node:net';
import { TlsifyError } from '../codes.ts';
import { StoreFormatError, formatEntry, parseStore, parseTarget, serializeStore, VERSION_LINE } from '../pinstore/format.ts';
import { describe, entriesOf, entryKey, formatTarget, newEntry, removeWhere, upsert, upsertAll, type PinEntry, type StoreDoc } from '../pinstore/doc.ts';
import { parseStoreSpec, type StoreSpec } from '../pinstore/location.ts';
import { isActive, isLive, normalizeHost } from '../pinstore/policy.ts';
import { openPinStore } from '../pinstore/store.ts';
import { parsePins } from '../trust/pins.ts';
import type { Pin } from '../trust/policy.ts';

export interface PinsIo {
  out(s: string): void;
  env: NodeJS.ProcessEnv;
  now: () => Date;
}

export const PINS_USAGE = `Usage:
  tlsify pins list [HOST[:PORT]]              the entries (that apply to HOST), one per line
  tlsify pins add HOST[:PORT] PIN...          add or replace the static pins of HOST
        [--expires TIME] [--include-subdomains] [--report-uri URI] [--report-only] [--service NAME]
  tlsify pins remove HOST[:PORT] [--source SOURCE]
  tlsify pins import FILE|-                   a store file, or lines of 'HOST[:PORT] PIN...'
  tlsify pins export                          the whole store, in the store format
Every command takes --pin-store PATH|@NAME|none (default: $XDG_STATE_HOME/tlsify/pins).
PIN: sha256/B64, sha256//B64 or pin-sha256="B64". TIME: 2027-01-31, 2027-01-31T12:00:00Z, or 90d, 12h, 30m.
The format: protocol/pin-store.md.
`;

const subcommands = ['list', 'add', 'remove', 'import', 'export'] as const;
type Sub = (typeof subcommands)[number];

/** Which flags each subcommand takes, and whether the flag takes a value. */
const FLAGS: Record<Sub, Record<string, boolean>> = {
  list: { 'pin-store': true },
  add: { 'pin-store': true, expires: true, 'include-subdomains': false, 'report-uri': true, 'report-only': false, service: true },
  remove: { 'pin-store': true, source: true },
  import: { 'pin-store': true },
  export: { 'pin-store': true },
};

function usage(message: string): TlsifyError {
  return new TlsifyError('usage', `pins ${message}`);
}

interface Parsed {
  readonly args: string[];
  readonly flags: Map<string, string | true>;
}

function parseArgv(sub: Sub, argv: readonly string[]): Parsed {
  const allowed = FLAGS[sub];
  const args: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a === '-') {
      args.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const takesValue = allowed[name];
    const known = Object.keys(allowed).map((f) => `--${f}`).join(', ');
    if (takesValue === undefined) throw usage(`${sub}: expected one of ${known}, got '${a}'`);
    if (flags.has(name)) throw usage(`${sub}: --${name} given twice; expected it once`);
    if (!takesValue) {
      if (eq >= 0) throw usage(`${sub}: --${name} takes no value, got '${a}'`);
      flags.set(name, true);
      continue;
    }
    const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') throw usage(`${sub}: --${name}: expected a value, got nothing`);
    flags.set(name, value);
  }
  return { args, flags };
}

export async function runPins(argv: string[], io: PinsIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    io.out(PINS_USAGE);
    return 0;
  }
  if (first === undefined) throw usage(`expected one of ${subcommands.join(', ')}, got nothing; try 'tlsify pins --help'`);
  if (!(subcommands as readonly string[]).includes(first)) throw usage(`expected one of ${subcommands.join(', ')}, got '${first}'`);
  const sub = first as Sub;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(PINS_USAGE);
    return 0;
  }
  const p = parseArgv(sub, rest);
  const specText = p.flags.get('pin-store');
  const spec: StoreSpec = typeof specText === 'string' ? parseStoreSpec(specText) : { kind: 'default' };
  const store = openPinStore(spec, io.env);
  const now = io.now();
  switch (sub) {
    case 'list':
      return list(store.read(), p, now, io);
    case 'export':
      if (p.args.length > 0) throw usage(`export: expected no arguments, got '${p.args.join(' ')}'`);
      io.out(serializeStore(store.read()));
      return 0;
    case 'add': {
      const entry = addEntry(p, now);
      let replaced = false;
      await store.update((doc) => {
        const old = entriesOf(doc).find((e) => entryKey(e) === entryKey(entry));
        replaced = old !== undefined;
        return upsert(doc, old ? { ...entry, firstSeen: old.firstSeen ?? entry.firstSeen, extra: old.extra } : entry);
      });
      io.out(`${replaced ? 'replaced' : 'added'} ${describe(entry)} pins=${entry.pins.length}\n`);
      return 0;
    }
    case 'remove': {
      const { host, port, source } = removeArgs(p);
      let removed = 0;
      await store.update((doc) => {
        const drop = (e: PinEntry) => e.host === host && (port === undefined || e.port === port) && (source === undefined || e.source === source);
        removed = entriesOf(doc).filter(drop).length;
        return removed > 0 ? removeWhere(doc, drop) : undefined;
      });
      io.out(`removed ${removed} ${removed === 1 ? 'entry' : 'entries'} for ${formatTarget(host, port)}\n`);
      return 0;
    }
    case 'import': {
      if (p.args.length !== 1) throw usage(`import: expected one FILE (or - for stdin), got ${p.args.length === 0 ? 'none' : `'${p.args.join(' ')}'`}`);
      const file = p.args[0]!;
      const entries = importEntries(readInput(file), file === '-' ? 'stdin' : file, now);
      await store.update((doc) => upsertAll(doc, entries, keepFirstSeen));
      io.out(`imported ${entries.length} ${entries.length === 1 ? 'entry' : 'entries'}\n`);
      return 0;
    }
  }
}

/** `pins list`: every entry (or those that apply to HOST) as its store line with a state= field. */
function list(doc: StoreDoc, p: Parsed, now: Date, io: PinsIo): number {
  if (p.args.length > 1) throw usage(`list: expected at most one HOST, got '${p.args.join(' ')}'`);
  let entries = entriesOf(doc);
  if (p.args.length === 1) {
    const { host, port } = target(p.args[0]!, 'list');
    entries = entries.filter((e) => (e.host === host || (e.includeSubDomains && isIP(host) === 0 && host.endsWith('.' + e.host))) && (port === undefined || e.port === undefined || e.port === port));
  }
  for (const e of entries) {
    const line = formatEntry(e);
    const sp = line.indexOf(' ');
    io.out(`${line.slice(0, sp)} state=${state(e, now)}${line.slice(sp)}\n`);
  }
  return 0;
}

/** expired; for TOFU and TACK pins active or inactive (§6); otherwise enforce or report-only. */
function state(e: PinEntry, now: Date): string {
  if (!isLive(e, now)) return 'expired';
  if (e.source === 'tofu' || e.source === 'tack') return isActive(e, now) ? 'active' : 'inactive';
  return e.mode;
}

function target(text: string, sub: string): { host: string; port: number | undefined } {
  const t = parseTarget(text, (msg) => {
    throw usage(`${sub}: ${msg}`);
  });
  return { host: normalizeHost(t.host), port: t.port };
}

function addEntry(p: Parsed, now: Date): PinEntry {
  const [hostText, ...pinTexts] = p.args;
  if (hostText === undefined) throw usage('add: expected HOST[:PORT] PIN..., got nothing');
  const { host, port } = target(hostText, 'add');
  if (pinTexts.length === 0) throw usage(`add: expected at least one PIN after ${hostText}, got none`);
  const pins = uniquePins(pinTexts.flatMap((t, i) => pinsOrUsage(t, `add: PIN ${i + 1}`)));
  const t = seconds(now);
  const expiresText = p.flags.get('expires');
  const expires = typeof expiresText === 'string' ? parseWhen(expiresText, t) : undefined;
  const reportUri = p.flags.get('report-uri');
  const service = p.flags.get('service');
  const entry = newEntry({ host, port, service: typeof service === 'string' ? service.toLowerCase() : undefined, source: 'static', pins }, t, {
    mode: p.flags.has('report-only') ? 'report-only' : 'enforce',
    includeSubDomains: p.flags.has('include-subdomains'),
    lastSeen: undefined,
    expires,
    reportUri: typeof reportUri === 'string' ? reportUri : undefined,
  });
  validate(entry, 'add');
  return entry;
}

/** Round-trip the entry through the store parser: the file's rules are the command's rules. */
function validate(entry: PinEntry, sub: string): void {
  try {
    parseStore(Buffer.from(`${VERSION_LINE}\n${formatEntry(entry)}\n`), 'argument');
  } catch (err) {
    if (err instanceof StoreFormatError) throw usage(`${sub}: ${err.message.replace(/^pin store argument line \d+: /, '')}`);
    throw err;
  }
}

function pinsOrUsage(text: string, where: string): Pin[] {
  try {
    return parsePins(text, where);
  } catch (err) {
    throw usage((err as Error).message);
  }
}

function uniquePins(pins: Pin[]): readonly Pin[] {
  return Object.freeze(pins.filter((p, i) => pins.findIndex((q) => q.text === p.text) === i));
}

function removeArgs(p: Parsed): { host: string; port: number | undefined; source: string | undefined } {
  if (p.args.length !== 1) throw usage(`remove: expected one HOST[:PORT], got ${p.args.length === 0 ? 'none' : `'${p.args.join(' ')}'`}`);
  const source = p.flags.get('source');
  return { ...target(p.args[0]!, 'remove'), source: typeof source === 'string' ? source : undefined };
}

/** --expires: an ISO 8601 date or UTC time, or a span from now (90d, 12h, 30m, 45s). */
function parseWhen(text: string, now: Date): Date {
  const span = /^(\d{1,6})([dhms])$/.exec(text);
  let d: Date | undefined;
  if (span) d = new Date(now.getTime() + Number(span[1]) * { d: 86400, h: 3600, m: 60, s: 1 }[span[2] as 'd' | 'h' | 'm' | 's'] * 1000);
  else if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2}))?$/.test(text) && !Number.isNaN(Date.parse(text))) d = seconds(new Date(text));
  if (!d) throw usage(`add: --expires: expected a date like 2027-01-31, a UTC time like 2027-01-31T12:00:00Z, or a span like 90d, got '${text}'`);
  if (d.getTime() <= now.getTime()) throw usage(`add: --expires: expected a time in the future, got '${text}'`);
  return d;
}

function seconds(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

function readInput(file: string): Buffer {
  try {
    return fs.readFileSync(file === '-' ? 0 : file);
  } catch (err) {
    throw new TlsifyError('config', `pins import: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** A store file (it starts with the version line), or lines of `HOST[:PORT] PIN...` with # comments. */
function importEntries(bytes: Buffer, name: string, now: Date): PinEntry[] {
  if (bytes.subarray(0, VERSION_LINE.length + 1).toString('latin1') === `${VERSION_LINE}\n`) {
    try {
      return entriesOf(parseStore(bytes, name));
    } catch (err) {
      if (err instanceof StoreFormatError) throw new TlsifyError('config', `pins import: ${err.message}`, { cause: err });
      throw err;
    }
  }
  const out = new Map<string, PinEntry>();
  const lines = bytes.toString('utf8').split('\n');
  lines.forEach((raw, i) => {
    const where = `pins import ${name} line ${i + 1}`;
    const text = raw.trim();
    if (text === '' || text.startsWith('#')) return;
    if (/[\x00-\x08\x0a-\x1f\x7f\ufffd]/.test(raw)) throw new TlsifyError('config', `${where}: expected UTF-8 text without control bytes`);
    const [hostText, ...pinTexts] = text.split(/[ \t]+/);
    const fail = (msg: string): never => {
      throw new TlsifyError('config', `${where}: ${msg}`);
    };
    const t = parseTarget(hostText!, fail);
    if (pinTexts.length === 0) fail(`expected HOST[:PORT] followed by pins, got no pin after '${hostText}'`);
    let pins: Pin[];
    try {
      pins = pinTexts.flatMap((p) => parsePins(p, where));
    } catch (err) {
      return fail((err as Error).message.replace(`${where}: `, ''));
    }
    const e: PinEntry = Object.freeze({ host: normalizeHost(t.host), port: t.port, service: undefined, source: 'static', pins: uniquePins(pins), mode: 'enforce' as const, includeSubDomains: false, firstSeen: seconds(now), lastSeen: undefined, activeUntil: undefined, expires: undefined, reportUri: undefined, tackId: undefined, minGeneration: undefined, extra: Object.freeze([]) });
    const prev = out.get(entryKey(e));
    out.set(entryKey(e), prev ? { ...e, pins: uniquePins([...prev.pins, ...e.pins]) } : e);
  });
  return [...out.values()];
}

/** An imported static entry keeps the first-seen of the entry it replaces. */
function keepFirstSeen(old: PinEntry, e: PinEntry): PinEntry {
  return old.firstSeen && e.source === 'static' ? Object.freeze({ ...e, firstSeen: old.firstSeen }) : e;
}
