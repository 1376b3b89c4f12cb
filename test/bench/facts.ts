// test/bench/facts.ts: what the numbers were measured on: the machine, the tools and their
// versions, found on PATH or asked for by env, and the commit (read from .git, no git run).
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import { basename, delimiter, dirname, join } from 'node:path';

/** The absolute path of `name` on PATH, or undefined. */
export function which(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    const file = join(dir || '.', name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The first line a command prints (stdout, else stderr), or undefined when it cannot run. */
export function firstLine(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): string | undefined {
  try {
    const out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env, timeout: 10_000 });
    return out.split('\n').find((l) => l.trim())?.trim();
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return (e.stdout || e.stderr)?.split('\n').find((l) => l.trim())?.trim();
  }
}

/** A node binary the Node rows run under; `env` has it first on PATH as `node`, for bin/tlsify. */
export interface NodeBin {
  readonly path: string;
  readonly version: string;
  readonly openssl: string;
  /** The version, made unique among the nodes measured: ids and labels of Node rows carry it. */
  readonly tag: string;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * `path` as a NodeBin, or undefined when it does not run. bin/tlsify execs `node` from PATH, so
 * unless `path` is already named node, a link named node in `shimDir` stands in for it.
 */
export function nodeBin(path: string, shimDir: string, taken: readonly NodeBin[]): NodeBin | undefined {
  const info = firstLine(path, ['-p', 'process.version + " " + process.versions.openssl']);
  if (!info || !/^v\d/.test(info)) return undefined;
  const [version, openssl] = info.split(' ');
  let dir = dirname(path);
  if (basename(path) !== 'node') {
    mkdirSync(shimDir, { recursive: true });
    symlinkSync(path, join(shimDir, 'node'));
    dir = shimDir;
  }
  const same = taken.filter((n) => n.version === version).length;
  const tag = same ? `${version}-${same + 1}` : version!;
  const env = { ...process.env, PATH: `${dir}${delimiter}${process.env.PATH ?? ''}` };
  return { path, version: version!, openssl: openssl ?? '?', tag, env };
}

export function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

/** HEAD's commit, read from .git without running git. */
export function commit(repo: string): string {
  try {
    const head = readFileSync(join(repo, '.git', 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head.slice(0, 12);
    const ref = head.slice(5);
    const loose = join(repo, '.git', ref);
    if (existsSync(loose)) return `${readFileSync(loose, 'utf8').trim().slice(0, 12)} (${ref.replace('refs/heads/', '')})`;
    const packed = readFileSync(join(repo, '.git', 'packed-refs'), 'utf8')
      .split('\n')
      .find((l) => l.endsWith(` ${ref}`));
    return packed ? `${packed.slice(0, 12)} (${ref.replace('refs/heads/', '')})` : 'unknown';
  } catch {
    return 'unknown';
  }
}

export function machineFacts(nodes: readonly NodeBin[], tools: { openssl?: string; socat?: string }, repo: string): string[] {
  const mem = (os.totalmem() / 2 ** 30).toFixed(1);
  return [
    `- date: ${new Date().toISOString()}`,
    `- CPU: ${cpuModel()}, ${os.cpus().length} cores; ${mem} GiB RAM; Linux ${os.release()}`,
    ...nodes.map((n, i) => `- node${i ? ' (TLSIFY_NODE)' : ''}: ${n.version} (${n.path}; its OpenSSL ${n.openssl})`),
    `- openssl: ${tools.openssl ? (firstLine(tools.openssl, ['version']) ?? '?') : 'not installed'}`,
    `- socat: ${tools.socat ? (socatVersion(tools.socat) ?? '?') : 'not installed'}`,
    `- tlsify: commit ${commit(repo)}, dist/tlsify.cjs built from the working tree at the start of the run`,
  ];
}

/** socat -V prints its version on the second line. */
function socatVersion(socat: string): string | undefined {
  try {
    const out = execFileSync(socat, ['-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return /socat version (\S+)/.exec(out)?.[1];
  } catch {
    return undefined;
  }
}
