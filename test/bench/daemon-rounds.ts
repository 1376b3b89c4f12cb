// test/bench/daemon-rounds.ts: the issue-9 connection-rate loop. Each round runs every row once
// as a batch of N connections (1 or 16 in flight), in an order rotated from round to round, with
// the CPU of the daemon, this process, its reaped children and the server read before and after
// each batch. The rows: s_client spawned per connection, the Node loop (the floor), the daemon.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { runOnce } from './children.ts';
import { viaDaemon, viaNode, type ConnTiming, type Daemon } from './daemon.ts';
import type { BenchPki } from './pki.ts';
import { cpuMs } from './proc.ts';
import type { RowResult } from './report.ts';
import { REQUEST, sClientRow, type Row, type Tools } from './rows.ts';

/** A connection-rate row: `one` makes one whole connection (connect, verify, request, reply, close). */
export interface ConnRow {
  readonly id: string;
  readonly label: string;
  readonly server: string; // which server it talks to, as the table says it
  readonly serverPid: number;
  readonly inFlight: number;
  readonly note?: string;
  readonly skipped?: string;
  /** The daemon's CPU counts against this row. */
  readonly daemon?: Daemon;
  readonly one: () => Promise<ConnTiming>;
}

/** CPU over all measured batches, ms: this process, its reaped children (s_client), the daemon, the server. */
export interface CpuTotals {
  conns: number;
  harness: number;
  children: number;
  daemon: number;
  server: number;
}

export interface ConnRowResult extends RowResult {
  readonly server: string;
  readonly inFlight: number;
  /** Every measured connection's time to its first plaintext byte (s_client: spawn to exit). */
  readonly firstMs: number[];
  readonly cpu: CpuTotals;
  readonly usesDaemon: boolean;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A spawned row (s_client) as one connection: spawn to exit, its first byte not observable. */
export function spawnedConn(row: Row, scratch: string): () => Promise<ConnTiming> {
  return async () => {
    const r = await runOnce({ cmd: row.cmd, args: row.args, env: row.env, input: REQUEST, timeoutMs: 15_000, scratch });
    const bad = row.check(r);
    if (bad) throw new Error(bad);
    return { firstMs: r.ms, ms: r.ms };
  };
}

export interface ServerRef {
  readonly label: string;
  readonly pid: number;
  readonly port: number;
}

/**
 * The connection-rate rows: s_client spawned per connection, the Node loop (the floor) and the
 * daemon, 1 in flight against the per-spawn server; the daemon and the Node loop `inFlight` at
 * a time against node:tls (s_server -WWW serves one connection at a time).
 */
export function daemonRows(daemon: Daemon, tools: Tools, pki: BenchPki, spawnServer: ServerRef, nodeServer: ServerRef, inFlight: number, scratch: string): ConnRow[] {
  const ca = readFileSync(pki.caFile);
  const secureContext = tls.createSecureContext({ ca });
  const through = (s: ServerRef): Buffer => Buffer.from(daemon.requestLine(s.port) + REQUEST);
  const onSpawn = { server: spawnServer.label, serverPid: spawnServer.pid };
  const onNode = { server: nodeServer.label, serverPid: nodeServer.pid };
  const toSpawn = through(spawnServer);
  const toNode = through(nodeServer);
  const rows: ConnRow[] = [
    tools.openssl
      ? { id: 's_client', label: '`openssl s_client`, spawned per connection', inFlight: 1, ...onSpawn, one: spawnedConn(sClientRow(tools.openssl, pki, spawnServer.port), scratch) }
      : { id: 's_client', label: '`openssl s_client`, spawned per connection', inFlight: 1, ...onSpawn, skipped: 'n/a (openssl not installed)', one: () => Promise.reject(new Error('skipped')) },
    { id: 'floor-ca', label: 'Node loop, `ca` per connect (the floor)', inFlight: 1, ...onSpawn, one: () => viaNode(spawnServer.port, { ca }, REQUEST) },
    { id: 'floor-ctx', label: 'Node loop, one SecureContext', inFlight: 1, ...onSpawn, one: () => viaNode(spawnServer.port, { secureContext }, REQUEST) },
    { id: 'daemon-1', label: 'tlsify daemon', inFlight: 1, ...onSpawn, daemon, one: () => viaDaemon(daemon.socket, toSpawn) },
  ];
  if (spawnServer.pid !== nodeServer.pid) {
    rows.push({ id: 'daemon-1-node', label: 'tlsify daemon', inFlight: 1, ...onNode, daemon, one: () => viaDaemon(daemon.socket, toNode) });
  }
  rows.push(
    { id: 'daemon-many', label: 'tlsify daemon', inFlight, ...onNode, daemon, one: () => viaDaemon(daemon.socket, toNode) },
    { id: 'floor-many', label: 'Node loop, `ca` per connect', inFlight, ...onNode, one: () => viaNode(nodeServer.port, { ca }, REQUEST) },
  );
  return rows;
}

const GIVE_UP_AFTER = 3;

export interface ConnPlan {
  readonly rounds: number;
  readonly warmup: number;
  readonly conns: number; // per batch
}

export async function connRounds(rows: readonly ConnRow[], plan: ConnPlan, progress?: (line: string) => void): Promise<ConnRowResult[]> {
  const results: Mutable<ConnRowResult>[] = rows.map((r) => ({
    id: r.id,
    label: r.label,
    samples: [],
    rssKiB: [],
    serverCpu: [],
    failures: [],
    skipped: r.skipped,
    note: r.note,
    server: r.server,
    inFlight: r.inFlight,
    firstMs: [],
    cpu: { conns: 0, harness: 0, children: 0, daemon: 0, server: 0 },
    usesDaemon: r.daemon !== undefined,
  }));
  const streak = new Map<ConnRow, number>();
  const total = plan.warmup + plan.rounds;
  for (let round = 0; round < total; round++) {
    progress?.(`daemon: connection-rate round ${round + 1}/${total}${round < plan.warmup ? ' (warm-up)' : ''}`);
    const live = rows.filter((_, i) => !results[i]!.skipped);
    const k = live.length ? round % live.length : 0;
    for (const row of [...live.slice(k), ...live.slice(0, k)]) {
      const res = results[rows.indexOf(row)]!;
      const b = await batch(row, plan.conns);
      if (round < plan.warmup) continue;
      const i = round - plan.warmup;
      if (b.failure) {
        res.samples[i] = undefined;
        res.failures.push(b.failure);
        const n = (streak.get(row) ?? 0) + 1;
        streak.set(row, n);
        if (n >= GIVE_UP_AFTER) res.skipped = `failed ${n} rounds in a row: ${b.failure}`;
        continue;
      }
      streak.set(row, 0);
      res.samples[i] = (plan.conns / b.ms) * 1000;
      res.firstMs.push(...b.firstMs);
      for (const key of ['harness', 'children', 'daemon', 'server'] as const) res.cpu[key] += b.cpu[key];
      res.cpu.conns += plan.conns;
    }
  }
  return results;
}

interface Batch {
  readonly ms: number;
  readonly firstMs: number[];
  readonly cpu: Omit<CpuTotals, 'conns'>;
  readonly failure: string | undefined;
}

/** `n` connections, `row.inFlight` at a time; the loop does no logging and no allocation beyond the times. */
async function batch(row: ConnRow, n: number): Promise<Batch> {
  const firstMs: number[] = [];
  let failure: string | undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n && failure === undefined) {
      next++;
      try {
        firstMs.push((await row.one()).firstMs);
      } catch (err) {
        failure ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  const self0 = process.cpuUsage();
  const stat0 = cpuMs('self');
  const daemon0 = row.daemon ? cpuMs(row.daemon.pid).own : 0;
  const server0 = cpuMs(row.serverPid).own;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: row.inFlight }, worker));
  const ms = performance.now() - t0;
  const self = process.cpuUsage(self0);
  const cpu = {
    harness: (self.user + self.system) / 1000,
    children: cpuMs('self').children - stat0.children,
    daemon: row.daemon ? cpuMs(row.daemon.pid).own - daemon0 : 0,
    server: cpuMs(row.serverPid).own - server0,
  };
  return { ms, firstMs, cpu, failure };
}
