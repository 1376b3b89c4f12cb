// test/bench/daemon-idle.ts: the issue-9 idle row: N connections held open through a daemon,
// each past `data`, and the daemon's RSS and fds before, at half, with all held, and after.
import type net from 'node:net';
import { idleViaDaemon, type Daemon } from './daemon.ts';
import { fdCount, fdLimit, vmRssKiB } from './proc.ts';

export interface IdleResult {
  readonly wanted: number;
  readonly held: number;
  readonly server: string;
  readonly openMs: number;
  readonly rssBeforeKiB: number;
  /** With the first half held: the second half's growth is the marginal cost, one-time costs excluded. */
  readonly rssHalfKiB: number;
  readonly rssAfterKiB: number;
  /** After every held connection was closed and the daemon's fds were back. */
  readonly rssClosedKiB: number;
  readonly fdsBefore: number;
  readonly fdsAfter: number;
  /** Max open files (soft/hard) of the daemon, this process and the server. */
  readonly limits: { readonly daemon: string; readonly harness: string; readonly server: string };
  readonly failure: string | undefined;
}

/** The idle row when it could not run. */
export function idleFailed(n: number, failure: string, server = '-', limits: IdleResult['limits'] = { daemon: '?', harness: fdLimit('self'), server: '?' }): IdleResult {
  return { wanted: n, held: 0, server, openMs: 0, rssBeforeKiB: 0, rssHalfKiB: 0, rssAfterKiB: 0, rssClosedKiB: 0, fdsBefore: 0, fdsAfter: 0, limits, failure };
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/**
 * Open `n` connections through the daemon to a server that sends nothing until asked (`opening`
 * at a time), in two halves; after each, wait until every one is past `data`, let the daemon
 * settle 1 s and read its RSS (and fds at the end); then close them all and wait for its fds.
 */
export async function holdIdle(daemon: Daemon, port: number, server: { readonly label: string; readonly pid: number }, n: number, opening = 32): Promise<IdleResult> {
  const line = daemon.requestLine(port);
  const limits = { daemon: fdLimit(daemon.pid), harness: fdLimit('self'), server: fdLimit(server.pid) };
  // Each held connection is 2 fds in the daemon (client and peer) and 1 here and in the server.
  const soft = Math.min(...[limits.daemon, limits.harness, limits.server].map((l) => Number(l.split('/')[0]) || Infinity));
  if (soft < 2 * n + 64) {
    return idleFailed(n, `Max open files ${soft} is too low for ${n} connections (the daemon needs 2 per connection, plus its own): raise ulimit -n`, server.label, limits);
  }
  // Warm-up: the first connections load the CA set and compile the code paths; not per connection.
  const fdsIdle = fdCount(daemon.pid);
  const warm = await Promise.all(Array.from({ length: opening }, () => idleViaDaemon(daemon.socket, line)));
  for (const sock of warm) sock.destroy();
  for (let waited = 0; waited < 10_000 && fdCount(daemon.pid) > fdsIdle; waited += 100) await sleep(100);
  await sleep(1000);
  const rssBeforeKiB = vmRssKiB(daemon.pid);
  const fdsBefore = fdCount(daemon.pid);
  const held: net.Socket[] = [];
  let failure: string | undefined;
  let next = 0;
  let upTo = 0;
  let openMs = 0;
  const worker = async (): Promise<void> => {
    while (next < upTo && failure === undefined) {
      next++;
      try {
        const sock = await idleViaDaemon(daemon.socket, line);
        sock.on('close', () => (failure ??= `a held connection closed (${held.length} open at the time)`));
        held.push(sock);
      } catch (err) {
        failure ??= `connection ${next}: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
  };
  const open = async (to: number): Promise<void> => {
    upTo = to;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: opening }, worker));
    openMs += performance.now() - t0;
    await sleep(1000);
  };
  await open(n >> 1);
  const rssHalfKiB = vmRssKiB(daemon.pid);
  await open(n);
  const rssAfterKiB = vmRssKiB(daemon.pid);
  const fdsAfter = fdCount(daemon.pid);
  const stillOpen = held.filter((s) => !s.destroyed).length;
  for (const sock of held) sock.removeAllListeners('close').destroy();
  for (let waited = 0; waited < 10_000 && fdCount(daemon.pid) > fdsBefore; waited += 100) await sleep(100);
  await sleep(1000);
  return {
    wanted: n,
    held: stillOpen,
    server: server.label,
    openMs,
    rssBeforeKiB,
    rssHalfKiB,
    rssAfterKiB,
    rssClosedKiB: vmRssKiB(daemon.pid),
    fdsBefore,
    fdsAfter,
    limits,
    failure,
  };
}
