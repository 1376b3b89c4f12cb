// test/bench/run.ts: `npm run bench` (issue 8, part 1): tlsify side by side with `openssl
// s_client`, socat, a minimal Node bridge and `node -e 0`, on 127.0.0.1, against servers this
// process starts and stops; prints a Markdown table and overwrites BENCHMARKS.md with it.
// Knobs (env): BENCH_ROUNDS, BENCH_WARMUP, BENCH_RSS_ROUNDS, BENCH_BULK_MB, BENCH_BULK_ROUNDS,
// BENCH_VERIFY_MB, BENCH_SPAWN_SERVER=node|openssl, BENCH_PIN_STORE_ENTRIES, BENCH_BUILD=0,
// BENCH_OUT (a path, or '-' for stdout only), TLSIFY_NODE (a second node for the Node rows);
// issue 9 (tlsify daemon): BENCH_DAEMON_ROUNDS (0 skips), BENCH_DAEMON_CONNS (per batch),
// BENCH_DAEMON_INFLIGHT, BENCH_IDLE_CONNS (0 skips the idle row).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { installCleanup, onExit, rssMethod } from './children.ts';
import { holdIdle, idleFailed, type IdleResult } from './daemon-idle.ts';
import { connRounds, daemonRows } from './daemon-rounds.ts';
import { daemonBulkRow, spawnedViaHarness, startDaemon, type Daemon } from './daemon.ts';
import { machineFacts, nodeBin, which, type NodeBin } from './facts.ts';
import { makePki, writePinStore } from './pki.ts';
import { CLK_TCK } from './proc.ts';
import { median, pairedRatio, render, values, type RowResult } from './report.ts';
import type { DaemonDoc } from './report-daemon.ts';
import { bulkRounds, makeFile, spawnRounds } from './rounds.ts';
import { HOST, NAME, bulkRows, sClientRow, spawnRows, type Direction, type Row, type Tools } from './rows.ts';
import { startNodeServer, startSServer } from './servers.ts';

const REPO = resolve(__dirname, '../..');
const MiB = 1 << 20;

interface Config {
  readonly rounds: number;
  readonly warmup: number;
  readonly rssRounds: number;
  readonly bulkMb: number;
  readonly bulkRounds: number;
  readonly verifyMb: number;
  /** The per-spawn peer; default openssl s_server when installed (it measured ~1 ms faster than node:tls). */
  readonly spawnServer: 'node' | 'openssl' | undefined;
  readonly pinStoreEntries: number;
  readonly build: boolean;
  readonly out: string;
  readonly tlsifyNode: string | undefined;
  readonly daemonRounds: number;
  readonly daemonConns: number;
  readonly daemonInFlight: number;
  readonly idleConns: number;
}

function intEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new Error(`${name}: expected a whole number >= ${min}, got '${raw}'`);
  return Number(raw);
}

function readConfig(): Config {
  const server = process.env.BENCH_SPAWN_SERVER || undefined;
  if (server !== undefined && server !== 'node' && server !== 'openssl') throw new Error(`BENCH_SPAWN_SERVER: expected node or openssl, got '${server}'`);
  return {
    rounds: intEnv('BENCH_ROUNDS', 60, 1),
    warmup: intEnv('BENCH_WARMUP', 3, 0),
    rssRounds: intEnv('BENCH_RSS_ROUNDS', 3, 0),
    bulkMb: intEnv('BENCH_BULK_MB', 1024, 1),
    bulkRounds: intEnv('BENCH_BULK_ROUNDS', 5, 0),
    verifyMb: intEnv('BENCH_VERIFY_MB', 8, 1),
    spawnServer: server,
    pinStoreEntries: intEnv('BENCH_PIN_STORE_ENTRIES', 1000, 0),
    build: process.env.BENCH_BUILD !== '0',
    out: process.env.BENCH_OUT || join(REPO, 'BENCHMARKS.md'),
    tlsifyNode: process.env.TLSIFY_NODE || undefined,
    daemonRounds: intEnv('BENCH_DAEMON_ROUNDS', 10, 0),
    daemonConns: intEnv('BENCH_DAEMON_CONNS', 100, 1),
    daemonInFlight: intEnv('BENCH_DAEMON_INFLIGHT', 16, 2),
    idleConns: intEnv('BENCH_IDLE_CONNS', 1000, 0),
  };
}

const say = (line: string): void => void process.stderr.write(`bench: ${line}\n`);

async function main(): Promise<void> {
  installCleanup();
  const started = performance.now();
  const loadBefore = os.loadavg()[0]!;
  const cfg = readConfig();
  const scratch = mkdtempSync(join(os.tmpdir(), 'tlsify-bench-'));
  onExit(() => rmSync(scratch, { recursive: true, force: true }));

  if (cfg.build) {
    say('building dist/tlsify.cjs (node build.mjs; BENCH_BUILD=0 skips)');
    execFileSync(process.execPath, ['build.mjs'], { cwd: REPO, stdio: 'inherit' });
  }
  const pathNode = which('node');
  const nodes: NodeBin[] = [];
  for (const [name, path] of [['node on PATH', pathNode], ['TLSIFY_NODE', cfg.tlsifyNode]] as const) {
    if (!path) continue;
    const bin = nodeBin(resolve(path), join(scratch, `node-${nodes.length + 1}`), nodes);
    if (!bin) throw new Error(`${name}: expected a node binary, got '${path}', which does not run`);
    nodes.push(bin);
  }
  if (nodes.length === 0) throw new Error('PATH: expected a node for bin/tlsify, found none');
  const openssl = which('openssl');
  const socat = which('socat');
  const rss = rssMethod();
  say(`tools: openssl ${openssl ? 'yes' : 'MISSING'}, socat ${socat ? 'yes' : 'MISSING'}, peak RSS by ${rss === 'time' ? '/usr/bin/time' : 'sampling /proc (no /usr/bin/time)'}`);

  const pki = await makePki(scratch);
  const server = await startNodeServer(pki, cfg.bulkMb * MiB);
  const sServer = openssl ? await startSServer(openssl, pki, scratch) : undefined;
  const sServerPort = sServer?.port;
  const tlsifyBin = join(REPO, 'bin', 'tlsify');
  const help = outputOf(tlsifyBin, ['connect', '--help'], nodes[0]!.env);

  // Which peer for the per-spawn rows: s_client, the fastest client, against both.
  let calibration = '';
  if (openssl && sServerPort !== undefined) {
    const probe = (id: string, port: number): Row => ({ ...sClientRow(openssl, pki, port), id, label: id });
    say('per-spawn server check: s_client against node:tls and against openssl s_server');
    const [viaNode, viaOpenssl] = await spawnRounds([probe('node', server.ports.reply), probe('openssl', sServerPort)], { rounds: 20, warmup: 2, rssRounds: 0 }, scratch, rss);
    const ms = (r: RowResult): string => `${median(values(r))?.toFixed(1) ?? '-'} ms`;
    calibration =
      `\`openssl s_client\` median ${ms(viaNode!)} against the node:tls server, ${ms(viaOpenssl!)} against \`openssl s_server -WWW\` ` +
      `(paired ratio ${pairedRatio(viaNode!, viaOpenssl!)?.toFixed(2) ?? '-'}x, 20 rounds)`;
    say(calibration);
  }
  if (cfg.spawnServer === 'openssl' && sServerPort === undefined) throw new Error('BENCH_SPAWN_SERVER=openssl: expected openssl on PATH, found none');
  const useOpenssl = cfg.spawnServer !== 'node' && sServerPort !== undefined;
  const spawnPort = useOpenssl ? sServerPort : server.ports.reply;
  const tools: Tools = {
    tlsify: tlsifyBin,
    bridge: join(__dirname, 'bridge.cjs'),
    nodes,
    openssl,
    socat,
    fifo: makeFifo(join(scratch, 'control.fifo')),
    pinStore: help.includes('--pin-store')
      ? { file: writePinStore(scratch, pki, spawnPort, cfg.pinStoreEntries), note: `its entry for localhost:PORT among ${cfg.pinStoreEntries} others` }
      : { missing: 'n/a (pin store not built yet: `tlsify connect --help` lists no `--pin-store`)' },
  };

  const spawnRowsNow = spawnRows(tools, pki, spawnPort);
  say(`per-spawn: ${spawnRowsNow.filter((r) => !r.skipped).length} rows x ${cfg.rounds} rounds (+${cfg.warmup} warm-up, +${cfg.rssRounds} for peak RSS)`);
  const spawnStarted = performance.now();
  const spawnResults = await spawnRounds(spawnRowsNow, cfg, scratch, rss, say);
  const secondsSince = (t: number): number => Math.round((performance.now() - t) / 1000);
  const phases = [`set-up ${Math.round((spawnStarted - started) / 1000)} s`, `per-spawn ${secondsSince(spawnStarted)} s`];

  // Issue 9: a daemon under PATH's node with its default limits for the connection-rate and bulk
  // rows, and a fresh one with --max-conns above BENCH_IDLE_CONNS for the idle row.
  let daemon: Daemon | undefined;
  let daemonDoc: DaemonDoc | undefined;
  if (cfg.daemonRounds > 0) {
    const daemonStarted = performance.now();
    const plan = { rounds: cfg.daemonRounds, warmup: 1, conns: cfg.daemonConns };
    const doc = { node: nodes[0]!.tag, ...plan, clkTck: CLK_TCK };
    // A daemon that cannot start fails its rows, not the run: the issue-8 rows still get written.
    const start = (dir: string, maxConns?: number): Promise<Daemon | string> =>
      startDaemon(tlsifyBin, nodes[0]!, pki, join(scratch, dir), maxConns).catch((err: unknown) => (err instanceof Error ? err.message : String(err)));
    const started = await start('daemon');
    if (typeof started === 'string') {
      say(`daemon: ${started}`);
      daemonDoc = { ...doc, rows: [], idle: undefined, failed: started };
    } else {
      daemon = started;
      const spawnServer = { label: useOpenssl ? '`openssl s_server -WWW`' : 'node:tls', pid: useOpenssl ? sServer!.pid : server.pid, port: spawnPort };
      const nodeServer = { label: 'node:tls', pid: server.pid, port: server.ports.reply };
      const connRows = daemonRows(daemon, tools, pki, spawnServer, nodeServer, cfg.daemonInFlight, scratch);
      say(`daemon: ${connRows.filter((r) => !r.skipped).length} rows x ${cfg.daemonRounds} rounds (+1 warm-up) of ${cfg.daemonConns} connections`);
      const rows = await connRounds(connRows, plan, say);
      let idle: IdleResult | undefined;
      if (cfg.idleConns > 0) {
        say(`daemon: holding ${cfg.idleConns} idle connections through a fresh daemon (--max-conns ${cfg.idleConns + 256})`);
        const fresh = await start('daemon-idle', cfg.idleConns + 256);
        idle = typeof fresh === 'string' ? idleFailed(cfg.idleConns, fresh) : await holdIdle(fresh, server.ports.reply, { label: nodeServer.label, pid: server.pid }, cfg.idleConns);
        if (typeof fresh !== 'string') await fresh.stop();
        if (idle.failure) say(`daemon: idle: ${idle.failure}`);
      }
      daemonDoc = { ...doc, rows, idle, failed: undefined };
    }
    phases.push(`daemon ${secondsSince(daemonStarted)} s`);
  }
  const bulkStarted = performance.now();

  const bulk: Record<Direction, RowResult[]> = { download: [], upload: [] };
  if (cfg.bulkRounds > 0) {
    const bytes = cfg.bulkMb * MiB;
    const verifyBytes = Math.min(cfg.verifyMb, cfg.bulkMb) * MiB;
    const bigFile = join(scratch, 'upload.bin');
    const smallFile = join(scratch, 'verify.bin');
    say(`bulk: writing a ${cfg.bulkMb} MiB upload file`);
    makeFile(bigFile, bytes);
    makeFile(smallFile, verifyBytes);
    for (const dir of ['download', 'upload'] as const) {
      const port = dir === 'download' ? server.ports.download : server.ports.upload;
      const viaDaemon = daemon && daemonBulkRow(daemon, port, nodes.length > 1);
      const many = nodes.length > 1;
      const piped =
        daemon &&
        spawnedViaHarness(many ? `tlsify-piped@${daemon.node.tag}` : 'tlsify-piped', `tlsify \`--ca\`, plaintext through the harness${many ? ` (node ${daemon.node.tag})` : ''}`, tools.tlsify, ['connect', `${HOST}:${port}`, '--servername', NAME, '--ca', pki.caFile], daemon.node.env);
      const rows = [...bulkRows(tools, pki, port, dir), ...(piped ? [piped] : []), ...(viaDaemon ? [viaDaemon.row] : [])];
      say(`bulk ${dir}: checking every client moves ${cfg.verifyMb} MiB intact`);
      const checked = await bulkRounds(rows, { dir, bytes: verifyBytes, file: dir === 'upload' ? smallFile : undefined, rounds: 1, countStdout: true }, server, scratch, rss);
      const usable = rows.map((r, i) => (checked[i]!.skipped && !r.skipped ? { ...r, skipped: checked[i]!.skipped } : r));
      say(`bulk ${dir}: ${usable.filter((r) => !r.skipped).length} rows x ${cfg.bulkRounds} rounds of ${cfg.bulkMb} MiB`);
      viaDaemon?.reset(); // the check pass is not a timed run
      bulk[dir] = await bulkRounds(usable, { dir, bytes, file: dir === 'upload' ? bigFile : undefined, rounds: cfg.bulkRounds, countStdout: false }, server, scratch, rss);
      if (viaDaemon) bulk[dir] = bulk[dir].map((r) => (r.id === viaDaemon.row.id ? { ...r, note: viaDaemon.note() } : r));
    }
    rmSync(bigFile, { force: true });
    phases.push(`bulk ${secondsSince(bulkStarted)} s`);
  }
  await daemon?.stop();

  const seconds = (performance.now() - started) / 1000;
  const took = `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s (${phases.join(', ')})`;
  const doc = render({
    facts: [
      ...machineFacts(nodes, { openssl, socat }, REPO),
      `- run: ${cfg.rounds} per-spawn rounds (+${cfg.warmup} warm-up), peak RSS from ${cfg.rssRounds} more runs of each; ` +
        `bulk ${cfg.bulkMb} MiB x ${cfg.bulkRounds} rounds each way; the whole run took ${took}`,
      `- 1-minute load average: ${loadBefore.toFixed(2)} at the start, ${os.loadavg()[0]!.toFixed(2)} at the end ` +
        '(other work on the machine widens min-max; the paired ratios hold up better)',
    ],
    nodeVersions: nodes.map((n) => n.tag),
    peer: useOpenssl ? '`openssl s_server -WWW` serving a file' : 'a node:tls server in its own process (test/bench/server.ts)',
    calibration,
    rss,
    spawn: spawnResults,
    bulk: cfg.bulkRounds > 0 ? { mb: cfg.bulkMb, ...bulk } : undefined,
    daemon: daemonDoc,
  });
  process.stdout.write(`${doc}\n`);
  if (cfg.out !== '-') {
    writeFileSync(cfg.out, `${doc}\n`);
    say(`wrote ${cfg.out}`);
  }
  say(`done in ${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`);
}

/** A FIFO at `path` (coreutils mkfifo), or undefined when none can be made. */
function makeFifo(path: string): string | undefined {
  try {
    execFileSync('mkfifo', ['-m', '600', path], { stdio: 'ignore' });
    return path;
  } catch {
    return undefined;
  }
}

/** A command's stdout (for --help), '' when it cannot run. */
function outputOf(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? '');
  }
}

main().then(
  () => process.exit(0), // the servers' handles would keep the loop alive; 'exit' kills them
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
