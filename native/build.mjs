// native/build.mjs: compiles native/fdpass.c into native/build/fdpass.node with the C compiler and
// Node's headers already on the machine: no node-gyp, no network. The N-API symbols stay unresolved
// in the .so and are bound by the node binary at dlopen, so one build serves every Node >= 20.
// It never fails the install: without the addon only `--send-fd` is refused, so any failure is
// one warning line on stderr and exit status 0.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const source = path.join(here, 'fdpass.c');
const out = path.join(here, 'build', 'fdpass.node');

/** Where node_api.h may be: this Node's prefix, npm's nodedir (Debian: nodedir=/usr), the distro's. */
function includeDir() {
  const candidates = [
    path.join(String(process.config.variables.node_prefix ?? '/usr/local'), 'include', 'node'),
    path.resolve(path.dirname(process.execPath), '..', 'include', 'node'),
    process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, 'include', 'node'),
    '/usr/include/node',
  ].filter(Boolean);
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'node_api.h')));
  if (found === undefined) throw new Error(`no node_api.h in ${candidates.join(', ')}: install Node's headers (Debian: libnode-dev)`);
  return found;
}

function compile(include) {
  const [cc, ...ccArgs] = (process.env.CC || 'cc').trim().split(/\s+/);
  const tmp = `${out}.${process.pid}.tmp`;
  const args = [...ccArgs, '-O2', '-shared', '-fPIC', '-Wall', '-Wextra', `-I${include}`, source, '-o', tmp];
  fs.mkdirSync(path.dirname(out), { recursive: true });
  try {
    execFileSync(cc, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    // Load it once here, so a file that would not dlopen is never installed.
    const mod = { exports: {} };
    process.dlopen(mod, tmp);
    if (typeof mod.exports.recvFd !== 'function') throw new Error('the built addon does not export recvFd');
    fs.renameSync(tmp, out); // atomic: a half-written addon is never at `out`
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    if (err.code === 'ENOENT') throw new Error(`no C compiler: '${cc}' is not on PATH`);
    const said = String(err.stderr ?? '').trim().split('\n')[0];
    throw new Error(said ? `${cc} failed: ${said}` : err.message);
  }
}

try {
  compile(includeDir());
} catch (err) {
  fs.rmSync(out, { force: true }); // never leave an addon from an older source behind
  process.stderr.write(`tlsify: fdpass addon not built (${err.message.split('\n')[0]}); the daemon will refuse --send-fd\n`);
}
process.exitCode = 0;
