// main.ts: argv -> Command -> run -> exit status. The one place that calls process.exit.
import { TlsifyError, asTlsifyError, exitStatus } from './codes.ts';
import { parseArgs, type LaunchFacts } from './config.ts';
import { helpTexts } from './help.ts';
import { emptyOpensslDefaults, userEnv } from './env.ts';
import { createLog } from './log.ts';
import { VERSION } from './version.ts';

/** What bin/tlsify found open before Node started (facts §5.7); absent without the launcher. */
function launchFacts(env: NodeJS.ProcessEnv): LaunchFacts {
  const text = env.TLSIFY_OPEN_FDS;
  delete env.TLSIFY_OPEN_FDS;
  if (text === undefined) return { openFds: undefined };
  return { openFds: new Set(text.split(' ').filter(Boolean).map(Number)) };
}

/**
 * The launcher strips NODE_OPTIONS; if tlsify was started some other way with node flags that
 * can leak keys or load code (--tls-keylog, --require, ...), refuse rather than run weakened.
 */
function refuseNodeFlags(): void {
  // --use-openssl-ca is the launcher's own (src/env.ts): the default store it selects is unused.
  const flags = [...process.execArgv.filter((f) => f !== '--use-openssl-ca'), ...(process.env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean)];
  if (flags.length > 0) {
    throw new TlsifyError('config', `refusing to run with Node options (${flags.join(' ')}): they can leak keys or weaken TLS; start tlsify through bin/tlsify, which clears them`);
  }
}

function write(fd: 1 | 2, text: string): void {
  try {
    require('node:fs').writeSync(fd, text);
  } catch {
    // stdout or stderr closed: nothing more to say.
  }
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function main(argv: readonly string[]): Promise<number> {
  const facts = launchFacts(process.env);
  try {
    refuseNodeFlags();
    emptyOpensslDefaults();
    if (argv[0] === 'pins') {
      const { runPins } = await import('./commands/pins.ts');
      return await runPins(argv.slice(1), { out: (t) => write(1, t), env: userEnv, now: () => new Date() });
    }
    // tackpy's option syntax is not tlsify's: `tlsify tack ...` parses its own argv. Loaded only
    // here, so @noble/* never costs the other commands anything.
    if (argv[0] === 'tack') {
      const { runTack } = await import('./commands/tack.ts');
      return await runTack(argv.slice(1), {
        out: (s) => write(1, s),
        err: (s) => write(2, s),
        stdin: readStdin,
        isTTY: process.stdin.isTTY === true,
        env: userEnv,
      });
    }
    // The daemon parses its own argv; its code (and the connect pipeline) loads only here.
    if (argv[0] === 'daemon') {
      const { parseDaemonArgs, runDaemon, daemonHelp } = await import('./commands/daemon.ts');
      const cfg = parseDaemonArgs(argv.slice(1));
      if (cfg === 'help') return write(1, daemonHelp), 0;
      return await runDaemon(cfg, undefined, facts.openFds);
    }
    const command = parseArgs(argv, facts);
    switch (command.kind) {
      case 'help':
        write(1, helpTexts[command.topic]);
        return 0;
      case 'version':
        write(1, `tlsify ${VERSION} (node ${process.versions.node}, OpenSSL ${process.versions.openssl})\n`);
        return 0;
      case 'connect': {
        const { runConnect } = await import('./commands/connect.ts');
        return await runConnect(command.config, createLog(command.config.logLevel));
      }
      case 'accept': {
        const { runAccept } = await import('./commands/accept.ts');
        return await runAccept(command.config, createLog(command.config.logLevel));
      }
      case 'verify': {
        const { runVerify } = await import('./commands/verify.ts');
        return runVerify(command.config, createLog(command.config.logLevel), (text) => write(1, text));
      }
      case 'pin': {
        const { runPinCommand } = await import('./commands/pin-main.ts');
        return await runPinCommand(command.config, (text) => write(1, text));
      }
      case 'demo': {
        const { runDemo } = await import('./commands/demo.ts');
        return await runDemo(createLog(command.logLevel));
      }
    }
  } catch (err) {
    const e = asTlsifyError(err);
    write(2, `tlsify: ${e.message}\n`);
    if (e.code === 'internal' && e.stack) write(2, `${e.stack}\n`);
    return exitStatus(e.code);
  }
}

// EPIPE on a stream we own is handled where it happens; anything that still escapes is a bug,
// reported as `internal`, never a Node stack trace with status 1.
process.on('uncaughtException', (err) => {
  write(2, `tlsify: internal error: ${err.stack ?? err.message}\n`);
  process.exit(exitStatus('internal'));
});

void main(process.argv.slice(2)).then((status) => process.exit(status));
