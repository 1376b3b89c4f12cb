// test/bench/rows.ts: what each row runs (command, environment, stdin) and how the harness tells
// that it really did the exchange. Every client verifies the server: the CA file and the name
// localhost (s_client -verify_hostname, socat commonname, node:tls and tlsify by default).
import type { RunResult, RunSpec } from './children.ts';
import type { NodeBin } from './facts.ts';
import type { BenchPki } from './pki.ts';

export const HOST = '127.0.0.1';
export const NAME = 'localhost';
/** The per-spawn request; both servers answer it (server.ts, and `openssl s_server -WWW` a file 'pong'). */
export const REQUEST = 'GET /pong HTTP/1.0\r\n\r\n';

export interface Tools {
  readonly tlsify: string; // bin/tlsify
  readonly bridge: string; // test/bench/bridge.cjs
  readonly nodes: readonly NodeBin[]; // the first is PATH's node
  readonly openssl: string | undefined;
  readonly socat: string | undefined;
  /** A FIFO for the control-channel-on-a-pipe row (undefined without mkfifo). */
  readonly fifo: string | undefined;
  /** The pin store file when `tlsify connect --help` lists --pin-store, else why that row is n/a. */
  readonly pinStore: { readonly file: string; readonly note: string } | { readonly missing: string };
}

export interface Row {
  readonly id: string;
  readonly label: string;
  readonly skipped?: string;
  readonly note?: string;
  readonly cmd: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly control?: RunSpec['control'];
  /** Runs the row in place of spawning `cmd` (the daemon's bulk row: a client in this process). */
  readonly exec?: (spec: RunSpec) => Promise<RunResult>;
  /** undefined when the run did what it should, else what went wrong. */
  readonly check: (r: RunResult) => string | undefined;
}

function exitedCleanly(r: RunResult): string | undefined {
  if (r.error) return r.error;
  if (r.signal) return `killed by ${r.signal}`;
  if (r.status !== 0) return `exit ${r.status}: ${r.stderr.trim().split('\n').pop()?.slice(0, 160) ?? ''}`;
  return undefined;
}

const gotReply = (r: RunResult): string | undefined =>
  exitedCleanly(r) ?? (r.stdout.includes('pong\n') ? undefined : `expected the reply 'pong' on stdout, got ${JSON.stringify(r.stdout.slice(0, 80))}`);

const controlChecked = (r: RunResult): string | undefined =>
  gotReply(r) ?? (/^verified /m.test(r.control) ? undefined : `expected a 'verified' line on fd 3, got ${JSON.stringify(r.control.slice(0, 80))}`);

function skeleton(id: string, label: string, skipped: string): Row {
  return { id, label, skipped, cmd: '', args: [], env: {}, check: () => skipped };
}

/** Node rows carry the node's tag (its version) in id and label when more than one node is measured. */
function tagFor(tools: Tools, node: NodeBin): { id: (key: string) => string; label: (text: string) => string } {
  const many = tools.nodes.length > 1;
  return { id: (key) => (many ? `${key}@${node.tag}` : key), label: (text) => (many ? `${text} (node ${node.tag})` : text) };
}

/** Per-spawn rows: connect + handshake + one small request and reply, one process each. */
export function spawnRows(tools: Tools, pki: BenchPki, port: number): Row[] {
  const target = `${HOST}:${port}`;
  const rows: Row[] = [];
  for (const node of tools.nodes) {
    const tag = tagFor(tools, node);
    const row = (key: string, label: string, rest: Omit<Row, 'id' | 'label'>): Row => ({ id: tag.id(key), label: tag.label(label), ...rest });
    const tlsify = (key: string, label: string, args: string[], more: Partial<Row> = {}): Row =>
      row(key, label, { cmd: tools.tlsify, args: ['connect', target, '--servername', NAME, ...args], env: node.env, check: gotReply, ...more });
    const bridgeArgs = [tools.bridge, HOST, String(port), pki.caFile, NAME];
    rows.push(
      row('node-e0', '`node -e 0`', { cmd: node.path, args: ['-e', '0'], env: node.env, check: exitedCleanly, note: 'Node start-up alone' }),
      row('bridge', 'Node bridge', { cmd: node.path, args: bridgeArgs, env: node.env, check: gotReply }),
      row('bridge-openssl-ca', 'Node bridge, `--use-openssl-ca`, empty default store', {
        cmd: node.path,
        args: ['--use-openssl-ca', ...bridgeArgs],
        env: { ...node.env, SSL_CERT_FILE: '/dev/null', SSL_CERT_DIR: '/dev/null' },
        check: gotReply,
        note: "the launcher's trick: Node builds no bundled root store",
      }),
      tlsify('tlsify', 'tlsify `--ca`', ['--ca', pki.caFile]),
      tools.fifo
        ? tlsify('tlsify-control', 'tlsify `--ca`, control channel on fd 3 (a pipe)', ['--ca', pki.caFile], {
            control: { fifo: tools.fifo },
            note: 'events only; the harness drains the pipe',
            check: controlChecked,
          })
        : skeleton(tag.id('tlsify-control'), tag.label('tlsify `--ca`, control channel on fd 3 (a pipe)'), 'n/a (no mkfifo to make a pipe)'),
      tlsify('tlsify-control-socket', 'tlsify `--ca`, control channel on fd 3 (a socketpair)', ['--ca', pki.caFile], {
        control: 'socketpair',
        note: "what a Node parent's stdio 'pipe' is; tlsify also reads commands from it",
        check: controlChecked,
      }),
      tlsify('tlsify-pins', 'tlsify `--ca --pin --pin`', ['--ca', pki.caFile, '--pin', pki.leafPin, '--pin', pki.caPin], { note: 'leaf and root pins' }),
      'file' in tools.pinStore
        ? tlsify('tlsify-pin-store', 'tlsify `--ca --pin-store`', ['--ca', pki.caFile, '--pin-store', tools.pinStore.file], { note: tools.pinStore.note })
        : skeleton(tag.id('tlsify-pin-store'), tag.label('tlsify with a pin store'), tools.pinStore.missing),
      tlsify('tlsify-system', 'tlsify, default `system` store (no `--ca`)', [], { env: { ...node.env, SSL_CERT_FILE: pki.systemFile }, note: pki.systemNote }),
    );
  }
  rows.push(
    tools.openssl ? sClientRow(tools.openssl, pki, port) : skeleton('s_client', '`openssl s_client`', 'n/a (openssl not installed: apt-get install openssl)'),
    tools.socat
      ? {
          id: 'socat',
          label: '`socat`',
          cmd: tools.socat,
          args: ['-t0', '-', socatAddress(port, pki)],
          env: process.env,
          check: gotReply,
          note: '`-t0`: exit as soon as the server closes',
        }
      : skeleton('socat', '`socat`', 'n/a (socat not installed: apt-get install socat)'),
  );
  return rows;
}

/** s_client that exits once the server has replied and closed (-no_ign_eof: -quiet implies -ign_eof). */
export function sClientRow(openssl: string, pki: BenchPki, port: number): Row {
  return {
    id: 's_client',
    label: '`openssl s_client`',
    cmd: openssl,
    args: ['s_client', '-connect', `${HOST}:${port}`, '-CAfile', pki.caFile, '-servername', NAME, '-verify_hostname', NAME, '-verify_return_error', '-quiet', '-no_ign_eof'],
    env: process.env,
    check: gotReply,
  };
}

const socatAddress = (port: number, pki: BenchPki): string =>
  `OPENSSL:${HOST}:${port},cafile=${pki.caFile},commonname=${NAME},snihost=${NAME}`;

export type Direction = 'download' | 'upload';

/**
 * Bulk rows: download (server -> stdout -> /dev/null, stdin a pipe held open) or upload (a file
 * on stdin -> server, which discards). Each ends when the server closes after the transfer.
 */
export function bulkRows(tools: Tools, pki: BenchPki, port: number, dir: Direction): Row[] {
  const target = `${HOST}:${port}`;
  const rows: Row[] = [];
  for (const node of tools.nodes) {
    const tag = tagFor(tools, node);
    rows.push(
      { id: tag.id('tlsify'), label: tag.label('tlsify `--ca`'), cmd: tools.tlsify, args: ['connect', target, '--servername', NAME, '--ca', pki.caFile], env: node.env, check: exitedCleanly },
      { id: tag.id('bridge'), label: tag.label('Node bridge'), cmd: node.path, args: [tools.bridge, HOST, String(port), pki.caFile, NAME], env: node.env, check: exitedCleanly },
    );
  }
  rows.push(
    tools.socat
      ? { id: 'socat', label: '`socat`', cmd: tools.socat, args: ['-t0', '-', socatAddress(port, pki)], env: process.env, check: exitedCleanly }
      : skeleton('socat', '`socat`', 'n/a (socat not installed: apt-get install socat)'),
    tools.openssl
      ? {
          id: 's_client',
          label: '`openssl s_client`',
          cmd: tools.openssl,
          // download: -quiet implies -ign_eof (stdin stays open anyway); upload: stdin EOF ends it
          args: ['s_client', '-connect', target, '-CAfile', pki.caFile, '-servername', NAME, '-verify_hostname', NAME, '-verify_return_error', '-quiet', ...(dir === 'upload' ? ['-no_ign_eof'] : [])],
          env: process.env,
          check: exitedCleanly,
        }
      : skeleton('s_client', '`openssl s_client`', 'n/a (openssl not installed: apt-get install openssl)'),
  );
  return rows;
}
