// test/bench/children.ts: every process the benchmark starts: run one child and time it from
// spawn to exit, measure its peak RSS, and kill whatever is left on any way out (normal end,
// error, SIGINT/SIGTERM/SIGHUP). Children get their own process group, so one kill also takes
// what they started (/usr/bin/time's child, a shell's child).
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

const live = new Set<ChildProcess>();
const exitHooks: (() => void)[] = [];

/** Keep `child` on the list that cleanup kills; it leaves the list when it exits. */
export function track<T extends ChildProcess>(child: T): T {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL'); // detached: the child leads its own group
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

export function killAll(): void {
  for (const child of live) killGroup(child);
  live.clear();
}

/** Run `hook` once on the way out, after the children are killed (e.g. remove the temp dir). */
export function onExit(hook: () => void): void {
  exitHooks.push(hook);
}

let installed = false;
/** Kill every child and run the exit hooks however the harness ends. Call once, first. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  const cleanup = (): void => {
    killAll();
    for (const hook of exitHooks.splice(0)) {
      try {
        hook();
      } catch {
        // best effort: the next hook still runs
      }
    }
  };
  process.on('exit', cleanup);
  const signals = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
  for (const [signal, status] of Object.entries(signals)) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping every server and child\n`);
      process.exit(status); // 'exit' runs cleanup
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: ${err.stack ?? String(err)}\n`);
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}

/** How peak RSS is taken: GNU time's ru_maxrss (exact), or VmHWM sampled from /proc. */
export type RssMethod = 'time' | 'proc';
export const TIME_BIN = '/usr/bin/time';

export function rssMethod(): RssMethod {
  return existsSync(TIME_BIN) ? 'time' : 'proc';
}

export interface RunSpec {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Written to stdin, which then stays open until the child exits (a peer's close ends it). */
  readonly input?: string;
  /** A file descriptor to use as stdin instead of a pipe. */
  readonly stdinFd?: number;
  /** A file descriptor for stdout (e.g. /dev/null); otherwise stdout is collected. */
  readonly stdoutFd?: number;
  /**
   * Pass fd 3 and drain it: 'socketpair' is what a Node parent's stdio 'pipe' gives (tlsify then
   * also reads commands from it); a FIFO path gives a real pipe, events only.
   */
  readonly control?: 'socketpair' | { readonly fifo: string };
  readonly timeoutMs: number;
  /** Also measure peak RSS (ru_maxrss via GNU time adds a fork+exec, so not in timed per-spawn runs). */
  readonly rss?: RssMethod;
  /** Scratch dir for GNU time's output file. */
  readonly scratch: string;
  /** How often to sample VmHWM when rss is 'proc' (default 1 ms). */
  readonly sampleMs?: number;
}

export interface RunResult {
  readonly startedAt: number; // performance.now() just before spawn
  readonly ms: number; // spawn to exit
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string; // the first 64 KiB
  readonly stdoutBytes: number;
  readonly stderr: string; // the first 8 KiB
  readonly control: string; // the first 64 KiB of fd 3
  readonly rssKiB: number | undefined;
  readonly error: string | undefined; // timeout or spawn failure
}

const KEEP_OUT = 64 * 1024;
const KEEP_ERR = 8 * 1024;
let runCounter = 0;

/** Spawn one child, time it to its exit, wait for its stdio to drain, and say how it ended. */
export function runOnce(spec: RunSpec): Promise<RunResult> {
  const rssFile = join(spec.scratch, `rss-${process.pid}-${++runCounter}`);
  const [cmd, args] =
    spec.rss === 'time' ? [TIME_BIN, ['-f', '%M', '-o', rssFile, spec.cmd, ...spec.args]] : [spec.cmd, [...spec.args]];
  // A FIFO opened both ways here is a pipe: the child gets the write end, we keep the read end.
  const fifo = typeof spec.control === 'object' ? spec.control.fifo : undefined;
  const fifoRead = fifo === undefined ? undefined : openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const fifoWrite = fifo === undefined ? undefined : openSync(fifo, constants.O_WRONLY);
  const stdio: StdioOptions = [spec.stdinFd ?? 'pipe', spec.stdoutFd ?? 'pipe', 'pipe', ...(spec.control ? [fifoWrite ?? ('pipe' as const)] : [])];
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let control = '';
    let error: string | undefined;
    let exited: { ms: number; status: number | null; signal: NodeJS.Signals | null } | undefined;
    let sampled = 0;
    let stdoutBytes = 0;
    const started = performance.now();
    const child = track(spawn(cmd, args, { stdio, env: spec.env, cwd: spec.cwd, detached: true }));
    if (fifoWrite !== undefined) closeSync(fifoWrite); // else our copy would hold the pipe open past the child's exit
    const controlStream = fifoRead === undefined ? (child.stdio[3] as Readable | undefined) : new net.Socket({ fd: fifoRead, readable: true, writable: false });
    const timer = setTimeout(() => {
      error = `timed out after ${spec.timeoutMs} ms`;
      killGroup(child);
    }, spec.timeoutMs);
    const sampler =
      spec.rss === 'proc' && child.pid !== undefined ? setInterval(() => (sampled = Math.max(sampled, vmHwm(child.pid!))), spec.sampleMs ?? 1) : undefined;
    const collect = (stream: Readable | null | undefined, limit: number, add: (s: string, n: number) => void): void => {
      let kept = 0;
      stream?.on('data', (chunk: Buffer) => {
        add(kept < limit ? chunk.subarray(0, limit - kept).toString('latin1') : '', chunk.length);
        kept += chunk.length;
      });
      stream?.on('error', () => {});
    };
    collect(child.stdout, KEEP_OUT, (s, n) => {
      stdout += s;
      stdoutBytes += n;
    });
    collect(child.stderr, KEEP_ERR, (s) => (stderr += s));
    collect(controlStream, KEEP_OUT, (s) => (control += s));
    const stdin = child.stdin as Writable | null;
    stdin?.on('error', () => {}); // EPIPE when the child exits first is not the harness's failure
    if (stdin && spec.input !== undefined) stdin.write(spec.input);
    child.once('exit', (status, signal) => {
      exited = { ms: performance.now() - started, status, signal };
      stdin?.destroy();
    });
    const controlDone = new Promise<void>((done) => (controlStream && fifoRead !== undefined ? controlStream.once('close', () => done()) : done()));
    let settled = false;
    const finish = async (): Promise<void> => {
      if (settled) return;
      settled = true;
      await controlDone; // the FIFO's read end is ours, not the child's: 'close' does not wait for it
      clearTimeout(timer);
      if (sampler) clearInterval(sampler);
      const ms = exited?.ms ?? performance.now() - started;
      const rssKiB = spec.rss === 'time' ? readTimeRss(rssFile) : spec.rss === 'proc' ? sampled || undefined : undefined;
      const status = exited?.status ?? null;
      resolve({ startedAt: started, ms, status, signal: exited?.signal ?? null, stdout, stdoutBytes, stderr, control, rssKiB, error });
    };
    child.once('close', () => void finish());
    child.on('error', (err) => {
      error = `cannot start ${spec.cmd}: ${err.message}`;
      if (child.pid === undefined) {
        controlStream?.destroy();
        void finish(); // never started: no 'close' is coming
      }
    });
  });
}

/** GNU time -f %M: the last line is ru_maxrss in KiB (a line before it may say the exit status). */
function readTimeRss(file: string): number | undefined {
  try {
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    rmSync(file, { force: true });
    const n = Number(lines[lines.length - 1]);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** VmHWM (peak RSS, KiB) from /proc/PID/status; 0 once the process is a zombie or gone. */
function vmHwm(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
