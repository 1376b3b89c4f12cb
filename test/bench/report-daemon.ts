// test/bench/report-daemon.ts: the issue-9 section of BENCHMARKS.md: connections per second
// and to the first byte through `tlsify daemon` beside s_client and a plain Node loop, CPU per
// connection, idle connections held, and the issue's targets. Pure: takes results, returns text.
import type { IdleResult } from './daemon-idle.ts';
import type { ConnRowResult } from './daemon-rounds.ts';
import { median, pairedRatio, values, type RowResult } from './report.ts';

export interface DaemonDoc {
  readonly node: string; // the node the daemon ran under
  readonly rounds: number;
  readonly warmup: number;
  readonly conns: number; // per batch
  readonly clkTck: number;
  readonly rows: readonly ConnRowResult[];
  readonly idle: IdleResult | undefined;
  /** Why no daemon row ran (the daemon did not start). */
  readonly failed: string | undefined;
}

const fixed = (x: number | undefined, digits: number): string => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));

function percentile(xs: readonly number[], p: number): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** ms of CPU per connection, over every measured batch. */
function perConn(r: ConnRowResult, key: 'harness' | 'children' | 'daemon' | 'server'): number | undefined {
  return r.cpu.conns ? r.cpu[key] / r.cpu.conns : undefined;
}

/** Everything on the client's side: the daemon and this process, or s_client and the harness spawning it. */
export function clientCpu(r: ConnRowResult): number | undefined {
  return r.cpu.conns ? (r.cpu.harness + r.cpu.children + r.cpu.daemon) / r.cpu.conns : undefined;
}

function clientCpuCell(r: ConnRowResult): string {
  const total = fixed(clientCpu(r), 2);
  const h = fixed(perConn(r, 'harness'), 2);
  if (r.usesDaemon) return `${total} (daemon ${fixed(perConn(r, 'daemon'), 2)} + client ${h})`;
  if (r.cpu.children > 0) return `${total} (s_client ${fixed(perConn(r, 'children'), 2)} + harness ${h})`;
  return total;
}

function connTable(rows: readonly ConnRowResult[]): string {
  const ref = rows.find((r) => r.id === 's_client' && !r.skipped);
  const head = ['', 'in flight', 'median conn/s', 'min-max conn/s', 'x s_client', 'p50 ms to 1st byte', 'p90 ms', 'client-side CPU ms/conn', 'server CPU ms/conn', 'server', 'notes'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 || i >= head.length - 2 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) {
    if (r.skipped) {
      lines.push(`| ${[r.label, String(r.inFlight), 'n/a', '', '', '', '', '', '', r.server, r.skipped].join(' | ')} |`);
      continue;
    }
    const xs = values(r);
    const ratio = pairedRatio(r, ref);
    const failed = r.samples.filter((x) => x === undefined).length;
    const note = [r.note, failed ? `${failed} of ${r.samples.length} rounds failed: ${r.failures[0] ?? '?'}` : ''].filter(Boolean).join('; ');
    lines.push(
      `| ${[
        r.label,
        String(r.inFlight),
        fixed(median(xs), 0),
        xs.length ? `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}` : '-',
        ratio === undefined ? '' : `${ratio.toFixed(2)}x`,
        fixed(median(r.firstMs), 2),
        fixed(percentile(r.firstMs, 90), 2),
        clientCpuCell(r),
        fixed(perConn(r, 'server'), 2),
        r.server,
        note,
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

const mib = (kib: number): string => (kib / 1024).toFixed(1);

function idleLines(idle: IdleResult): string[] {
  const growth = (idle.rssAfterKiB - idle.rssBeforeKiB) / Math.max(1, idle.held);
  const half = idle.wanted >> 1;
  const marginal = (idle.rssAfterKiB - idle.rssHalfKiB) / Math.max(1, idle.held - half);
  const head = ['connections', 'held past `data`', 'opened in s', 'daemon RSS before MiB', `${half} held MiB`, 'all held MiB', 'growth KiB/conn', 'second half KiB/conn', 'after closing MiB', 'daemon fds before -> held', 'server'];
  const cells = [
    String(idle.wanted),
    String(idle.held),
    (idle.openMs / 1000).toFixed(1),
    mib(idle.rssBeforeKiB),
    mib(idle.rssHalfKiB),
    mib(idle.rssAfterKiB),
    growth.toFixed(1),
    marginal.toFixed(1),
    mib(idle.rssClosedKiB),
    `${idle.fdsBefore} -> ${idle.fdsAfter}`,
    idle.server,
  ];
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i === head.length - 1 ? '---' : '---:')).join('|')}|`,
    `| ${cells.join(' | ')} |`,
    '',
    ...(idle.failure ? [`- FAILED: ${idle.failure}`] : []),
    `- Max open files (soft/hard, /proc/PID/limits): daemon ${idle.limits.daemon}, harness ${idle.limits.harness}, server ${idle.limits.server}. Node raises its`,
    '  soft limit to the hard one at start-up; each held connection is 2 fds in the daemon (the client and the peer).',
    `- A daemon of its own (\`--max-conns ${idle.wanted + 256}\`; the default is 256), warmed by 32 connections opened and closed.`,
    '  RSS: its VmRSS 1 s after the warm-up, after the first half reached `data`, and after all did; "growth" is over all',
    '  of them, "second half" over the second half only (one-time costs excluded). Opened 32 at a time; the server sends',
    '  nothing, so each stays idle past `data`.',
  ];
}

export function daemonSection(d: DaemonDoc): string[] {
  const title = `## Many connections through one \`tlsify daemon\` (node ${d.node})`;
  if (d.failed) return [title, '', `n/a: the daemon did not start: ${d.failed}`, ''];
  return [
    title,
    '',
    connTable(d.rows),
    '',
    '- A connection, in every row: connect to 127.0.0.1, TLS handshake verifying the bench root and the name',
    '  localhost, `GET /pong HTTP/1.0`, the reply, the server\'s close. Through the daemon: one write of',
    '  `connect 127.0.0.1:PORT --servername localhost --ca-set @bench` (the bench root as a CA set: `--ca FILE` is',
    '  refused on the socket) with the request right behind it, events read up to `data` (a `verified` line is',
    '  required), then the reply until EOF; the client is a `net.Socket` in the harness. Node loop: `tls.connect`',
    '  with `ca` (node:tls builds a new SecureContext for each connection) or with one shared SecureContext, in the',
    '  harness, nothing else. No row resumes a session (the daemon\'s `--resume` is off unless asked).',
    '- The daemon: started once with its defaults (`--max-conns 256`), before the warm-up round, under the node above.',
    `- Each round runs every row once as a batch of ${d.conns} connections, order rotated; conn/s is per batch, over`,
    `  ${d.rounds} rounds (+${d.warmup} warm-up); "x s_client" is the median of per-round ratios. First byte: from the`,
    "  connect call to the reply's first plaintext byte; s_client's is its spawn to exit (the same as the per-spawn table).",
    '- CPU per connection over every measured batch: the daemon and the server by `/proc/PID/stat` utime+stime',
    `  (ticks of ${(1000 / d.clkTck).toFixed(0)} ms), the harness by \`process.cpuUsage()\`, s_client by the harness's reaped children`,
    "  (cutime+cstime). The harness's share for the daemon rows is its client; for s_client, spawning and reading it.",
    '- `openssl s_server -WWW` serves one connection at a time, so the rows with many in flight use the node:tls',
    '  server (its own process, test/bench/server.ts); the daemon runs 1 in flight against both. Everything shares',
    '  the machine\'s cores: with many in flight the server and the harness compete with the daemon.',
    '',
    ...(d.idle ? ['### Idle connections held through the daemon', '', ...idleLines(d.idle), ''] : []),
  ];
}

export interface BulkPair {
  readonly download: readonly RowResult[];
  readonly upload: readonly RowResult[];
}

/** The issue-9 target lines (text after "- "), from this run. */
export function daemonTargets(d: DaemonDoc, bulk: BulkPair | undefined, tlsifyId: string, daemonId: string): string[] {
  const out: string[] = [];
  const line = (what: string, value: number | undefined, ok: (v: number) => boolean, fmt: (v: number) => string = (v) => `${v.toFixed(2)}x`): void => {
    out.push(`- ${what}: ${value === undefined ? 'not measured' : `${fmt(value)} ${ok(value) ? '(met)' : '(NOT met)'}`}`);
  };
  const row = (id: string): ConnRowResult | undefined => d.rows.find((r) => r.id === id && !r.skipped);
  const sClient = row('s_client');
  const seq = row('daemon-1');
  const seqNode = row('daemon-1-node') ?? seq;
  const many = d.rows.find((r) => r.id === 'daemon-many' && !r.skipped);
  const floor = row('floor-ca');
  line('sequential conn/s through the daemon / `openssl s_client` spawned per connection >= 3x', seq && pairedRatio(seq, sClient), (v) => v >= 3);
  if (floor && seq) {
    out.push(
      `  - for scale: the Node loop (\`ca\` per connect) is ${pairedRatio(floor, sClient)?.toFixed(2) ?? '-'}x s_client; client-side CPU per connection: ` +
        `daemon ${fixed(perConn(seq, 'daemon'), 2)} ms + its client ${fixed(perConn(seq, 'harness'), 2)} ms, against ${fixed(clientCpu(floor), 2)} ms for the Node loop`,
    );
  }
  if (many) {
    line(`${many.inFlight} in flight / 1 in flight through the daemon (both against ${many.server}) > 1x`, seqNode && pairedRatio(many, seqNode), (v) => v > 1);
    out.push(`  - ${many.inFlight} in flight is ${pairedRatio(many, sClient)?.toFixed(2) ?? '-'}x s_client`);
  }
  const p50 = seq && median(seq.firstMs);
  const spawnP50 = sClient && median(sClient.firstMs);
  line(
    'p50 ms to the first plaintext byte through the daemon < `openssl s_client` per spawn',
    p50 !== undefined && spawnP50 !== undefined ? p50 / spawnP50 : undefined,
    (v) => v < 1,
    (v) => `${fixed(p50, 2)} ms against ${fixed(spawnP50, 2)} ms (${v.toFixed(2)}x)`,
  );
  const idle = d.idle;
  line(
    `daemon RSS growth per idle connection, ${idle ? `${idle.wanted} held` : 'none held (BENCH_IDLE_CONNS=0)'}, <= 100 KiB`,
    idle && !idle.failure && idle.held > 0 ? (idle.rssAfterKiB - idle.rssBeforeKiB) / idle.held : undefined,
    (v) => v <= 100,
    (v) => `${v.toFixed(1)} KiB`,
  );
  if (bulk) {
    for (const dir of ['download', 'upload'] as const) {
      const find = (id: string): RowResult | undefined => bulk[dir].find((r) => r.id === id && !r.skipped);
      const daemon = find(daemonId);
      // A parent reads a spawned tlsify's stdout through a pipe, as a daemon client reads its socket.
      line(`bulk ${dir} through the daemon / spawned tlsify, plaintext through the harness in both >= 0.9x`, daemon && pairedRatio(daemon, find(tlsifyId.replace(/^tlsify/, 'tlsify-piped'))), (v) => v >= 0.9);
      const direct = daemon && pairedRatio(daemon, find(tlsifyId));
      if (direct !== undefined) out.push(`  - for scale: against the spawned tlsify writing /dev/null itself (download) or reading the file itself (upload), with no second process: ${direct.toFixed(2)}x`);
    }
  }
  return out;
}
