// daemon/request.ts: one request line of the daemon socket (protocol/daemon.md §3) -> a frozen
// ConnectConfig, or a usage error. Pure. Only options that are safe for a socket peer pass.
import { TlsifyError } from '../codes.ts';
import { parseArgs, type ConnectConfig } from '../config.ts';
import { unescapeValue } from '../control/frame.ts';

export type Request =
  | { readonly kind: 'connect'; readonly config: ConnectConfig; readonly ramResume: boolean }
  | { readonly kind: 'status'; readonly id: number };

/**
 * Options a socket peer may choose (protocol/daemon.md §3.2). Everything else names a file or an
 * fd of the daemon's user, writes the daemon's pin store, or needs a control channel: refused.
 */
export const SAFE_OPTIONS = [
  'servername', 'alpn', 'min-tls', 'connect-timeout', 'handshake-timeout',
  'pin', 'pin-only', 'pin-report-only', 'tlsa', 'srv-id', 'uri-id', 'ocsp',
  'ca-set', 'pin-store', 'resume', 'close-on-eof',
] as const;

/** --ca-set forms that read no path the peer chose; @NAME stays inside the daemon user's ca-sets directory. */
const SAFE_CA_SETS = new Set(['system', 'bundled', 'system-no-local', 'none', 'named']);

function usage(message: string): TlsifyError {
  return new TlsifyError('usage', message);
}

/** `connect HOST:PORT [OPTION [VALUE]]...` or `status ID`; `text` is the line without its LF. */
export function parseRequest(text: string): Request {
  const body = text.endsWith('\r') ? text.slice(0, -1) : text;
  if (body === '') throw usage('request: expected `connect HOST:PORT [options]` or `status ID`, got an empty line');
  const tokens = body.split(' ').map((raw, i) => {
    const t = unescapeValue(raw);
    if (t === undefined) throw usage(`request token ${i + 1}: expected %XX escapes with two hex digits, got '${raw.slice(0, 64)}'`);
    if (t === '') throw usage(`request token ${i + 1}: expected a token, got nothing (tokens are separated by single spaces)`);
    return t;
  });
  const [verb, ...args] = tokens;
  if (verb === 'status') {
    if (args.length !== 1 || !/^[1-9]\d{0,14}$/.test(args[0]!)) throw usage(`status: expected one connection id (the conn field of hello), got '${args.join(' ')}'`);
    return { kind: 'status', id: Number(args[0]) };
  }
  if (verb !== 'connect') throw usage(`request: expected connect or status, got '${verb!.slice(0, 64)}'`);

  let ramResume = false;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const t = args[i]!;
    if (!t.startsWith('-')) {
      rest.push(t);
      continue;
    }
    const name = t.replace(/^--?/, '').split('=')[0]!;
    if (!(SAFE_OPTIONS as readonly string[]).includes(name)) {
      throw usage(`option '${t.split('=')[0]}' is not allowed over the daemon socket: expected one of --${SAFE_OPTIONS.join(', --')} (options that name files or fds, or write the pin store, are for the daemon's own command line)`);
    }
    // --resume ram is the daemon's own mode: the shared RAM cache (protocol/daemon.md §5).
    if (name === 'resume') {
      const value = t.includes('=') ? t.slice(t.indexOf('=') + 1) : args[++i];
      if (value === 'ram') ramResume = true;
      else if (value !== 'off') throw usage(`--resume: over the daemon socket expected ram or off, got '${value ?? ''}'`);
      continue;
    }
    rest.push(t);
  }
  // No fds are open for a request: --net-fd and --control-fd cannot even be named.
  const command = parseArgs(['connect', ...rest], { openFds: new Set() });
  if (command.kind !== 'connect') throw usage('request: expected connect HOST:PORT [options]');
  const cfg = command.config;
  for (const set of cfg.policy.caSets) {
    if (!SAFE_CA_SETS.has(set.kind)) throw usage(`--ca-set: over the daemon socket expected system|bundled|system-no-local|none|@NAME, got a ${set.kind}: path`);
  }
  if (cfg.pinStore.kind !== 'default' && cfg.pinStore.kind !== 'none') throw usage('--pin-store: over the daemon socket only none is allowed (the default is the daemon\'s own store, read-only here)');
  return { kind: 'connect', config: cfg, ramResume };
}
