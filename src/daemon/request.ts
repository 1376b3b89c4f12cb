// daemon/request.ts: one request line of the daemon socket (protocol/daemon.md §3) -> a frozen
// ConnectConfig, or a usage error. Pure. Only options that are safe for a socket peer pass.
import { TlsifyError } from '../codes.ts';
import { parseArgs, type ConnectConfig } from '../config.ts';
import { unescapeValue } from '../control/frame.ts';

export interface ConnectRequest {
  readonly kind: 'connect';
  readonly config: ConnectConfig;
  /** --resume ram: the daemon's RAM session cache. */
  readonly ramResume: boolean;
  /** --identity NAME: one of the daemon's named client identities. */
  readonly identity: string | undefined;
  /** --send-fd: the client hands over its connected socket (SCM_RIGHTS) instead of a dial. */
  readonly sendFd: boolean;
}

export type Request =
  | ConnectRequest
  | { readonly kind: 'status'; readonly id: number }
  | { readonly kind: 'control'; readonly id: number };

/** What the daemon was started with that decides what a request may ask for. */
export interface RequestRules {
  /** The names of the daemon's --identity NAME=... options. */
  readonly identities: ReadonlySet<string>;
  /** The daemon's --pin-writes: requests may use --tofu (the hpkp commands are checked in conn.ts). */
  readonly pinWrites: boolean;
}

export const noRules: RequestRules = Object.freeze({ identities: new Set<string>(), pinWrites: false });

/**
 * Options a socket peer may choose (protocol/daemon.md §3.2). Everything else names a file or an
 * fd of the daemon's user, or needs the daemon's own command line: refused.
 */
export const SAFE_OPTIONS = [
  'servername', 'alpn', 'min-tls', 'connect-timeout', 'handshake-timeout',
  'pin', 'pin-only', 'pin-report-only', 'tlsa', 'srv-id', 'uri-id', 'ocsp',
  'ca-set', 'pin-store', 'resume', 'close-on-eof', 'hold', 'hold-timeout', 'identity', 'tofu', 'send-fd',
] as const;

/** --ca-set forms that read no path the peer chose; @NAME stays inside the daemon user's ca-sets directory. */
const SAFE_CA_SETS = new Set(['system', 'bundled', 'system-no-local', 'none', 'named']);

function usage(message: string): TlsifyError {
  return new TlsifyError('usage', message);
}

/** A daemon-only option's value: `--opt=V` or `--opt V`. */
function valueOf(token: string, args: readonly string[], i: number): { value: string | undefined; next: number } {
  const eq = token.indexOf('=');
  return eq >= 0 ? { value: token.slice(eq + 1), next: i } : { value: args[i + 1], next: i + 1 };
}

function idOf(verb: string, args: readonly string[]): number {
  if (args.length !== 1 || !/^[1-9]\d{0,14}$/.test(args[0]!)) throw usage(`${verb}: expected one connection id (the conn field of hello), got '${args.join(' ')}'`);
  return Number(args[0]);
}

/** `connect HOST:PORT [OPTION [VALUE]]...`, `status ID` or `control ID`; `text` is the line without its LF. */
export function parseRequest(text: string, rules: RequestRules = noRules): Request {
  const body = text.endsWith('\r') ? text.slice(0, -1) : text;
  if (body === '') throw usage('request: expected `connect HOST:PORT [options]`, `status ID` or `control ID`, got an empty line');
  const tokens = body.split(' ').map((raw, i) => {
    const t = unescapeValue(raw);
    if (t === undefined) throw usage(`request token ${i + 1}: expected %XX escapes with two hex digits, got '${raw.slice(0, 64)}'`);
    if (t === '') throw usage(`request token ${i + 1}: expected a token, got nothing (tokens are separated by single spaces)`);
    return t;
  });
  const [verb, ...args] = tokens;
  if (verb === 'status' || verb === 'control') return { kind: verb, id: idOf(verb, args) };
  if (verb !== 'connect') throw usage(`request: expected connect, status or control, got '${verb!.slice(0, 64)}'`);

  let ramResume = false;
  let identity: string | undefined;
  let sendFd = false;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const t = args[i]!;
    if (!t.startsWith('-')) {
      rest.push(t);
      continue;
    }
    const name = t.replace(/^--?/, '').split('=')[0]!;
    if (!(SAFE_OPTIONS as readonly string[]).includes(name)) {
      throw usage(`option '${t.split('=')[0]}' is not allowed over the daemon socket: expected one of --${SAFE_OPTIONS.join(', --')} (options that name files or fds are for the daemon's own command line)`);
    }
    // The daemon's own forms: they change what the connection uses, not what connect parses.
    if (name === 'resume' || name === 'identity') {
      const { value, next } = valueOf(t, args, i);
      i = next;
      if (name === 'resume') {
        if (value === 'ram') ramResume = true;
        else if (value !== 'off') throw usage(`--resume: over the daemon socket expected ram or off, got '${value ?? ''}'`);
      } else {
        if (identity !== undefined) throw usage('--identity given twice; expected one name');
        if (value === undefined || !rules.identities.has(value)) {
          const known = [...rules.identities].join(', ');
          throw usage(`--identity: expected one of the daemon's identities (${known || 'it has none: start it with --identity NAME=CERT,KEY'}), got '${value ?? ''}'`);
        }
        identity = value;
      }
      continue;
    }
    if (name === 'send-fd') {
      if (t.includes('=')) throw usage(`--send-fd takes no value, got '${t}'`);
      sendFd = true;
      continue;
    }
    if (name === 'tofu' && !rules.pinWrites) {
      throw usage("--tofu writes the daemon's pin store, which this daemon does not allow: start it with --pin-writes");
    }
    rest.push(t);
  }
  // No fds are open for a request: --net-fd and --control-fd cannot even be named. With
  // --send-fd, connect parses as with --net-fd (the port is optional); the fd comes later.
  // --hold's accept and reject come in-band (§3.3).
  const command = parseArgs(['connect', ...rest, ...(sendFd ? ['--net-fd', '3'] : [])], { openFds: new Set(sendFd ? [3] : []), controlInBand: true });
  if (command.kind !== 'connect') throw usage('request: expected connect HOST:PORT [options]');
  let cfg = command.config;
  for (const set of cfg.policy.caSets) {
    if (!SAFE_CA_SETS.has(set.kind)) throw usage(`--ca-set: over the daemon socket expected system|bundled|system-no-local|none|@NAME, got a ${set.kind}: path`);
  }
  if (cfg.pinStore.kind !== 'default' && cfg.pinStore.kind !== 'none') throw usage("--pin-store: over the daemon socket only none is allowed (the default is the daemon's own store)");
  // Until conn.ts puts the received descriptor here, an fd that fstat refuses: never one of ours.
  if (sendFd) cfg = Object.freeze({ ...cfg, netFd: -1, controlFd: undefined });
  return { kind: 'connect', config: cfg, ramResume, identity, sendFd };
}

/**
 * parseRequest, remembered for the last REQUESTS_KEPT distinct lines of each daemon's rules: the
 * answer depends on the text and the rules alone (parseArgs reads no file, clock or environment
 * for connect), and a client that opens many connections sends the same line each time
 * (~0.14 ms of yargs-parser saved each). Lines that fail are not kept.
 */
const REQUESTS_KEPT = 64;
const recent = new WeakMap<RequestRules, Map<string, Request>>();

export function parseRequestCached(text: string, rules: RequestRules): Request {
  let lines = recent.get(rules);
  if (!lines) recent.set(rules, (lines = new Map()));
  const known = lines.get(text);
  if (known) return known;
  const request = Object.freeze(parseRequest(text, rules));
  lines.set(text, request);
  if (lines.size > REQUESTS_KEPT) lines.delete(lines.keys().next().value!);
  return request;
}
