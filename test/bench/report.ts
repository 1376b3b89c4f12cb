// test/bench/report.ts: the numbers into Markdown: medians, min-max, paired ratios, peak RSS,
// and the issue's targets. Pure: takes the samples and the facts, returns the text.
import { daemonSection, daemonTargets, type DaemonDoc } from './report-daemon.ts';

/** One row's samples, indexed by round (undefined: that round failed or the row was skipped). */
export interface RowResult {
  readonly id: string;
  readonly label: string;
  readonly samples: (number | undefined)[];
  readonly rssKiB: number[];
  readonly serverCpu: number[]; // percent of one core, bulk rows only
  readonly failures: string[];
  /** Set when the row did not run at all: a missing tool, an option tlsify lacks. */
  readonly skipped?: string;
  readonly note?: string;
}

export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1]! + s[mid]!) / 2;
}

export function values(r: RowResult): number[] {
  return r.samples.filter((x): x is number => x !== undefined);
}

/**
 * The median over rounds of a[i] / b[i]: both ran in the same round, back to back in rotating
 * order, so slow drift of the machine cancels out of each pair.
 */
export function pairedRatio(a: RowResult, b: RowResult | undefined): number | undefined {
  if (!b || a === b) return undefined;
  const ratios: number[] = [];
  a.samples.forEach((x, i) => {
    const y = b.samples[i];
    if (x !== undefined && y !== undefined && y > 0) ratios.push(x / y);
  });
  return median(ratios);
}

const fixed = (x: number | undefined, digits: number): string => (x === undefined ? '-' : x.toFixed(digits));
const ratio = (x: number | undefined): string => (x === undefined ? '' : `${x.toFixed(2)}x`);
const mib = (kib: number[]): string => {
  const m = median(kib);
  return m === undefined ? '-' : (m / 1024).toFixed(1);
};

function notes(r: RowResult): string {
  const parts: string[] = [];
  if (r.note) parts.push(r.note);
  const failed = r.samples.filter((x) => x === undefined).length;
  if (failed > 0 && !r.skipped) parts.push(`${failed} of ${r.samples.length} rounds failed: ${r.failures[0] ?? '?'}`);
  return parts.join('; ');
}

export interface Reference {
  readonly title: string;
  /** The row to divide by, for this row (e.g. the Node bridge under the same node). */
  readonly of: (r: RowResult) => RowResult | undefined;
}

/** A table of timings (ms, lower is better) or rates (MB/s, higher is better). */
export function table(rows: readonly RowResult[], unit: 'ms' | 'MB/s', refs: readonly Reference[], extra?: { title: string; cell: (r: RowResult) => string }): string {
  const digits = unit === 'ms' ? 1 : 0;
  const head = ['', `median ${unit}`, `min-max ${unit}`, ...refs.map((f) => f.title), 'peak RSS MiB', ...(extra ? [extra.title] : []), 'notes'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 || i === head.length - 1 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) {
    if (r.skipped) {
      lines.push(`| ${[r.label, 'n/a', '', ...refs.map(() => ''), '', ...(extra ? [''] : []), r.skipped].join(' | ')} |`);
      continue;
    }
    const xs = values(r);
    const range = xs.length ? `${fixed(Math.min(...xs), digits)}-${fixed(Math.max(...xs), digits)}` : '-';
    const cells = [
      r.label,
      fixed(median(xs), digits),
      range,
      ...refs.map((f) => ratio(pairedRatio(r, f.of(r)))),
      mib(r.rssKiB),
      ...(extra ? [extra.cell(r)] : []),
      notes(r),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** "73 % (max 81 %)" for the server's share of one core during the transfers. */
export function serverCpuCell(r: RowResult): string {
  const m = median(r.serverCpu);
  return m === undefined ? '-' : `${m.toFixed(0)} % (max ${Math.max(...r.serverCpu).toFixed(0)} %)`;
}

export interface Document {
  readonly facts: readonly string[]; // Markdown list items about the machine and the run
  /** Node versions the Node rows ran under; with more than one, Node row ids end in `@VERSION`. */
  readonly nodeVersions: readonly string[];
  readonly peer: string; // the per-spawn server
  readonly calibration: string | undefined; // s_client against each candidate server
  readonly rss: 'time' | 'proc';
  readonly spawn: readonly RowResult[];
  readonly bulk: { readonly mb: number; readonly download: readonly RowResult[]; readonly upload: readonly RowResult[] } | undefined;
  /** The issue-9 rows (test/bench/daemon-rounds.ts); undefined when they did not run. */
  readonly daemon: DaemonDoc | undefined;
}

/** The id of Node row `key` under the same node as row `r`; for s_client and socat, the first node's. */
function sameNode(key: string, r: RowResult, versions: readonly string[]): string {
  if (versions.length < 2) return key;
  const at = r.id.indexOf('@');
  return at < 0 ? `${key}@${versions[0]}` : `${key}${r.id.slice(at)}`;
}

export function render(d: Document): string {
  const byId = (rows: readonly RowResult[], id: string): RowResult | undefined => rows.find((r) => r.id === id);
  const spawn = table(d.spawn, 'ms', [
    { title: 'x bridge', of: (r) => byId(d.spawn, sameNode('bridge', r, d.nodeVersions)) },
    { title: 'x floor', of: (r) => byId(d.spawn, sameNode('bridge-openssl-ca', r, d.nodeVersions)) },
    { title: 'x s_client', of: () => byId(d.spawn, 's_client') },
  ]);
  const bulkTable = (rows: readonly RowResult[]): string =>
    table(
      rows,
      'MB/s',
      [
        { title: 'x socat', of: () => byId(rows, 'socat') },
        { title: 'x bridge', of: (r) => byId(rows, sameNode('bridge', r, d.nodeVersions)) },
        ...(d.daemon ? [{ title: 'x tlsify', of: (r: RowResult) => byId(rows, sameNode('tlsify', r, d.nodeVersions)) }] : []),
      ],
      { title: 'server CPU', cell: serverCpuCell },
    );
  const lines = [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (test/bench/run.ts), which overwrites this file on every run. Everything runs on',
    '127.0.0.1 against servers the harness starts itself. Each round runs every row once, in an order rotated',
    'from round to round; each ratio is the median of the per-round ratios of two rows, so drift of the machine',
    'cancels. Every run is checked: exit status 0 and the reply on stdout (and a `verified` line on fd 3 when it',
    "is on); in bulk, the server's byte count, after one pass that counts what reached stdout. Knobs (env):",
    '`BENCH_ROUNDS`, `BENCH_WARMUP`, `BENCH_RSS_ROUNDS`, `BENCH_BULK_MB`, `BENCH_BULK_ROUNDS`, `BENCH_SPAWN_SERVER=node|openssl`,',
    '`TLSIFY_NODE=/path/to/node` (the Node rows again under that node, side by side), `BENCH_DAEMON_ROUNDS`, `BENCH_DAEMON_CONNS`,',
    '`BENCH_DAEMON_INFLIGHT`, `BENCH_IDLE_CONNS` (the daemon rows; `BENCH_DAEMON_ROUNDS=0` skips them); see test/bench/run.ts.',
    '',
    '## Machine and run',
    '',
    ...d.facts,
    '',
    '## Per spawn: start, connect, handshake, one small request and reply, exit',
    '',
    spawn,
    '',
    `- Peer: ${d.peer}. The request is \`GET /pong HTTP/1.0\`; the reply carries 5 bytes of body, then the`,
    "  server closes. stdin stays open, so each client exits because the server closed. Time is from spawn to the",
    "  child's exit, as the harness sees it.",
    d.calibration ? `- Is the peer the bottleneck? ${d.calibration}.` : '- (no openssl: the peer check did not run)',
    `- Peak RSS: ${d.rss === 'time' ? "ru_maxrss from GNU time, in runs of their own (bin/tlsify is sh that execs node: node's)" : 'VmHWM sampled from /proc every 1 ms (no /usr/bin/time): a lower bound'}.`,
    '- "x bridge": against the minimal Node bridge under the same node (test/bench/bridge.cjs: `tls.connect`,',
    '  stdin->socket->stdout, `setNoDelay`); "x floor": against that bridge started the way bin/tlsify starts node',
    '  (`--use-openssl-ca` with an empty default store, so Node builds no root store).',
    '',
  ];
  if (d.daemon) lines.push(...daemonSection(d.daemon));
  if (d.bulk) {
    lines.push(
      `## Bulk download: ${d.bulk.mb} MiB, server -> stdout -> /dev/null`,
      '',
      bulkTable(d.bulk.download),
      '',
      `## Bulk upload: a ${d.bulk.mb} MiB file on stdin -> server, which discards it`,
      '',
      bulkTable(d.bulk.upload),
      '',
      '- MB/s is 10^6 bytes per second from spawn to exit (upload: to the later of exit and the server having every',
      '  byte). The peer is node:tls in its own process (test/bench/server.ts), sending 1 MiB writes of one buffer.',
      '  "server CPU" is its CPU time over the transfer, as a share of one core: well under 100 % means the client,',
      '  not the server, set the pace.',
      `- Peak RSS while streaming: ${d.rss === 'time' ? 'ru_maxrss from GNU time' : 'VmHWM sampled every 20 ms'}, in the timed runs.`,
      ...(d.daemon
        ? [
            '- "tlsify daemon, one connection": the same transfer through the daemon of the section above, the client a',
            '  `net.Socket` in the harness (download: counted and dropped; upload: the file piped in behind the request',
            '  line, then SHUT_WR). "x tlsify": against the spawned tlsify under the same node.',
          ]
        : []),
      '',
    );
  }
  lines.push('## Targets (issue 8), from this run', '', ...targets(d), '');
  if (d.daemon) {
    const at = d.nodeVersions.length > 1 ? `@${d.daemon.node}` : '';
    lines.push('## Targets (issue 9), from this run', '', ...daemonTargets(d.daemon, d.bulk, `tlsify${at}`, `daemon${at}`), '');
  }
  return lines.join('\n');
}

function targets(d: Document): string[] {
  const out: string[] = [];
  const line = (what: string, value: number | undefined, ok: (v: number) => boolean, fmt: (v: number) => string = (v) => `${v.toFixed(2)}x`): void => {
    out.push(`- ${what}: ${value === undefined ? 'not measured' : `${fmt(value)} ${ok(value) ? '(met)' : '(NOT met)'}`}`);
  };
  const versions = d.nodeVersions.length > 1 ? d.nodeVersions : [undefined];
  for (const version of versions) {
    const id = (key: string): string => (version ? `${key}@${version}` : key);
    const on = version ? ` (node ${version})` : '';
    const find = (rows: readonly RowResult[], key: string): RowResult | undefined => rows.find((r) => r.id === key && !r.skipped);
    const t = find(d.spawn, id('tlsify'));
    line(`per-spawn tlsify / Node bridge${on} <= 1.15x`, t && pairedRatio(t, find(d.spawn, id('bridge'))), (v) => v <= 1.15);
    line(`per-spawn tlsify / the floor${on} <= 1.15x (the same target against the bridge started like tlsify)`, t && pairedRatio(t, find(d.spawn, id('bridge-openssl-ca'))), (v) => v <= 1.15);
    line(`per-spawn tlsify / openssl s_client${on} <= 5x`, t && pairedRatio(t, find(d.spawn, 's_client')), (v) => v <= 5);
    const boot = find(d.spawn, id('node-e0'));
    const bootRatio = boot && pairedRatio(boot, find(d.spawn, 's_client'));
    if (bootRatio !== undefined) out.push(`  - for scale: \`node -e 0\` alone is ${bootRatio.toFixed(2)}x s_client, the floor bin/tlsify cannot go under`);
    if (!d.bulk) continue;
    for (const [dir, min] of [['download', 0.95], ['upload', 0.9]] as const) {
      const b = find(d.bulk[dir], id('tlsify'));
      line(`bulk ${dir} tlsify / socat${on} >= ${min}x`, b && pairedRatio(b, find(d.bulk[dir], 'socat')), (v) => v >= min);
    }
    const peaks = [...d.bulk.download, ...d.bulk.upload].filter((r) => r.id === id('tlsify')).flatMap((r) => r.rssKiB);
    line(`tlsify peak RSS while streaming${on} <= 60 MiB`, peaks.length ? Math.max(...peaks) / 1024 : undefined, (v) => v <= 60, (v) => `${v.toFixed(1)} MiB (the most of any bulk run)`);
    const floor = [...d.bulk.download, ...d.bulk.upload].filter((r) => r.id === id('bridge')).flatMap((r) => r.rssKiB);
    if (floor.length) out.push(`  - for scale: the Node bridge peaked at ${(Math.max(...floor) / 1024).toFixed(1)} MiB in the same transfers`);
  }
  return out;
}
