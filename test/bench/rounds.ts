// test/bench/rounds.ts: the measuring loops. Every round runs each row once, in an order rotated
// from round to round, so drift of a shared machine falls on all rows alike and the per-round
// ratios of report.ts cancel it. Every run is checked; a row that keeps failing is dropped with
// its reason instead of stalling the run.
import { closeSync, openSync, writeSync } from 'node:fs';
import { runOnce, type RssMethod } from './children.ts';
import type { RowResult } from './report.ts';
import { REQUEST, type Direction, type Row } from './rows.ts';
import type { NodeServer } from './servers.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const MiB = 1 << 20;
/** Per-spawn runs that fail this many times in a row drop their row (e.g. each one times out). */
const GIVE_UP_AFTER = 3;

function emptyResults(rows: readonly Row[]): Mutable<RowResult>[] {
  return rows.map((r) => ({ id: r.id, label: r.label, samples: [], rssKiB: [], serverCpu: [], failures: [], skipped: r.skipped, note: r.note }));
}

function rotated<T>(xs: readonly T[], round: number): T[] {
  const k = xs.length ? round % xs.length : 0;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

export interface SpawnPlan {
  readonly rounds: number;
  readonly warmup: number;
  readonly rssRounds: number;
}

/** Per-spawn rows: the time from spawn to exit of one connect + request + reply. */
export async function spawnRounds(rows: readonly Row[], plan: SpawnPlan, scratch: string, rss: RssMethod, progress?: (line: string) => void): Promise<RowResult[]> {
  const results = emptyResults(rows);
  const resultOf = (row: Row): Mutable<RowResult> => results[rows.indexOf(row)]!;
  const active = (): Row[] => rows.filter((row) => !resultOf(row).skipped);
  const streak = new Map<Row, number>();
  const total = plan.warmup + plan.rounds;
  for (let round = 0; round < total; round++) {
    if (round % 10 === 0) progress?.(`per-spawn round ${round + 1}/${total}${round < plan.warmup ? ' (warm-up)' : ''}`);
    for (const row of rotated(active(), round)) {
      const r = await (row.exec ?? runOnce)({ cmd: row.cmd, args: row.args, env: row.env, control: row.control, input: REQUEST, timeoutMs: 15_000, scratch });
      const bad = row.check(r);
      const res = resultOf(row);
      if (round >= plan.warmup) res.samples[round - plan.warmup] = bad ? undefined : r.ms;
      if (!bad) {
        streak.set(row, 0);
        continue;
      }
      res.failures.push(bad);
      const n = (streak.get(row) ?? 0) + 1;
      streak.set(row, n);
      if (n >= GIVE_UP_AFTER) res.skipped = `failed ${n} times in a row: ${bad}`;
    }
  }
  // Peak RSS in runs of their own: GNU time's extra fork+exec stays out of the timings.
  for (let round = 0; round < plan.rssRounds; round++) {
    for (const row of rotated(active(), round)) {
      const r = await (row.exec ?? runOnce)({ cmd: row.cmd, args: row.args, env: row.env, control: row.control, input: REQUEST, timeoutMs: 15_000, scratch, rss });
      if (!row.check(r) && r.rssKiB) resultOf(row).rssKiB.push(r.rssKiB);
    }
  }
  return results;
}

export interface BulkPlan {
  readonly dir: Direction;
  readonly bytes: number;
  readonly file: string | undefined; // the upload's stdin
  readonly rounds: number;
  /** The verification pass: collect and count stdout instead of sending it to /dev/null. */
  readonly countStdout: boolean;
}

/** Bulk rows: MB/s of one transfer, the client's peak RSS, and the server's share of a core. */
export async function bulkRounds(rows: readonly Row[], plan: BulkPlan, server: NodeServer, scratch: string, rss: RssMethod): Promise<RowResult[]> {
  const results = emptyResults(rows);
  const resultOf = (row: Row): Mutable<RowResult> => results[rows.indexOf(row)]!;
  const devNull = openSync('/dev/null', 'w');
  const failedBefore = new Set<Row>();
  try {
    if (plan.dir === 'download') await server.setDownloadSize(plan.bytes);
    for (let round = 0; round < plan.rounds; round++) {
      for (const row of rotated(rows.filter((row) => !resultOf(row).skipped), round)) {
        const res = resultOf(row);
        const stdin = plan.file === undefined ? undefined : openSync(plan.file, 'r');
        server.forget();
        const r = await (row.exec ?? runOnce)({
          cmd: row.cmd,
          args: row.args,
          env: row.env,
          stdinFd: stdin,
          stdoutFd: plan.countStdout ? undefined : devNull,
          timeoutMs: Math.max(60_000, plan.bytes / 5e3), // as slow as 5 MB/s before giving up
          scratch,
          rss: plan.countStdout ? undefined : rss,
          sampleMs: 20,
        }).finally(() => stdin !== undefined && closeSync(stdin));
        const report = await server.nextBulk(5_000);
        const bad =
          row.check(r) ??
          (!report
            ? 'the server saw no transfer'
            : report.bytes !== plan.bytes
              ? `the server ${plan.dir === 'upload' ? 'received' : 'sent'} ${report.bytes} bytes, expected ${plan.bytes}`
              : plan.countStdout && plan.dir === 'download' && r.stdoutBytes !== plan.bytes
                ? `stdout carried ${r.stdoutBytes} bytes, expected ${plan.bytes}`
                : undefined);
        if (bad || !report) {
          res.failures.push(bad ?? '?');
          res.samples[round] = undefined;
          if (failedBefore.has(row) || plan.countStdout) res.skipped = `failed: ${bad}`;
          failedBefore.add(row);
          continue;
        }
        failedBefore.delete(row);
        // An upload is done when the server has every byte, not when the client has written it.
        const ms = plan.dir === 'upload' ? Math.max(r.ms, report.at - r.startedAt) : r.ms;
        res.samples[round] = plan.bytes / 1e6 / (ms / 1000);
        if (r.rssKiB) res.rssKiB.push(r.rssKiB);
        res.serverCpu.push((report.cpuMs / report.ms) * 100);
      }
    }
  } finally {
    closeSync(devNull);
  }
  return results;
}

/** A file of `bytes` for the upload's stdin (a repeated pattern: TLS cost does not depend on content). */
export function makeFile(path: string, bytes: number): void {
  const block = Buffer.alloc(MiB);
  for (let i = 0; i < MiB; i++) block[i] = (i * 40503) >>> 8;
  const fd = openSync(path, 'w');
  try {
    for (let left = bytes; left > 0; left -= MiB) writeSync(fd, block, 0, Math.min(MiB, left));
  } finally {
    closeSync(fd);
  }
}
