// commands/daemon.ts: `tlsify daemon`: one long-lived process serving many `connect`s over a
// unix socket (protocol/daemon.md). Options, limits, the status registry, and shutdown.
import type net from 'node:net';
import { TlsifyError, asTlsifyError } from '../codes.ts';
import { logLevels, type LogLevel } from '../config/flags.ts';
import { fit } from '../control/channel.ts';
import { createLog, type Log } from '../log.ts';
import { AnchorCache, ContextCache, RamSessionCache } from '../daemon/cache.ts';
import { serveConn, type Conn, type Prepared } from '../daemon/conn.ts';
import type { ConnectRequest, RequestRules } from '../daemon/request.ts';
import { userEnv } from '../env.ts';
import { parseStoreSpec, type StoreSpec } from '../pinstore/location.ts';
import { openPinStore } from '../pinstore/store.ts';
import { checkSecretSpec } from '../secret.ts';
import { loadIdentities, type ClientIdentity, type IdentitySpecs } from '../tls/identity.ts';
import { listen, systemdFd } from '../daemon/listen.ts';

export const daemonHelp = `tlsify daemon: serve many TLS client connections over one unix socket.

Usage:
  tlsify daemon --listen PATH [options]
  (or under systemd socket activation: the socket from LISTEN_FDS, no --listen)

Each client connects to PATH, reads a hello line, writes one request line
  connect HOST:PORT [options]   connect's options that are safe for a socket peer, and
                                --identity NAME, --hold, --resume ram, --send-fd
  status ID                     how connection ID ended (its end line)
  control ID                    connection ID's later events; send it close, abort, hpkp
reads the same event lines as 'tlsify connect' writes on fd 3, then a line 'data', then the
socket carries plaintext. See protocol/daemon.md.

Options:
  --listen PATH             the unix socket; its directory must be the caller's and not
                            group/world-writable; created mode 0600
  --listen-mode MODE        widen the socket's mode, octal (e.g. 0660 for a group)
  --max-conns N             connections at once, waiting requests included (default 256)
  --request-timeout SEC     a client must send its request line within SEC (default 10)
  --idle-exit SEC           exit after SEC with no connection (default: never)
  --exit-with-parent        exit when stdin reaches EOF (the parent closed its end)
  --identity NAME=CERT,KEY  a client identity requests use by name (--identity NAME); the
  --identity NAME=p12:FILE  key stays in the daemon; repeat NAME for one key per type
  --identity-pass NAME=SPEC the passphrase of NAME's key or PKCS#12: env:VAR, fd:N, file:PATH
  --pin-store SPEC          the pin store requests read (default: the user's; PATH, @NAME, none)
  --pin-writes              requests may write it: --tofu, and the hpkp commands
  --log-level LEVEL         fatal|error|warn|info|debug|trace|silent (default warn)

SIGTERM/SIGINT: stop accepting, abort every connection (code=aborted), exit 0.
`;

export interface DaemonConfig {
  readonly listen: string | undefined;
  readonly mode: number;
  readonly maxConns: number;
  readonly requestTimeoutMs: number;
  readonly idleExitMs: number | undefined;
  readonly exitWithParent: boolean;
  readonly logLevel: LogLevel;
  /** --identity NAME=...: the files of each name, with its --identity-pass. */
  readonly identities: ReadonlyMap<string, IdentitySpecs>;
  readonly pinStore: StoreSpec;
  readonly pinWrites: boolean;
}

function usage(message: string): TlsifyError {
  return new TlsifyError('usage', message);
}

const valued = ['listen', 'listen-mode', 'max-conns', 'request-timeout', 'idle-exit', 'log-level', 'pin-store'] as const;
const repeated = ['identity', 'identity-pass'] as const;
const switches = ['exit-with-parent', 'pin-writes'] as const;

/** `--identity NAME=CERT,KEY` or `NAME=p12:FILE`, with `--identity-pass NAME=SPEC`: the specs per name. */
function identitySpecs(given: readonly string[], passes: readonly string[]): Map<string, IdentitySpecs> {
  const split = (flag: string, text: string): [string, string] => {
    const m = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63})=(.+)$/s.exec(text);
    if (!m) throw usage(`${flag}: expected NAME=... with NAME of letters, digits, '.', '_' or '-', got '${text.slice(0, 64)}'`);
    return [m[1]!, m[2]!];
  };
  const specs = new Map<string, { certs: string[]; keys: string[]; pkcs12: string[]; passes: string[] }>();
  for (const text of given) {
    const [name, files] = split('--identity', text);
    const s = specs.get(name) ?? { certs: [], keys: [], pkcs12: [], passes: [] };
    specs.set(name, s);
    if (files.startsWith('p12:')) {
      s.pkcs12.push(files.slice(4));
      continue;
    }
    const parts = files.split(',');
    if (parts.length !== 2 || parts.some((p) => p === '')) throw usage(`--identity ${name}: expected CERT,KEY (two files) or p12:FILE, got '${files}'`);
    s.certs.push(parts[0]!);
    s.keys.push(parts[1]!);
  }
  for (const text of passes) {
    const [name, spec] = split('--identity-pass', text);
    const s = specs.get(name);
    if (!s) throw usage(`--identity-pass ${name}: expected the NAME of an --identity, got one that is not given`);
    if (s.passes.length > 0) throw usage(`--identity-pass ${name} given twice; expected one per identity name`);
    checkSecretSpec(spec, '--identity-pass');
    s.passes.push(spec);
  }
  return new Map([...specs].map(([name, s]) => [name, Object.freeze(s)]));
}

/** The daemon's own argv (after `daemon`); `help` when --help is given. */
export function parseDaemonArgs(argv: readonly string[]): DaemonConfig | 'help' {
  const v = new Map<string, string>();
  const lists = new Map<string, string[]>(repeated.map((name) => [name, []]));
  const on = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return 'help';
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    const name = m?.[1];
    if (m && m[2] === undefined && (switches as readonly string[]).includes(name!)) {
      on.add(name!);
      continue;
    }
    if (!m || ![...valued, ...repeated].includes(name as never)) throw usage(`daemon: unknown option or argument '${arg}' (see 'tlsify daemon --help')`);
    const value = m[2] ?? argv[++i];
    if (value === undefined || value === '') throw usage(`--${name}: expected a value, got nothing`);
    if (lists.has(name!)) {
      lists.get(name!)!.push(value);
      continue;
    }
    if (v.has(name!)) throw usage(`--${name} given twice; expected it once`);
    v.set(name!, value);
  }
  const count = (name: string, fallback: number, max: number): number => {
    const text = v.get(name);
    if (text === undefined) return fallback;
    if (!/^\d{1,9}$/.test(text) || Number(text) < 1 || Number(text) > max) throw usage(`--${name}: expected a whole number from 1 to ${max}, got '${text}'`);
    return Number(text);
  };
  const seconds = (name: string): number | undefined => {
    const text = v.get(name);
    if (text === undefined) return undefined;
    if (!/^\d+(\.\d+)?$/.test(text) || Number(text) <= 0 || Number(text) > 86400) throw usage(`--${name}: expected seconds above 0 and at most 86400, got '${text}'`);
    return Math.ceil(Number(text) * 1000);
  };
  const modeText = v.get('listen-mode') ?? '0600';
  if (!/^0?[0-7]{3}$/.test(modeText)) throw usage(`--listen-mode: expected an octal mode like 0600 or 0660, got '${modeText}'`);
  const mode = parseInt(modeText, 8);
  if ((mode & 0o600) !== 0o600) throw usage(`--listen-mode: expected the owner to keep read and write (0600 at least), got '${modeText}'`);
  const level = v.get('log-level') ?? 'warn';
  if (!(logLevels as readonly string[]).includes(level)) throw usage(`--log-level: expected one of ${logLevels.join('|')}, got '${level}'`);
  return Object.freeze({
    listen: v.get('listen'),
    mode,
    maxConns: count('max-conns', 256, 100000),
    requestTimeoutMs: seconds('request-timeout') ?? 10_000,
    idleExitMs: seconds('idle-exit'),
    exitWithParent: on.has('exit-with-parent'),
    logLevel: level as LogLevel,
    identities: identitySpecs(lists.get('identity')!, lists.get('identity-pass')!),
    pinStore: v.has('pin-store') ? parseStoreSpec(v.get('pin-store')!) : ({ kind: 'default' } as const),
    pinWrites: on.has('pin-writes'),
  });
}

/** End lines of finished connections, for `status ID` (protocol/daemon.md §4); the last 4096 kept. */
class StatusRegistry {
  private readonly ends = new Map<number, string>();
  private readonly waiting = new Map<number, ((line: string) => void)[]>();

  wait(id: number, live: boolean): Promise<string> {
    const known = this.ends.get(id);
    if (known !== undefined) return Promise.resolve(known);
    if (!live) return Promise.resolve(fit('end', { code: 'usage', exit: 2, message: `status: no connection ${id} is open or remembered` }));
    return new Promise((resolve) => this.waiting.set(id, [...(this.waiting.get(id) ?? []), resolve]));
  }

  record(id: number, line: string): void {
    this.ends.set(id, line);
    if (this.ends.size > 4096) this.ends.delete(this.ends.keys().next().value!);
    for (const resolve of this.waiting.get(id) ?? []) resolve(line);
    this.waiting.delete(id);
  }
}

/** Every named identity, loaded and checked now: a wrong passphrase stops the start (exit 3), not a request. */
function loadNamed(cfg: DaemonConfig, openFds: ReadonlySet<number> | undefined, reservedFds: ReadonlyMap<number, string>): Map<string, readonly ClientIdentity[]> {
  const named = new Map<string, readonly ClientIdentity[]>();
  for (const [name, specs] of cfg.identities) {
    try {
      named.set(name, Object.freeze(loadIdentities(specs, userEnv, { openFds, reservedFds, now: new Date() })));
    } catch (err) {
      const e = asTlsifyError(err);
      throw new TlsifyError(e.code === 'usage' ? 'usage' : 'config', `--identity ${name}: ${e.message}`, { cause: err });
    }
  }
  return named;
}

export async function runDaemon(cfg: DaemonConfig, log: Log = createLog(cfg.logLevel), openFds?: ReadonlySet<number>): Promise<number> {
  if (cfg.pinWrites && cfg.pinStore.kind === 'none') throw usage('--pin-writes lets requests write the pin store, but --pin-store is none');
  // First, before any other TLS context (identities make some): Node's root store (cache.ts).
  const contexts = new ContextCache(userEnv);
  const activated = cfg.listen === undefined ? systemdFd(process.env, process.pid) : undefined;
  const named = loadNamed(cfg, openFds, new Map(activated === undefined ? [] : [[activated, 'the listening socket (LISTEN_FDS)']]));
  // Opened once; reads are cached while the file is unchanged (a write replaces it).
  const pinStore = openPinStore(cfg.pinStore, userEnv, { cacheReads: true });
  pinStore.read(); // a broken store stops the start, not every request
  const rules: RequestRules = Object.freeze({ identities: new Set(named.keys()), pinWrites: cfg.pinWrites });
  const listening = await listen(cfg.listen, cfg.mode, activated);
  const anchors = new AnchorCache();
  const ram = new RamSessionCache();
  const prepare = (r: ConnectRequest): Prepared => ({
    // The daemon's own store stands for the request's default, in the session binding too.
    config: r.config.pinStore.kind === 'default' ? Object.freeze({ ...r.config, pinStore: cfg.pinStore }) : r.config,
    io: {
      loadPolicy: anchors.load,
      secureContext: contexts.get,
      sessionCache: r.ramResume ? ram : undefined,
      pinStore: r.config.pinStore.kind === 'default' ? pinStore : undefined,
      identities: r.identity === undefined ? [] : named.get(r.identity),
    },
  });
  const registry = new StatusRegistry();
  const conns = new Map<number, Conn>();
  let nextId = 1;
  let stopping = false;
  let idleTimer: NodeJS.Timeout | undefined;
  let settle!: (status: number) => void;
  const result = new Promise<number>((resolve) => (settle = resolve));

  const idle = (): void => {
    if (cfg.idleExitMs === undefined || conns.size > 0 || stopping) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => shutdown('--idle-exit'), cfg.idleExitMs);
  };

  const shutdown = (why: string): void => {
    if (stopping) return;
    stopping = true;
    clearTimeout(idleTimer);
    log.warn({ why, open: conns.size }, 'daemon stopping: no new connections; aborting the open ones');
    listening.server.close();
    listening.cleanup();
    for (const conn of conns.values()) conn.abort(why);
    const done = (): void => settle(0);
    if (conns.size === 0) return done();
    // Each connection flushes its end line for at most 2 s (connect.ts); never wait longer.
    setTimeout(done, 2500).unref();
    check = () => conns.size === 0 && done();
  };
  let check = (): void => {};

  listening.server.on('connection', (sock: net.Socket) => {
    const id = nextId++;
    clearTimeout(idleTimer);
    if (stopping || conns.size >= cfg.maxConns) {
      // Over the limit: one line, then close; the open connections are not touched.
      sock.on('error', () => {});
      const why = stopping ? 'the daemon is stopping' : `the daemon is at --max-conns ${cfg.maxConns}`;
      sock.end(fit('end', { code: 'aborted', exit: 13, reason: stopping ? 'stopping' : 'max-conns', message: why }));
      log.warn({ conn: id, max: cfg.maxConns }, why);
      return;
    }
    const conn = serveConn(sock, {
      id,
      log,
      requestTimeoutMs: cfg.requestTimeoutMs,
      rules,
      prepare,
      status: (other) => registry.wait(other, conns.has(other)),
      attach: (other, sock) => conns.get(other)?.attach(sock) ?? 'gone',
      ended: (line) => {
        conns.delete(id);
        registry.record(id, line);
        idle();
        check();
      },
    });
    conns.set(id, conn);
  });
  listening.server.on('error', (err) => log.error({ err: err.message }, 'listening socket failed'));

  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => shutdown(signal));
  if (cfg.exitWithParent) {
    process.stdin.on('data', () => {});
    process.stdin.on('end', () => shutdown('the parent closing stdin (--exit-with-parent)'));
    process.stdin.on('error', () => shutdown('the parent closing stdin (--exit-with-parent)'));
  }
  log.info({ listen: listening.where, maxConns: cfg.maxConns }, 'daemon listening');
  // Readiness, for a parent waiting on it: one line on stdout, then stdout is closed.
  process.stdout.write(`listening ${listening.where}\n`);
  idle();
  return result;
}
