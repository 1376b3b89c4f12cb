// test/bench/proc.ts: what /proc says about a process the harness does not own the inside of
// (the daemon, the servers) or about itself: CPU ticks, VmRSS, open fds, the fd limit. Linux only.
import { readFileSync, readdirSync } from 'node:fs';
import { firstLine } from './facts.ts';

/** USER_HZ, the unit of /proc/PID/stat's CPU times. */
export const CLK_TCK = Number(firstLine('getconf', ['CLK_TCK'])) || 100;

/** utime+stime (the process's own) and cutime+cstime (its reaped children), in ms. */
export function cpuMs(pid: number | 'self'): { own: number; children: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3, state
    const ms = (i: number): number => (Number(f[i - 3]) * 1000) / CLK_TCK;
    return { own: ms(14) + ms(15), children: ms(16) + ms(17) };
  } catch {
    return { own: NaN, children: NaN };
  }
}

export function vmRssKiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export function fdCount(pid: number | 'self'): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

/** "soft/hard" from /proc/PID/limits' Max open files line. */
export function fdLimit(pid: number | 'self'): string {
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'latin1'));
    return m ? `${m[1]}/${m[2]}` : '?';
  } catch {
    return '?';
  }
}
